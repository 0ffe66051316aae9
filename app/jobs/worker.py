"""The server-side arq worker: serves every background job (`app.jobs.background.jobs()`: assignment solves,
and whatever else registers) on the queue `background.SERVER_QUEUE`.

Start one or more beside the API when Redis is configured: `reproreview worker --server [--burst]`, with the
app's settings (REPROREVIEW_DATABASE_URL, REPROREVIEW_REDIS_URL, REPROREVIEW_DATA_DIR, …); or with arq itself:
`arq app.jobs.worker.WorkerSettings`. Unlike a rig worker it works on the database directly, so it runs
where the API runs, not on a rig. Jobs are sync functions `fn(ctx, *args)`: each runs in a thread.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from arq import func
from arq.connections import RedisSettings
from arq.worker import Function, Worker

import app.jobs  # noqa: F401 — registers every background job and after-commit handler
from app.db import make_engine
from app.jobs import background
from app.settings import Settings, get_settings

log = logging.getLogger("reproreview.worker.server")
JOB_TIMEOUT_S = 2 * 3600  # a whole venue's embeddings on a slow CPU, with room to spare
MAX_TRIES = 3
POLL_DELAY_S = 0.1


def _as_coroutine(name: str, fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    async def run(ctx: dict, *args: Any) -> Any:
        return await asyncio.to_thread(fn, {"settings": ctx["settings"], "engine": ctx["engine"]}, *args)

    run.__name__ = run.__qualname__ = name
    return run


def functions() -> list[Function]:
    """Every registered background job as an arq function of the same name."""
    return [func(_as_coroutine(name, fn), name=name, max_tries=MAX_TRIES) for name, fn in background.jobs().items()]


async def startup(ctx: dict) -> None:
    settings: Settings = ctx.setdefault("settings", get_settings())
    ctx["engine"] = make_engine(settings.resolved_database_url)
    from app.jobs.assignments import resubmit_queued

    try:  # jobs an API process committed but could not hand on before it died
        queued = await asyncio.to_thread(resubmit_queued, settings, ctx["engine"])
        if queued:
            log.info("%d queued assignment job(s) handed to the queue again", queued)
    except Exception:  # noqa: BLE001 — the jobs on the queue still run
        log.warning("could not look for queued assignment jobs", exc_info=True)


async def shutdown(ctx: dict) -> None:
    engine = ctx.pop("engine", None)
    if engine is not None:
        engine.dispose()


def build_worker(settings: Settings, *, burst: bool = False, max_jobs: int = 4,
                 handle_signals: bool = True) -> Worker:
    """A worker on the server-side queue of `settings.redis_url` (tests run it in burst mode)."""
    if not settings.redis_url:
        raise ValueError("the server-side worker needs Redis (REPROREVIEW_REDIS_URL)")
    return Worker(functions=functions(), queue_name=background.SERVER_QUEUE,
                  redis_settings=RedisSettings.from_dsn(settings.redis_url), burst=burst, poll_delay=POLL_DELAY_S,
                  max_jobs=max_jobs, job_timeout=JOB_TIMEOUT_S, keep_result=3600, max_tries=MAX_TRIES,
                  on_startup=startup, on_shutdown=shutdown, ctx={"settings": settings},
                  handle_signals=handle_signals)


class WorkerSettings:
    """`arq app.jobs.worker.WorkerSettings`, configured from the app's REPROREVIEW_* settings."""

    functions = functions()
    queue_name = background.SERVER_QUEUE
    redis_settings = RedisSettings.from_dsn(os.environ.get("REPROREVIEW_REDIS_URL", "redis://127.0.0.1:6379/0"))
    poll_delay = POLL_DELAY_S
    max_jobs = int(os.environ.get("REPROREVIEW_WORKER_MAX_JOBS", "4"))
    job_timeout = JOB_TIMEOUT_S
    max_tries = MAX_TRIES
    keep_result = 3600
    on_startup = startup
    on_shutdown = shutdown


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="reproreview worker --server",
                                description="Run the service's background jobs (assignment solves, …) from Redis.")
    p.add_argument("--max-jobs", type=int, default=int(os.environ.get("REPROREVIEW_WORKER_MAX_JOBS", "4")),
                   help="jobs at once (solves still run one at a time per process)")
    p.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = get_settings()
    if not settings.redis_url:
        print("error: set REPROREVIEW_REDIS_URL: without Redis the API runs background jobs itself",
              file=sys.stderr)
        return 2
    from app.migrate import DatabaseNotMigrated, ensure_migrated

    engine = make_engine(settings.resolved_database_url)
    try:
        ensure_migrated(engine)
    except DatabaseNotMigrated as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    build_worker(settings, burst=args.burst, max_jobs=max(1, args.max_jobs)).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
