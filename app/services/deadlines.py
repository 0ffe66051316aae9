"""Deadlines: timezone handling and the one place that computes a group's effective deadline."""

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import or_
from sqlmodel import Session, col, select

from app.errors import BadInput
from app.models import Deadline, DeadlineKind, Extension, ExtensionStatus, Venue


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def check_timezone(name: str) -> str:
    name = name.strip()
    if name not in available_timezones():
        raise BadInput(f"'{name[:64]}' is not a time zone name such as Europe/London or America/New_York.")
    return name


def parse_local(value: str, tz_name: str) -> datetime:
    """A datetime from a form or API: ISO 8601 with an offset, or naive local time in tz_name."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadInput(f"'{value[:40]}' is not a date and time (use YYYY-MM-DDTHH:MM).") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone(tz_name))
    return parsed.astimezone(UTC)


def venue_deadlines(session: Session, venue: Venue) -> dict[str, datetime]:
    rows = session.exec(select(Deadline).where(Deadline.venue_id == venue.id)).all()
    return {row.kind: row.due_at for row in rows}


def granted_extension(session: Session, group_id: int | None, kind: str,
                      member_id: int | None = None) -> Extension | None:
    """The latest granted extension of `kind` for the group (a group's request) or for the member (a reviewer's
    own request of the review deadline)."""
    whose = []
    if group_id is not None:
        whose.append((col(Extension.group_id) == group_id) & col(Extension.member_id).is_(None))
    if member_id is not None:
        whose.append(col(Extension.member_id) == member_id)
    if not whose:
        return None
    return session.exec(
        select(Extension).where(or_(*whose), Extension.kind == kind,
                                Extension.status == ExtensionStatus.granted.value)
        .order_by(col(Extension.new_due_at).desc())
    ).first()


@dataclass(frozen=True)
class EffectiveDeadline:
    kind: str
    due_at: datetime | None
    venue_due_at: datetime | None
    extended: bool


def effective_deadline(session: Session, venue: Venue, kind: str | DeadlineKind,
                       group_id: int | None = None, member_id: int | None = None) -> EffectiveDeadline:
    """The deadline that applies to a group (and, given `member_id`, to that member as a reviewer): the venue's,
    or a granted extension's if later. Reviews pass both: a reviewer's own extension and their group's count."""
    kind = str(kind)
    venue_due = venue_deadlines(session, venue).get(kind)
    due = venue_due
    extended = False
    if group_id is not None or member_id is not None:
        ext = granted_extension(session, group_id, kind, member_id)
        if ext is not None and ext.new_due_at and (due is None or ext.new_due_at > due):
            due, extended = ext.new_due_at, True
    return EffectiveDeadline(kind=kind, due_at=due, venue_due_at=venue_due, extended=extended)


def is_past(deadline: EffectiveDeadline, now: datetime | None = None) -> bool:
    return deadline.due_at is not None and (now or datetime.now(UTC)) > deadline.due_at


def format_in(moment: datetime, tz_name: str | None) -> str:
    local = moment.astimezone(zone(tz_name))
    return local.strftime("%a %d %b %Y, %H:%M ") + (local.tzname() or "")
