"""Background solves for real: with Redis a solve is on the server-side queue, so killing the API process that
started it loses nothing (`reproreview worker --server` runs it); without Redis it runs in a daemon thread of
the API process, as before. Both through the HTTP API, with the real embedding model on a small venue."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import redis
from sqlmodel import Session, func, select

from app.db import make_engine
from app.jobs.background import SERVER_QUEUE
from app.migrate import upgrade
from app.models import Group, Member, Submission, User, Venue
from app.models.assignment import Assignment, AssignmentJob, AssignmentSettings
from app.security.passwords import hash_password
from app.services.assignments import background_job_id
from tests.conftest import _fresh_database
from tests.live import free_port, serve_in_thread

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REPROREVIEW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PASSWORD = "solve pass 1"
CHAIR = "chair.solve@uni.example"
PAPERS = [("Wake", "Keyword spotting on a Cortex-M4 microcontroller",
           "An int8 depthwise CNN for keyword spotting runs with TFLite Micro on the Nano 33 BLE Sense."),
          ("Pipes", "Pipeline parallel training of GPT-2 on four GPUs",
           "We compare GPipe and 1F1B schedules for data and model parallel transformer training.")]
pytestmark = pytest.mark.db


def _seed(engine) -> str:  # noqa: ANN001
    """A venue in the assignment phase: a chair and two groups of one student, each with a submission."""
    with Session(engine) as s:
        venue = Venue(slug="solve-jobs", title="Solve jobs", phase="assignment")
        chair = User(email=CHAIR, full_name="Sol Chair", password_hash=hash_password(PASSWORD))
        s.add_all([venue, chair])
        s.flush()
        # two groups reviewing each other is what this venue is about: the course option against it is off
        s.add(AssignmentSettings(venue_id=venue.id, no_reciprocal_groups=False))
        s.add(Member(venue_id=venue.id, user_id=chair.id, role="chair"))
        for n, (name, title, abstract) in enumerate(PAPERS, start=1):
            group = Group(venue_id=venue.id, name=f"Team {name}", join_code=f"SOLVE{n:03d}")
            user = User(email=f"{name.lower()}.solve@uni.example", full_name=f"{name} Author")
            s.add_all([group, user])
            s.flush()
            s.add(Member(venue_id=venue.id, user_id=user.id, group_id=group.id))
            s.add(Submission(venue_id=venue.id, group_id=group.id, number=n, title=title, abstract=abstract))
        s.commit()
        return venue.slug


def _start_preview(base: str, slug: str) -> int:
    """Sign in as the chair and start a background preview (k=1): the 202's job id."""
    with httpx.Client(base_url=base, timeout=30) as c:
        assert c.post("/api/v1/session", json={"email": CHAIR, "password": PASSWORD}).status_code == 200
        csrf = c.get("/api/v1/csrf").json()["csrf_token"]
        r = c.post(f"/api/v1/venues/{slug}/assignment/jobs", json={"k": 1, "max_load": 1, "dry_run": True},
                   headers={"X-CSRF-Token": csrf})
        assert r.status_code == 202, r.text
        return r.json()["id"]


def _assert_preview_done(engine, job_id: int) -> None:  # noqa: ANN001
    with Session(engine) as s:
        job = s.get(AssignmentJob, job_id)
        assert job.status == "done" and job.phase == "done" and job.error is None, (job.status, job.error)
        # each student reviews the other group's paper; a preview saves no assignment
        assert job.result["stats"]["added"] == 2 and len(job.result["changes"]) == 2
        assert {c["submission"] for c in job.result["changes"]} == {1, 2}
        assert job.done == job.total > 0 and job.heartbeat_at is not None
        assert s.exec(select(func.count()).select_from(Assignment)).one() == 0


