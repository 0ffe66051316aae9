"""What a venue's home page leads with, per role (issue 17): for a student the next deadline that concerns them,
their group and submission, the reviews they write and the reviews of their paper; for the chairs what needs
attention (format errors, missing PDFs, missing reviews, late reviewers, pending extensions). And the reminder
a chair sends a late reviewer, through the outbox mail path.

Never commits. Submissions are named by number and title only; a reviewer's tasks carry no author identity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from app.errors import Conflict
from app.models import Assignment, Extension, Member, Phase, Revision, Review, ReviewStatus, Submission, User, Venue
from app.security import permissions
from app.services import audit
from app.services.anonymization import reader_title
from app.services.deadlines import effective_deadline, format_in
from app.services.notifications.outbox import enqueue
from app.services.notifications.render import venue_context, when

# which deadline concerns whom: the phase it closes, and whether the person must be an author / a reviewer
_DEADLINE_FOR = {"submission": "author", "bidding": "reviewer", "review": "reviewer", "response": "author",
                 "discussion": "reviewer"}
_DEADLINE_PHASE = {"submission": "submission", "bidding": "assignment", "review": "review", "response": "response",
                   "discussion": "discussion"}


@dataclass
class ReviewTask:
    """One review a member writes: the submission by number and title, where the review stands."""

    number: int
    title: str
    status: str  # not started | draft | submitted
    is_late: bool
    url: str


@dataclass
class LateReviewer:
    """A reviewer past their review deadline with reviews not submitted (staff see the name)."""

    member_id: int
    name: str
    email: str
    due_local: str
    missing: list[int]  # submission numbers


@dataclass
class Attention:
    """What a chair's home lists first; every list empty means nothing needs them."""

    format_errors: list[tuple[int, str]] = field(default_factory=list)
    without_pdf: list[tuple[int, str]] = field(default_factory=list)
    missing_reviews: int = 0
    reviews_total: int = 0
    late_reviewers: list[LateReviewer] = field(default_factory=list)
    pending_extensions: int = 0
    review_due_local: str | None = None
    can_remind: bool = False

    @property
    def anything(self) -> bool:
        return bool(self.format_errors or self.without_pdf or self.missing_reviews or self.late_reviewers
                    or self.pending_extensions)


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def review_tasks(session: Session, venue: Venue, member: Member) -> list[ReviewTask]:
    """The reviews this member writes (their assignments), each with its state; nothing about the authors."""
    rows = session.exec(select(Submission, Assignment).join(Assignment, col(Assignment.submission_id) == Submission.id)
                        .where(Assignment.member_id == member.id, Assignment.venue_id == venue.id)
                        .order_by(col(Submission.number))).all()
    reviews = {r.submission_id: r for r in session.exec(select(Review).where(Review.member_id == member.id)).all()}
    out = []
    for sub, _a in rows:
        review = reviews.get(sub.id)
        out.append(ReviewTask(sub.number, reader_title(session, sub), review.status if review else "not started",
                              bool(review and review.is_late),
                              f"/venues/{venue.slug}/submissions/{sub.number}/review"))
    return out


def next_deadline(deadlines: list, phase: str, *, author: bool, reviewer: bool,  # noqa: ANN001
                  now: datetime | None = None):  # noqa: ANN201
    """The earliest deadline still ahead that concerns this person (an author, a reviewer, or both) and whose
    phase is not over, from the dashboard's deadline rows (their group's extensions applied)."""
    now = _now(now)
    order = [p.value for p in Phase]
    here = order.index(phase) if phase in order else 0

    def concerns(d) -> bool:  # noqa: ANN001
        who = _DEADLINE_FOR.get(d.kind)
        return (order.index(_DEADLINE_PHASE[d.kind]) >= here
                and ((who == "author" and author) or (who == "reviewer" and reviewer)))

    ahead = [d for d in deadlines if d.due_at is not None and d.due_at > now and d.kind in _DEADLINE_PHASE
             and concerns(d)]
    return min(ahead, key=lambda d: d.due_at) if ahead else None


def _current_revisions(session: Session, venue: Venue) -> dict[int, Revision]:
    revs = session.exec(select(Revision).join(Submission, col(Submission.id) == Revision.submission_id)
                        .where(Submission.venue_id == venue.id).order_by(col(Revision.uploaded_at))).all()
    latest: dict[int, Revision] = {}
    for r in revs:  # uploaded_at ascending: the last one per submission counts
        latest[r.submission_id] = r
    return latest


def _open_assignments(session: Session, venue: Venue) -> list[tuple[Assignment, Submission, Member, User]]:
    """Every assignment whose review is not submitted, with its submission and reviewer."""
    submitted = {(r.submission_id, r.member_id) for r in session.exec(
        select(Review).where(Review.venue_id == venue.id, Review.status == ReviewStatus.submitted.value)).all()}
    rows = session.exec(select(Assignment, Submission, Member, User)
                        .join(Submission, col(Submission.id) == Assignment.submission_id)
                        .join(Member, col(Member.id) == Assignment.member_id)
                        .join(User, col(User.id) == Member.user_id)
                        .where(Assignment.venue_id == venue.id).order_by(col(Submission.number))).all()
    return [row for row in rows if (row[0].submission_id, row[0].member_id) not in submitted]


