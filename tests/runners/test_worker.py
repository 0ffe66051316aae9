"""End to end: a live API server, real Redis, an arq worker in burst mode and a real sandboxed artifact run;
and the embedded in-process rig when no Redis is configured."""

import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import redis
from sqlmodel import Session

from app.services import runs as run_service
from app.models.run import FINISHED, Rig
from app.services import submissions as submission_service
from app.services.accounts import create_api_token
from runners.sandbox import bwrap_available
from tests import factories
from tests.api.test_runs import MANIFEST, artifact_zip
from tests.live import serve_in_thread
from tests.runners.conftest import processes_with

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REPROREVIEW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
SLOW_SCRIPT = ('import json, time\nprint("warming up", flush=True)\ntime.sleep(1.0)\n'
               'print("measuring", flush=True)\njson.dump({"accuracy": 0.92}, open("metrics.json", "w"))\n')

pytestmark = pytest.mark.skipif(not bwrap_available(), reason="bubblewrap is needed: artifacts only run sandboxed")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """uvicorn in a thread with its own fresh database, a venue, a submission with an artifact, a rig token."""
    seeded = {}

    def seed(settings, engine) -> None:  # noqa: ANN001
        with Session(engine, expire_on_commit=False) as db:
            make = factories.Factory(db)
            venue = make.venue(phase="submission")
            cast = make.cast(venue)
            sub = submission_service.save_submission(db, cast["student"], venue, cast["members"]["student"],
                                                     title="Int8 keyword spotting", abstract="", keywords="")
            submission_service.artifact_from_archive(db, settings, cast["student"], venue, sub,
                                                     artifact_zip(MANIFEST, SLOW_SCRIPT), "code.zip")
            _, seeded["student_token"] = create_api_token(db, cast["student"], "e2e")
            rig, seeded["rig_token"] = run_service.create_rig(db, None, name="ci-local", kind="local")
            db.commit()
            seeded["rig_id"] = rig.id
            seeded["runs"] = f"/api/v1/venues/{venue.slug}/submissions/{sub.number}/runs"

    with serve_in_thread(tmp_path_factory.mktemp("runs-live"), secret_key="runs-secret", redis_url=REDIS_URL,
                         seed=seed) as served:
        api = httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {seeded['student_token']}"},
                           timeout=30)
        yield {"url": served.url, "settings": served.settings, "engine": served.engine, "api": api,
               "runs": seeded["runs"], "rig_token": seeded["rig_token"], "rig_id": seeded["rig_id"]}
        api.close()


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
    assert [{k: c[k] for k in ("claim", "metric", "claimed", "measured", "passed")} for c in run["checks"]] == \
        [{"claim": "C1", "metric": "accuracy", "claimed": 0.91, "measured": 0.92, "passed": True}]
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


CANCEL_MANIFEST = MANIFEST.replace('timeout = "1m"', 'timeout = "90s"')


def _cancel_script(marker: str) -> str:
    return ("import subprocess, sys, time\n"
            f"kids = [subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)', '{marker}'])"
            " for _ in range(2)]\n"
            "print('started', flush=True)\ntime.sleep(300)\n")