def _serve(env: dict, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the API did not start")


def test_a_solve_survives_the_api_being_killed_and_runs_on_the_server_worker(tmp_path):  # noqa: ANN001
    base = os.environ.get("REPROREVIEW_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'solve.db'}"
    url, drop = _fresh_database(base)
    upgrade(url)
    engine = make_engine(url)
    queue = redis.Redis.from_url(REDIS_URL)
    env = {**os.environ, "REPROREVIEW_DATABASE_URL": url, "REPROREVIEW_DATA_DIR": str(tmp_path / "data"),
           "REPROREVIEW_SECRET_KEY": "solve-test", "REPROREVIEW_REDIS_URL": REDIS_URL, "HF_HUB_OFFLINE": "1"}
    api = None
    try:
        slug = _seed(engine)
        # A fresh database numbers its jobs from 1 again: forget a previous run's job of the same id.
        queue.zrem(SERVER_QUEUE, background_job_id(1))
        queue.delete(*(f"arq:{kind}:{background_job_id(1)}" for kind in ("job", "result", "in-progress", "retry")))
        port = free_port()
        api = _serve(env, port)
        job_id = _start_preview(f"http://127.0.0.1:{port}", slug)
        api.send_signal(signal.SIGKILL)  # right after the 202: the API is gone before any solve could finish
        api.wait(10)
        with Session(engine) as s:
            assert s.get(AssignmentJob, job_id).status == "queued"  # the API never ran it: it is on the queue
        assert queue.zscore(SERVER_QUEUE, background_job_id(job_id)) is not None
        worker = subprocess.run([sys.executable, "-m", "app.cli", "worker", "--server", "--burst"], cwd=ROOT,
                                env=env, capture_output=True, text=True, timeout=120)
        assert worker.returncode == 0, worker.stderr[-3000:]
        _assert_preview_done(engine, job_id)
        assert queue.zscore(SERVER_QUEUE, background_job_id(job_id)) is None  # taken off the queue, not lost
    finally:
        if api is not None and api.poll() is None:
            api.kill()
            api.wait(10)
        engine.dispose()
        drop()


def test_without_redis_a_solve_runs_in_a_thread_of_the_api(tmp_path):  # noqa: ANN001
    """The embedded default: no worker, no Redis; the API process that started the job runs it."""
    with serve_in_thread(tmp_path, secret_key="solve-thread", seed=lambda _settings, eng: _seed(eng)) as served:
        assert served.settings.redis_url is None
        job_id = _start_preview(served.url, "solve-jobs")
        deadline = time.monotonic() + 120
        with Session(served.engine) as s:
            while s.get(AssignmentJob, job_id).status in ("queued", "running") and time.monotonic() < deadline:
                time.sleep(0.2)
                s.expire_all()
        _assert_preview_done(served.engine, job_id)


def _database(tmp_path: Path):  # noqa: ANN202
    """A migrated database of the test's own (the jobs below commit, and threads read what they commit)."""
    url, drop = _fresh_database(os.environ.get("REPROREVIEW_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'j.db'}")
    upgrade(url)
    return url, make_engine(url), drop


def test_a_job_held_by_a_process_keeps_its_heartbeat_and_never_reads_as_stale(tmp_path):  # noqa: ANN001
    """Solving has no progress to report for a while (and a job may wait for this process's solve lock): the
    heartbeat keeps it alive, so no API process calls it stopped and starts another; a finished job stops it."""
    from datetime import UTC, datetime

    from app.jobs import assignments as solve_jobs
    from app.services.assignments import JOB_STALE_AFTER, is_stale

    url, engine, drop = _database(tmp_path)
    try:
        slug = _seed(engine)
        with Session(engine) as s:
            venue = s.exec(select(Venue).where(Venue.slug == slug)).one()
            old = datetime.now(UTC) - JOB_STALE_AFTER * 2
            job = AssignmentJob(venue_id=venue.id, status="running", phase="solving", created_at=old, heartbeat_at=old)
            s.add(job)
            s.commit()
            job_id = job.id
            assert is_stale(job)
        with solve_jobs._heartbeats(lambda: Session(engine, expire_on_commit=False), job_id, every_s=0.05):  # noqa: SLF001
            time.sleep(1.0)
        with Session(engine) as s:
            job = s.get(AssignmentJob, job_id)
            assert not is_stale(job) and job.status == "running"
            job.status = "done"
            s.add(job)
            s.commit()
            beat = job.heartbeat_at
        with solve_jobs._heartbeats(lambda: Session(engine, expire_on_commit=False), job_id, every_s=0.05):  # noqa: SLF001
            time.sleep(0.5)
        with Session(engine) as s:
            assert s.get(AssignmentJob, job_id).heartbeat_at == beat  # nothing beats for a finished job
    finally:
        engine.dispose()
        drop()


def test_the_server_worker_hands_on_a_committed_job_the_queue_never_got(tmp_path):  # noqa: ANN001
    """An API process that died between its commit and its enqueue leaves a queued row and an empty queue: a
    server worker starting up queues it again and runs it (here it fails fast: the venue has no submissions)."""
    from app.jobs import assignments as solve_jobs
    from app.jobs.worker import build_worker
    from app.settings import Settings

    url, engine, drop = _database(tmp_path)
    queue = redis.Redis.from_url(REDIS_URL)
    try:
        with Session(engine) as s:
            venue = Venue(slug="empty-solve", title="Empty", phase="assignment")
            s.add(venue)
            s.flush()
            job = AssignmentJob(venue_id=venue.id, params={"k": 1, "min_load": 0, "max_load": 1})
            s.add(job)
            s.commit()
            job_id = job.id
        queue.zrem(SERVER_QUEUE, background_job_id(job_id))
        queue.delete(*(f"arq:{kind}:{background_job_id(job_id)}" for kind in ("job", "result", "in-progress", "retry")))
        settings = Settings(data_dir=tmp_path / "data", database_url=url, secret_key="k", redis_url=REDIS_URL,
                            _env_file=None)
        errors: list[BaseException] = []

        def burst() -> None:  # in a thread of its own: its own event loop (a browser test may hold this one)
            try:
                build_worker(settings, burst=True, handle_signals=False).run()
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        thread = threading.Thread(target=burst)
        thread.start()
        thread.join(60)
        assert not thread.is_alive() and errors == []
        with Session(engine) as s:
            job = s.get(AssignmentJob, job_id)
            assert job.status == "failed" and "There are no submissions to assign." in job.error
            finished_at = job.finished_at
        # started again (a second submit, an arq retry): a finished job is left as it is
        solve_jobs.run_job(lambda: Session(engine, expire_on_commit=False), settings, job_id)
        with Session(engine) as s:
            assert s.get(AssignmentJob, job_id).finished_at == finished_at
    finally:
        engine.dispose()
        drop()


def test_the_server_worker_needs_redis(tmp_path):  # noqa: ANN001
    env = {k: v for k, v in os.environ.items() if k != "REPROREVIEW_REDIS_URL"}
    env.update(REPROREVIEW_DATABASE_URL=f"sqlite:///{tmp_path / 'none.db'}", REPROREVIEW_DATA_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-m", "app.cli", "worker", "--server", "--burst"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "REPROREVIEW_REDIS_URL" in done.stderr
