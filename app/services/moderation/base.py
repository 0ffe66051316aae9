"""Moderation's small shared pieces: reasons and numbers as chairs type them, lookups within a venue."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlmodel import Session, select

from app.errors import BadInput, NotFound
from app.models import (
    Member,
    Review,
    ReviewStatus,
    Role,
    Submission,
    Venue,
)

REASON_MIN, REASON_MAX = 3, 2000
STAFF_ROLES = {Role.chair.value, Role.ta.value}


def _reason(text: str | None, what: str = "a reason") -> str:
    text = " ".join((text or "").split())
    if not REASON_MIN <= len(text) <= REASON_MAX:
        raise BadInput(f"Give {what} ({REASON_MIN} to {REASON_MAX} characters): it is kept in the audit log.")
    return text


def _number(value: Any, what: str) -> float:
    if isinstance(value, str):
        value = value.strip()
        try:
            value = float(value)
        except ValueError:
            raise BadInput(f"{what} must be a number (got {value[:20]!r}).") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:  # NaN
        raise BadInput(f"{what} must be a number.")
    return float(value)


# --- lookups --------------------------------------------------------------------------------------------------


def get_submission(session: Session, venue: Venue, number: int) -> Submission:
    sub = session.exec(select(Submission).where(Submission.venue_id == venue.id,
                                                Submission.number == number)).first()
    if sub is None:
        raise NotFound(f"There is no submission #{number} in this venue.")
    return sub


def get_review(session: Session, venue: Venue, review_id: int) -> Review:
    review = session.get(Review, review_id)
    if review is None or review.venue_id != venue.id or review.status != ReviewStatus.submitted.value:
        raise NotFound("There is no such submitted review in this venue.")
    return review


def get_member(session: Session, venue: Venue, member_id: int) -> Member:
    member = session.get(Member, member_id)
    if member is None or member.venue_id != venue.id:
        raise NotFound("There is no such member of this venue.")
    return member


def _fmt(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


def _pct(value: float, low: float, high: float) -> float:
    return (value - low) / (high - low) if high > low else 0.0


def _median(xs: list[float]) -> float | None:
    if not xs:
        return None
    ys = sorted(xs)
    mid = len(ys) // 2
    return ys[mid] if len(ys) % 2 else (ys[mid - 1] + ys[mid]) / 2


def _decimal_plain(d: Decimal) -> float | int:
    return int(d) if d == d.to_integral_value() else float(d)
