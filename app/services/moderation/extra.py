"""Asking one more reviewer for a submission, through the one assignment path."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from app.errors import BadInput, Conflict
from app.models import (
    Member,
    Role,
    Submission,
    User,
    Venue,
)
from app.models.base import utcnow
from app.services.moderation.base import get_member

# --- request an extra review (goes through the one assignment path) --------------------------------------------------


@dataclass
class ExtraReview:
    """One more reviewer asked for a submission: who, how they were chosen, their affinity when known."""

    submission: Submission
    member: Member
    user: User
    affinity: float | None
    chosen: str  # "chair" (named by the chair) | "affinity" (the best-affinity eligible reviewer)


def extra_review_candidates(session: Session, venue: Venue, submission: Submission) -> list[tuple[Member, User]]:
    """Who may be asked for an extra review of `submission`: reviewers (students, external reviewers, TAs) not yet
    assigned to it, not its authors, without a conflict with it — as the one assignment path checks them."""
    from app.services import assignments

    pool = assignments.reviewers(session, venue, include_tas=True)
    trial = [assignments.Change("add", submission.id, m.id) for m, _u in pool]
    refused = {p.change.member_id for p in assignments.check_changes(session, venue, trial) if p.change}
    return [(m, u) for m, u in pool if m.id not in refused]


def _best_affinity(session: Session, settings, venue: Venue, submission: Submission,  # noqa: ANN001
                   candidates: list[tuple[Member, User]]) -> tuple[Member, User, float]:
    """The eligible peer reviewer (student or external reviewer) closest to the submission, from cached
    embeddings only (a request never waits for the model)."""
    from app.services import assignments

    peers = {m.id: (m, u) for m, u in candidates if m.role in assignments.REVIEWER_ROLES}
    if not peers:
        raise Conflict(f"No student or external reviewer is free to review #{submission.number} (each is assigned "
                       "to it already, an author of it or in conflict with it): name a reviewer, e.g. a TA.")
    try:
        sc = assignments.score_venue(session, settings, venue, cache_only=True)
    except assignments.NotEmbedded:
        raise Conflict("The reviewers' affinity to the submissions is not computed yet (no embeddings are cached): "
                       "pick a reviewer by name, or run an assignment Preview first to compute it.") from None
    row = next(i for i, s in enumerate(sc.subs) if s.id == submission.id)
    scored = [(float(sc.matrix[row, j]), -j, m.id) for j, m in enumerate(sc.members) if m.id in peers]
    affinity, _order, member_id = max(scored)
    return (*peers[member_id], affinity)


def request_extra_review(session: Session, settings, actor: User, venue: Venue, submission: Submission,  # noqa: ANN001
                         member_id: int | None = None) -> ExtraReview:
    """Ask one more reviewer for `submission` (e.g. when its reviewers disagree): the one named, or with None the
    best-affinity eligible reviewer. Added through assignments.apply_changes (origin manual, one audit event, the
    assignment mail as usual); refused with the reason for an author, a conflicted or an assigned reviewer."""
    from app.models.assignment import Origin
    from app.services import assignments
    from app.services.deadlines import effective_deadline, format_in

    if member_id is None:
        member, user, affinity = _best_affinity(session, settings, venue, submission,
                                                extra_review_candidates(session, venue, submission))
        chosen = "affinity"
    else:
        member = get_member(session, venue, member_id)
        user = session.get(User, member.user_id)
        affinity, chosen = None, "chair"
        if member.role not in (*assignments.REVIEWER_ROLES, Role.ta.value):
            raise BadInput(f"{user.full_name} is a {member.role} of this venue, not a reviewer: choose a student, "
                           "an external reviewer or a TA.")
    change = assignments.Change("add", submission.id, member.id, Origin.manual.value, affinity)
    problems = assignments.check_changes(session, venue, [change])
    if problems:
        raise BadInput(f"{user.full_name} {problems[0].message}: nothing was changed; choose another reviewer.")
    due = effective_deadline(session, venue, "review", member.group_id, member.id).due_at
    if due is not None and utcnow() > due:
        raise Conflict(f"The review deadline ({format_in(due, venue.timezone)}) has passed for {user.full_name}, "
                       "who could not write the review: extend it first, or choose another reviewer.")
    how = "best affinity" if chosen == "affinity" else "named by the chair"
    assignments.apply_changes(session, actor, venue, [change], action="assignment.extra_review",
                              summary=f"extra review of #{submission.number} asked of {user.email} ({how})",
                              detail={"submission": submission.number, "member_id": member.id, "chosen": chosen,
                                      "affinity": affinity})
    return ExtraReview(submission, member, user, affinity, chosen)
