"""Assignment solves in the background: the job that runs an `AssignmentJob` row, the after-commit handler that
starts what services recorded ("job"), and the mail an applied solve sends.

A solve takes a minute on a CPU (embedding a venue's texts). `services.assignments.start_job` records the row
and "start job assignment_solve" in the same transaction; once it commits, the handler below submits it to
app.jobs.background: with Redis, to the server-side arq queue, where `reproreview worker --server` (one or
more) runs it, so a solve survives an API restart; without Redis, to a daemon thread of this process.

Progress goes to the job row in short transactions of their own, so every API process can report it while the
solve's own (read-only) transaction is still open; a heartbeat keeps the row alive during long phases.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from app import outbox
from app.db import begin_write
from app.errors import DomainError
from app.jobs import background, mail
from app.models import Venue
from app.models.assignment import AssignmentJob, JobStatus
from app.services import assignments as service
from app.settings import Settings

__all__ = ["run_job", "solve", "launch", "start_committed_jobs", "resubmit_queued", "embed_venue", "embed_venue_texts", "embed_texts_later", "embed_ahead",
           "stored_embeddings"]

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 0.5
HEARTBEAT_EVERY_S = 10.0  # well inside service.JOB_STALE_AFTER (45 s), so a solving job never reads as stale
_job_lock = threading.Lock()  # one solve or embedding at a time per process: embedding uses every core already
OpenSession = Callable[[], AbstractContextManager[Session]]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def run_job(open_session: OpenSession, settings: Settings, job_id: int) -> None:
    """Run one solve job to done or failed (a job already finished is left as it is: a repeated start)."""
    with open_session() as s:
        job = s.get(AssignmentJob, job_id)
        if job is None or service.is_finished(job):
            log.info("assignment job %s is %s: not run again", job_id, "gone" if job is None else job.status)
            return
    last = [0.0]

    def report(force: bool = True, **fields: Any) -> None:
        if not force and time.monotonic() - last[0] < PROGRESS_EVERY_S:
            return
        last[0] = time.monotonic()
        with open_session() as ps:
            begin_write(ps)
            service.update_job(ps, job_id, **fields)
            ps.commit()

    def on_phase(phase: str, done: int, total: int) -> None:
        counts = {"done": done, "total": total} if total else {}  # solving keeps the embedding's counts on show
        report(force=phase != "reading texts" or done == 0, phase=phase, **counts)

    def on_embedding(done: int, total: int) -> None:
        report(force=done == total, phase="embedding", done=done, total=total)

    report(status=JobStatus.running.value, phase="starting", started_at=_utcnow())
    with open_session() as s:
        try:
            job = s.get(AssignmentJob, job_id)
            venue, dry_run, params = s.get(Venue, job.venue_id), job.dry_run, dict(job.params)
            plan = service.plan_auto(s, settings, venue, progress=on_embedding, on_phase=on_phase,
                                     cache=stored_embeddings(open_session, s, settings), **params)
            result = service.plan_result(s, plan)
            s.commit()  # end the long read before writing
            report(phase="saving")
            begin_write(s)
            service.finish_job(s, job_id, plan, result)
            s.commit()
        except DomainError as exc:
            s.rollback()
            message = service.failure_message(exc)
        except Exception as exc:  # noqa: BLE001 — a background job has nobody to raise to
            s.rollback()
            log.exception("assignment job %s failed", job_id)
            message = f"The job failed unexpectedly ({type(exc).__name__}); see the server log."
        else:
            return
    report(status=JobStatus.failed.value, phase="failed", error=message[:2000], finished_at=_utcnow())


@contextlib.contextmanager
def _heartbeats(open_session: OpenSession, job_id: int, every_s: float = HEARTBEAT_EVERY_S) -> Iterator[None]:
    """Keep the job row's heartbeat fresh while this process holds the job (waiting for the lock, or in a long
    phase with no progress to report: solving), so no API process judges it stale and starts another."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every_s):
            try:
                with open_session() as s:
                    begin_write(s)
                    job = s.get(AssignmentJob, job_id)
                    if job is None or service.is_finished(job):
                        return
                    service.update_job(s, job_id)
                    s.commit()
            except Exception:  # noqa: BLE001 — a missed beat is retried; the job itself goes on
                log.warning("heartbeat of assignment job %s failed", job_id, exc_info=True)

    thread = threading.Thread(target=beat, name=f"assignment-job-{job_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


@background.job(service.SOLVE_JOB)
def solve(ctx: dict, job_id: int) -> None:
    """The background job: run AssignmentJob `job_id` on ctx's engine (this process's, or the worker's)."""
    engine, settings = ctx["engine"], ctx["settings"]

    def open_session() -> Session:
        return Session(engine, expire_on_commit=False)

    # mail.delivering: the assignment mails the applied job queued go out with this job's settings
    with _heartbeats(open_session, job_id), _job_lock, mail.delivering(settings):
        run_job(open_session, settings, job_id)


def stored_embeddings(open_session: OpenSession, session: Session, settings: Settings):  # noqa: ANN201
    """The database cache read through `session`, writing new vectors in short transactions of their own (a long
    solve's read transaction never takes SQLite's write lock; a concurrent writer of the same key is no error)."""
    from sqlalchemy.exc import IntegrityError

    def write(rows: list) -> None:  # noqa: ANN001
        with open_session() as ws:
            begin_write(ws)
            have = set(service.StoredEmbeddings(ws, settings.embedding_model).get_many([r.key for r in rows]))
            ws.add_all([r for r in rows if r.key not in have])
            try:
                ws.commit()
            except IntegrityError:  # another process stored one of them meanwhile: the same vector, keep theirs
                ws.rollback()

    return service.StoredEmbeddings(session, settings.embedding_model, writer=write)


def embed_venue_texts(open_session: OpenSession, settings: Settings, venue_id: int) -> int:
    """Embed every text of the venue that is not stored yet; how many texts it looked at (see `embed_venue`)."""
    from app.assignment.embeddings import embed_texts

    with _job_lock, open_session() as s:
        venue = s.get(Venue, venue_id)
        if venue is None:
            return 0
        texts = service.venue_texts(s, settings, venue)
        if texts:
            embed_texts(texts, model_name=settings.embedding_model, cache=stored_embeddings(open_session, s, settings))
        s.commit()  # a read-only transaction; ending it cleanly (not by a rollback on close) keeps nested writes
        return len(texts)


@background.job(service.EMBED_JOB)
def embed_venue(ctx: dict, venue_id: int) -> int:
    """The background job: embed every text of the venue that is not stored yet (so the next Preview finds them
    all). Cheap when nothing is new: one read of the keys."""
    engine = ctx["engine"]
    return embed_venue_texts(lambda: Session(engine, expire_on_commit=False), ctx["settings"], venue_id)


def embed_ahead(settings: Settings, engine: Engine, venue_ids: list[int]) -> None:
    """Start `assignment_embed` for these venues now (the demo, after seeding rows directly): with Redis on the
    server-side queue, else in a thread of this process (which the demo's server then keeps alive)."""
    for venue_id in venue_ids:
        try:
            background.submit(settings, engine, service.EMBED_JOB, venue_id)
        except Exception:  # noqa: BLE001 — Redis down: a Preview embeds what is missing
            log.warning("could not start embedding for venue %s", venue_id, exc_info=True)


@outbox.handler("texts")
def embed_texts_later(bind: Engine | Connection, payloads: list[dict[str, Any]]) -> None:
    """A committed change to texts the assignment reads: start `assignment_embed` once per venue. Only with the
    app's settings (a web request's) and outside an enclosing test transaction (no worker could see its rows)."""
    if outbox.is_outer_transaction(bind):
        return
    engine = bind if isinstance(bind, Engine) else bind.engine
    started: set[int] = set()
    for p in payloads:
        settings = p.get("settings")
        if settings is None or not settings.embed_ahead or p["venue_id"] in started:
            continue
        started.add(p["venue_id"])
        try:
            background.submit(settings, engine, service.EMBED_JOB, p["venue_id"])
        except Exception:  # noqa: BLE001 — Redis down: the Preview embeds what is missing, as before
            log.warning("could not start embedding for venue %s", p["venue_id"], exc_info=True)


def launch(settings: Settings, bind: Engine | Connection, job_id: int) -> None:
    """Start a committed job: on the server-side queue with Redis, else in a daemon thread of this process.
    When Redis cannot be reached the solve runs here all the same (the chair's preview still comes). A commit
    inside an enclosing transaction (a test's) is no real commit: no thread or worker could see the row, so
    nothing starts (tests replace `launch` to run it on their connection)."""
    if outbox.is_outer_transaction(bind):
        log.info("assignment job %s not started: its row is not committed yet (an enclosing transaction)", job_id)
        return
    engine = bind if isinstance(bind, Engine) else bind.engine
    try:
        background.submit(settings, engine, service.SOLVE_JOB, job_id, job_id=service.background_job_id(job_id))
    except Exception:  # noqa: BLE001 — Redis down: better a solve in this process than a job nobody runs
        if not settings.redis_url:
            raise
        log.warning("could not queue assignment job %s on Redis; running it in this process", job_id,
                    exc_info=True)
        background.submit(settings.model_copy(update={"redis_url": None}), engine, service.SOLVE_JOB, job_id)


@outbox.handler("job")
def start_committed_jobs(bind: Engine | Connection, payloads: list[dict[str, Any]]) -> None:
    """Start each background job a commit recorded: `outbox.after_commit(session, "job", name=…, args=[…],
    job_id=…, settings=…)`."""
    for p in payloads:
        try:
            if p["name"] == service.SOLVE_JOB:
                launch(p["settings"], bind, *p["args"])
            elif not outbox.is_outer_transaction(bind):
                engine = bind if isinstance(bind, Engine) else bind.engine
                background.submit(p["settings"], engine, p["name"], *p.get("args", ()), job_id=p.get("job_id"))
        except Exception:  # noqa: BLE001 — the rows are committed; the next start (or a sweep) picks them up
            log.exception("could not start background job %s%r", p.get("name"), tuple(p.get("args", ())))


def resubmit_queued(settings: Settings, engine: Engine) -> int:
    """Queue again every queued job that is not stale (for a worker starting up: an API process may have died
    between its commit and its enqueue); the arq job id makes this a no-op for jobs the queue still holds. A
    running job is left alone: whoever runs it keeps its heartbeat, and arq retries it if that worker dies."""
    with Session(engine) as s:
        ids = [j.id for j in service.active_jobs(s) if j.status == JobStatus.queued.value and not service.is_stale(j)]
    for job_id in ids:
        background.submit(settings, engine, service.SOLVE_JOB, job_id, job_id=service.background_job_id(job_id))
    return len(ids)
