"""Submissions: metadata, PDF revisions with their format check, code artifacts and their snapshots."""

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

from sqlalchemy import func
from sqlmodel import Session, select

from app import outbox
from app.errors import BadInput, Conflict, DeadlinePassed, NotFound, PhaseError, TooLarge
from app.models import Artifact, ArtifactHistory, Group, Member, Phase, Revision, Submission, User, Venue
from app.services import audit, runs
from app.services.anonymization import group_identity, masker_for  # noqa: F401 — routers use masker_for
from app.services.artifacts import artifacts, current_artifact, store  # noqa: F401 — callers use submissions.*
from app.services.deadlines import effective_deadline, format_in, is_past
from app.services.groups import get_group, group_members
from app.settings import Settings

MAX_KEYWORDS = 12
_SIGNATURES = {b"PK\x03\x04": "a zip archive or Word/Office document", b"\xd0\xcf\x11\xe0": "an old Word document",
               b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"{\\rtf": "an RTF document"}


def get_submission(session: Session, venue: Venue, number: int) -> Submission:
    sub = session.exec(select(Submission).where(Submission.venue_id == venue.id, Submission.number == number)).first()
    if sub is None:
        raise NotFound(f"There is no submission #{number} in this venue.")
    return sub


def submission_of_group(session: Session, venue: Venue, group_id: int) -> Submission | None:
    return session.exec(select(Submission).where(Submission.venue_id == venue.id,
                                                 Submission.group_id == group_id)).first()


def list_submissions(session: Session, venue: Venue) -> list[tuple[Submission, Group]]:
    return list(session.exec(select(Submission, Group).join(Group, Group.id == Submission.group_id)
                             .where(Submission.venue_id == venue.id).order_by(Submission.number)).all())


def _check_open(session: Session, venue: Venue, group_id: int, now: datetime | None = None) -> None:
    if venue.phase != Phase.submission.value:
        raise PhaseError(f"Submissions are open only in the submission phase (the venue is in {venue.phase}).")
    deadline = effective_deadline(session, venue, "submission", group_id)
    if is_past(deadline, now):
        raise DeadlinePassed(
            f"The submission deadline ({format_in(deadline.due_at, venue.timezone)}) has passed: nothing was "
            "changed, and your latest on-time revision counts. Ask the chairs for an extension if you need one.")


def _clean_keywords(keywords: list[str] | str) -> list[str]:
    if isinstance(keywords, str):
        keywords = re.split(r"[,;\n]", keywords)
    out: list[str] = []
    for k in keywords:
        k = " ".join(str(k).split())[:60]
        if k and k.lower() not in (x.lower() for x in out):
            out.append(k)
    if len(out) > MAX_KEYWORDS:
        raise BadInput(f"Give at most {MAX_KEYWORDS} keywords.")
    return out


def save_submission(session: Session, actor: User, venue: Venue, member: Member, *, title: str, abstract: str,
                    keywords: list[str] | str, now: datetime | None = None) -> Submission:
    """Create the group's submission (numbered in the venue) or update its title, abstract and keywords."""
    _check_open(session, venue, member.group_id, now)
    title = " ".join(title.split())
    if not 3 <= len(title) <= 300:
        raise BadInput("The title has 3 to 300 characters.")
    abstract = abstract.strip()
    if len(abstract) > 5000:
        raise BadInput("Keep the abstract under 5000 characters.")
    sub = submission_of_group(session, venue, member.group_id)
    if sub is None:
        number = (session.exec(select(func.max(Submission.number)).where(Submission.venue_id == venue.id)).one()
                  or 0) + 1
        sub = Submission(venue_id=venue.id, group_id=member.group_id, number=number, title=title)
        action = "submission.create"
    else:
        action = "submission.update"
    sub.title, sub.abstract, sub.keywords = title, abstract, _clean_keywords(keywords)
    sub.updated_at = datetime.now(UTC)
    session.add(sub)
    session.flush()
    # the assignment embeds the new text ahead of a Preview (app.jobs.assignments, event "texts")
    outbox.after_commit(session, "texts", venue_id=venue.id, settings=session.info.get("settings"))
    audit.record(session, venue_id=venue.id, actor=actor, action=action,
                 summary=f"{'created' if action.endswith('create') else 'updated'} submission #{sub.number}",
                 submission_id=sub.id)
    return sub


