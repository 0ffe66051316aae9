"""The .ics feed of a person's deadlines: a signed calendar URL (the URL is the credential, since a calendar
app cannot sign in), the events it lists, and RFC 5545 text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeSerializer
from sqlmodel import Session, col, select

from app.models import Member, Role, User, Venue
from app.models.base import utcnow
from app.security.tokens import password_fingerprint
from app.services.deadlines import effective_deadline, format_in, venue_deadlines
from app.settings import Settings


def _calendar_serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt="calendar-feed")


def make_calendar_token(settings: Settings, user: User) -> str:
    """A URL-safe, signed token naming the user; it dies when their password changes (or they sign out everywhere)."""
    return _calendar_serializer(settings.resolved_secret_key).dumps(
        {"u": user.id, "p": password_fingerprint(user.password_hash), "e": user.session_epoch})


def user_from_calendar_token(session: Session, settings: Settings, token: str) -> User | None:
    try:
        data = _calendar_serializer(settings.resolved_secret_key).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = session.get(User, data["u"])
    if user is None or data.get("p") != password_fingerprint(user.password_hash) \
            or data.get("e") != user.session_epoch:
        return None
    return user


def calendar_url(settings: Settings, user: User) -> str:
    return f"{settings.base_url.rstrip('/')}/calendar/{make_calendar_token(settings, user)}.ics"


@dataclass
class CalendarEvent:
    uid: str
    due_at: datetime
    summary: str
    description: str
    url: str


KIND_TITLES = {"submission": "Submission deadline", "review": "Review deadline", "response": "Response deadline",
               "bidding": "Bidding deadline", "discussion": "Discussion ends"}


def calendar_events(session: Session, settings: Settings, user: User) -> list[CalendarEvent]:
    """The person's deadlines in every venue they belong to: chairs and TAs see the venue's; authors their
    group's submission and response deadlines (with extensions); reviewers the review deadline."""
    host = urlsplit(settings.base_url).hostname or "reproreview"
    base = settings.base_url.rstrip("/")
    rows = session.exec(select(Venue, Member).join(Member, col(Member.venue_id) == Venue.id)
                        .where(Member.user_id == user.id).order_by(col(Venue.id))).all()
    events = []
    for venue, member in rows:
        if member.role in (Role.chair.value, Role.ta.value):
            wanted = [(k, effective_deadline(session, venue, k, None)) for k in venue_deadlines(session, venue)]
        else:
            kinds = (["submission", "response"] if member.group_id is not None else []) + ["review"]
            wanted = [(k, effective_deadline(session, venue, k, member.group_id, member.id)) for k in kinds]
        for kind, due in wanted:
            if due.due_at is None:
                continue
            title = KIND_TITLES.get(kind, f"{kind.capitalize()} deadline")
            note = " (extended for your group)" if due.extended else ""
            events.append(CalendarEvent(
                uid=f"reproreview-{venue.id}-{kind}-{user.id}@{host}", due_at=due.due_at,
                summary=f"{title}: {venue.title}",
                description=f"{title} of {venue.title}{note}: {format_in(due.due_at, venue.timezone)}.\n"
                            f"{base}/venues/{venue.slug}",
                url=f"{base}/venues/{venue.slug}"))
    return events


def ics_escape(text: str) -> str:
    """RFC 5545 TEXT: backslash, semicolon, comma and newlines escaped."""
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n"))


def ics_fold(line: str) -> str:
    """Fold a content line at 75 octets (continuations start with a space), never inside a UTF-8 character."""
    data = line.encode()
    if len(data) <= 75:
        return line
    parts, start, limit = [], 0, 75
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # do not cut a multi-byte character
            end -= 1
        parts.append(data[start:end].decode())
        start, limit = end, 74  # the leading space counts
    return "\r\n ".join(parts)


def _ics_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar_ics(events: list[CalendarEvent], user_label: str, now: datetime | None = None) -> str:
    """A VCALENDAR (RFC 5545): CRLF line ends, folded lines, escaped text, times in UTC."""
    stamp = _ics_time(now or utcnow())
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//ReproReview//Deadlines//EN", "CALSCALE:GREGORIAN",
             "METHOD:PUBLISH", f"X-WR-CALNAME:{ics_escape(f'ReproReview deadlines ({user_label})')}"]
    for e in sorted(events, key=lambda e: (e.due_at, e.uid)):
        lines += ["BEGIN:VEVENT", f"UID:{e.uid}", f"DTSTAMP:{stamp}", f"DTSTART:{_ics_time(e.due_at)}",
                  f"SUMMARY:{ics_escape(e.summary)}",
                  f"DESCRIPTION:{ics_escape(e.description)}", f"URL:{e.url}", "TRANSP:TRANSPARENT",
                  "BEGIN:VALARM", "ACTION:DISPLAY", f"DESCRIPTION:{ics_escape(e.summary)}", "TRIGGER:-PT24H",
                  "END:VALARM", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "".join(ics_fold(line) + "\r\n" for line in lines)


def calendar_for_token(session: Session, settings: Settings, token: str) -> str | None:
    """The feed for a calendar URL, or None when the token is forged or outdated."""
    user = user_from_calendar_token(session, settings, token)
    if user is None:
        return None
    return calendar_ics(calendar_events(session, settings, user), user.full_name)
