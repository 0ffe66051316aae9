"""The daily digest: per person, the deadlines of the next 48 hours that still ask something of them, queued
once per person, venue and (the venue's) day, whoever runs it and however often. The job that runs it daily
is app.jobs.digest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_
from sqlmodel import Session, col, select

from app.models import Assignment, Member, Phase, Review, ReviewStatus, Revision, Submission, User, Venue
from app.models.base import utcnow
from app.services.anonymization import reader_title
from app.services.deadlines import effective_deadline, zone
from app.services.notifications.outbox import enqueue
from app.services.notifications.preferences import wanting
from app.services.notifications.render import venue_context, when

DIGEST_WINDOW = timedelta(hours=48)


@dataclass
class DigestItem:
    kind: str  # submission | review | response
    due: str
    extended: bool
    what: list[str]


def _in_window(due: datetime | None, now: datetime) -> bool:
    return due is not None and now < due <= now + DIGEST_WINDOW


def digest_items(session: Session, venue: Venue, now: datetime) -> dict[int, tuple[User, list[DigestItem]]]:
    """Per person: the deadlines of this venue in the next 48 hours that still ask something of them."""
    out: dict[int, tuple[User, list[DigestItem]]] = {}
    members = session.exec(select(Member, User).join(User, col(User.id) == Member.user_id)
                           .where(Member.venue_id == venue.id).order_by(col(Member.id))).all()
    subs = {s.group_id: s for s in session.exec(select(Submission).where(Submission.venue_id == venue.id)).all()}

    def add(user: User, kind: str, due, what: list[str]) -> None:  # noqa: ANN001
        out.setdefault(user.id, (user, []))[1].append(
            DigestItem(kind=kind, due=when(due.due_at, venue, user), extended=due.extended, what=what))

    if venue.phase == Phase.submission.value:
        with_pdf = set(session.exec(select(Revision.submission_id).join(
            Submission, col(Submission.id) == Revision.submission_id).where(Submission.venue_id == venue.id)).all())
        for member, user in members:
            if member.group_id is None:
                continue
            sub = subs.get(member.group_id)
            if sub is not None and sub.id in with_pdf:
                continue
            due = effective_deadline(session, venue, "submission", member.group_id)
            if _in_window(due.due_at, now):
                add(user, "submission", due, [f"#{sub.number}: {sub.title}" if sub else "your group's paper"])
    elif venue.phase == Phase.review.value:
        open_pairs = session.exec(select(Assignment.member_id, Submission)
                                  .join(Submission, col(Submission.id) == Assignment.submission_id)
                                  .outerjoin(Review, (col(Review.submission_id) == Assignment.submission_id)
                                             & (col(Review.member_id) == Assignment.member_id))
                                  .where(Assignment.venue_id == venue.id,
                                         or_(col(Review.id).is_(None),
                                             Review.status != ReviewStatus.submitted.value))
                                  .order_by(col(Submission.number))).all()
        todo: dict[int, list[str]] = {}
        titles: dict[int, str] = {}  # reviewers read titles through the submission's masker, as on the site
        for member_id, sub in open_pairs:
            if sub.id not in titles:
                titles[sub.id] = reader_title(session, sub)
            todo.setdefault(member_id, []).append(f"#{sub.number}: {titles[sub.id]}")
        for member, user in members:
            if member.id in todo:
                due = effective_deadline(session, venue, "review", member.group_id, member.id)
                if _in_window(due.due_at, now):
                    add(user, "review", due, todo[member.id])
    elif venue.phase == Phase.response.value:
        for member, user in members:
            sub = subs.get(member.group_id) if member.group_id else None
            if sub is None:
                continue
            due = effective_deadline(session, venue, "response", member.group_id)
            if _in_window(due.due_at, now):
                add(user, "response", due, [f"#{sub.number}: {sub.title}"])
    return out


def queue_digests(session: Session, now: datetime | None = None, venue: Venue | None = None) -> int:
    """Queue today's digest for each person with a deadline in the next 48 h; once per person, venue and day
    (the venue's day), whoever runs it and however often."""
    now = now or utcnow()
    venues = [venue] if venue else list(session.exec(select(Venue).where(
        col(Venue.phase).in_([Phase.submission.value, Phase.review.value, Phase.response.value]))
        .order_by(col(Venue.id))).all())
    queued = 0
    for v in venues:
        day = now.astimezone(zone(v.timezone)).date().isoformat()
        people = digest_items(session, v, now)
        wanted = wanting(session, people, "deadline_digest")
        for user_id, (user, items) in people.items():
            if user_id not in wanted:
                continue
            queued += enqueue(session, key=f"digest:{v.id}:{user_id}:{day}", user=user, kind="digest", venue=v,
                              context={**venue_context(v), "day": day,
                                       "items": [{"kind": i.kind, "due": i.due, "extended": i.extended,
                                                  "what": i.what} for i in items]})
    return queued
