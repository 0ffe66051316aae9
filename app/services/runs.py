"""Runs and rigs: queue a run, let a rig claim it, collect its log, heartbeats and result; expire silent rigs.

Takes a session and never commits: the request (or the embedded rig's job step, app.jobs.runs) commits once;
a run goes to a rig only after that commit (`enqueue_after_commit` records it in app.outbox).
Claiming is a conditional UPDATE (`status = 'queued'`), so two rigs racing for one run cannot both win.
"""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, select

from app import outbox
from app.artifacts.manifest import RIGS, ManifestError, parse_manifest
from app.errors import BadInput, Conflict, Forbidden, NotFound
from app.models import Artifact, Member, Role, Submission, User, Venue
from app.models.run import FINISHED, RESULT_STATUSES, Rig, RigKind, Run, RunLog, RunStatus
from app.security import permissions
from app.security.permissions import require, why_not
from app.security.tokens import token_digest
from app.services import audit
from app.services.anonymization import masker_for
from app.services.artifacts import current_artifact
from app.services.badges import effective_badges
from app.services.claims import claims_table, judge_result
from app.settings import Settings

RIG_TOKEN_PREFIX = "rig_"
LOG_CAP_BYTES = 5 * 1024 * 1024
LOG_CHUNK_MAX = 256 * 1024
TRUNCATED_MARKER = "\n[log truncated: the run printed more than {cap} MB; later output was dropped]\n"
STOPPED_ANSWERING = "the rig stopped answering"
EMBEDDED_RIG = "embedded-local"
DEFAULT_TIMEOUT_S = 30 * 60
HEARTBEAT_TTL_S = 60  # a running run silent this long is re-queued (rigs beat every second)
MAX_ATTEMPTS = 3
LOST_GRACE_S = 30  # a run still queued this long after it was queued is checked against the queue (lost?)


class RigOutOfScope(Forbidden):
    """A rig asked for a run of a venue it does not serve: it leaves the run for another rig."""

    code = "rig-out-of-scope"


class TooFewGpus(Conflict):
    """A gpu rig with fewer GPUs than the run needs must leave it for another rig."""

    code = "too-few-gpus"


def waiting_for_gpus(gpus: int) -> str:
    return f"waiting for a rig with ≥ {gpus} GPU{'s' if gpus != 1 else ''}"


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def new_rig_token() -> str:
    return RIG_TOKEN_PREFIX + secrets.token_urlsafe(32)


# ---- what a run's status means, in words ------------------------------------------------------------


@dataclass(frozen=True)
class RunOutcome:
    """How pages tell a run's state: `kind` picks colour and icon (ok, partial, bad, busy, waiting, stopped),
    `short` fits a table cell, `headline` a sentence; the run's reason (author text) is shown after it."""

    kind: str
    icon: str
    short: str
    headline: str
    show_reason: bool


def run_outcome(run: Run) -> RunOutcome:
    """Separate "the code ran, 1 of 2 claims not reproduced" (status failed, experiments functional) from
    "the run failed: …" (a command failed, timed out, or the rig broke): DESIGN's `failed` covers both."""
    checks = run.checks or []
    missed = sum(1 for c in checks if not c.get("passed"))
    claims = f"{len(checks)} claim{'s' if len(checks) != 1 else ''}"
    status = run.status
    if status == RunStatus.queued.value:
        return RunOutcome("waiting", "⏳", "queued", f"Queued: waiting for a {run.rig_kind} rig", bool(run.reason))
    if status == RunStatus.running.value:
        return RunOutcome("busy", "⟳", "running", "Running", False)
    if status == RunStatus.passed.value:
        told = (" (it states no claims to check)" if not checks else ", and its claim was reproduced"
                if len(checks) == 1 else f", and all {claims} were reproduced")
        return RunOutcome("ok", "✔", "passed", f"Passed: the code ran{told}", False)
    # every experiment ran and wrote its metrics, and what failed is a claim (the reason the judge wrote says so)
    if (status == RunStatus.failed.value and "functional" in (run.badges or []) and missed
            and (run.reason or "").startswith("claim ")):
        short = f"code ran · {missed} of {claims} not reproduced"
        return RunOutcome("partial", "⚠", short, f"The code ran; {missed} of {claims} not reproduced", True)
    if status == RunStatus.timed_out.value:
        return RunOutcome("bad", "✘", "failed: out of time", "The run failed: it ran out of time", True)
    if status == RunStatus.cancelled.value:
        return RunOutcome("stopped", "⊘", "cancelled", "Cancelled", bool(run.reason))
    if status == RunStatus.error.value:
        return RunOutcome("bad", "✘", "failed: rig error", "The run failed on the rig", True)
    return RunOutcome("bad", "✘", "failed", "The run failed", True)