def read_limited(stream: BinaryIO, max_bytes: int) -> bytes:
    """Read an upload, refusing (TooLarge) as soon as it passes max_bytes."""
    chunks, size = [], 0
    while chunk := stream.read(1024 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"The file is larger than the {max_bytes // (1024 * 1024)} MB limit: nothing was stored.")
        chunks.append(chunk)
    return b"".join(chunks)


def sniff_not_pdf(data: bytes) -> str | None:
    """Why these bytes are not a PDF, or None if they start like one."""
    if not data:
        return "The file is empty (0 bytes)."
    head = data[:1024]
    if b"%PDF-" in head:
        return None
    for magic, what in _SIGNATURES.items():
        if data.startswith(magic):
            return f"This file is not a PDF: it is {what}. Export your report as PDF and upload that."
    return "This file is not a PDF (it does not start with %PDF-). Export your report as PDF and upload that."


@dataclass
class PreparedRevision:
    """A checked PDF already in the blob store, waiting for its database row."""

    submission_id: int
    sha: str
    reviewer_sha: str
    size: int
    filename: str
    report: dict


def upload_identity(session: Session, venue: Venue, submission: Submission,
                    now: datetime | None = None) -> tuple[list[str], list[str]]:
    """Check that the group may upload now; the names and emails the anonymity check looks for."""
    _check_open(session, venue, submission.group_id, now)
    return group_identity(session, submission.group_id)


def prepare_revision(settings: Settings, venue: Venue, submission: Submission, data: bytes, filename: str,
                     names: list[str], emails: list[str]) -> PreparedRevision:
    """Check a PDF and store its blobs (content-addressed, atomic); touches no database.

    Refused input raises and stores nothing. The slow part (the format check) runs with no database
    connection or transaction held, so concurrent uploads do not queue behind each other's checks.
    """
    from app.pdf import check_pdf, scrub_metadata

    if problem := sniff_not_pdf(data):
        raise BadInput(problem)
    report = check_pdf(data, page_limit=venue.page_limit, anonymous=True, member_names=names, member_emails=emails)
    out = report.to_dict()
    unreadable = [f for f in out["findings"] if f["code"] == "unreadable"]
    if unreadable:
        raise BadInput(f"The PDF cannot be read: {unreadable[0]['message']}", details=out)
    if venue.format_mandatory and not out["ok"]:
        errors = [f["message"] for f in out["findings"] if f["severity"] == "error"]
        raise BadInput("The PDF does not meet the submission format, which this venue requires: "
                       + " ".join(errors), details=out)
    blobs = store(settings)
    sha = blobs.put_bytes(data)
    reviewer_sha = blobs.put_bytes(scrub_metadata(data))
    safe_name = re.sub(r"[^A-Za-z0-9._ -]", "_", filename or "paper.pdf")[-200:] or "paper.pdf"
    return PreparedRevision(submission.id, sha, reviewer_sha, len(data), safe_name, out)


def record_revision(session: Session, actor: User, venue: Venue, submission: Submission,
                    prepared: PreparedRevision, now: datetime | None = None) -> Revision:
    """The revision row for a prepared PDF (the deadline is checked again: it may have passed meanwhile)."""
    _check_open(session, venue, submission.group_id, now)
    out = prepared.report
    revision = Revision(submission_id=submission.id, blob_sha=prepared.sha, reviewer_blob_sha=prepared.reviewer_sha,
                        size=prepared.size, filename=prepared.filename, uploaded_by=actor.id, format_ok=out["ok"],
                        pages_main=out["pages_main"], pages_total=out["pages_total"], format_report=out)
    session.add(revision)
    submission.updated_at = datetime.now(UTC)
    session.add(submission)
    session.flush()
    # the assignment embeds the PDF's text ahead of a Preview (app.jobs.assignments, event "texts")
    outbox.after_commit(session, "texts", venue_id=venue.id, settings=session.info.get("settings"))
    audit.record(session, venue_id=venue.id, actor=actor, action="revision.upload",
                 summary=f"uploaded a PDF revision of #{submission.number} ({prepared.size // 1024} KB, "
                         f"format {'ok' if out['ok'] else 'has errors'})", submission_id=submission.id,
                 revision_id=revision.id, sha=prepared.sha)
    return revision


def upload_revision(session: Session, settings: Settings, actor: User, venue: Venue, submission: Submission,
                    data: bytes, filename: str, now: datetime | None = None) -> Revision:
    """Check and keep a new PDF revision in one go (scripts, tests, the demo)."""
    names, emails = upload_identity(session, venue, submission, now)
    prepared = prepare_revision(settings, venue, submission, data, filename, names, emails)
    return record_revision(session, actor, venue, submission, prepared, now)


