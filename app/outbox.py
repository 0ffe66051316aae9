"""The one after-commit path: services record what must happen once their transaction commits; one
listener hands it on after the commit and drops it on a rollback (polar's `worker/_enqueue.py`).

A service writes `outbox.after_commit(session, "run", run_id=7, rig_kind="local", ...)` in the same
transaction as the rows it describes. It never commits, never enqueues, never starts a thread. Whoever owns
the effect (a module of `app.jobs`) registers a handler for its kind with `@outbox.handler("run")`; the
listener below calls each handler once per commit with every payload of that kind, in recording order.

The listener runs for every SQLAlchemy session. A commit of a session joined to an outer transaction (a
test's) is no real commit: its handler gets the `Connection` it can tell by (`is_outer_transaction`) and
decides itself (a run is not enqueued, since nobody else could see it; mail may be delivered inside it).
A handler that raises is logged, never raised into the committing code: the commit has happened, and the
committed rows are the truth that the sweeps (`reproreview sweep-runs`, `notify send`) recover from.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction

__all__ = ["after_commit", "handler", "pending", "is_outer_transaction", "Handler"]

log = logging.getLogger(__name__)
_KEY = "reproreview.outbox"

Handler = Callable[[Engine | Connection, list[dict[str, Any]]], None]
_handlers: dict[str, Handler] = {}


def after_commit(session: OrmSession, kind: str, **payload: Any) -> None:
    """Record `kind` with its payload; it is handed on once the session commits, dropped if it rolls back."""
    session.info.setdefault(_KEY, []).append((kind, payload))


def pending(session: OrmSession, kind: str | None = None) -> list[dict[str, Any]]:
    """What the session has recorded and not yet handed on (tests and assertions)."""
    return [p for k, p in session.info.get(_KEY, ()) if kind is None or k == kind]


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that carries out `kind` after a commit: fn(bind, payloads)."""
    def register(fn: Handler) -> Handler:
        _handlers[kind] = fn
        return fn
    return register


def is_outer_transaction(bind: Engine | Connection) -> bool:
    """True when the 'commit' only released a savepoint of an enclosing transaction (nothing is visible yet)."""
    return isinstance(bind, Connection) and bind.in_transaction()


@event.listens_for(OrmSession, "after_commit")
def _flush(session: OrmSession) -> None:
    if session.in_nested_transaction():
        return  # SQLAlchemy calls this for a savepoint's release too, which commits nothing
    recorded = session.info.pop(_KEY, None)
    if not recorded:
        return
    bind = session.get_bind()
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for kind, payload in recorded:
        by_kind.setdefault(kind, []).append(payload)
    for kind, payloads in by_kind.items():
        fn = _handlers.get(kind)
        if fn is None:
            # Nothing in this process carries it out (app.jobs was not imported): the rows are committed and
            # the sweeps pick them up, so warn rather than fail.
            log.warning("no after-commit handler for %r (import app.jobs); %d item(s) left to the sweeps",
                        kind, len(payloads))
            continue
        try:
            fn(bind, payloads)
        except Exception:  # noqa: BLE001 — the commit happened; the sweeps recover from the committed rows
            log.exception("after-commit handler for %r failed", kind)


# A savepoint that rolls back (begin_nested around an insert that may race) drops only what was recorded
# inside it; the transaction's rollback drops everything. Each savepoint remembers how much was recorded
# when it began.
_marks: weakref.WeakKeyDictionary[SessionTransaction, int] = weakref.WeakKeyDictionary()


@event.listens_for(OrmSession, "after_transaction_create")
def _mark(session: OrmSession, transaction: SessionTransaction) -> None:
    if transaction.nested:
        _marks[transaction] = len(session.info.get(_KEY, ()))


@event.listens_for(OrmSession, "after_soft_rollback")
def _drop(session: OrmSession, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.nested:
        mark = _marks.pop(previous_transaction, None)
        if mark is not None and _KEY in session.info:
            del session.info[_KEY][mark:]
        return
    session.info.pop(_KEY, None)
