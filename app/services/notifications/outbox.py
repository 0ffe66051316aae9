"""The outbox rows (`SentNotification`): queueing a mail in the event's transaction, and the bookkeeping of
sending it — which rows a sender may claim, claiming them, marking one sent or failed.

Every function takes the caller's session and never commits. Who owns the sessions and commits, and decides
when committed mail goes out, is app.jobs.mail: `enqueue` records `after_commit(session, "mail")`, so the
mail is handed on only once the transaction that wrote the row commits, and never when it rolls back.
A claim is an `UPDATE … WHERE <still claimable>`, so two senders never send one row twice; the unique `key`
keeps a re-run (or a second process) from queueing the same mail twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.models import SentNotification, User, Venue
from app.models.base import utcnow
from app.models.review import NotificationStatus
from app.outbox import after_commit

MAX_ATTEMPTS = 10            # `notify send` stops retrying a mail after this many failed attempts
STALE_CLAIM = timedelta(minutes=15)  # a claim this old belongs to a sender that died: take it over
BATCH = 500


def would_enqueue(session: Session, key: str) -> bool:
    """Whether `enqueue` with this key would queue a mail now (no mail with the key exists)."""
    return session.exec(select(SentNotification.id).where(SentNotification.key == key[:200])).first() is None


def enqueue(session: Session, *, key: str, user: User, kind: str, venue: Venue | None, context: dict) -> bool:
    """Queue one mail in the caller's transaction; False when a mail with this key exists already."""
    key = key[:200]
    if session.exec(select(SentNotification.id).where(SentNotification.key == key)).first() is not None:
        return False
    try:
        with session.begin_nested():  # another process may queue the same key at the same moment
            session.add(SentNotification(key=key, user_id=user.id, venue_id=venue.id if venue else None,
                                         kind=kind, to_email=user.email, context=context))
    except IntegrityError:
        return False
    after_commit(session, "mail", key=key)
    return True


def claimable(now: datetime, retry_failed_before: datetime | None):  # noqa: ANN201
    """Pending rows; failed ones last tried before `retry_failed_before`; claims abandoned by a dead sender."""
    ready = col(SentNotification.status) == NotificationStatus.pending.value
    if retry_failed_before is not None:
        ready = or_(ready, and_(col(SentNotification.status) == NotificationStatus.failed.value,
                                col(SentNotification.claimed_at) < retry_failed_before))
    return or_(and_(ready, col(SentNotification.attempts) < MAX_ATTEMPTS),
               and_(col(SentNotification.status) == NotificationStatus.sending.value,
                    col(SentNotification.claimed_at) < now - STALE_CLAIM))


def claim(session: Session, token: str, *, now: datetime, retry_failed_before: datetime | None = None,
          limit: int = BATCH) -> list[int]:
    """Mark up to `limit` claimable rows as the sender `token`'s; the ids it won (each by an UPDATE that only a
    still-unclaimed row matches)."""
    # SKIP LOCKED (PostgreSQL; SQLite has one writer anyway) lets a second sender take the next rows instead of
    # queueing behind the first; the UPDATE's WHERE is what makes a claim exclusive.
    ids = session.exec(select(SentNotification.id).where(claimable(now, retry_failed_before))
                       .order_by(col(SentNotification.id)).limit(limit).with_for_update(skip_locked=True)).all()
    mine = []
    for row_id in ids:
        done = session.execute(update(SentNotification)
                               .where(col(SentNotification.id) == row_id, claimable(now, retry_failed_before))
                               .values(status=NotificationStatus.sending.value, claim=token, claimed_at=now,
                                       attempts=SentNotification.attempts + 1)
                               .execution_options(synchronize_session=False))
        if done.rowcount == 1:
            mine.append(row_id)
    return mine


def message(session: Session, row_id: int) -> tuple[str, str, dict]:
    """(to, kind, context) of a queued mail."""
    row = session.get(SentNotification, row_id)
    return row.to_email, row.kind, dict(row.context)


def mark_sent(session: Session, row_id: int, token: str, subject: str, body: str) -> None:
    """Record a delivery (if `token` still holds the claim)."""
    _finish(session, row_id, token, status=NotificationStatus.sent.value, error=None, sent_at=utcnow(),
            subject=subject[:300], body=body)


def mark_failed(session: Session, row_id: int, token: str, error: str) -> None:
    """Record a failed attempt; `notify send` retries it later."""
    _finish(session, row_id, token, status=NotificationStatus.failed.value, error=error[:1000])


def _finish(session: Session, row_id: int, token: str, **values: object) -> None:
    session.execute(update(SentNotification).where(col(SentNotification.id) == row_id,
                                                   col(SentNotification.claim) == token)
                    .values(**values).execution_options(synchronize_session=False))
