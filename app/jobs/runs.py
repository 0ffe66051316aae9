"""The run queue: a committed run goes to a rig through Redis (arq, one queue per rig kind) or, without
Redis, to the embedded rig of this process. The only way a run is enqueued is a service recording it
(`app.services.runs.enqueue_after_commit`, i.e. `outbox.after_commit(session, "run", ...)`); the handler
below carries it out once the transaction commits. The payload carries the recording caller's settings.

Embedded rig, the choice made: without Redis the API process runs the job in a daemon thread with
`runners.jobs.execute_run`, the very code arq workers run, but handed a `LocalRigClient` that calls
the service layer (`app.services.runs`) directly instead of a `RigClient` that calls the HTTP API.
Why not loop back over HTTP with an internal token: `settings.base_url` is the public address, which
behind a proxy or in tests (TestClient) the process itself often cannot reach, and a loopback token
would be one more secret to manage. Both clients expose the same methods and raise the same
`RigApiError`, so the claim → bundle → log → heartbeat → result protocol is the same code either way.
Runs in the embedded rig execute one at a time (a lock), inside the same sandbox as a real worker.

Lost runs. A run is enqueued after its commit with a deterministic arq job id (`run-<id>-<attempt>`),
so enqueueing the same run twice is a no-op. If Redis lost the job (restart, flush) or the enqueue
after the commit failed, the run is still `queued` in the database, which is the truth:
`recover_lost_runs` (called by the sweep, app.jobs.sweep, on rig heartbeats, run pages and
`reproreview sweep-runs`) looks for runs queued longer than a grace period whose job is neither waiting
nor in progress in Redis and enqueues them again. Nothing about this lives in a process: any API process
may sweep.
"""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from app import outbox
from app.db import make_engine, plain_engine
from app.errors import DomainError
from app.jobs.background import run_coroutine
from app.services import runs as run_service
from app.services.artifacts import store
from app.settings import Settings
from runners.client import RigApiError
from runners.jobs import execute_run, rig_facts
from runners.queues import JOB_NAME, queue_name

__all__ = ["job_id", "queue_name", "enqueue_run", "recover_lost_runs", "LocalRigClient", "start_embedded"]

log = logging.getLogger(__name__)
_embedded_lock = threading.Lock()
_engines: dict[str, Engine] = {}
# Runs this process's embedded rig already holds a thread for: the embedded rig lives in this process,
# so this is its own queue, not shared state (a second API process's thread would lose the claim anyway).
_embedded_pending: set[int] = set()
_pending_lock = threading.Lock()


def job_id(run_id: int, attempt: int = 0) -> str:
    """The arq job id of a run's attempt: enqueueing it twice gives one job."""
    return f"run-{run_id}-{attempt}"


def enqueue_run(settings: Settings, run_id: int, rig_kind: str, *, attempt: int = 0,
                engine: Engine | None = None) -> None:
    """Hand a committed run to a rig: arq when settings.redis_url is set, else the embedded local rig.
    Called by the after-commit handler below (and benchmarks/tests that create runs by hand).
    A Redis that cannot be reached is logged, not raised: the run is committed, the sweep enqueues it later."""
    if settings.redis_url:
        try:
            run_coroutine(_enqueue_arq(settings.redis_url, [(run_id, attempt)], rig_kind))
        except Exception as exc:  # noqa: BLE001 — the committed run is recovered by recover_lost_runs
            log.warning("run %s could not be enqueued (%s); the sweep will enqueue it again", run_id, exc)
    else:
        start_embedded(settings, run_id, engine=engine, kind=rig_kind)


async def _enqueue_arq(redis_url: str, runs: list[tuple[int, int]], rig_kind: str) -> list[int]:
    """Enqueue (run id, attempt) jobs; returns the runs actually put on the queue. A job id already waiting
    or in progress is left alone (one job per run attempt); one whose earlier job finished (its result is
    kept an hour) or went stale is cleared first, so the run can go again: the database says it is queued,
    and a rig's claim is atomic, so a spare job is harmless."""
    from arq import create_pool
    from arq.connections import RedisSettings
    from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix

    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    queued = []
    try:
        for run_id, attempt in runs:
            await _release_earlier_attempts(pool, run_id, attempt, rig_kind)
            jid = job_id(run_id, attempt)
            waiting = await pool.zscore(queue_name(rig_kind), jid) is not None
            working = await pool.exists(in_progress_key_prefix + jid)
            if waiting or working:
                continue
            await pool.delete(job_key_prefix + jid, result_key_prefix + jid)
            if await pool.enqueue_job(JOB_NAME, run_id, _queue_name=queue_name(rig_kind), _job_id=jid) is not None:
                queued.append(run_id)
    finally:
        await pool.aclose()
    return queued


async def _release_earlier_attempts(pool, run_id: int, attempt: int, rig_kind: str) -> None:  # noqa: ANN001
    """A run re-queued as attempt N: the jobs of its attempts before N are over (their rig went silent, e.g. a
    worker killed mid-run), so their keys go: "in progress" (which arq keeps for the job timeout, hours), the
    job itself and any retry waiting on the queue, which would only start a claim the API refuses."""
    from arq.constants import in_progress_key_prefix, job_key_prefix, retry_key_prefix

    for earlier in range(attempt):
        jid = job_id(run_id, earlier)
        await pool.delete(in_progress_key_prefix + jid, job_key_prefix + jid, retry_key_prefix + jid)
        await pool.zrem(queue_name(rig_kind), jid)