def chair_attention(session: Session, user: User, member: Member | None, venue: Venue,
                    now: datetime | None = None) -> Attention:
    """What needs the staff now: PDFs with format errors or none at all, reviews missing, reviewers late,
    extension requests waiting."""
    now = _now(now)
    att = Attention(can_remind=permissions.can_remind_reviewer(user, member, venue))
    subs = session.exec(select(Submission).where(Submission.venue_id == venue.id)
                        .order_by(col(Submission.number))).all()
    current = _current_revisions(session, venue)
    for sub in subs:
        rev = current.get(sub.id)
        if rev is None:
            att.without_pdf.append((sub.number, sub.title))
        elif not rev.format_ok:
            att.format_errors.append((sub.number, sub.title))
    att.reviews_total = len(session.exec(select(Assignment.id).where(Assignment.venue_id == venue.id)).all())
    if venue.phase in permissions.REVIEWING_PHASES:
        open_rows = _open_assignments(session, venue)
        att.missing_reviews = len(open_rows)
        venue_due = effective_deadline(session, venue, "review").due_at
        att.review_due_local = format_in(venue_due, venue.timezone) if venue_due else None
        late: dict[int, LateReviewer] = {}
        for _a, sub, m, u in open_rows:
            due = effective_deadline(session, venue, "review", m.group_id).due_at
            if due is None or now <= due:
                continue
            row = late.setdefault(m.id, LateReviewer(m.id, u.full_name, u.email, format_in(due, venue.timezone), []))
            row.missing.append(sub.number)
        att.late_reviewers = list(late.values())
    att.pending_extensions = len(session.exec(select(Extension.id).where(
        Extension.venue_id == venue.id, Extension.status == "pending")).all())
    return att


def remind_reviewer(session: Session, actor: User, venue: Venue, reviewer: Member,
                    now: datetime | None = None) -> list[int]:
    """Mail a reviewer the reviews they have not submitted (after commit, through the outbox); one reminder a
    day per reviewer. Returns the submission numbers named; Conflict when there is nothing to remind of or a
    reminder went out today already."""
    now = _now(now)
    missing = [(sub, a) for a, sub, m, _u in _open_assignments(session, venue) if m.id == reviewer.id]
    user = session.get(User, reviewer.user_id)
    if not missing:
        raise Conflict("This reviewer has no review left to write: there is nothing to remind them of.")
    due = effective_deadline(session, venue, "review", reviewer.group_id)
    numbers = [sub.number for sub, _a in missing]
    queued = enqueue(session, key=f"remind:{venue.id}:{reviewer.id}:{now:%Y-%m-%d}", user=user,
                     kind="review_reminder", venue=venue,
                     context={**venue_context(venue), "due": when(due.due_at, venue, user),
                              "late": bool(due.due_at and now > due.due_at),
                              "papers": [{"number": sub.number, "title": reader_title(session, sub),
                                          "path": f"/venues/{venue.slug}/submissions/{sub.number}/review"}
                                         for sub, _a in missing]})
    if not queued:
        raise Conflict("This reviewer was reminded today already: one reminder a day.")
    audit.record(session, venue_id=venue.id, actor=actor, action="review.remind",
                 summary=f"reminded a reviewer of {len(numbers)} review(s) not submitted "
                         f"({', '.join(f'#{n}' for n in numbers)})", member_id=reviewer.id)
    return numbers


@dataclass
class MySubmission:
    """The group's submission as its home page tells it: the PDF's check, the code, the newest run, reviews."""

    number: int
    title: str
    revision: Revision | None
    artifact_ok: bool | None  # None: no code snapshot yet
    latest_run: object | None
    reviews_readable: bool
    reviews_count: int


def my_submission(session: Session, user: User, venue: Venue, member: Member) -> MySubmission | None:
    """The member's group's submission (None without a group or before it has a title)."""
    from app.services import reviews as review_service
    from app.services.artifacts import current_artifact
    from app.services.runs import list_runs
    from app.services.submissions import current_revision, submission_of_group

    if member.group_id is None:
        return None
    sub = submission_of_group(session, venue, member.group_id)
    if sub is None:
        return None
    artifact = current_artifact(session, sub)
    runs = list_runs(session, sub)
    st = permissions.standing(session, user, member, sub, venue)
    readable = permissions.can_read_reviews(st)
    count = len(review_service.visible_reviews(session, user, member, venue, sub, is_staff=False,
                                               rel=st.relation)) if readable else 0
    return MySubmission(sub.number, sub.title, current_revision(session, sub),
                        artifact.manifest_ok if artifact else None, runs[0] if runs else None, readable, count)
