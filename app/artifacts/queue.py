"""Enqueue a run after its commit: onto Redis (arq, one queue per rig kind) or, without Redis, the embedded rig.

Embedded rig, the choice made: without Redis the API process runs the job in a daemon thread with
`runners.jobs.execute_run`, the very code arq workers run, but handed a `LocalRigClient` that calls
the service layer (`app.artifacts.runs`) directly instead of a `RigClient` that calls the HTTP API.
Why not loop back over HTTP with an internal token: `settings.base_url` is the public address, which
behind a proxy or in tests (TestClient) the process itself often cannot reach, and a loopback token
would be one more secret to manage. Both clients expose the same methods and raise the same
`RigApiError`, so the claim → bundle → log → heartbeat → result protocol is the same code either way.
Runs in the embedded rig execute one at a time (a lock), inside the same sandbox as a real worker.

Lost runs. A run is enqueued after its commit with a deterministic arq job id (`run-<id>-<attempt>`),
so enqueueing the same run twice is a no-op. If Redis lost the job (restart, flush) or the enqueue
after the commit failed, the run is still `queued` in the database, which is the truth:
`recover_lost_runs` (called by the API's sweep, see routers/runs.py, and `reproreview sweep-runs`)
looks for runs queued longer than a grace period whose job is neither waiting nor in progress in
Redis and enqueues them again. Nothing about this lives in a process: any API process may sweep.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from app.errors import DomainError
from app.settings import Settings

log = logging.getLogger(__name__)
QUEUE_PREFIX = "reproreview:"
JOB_NAME = "run_artifact"
_embedded_lock = threading.Lock()
_engines: dict[str, Engine] = {}
# Runs this process's embedded rig already holds a thread for: the embedded rig lives in this process,
# so this is its own queue, not shared state (a second API process's thread would lose the claim anyway).
_embedded_pending: set[int] = set()
_pending_lock = threading.Lock()
_PENDING_KEY = "reproreview_runs_to_enqueue"


def queue_name(rig_kind: str) -> str:
    return f"{QUEUE_PREFIX}{rig_kind}"


def job_id(run_id: int, attempt: int = 0) -> str:
    """The arq job id of a run's attempt: enqueueing it twice gives one job."""
    return f"run-{run_id}-{attempt}"


def enqueue_run(settings: Settings, run_id: int, rig_kind: str, *, attempt: int = 0,
                engine: Engine | None = None) -> None:
    """Hand a committed run to a rig: arq when settings.redis_url is set, else the embedded local rig.
    A Redis that cannot be reached is logged, not raised: the run is committed, the sweep enqueues it later."""
    if settings.redis_url:
        try:
            _run_coroutine(_enqueue_arq(settings.redis_url, [(run_id, attempt)], rig_kind))
        except Exception as exc:  # noqa: BLE001 — the committed run is recovered by recover_lost_runs
            log.warning("run %s could not be enqueued (%s); the sweep will enqueue it again", run_id, exc)
    else:
        start_embedded(settings, run_id, engine=engine, kind=rig_kind)


def enqueue_runs(settings: Settings, runs: list[tuple], *, engine: Engine | None = None) -> None:
    """(run id, rig kind[, attempt]) tuples, as enqueue_run."""
    for run_id, kind, *rest in runs:
        enqueue_run(settings, run_id, kind, attempt=rest[0] if rest else 0, engine=engine)


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
            _run_coroutine(go())
            recovered += box
        except Exception as exc:  # noqa: BLE001 — Redis down: the next sweep tries again
            log.warning("could not check the %s queue for lost runs: %s", kind, exc)
    if recovered:
        log.warning("re-enqueued runs the queue had lost: %s", recovered)
    return recovered



# ---- enqueue after the commit of a session that created runs (services never commit) ---------------


def enqueue_after_commit(session: Session, settings: Settings, run) -> None:  # noqa: ANN001
    """Enqueue `run` once the session's transaction commits; nothing if it rolls back.

    A commit of a session joined to an outer transaction (a test's) is no commit: the run is not
    visible to anyone else yet, so nothing is enqueued (the sweep would find it if it ever became real)."""
    session.info.setdefault(_PENDING_KEY, []).append((settings, run.id, run.rig_kind, run.attempts))


@event.listens_for(OrmSession, "after_commit")
def _enqueue_committed(session: OrmSession) -> None:
    pending = session.info.pop(_PENDING_KEY, None)
    if not pending:
        return
    bind = session.get_bind()
    if isinstance(bind, Connection):
        if bind.in_transaction():
            return
        bind = bind.engine
    for settings, run_id, kind, attempt in pending:
        enqueue_run(settings, run_id, kind, attempt=attempt, engine=bind)


@event.listens_for(OrmSession, "after_rollback")
def _forget_rolled_back(session: OrmSession) -> None:
    session.info.pop(_PENDING_KEY, None)


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

    def __init__(self, engine: Engine, settings: Settings, kind: str = "local") -> None:
        from app.artifacts import runs
        from runners.jobs import rig_facts

        self.engine, self.settings = engine, settings
        with Session(engine, expire_on_commit=False) as session:
            rig = runs.embedded_rig(session, kind)
            runs.rig_heartbeat(session, rig, rig_facts())  # the GPU count decides whether it may take gpu runs
            self.rig_id = rig.id
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
                raise RigApiError(exc.status_code, exc.message, exc.code) from None

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


def start_embedded(settings: Settings, run_id: int, *, engine: Engine | None = None,
                   kind: str = "local") -> threading.Thread:
    """Run the job in a daemon thread of this process (one run at a time), sandboxed like a worker's, as the
    embedded rig of the run's kind (a gpu run takes this machine's GPUs, or waits when it has none)."""
    engine = engine or _engine_for(settings)
    with _pending_lock:
        _embedded_pending.add(run_id)

    def target() -> None:
        from runners.jobs import execute_run

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
