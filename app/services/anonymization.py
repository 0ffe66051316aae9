"""Masked identities: what every text a reviewer reads from a group hides (members' names, emails, logins and
student ID numbers, present and past; the group's names, now and before; the accounts in its repository urls),
gathered once per submission into one Masker (app/artifacts/anonymize.py), and re-masking stored code when they
change.

Groups and submissions both import it, never each other for it. Takes a session and never commits.
"""

import re

from sqlmodel import Session, select

from app.artifacts.anonymize import Identity, Masker, anonymized_view
from app.models import Artifact, AuditEvent, Group, Member, Revision, Submission, User, Venue
from app.services import audit
from app.services.artifacts import store
from app.settings import Settings

__all__ = ["identity_of", "masker_for", "masked_terms", "group_identity", "repo_usernames",
           "reader_title", "refresh_anonymized_views", "reanonymize_venue"]

_GROUP_HISTORY = ("group.create", "group.join", "group.leave", "group.rename")


def _group_history(session: Session, group: Group) -> tuple[set[int], list[str]]:
    """Everyone who was ever in the group, and the names it had, from the audit log of joins, leaves and renames.

    A student who left (or was moved out) may have written the group's code and may now review it: their
    name stays masked; so does a name the group had when reviewers could have heard it.
    """
    members, names = set(), []
    for event in session.exec(select(AuditEvent).where(AuditEvent.venue_id == group.venue_id,
                                                       AuditEvent.action.in_(_GROUP_HISTORY))).all():
        detail = event.detail or {}
        if detail.get("group_id") != group.id:
            continue
        if detail.get("member_id"):
            members.add(int(detail["member_id"]))
        if event.action == "group.rename" and detail.get("before"):
            names.append(str(detail["before"]))
    return members, names


def group_identity(session: Session, group_id: int) -> tuple[list[str], list[str]]:
    """Names and emails of the group's members, present and past: what must not appear in an anonymous submission."""
    names, emails, _phrases = masked_terms(session, group_id)
    return names, emails


def _members(session: Session, group: Group) -> tuple[list[User], list[str]]:
    former, before = _group_history(session, group)
    rows = session.exec(select(User).join(Member, Member.user_id == User.id)
                        .where((Member.group_id == group.id) | Member.id.in_(former or {0}))
                        .order_by(Member.id)).all()
    return list(rows), list(dict.fromkeys([group.name, *before]))


def masked_terms(session: Session, group_id: int) -> tuple[list[str], list[str], list[str]]:
    """Members' names and emails (present and past) and the group's names (now and before)."""
    group = session.get(Group, group_id)
    if group is None:
        return [], [], []
    rows, names = _members(session, group)
    return [u.full_name for u in rows], [u.email for u in rows], names


def identity_of(session: Session, group_id: int | None) -> Identity:
    """Everything that identifies a group's authors, from the roster and the group's history, read once: names,
    emails (their local parts are logins), student ID numbers, the group's names, the accounts in the urls of
    every repository it submitted."""
    group = session.get(Group, group_id) if group_id is not None else None
    if group is None:
        return Identity()
    rows, names = _members(session, group)
    urls = session.exec(select(Artifact.repo_url).join(Submission, Submission.id == Artifact.submission_id)
                        .where(Submission.group_id == group.id, Artifact.repo_url.is_not(None))).all()
    return Identity.of(names=[u.full_name for u in rows], emails=[u.email for u in rows],
                       usernames=[name for url in urls for name in repo_usernames(url)],
                       phrases=names, ids=[u.student_id for u in rows if u.student_id])


def masker_for(session: Session, submission: Submission, *, repo_url: str | None = None) -> Masker:
    """The one masking function for everything a reviewer reads of this submission's authors."""
    identity = identity_of(session, submission.group_id)
    if repo_url:
        identity = Identity.of(identity.names, identity.emails, [*identity.usernames, *repo_usernames(repo_url)],
                               identity.phrases, identity.ids)
    return Masker(identity)


def reader_title(session: Session, submission: Submission, *, unmasked: bool = False) -> str:
    """A submission's title as a reader sees it: as written for its authors and staff (`unmasked`), through the
    submission's masker for anyone else. Students write their names into titles ("… (Surname et al.)"), and the
    title reaches reviewers on their dashboard, their review list and pages, the API and their mails."""
    return submission.title if unmasked else masker_for(session, submission)(submission.title)


def repo_usernames(repo_url: str | None) -> list[str]:
    """The account in a github.com URL (the repository's owner is often a student's login)."""
    return [m.group(1) for m in [re.search(r"github\.com[:/]([^/\s]+)", repo_url or "")] if m]


def refresh_anonymized_views(session: Session, settings: Settings, actor: User | None, group_id: int, *,
                             why: str = "the group's members or name changed") -> int:
    """Mask the group's stored code again after someone joined it or it was renamed; how many views changed.

    Without this, a student who joins after the code was uploaded keeps their name in what reviewers read.
    """
    masker = Masker(identity_of(session, group_id))
    changed = 0
    rows = session.exec(select(Artifact, Submission).join(Submission, Submission.id == Artifact.submission_id)
                        .where(Submission.group_id == group_id).order_by(Artifact.id)).all()
    for artifact, submission in rows:
        sha = anonymized_view(store(settings), artifact.snapshot_sha, masker)
        if sha == artifact.anonymized_sha:
            continue
        # The old view's blob stays: deleting it before this transaction commits could lose it on a rollback.
        artifact.anonymized_sha = sha
        session.add(artifact)
        audit.record(session, venue_id=submission.venue_id, actor=actor, action="artifact.reanonymize",
                     summary=f"masked the code of #{submission.number} again: {why}",
                     submission_id=submission.id, artifact_id=artifact.id)
        changed += 1
    return changed


def reanonymize_venue(session: Session, settings: Settings, actor: User | None, venue: Venue) -> tuple[int, int]:
    """Build every stored reviewer view of a venue again with today's masker and PDF rebuild: views stored by an
    older version (which masked fewer forms of a name, or kept PDF metadata) stay as they were made until this
    runs. Returns (code views changed, reviewer PDF copies changed); each change is audited.

    Idempotent: a view that comes out the same is left alone (both are content-addressed and deterministic).
    """
    from app.pdf import scrub_metadata

    why = "built again with the current masker (reproreview reanonymize)"
    group_ids = sorted({g for g in session.exec(select(Submission.group_id).where(Submission.venue_id == venue.id))
                        if g is not None})
    views = sum(refresh_anonymized_views(session, settings, actor, g, why=why) for g in group_ids)
    blobs, pdfs = store(settings), 0
    rows = session.exec(select(Revision, Submission).join(Submission, Submission.id == Revision.submission_id)
                        .where(Submission.venue_id == venue.id).order_by(Revision.id)).all()
    for revision, submission in rows:
        if not blobs.exists(revision.blob_sha):
            continue  # nothing to rebuild from; the reviewers' copy stays what it was
        sha = blobs.put_bytes(scrub_metadata(blobs.read_bytes(revision.blob_sha)))
        if sha == revision.reviewer_blob_sha:
            continue
        revision.reviewer_blob_sha = sha  # the old copy's blob stays until `reproreview gc` finds it unreferenced
        session.add(revision)
        audit.record(session, venue_id=venue.id, actor=actor, action="revision.reanonymize",
                     summary=f"rebuilt the reviewers' copy of #{submission.number}'s PDF (revision {revision.id}): "
                             f"{why}", submission_id=submission.id)
        pdfs += 1
    return views, pdfs
