"""Reviews, discussion, the authors' response and ratings (how a person stands to a submission, and the
reviewers' pseudonyms, are app.services.standing's).

Drafts are saved with optimistic concurrency: every save names the version it started from; a save against a
newer version is refused as a conflict and its text is kept in the review's history (nothing is lost, and the
second tab is told). Submitting publishes the answers; what others read is always the published copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.errors import BadInput, Conflict, DeadlinePassed, NotFound, PhaseError
from app.models import (
    Assignment,
    Audience,
    Comment,
    Member,
    Phase,
    Pseudonym,
    Rating,
    Response,
    Review,
    ReviewHistory,
    ReviewStatus,
    Submission,
    User,
    Venue,
)
from app.models.base import utcnow
from app.services import audit, moderation, notifications
from app.services.deadlines import effective_deadline, format_in
from app.services.review_forms import get_fields, validate_answers, visible_fields
# Routers, the demo and tests still read these through this module; they live in standing and submissions.
from app.services.standing import Relation, comment_recipients, pseudonym, pseudonyms, relation  # noqa: F401
from app.services.submissions import get_submission  # noqa: F401

COMMENT_MAX = 20_000
RESPONSE_MAX = 6_000  # characters; OpenReview venues typically allow 5 000–6 000 per rebuttal


# --- writing a review -----------------------------------------------------------------------------------------


def get_review(session: Session, submission: Submission, member: Member) -> Review | None:
    return session.exec(select(Review).where(Review.submission_id == submission.id,
                                             Review.member_id == member.id)).first()


def review_deadline_text(session: Session, venue: Venue, member: Member) -> str | None:
    due = effective_deadline(session, venue, "review", member.group_id, member.id)
    return format_in(due.due_at, venue.timezone) if due.due_at else None


def _check_can_edit(session: Session, venue: Venue, member: Member, review: Review | None, now: datetime) -> None:
    """Before the deadline anything goes; later only an already submitted review may be updated."""
    if review is not None and review.status == ReviewStatus.submitted.value:
        return
    if venue.phase != Phase.review.value:
        raise PhaseError(f"The review phase is over (the venue is in the {venue.phase} phase): "
                         "a review that was not submitted can no longer be written.")
    due = effective_deadline(session, venue, "review", member.group_id, member.id)
    if due.due_at is not None and now > due.due_at:
        raise DeadlinePassed(f"The review deadline ({format_in(due.due_at, venue.timezone)}) has passed; "
                             "your draft is kept, ask the chair for an extension.")


@dataclass
class SaveResult:
    review: Review
    conflict: bool = False
    theirs: dict[str, Any] = field(default_factory=dict)


def save_draft(session: Session, actor: User, venue: Venue, member: Member, submission: Submission,
               answers: Any, base_version: int | None, *, now: datetime | None = None) -> SaveResult:
    """Autosave the working copy. A save based on an older version is refused as a conflict (kept in history)."""
    now = now or utcnow()
    fields = get_fields(session, venue)
    clean = validate_answers(fields, answers, final=False)
    review = get_review(session, submission, member)
    _check_can_edit(session, venue, member, review, now)
    if review is None:
        if base_version not in (None, 0):
            raise Conflict("This review does not exist yet: reload the page.")
        pseudonym(session, submission, member.id)
        review = Review(venue_id=venue.id, submission_id=submission.id, member_id=member.id, answers=clean,
                        version=1, updated_at=now)
        try:
            with session.begin_nested():
                session.add(review)
        except IntegrityError:  # the other tab created it first
            review = get_review(session, submission, member)
            return _conflict(session, actor, review, clean)
        return SaveResult(review)
    if base_version is None:
        raise BadInput("Say which version this draft is based on (field 'version'), so that two tabs do not "
                       "overwrite each other.")
    done = session.execute(
        update(Review).where(col(Review.id) == review.id, col(Review.version) == base_version)
        .values(answers=clean, version=Review.version + 1, updated_at=now)
        .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        session.refresh(review)
        if review.answers == clean:  # the same text saved twice (autosave racing the submit button): no conflict
            return SaveResult(review)
        return _conflict(session, actor, review, clean)
    session.refresh(review)
    return SaveResult(review)


def _conflict(session: Session, actor: User, review: Review, mine: dict[str, Any]) -> SaveResult:
    session.add(ReviewHistory(review_id=review.id, version=review.version, kind="conflict", answers=mine,
                              saved_by=actor.id))
    session.flush()
    return SaveResult(review, conflict=True, theirs=dict(review.answers))


def submit_review(session: Session, actor: User, venue: Venue, member: Member, submission: Submission,
                  answers: Any, base_version: int | None, *, now: datetime | None = None) -> Review:
    """Save and publish. First submission before the (effective) deadline; updates until the discussion ends."""
    now = now or utcnow()
    fields = get_fields(session, venue)
    validate_answers(fields, answers, final=True)
    result = save_draft(session, actor, venue, member, submission, answers, base_version, now=now)
    if result.conflict:
        raise Conflict("This review was changed in another tab or window since you loaded it: reload it, "
                       "compare, and submit again. Your text was kept in the review's history.",
                       details={"version": result.review.version})
    review = result.review
    first = review.status != ReviewStatus.submitted.value
    if first:
        venue_due = effective_deadline(session, venue, "review", None).due_at
        review.is_late = venue_due is not None and now > venue_due  # inside a granted extension
        review.submitted_at = now
    review.status = ReviewStatus.submitted.value
    review.published = dict(review.answers)
    review.published_version = review.version
    session.add(review)
    session.add(ReviewHistory(review_id=review.id, version=review.version, kind="submitted" if first else "updated",
                              answers=dict(review.answers), saved_by=actor.id, saved_at=now))
    session.flush()
    audit.record(session, venue_id=venue.id, actor=actor, action="review.submit" if first else "review.update",
                 summary=f"review of #{submission.number} {'submitted' if first else 'updated'}"
                         + (" (late, within an extension)" if first and review.is_late else ""),
                 submission=submission.number, review_id=review.id)
    return review


def review_history(session: Session, review: Review) -> list[ReviewHistory]:
    return list(session.exec(select(ReviewHistory).where(ReviewHistory.review_id == review.id)
                             .order_by(col(ReviewHistory.id))).all())


def assigned_reviews(session: Session, venue: Venue, member: Member) -> list[tuple[Submission, Review | None]]:
    """The submissions assigned to this member, with their review (if started), by submission number."""
    rows = session.exec(select(Submission, Assignment).join(Assignment, col(Assignment.submission_id) == Submission.id)
                        .where(Assignment.member_id == member.id, Assignment.venue_id == venue.id)
                        .order_by(col(Submission.number))).all()
    reviews = {r.submission_id: r for r in session.exec(select(Review).where(Review.member_id == member.id)).all()}
    return [(sub, reviews.get(sub.id)) for sub, _a in rows]


# --- reading reviews ------------------------------------------------------------------------------------------


@dataclass
class ReviewView:
    """A review as one reader may see it: who (as the anonymity gate says), which fields, which answers."""

    id: int
    reviewer: str
    status: str
    is_late: bool
    submitted_at: datetime | None
    fields: list[dict[str, Any]]
    answers: dict[str, Any]
    version: int | None
    is_mine: bool = False
    my_rating: dict | None = None
    ratings: list[dict] = field(default_factory=list)


def audience_of(is_staff: bool, rel: Relation) -> str:
    if is_staff:
        return "chairs"
    return "reviewers" if rel.assigned else "authors"


def visible_reviews(session: Session, viewer: User, viewer_member: Member | None, venue: Venue,
                    submission: Submission, *, is_staff: bool, rel: Relation) -> list[ReviewView]:
    """Submitted reviews (staff also see drafts' status), fields filtered by the reader's audience."""
    from app.anonymity import display_name

    fields = get_fields(session, venue)
    audience = audience_of(is_staff, rel)
    shown = visible_fields(fields, audience)
    labels = pseudonyms(session, submission)
    rows = session.exec(select(Review, Member, User).join(Member, col(Member.id) == Review.member_id)
                        .join(User, col(User.id) == Member.user_id)
                        .where(Review.submission_id == submission.id).order_by(col(Review.id))).all()
    mine_ratings: dict[int, Rating] = {}
    if viewer_member is not None and rel.is_author:
        mine_ratings = {r.review_id: r for r in session.exec(select(Rating).where(
            Rating.member_id == viewer_member.id)).all()}
    ratings: dict[int, list[dict]] = {}
    if is_staff:
        for r in session.exec(select(Rating).join(Review, col(Review.id) == Rating.review_id)
                              .where(Review.submission_id == submission.id).order_by(col(Rating.id))).all():
            ratings.setdefault(r.review_id, []).append({"score": r.score, "comment": r.comment})
    # a review the chairs hid as unhelpful or abusive is kept for staff and its fellow reviewers, not the authors
    hidden = moderation.hidden_review_ids(session, submission.id) if rel.is_author and not is_staff else set()
    out = []
    for review, member, user in rows:
        submitted = review.status == ReviewStatus.submitted.value
        if (not submitted and not is_staff) or review.id in hidden:
            continue
        label = labels.get(member.id, "Reviewer")
        view = ReviewView(
            id=review.id, reviewer=display_name(viewer, viewer_member, user, member, submission=submission,
                                                pseudonym=label),
            status=review.status, is_late=review.is_late, submitted_at=review.submitted_at, fields=shown,
            answers={f["id"]: review.published[f["id"]] for f in shown if review.published and f["id"] in
                     review.published},
            version=review.published_version, is_mine=viewer_member is not None and member.id == viewer_member.id)
        rating = mine_ratings.get(review.id)
        if rating is not None:
            view.my_rating = {"score": rating.score, "comment": rating.comment}
        if is_staff:
            view.ratings = ratings.get(review.id, [])
        out.append(view)
    return out


# --- discussion -----------------------------------------------------------------------------------------------


@dataclass
class CommentView:
    id: int
    parent_id: int | None
    author: str
    as_role: str
    audience: str
    body: str
    created_at: datetime
    replies: list[CommentView] = field(default_factory=list)


def _audiences_for(is_staff: bool, rel: Relation) -> set[str]:
    if is_staff:
        return {a.value for a in Audience}
    if rel.assigned:
        return {Audience.everyone.value, Audience.reviewers.value}
    return {Audience.everyone.value}


def post_comment(session: Session, actor: User, venue: Venue, member: Member | None, submission: Submission,
                 body: str, *, audience: str = Audience.everyone.value, parent_id: int | None = None,
                 is_staff: bool, rel: Relation) -> Comment:
    """A post signed by the role the poster has on this submission (chair, reviewer or author)."""
    body = (body or "").replace("\r\n", "\n")
    if not body.strip():
        raise BadInput("Write something first: the comment is empty.")
    if len(body) > COMMENT_MAX:
        raise BadInput(f"A comment has at most {COMMENT_MAX:,} characters (this one has {len(body):,}).")
    if audience not in {a.value for a in Audience}:
        raise BadInput(f"Audience must be one of {', '.join(a.value for a in Audience)}.")
    if audience not in _audiences_for(is_staff, rel) and not (rel.assigned and audience == Audience.chairs.value):
        raise BadInput("Authors post to everyone on the submission (reviewers and chairs).")
    if parent_id is not None:
        parent = session.get(Comment, parent_id)
        if parent is None or parent.submission_id != submission.id:
            raise NotFound("The comment you reply to is not in this discussion.")
        if parent.audience not in _audiences_for(is_staff, rel):
            raise NotFound("The comment you reply to is not in this discussion.")
    as_role = "chair" if is_staff and not rel.assigned else "reviewer" if rel.assigned else "author"
    if as_role == "reviewer" and member is not None:
        pseudonym(session, submission, member.id)
    comment = Comment(venue_id=venue.id, submission_id=submission.id, parent_id=parent_id,
                      member_id=member.id if member else None, user_id=actor.id, as_role=as_role,
                      audience=audience, body=body)
    session.add(comment)
    session.flush()
    audit.record(session, venue_id=venue.id, actor=actor, action="comment.post",
                 summary=f"comment on #{submission.number} as {as_role} to {audience}",
                 submission=submission.number, comment_id=comment.id)
    notifications.comment_posted(session, comment, submission)
    return comment


def list_comments(session: Session, viewer: User, viewer_member: Member | None, submission: Submission, *,
                  is_staff: bool, rel: Relation) -> list[CommentView]:
    """The thread as this viewer may read it: top-level posts with their replies, oldest first."""
    from app.anonymity import comment_signature

    audiences = _audiences_for(is_staff, rel)
    labels = pseudonyms(session, submission)
    rows = session.exec(select(Comment, User, Member).join(User, col(User.id) == Comment.user_id)
                        .outerjoin(Member, col(Member.id) == Comment.member_id)
                        .where(Comment.submission_id == submission.id, col(Comment.audience).in_(audiences))
                        .order_by(col(Comment.created_at), col(Comment.id))).all()
    views: dict[int, CommentView] = {}
    roots: list[CommentView] = []
    for c, user, member in rows:
        view = CommentView(id=c.id, parent_id=c.parent_id, as_role=c.as_role, audience=c.audience, body=c.body,
                           created_at=c.created_at,
                           author=comment_signature(viewer, viewer_member, user, member, c.as_role, submission,
                                                    labels.get(c.member_id) if c.member_id else None))
        views[c.id] = view
        parent = views.get(c.parent_id) if c.parent_id else None
        (parent.replies if parent else roots).append(view)
    return roots


# --- response and ratings -------------------------------------------------------------------------------------


def get_response(session: Session, submission: Submission) -> Response | None:
    return session.exec(select(Response).where(Response.submission_id == submission.id)).first()


def save_response(session: Session, actor: User, venue: Venue, submission: Submission, body: str,
                  base_version: int | None) -> Response:
    """The group's single response; edits by two members are serialised by version like review drafts."""
    body = (body or "").replace("\r\n", "\n")
    if not body.strip():
        raise BadInput("The response is empty.")
    if len(body) > RESPONSE_MAX:
        raise BadInput(f"A response has at most {RESPONSE_MAX:,} characters (this one has {len(body):,}).")
    existing = get_response(session, submission)
    if existing is None:
        row = Response(submission_id=submission.id, body=body, updated_by=actor.id)
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            raise Conflict("Someone in your group saved a response at the same moment: reload and merge.") from None
        existing = row
    else:
        if base_version is not None and base_version != existing.version:
            raise Conflict("Someone in your group changed the response since you loaded it: reload and merge.",
                           details={"version": existing.version})
        done = session.execute(update(Response).where(col(Response.id) == existing.id,
                                                      col(Response.version) == existing.version)
                               .values(body=body, version=Response.version + 1, updated_by=actor.id,
                                       updated_at=utcnow()).execution_options(synchronize_session=False))
        if done.rowcount != 1:
            raise Conflict("Someone in your group changed the response at the same moment: reload and merge.")
        session.refresh(existing)
    audit.record(session, venue_id=venue.id, actor=actor, action="response.save",
                 summary=f"response for #{submission.number} saved", submission=submission.number)
    return existing


def get_review_by_id(session: Session, submission: Submission, review_id: int) -> Review:
    review = session.get(Review, review_id)
    if review is None or review.submission_id != submission.id or review.status != ReviewStatus.submitted.value:
        raise NotFound("There is no such review of this submission.")
    return review


def rate_review(session: Session, actor: User, venue: Venue, member: Member, review: Review, score: Any,
                comment: str = "") -> Rating:
    """An author's helpfulness rating (1-5), replaced when they rate again."""
    if isinstance(score, str) and score.strip().isdigit():
        score = int(score)
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise BadInput("A rating is a whole number from 1 (not helpful) to 5 (very helpful).")
    comment = (comment or "").strip()
    if len(comment) > 2000:
        raise BadInput("A rating comment has at most 2,000 characters.")
    row = session.exec(select(Rating).where(Rating.review_id == review.id, Rating.member_id == member.id)).first()
    if row is None:
        row = Rating(review_id=review.id, member_id=member.id, score=score, comment=comment)
    else:
        row.score, row.comment, row.updated_at = score, comment, utcnow()
    session.add(row)
    session.flush()
    audit.record(session, venue_id=venue.id, actor=actor, action="rating.set",
                 summary=f"a review was rated {score}/5", review_id=review.id)
    return row


# --- the chairs' overview -----------------------------------------------------------------------------------


@dataclass
class ProgressRow:
    """One submission's reviewing state, for chairs and TAs (names included: staff see everybody)."""

    submission: Submission
    reviewers: list[dict]  # {"name", "pseudonym", "status", "is_late", "overall"}
    submitted: int
    assigned: int
    mean_overall: float | None
    comments: int
    has_response: bool


def review_progress(session: Session, venue: Venue) -> list[ProgressRow]:
    """Every submission with its assigned reviewers and where each review stands, in a handful of queries."""
    from collections import Counter

    subs = session.exec(select(Submission).where(Submission.venue_id == venue.id)
                        .order_by(col(Submission.number))).all()
    pairs = session.exec(select(Assignment, Member, User).join(Member, col(Member.id) == Assignment.member_id)
                         .join(User, col(User.id) == Member.user_id)
                         .where(Assignment.venue_id == venue.id).order_by(col(Assignment.id))).all()
    reviews = {(r.submission_id, r.member_id): r for r in session.exec(
        select(Review).where(Review.venue_id == venue.id)).all()}
    labels = {(p.submission_id, p.member_id): f"Reviewer {p.label}" for p in session.exec(
        select(Pseudonym).join(Submission, col(Submission.id) == Pseudonym.submission_id)
        .where(Submission.venue_id == venue.id)).all()}
    comments = Counter(session.exec(select(Comment.submission_id).where(Comment.venue_id == venue.id)).all())
    responded = set(session.exec(select(Response.submission_id).join(
        Submission, col(Submission.id) == Response.submission_id).where(Submission.venue_id == venue.id)).all())
    by_sub: dict[int, list[dict]] = {}
    for a, member, user in pairs:
        review = reviews.get((a.submission_id, member.id))
        overall = (review.published or {}).get("overall") if review else None
        by_sub.setdefault(a.submission_id, []).append({
            "name": user.full_name, "pseudonym": labels.get((a.submission_id, member.id)),
            "status": review.status if review else "not started", "is_late": bool(review and review.is_late),
            "overall": overall if isinstance(overall, int) else None})
    rows = []
    for sub in subs:
        people = by_sub.get(sub.id, [])
        scores = [p["overall"] for p in people if p["overall"] is not None and p["status"] == "submitted"]
        rows.append(ProgressRow(sub, people, sum(p["status"] == "submitted" for p in people), len(people),
                                round(sum(scores) / len(scores), 2) if scores else None, comments.get(sub.id, 0),
                                sub.id in responded))
    return rows
