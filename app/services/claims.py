"""Claims of a submission: reproduce.toml's [[claim]]s plus those its authors enter in the form; checks of a run.

The server, not the rig, turns a run's metrics into checks and badges (`judge_result`), from the claims
the artifact and the form state when the result arrives: a rig reports measurements, never verdicts.
Takes a session and never commits.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass

from sqlmodel import Session, select

from app.artifacts.badges import award_badges
from app.artifacts.checks import Check, check_claim
from app.artifacts.manifest import DIRECTIONS, Claim, Manifest, ManifestError, parse_manifest, parse_tolerance
from app.errors import BadInput, Conflict, NotFound
from app.models import Artifact, Submission, User
from app.models.base import utcnow
from app.models.claim import SubmissionClaim
from app.models.venue import Venue
from app.services import audit

KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
MAX_FORM_CLAIMS = 50


@dataclass(frozen=True)
class ClaimIn:
    """What the form (or the API) sends for one claim; strings as typed, checked by `save_claim`."""

    key: str
    experiment: str
    metric: str
    value: float | str
    direction: str = "at_least"
    tolerance: str = "0"
    text: str = ""
    page: int | str | None = None


@dataclass(frozen=True)
class SourcedClaim:
    """A claim and where it was stated: "manifest" (reproduce.toml) or "form" (with its row id)."""

    claim: Claim
    source: str
    row_id: int | None = None


def manifest_of(artifact: Artifact | None) -> Manifest | None:
    """The artifact's parsed reproduce.toml, or None when it has none that parses."""
    if artifact is None or not artifact.manifest_ok or not artifact.manifest_text:
        return None
    try:
        return parse_manifest(artifact.manifest_text)
    except ManifestError:
        return None


def experiment_ids(artifact: Artifact | None) -> list[str]:
    """The experiments a claim may name: those of the artifact's reproduce.toml."""
    manifest = manifest_of(artifact)
    return [e.id for e in manifest.experiments] if manifest else []


def form_claims(session: Session, submission: Submission) -> list[SubmissionClaim]:
    return list(session.exec(select(SubmissionClaim).where(SubmissionClaim.submission_id == submission.id)
                             .order_by(SubmissionClaim.key, SubmissionClaim.id)).all())


def as_claim(row: SubmissionClaim) -> Claim:
    return Claim(id=row.key, experiment=row.experiment, metric=row.metric, value=float(row.value),
                 direction=row.direction, tolerance=parse_tolerance(row.tolerance), text=row.text, page=row.page)


def all_claims(session: Session, submission: Submission, artifact: Artifact | None) -> list[SourcedClaim]:
    """The manifest's claims, then the form's (a form claim never shadows a manifest claim's id)."""
    manifest = manifest_of(artifact)
    out = [SourcedClaim(c, "manifest") for c in (manifest.claims if manifest else [])]
    taken = {c.claim.id for c in out}
    out += [SourcedClaim(as_claim(r), "form", r.id) for r in form_claims(session, submission) if r.key not in taken]
    return out


def _validated(data: ClaimIn, manifest: Manifest, taken: set[str]) -> dict:
    """The row's fields from the form's strings; every problem at once, as BadInput."""
    errors: list[str] = []
    key = (data.key or "").strip()
    if not KEY_RE.match(key):
        errors.append("The claim's id is 1 to 32 letters, digits, '.', '_' or '-', starting with a letter or digit "
                      "(e.g. C3).")
    elif key in taken:
        errors.append(f"Claim id '{key}' is already used (in reproduce.toml or another claim): pick another.")
    experiment = (data.experiment or "").strip()
    known = [e.id for e in manifest.experiments]
    if experiment not in known:
        hint = difflib.get_close_matches(experiment, known, n=1, cutoff=0.5)
        errors.append(f"Experiment '{experiment[:64]}' is not in the artifact's reproduce.toml"
                      + (f"; did you mean '{hint[0]}'?" if hint else f" (experiments: {', '.join(known)})."))
    metric = (data.metric or "").strip()
    if not 1 <= len(metric) <= 128:
        errors.append("The metric's name has 1 to 128 characters (the name in the experiment's metrics file).")
    try:
        value = float(str(data.value).strip()) if not isinstance(data.value, (int, float)) else float(data.value)
        if not math.isfinite(value):
            raise ValueError
    except (TypeError, ValueError):
        errors.append(f"The claimed value must be a number, not {str(data.value)[:30]!r}.")
        value = 0.0
    direction = (data.direction or "").strip()
    if direction not in DIRECTIONS:
        errors.append(f"The direction is one of {', '.join(DIRECTIONS)}.")
    tolerance = str(data.tolerance if data.tolerance not in (None, "") else "0").strip()
    try:
        parse_tolerance(tolerance)
    except ValueError as exc:
        errors.append(str(exc)[0].upper() + str(exc)[1:] + ".")
    page = data.page
    if isinstance(page, str):
        page = page.strip() or None
    if page is not None:
        try:
            page = int(page)
            if not 1 <= page <= 1000:
                raise ValueError
        except (TypeError, ValueError):
            errors.append("The page is a page number of the paper (1 or more), or empty.")
            page = None
    text = " ".join((data.text or "").split())
    if len(text) > 1000:
        errors.append("The claim's text has at most 1000 characters.")
    if errors:
        raise BadInput(" ".join(errors), details=[{"message": e} for e in errors])
    return {"key": key, "experiment": experiment, "metric": metric, "value": value, "direction": direction,
            "tolerance": tolerance, "text": text, "page": page}


