"""Who gets which mail when something happens: an assignment, a discussion post, a phase change.

Mails never name authors to reviewers or reviewers to authors: what a mail says about a person comes from
app.anonymity (the same gate as the pages), and submissions are named by number and title only. How a person
stands to the submission comes from app.services.standing (not the review service, which calls this one).
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.anonymity import comment_signature
from app.models import (
    Assignment,
    Comment,
    Member,
    Phase,
    ReleasedMark,
    Review,
    ReviewStatus,
    Submission,
    User,
    Venue,
)
from app.security import permissions
from app.services.anonymization import masker_for, reader_title
from app.services.deadlines import effective_deadline
from app.services.notifications.outbox import enqueue, would_enqueue
from app.services.notifications.preferences import wanting
from app.services.notifications.render import venue_context, when
from app.services.standing import comment_recipients, pseudonyms

BODY_EXCERPT = 4000          # characters of a comment quoted in its mail


def _queue(session: Session, dry_run: bool, *, key: str, **mail) -> bool:  # noqa: ANN003
    """enqueue, or with `dry_run` only whether it would queue (a phase checklist counts the mails)."""
    return would_enqueue(session, key) if dry_run else enqueue(session, key=key, **mail)


def _assignment_notice(session: Session, venue: Venue, assignment: Assignment, sub: Submission, member: Member,
                       user: User, dry_run: bool = False) -> bool:
    due = effective_deadline(session, venue, "review", member.group_id, member.id)
    return _queue(session, dry_run, key=f"assignment:{assignment.id}", user=user, kind="assignment", venue=venue,
                   context={**venue_context(venue), "number": sub.number, "title": reader_title(session, sub),
                            "due": when(due.due_at, venue, user), "extended": due.extended,
                            "path": f"/venues/{venue.slug}/submissions/{sub.number}/review"})


def _notify_assignments(session: Session, venue: Venue, rows: list[tuple[Assignment, Submission, Member, User]],
                        dry_run: bool = False) -> int:
    """Tell each reviewer of each pair they can see now (from the review phase on; earlier they wait)."""
    wanted = wanting(session, (u.id for _a, _s, _m, u in rows), "on_assignment")
    sent = 0
    for a, sub, member, user in rows:
        if user.id in wanted and permissions.can_view_submission(permissions.standing(session, user, member, sub, venue)):
            sent += _assignment_notice(session, venue, a, sub, member, user, dry_run)
    return sent


def assignments_changed(session: Session, venue: Venue, changes: list) -> int:  # noqa: ANN001
    """After apply_changes: mail each reviewer a pair was added for (changes are assignments.Change)."""
    added = {(c.submission_id, c.member_id) for c in changes if c.op == "add"}
    if not added:
        return 0
    rows = session.exec(select(Assignment, Submission, Member, User)
                        .join(Submission, col(Submission.id) == Assignment.submission_id)
                        .join(Member, col(Member.id) == Assignment.member_id)
                        .join(User, col(User.id) == Member.user_id)
                        .where(Assignment.venue_id == venue.id,
                               col(Assignment.member_id).in_({m for _s, m in added}))).all()
    return _notify_assignments(session, venue, [r for r in rows if (r[0].submission_id, r[0].member_id) in added])


def comment_posted(session: Session, comment: Comment, submission: Submission) -> int:
    """Mail everyone who may read the new post (its audience, their phase), except its author."""
    venue = session.get(Venue, submission.venue_id)
    recipients = comment_recipients(session, comment, submission)
    wanted = wanting(session, (u.id for u in recipients), "on_comment")
    if not wanted:
        return 0
    author = session.get(User, comment.user_id)
    author_member = session.get(Member, comment.member_id) if comment.member_id else None
    members = {m.user_id: m for m in session.exec(select(Member).where(
        Member.venue_id == venue.id, col(Member.user_id).in_(wanted))).all()}
    labels = pseudonyms(session, submission)
    body = comment.body if len(comment.body) <= BODY_EXCERPT else comment.body[:BODY_EXCERPT] + " […]"
    sent, mask = 0, None
    for user in recipients:
        member = members.get(user.id)
        if user.id not in wanted or member is None:
            continue
        st = permissions.standing(session, user, member, submission, venue)
        if not permissions.can_read_discussion(st):
            continue  # e.g. authors before the response phase: the post waits for them on the site
        if permissions.can_read_author_text_unmasked(st):
            shown, title = body, submission.title
        else:  # reviewers read the post (and the title) as on the site: through the submission's masker
            mask = mask or masker_for(session, submission)
            shown, title = mask(body), mask(submission.title)
        signature = comment_signature(user, member, author, author_member, comment.as_role, submission,
                                      labels.get(comment.member_id) if comment.member_id else None)
        sent += enqueue(session, key=f"comment:{comment.id}:user:{user.id}", user=user, kind="comment",
                        venue=venue,
                        context={**venue_context(venue), "number": submission.number, "title": title,
                                 "signature": signature, "audience": comment.audience, "body": shown,
                                 "is_reply": comment.parent_id is not None,
                                 "path": f"/venues/{venue.slug}/submissions/{submission.number}/reviews"})
    return sent


def _authors_by_submission(session: Session, venue: Venue) -> list[tuple[Submission, Member, User]]:
    return list(session.exec(select(Submission, Member, User)
                             .join(Member, col(Member.group_id) == Submission.group_id)
                             .join(User, col(User.id) == Member.user_id)
                             .where(Submission.venue_id == venue.id)
                             .order_by(col(Submission.number), col(User.id))).all())


def _submitted_counts(session: Session, venue: Venue) -> dict[int, int]:
    return dict(session.exec(select(Review.submission_id, func.count()).where(
        Review.venue_id == venue.id, Review.status == ReviewStatus.submitted.value)
        .group_by(Review.submission_id)).all())


def phase_changed(session: Session, venue: Venue, before: str, after: str, *, dry_run: bool = False) -> int:
    """After move_phase: reviewers hear of their assignments when reviewing opens; authors hear when their
    reviews become readable (response) and when reviews and marks are released. Once per person and event.
    On release, an author whose marks were not released is told the reviews are final and the marks come
    later (another key, so the marks' own mail still goes out when they are released). With `dry_run`, only
    count the mails that would go out (`venue` carries the phase to be)."""
    if after == Phase.review.value:
        rows = session.exec(select(Assignment, Submission, Member, User)
                            .join(Submission, col(Submission.id) == Assignment.submission_id)
                            .join(Member, col(Member.id) == Assignment.member_id)
                            .join(User, col(User.id) == Member.user_id)
                            .where(Assignment.venue_id == venue.id).order_by(col(Assignment.id))).all()
        return _notify_assignments(session, venue, list(rows), dry_run)
    if after not in (Phase.response.value, Phase.released.value):
        return 0
    authors = _authors_by_submission(session, venue)
    wanted = wanting(session, (u.id for _s, _m, u in authors), "on_release")
    counts = _submitted_counts(session, venue)
    released = set(session.exec(select(ReleasedMark.member_id).where(ReleasedMark.venue_id == venue.id)).all()) \
        if after == Phase.released.value else set()
    sent = 0
    for sub, member, user in authors:
        if user.id not in wanted:
            continue
        context = {**venue_context(venue), "number": sub.number, "title": sub.title,
                   "reviews": counts.get(sub.id, 0),
                   "path": f"/venues/{venue.slug}/submissions/{sub.number}/reviews"}
        key = f"{after}:{sub.id}:user:{user.id}"
        if after == Phase.response.value:
            if not counts.get(sub.id):
                continue  # nothing to read or answer yet
            due = effective_deadline(session, venue, "response", member.group_id)
            context |= {"due": when(due.due_at, venue, user), "extended": due.extended}
        elif member.id in released:
            context["marks"] = True
        else:
            context["marks"] = False  # withheld or not complete: never say they are released
            key = f"released-reviews:{sub.id}:user:{user.id}"
        sent += _queue(session, dry_run, key=key, user=user, kind=after, venue=venue, context=context)
    return sent


def marks_released(session: Session, venue: Venue, people: list[tuple[User, Submission | None]]) -> int:
    """After a release of marks: one mail per student, keyed like the phase change's release mail
    (released:<submission>:user:<id>), so moving the venue to `released` afterwards does not mail them again."""
    wanted = wanting(session, (u.id for u, _s in people), "on_release")
    sent = 0
    for user, sub in people:
        if user.id not in wanted:
            continue
        key = f"released:{sub.id}:user:{user.id}" if sub else f"released:venue{venue.id}:user:{user.id}"
        context = {**venue_context(venue), "number": sub.number if sub else 0,
                   "title": sub.title if sub else venue.title, "reviews": 0, "path": f"/venues/{venue.slug}/marks",
                   "marks": True}
        sent += enqueue(session, key=key, user=user, kind=Phase.released.value, venue=venue, context=context)
    return sent