def recover_lost_runs(settings: Settings, runs: list[tuple[int, str, int]], *,
                      engine: Engine | None = None) -> list[int]:
    """Enqueue again the (id, kind, attempts) runs that are queued in the database but that no rig will
    get: their job is neither waiting on Redis nor in progress. Returns the ids put back on the queue."""
    if not runs:
        return []
    if not settings.redis_url:
        with _pending_lock:
            lost = [r for r in runs if r[0] not in _embedded_pending]
        for run_id, kind, _attempt in lost:
            start_embedded(settings, run_id, engine=engine, kind=kind)
        return [r[0] for r in lost]
    recovered: list[int] = []
    by_kind: dict[str, list[tuple[int, int]]] = {}
    for run_id, kind, attempt in runs:
        by_kind.setdefault(kind, []).append((run_id, attempt))
    for kind, items in by_kind.items():
        try:
            box: list[int] = []

            async def go(kind=kind, items=items, box=box) -> None:  # noqa: ANN001
                box += await _enqueue_arq(settings.redis_url, items, kind)
            run_coroutine(go())
            recovered += box
        except Exception as exc:  # noqa: BLE001 — Redis down: the next sweep tries again
            log.warning("could not check the %s queue for lost runs: %s", kind, exc)
    if recovered:
        log.warning("re-enqueued runs the queue had lost: %s", recovered)
    return recovered


# ---- after the commit of a session that recorded runs ---------------------------------------------------


@outbox.handler("run")
def _enqueue_committed(bind: Engine | Connection, payloads: list[dict[str, Any]]) -> None:
    """Enqueue the runs a committed transaction recorded. A commit of a session joined to an outer
    transaction (a test's) is no commit: the runs are not visible to anyone else yet, so nothing is
    enqueued (the sweep would find them if they ever became real)."""
    if outbox.is_outer_transaction(bind):
        return
    engine = bind.engine if isinstance(bind, Connection) else bind
    for p in payloads:
        enqueue_run(p["settings"], p["run_id"], p["rig_kind"], attempt=p.get("attempt", 0), engine=engine)


# ---- the embedded local rig -------------------------------------------------------------------------


class LocalRigClient:
    """RigClient's interface over the service layer: one short session and one commit per call."""

    def __init__(self, engine: Engine, settings: Settings, kind: str = "local") -> None:
        self.engine, self.settings = engine, settings
        with Session(engine, expire_on_commit=False) as session:
            rig = run_service.embedded_rig(session, kind)
            run_service.rig_heartbeat(session, rig, rig_facts())  # the GPU count decides whether it may take gpu runs
            self.rig_id = rig.id
            session.commit()

    def _call(self, fn):  # noqa: ANN001, ANN202
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                out = fn(session, run_service.rig_by_id(session, self.rig_id))
                session.commit()
                return out
            except DomainError as exc:
                session.rollback()
                raise RigApiError(exc.status_code, exc.message, exc.code) from None

    def heartbeat(self, facts: dict | None = None) -> dict:
        return self._call(lambda s, rig: (run_service.rig_heartbeat(s, rig, facts), {"ok": True})[1])

    def claim(self, run_id: int) -> dict:
        return self._call(lambda s, rig: run_service.claim_payload(s, run_service.claim_run(s, rig, run_id)))

    def bundle(self, run_id: int, dest: Path) -> Path:
        sha = self._call(lambda s, rig: run_service.run_bundle_sha(s, run_service.rig_run(s, rig, run_id)))
        shutil.copyfile(store(self.settings).path(sha), dest)
        return dest

    def log(self, run_id: int, text: str, seq: int) -> dict:
        return self._call(lambda s, rig: run_service.rig_state(
            run_service.append_log(s, rig, run_service.rig_run(s, rig, run_id), text, seq)))

    def run_heartbeat(self, run_id: int) -> dict:
        return self._call(lambda s, rig: run_service.rig_state(
            run_service.run_heartbeat(s, rig, run_service.rig_run(s, rig, run_id))))

    def result(self, run_id: int, result: dict) -> dict:
        fields = ("status", "reason", "metrics", "checks", "badges", "facts", "duration_s")
        return self._call(lambda s, rig: run_service.rig_state(run_service.finish_run(
            s, rig, run_service.rig_run(s, rig, run_id), **{k: result.get(k) for k in fields if k in result})))

    def close(self) -> None:
        pass


def _engine_for(settings: Settings) -> Engine:
    url = settings.resolved_database_url
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


def start_embedded(settings: Settings, run_id: int, *, engine: Engine | None = None,
                   kind: str = "local") -> threading.Thread:
    """Run the job in a daemon thread of this process (one run at a time), sandboxed like a worker's, as the
    embedded rig of the run's kind (a gpu run takes this machine's GPUs, or waits when it has none)."""
    engine = plain_engine(engine or _engine_for(settings))
    with _pending_lock:
        _embedded_pending.add(run_id)

    def target() -> None:
        with _embedded_lock:
            try:
                execute_run(LocalRigClient(engine, settings, kind), run_id, sandbox=True)
            except Exception:  # noqa: BLE001 — a daemon thread has nobody to raise to
                log.exception("embedded run %s failed", run_id)
            finally:
                with _pending_lock:
                    _embedded_pending.discard(run_id)

    thread = threading.Thread(target=target, name=f"embedded-rig-run-{run_id}", daemon=True)
    thread.start()
    return thread
