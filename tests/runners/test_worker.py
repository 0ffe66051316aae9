"""End to end: a live API server, real Redis, an arq worker in burst mode and a real sandboxed artifact run;
and the embedded in-process rig when no Redis is configured."""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import redis
import uvicorn
from sqlmodel import Session

from app.artifacts import runs as run_service
from app.db import make_engine
from app.main import create_app
from app.migrate import upgrade
from app.models.run import FINISHED, Rig
from app.services import submissions as submission_service
from app.services.accounts import create_api_token
from app.settings import Settings
from runners.sandbox import bwrap_available
from tests import factories
from tests.api.test_runs import MANIFEST, artifact_zip
from tests.conftest import _fresh_database

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REPROREVIEW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
SLOW_SCRIPT = ('import json, time\nprint("warming up", flush=True)\ntime.sleep(1.0)\n'
               'print("measuring", flush=True)\njson.dump({"accuracy": 0.92}, open("metrics.json", "w"))\n')

pytestmark = pytest.mark.skipif(not bwrap_available(), reason="bubblewrap is needed: artifacts only run sandboxed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """uvicorn in a thread with its own fresh database, a venue, a submission with an artifact, a rig token."""
    tmp = tmp_path_factory.mktemp("runs-live")
    base = os.environ.get("REPROREVIEW_TEST_DATABASE_URL") or f"sqlite:///{tmp / 'live.db'}"
    url, drop = _fresh_database(base)
    upgrade(url)
    port = _free_port()
    settings = Settings(data_dir=tmp / "data", database_url=url, secret_key="runs-secret", redis_url=REDIS_URL,
                        base_url=f"http://127.0.0.1:{port}", _env_file=None)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as db:
        make = factories.Factory(db)
        venue = make.venue(phase="submission")
        cast = make.cast(venue)
        sub = submission_service.save_submission(db, cast["student"], venue, cast["members"]["student"],
                                                 title="Int8 keyword spotting", abstract="", keywords="")
        submission_service.artifact_from_archive(db, settings, cast["student"], venue, sub,
                                                 artifact_zip(MANIFEST, SLOW_SCRIPT), "code.zip")
        _, student_token = create_api_token(db, cast["student"], "e2e")
        rig, rig_token = run_service.create_rig(db, None, name="ci-local", kind="local")
        db.commit()
        rig_id = rig.id
    server = uvicorn.Server(uvicorn.Config(create_app(settings, engine=engine), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {student_token}"},
                       timeout=30)
    yield {"url": f"http://127.0.0.1:{port}", "settings": settings, "engine": engine, "api": api,
           "runs": f"/api/v1/venues/{venue.slug}/submissions/{sub.number}/runs", "rig_token": rig_token,
           "rig_id": rig_id}
    api.close()
    server.should_exit = True
    thread.join(10)
    engine.dispose()
    drop()


def _wait_finished(live, run_id: int, timeout_s: float = 40) -> tuple[dict, list[str]]:  # noqa: ANN001
    seen: list[str] = []
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        run = live["api"].get(f"{live['runs']}/{run_id}").json()
        if not seen or seen[-1] != run["status"]:
            seen.append(run["status"])
        if run["status"] in FINISHED:
            return run, seen
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish in {timeout_s} s (seen {seen})")


def test_a_run_goes_queued_running_passed_through_redis_and_an_arq_worker(live):
    r = redis.Redis.from_url(REDIS_URL)
    for key in r.scan_iter("reproreview:local*"):
        r.delete(key)
    created = live["api"].post(live["runs"], json={})
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    assert created.json()["status"] == "queued"
    assert r.zcard("reproreview:local") == 1  # on the local rigs' queue, not run by the API

    worker = subprocess.Popen([sys.executable, "-m", "runners.worker", "--rig-kind", "local", "--api", live["url"],
                               "--token", live["rig_token"], "--redis", REDIS_URL, "--burst"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        run, seen = _wait_finished(live, run_id)
        out, _ = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, out
    assert seen[0] == "queued" and "running" in seen and seen[-1] == "passed", (seen, run, out)
    assert run["checks"] == [{"claim": "C1", "metric": "accuracy", "claimed": 0.91, "measured": 0.92,
                              "passed": True}]
    assert "reproduced" in run["badges"] and run["attempts"] == 1 and run["rig_id"] == live["rig_id"]
    assert run["facts"]["cores"] >= 1 and run["duration_s"] > 0.5
    log = live["api"].get(f"{live['runs']}/{run_id}/log").text
    assert "warming up" in log and "measuring" in log
    with Session(live["engine"]) as db:
        assert db.get(Rig, live["rig_id"]).last_seen_at is not None  # the worker's rig heartbeat


def test_without_redis_the_embedded_rig_runs_the_same_job_in_process(live):
    live["settings"].redis_url = None
    try:
        created = live["api"].post(live["runs"], json={})
        assert created.status_code == 201, created.text
        run, seen = _wait_finished(live, created.json()["id"])
    finally:
        live["settings"].redis_url = REDIS_URL
    assert run["status"] == "passed", run
    assert run["checks"][0]["passed"] is True and "reproduced" in run["badges"]
    with Session(live["engine"]) as db:
        assert db.get(Rig, run["rig_id"]).name == run_service.EMBEDDED_RIG
    assert "measuring" in live["api"].get(f"{live['runs']}/{run['id']}/log").text


def test_a_worker_refuses_a_token_that_is_not_a_rig_token():
    from runners.worker import main

    assert main(["--api", "http://127.0.0.1:9", "--token", "rr_user_token", "--burst"]) == 2
