"""A mail's text: templates/emails/<kind>.txt rendered with the row's context, and the pieces events put in it."""

from __future__ import annotations

from datetime import datetime

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from app.models import User, Venue
from app.services.deadlines import format_in
from app.settings import ROOT, Settings

_env = Environment(loader=FileSystemLoader(str(ROOT / "templates" / "emails")), autoescape=False,
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render(kind: str, context: dict, settings: Settings) -> tuple[str, str]:
    """(subject, body) of a mail: templates/emails/<kind>.txt, whose first line is `Subject: …`."""
    text = _env.get_template(f"{kind}.txt").render(**context, base_url=settings.base_url.rstrip("/"))
    first, _, body = text.partition("\n")
    if not first.startswith("Subject:"):
        raise ValueError(f"templates/emails/{kind}.txt must start with a 'Subject:' line")
    subject = " ".join(first[len("Subject:"):].split())  # one line, whatever a title holds
    return subject[:300], body.lstrip("\n")


def when(moment: datetime | None, venue: Venue, user: User) -> str | None:
    """A deadline in the venue's zone, and in the person's own zone when they set a different one."""
    if moment is None:
        return None
    text = format_in(moment, venue.timezone)
    if user.timezone and user.timezone != venue.timezone:
        text += f" ({format_in(moment, user.timezone)} your time)"
    return text


def venue_context(venue: Venue) -> dict:
    """What every mail about a venue names it by."""
    return {"venue_title": venue.title, "venue_slug": venue.slug}