def _manifest_or_conflict(artifact: Artifact | None) -> Manifest:
    manifest = manifest_of(artifact)
    if manifest is None:
        raise Conflict("Store a code snapshot with a valid reproduce.toml first: a claim names one of its experiments.")
    return manifest


def get_claim(session: Session, submission: Submission, claim_id: int) -> SubmissionClaim:
    row = session.get(SubmissionClaim, claim_id)
    if row is None or row.submission_id != submission.id:
        raise NotFound(f"There is no claim {claim_id} of submission #{submission.number}.")
    return row


def save_claim(session: Session, actor: User, venue: Venue, submission: Submission, artifact: Artifact | None,
               data: ClaimIn, claim_id: int | None = None) -> SubmissionClaim:
    """Add a claim (claim_id None) or change one; it must name an experiment of the current reproduce.toml."""
    manifest = _manifest_or_conflict(artifact)
    row = get_claim(session, submission, claim_id) if claim_id is not None else None
    others = form_claims(session, submission)
    if row is None and len(others) >= MAX_FORM_CLAIMS:
        raise Conflict(f"A submission has at most {MAX_FORM_CLAIMS} claims in the form.")
    taken = {c.id for c in manifest.claims} | {r.key for r in others if row is None or r.id != row.id}
    fields = _validated(data, manifest, taken)
    if row is None:
        row = SubmissionClaim(submission_id=submission.id, created_by=actor.id, **fields)
        action = "claim.create"
    else:
        for k, v in fields.items():
            setattr(row, k, v)
        row.updated_at = utcnow()
        action = "claim.update"
    session.add(row)
    session.flush()
    audit.record(session, venue_id=venue.id, actor=actor, action=action,
                 summary=f"{'added' if action == 'claim.create' else 'changed'} claim {row.key} of #{submission.number}",
                 submission_id=submission.id, claim_id=row.id)
    return row


def delete_claim(session: Session, actor: User, venue: Venue, submission: Submission, claim_id: int) -> str:
    row = get_claim(session, submission, claim_id)
    key = row.key
    session.delete(row)
    audit.record(session, venue_id=venue.id, actor=actor, action="claim.delete",
                 summary=f"deleted claim {key} of #{submission.number}", submission_id=submission.id)
    return key


def check_entry(sourced: SourcedClaim, check: Check) -> dict:
    """A stored check: DESIGN.md's five keys, plus what a reader needs (text, page, experiment, why not)."""
    c = sourced.claim
    return {**check.as_json(), "experiment": c.experiment, "text": c.text, "page": c.page, "reason": check.reason,
            "direction": c.direction, "tolerance": str(c.tolerance), "source": sourced.source}


def check_all(claims: list[SourcedClaim], metrics: dict) -> list[tuple[SourcedClaim, Check]]:
    """Each claim against the measured metrics (experiment id -> metric -> number)."""
    out = []
    for sc in claims:
        per_exp = metrics.get(sc.claim.experiment)
        measured = per_exp.get(sc.claim.metric) if isinstance(per_exp, dict) else None
        out.append((sc, check_claim(sc.claim, measured)))
    return out


@dataclass(frozen=True)
class Judgement:
    status: str
    reason: str | None
    checks: list[dict]
    badges: list[str]


def judge_result(session: Session, submission: Submission, artifact: Artifact, *, status: str, reason: str | None,
                 metrics: dict) -> Judgement:
    """Recompute a finished run's checks and badges from its metrics; 'passed' holds only if they say so.

    Functional: the rig ran it to the end (passed or failed) and every experiment reported metrics.
    A rig's 'failed', 'timed_out' or 'error' stands (it saw the run break); a 'passed' that the metrics
    do not support becomes 'failed' with the reason.
    """
    manifest = manifest_of(artifact)
    claims = all_claims(session, submission, artifact)
    judged = check_all(claims, metrics)
    experiments = [e.id for e in manifest.experiments] if manifest else []
    missing = [e for e in experiments if not isinstance(metrics.get(e), dict)]
    functional = status in ("passed", "failed") and bool(experiments) and not missing
    badges = award_badges(snapshot_stored=True, experiments_functional=functional, checks=[c for _, c in judged])
    if status == "passed":
        failed = [(sc, c) for sc, c in judged if not c.passed]
        if missing:
            status, reason = "failed", f"experiment {missing[0]} reported no metrics"
        elif failed:
            status = "failed"
            reason = "; ".join(f"claim {sc.claim.id}: {c.reason}" for sc, c in failed)
        else:
            reason = None
    return Judgement(status=status, reason=reason, checks=[check_entry(sc, c) for sc, c in judged], badges=badges)


def claims_table(session: Session, submission: Submission, artifact: Artifact | None, metrics: dict | None) -> list[dict]:
    """Every claim with its check against `metrics` (the latest finished run's), for the pages and the API."""
    manifest = manifest_of(artifact)
    experiments = {e.id for e in manifest.experiments} if manifest else set()
    rows = []
    for sc, check in check_all(all_claims(session, submission, artifact), metrics or {}):
        c = sc.claim
        rows.append({"id": sc.row_id, "key": c.id, "source": sc.source, "text": c.text, "page": c.page,
                     "experiment": c.experiment, "metric": c.metric, "value": c.value, "direction": c.direction,
                     "tolerance": str(c.tolerance), "experiment_exists": c.experiment in experiments,
                     "measured": check.measured if metrics else None, "passed": check.passed if metrics else None,
                     "reason": check.reason if metrics else None})
    return rows
