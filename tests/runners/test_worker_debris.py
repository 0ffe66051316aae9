"""A rig worker killed mid-run leaves its work directory (bundle, the students' code) and its arq job "in
progress": the sweep's re-queue releases the dead attempt's job keys, and the next worker removes the dead
worker's directory when it starts, runs the run again, and leaves nothing behind."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from sqlmodel import Session

from app.jobs import runs as queue
from app.jobs.sweep import sweep_runs
from app.models.run import Run
from runners.jobs import WORK_PREFIX
from tests.api.test_runs import MANIFEST, artifact_zip
from tests.runners.test_worker import REDIS_URL, ROOT, _wait_finished, live  # noqa: F401 — the live fixture

SCRIPT = ('import json, time\nprint("started", flush=True)\ntime.sleep(4)\n'
          'json.dump({"accuracy": 0.92}, open("metrics.json", "w"))\n')


def _worker(live, tmp: Path, *, burst: bool) -> subprocess.Popen:  # noqa: ANN001
    return subprocess.Popen([sys.executable, "-m", "runners.worker", "--rig-kind", "local", "--api", live["url"],
                             "--token", live["rig_token"], "--redis", REDIS_URL, *(["--burst"] if burst else [])],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "TMPDIR": str(tmp)}, start_new_session=True)


def _wait(predicate, what: str, timeout_s: float = 60):  # noqa: ANN001, ANN202
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_worker_killed_mid_run_leaves_nothing_behind_once_the_run_is_requeued(live, tmp_path):  # noqa: F811
    r = redis.Redis.from_url(REDIS_URL)
    for old in live["api"].get(live["runs"]).json():
        if not old["finished"]:
            live["api"].post(f"{live['runs']}/{old['id']}/cancel")
    up = live["api"].post(f"{live['runs'].removesuffix('/runs')}/artifact/archive", files={
        "file": ("code.zip", artifact_zip(MANIFEST, SCRIPT), "application/zip")})
    assert up.status_code == 201, up.text
    run = _wait(lambda: [x for x in live["api"].get(live["runs"]).json() if x["artifact_id"] == up.json()["id"]],
                "the smoke run")[0]
    run_id = run["id"]
    first_job = queue.job_id(run_id, 0)
    _wait(lambda: r.zscore("reproreview:local", first_job) is not None, "the job on the queue", 10)

    rig_tmp = tmp_path / "rig-tmp"
    rig_tmp.mkdir()
    doomed = _worker(live, rig_tmp, burst=False)
    try:
        _wait(lambda: "started" in live["api"].get(f"{live['runs']}/{run_id}/log").text, "the run to start")
        os.killpg(doomed.pid, signal.SIGKILL)  # the rig host's worker dies mid-run
        doomed.wait(10)
    finally:
        if doomed.poll() is None:
            os.killpg(doomed.pid, signal.SIGKILL)
    left = list(rig_tmp.glob(f"{WORK_PREFIX}*/rr-run-{run_id}-*"))
    assert left and (left[0] / "bundle.tar.gz").exists()  # the bundle and the code stay behind ...
    assert r.exists(f"arq:in-progress:{first_job}")  # ... and the job reads "in progress" for hours

    with Session(live["engine"], expire_on_commit=False) as db:  # a minute later the rig is silent
        row = db.get(Run, run_id)
        assert row.status == "running"
        row.heartbeat_at = row.heartbeat_at - timedelta(minutes=5)
        db.add(row)
        db.commit()
        report = sweep_runs(live["settings"], db, embedded=False)
    assert run_id in report.requeued
    second_job = queue.job_id(run_id, 1)
    _wait(lambda: r.zscore("reproreview:local", second_job) is not None, "the re-queued job", 10)
    assert not r.exists(f"arq:in-progress:{first_job}") and not r.exists(f"arq:job:{first_job}")
    assert r.zscore("reproreview:local", first_job) is None

    worker = _worker(live, rig_tmp, burst=True)
    try:
        finished, _seen = _wait_finished(live, run_id, timeout_s=90)
        out, _ = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    assert worker.returncode == 0, out
    assert finished["status"] == "passed" and finished["attempts"] == 2, (finished, out)
    assert list(rig_tmp.iterdir()) == [], "a worker's directory was left in the rig's temp dir"


def test_a_live_worker_s_directory_is_left_alone(tmp_path):  # noqa: ANN001
    from runners.jobs import claim_work_root, release_work_root, remove_dead_work_roots

    mine, fd = claim_work_root(tmp_path)
    (mine / "rr-run-3-abc").mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom runners.jobs import claim_work_root\n"
                               "root, fd = claim_work_root(sys.argv[1])\nprint(root, flush=True)\ntime.sleep(60)\n",
                               str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        other = Path(holder.stdout.readline().strip())
        assert other.is_dir()
        assert remove_dead_work_roots(tmp_path) == []  # both alive: both kept
        holder.kill()
        holder.wait(10)
        assert remove_dead_work_roots(tmp_path) == [other] and not other.exists()
        assert (mine / "rr-run-3-abc").is_dir()
    finally:
        if holder.poll() is None:
            holder.kill()
    release_work_root(mine, fd)
    assert not mine.exists()


pytestmark = pytest.mark.skipif(not __import__("runners.sandbox").sandbox.bwrap_available(),
                                reason="bubblewrap is needed: artifacts only run sandboxed")
