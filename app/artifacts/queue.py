"""Enqueue a run after its commit: onto Redis (arq, one queue per rig kind) or, without Redis, the embedded rig.

Embedded rig, the choice made: without Redis the API process runs the job in a daemon thread with
`runners.jobs.execute_run`, the very code arq workers run, but handed a `LocalRigClient` that calls
the service layer (`app.artifacts.runs`) directly instead of a `RigClient` that calls the HTTP API.
Why not loop back over HTTP with an internal token: `settings.base_url` is the public address, which
behind a proxy or in tests (TestClient) the process itself often cannot reach, and a loopback token
would be one more secret to manage. Both clients expose the same methods and raise the same
`RigApiError`, so the claim → bundle → log → heartbeat → result protocol is the same code either way.
Runs in the embedded rig execute one at a time (a lock), inside the same sandbox as a real worker.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.errors import DomainError
from app.settings import Settings

log = logging.getLogger(__name__)
QUEUE_PREFIX = "reproreview:"
JOB_NAME = "run_artifact"
_embedded_lock = threading.Lock()
_engines: dict[str, Engine] = {}


def queue_name(rig_kind: str) -> str:
    return f"{QUEUE_PREFIX}{rig_kind}"


def enqueue_run(settings: Settings, run_id: int, rig_kind: str, *, engine: Engine | None = None) -> None:
    """Hand a committed run to a rig: arq when settings.redis_url is set, else the embedded local rig."""
    if settings.redis_url:
        _run_coroutine(_enqueue_arq(settings.redis_url, [run_id], rig_kind))
    else:
        start_embedded(settings, run_id, engine=engine)


def enqueue_runs(settings: Settings, runs: list[tuple[int, str]], *, engine: Engine | None = None) -> None:
    for run_id, kind in runs:
        enqueue_run(settings, run_id, kind, engine=engine)


async def _enqueue_arq(redis_url: str, run_ids: list[int], rig_kind: str) -> None:
    from arq import create_pool
    from arq.connections import RedisSettings

    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        for run_id in run_ids:
            await pool.enqueue_job(JOB_NAME, run_id, _queue_name=queue_name(rig_kind))
    finally:
        await pool.aclose()


def _run_coroutine(coro) -> None:  # noqa: ANN001
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


# ---- the embedded local rig -------------------------------------------------------------------------


class LocalRigClient:
    """RigClient's interface over the service layer: one short session and one commit per call."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        from app.artifacts import runs

        self.engine, self.settings = engine, settings
        with Session(engine, expire_on_commit=False) as session:
            self.rig_id = runs.embedded_rig(session).id
            session.commit()

    def _call(self, fn):  # noqa: ANN001, ANN202
        from app.artifacts import runs
        from runners.client import RigApiError

        with Session(self.engine, expire_on_commit=False) as session:
            try:
                out = fn(session, runs.rig_by_id(session, self.rig_id))
                session.commit()
                return out
            except DomainError as exc:
                session.rollback()
                raise RigApiError(exc.status_code, exc.message) from None

    def heartbeat(self, facts: dict | None = None) -> dict:
        from app.artifacts import runs

        return self._call(lambda s, rig: (runs.rig_heartbeat(s, rig, facts), {"ok": True})[1])

    def claim(self, run_id: int) -> dict:
        from app.artifacts import runs

        return self._call(lambda s, rig: runs.claim_payload(s, runs.claim_run(s, rig, run_id)))

    def bundle(self, run_id: int, dest: Path) -> Path:
        from app.artifacts import runs
        from app.services.submissions import store

        sha = self._call(lambda s, rig: runs.run_bundle_sha(s, runs.rig_run(s, rig, run_id)))
        shutil.copyfile(store(self.settings).path(sha), dest)
        return dest

    def log(self, run_id: int, text: str, seq: int) -> dict:
        from app.artifacts import runs

        return self._call(lambda s, rig: runs.rig_state(runs.append_log(s, rig, runs.rig_run(s, rig, run_id), text,
                                                                        seq)))

    def run_heartbeat(self, run_id: int) -> dict:
        from app.artifacts import runs

        return self._call(lambda s, rig: runs.rig_state(runs.run_heartbeat(s, rig, runs.rig_run(s, rig, run_id))))

    def result(self, run_id: int, result: dict) -> dict:
        from app.artifacts import runs

        fields = ("status", "reason", "metrics", "checks", "badges", "facts", "duration_s")
        return self._call(lambda s, rig: runs.rig_state(runs.finish_run(
            s, rig, runs.rig_run(s, rig, run_id), **{k: result.get(k) for k in fields if k in result})))

    def close(self) -> None:
        pass


def _engine_for(settings: Settings) -> Engine:
    from app.db import make_engine

    url = settings.resolved_database_url
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


def start_embedded(settings: Settings, run_id: int, *, engine: Engine | None = None) -> threading.Thread:
    """Run the job in a daemon thread of this process (one run at a time), sandboxed like a worker's."""
    engine = engine or _engine_for(settings)

    def target() -> None:
        from runners.jobs import execute_run

        with _embedded_lock:
            try:
                execute_run(LocalRigClient(engine, settings), run_id, sandbox=True)
            except Exception:  # noqa: BLE001 — a daemon thread has nobody to raise to
                log.exception("embedded run %s failed", run_id)

    thread = threading.Thread(target=target, name=f"embedded-rig-run-{run_id}", daemon=True)
    thread.start()
    return thread