def _worker(live) -> subprocess.Popen:  # noqa: ANN001
    return subprocess.Popen([sys.executable, "-m", "runners.worker", "--rig-kind", "local", "--api", live["url"],
                             "--token", live["rig_token"], "--redis", REDIS_URL, "--burst"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_the_queue_losing_a_run_does_not_lose_the_run(live):
    """Redis flushed after the commit: the sweep (here: the worker's first rig heartbeat) enqueues it again."""
    from app.jobs import runs as queue
    from app.models.run import Run

    r = redis.Redis.from_url(REDIS_URL)
    created = live["api"].post(live["runs"], json={})
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    assert r.zscore("reproreview:local", queue.job_id(run_id, 0)) is not None
    queue.enqueue_run(live["settings"], run_id, "local", attempt=0)  # the same job twice is one job
    assert [m.decode() for m in r.zrange("reproreview:local", 0, -1)].count(queue.job_id(run_id, 0)) == 1
    r.flushdb()  # Redis restarted empty
    with Session(live["engine"]) as db:  # ... a while ago
        run = db.get(Run, run_id)
        run.queued_at = run.queued_at - timedelta(minutes=5)
        db.add(run)
        db.commit()
        lost = run_service.queued_runs(db)
    assert run_id in [x[0] for x in lost]
    worker = _worker(live)
    try:
        run, seen = _wait_finished(live, run_id, timeout_s=60)
        out, _ = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert run["status"] == "passed" and run["attempts"] == 1, (run, out)
    with Session(live["engine"]) as db:  # nothing left queued that the queue does not know about
        assert run_id not in [x[0] for x in run_service.queued_runs(db, older_than_s=0)]


def test_cancelling_a_running_run_kills_its_process_tree(live):
    """A new artifact version gets a smoke run (enqueued after the commit); a person cancels it while it
    runs; the worker kills the sandboxed tree within about a second and ends the job."""
    from app.jobs import runs as queue

    marker = f"rr-cancel-{uuid.uuid4().hex}"
    r = redis.Redis.from_url(REDIS_URL)
    slug_number = live["runs"].removesuffix("/runs")
    for old in live["api"].get(live["runs"]).json():  # a submission has at most 3 runs waiting
        if not old["finished"]:
            live["api"].post(f"{live['runs']}/{old['id']}/cancel")
    # The request commits after its answer is sent (FastAPI runs a yield dependency's exit then), so wait
    # until the cancels are visible before the next write, and for the embedded rig's thread to wind down.
    deadline = time.time() + 10
    while time.time() < deadline and (
            any(not x["finished"] for x in live["api"].get(live["runs"]).json())
            or any(t.name.startswith("embedded-rig-run-") for t in threading.enumerate())):
        time.sleep(0.05)
    up = live["api"].post(f"{slug_number}/artifact/archive", files={
        "file": ("code.zip", artifact_zip(CANCEL_MANIFEST, _cancel_script(marker)), "application/zip")})
    assert up.status_code == 201, up.text
    deadline = time.time() + 10  # the upload's commit may land just after its answer
    while not (smokes := [x for x in live["api"].get(live["runs"]).json() if x["artifact_id"] == up.json()["id"]]):
        assert time.time() < deadline, "no smoke run for the new artifact"
        time.sleep(0.05)
    smoke = smokes[0]
    assert smoke["smoke"] and smoke["status"] == "queued"
    deadline = time.time() + 5  # enqueued right after the commit (which may finish after the answer is sent)
    while r.zscore("reproreview:local", queue.job_id(smoke["id"], 0)) is None and time.time() < deadline:
        time.sleep(0.02)
    assert r.zscore("reproreview:local", queue.job_id(smoke["id"], 0)) is not None
    worker = _worker(live)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and "started" not in live["api"].get(f"{live['runs']}/{smoke['id']}/log").text:
            time.sleep(0.1)
        assert len(processes_with(marker)) == 2, live["api"].get(f"{live['runs']}/{smoke['id']}/log").text
        t0 = time.monotonic()
        assert live["api"].post(f"{live['runs']}/{smoke['id']}/cancel").json()["status"] == "cancelled"
        while processes_with(marker) and time.monotonic() - t0 < 10:
            time.sleep(0.02)
        killed_after = time.monotonic() - t0
        out, _ = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert processes_with(marker) == [], "the cancelled run left processes behind"
    assert killed_after < 2.5, f"the tree died {killed_after:.2f} s after the cancel"
    print(f"cancel -> process tree gone: {killed_after:.2f} s")
    assert worker.returncode == 0, out
    run = live["api"].get(f"{live['runs']}/{smoke['id']}").json()
    assert run["status"] == "cancelled" and run["reason"] == "cancelled by a person"


def test_a_worker_refuses_a_token_that_is_not_a_rig_token():
    from runners.worker import main

    assert main(["--api", "http://127.0.0.1:9", "--token", "rr_user_token", "--burst"]) == 2


def test_a_rig_with_too_few_gpus_puts_the_job_back_for_another_rig():
    import asyncio

    from arq.worker import Retry

    from runners.client import RigApiError
    from runners.jobs import TOO_FEW_GPUS, execute_run, run_artifact

    class SmallRig:
        def claim(self, run_id: int) -> dict:
            raise RigApiError(409, f"Run {run_id} needs a rig with at least 2 GPUs; this rig has 1", TOO_FEW_GPUS)

    assert execute_run(SmallRig(), 7) == TOO_FEW_GPUS
    # in a thread of its own: an earlier browser test may leave an event loop running in this one
    from concurrent.futures import ThreadPoolExecutor

    with pytest.raises(Retry), ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run_artifact({"client": SmallRig()}, 7)).result()