# ---- rigs -------------------------------------------------------------------------------------------


def create_rig(session: Session, actor: User | None, *, name: str, kind: str, description: str = "",
               gpus: int = 0, site_wide: bool | None = None) -> tuple[Rig, str]:
    """Register a rig; returns it and its token (shown once, only the digest is kept). A person's rig serves the
    venues they chair unless a site admin makes it site-wide; a rig the server makes (actor None) is site-wide."""
    name = " ".join(name.split())
    if not 1 <= len(name) <= 100:
        raise BadInput("A rig's name has 1 to 100 characters.")
    if kind not in RIGS:
        raise BadInput(f"A rig's kind is one of {', '.join(RIGS)} (not '{kind[:20]}').")
    if site_wide is None:
        site_wide = actor is None
    if site_wide and actor is not None:
        require(permissions.can_make_site_wide_rig, actor)
    token = new_rig_token()
    rig = Rig(name=name, kind=kind, description=description.strip()[:1000], token_hash=token_digest(token),
              created_by=actor.id if actor else None, gpus=max(0, int(gpus)), site_wide=bool(site_wide))
    session.add(rig)
    session.flush()
    scope = "site-wide" if rig.site_wide else "for the venues its creator chairs"
    audit.record(session, venue_id=None, actor=actor, action="rig.create",
                 summary=f"registered the {kind} rig '{name}' ({scope})", rig_id=rig.id)
    return rig, token


def rig_serves(session: Session, rig: Rig, venue_id: int) -> bool:
    """Whether this rig may claim and download runs of this venue (permissions.can_rig_serve)."""
    venue = session.get(Venue, venue_id)
    creator = session.get(User, rig.created_by) if rig.created_by is not None else None
    member = session.exec(select(Member).where(Member.venue_id == venue_id, Member.user_id == creator.id)).first() \
        if creator is not None and not rig.site_wide else None
    return venue is not None and permissions.can_rig_serve(rig, creator, member, venue)


def require_rig_serves(session: Session, rig: Rig, run: Run) -> None:
    """RigOutOfScope (403) for a run of a venue this rig does not serve; the run is not touched."""
    if not rig_serves(session, rig, run.venue_id):
        venue = session.get(Venue, run.venue_id)
        raise RigOutOfScope(f"Run {run.id} belongs to a venue this rig does not serve: "
                            f"{why_not(permissions.can_rig_serve, rig, None, None, venue)}")


def rig_venues(session: Session, rig: Rig) -> list[Venue] | None:
    """The venues a rig serves (None: every venue, a site-wide rig)."""
    if rig.site_wide:
        return None
    if rig.created_by is None:
        return []
    return list(session.exec(select(Venue).join(Member, Member.venue_id == Venue.id).where(
        Member.user_id == rig.created_by, Member.role == Role.chair.value).order_by(Venue.slug)).all())


