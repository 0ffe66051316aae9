"""The daily deadline digest as a background job (`reproreview notify digest` calls it from cron; the
server-side worker can run it too): queue the digests in one transaction and commit, which sends them
(app.jobs.mail)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection, Engine

from app.db import begin_write
from app.jobs import background
from app.jobs.mail import DeliveryReport, delivering, open_session
from app.services.notifications import queue_digests
from app.services.venues import get_venue
from app.settings import Settings

__all__ = ["digest", "run_digest"]


@background.job("digest")
def digest(ctx: dict[str, Any], venue_slug: str | None = None,
           now: datetime | None = None) -> tuple[int, DeliveryReport]:
    """The job: (digests queued, what their delivery did)."""
    return run_digest(ctx["settings"], ctx["engine"], venue_slug=venue_slug, now=now)


def run_digest(settings: Settings, bind: Engine | Connection, *, venue_slug: str | None = None,
               now: datetime | None = None) -> tuple[int, DeliveryReport]:
    """Queue today's digests (of one venue, or of every venue with a deadline phase) and commit; the commit
    hands them to mail delivery, whose report comes back with the count."""
    with delivering(settings) as report, open_session(bind) as s:
        begin_write(s)
        venue = get_venue(s, venue_slug) if venue_slug else None
        queued = queue_digests(s, now, venue)
        s.commit()
    return queued, report