def revisions(session: Session, submission: Submission) -> list[Revision]:
    return list(session.exec(select(Revision).where(Revision.submission_id == submission.id)
                             .order_by(Revision.uploaded_at.desc(), Revision.id.desc())).all())


def current_revision(session: Session, submission: Submission) -> Revision | None:
    """The revision that counts: the latest (late uploads are refused, so every kept one is on time)."""
    found = revisions(session, submission)
    return found[0] if found else None


def get_revision(session: Session, submission: Submission, revision_id: int, *, superseded: bool = True) -> Revision:
    """One revision of the submission; without `superseded` only the current one (any other id is "not there")."""
    rev = session.get(Revision, revision_id)
    if rev is None or rev.submission_id != submission.id:
        raise NotFound("No such revision.")
    if not superseded:
        current = current_revision(session, submission)
        if current is None or current.id != rev.id:
            raise NotFound("No such revision.")
    return rev


def visible_revisions(session: Session, submission: Submission, *, superseded: bool) -> list[Revision]:
    """Every revision, newest first, or (without `superseded`: reviewers) only the one that counts."""
    found = revisions(session, submission)
    return found if superseded else found[:1]


# Findings whose messages quote the names, emails and PDF properties the anonymity check found.
IDENTITY_FINDINGS = {"not-anonymous", "metadata"}
WITHHELD_FINDING = ("The paper (or its PDF metadata) may reveal who wrote it; the details are shown to the authors "
                    "and the chairs only.")


def masked_format_report(session: Session, submission: Submission, report: dict) -> dict:
    """The format report as reviewers read it: no title, identity findings without their words, the rest masked.

    The title is dropped, not masked: it comes from the PDF's /Title first ("Title - Name and Name"), which the
    reviewer copy no longer has, and a nickname or a login there is beyond any list of names; reviewers have the
    submission's own title. Identity findings quote what the check found, so only their code, severity and page
    stay (`format_ok` still matches them). Other messages (a margin warning quoting a line, a running header)
    pass through the masker the run logs use.
    """
    mask = masker_for(session, submission)
    findings = [{**f, "message": WITHHELD_FINDING} if f.get("code") in IDENTITY_FINDINGS else
                {**f, "message": mask(str(f.get("message", "")))}
                for f in report.get("findings", [])]
    return {**report, "title": None, "findings": findings}


def _store_artifact(session: Session, settings: Settings, actor: User, venue: Venue, submission: Submission,
                    snap, *, source: str, repo_url: str | None = None, commit: str | None = None,  # noqa: ANN001
                    archive_name: str | None = None) -> Artifact:
    from app.artifacts.anonymize import anonymized_view
    from app.artifacts.manifest import ManifestError, parse_manifest

    errors: list[dict] = []
    if snap.manifest_text is None:
        errors = [{"line": None, "message": "No reproduce.toml at the artifact's root: runs need one."}]
    else:
        try:
            parse_manifest(snap.manifest_text)
        except ManifestError as exc:
            # A manifest with mistakes is refused, so nobody queues runs against it; nothing is kept.
            _discard_unreferenced(session, settings, snap.sha)
            raise BadInput("reproduce.toml has mistakes; fix them and submit the code again: "
                           + "; ".join(f"line {i.line}: {i.message}" if i.line else i.message for i in exc.errors),
                           details=[{"line": i.line, "message": i.message} for i in exc.errors]) from None
    anon_sha = anonymized_view(store(settings), snap.sha, masker_for(session, submission, repo_url=repo_url))
    artifact = Artifact(submission_id=submission.id, source=source, repo_url=repo_url, commit=commit,
                        archive_name=archive_name, snapshot_sha=snap.sha, anonymized_sha=anon_sha,
                        file_count=snap.file_count, total_bytes=snap.total_bytes, manifest_ok=not errors,
                        manifest_errors=errors, manifest_text=snap.manifest_text, created_by=actor.id)
    session.add(artifact)
    session.flush()
    if source == "git":  # who did what, for staff and the group (never reviewers): app.artifacts.history
        session.add(ArtifactHistory(artifact_id=artifact.id, summary=json.loads(snap.history) if snap.history
                                    else None, note=snap.history_note))
    audit.record(session, venue_id=venue.id, actor=actor, action="artifact.snapshot",
                 summary=f"stored a code snapshot of #{submission.number} from {source} "
                         f"({snap.file_count} files{'' if not errors else ', manifest has problems'})",
                 submission_id=submission.id, artifact_id=artifact.id)
    if not errors:
        _queue_smoke_run(session, settings, actor, submission, artifact)
    return artifact