def rig_from_token(session: Session, token: str, now: datetime | None = None) -> Rig | None:
    """The enabled rig a token names, marked as seen. The write comes first on purpose: on SQLite (WAL) a
    transaction that reads and then writes fails at once when another writer committed in between,
    while one that starts by writing waits its turn (busy timeout); rigs post concurrently."""
    if not token.startswith(RIG_TOKEN_PREFIX):
        return None
    digest = token_digest(token)
    session.execute(update(Rig).where(Rig.token_hash == digest, Rig.disabled == False)  # noqa: E712
                    .values(last_seen_at=_now(now)).execution_options(synchronize_session=False))
    rig = session.exec(select(Rig).where(Rig.token_hash == digest)).first()
    return None if rig is None or rig.disabled else rig


def rig_by_id(session: Session, rig_id: int, now: datetime | None = None) -> Rig:
    """The embedded rig's way in: the same write-first start as rig_from_token."""
    session.execute(update(Rig).where(Rig.id == rig_id).values(last_seen_at=_now(now))
                    .execution_options(synchronize_session=False))
    return session.get(Rig, rig_id, populate_existing=True)


def list_rigs(session: Session, viewer: User | None = None) -> list[Rig]:
    """Every rig for a site admin (or viewer None); for a chair the site-wide rigs and those that serve a venue
    they chair (made by one of its chairs), not other venues' rigs."""
    query = select(Rig).order_by(Rig.kind, Rig.name, Rig.id)
    if viewer is not None and not viewer.is_admin:
        my_venues = select(Member.venue_id).where(Member.user_id == viewer.id, Member.role == Role.chair.value)
        co_chairs = select(Member.user_id).where(Member.venue_id.in_(my_venues), Member.role == Role.chair.value)
        query = query.where((Rig.site_wide == True) | Rig.created_by.in_(co_chairs))  # noqa: E712
    return list(session.exec(query).all())


def rig_heartbeat(session: Session, rig: Rig, facts: dict | None = None, now: datetime | None = None) -> Rig:
    """The rig is alive; keep what it says about its machine (cpu, ram, gpu model/driver, board)."""
    rig.last_seen_at = _now(now)
    if facts:
        rig.facts = {str(k)[:64]: v for k, v in list(facts.items())[:50]}
        gpus = facts.get("gpus")
        if isinstance(gpus, list):
            rig.gpus = len(gpus)
        elif isinstance(gpus, int):
            rig.gpus = gpus
    session.add(rig)
    return rig


def embedded_rig(session: Session, kind: str = RigKind.local.value) -> Rig:
    """The in-process rig of one kind, used when no Redis is configured (its token is never shown to anyone)."""
    name = EMBEDDED_RIG if kind == RigKind.local.value else f"embedded-{kind}"
    rig = session.exec(select(Rig).where(Rig.name == name, Rig.kind == kind)).first()
    if rig is None:
        rig = Rig(name=name, kind=kind, description="in-process rig of the API server",
                  token_hash=token_digest(new_rig_token()), site_wide=True)
        session.add(rig)
        session.flush()
    return rig


# ---- runs: the user side ----------------------------------------------------------------------------


def rig_kind_of(manifest_text: str | None) -> str:
    """The rig the artifact asks for in reproduce.toml (`[artifact] rig`), local when unsure."""
    import tomllib

    try:
        kind = tomllib.loads(manifest_text or "").get("artifact", {}).get("rig", "local")
    except (tomllib.TOMLDecodeError, AttributeError):
        return RigKind.local.value
    return kind if kind in RIGS else RigKind.local.value


def gpus_needed(manifest_text: str | None, rig_kind: str) -> int:
    """GPUs a gpu rig needs for this artifact: the most any experiment asks for (`gpus`), at least 1."""
    if rig_kind != RigKind.gpu.value:
        return 0
    try:
        manifest = parse_manifest(manifest_text or "")
    except ManifestError:
        return 1
    return max(1, max((e.gpus for e in manifest.experiments), default=1))


def enqueue_after_commit(session: Session, settings: Settings, run: Run) -> None:
    """Hand `run` to a rig once the session commits (app.jobs.runs carries it out); nothing if it rolls back.

    The payload carries the caller's settings: which queue (Redis or the embedded rig) and blob store the
    run uses is the caller's configuration, not the process-wide one (tests and a live server may differ)."""
    outbox.after_commit(session, "run", run_id=run.id, rig_kind=run.rig_kind, attempt=run.attempts,
                        settings=settings)


