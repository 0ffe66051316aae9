"""Database engine, the per-request session, and the boundary helpers routes use instead of commit/rollback."""

import logging
from collections.abc import Iterator
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, create_engine

from app.settings import get_settings

log = logging.getLogger(__name__)


def make_engine(url: str) -> Engine:
    """An engine with the settings each backend needs (SQLite: FKs on, WAL, busy timeout)."""
    if url.startswith("sqlite"):
        kwargs: dict = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs["poolclass"] = StaticPool
        else:
            # SQLite connections are cheap; a request holds one only while it talks to the database.
            kwargs.update(pool_size=50, max_overflow=250, pool_timeout=120)
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            # pysqlite's own transaction handling breaks SAVEPOINTs; let SQLAlchemy emit BEGIN itself.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # noqa: ANN001
            # IMMEDIATE takes the write lock up front (waiting up to busy_timeout), so a writer never fails
            # on a stale read snapshot; see begin_write.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("sqlite_immediate")
                                 else "BEGIN")

        return engine
    # Requests wait for a connection (pool_timeout) rather than fail; 2 processes x 40 stay under max_connections=100.
    return create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=20, pool_timeout=120)


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().resolved_database_url)


def is_busy(exc: BaseException) -> bool:
    """A write that lost a race for a lock and may simply be tried again: SQLite "database is locked" (busy
    timeout spent, or a stale snapshot), PostgreSQL serialization failure, deadlock or lock timeout."""
    if not isinstance(exc, OperationalError):
        return False
    if getattr(exc.orig, "sqlstate", None) in ("40001", "40P01", "55P03"):
        return True
    text = str(exc.orig).lower()
    return "database is locked" in text or "database table is locked" in text


def refused_value(exc: BaseException) -> str | None:
    """The reason a database refused a value from the input (None: some other error): a number beyond 64 bits,
    text with a NUL byte."""
    text = str(getattr(exc, "orig", exc)).lower()
    if isinstance(exc, OverflowError) and ("too large" in text or "int" in text):
        return "A number in the request is too large (the most is 9223372036854775807)."
    if isinstance(exc, DataError):
        if "nul (0x00)" in text:
            return "Text in the request may not contain NUL (0x00) characters."
        if "out of range" in text:
            return "A number in the request is out of range."
    return None


def begin_write(session: Session) -> None:
    """Start the session's next transaction as a writer (SQLite: BEGIN IMMEDIATE; elsewhere a no-op).

    Call it right after a commit, before a short transaction that reads and then writes.
    """
    if session.get_bind().dialect.name == "sqlite" and not session.in_transaction():
        session.connection(execution_options={"sqlite_immediate": True})


def begin_read(session: Session) -> None:
    """Start the session's next transaction as a plain reader even in a writing request (SQLite: BEGIN, not
    IMMEDIATE), for a long read that holds no lock (a solve's planning); `start_write` before its write."""
    if session.get_bind().dialect.name == "sqlite" and not session.in_transaction():
        session.connection(execution_options={"sqlite_immediate": False})


def release(session: Session) -> None:
    """End the request's transaction now, before a long wait that needs no database (streaming a file, reading a
    snapshot, checking an upload, waiting for a worker thread): the connection goes back to the pool and the next
    statement starts on a fresh snapshot. What the request wrote so far (a rig's last-seen mark) is kept; the
    request boundary still commits the rest once."""
    session.commit()


def start_write(session: Session) -> None:
    """End the read part of a request and start its write as a writer (SQLite: BEGIN IMMEDIATE, which waits its
    turn), so that a read snapshot another save made stale never becomes a write ("database is locked")."""
    release(session)
    begin_write(session)


def discard(session: Session) -> None:
    """Drop what a refused change did so far (a page that catches a DomainError to show it in place, or an
    import that reports its problems): nothing half-done reaches the request's commit."""
    session.rollback()


def defer_write(request: Request, write) -> None:  # noqa: ANN001
    """Run `write(session)` just before the request commits (bookkeeping that must not lock early)."""
    if not hasattr(request.state, "deferred_writes"):
        request.state.deferred_writes = []
    request.state.deferred_writes.append(write)


def finish_request(request: Request, session: Session) -> None:
    """The request boundary: one commit, then the deferred bookkeeping in a short writer transaction of its own
    (a GET's read snapshot would otherwise be upgraded to a write, which SQLite may refuse at once). Bookkeeping
    that finds the database busy is dropped with a warning: the request's own work is committed already."""
    deferred = getattr(request.state, "deferred_writes", ())
    session.commit()
    if not deferred:
        return
    try:
        begin_write(session)
        for write in deferred:
            write(session)
        session.commit()
    except OperationalError as exc:
        if not is_busy(exc):
            raise
        session.rollback()
        log.warning("deferred bookkeeping dropped, the database is busy: %s", exc)


@lru_cache(maxsize=8)
def writer_engine(engine: Engine) -> Engine:
    """The engine whose every transaction begins as a writer (SQLite: BEGIN IMMEDIATE), same pool."""
    return engine.execution_options(sqlite_immediate=True)


def plain_engine(engine: Engine) -> Engine:
    """The engine without `writer_engine`'s option, for work that outlives the request that started it (a
    background thread's solve or run): its long reads must not hold SQLite's write lock; it writes through
    `begin_write` like any other code."""
    if engine.get_execution_options().get("sqlite_immediate"):
        return engine.execution_options(sqlite_immediate=False)
    return engine


def request_engine(request: Request) -> Engine:
    """The engine a request's session uses. On SQLite a request that may write (POST, PUT, PATCH, DELETE)
    starts every transaction as a writer: it waits its turn (busy timeout) instead of reading first and then
    failing at once with "database is locked" when its read snapshot went stale before its first write (a
    read upgraded to a write is not covered by the busy timeout). Slow steps end the transaction first
    (`release`), so they hold no lock; GETs read as before."""
    engine = request.app.state.engine
    if request.method not in ("GET", "HEAD", "OPTIONS") and engine.dialect.name == "sqlite":
        return writer_engine(engine)
    return engine


def get_session(request: Request) -> Iterator[Session]:
    """One session per request on the app's engine; the request boundary commits once, errors roll back."""
    with Session(request_engine(request), expire_on_commit=False) as session:
        session.info["settings"] = request.app.state.settings  # for services' after-commit jobs (embed_later)
        try:
            yield session
            finish_request(request, session)
        except Exception:
            session.rollback()
            raise


# scope="function": the request commits BEFORE the response is sent (the default "request" scope runs the code
# after `yield` once the client already has its answer, so a client could act on a change not yet committed).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
