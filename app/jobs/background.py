"""Background jobs of the service (not rig jobs): an arq function on the server-side queue when Redis is
configured, so a job survives an API restart and any API process or `reproreview worker --server` takes it;
a daemon thread of this process when it is not (the embedded default).

A job is a plain function `fn(ctx, *args)` registered with `@background.job("name")`: `ctx` holds
`settings` and `engine` (the worker's or this process's). `submit(settings, engine, "name", *args,
job_id=...)` starts it; an arq job id makes a second submit of the same work a no-op.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

from app.db import plain_engine
from app.settings import Settings
from runners.queues import queue_name

__all__ = ["SERVER_QUEUE", "job", "jobs", "submit", "run_coroutine"]

log = logging.getLogger(__name__)
SERVER_QUEUE = queue_name("server")  # beside the rig queues, reproreview:<rig kind>; no rig kind is called "server"

_jobs: dict[str, Callable[..., Any]] = {}


def job(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a background job under `name` (the arq function name on the server-side queue)."""
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        _jobs[name] = fn
        return fn
    return register


def jobs() -> dict[str, Callable[..., Any]]:
    """Every registered job, name -> function (the server-side worker serves them all)."""
    return dict(_jobs)


def submit(settings: Settings, engine: Engine, name: str, *args: Any, job_id: str | None = None) -> None:
    """Start job `name`: on Redis when configured (raises if Redis cannot be reached: the caller decides
    whether the committed rows wait for a sweep), else in a daemon thread of this process."""
    if name not in _jobs:
        raise KeyError(f"no background job called {name!r}")
    if settings.redis_url:
        run_coroutine(_enqueue(settings.redis_url, name, args, job_id))
        return

    # a request's writer engine (SQLite: every transaction BEGIN IMMEDIATE) would make the job's long read a
    # writer holding the lock that its own progress reports then wait for
    engine = plain_engine(engine)

    def target() -> None:
        try:
            _jobs[name]({"settings": settings, "engine": engine}, *args)
        except Exception:  # noqa: BLE001 — a daemon thread has nobody to raise to
            log.exception("background job %s%r failed", name, args)

    threading.Thread(target=target, name=f"job-{name}", daemon=True).start()


async def _enqueue(redis_url: str, name: str, args: tuple, job_id: str | None) -> None:
    from arq import create_pool
    from arq.connections import RedisSettings

    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        await pool.enqueue_job(name, *args, _queue_name=SERVER_QUEUE, _job_id=job_id)
    finally:
        await pool.aclose()


def run_coroutine(coro) -> None:  # noqa: ANN001
    """Run a coroutine from sync code, also when called from inside an event loop (then in a thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro)
        return
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if errors:
        raise errors[0]