def create_run(session: Session, actor: User | None, submission: Submission, artifact: Artifact | None, *,
               smoke: bool = False, rig_kind: str | None = None, now: datetime | None = None) -> Run:
    """Queue a run of the submission's current artifact (the caller hands it on with enqueue_after_commit).
    `rig_kind` overrides the manifest's rig (the CLI's --rig-kind); actor None is the command line."""
    if artifact is None:
        raise Conflict("This submission has no code artifact yet: submit a repository or an archive first.")
    if not artifact.manifest_ok:
        problems = "; ".join(e.get("message", "") for e in artifact.manifest_errors[:3]) or "it is not valid"
        raise Conflict(f"The artifact's reproduce.toml has problems, so it cannot run: {problems}")
    pending = session.exec(select(func.count()).select_from(Run).where(
        Run.submission_id == submission.id, Run.status.in_([RunStatus.queued.value, RunStatus.running.value]))).one()
    if pending >= 3:
        raise Conflict("This submission already has 3 runs waiting or running: wait for one to finish.")
    if rig_kind is not None and rig_kind not in RIGS:
        raise BadInput(f"A rig kind is one of {', '.join(RIGS)} (not '{rig_kind[:20]}').")
    kind = rig_kind or rig_kind_of(artifact.manifest_text)
    gpus = gpus_needed(artifact.manifest_text, kind)
    run = Run(venue_id=submission.venue_id, submission_id=submission.id, artifact_id=artifact.id,
              rig_kind=kind, requested_by=actor.id if actor else None, smoke=smoke, queued_at=_now(now),
              gpus=gpus, reason=waiting_for_gpus(gpus) if gpus else None)
    session.add(run)
    session.flush()
    audit.record(session, venue_id=submission.venue_id, actor=actor, action="run.request",
                 summary=f"queued a {'smoke ' if smoke else ''}run of #{submission.number} on a {run.rig_kind} rig",
                 submission_id=submission.id, run_id=run.id, artifact_id=artifact.id)
    return run


def list_runs(session: Session, submission: Submission) -> list[Run]:
    return list(session.exec(select(Run).where(Run.submission_id == submission.id)
                             .order_by(Run.queued_at.desc(), Run.id.desc())).all())


def get_run(session: Session, submission: Submission, run_id: int) -> Run:
    run = session.get(Run, run_id)
    if run is None or run.submission_id != submission.id:
        raise NotFound(f"There is no run {run_id} of submission #{submission.number}.")
    return run


def cancel_run(session: Session, actor: User, run: Run, now: datetime | None = None) -> Run:
    """Stop a queued or running run; the rig learns it at its next heartbeat."""
    if run.status in FINISHED:
        raise Conflict(f"Run {run.id} has finished ({run.status}): there is nothing to cancel.")
    run.status, run.reason, run.finished_at = RunStatus.cancelled.value, "cancelled by a person", _now(now)
    session.add(run)
    audit.record(session, venue_id=run.venue_id, actor=actor, action="run.cancel",
                 summary=f"cancelled run {run.id}", submission_id=run.submission_id, run_id=run.id)
    return run


def _masker(session: Session, run: Run):  # noqa: ANN202
    """The authors' names and emails replaced, as in the artifact's anonymized view."""
    return masker_for(session, session.get(Submission, run.submission_id))


def text_masker(session: Session, submission: Submission, *, unmasked: bool):  # noqa: ANN201
    """The masker for what a reader sees of a submission's runs and claims: None (as written) for the authors and
    staff, the submission's one masker (app/services/anonymization.py) for anyone else."""
    return None if unmasked else masker_for(session, submission)


