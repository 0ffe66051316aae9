"""An API process killed during an assignment preview: its job is recognised as dead within a minute (the
heartbeat stops), so the next Preview starts instead of a 409 for 15 minutes."""

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session

from app.db import make_engine
from app.jobs import assignments as solve_jobs
from app.main import create_app
from app.migrate import upgrade
from app.models import Member, User, Venue
from app.models.assignment import AssignmentJob
from app.services.accounts import create_api_token
from app.services.assignments import JOB_STALE_AFTER, is_stale
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
BEATER = """
import sys, time
from sqlmodel import Session
from app.db import make_engine
from app.jobs.assignments import _heartbeats
engine = make_engine(sys.argv[1])
with _heartbeats(lambda: Session(engine, expire_on_commit=False), int(sys.argv[2]), every_s=0.2):
    print("beating", flush=True)
    time.sleep(600)
"""


def test_the_heartbeat_recognises_a_dead_job_within_a_minute():
    assert JOB_STALE_AFTER <= timedelta(minutes=1)
    assert timedelta(seconds=solve_jobs.HEARTBEAT_EVERY_S * 3) <= JOB_STALE_AFTER  # two missed beats are no death
    now = datetime.now(UTC)
    job = AssignmentJob(venue_id=1, status="running", created_at=now - timedelta(hours=1), heartbeat_at=now)
    assert not is_stale(job, now + timedelta(seconds=30))
    assert is_stale(job, now + timedelta(seconds=59))
    queued = AssignmentJob(venue_id=1, status="queued", created_at=now)  # on the queue, no worker took it yet
    assert not is_stale(queued, now + timedelta(minutes=5))


def test_a_killed_process_s_preview_no_longer_blocks_the_next_one(tmp_path, monkeypatch):  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'dead-job.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as s:
        venue = Venue(slug="dead-job", title="Dead job", phase="assignment")
        chair = User(email="chair.dead@uni.example", full_name="Dee Chair")
        s.add_all([venue, chair])
        s.flush()
        s.add(Member(venue_id=venue.id, user_id=chair.id, role="chair"))
        job = AssignmentJob(venue_id=venue.id, status="running", phase="embedding",
                            params={"k": 1, "min_load": 0, "max_load": 1})
        s.add(job)
        _token, token = create_api_token(s, chair, "dead-job")
        s.commit()
    settings = Settings(data_dir=tmp_path / "data", database_url=url, secret_key="dead-job-secret", _env_file=None)
    monkeypatch.setattr(solve_jobs, "launch", lambda *_a, **_k: None)  # the new preview need not really solve
    client = TestClient(create_app(settings, engine=engine), headers={"Authorization": f"Bearer {token}"})
    start = f"/api/v1/venues/{venue.slug}/assignment/jobs"
    proc = subprocess.Popen([sys.executable, "-c", BEATER, url, str(job.id)], cwd=ROOT, stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout.readline().strip() == b"beating"
        time.sleep(1.0)
        with Session(engine) as s:
            beat = s.get(AssignmentJob, job.id).heartbeat_at
        assert beat is not None
        # While the process beats, the job is alive: a second preview is refused.
        r = client.post(start, json={"k": 1, "dry_run": True})
        assert r.status_code == 409, r.text
        os.kill(proc.pid, signal.SIGKILL)  # the API process dies mid-preview
        proc.wait(10)
        time.sleep(0.6)
        with Session(engine) as s:
            last = s.get(AssignmentJob, job.id).heartbeat_at
        assert last is not None
        time.sleep(0.6)
        with Session(engine) as s:
            assert s.get(AssignmentJob, job.id).heartbeat_at == last  # nobody beats any more
            # A minute later (no real waiting: the same row, its last beat moved a minute back) it reads as dead.
            row = s.get(AssignmentJob, job.id)
            row.heartbeat_at = datetime.now(UTC) - timedelta(seconds=59)
            s.add(row)
            s.commit()
        seen = client.get(f"{start}/{job.id}").json()
        assert seen["status"] == "failed" and "stopped" in seen["error"]
        r = client.post(start, json={"k": 1, "dry_run": True})
        assert r.status_code == 202, r.text
        assert r.json()["id"] != job.id
    finally:
        if proc.poll() is None:
            proc.kill()
        engine.dispose()