def _queue_smoke_run(session: Session, settings: Settings, actor: User, submission: Submission,
                     artifact: Artifact) -> None:
    """Every new artifact version gets a smoke run, so authors see problems before the deadline;
    it is enqueued only once this transaction commits."""
    try:
        run = runs.create_run(session, actor, submission, artifact, smoke=True)
    except Conflict:  # three runs already waiting: the authors can start one later
        return
    runs.enqueue_after_commit(session, settings, run)


def _discard_unreferenced(session: Session, settings: Settings, sha: str) -> None:
    """Remove a snapshot blob that was just written for a refused artifact, unless an artifact uses it."""
    used = session.exec(select(Artifact).where((Artifact.snapshot_sha == sha) | (Artifact.anonymized_sha == sha))).first()
    if used is None:
        store(settings).path(sha).unlink(missing_ok=True)


def check_artifact_open(session: Session, venue: Venue, submission: Submission, now: datetime | None = None) -> None:
    """May the group submit code now? Asked before the snapshot, which then runs with no transaction open."""
    _check_open(session, venue, submission.group_id, now)


def snapshot_git(settings: Settings, repo_url: str, commit: str):  # noqa: ANN201
    """Fetch and store a repository at a commit (slow: no database involved)."""
    from app.artifacts.snapshot import SnapshotError, snapshot_from_git

    try:
        return snapshot_from_git(repo_url.strip(), commit.strip(), store=store(settings), timeout_s=120,
                                 max_bytes=settings.artifact_max_bytes, allow_local=settings.allow_local_repos,
                                 with_history=True)
    except SnapshotError as exc:
        raise BadInput(str(exc)) from None


def snapshot_archive(settings: Settings, data: bytes, filename: str):  # noqa: ANN201
    """Unpack and store an uploaded archive, with its limits (slow: no database involved)."""
    from app.artifacts.snapshot import SnapshotError, snapshot_from_archive

    try:
        return snapshot_from_archive(data, filename, store=store(settings), max_bytes=settings.artifact_max_bytes,
                                     max_files=settings.artifact_max_files, max_ratio=200)
    except SnapshotError as exc:
        raise BadInput(str(exc)) from None


def record_artifact(session: Session, settings: Settings, actor: User, venue: Venue, submission: Submission,
                    snap, *, repo_url: str | None = None, commit: str | None = None,  # noqa: ANN001
                    archive_name: str | None = None) -> Artifact:
    """The artifact row for a snapshot taken after check_artifact_open (the upload began in time)."""
    if repo_url is not None:
        return _store_artifact(session, settings, actor, venue, submission, snap, source="git",
                               repo_url=repo_url.strip(), commit=snap.commit or (commit or "").strip())
    return _store_artifact(session, settings, actor, venue, submission, snap, source="archive",
                           archive_name=(archive_name or "artifact.zip")[-255:])


def artifact_from_git(session: Session, settings: Settings, actor: User, venue: Venue, submission: Submission,
                      repo_url: str, commit: str, now: datetime | None = None) -> Artifact:
    check_artifact_open(session, venue, submission, now)
    snap = snapshot_git(settings, repo_url, commit)
    return record_artifact(session, settings, actor, venue, submission, snap, repo_url=repo_url, commit=commit)


def artifact_from_archive(session: Session, settings: Settings, actor: User, venue: Venue, submission: Submission,
                          data: bytes, filename: str, now: datetime | None = None) -> Artifact:
    check_artifact_open(session, venue, submission, now)
    snap = snapshot_archive(settings, data, filename)
    return record_artifact(session, settings, actor, venue, submission, snap, archive_name=filename)


@dataclass
class SubmissionOverview:
    """Everything the staff page shows about one submission."""

    submission: Submission
    group: Group
    members: list[tuple[Member, User]]
    revisions: list[Revision]
    artifact: Artifact | None


def submission_overview(session: Session, venue: Venue, submission: Submission) -> SubmissionOverview:
    """The submission with its group, the group's members, every revision (newest first) and the current artifact."""
    group = get_group(session, venue, submission.group_id)
    return SubmissionOverview(submission=submission, group=group, members=group_members(session, group),
                              revisions=revisions(session, submission), artifact=current_artifact(session, submission))


def artifact_sha(artifact: Artifact, original: bool) -> str:
    """The snapshot a viewer reads: the authors' original or the anonymized view reviewers get."""
    return artifact.snapshot_sha if original else artifact.anonymized_sha