class MaskedRun:
    """A run as a reviewer reads it: its reason, metric names, facts and checks (claim texts) masked; the row
    itself is left alone (nothing masked is ever written back)."""

    def __init__(self, run: Run, mask) -> None:  # noqa: ANN001
        self._run = run
        self.reason = mask(run.reason) if run.reason else run.reason
        self.metrics, self.facts, self.checks = mask.value(run.metrics), mask.value(run.facts), mask.value(run.checks)

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._run, name)


def masked_run(run: Run, mask) -> Run | MaskedRun:  # noqa: ANN001
    return run if mask is None else MaskedRun(run, mask)


def masked_overview(overview: dict, mask) -> dict:  # noqa: ANN001
    """runs_overview as this reader may see it (`mask` from text_masker)."""
    if mask is None:
        return overview
    return {**overview, "runs": [MaskedRun(r, mask) for r in overview["runs"]],
            "latest_run": masked_run(overview["latest_run"], mask) if overview["latest_run"] else None,
            "claims": [mask.value(c) for c in overview["claims"]]}


def read_log(session: Session, run: Run, *, anonymize: bool = False) -> str:
    """The run's whole log; anonymized for readers who must not learn who the authors are."""
    text = "".join(session.exec(select(RunLog.text).where(RunLog.run_id == run.id).order_by(RunLog.seq)).all())
    return _masker(session, run)(text) if anonymize else text


def log_tail(session: Session, run: Run, *, lines: int = 30, anonymize: bool = False) -> str:
    """The last lines of the log (for the live view), read from the newest chunks only."""
    chunks = session.exec(select(RunLog.text).where(RunLog.run_id == run.id).order_by(RunLog.seq.desc())
                          .limit(max(1, lines))).all()
    text = "\n".join("".join(reversed(chunks)).splitlines()[-lines:])
    return _masker(session, run)(text) if anonymize and text else text


def runs_overview(session: Session, submission: Submission) -> dict:
    """What a submission's Runs / Claims / Badges sections show: the runs, every claim with its check
    against the latest finished run of the current artifact, and the effective badges."""
    artifact = current_artifact(session, submission)
    all_runs = list_runs(session, submission)
    latest = next((r for r in all_runs if artifact is not None and r.artifact_id == artifact.id
                   and r.status in (RunStatus.passed.value, RunStatus.failed.value)), None)
    return {"artifact": artifact, "runs": all_runs, "latest_run": latest,
            "claims": claims_table(session, submission, artifact, latest.metrics if latest else None),
            "badges": effective_badges(session, submission)}


# ---- runs: the rig side -----------------------------------------------------------------------------


def rig_run(session: Session, rig: Rig, run_id: int) -> Run:
    """A run this rig holds (claimed and not handed to another rig since)."""
    run = session.get(Run, run_id)
    if run is None:
        raise NotFound(f"There is no run {run_id}.")
    if run.rig_id != rig.id:
        raise Conflict(f"Run {run_id} is not held by this rig (it was re-queued or never claimed).")
    require_rig_serves(session, rig, run)  # its creator may have stopped chairing the venue since the claim
    return run


