"""Releasing marks: a snapshot per student (what students and exports read), the scheme frozen, one mail each."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.errors import Conflict, PhaseError
from app.models import (
    MarkRelease,
    Member,
    Phase,
    ReleasedMark,
    Submission,
    User,
    Venue,
)
from app.models.base import utcnow
from app.services import audit, notifications
from app.services.moderation.marks import StudentMarks, compute_marks
from app.services.moderation.scheme import _freeze_scheme

# --- release ---------------------------------------------------------------------------------------------------------


@dataclass
class ReleaseResult:
    release: MarkRelease
    released: list[int]                 # member ids whose marks were written
    skipped: list[dict]                 # {"member_id", "name", "missing"}: not complete, left for later
    mails: int


def _incomplete_rows(students: list[StudentMarks]) -> list[dict]:
    return [{"member_id": s.member.id, "name": s.user.full_name, "missing": s.missing} for s in students if s.missing]


def release(session: Session, actor: User, venue: Venue, *, submission: Submission | None = None,
            allow_incomplete: bool = False) -> ReleaseResult:
    """Release marks for the venue or one submission: write each student's snapshot, freeze the scheme, queue
    one mail per student. With marks still missing (unmarked reviews, no group mark) it refuses with the list,
    unless `allow_incomplete`: then what is complete is released and the rest listed."""
    if venue.phase not in (Phase.moderation.value, Phase.released.value):
        raise PhaseError(f"Marks are released in the moderation phase (the venue is in the {venue.phase} phase).")
    marks = compute_marks(session, venue, with_flags=False)
    targets = [s for s in marks.students if submission is None or (s.submission and s.submission.id == submission.id)]
    if submission is not None and not targets:
        raise Conflict(f"#{submission.number} has no student authors whose marks could be released.")
    incomplete = _incomplete_rows(targets)
    if incomplete and not allow_incomplete:
        names = "; ".join(f"{r['name']}: {', '.join(r['missing'])}" for r in incomplete[:10])
        raise Conflict(f"{len(incomplete)} student(s) have marks that are not complete, so nothing was released: "
                       f"{names}{' …' if len(incomplete) > 10 else ''}. Mark what is missing, or release what is "
                       "complete.", details=incomplete)
    ready = [s for s in targets if not s.missing]
    if not ready:
        raise Conflict("No student's marks are complete yet: nothing to release.", details=incomplete)
    scheme = _freeze_scheme(session, actor, venue)
    row = MarkRelease(venue_id=venue.id, submission_id=submission.id if submission else None,
                      scheme_version=scheme.version, released_by=actor.id)
    session.add(row)
    session.flush()
    existing = {r.member_id: r for r in session.exec(select(ReleasedMark).where(
        ReleasedMark.venue_id == venue.id, col(ReleasedMark.member_id).in_([s.member.id for s in ready]))).all()}
    now = utcnow()
    for s in ready:
        snap = existing.get(s.member.id) or ReleasedMark(venue_id=venue.id, member_id=s.member.id, release_id=row.id)
        snap.submission_id = s.submission.id if s.submission else None
        snap.release_id, snap.components, snap.total, snap.letter = row.id, dict(s.components), s.total, s.letter
        snap.breakdown, snap.feedback, snap.released_at = s.breakdown, s.feedback, now
        session.add(snap)
    session.flush()
    mails = _release_mails(session, venue, ready)
    where = f"#{submission.number}" if submission else "the venue"
    audit.record(session, venue_id=venue.id, actor=actor, action="marks.release",
                 summary=f"released marks of {where}: {len(ready)} student(s)"
                         + (f", {len(incomplete)} not complete left out" if incomplete else ""),
                 release_id=row.id, submission=submission.number if submission else None,
                 released=[s.member.id for s in ready], skipped=[r["member_id"] for r in incomplete],
                 scheme_version=scheme.version)
    return ReleaseResult(row, [s.member.id for s in ready], incomplete, mails)


def _release_mails(session: Session, venue: Venue, students: list[StudentMarks]) -> int:
    """One mail per student released, through the notification outbox."""
    return notifications.marks_released(session, venue, [(s.user, s.submission) for s in students])


def released_marks(session: Session, venue: Venue, member: Member | None) -> ReleasedMark | None:
    """The member's marks as released (None before any release covers them)."""
    if member is None:
        return None
    return session.exec(select(ReleasedMark).where(ReleasedMark.venue_id == venue.id,
                                                   ReleasedMark.member_id == member.id)).first()


def releases(session: Session, venue: Venue) -> list[tuple[MarkRelease, User, Submission | None]]:
    rows = session.exec(select(MarkRelease, User).join(User, col(User.id) == MarkRelease.released_by)
                        .where(MarkRelease.venue_id == venue.id).order_by(col(MarkRelease.id).desc())).all()
    return [(r, u, session.get(Submission, r.submission_id) if r.submission_id else None) for r, u in rows]
