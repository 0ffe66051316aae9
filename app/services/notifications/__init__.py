"""Notifications, by concern: who gets which mail (recipients), the outbox rows and their sending bookkeeping
(outbox), mail text (render), the daily digest (digest), the .ics feed (calendar) and the per-person switches
(preferences).

Every mail is first a `SentNotification` row written in the same transaction as the event (a comment, an
assignment, a phase change, the daily digest); `enqueue` records `after_commit(session, "mail")`, and
app.jobs.mail sends committed rows (after the response in a request, right after the commit elsewhere, on the
server-side queue when Redis is set). Nothing here commits or sends. This module re-exports what callers use.
"""

from app.services.notifications.calendar import (
    KIND_TITLES,
    CalendarEvent,
    calendar_events,
    calendar_for_token,
    calendar_ics,
    calendar_url,
    ics_escape,
    ics_fold,
    make_calendar_token,
    user_from_calendar_token,
)
from app.services.notifications.digest import DIGEST_WINDOW, DigestItem, digest_items, queue_digests
from app.services.notifications.outbox import enqueue
from app.services.notifications.preferences import FLAGS, account_context, get_settings_for, set_settings_for
from app.services.notifications.recipients import assignments_changed, comment_posted, marks_released, phase_changed
from app.services.notifications.render import render

__all__ = [
    "DIGEST_WINDOW", "FLAGS", "KIND_TITLES", "CalendarEvent", "DigestItem", "account_context",
    "assignments_changed", "calendar_events", "calendar_for_token", "calendar_ics", "calendar_url",
    "comment_posted", "digest_items", "enqueue", "get_settings_for", "ics_escape", "ics_fold",
    "make_calendar_token", "marks_released", "phase_changed", "queue_digests", "render", "set_settings_for",
    "user_from_calendar_token",
]

