"""How a person stands to a submission: author or assigned reviewer (and whether their review is in), the
reviewers' stable pseudonyms, and who may read a new discussion post.

Reviews and notifications both ask these questions; keeping the answers here lets notifications depend on them
without importing the review service (which calls notifications when a comment is posted).
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.errors import Conflict
from app.models import Assignment, Audience, Comment, Member, Pseudonym, Review, ReviewStatus, Role, Submission, User
# The standing query itself lives with the permissions that read it (security imports no service).
from app.security.permissions import Relation, relation

__all__ = ["Relation", "relation", "pseudonym", "pseudonyms", "comment_recipients"]


# --- pseudonyms -----------------------------------------------------------------------------------------------


def _label(n: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA …"""
    s = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def pseudonym(session: Session, submission: Submission, member_id: int) -> str:
    """The member's stable label on this submission, given on first need ("Reviewer A", "Reviewer B", …)."""
    row = session.exec(select(Pseudonym).where(Pseudonym.submission_id == submission.id,
                                               Pseudonym.member_id == member_id)).first()
    if row is not None:
        return f"Reviewer {row.label}"
    for _ in range(5):  # another process may take the same letter at the same moment: take the next one
        taken = session.exec(select(Pseudonym.label).where(Pseudonym.submission_id == submission.id)).all()
        label = _label(len(taken))
        try:
            with session.begin_nested():
                session.add(Pseudonym(submission_id=submission.id, member_id=member_id, label=label))
        except IntegrityError:
            row = session.exec(select(Pseudonym).where(Pseudonym.submission_id == submission.id,
                                                       Pseudonym.member_id == member_id)).first()
            if row is not None:
                return f"Reviewer {row.label}"
            continue
        return f"Reviewer {label}"
    raise Conflict("Could not give this reviewer a pseudonym; try again.")


def pseudonyms(session: Session, submission: Submission) -> dict[int, str]:
    rows = session.exec(select(Pseudonym).where(Pseudonym.submission_id == submission.id)).all()
    return {r.member_id: f"Reviewer {r.label}" for r in rows}


# --- the discussion's readers ---------------------------------------------------------------------------------


def comment_recipients(session: Session, comment: Comment, submission: Submission) -> list[User]:
    """Who should hear of a new post: everyone who may read it on this submission, except its author."""
    users: dict[int, User] = {}
    reviewers = session.exec(select(User).join(Member, col(Member.user_id) == User.id)
                             .join(Assignment, col(Assignment.member_id) == Member.id)
                             .join(Review, (col(Review.member_id) == Member.id)
                                   & (col(Review.submission_id) == Assignment.submission_id))
                             .where(Assignment.submission_id == submission.id,
                                    Review.status == ReviewStatus.submitted.value)).all()
    if comment.audience in (Audience.everyone.value, Audience.reviewers.value):
        users.update({u.id: u for u in reviewers})
    if comment.audience == Audience.everyone.value:
        authors = session.exec(select(User).join(Member, col(Member.user_id) == User.id)
                               .where(Member.group_id == submission.group_id)).all()
        users.update({u.id: u for u in authors})
    chairs = session.exec(select(User).join(Member, col(Member.user_id) == User.id)
                          .where(Member.venue_id == submission.venue_id, Member.role == Role.chair.value)).all()
    users.update({u.id: u for u in chairs})
    users.pop(comment.user_id, None)
    return list(users.values())
