"""Calibration items (a submission with a reference mark) and reviewers excluded from the calibration."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from app.errors import BadInput, Conflict, NotFound
from app.models import (
    CalibrationExclusion,
    CalibrationItem,
    Member,
    Submission,
    User,
    Venue,
)
from app.services import audit
from app.services.moderation.base import _number, _reason
from app.services.moderation.data import score_fields
from app.services.moderation.scheme import scheme_config
from app.services.review_forms import get_fields

# --- calibration items and exclusions ---------------------------------------------------------------------------


def calibration_items(session: Session, venue: Venue) -> list[tuple[CalibrationItem, Submission]]:
    return list(session.exec(select(CalibrationItem, Submission)
                             .join(Submission, col(Submission.id) == CalibrationItem.submission_id)
                             .where(CalibrationItem.venue_id == venue.id).order_by(col(Submission.number))).all())


def _overall_field(session: Session, venue: Venue, config: dict | None = None) -> dict:
    """The score field the calibration works on (the scheme's `calibrate_on`, else `overall`, else the first)."""
    fields = score_fields(get_fields(session, venue))
    if not fields:
        raise Conflict("The review form has no score field: there is nothing to calibrate.")
    wanted = ((config or {}).get("group_fields") or ["overall"])[0]
    return next((f for f in fields if f["id"] == wanted), fields[0])


def set_calibration_item(session: Session, actor: User, venue: Venue, submission: Submission, reference: Any,
                         note: str = "") -> CalibrationItem:
    """Mark a submission as a calibration item with its reference mark on the calibrated field's scale."""
    target = _overall_field(session, venue, scheme_config(session, venue))
    value = _number(reference, "The reference mark")
    if not target["low"] <= value <= target["high"]:
        raise BadInput(f"The reference mark {value:g} is outside the scale of '{target['label']}' "
                       f"({target['low']}–{target['high']}).")
    note = " ".join((note or "").split())[:1000]
    row = session.exec(select(CalibrationItem).where(CalibrationItem.submission_id == submission.id)).first()
    if row is None:
        row = CalibrationItem(venue_id=venue.id, submission_id=submission.id, reference=value, note=note,
                              created_by=actor.id)
    else:
        row.reference, row.note = value, note
    session.add(row)
    session.flush()
    audit.record(session, venue_id=venue.id, actor=actor, action="calibration.item",
                 summary=f"#{submission.number} is a calibration item (reference {value:g})",
                 submission=submission.number, reference=value)
    return row


def remove_calibration_item(session: Session, actor: User, venue: Venue, submission: Submission) -> None:
    row = session.exec(select(CalibrationItem).where(CalibrationItem.submission_id == submission.id)).first()
    if row is None:
        raise NotFound(f"#{submission.number} is not a calibration item.")
    session.delete(row)
    session.flush()
    audit.record(session, venue_id=venue.id, actor=actor, action="calibration.item_remove",
                 summary=f"#{submission.number} is no longer a calibration item", submission=submission.number)


def set_exclusion(session: Session, actor: User, venue: Venue, member: Member, excluded: bool,
                  reason: str = "") -> CalibrationExclusion | None:
    """Leave a reviewer's scores out of the calibration (or take them back in), with a reason."""
    row = session.exec(select(CalibrationExclusion).where(CalibrationExclusion.venue_id == venue.id,
                                                          CalibrationExclusion.member_id == member.id)).first()
    if excluded:
        reason = _reason(reason, "a reason for excluding this reviewer")
        if row is None:
            row = CalibrationExclusion(venue_id=venue.id, member_id=member.id, reason=reason, created_by=actor.id)
        else:
            row.reason = reason
        session.add(row)
        session.flush()
        summary = f"reviewer {member.id} excluded from calibration: {reason}"
    else:
        if row is None:
            raise Conflict("This reviewer is not excluded from calibration.")
        session.delete(row)
        session.flush()
        row, summary = None, f"reviewer {member.id} counted in calibration again"
    audit.record(session, venue_id=venue.id, actor=actor, action="calibration.exclude",
                 summary=summary, member_id=member.id, excluded=excluded, reason=reason or None)
    return row
