"""ACM artifact badges (v1.1) earned by one run: available, functional, reproduced."""

from __future__ import annotations

from collections.abc import Sequence

from app.artifacts.checks import Check

__all__ = ["AVAILABLE", "FUNCTIONAL", "REPRODUCED", "BADGES", "award_badges"]

AVAILABLE = "available"
FUNCTIONAL = "functional"
REPRODUCED = "reproduced"
BADGES = (AVAILABLE, FUNCTIONAL, REPRODUCED)


def award_badges(*, snapshot_stored: bool, experiments_functional: bool, checks: Sequence[Check]) -> list[str]:
    """Badges in canonical order.

    available: the code snapshot is stored; functional: every experiment exited 0 and wrote
    its metrics; reproduced: functional and every claim (at least one) within tolerance.
    """
    badges = []
    if snapshot_stored:
        badges.append(AVAILABLE)
    if experiments_functional:
        badges.append(FUNCTIONAL)
        if checks and all(c.passed for c in checks):
            badges.append(REPRODUCED)
    return badges


# ---- a submission's badges: earned by its runs, confirmed or overridden by a chair -------------------

LABELS = {AVAILABLE: "Artifacts Available", FUNCTIONAL: "Artifacts Evaluated — Functional",
          REPRODUCED: "Results Reproduced"}


def earned_badges(session, submission) -> set[str]:  # noqa: ANN001
    """Available once a snapshot of the current artifact is stored; functional / reproduced when one of
    its finished runs earned them (the server recomputed those when the result arrived)."""
    from sqlmodel import select

    from app.models.run import Run, RunStatus
    from app.services.submissions import current_artifact

    artifact = current_artifact(session, submission)
    if artifact is None:
        return set()
    earned = {AVAILABLE}
    for badges in session.exec(select(Run.badges).where(
            Run.artifact_id == artifact.id, Run.status.in_([RunStatus.passed.value, RunStatus.failed.value]))).all():
        earned |= {b for b in badges or [] if b in BADGES}
    return earned


def effective_badges(session, submission) -> list[dict]:  # noqa: ANN001
    """Each badge: what the runs earned, the chair's decision if any, and what counts (`granted`)."""
    from sqlmodel import select

    from app.models.claim import BadgeOverride

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


def granted_badges(session, submission) -> list[str]:  # noqa: ANN001
    """The badges that count (shown on the submission and in exports), in canonical order."""
    return [b["badge"] for b in effective_badges(session, submission) if b["granted"]]


def decide_badge(session, actor, venue, submission, badge: str, *, granted: bool | None,  # noqa: ANN001
                 reason: str) -> dict:
    """A chair confirms (granted = what was earned) or overrides a badge, with a reason; granted=None
    withdraws the decision so the runs decide again. Audited."""
    from sqlmodel import select

    from app.errors import BadInput
    from app.models.base import utcnow
    from app.models.claim import BadgeOverride
    from app.services import audit

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
