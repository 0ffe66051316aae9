"""Mail delivery: sends what committed to the outbox (app.services.notifications), and owns the sessions and
commits of the sending bookkeeping.

A service that writes a `SentNotification` row records `after_commit(session, "mail")` (app.outbox). Once
that transaction commits, `_committed` below decides how the mail goes out:

- in a web request (`DeliverAfterResponse`, which app.main adds): after the response is sent, so a request
  never waits for SMTP (a TestClient call returns once it is sent);
- elsewhere (a background job, the CLI): right after the commit, in the committing thread, with the settings
  of the enclosing `delivering(settings)` block (which also reports what was sent), else `get_settings()`;
- either way with Redis configured: as the background job `deliver_mail` on the server-side queue
  (app.jobs.background), sent here instead when Redis cannot be reached.

A rollback drops the record, so nothing is sent. A session joined to an enclosing transaction (a test's)
has its mail sent inside that transaction, since nobody outside could see the rows; that happens in a request
or a `delivering` block, while a test's own commits outside both send nothing (the test sends itself).

Sending claims rows, renders and sends each with no transaction open while the SMTP server answers, and
records the outcome, each step in a short session of its own. A failure stays in the outbox:
`reproreview notify send` (`deliver_pending(retry_failed=True)`) retries it.
"""

from __future__ import annotations

import contextvars
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from app import outbox
from app.db import begin_write
from app.jobs import background
from app.models.base import utcnow
from app.services.mail import send_mail
from app.services.notifications import outbox as rows
from app.services.notifications.render import render
from app.settings import Settings, get_settings

__all__ = ["DeliverAfterResponse", "DeliveryReport", "claim", "deliver_pending", "delivering", "open_session",
           "send_committed"]

log = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    handed_on: int = 0  # deliveries handed to the server-side queue (Redis) instead of sent here


def open_session(bind: Engine | Connection) -> Session:
    """A session on an engine, or inside a connection's transaction (tests) as savepoints."""
    if isinstance(bind, Connection):
        return Session(bind=bind, join_transaction_mode="create_savepoint", expire_on_commit=False)
    return Session(bind, expire_on_commit=False)


# --- sending ----------------------------------------------------------------------------------------------------


def claim(bind: Engine | Connection, *, retry_failed: bool = False, limit: int = rows.BATCH,
          started: datetime | None = None) -> tuple[str, list[int]]:
    """Take up to `limit` rows for this sender, in a transaction of their own: (the sender's token, the ids)."""
    token, now = uuid.uuid4().hex, utcnow()
    retry_before = (started or now) if retry_failed else None  # a failure of this very run waits for the next
    with open_session(bind) as s:
        begin_write(s)
        mine = rows.claim(s, token, now=now, retry_failed_before=retry_before, limit=limit)
        s.commit()
    return token, mine


def deliver_pending(settings: Settings, bind: Engine | Connection, *, retry_failed: bool = False,
                    limit: int = rows.BATCH, report: DeliveryReport | None = None) -> DeliveryReport:
    """Send the committed, unsent mails (and, for `notify send`, retry failed ones), batch after batch."""
    report, started = report if report is not None else DeliveryReport(), utcnow()
    while True:
        token, ids = claim(bind, retry_failed=retry_failed, limit=limit, started=started)
        if not ids:
            return report
        _send_claimed(settings, bind, token, ids, report)


def _send_claimed(settings: Settings, bind: Engine | Connection, token: str, ids: list[int],
                  report: DeliveryReport) -> None:
    for row_id in ids:
        with open_session(bind) as s:
            to, kind, context = rows.message(s, row_id)
            s.rollback()  # hold no transaction (nor SQLite's lock) while the SMTP server answers
        error, subject, body = None, "", ""
        try:
            subject, body = render(kind, context, settings)
            send_mail(settings, to, subject, body)
        except Exception as exc:  # noqa: BLE001 — any failure is recorded on the row and retried later
            error = f"{type(exc).__name__}: {exc}"[:1000]
        with open_session(bind) as s:
            begin_write(s)
            if error:
                rows.mark_failed(s, row_id, token, error)
            else:
                rows.mark_sent(s, row_id, token, subject, body)
            s.commit()
        if error:
            report.failed += 1
            report.errors.append(f"mail {row_id} to {to}: {error}")
            log.warning("mail %s to %s failed: %s", row_id, to, error)
        else:
            report.sent += 1


@background.job("deliver_mail")
def deliver_mail(ctx: dict[str, Any]) -> DeliveryReport:
    """The background job: send what is pending (a commit elsewhere queued it)."""
    return deliver_pending(ctx["settings"], ctx["engine"])


def send_committed(settings: Settings, bind: Engine | Connection, report: DeliveryReport) -> None:
    """Hand committed mail on: to the server-side queue when Redis is configured, else send it here and now."""
    if settings.redis_url and not outbox.is_outer_transaction(bind):  # a worker could not see a test's rows
        engine = bind if isinstance(bind, Engine) else bind.engine
        try:
            background.submit(settings, engine, "deliver_mail")
        except Exception:  # noqa: BLE001 — the rows are committed: send them from here rather than wait
            log.warning("could not queue mail delivery on Redis; sending it from this process", exc_info=True)
        else:
            report.handed_on += 1
            return
    deliver_pending(settings, bind, report=report)


# --- when committed mail goes out ---------------------------------------------------------------------------


@dataclass
class _Scope:
    """Where the committing code runs: a request (send after its response) or a `delivering` block."""

    settings: Settings
    after_response: bool = False
    closed: bool = False
    binds: list[Engine | Connection] = field(default_factory=list)
    report: DeliveryReport = field(default_factory=DeliveryReport)


# One mutable _Scope per request or block: a request's sync code runs in worker threads that get a copy of
# this context, so the handler records into the shared object rather than setting the variable.
_scope: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar("reproreview_mail_scope", default=None)


@contextmanager
def delivering(settings: Settings) -> Iterator[DeliveryReport]:
    """Within this block, mail is sent right after each commit with these settings (or handed to Redis);
    yields the report of what was sent."""
    scope = _Scope(settings)
    token = _scope.set(scope)
    try:
        yield scope.report
    finally:
        _scope.reset(token)


@outbox.handler("mail")
def _committed(bind: Engine | Connection, _payloads: list[dict[str, Any]]) -> None:
    scope = _scope.get()
    if scope is not None and scope.closed:
        scope = None  # a request that has finished: whatever still commits under it is on its own
    if scope is not None and scope.after_response:
        if not any(b is bind for b in scope.binds):
            scope.binds.append(bind)
        return
    if scope is None:
        if outbox.is_outer_transaction(bind):
            return  # a test's own commit outside any boundary: nothing is visible yet; the test sends itself
        send_committed(get_settings(), bind, DeliveryReport())
        return
    send_committed(scope.settings, bind, scope.report)


class DeliverAfterResponse:
    """ASGI middleware: after the response is sent, hand on the mail this request committed.

    A rolled-back request recorded nothing (app.outbox drops it), so it sends nothing. Failures stay in the
    outbox for `reproreview notify send`. Nothing is kept in the process beyond the request.
    """

    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        box = _Scope(scope["app"].state.settings, after_response=True)
        token = _scope.set(box)
        try:
            await self.app(scope, receive, send)
        finally:
            box.closed = True
            _scope.reset(token)
            for bind in box.binds:
                try:
                    await anyio.to_thread.run_sync(send_committed, box.settings, bind, DeliveryReport())
                except Exception:  # noqa: BLE001 — the response is out; the rows wait for `notify send`
                    log.exception("sending the mail a request committed failed")
