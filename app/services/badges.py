"""A submission's ACM badges: earned by its runs, confirmed or overridden by a chair (the rules are the
kernel's, app.artifacts.badges). Takes a session and never commits."""

from __future__ import annotations

from sqlmodel import Session, select

from app.artifacts.badges import AVAILABLE, BADGES, LABELS
from app.errors import BadInput
from app.models import Submission, User, Venue
from app.models.base import utcnow
from app.models.claim import BadgeOverride
from app.models.run import Run, RunStatus
from app.services import audit
from app.services.artifacts import current_artifact

__all__ = ["earned_badges", "effective_badges", "granted_badges", "decide_badge"]


def earned_badges(session: Session, submission: Submission) -> set[str]:
    """Available once a snapshot of the current artifact is stored; functional / reproduced when one of
    its finished runs earned them (the server recomputed those when the result arrived)."""
    artifact = current_artifact(session, submission)
    if artifact is None:
        return set()
    earned = {AVAILABLE}
    for badges in session.exec(select(Run.badges).where(
            Run.artifact_id == artifact.id, Run.status.in_([RunStatus.passed.value, RunStatus.failed.value]))).all():
        earned |= {b for b in badges or [] if b in BADGES}
    return earned


def effective_badges(session: Session, submission: Submission) -> list[dict]:
    """Each badge: what the runs earned, the chair's decision if any, and what counts (`granted`)."""
    earned = earned_badges(session, submission)
    decisions = {o.badge: o for o in session.exec(select(BadgeOverride).where(
        BadgeOverride.submission_id == submission.id)).all()}
    out = []
    for badge in BADGES:
        o = decisions.get(badge)
        granted = o.granted if o is not None else badge in earned
        state = ("confirmed" if o.granted == (badge in earned) else "overridden") if o is not None else "automatic"
        out.append({"badge": badge, "label": LABELS[badge], "earned": badge in earned, "granted": granted,
                    "decision": state, "reason": o.reason if o else None,
                    "decided_at": o.decided_at if o else None})
    return out


def granted_badges(session: Session, submission: Submission) -> list[str]:
    """The badges that count (shown on the submission and in exports), in canonical order."""
    return [b["badge"] for b in effective_badges(session, submission) if b["granted"]]


def decide_badge(session: Session, actor: User, venue: Venue, submission: Submission, badge: str, *,
                 granted: bool | None, reason: str) -> dict:
    """A chair confirms (granted = what was earned) or overrides a badge, with a reason; granted=None
    withdraws the decision so the runs decide again. Audited."""
    if badge not in BADGES:
        raise BadInput(f"A badge is one of {', '.join(BADGES)}.")
    reason = " ".join((reason or "").split())
    if granted is not None and not 3 <= len(reason) <= 1000:
        raise BadInput("Give a reason (3 to 1000 characters): authors and chairs read it with the badge.")
    row = session.exec(select(BadgeOverride).where(BadgeOverride.submission_id == submission.id,
                                                   BadgeOverride.badge == badge)).first()
    if granted is None:
        if row is not None:
            session.delete(row)
        summary = f"withdrew the decision on badge '{badge}' of #{submission.number}"
    else:
        if row is None:
            row = BadgeOverride(submission_id=submission.id, badge=badge, granted=granted, reason=reason)
        row.granted, row.reason, row.decided_by, row.decided_at = granted, reason, actor.id, utcnow()
        session.add(row)
        earned = badge in earned_badges(session, submission)
        verb = "confirmed" if granted == earned else ("awarded" if granted else "withdrew")
        summary = f"{verb} badge '{badge}' of #{submission.number}: {reason}"
    session.flush()
    audit.record(session, venue_id=venue.id, actor=actor, action="badge.decide", summary=summary,
                 submission_id=submission.id, badge=badge, granted=granted, reason=reason or None)
    return next(b for b in effective_badges(session, submission) if b["badge"] == badge)
