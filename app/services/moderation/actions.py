"""What moderators do to reviews and marks: hide or flag a review, mark its quality, override a mark (all audited)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from app.errors import BadInput
from app.models import (
    MarkOverride,
    Member,
    Review,
    ReviewAssessment,
    ReviewModeration,
    Submission,
    User,
    Venue,
)
from app.models.base import utcnow
from app.services import audit
from app.services.moderation.base import _fmt, _number, _reason
from app.services.moderation.data import _evidence_cache, gather
from app.services.moderation.marks import compute_marks, suggest_for
from app.services.moderation.scheme import round_half_up, rubric_mark, scheme_config, validate_levels

# --- moderating a review ------------------------------------------------------------------------------------------


def moderate_review(session: Session, actor: User, venue: Venue, review: Review, *, hidden: bool,
                    abusive: bool = False, reason: str = "") -> ReviewModeration:
    """Hide a review from the authors (kept for chairs) and/or mark it abusive, with a reason."""
    if hidden or abusive:
        reason = _reason(reason, "a reason (the authors are not shown it)")
    row = session.exec(select(ReviewModeration).where(ReviewModeration.review_id == review.id)).first()
    if row is None:
        row = ReviewModeration(review_id=review.id, decided_by=actor.id)
    row.hidden, row.abusive, row.reason = hidden, abusive, reason
    row.decided_by, row.decided_at = actor.id, utcnow()
    session.add(row)
    session.flush()
    sub = session.get(Submission, review.submission_id)
    state = ", ".join([w for w, on in (("hidden from the authors", hidden), ("abusive", abusive)) if on]) or "shown"
    audit.record(session, venue_id=venue.id, actor=actor, action="review.moderate",
                 summary=f"a review of #{sub.number} is {state}" + (f": {reason}" if reason else ""),
                 review_id=review.id, hidden=hidden, abusive=abusive, reason=reason or None)
    return row


def hidden_review_ids(session: Session, submission_id: int) -> set[int]:
    """Reviews of this submission the chairs hid from its authors (reviews.visible_reviews leaves them out
    for authors)."""
    return set(session.exec(select(ReviewModeration.review_id).join(Review, col(Review.id) == ReviewModeration.review_id)
                            .where(Review.submission_id == submission_id, ReviewModeration.hidden == True)  # noqa: E712
                            ).all())


# --- marks of review quality (the individual component) ------------------------------------------------------------


def confirm_assessment(session: Session, actor: User, venue: Venue, review: Review, *, levels: Any = None,
                       mark: Any = None, feedback: str = "", accept_suggestion: bool = False) -> ReviewAssessment:
    """A lecturer marks a review's quality: confirms the suggestion as it is shown now, or overrides it with
    their own levels or mark. Both are audited; the suggestion as shown is kept beside the mark."""
    data = gather(session, venue)
    config = scheme_config(session, venue)
    marks = compute_marks(session, venue, data=data, config=config, with_flags=False)
    suggestion = suggest_for(data, config, marks, review.id, _evidence_cache(session))
    if accept_suggestion:
        if suggestion["mark"] is None:
            raise BadInput("There is no complete suggestion for this review (some criteria have no signal): "
                           "choose a level for each criterion, or give a mark.")
        levels, value = dict(suggestion["levels"]), suggestion["mark"]
    else:
        levels = validate_levels(config, levels) if levels else {}
        if mark not in (None, ""):
            value = _number(mark, "The review mark")
        elif levels:
            value = round_half_up(rubric_mark(config, levels), config["rounding"])
        else:
            raise BadInput("Give a mark, or a level for each criterion of the rubric, or confirm the suggestion.")
    low, high = config["scale"]["min"], config["scale"]["max"]
    if not low <= value <= high:
        raise BadInput(f"The review mark {value:g} is outside the scale ({low:g}–{high:g}).")
    feedback = (feedback or "").replace("\r\n", "\n").strip()
    if len(feedback) > 10_000:
        raise BadInput("Feedback has at most 10,000 characters.")
    overridden = not accept_suggestion and (suggestion["mark"] is None or abs(value - suggestion["mark"]) > 1e-9)
    row = session.exec(select(ReviewAssessment).where(ReviewAssessment.review_id == review.id)).first()
    before = row.mark if row else None
    if row is None:
        row = ReviewAssessment(venue_id=venue.id, review_id=review.id, mark=value, confirmed_by=actor.id)
    row.levels, row.mark, row.feedback, row.suggestion = levels, value, feedback, suggestion
    row.overridden, row.confirmed_by, row.confirmed_at = overridden, actor.id, utcnow()
    session.add(row)
    session.flush()
    sub = session.get(Submission, review.submission_id)
    verb = "overrode the suggested" if overridden else "confirmed the suggested"
    audit.record(session, venue_id=venue.id, actor=actor, action="review_mark.override" if overridden
                 else "review_mark.confirm",
                 summary=f"{verb} mark of a review of #{sub.number}: {value:g} (suggested {_fmt(suggestion['mark'])})",
                 review_id=review.id, mark=value, suggested=suggestion["mark"], before=before, levels=levels)
    return row


# --- overrides -------------------------------------------------------------------------------------------------------


def override_mark(session: Session, actor: User, venue: Venue, *, component: str, value: Any, reason: str,
                  submission: Submission | None = None, member: Member | None = None) -> MarkOverride:
    """Set or adjust a group's (submission) or a member's mark on one component, with a reason; value None
    withdraws the override. The mark the scheme computes is kept beside it."""
    if (submission is None) == (member is None):
        raise BadInput("An override is for one submission (its group) or one member.")
    config = scheme_config(session, venue)
    components = {c["id"]: c for c in config["components"]}
    allowed = ["group"] if submission is not None else [*components, "total"]
    if component not in allowed:
        raise BadInput(f"There is no component {component!r} to set here; choose {', '.join(allowed)}.")
    reason = _reason(reason, "a reason for the mark")
    low, high = config["scale"]["min"], config["scale"]["max"]
    number = None if value in (None, "") else _number(value, "The mark")
    if number is not None and not low <= number <= high:
        raise BadInput(f"The mark {number:g} is outside the scale ({low:g}–{high:g}).")
    marks = compute_marks(session, venue, with_flags=False)
    if submission is not None:
        computed = marks.group_computed.get(submission.id, {}).get(component)
        target = f"#{submission.number}"
    else:
        computed = marks.member_computed.get(member.id, {}).get(component)
        target = f"member {member.id}"
    row = MarkOverride(venue_id=venue.id, submission_id=submission.id if submission else None,
                       member_id=member.id if member else None, component=component, value=number,
                       computed=computed, reason=reason, created_by=actor.id)
    session.add(row)
    session.flush()
    shown = "withdrawn" if number is None else f"{number:g}"
    audit.record(session, venue_id=venue.id, actor=actor, action="mark.override",
                 summary=f"{component} mark of {target} {shown} (computed {_fmt(computed)}): {reason}",
                 submission=submission.number if submission else None, member_id=member.id if member else None,
                 component=component, value=number, computed=computed, reason=reason)
    return row


def override_history(session: Session, venue: Venue) -> list[tuple[MarkOverride, User]]:
    return list(session.exec(select(MarkOverride, User).join(User, col(User.id) == MarkOverride.created_by)
                             .where(MarkOverride.venue_id == venue.id).order_by(col(MarkOverride.id).desc())).all())