def claim_run(session: Session, rig: Rig, run_id: int, now: datetime | None = None) -> Run:
    """Take a queued run for this rig; a run already claimed, finished or cancelled is a Conflict."""
    now = _now(now)
    run = session.get(Run, run_id)
    if run is None:
        raise NotFound(f"There is no run {run_id}.")
    if run.rig_kind != rig.kind:
        raise Forbidden(f"Run {run_id} needs a {run.rig_kind} rig; this rig is a {rig.kind} rig.")
    require_rig_serves(session, rig, run)
    if run.gpus and rig.gpus < run.gpus:
        raise TooFewGpus(f"Run {run_id} needs a rig with at least {run.gpus} GPUs; this rig has {rig.gpus}: "
                         "it stays queued for another rig.")
    result = session.execute(
        update(Run).where(Run.id == run_id, Run.status == RunStatus.queued.value)
        .values(status=RunStatus.running.value, rig_id=rig.id, started_at=now, heartbeat_at=now,
                attempts=Run.attempts + 1, reason=None)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        session.refresh(run)
        raise Conflict(f"Run {run_id} cannot be claimed: it is {run.status}.")
    session.refresh(run)
    rig.last_seen_at = now
    session.add(rig)
    audit.record(session, venue_id=run.venue_id, actor=None, action="run.claim",
                 summary=f"rig '{rig.name}' started run {run.id} (attempt {run.attempts})",
                 submission_id=run.submission_id, run_id=run.id, rig_id=rig.id)
    return run


def run_heartbeat(session: Session, rig: Rig, run: Run, now: datetime | None = None) -> Run:
    """The rig is still working on the run; a cancelled run is reported back so the rig can stop."""
    now = _now(now)
    rig.last_seen_at = now
    session.add(rig)
    if run.status == RunStatus.running.value:
        run.heartbeat_at = now
        session.add(run)
    return run


def append_log(session: Session, rig: Rig, run: Run, text: str, seq: int | None = None,
               now: datetime | None = None) -> Run:
    """Add a chunk of output in order; a chunk resent with a seq already stored is ignored (retries).
    Past LOG_CAP_BYTES the log ends with a truncation marker and later chunks are dropped."""
    if run.status != RunStatus.running.value:
        raise Conflict(f"Run {run.id} is {run.status}: it takes no more output.")
    last = session.exec(select(func.max(RunLog.seq)).where(RunLog.run_id == run.id)).one()
    if seq is not None and last is not None and seq <= last:
        return run
    seq = (last + 1 if last is not None else 0) if seq is None else seq
    if run.log_bytes >= LOG_CAP_BYTES:
        return run
    text = text[:LOG_CHUNK_MAX]
    size = len(text.encode("utf-8", "replace"))
    if run.log_bytes + size > LOG_CAP_BYTES:
        keep = text.encode("utf-8", "replace")[:LOG_CAP_BYTES - run.log_bytes].decode("utf-8", "ignore")
        text = keep + TRUNCATED_MARKER.format(cap=LOG_CAP_BYTES // (1024 * 1024))
        size = LOG_CAP_BYTES
        run.log_bytes = LOG_CAP_BYTES
    else:
        run.log_bytes += size
    session.add(RunLog(run_id=run.id, seq=seq, text=text, at=_now(now)))
    run.heartbeat_at = _now(now)
    session.add(run)
    return run


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _clean_metrics(metrics: dict) -> dict:
    """Numbers by name, or (as reproduce() reports them) numbers by name per experiment."""
    out: dict = {}
    for k, v in list(metrics.items())[:500]:
        if _is_number(v):
            out[str(k)[:128]] = v
        elif isinstance(v, dict):
            out[str(k)[:128]] = {str(n)[:128]: x for n, x in list(v.items())[:500] if _is_number(x)}
    return out



def finish_run(session: Session, rig: Rig, run: Run, *, status: str, reason: str | None = None,
               metrics: dict | None = None, checks: list | None = None, badges: list | None = None,
               facts: dict | None = None, duration_s: float | None = None, now: datetime | None = None) -> Run:
    """Store the rig's result: status, metrics and machine facts. Checks against the claims (reproduce.toml's
    and the form's) and badges are recomputed here from the metrics: `checks` and `badges` the rig sends
    are not trusted, and a 'passed' the metrics do not support is stored as 'failed'."""
    if status not in RESULT_STATUSES:
        raise BadInput(f"A result's status is one of {', '.join(sorted(RESULT_STATUSES))}.")
    if run.status != RunStatus.running.value:
        raise Conflict(f"Run {run.id} is {run.status}: its result is not taken.")
    now = _now(now)
    run.metrics = _clean_metrics(metrics or {})
    judged = judge_result(session, session.get(Submission, run.submission_id), session.get(Artifact, run.artifact_id),
                          status=status, reason=(reason or None) and reason[:2000], metrics=run.metrics)
    run.status, run.reason, run.finished_at, run.heartbeat_at = judged.status, judged.reason, now, now
    run.checks, run.badges = judged.checks, judged.badges
    run.facts = dict(facts or {})
    if duration_s is None and run.started_at is not None:
        duration_s = (now - run.started_at).total_seconds()
    run.duration_s = duration_s
    session.add(run)
    audit.record(session, venue_id=run.venue_id, actor=None, action="run.finish",
                 summary=f"run {run.id} {run.status}" + (f": {run.reason}" if run.reason else ""),
                 submission_id=run.submission_id, run_id=run.id, rig_id=rig.id, badges=run.badges)
    return run


def expire_stale_runs(session: Session, now: datetime | None = None, ttl_s: float = 60,
                      max_attempts: int = 3) -> list[int]:
    """Runs whose rig went silent for ttl_s: re-queue them (returns their ids, to enqueue after the
    commit) or, after max_attempts, fail them — a run is never left 'running' forever."""
    now = _now(now)
    cutoff = now - timedelta(seconds=ttl_s)
    stale = session.exec(select(Run).where(Run.status == RunStatus.running.value, Run.heartbeat_at < cutoff)
                         .order_by(Run.id)).all()
    requeued = []
    for run in stale:
        if run.attempts >= max_attempts:
            run.status, run.reason, run.finished_at = RunStatus.failed.value, STOPPED_ANSWERING, now
            action, summary = "run.expire", f"run {run.id} failed: {STOPPED_ANSWERING} ({run.attempts} attempts)"
        else:
            run.status, run.reason, run.rig_id = RunStatus.queued.value, f"re-queued: {STOPPED_ANSWERING}", None
            run.started_at = run.heartbeat_at = None
            requeued.append(run.id)
            action, summary = "run.requeue", f"run {run.id} re-queued: {STOPPED_ANSWERING}"
        session.add(run)
        audit.record(session, venue_id=run.venue_id, actor=None, action=action, summary=summary,
                     submission_id=run.submission_id, run_id=run.id)
    return requeued


def queued_runs(session: Session, older_than_s: float = LOST_GRACE_S, now: datetime | None = None,
                limit: int = 200) -> list[tuple[int, str, int]]:
    """(id, rig kind, attempts) of runs queued for longer than older_than_s: the queue may have lost them
    (Redis restarted or flushed, an enqueue that failed after the commit); the caller checks and enqueues."""
    cutoff = _now(now) - timedelta(seconds=older_than_s)
    rows = session.exec(select(Run.id, Run.rig_kind, Run.attempts).where(
        Run.status == RunStatus.queued.value, Run.queued_at < cutoff).order_by(Run.id).limit(limit)).all()
    return [(r[0], r[1], r[2]) for r in rows]


def run_limits(run: Run, artifact: Artifact) -> dict:
    """What the rig must respect, beyond the manifest's own timeouts."""
    return {"log_max_bytes": LOG_CAP_BYTES, "bundle_bytes": artifact.total_bytes, "heartbeat_s": 5,
            "default_timeout_s": DEFAULT_TIMEOUT_S}


def claim_payload(session: Session, run: Run) -> dict:
    """What a rig gets when it claims a run: the manifest text and the limits (the bundle comes separately)."""
    artifact = session.get(Artifact, run.artifact_id)
    return {"run_id": run.id, "rig_kind": run.rig_kind, "attempt": run.attempts, "smoke": run.smoke,
            "manifest": artifact.manifest_text, "limits": run_limits(run, artifact)}


def run_bundle_sha(session: Session, run: Run) -> str:
    """The ORIGINAL snapshot (not the anonymized view): the code must run exactly as the authors gave it."""
    return session.get(Artifact, run.artifact_id).snapshot_sha


def rig_state(run: Run) -> dict:
    """The answer to a rig's run heartbeat or log post: keep going, or stop (cancelled / taken away)."""
    return {"run_id": run.id, "status": run.status, "stop": run.status != RunStatus.running.value}


def chairs_a_venue(session: Session, user: User) -> bool:
    return session.exec(select(Member.id).where(Member.user_id == user.id, Member.role == Role.chair.value)
                        .limit(1)).first() is not None
