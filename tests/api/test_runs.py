"""Runs: who may queue and read them, the rig protocol (claim, bundle, log, heartbeat, result), cancel, expiry."""

import io
import tarfile
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.artifacts import runs as run_service
from app.models import AuditEvent, Submission
from app.models.run import Run
from app.services import submissions as submission_service

MANIFEST = """\
[artifact]
rig = "local"
timeout = "2m"

[[experiment]]
id = "E1"
command = "python3 run.py"
metrics = "metrics.json"
timeout = "1m"

[[claim]]
id = "C1"
text = "The int8 model reaches 91% accuracy"
page = 3
experiment = "E1"
metric = "accuracy"
value = 0.91
direction = "at_least"
tolerance = "2%"
"""
SCRIPT = 'import json\nprint("training…")\njson.dump({"accuracy": 0.92}, open("metrics.json", "w"))\n'


def artifact_zip(manifest: str | None = MANIFEST, script: str = SCRIPT) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        if manifest is not None:
            z.writestr("reproduce.toml", manifest)
        z.writestr("run.py", script)
    return buf.getvalue()


@pytest.fixture
def enqueued(monkeypatch):  # noqa: ANN001, ANN201
    """Record what would go to the queue instead of running it (the runner tests run it for real)."""
    calls: list[tuple[int, str]] = []
    monkeypatch.setattr("app.artifacts.queue.enqueue_run",
                        lambda settings, run_id, rig_kind, **kw: calls.append((run_id, rig_kind)))
    return calls


@pytest.fixture
def world(make, db, settings):  # noqa: ANN001, ANN201
    """A venue in the submission phase, its cast, and Team Alpha's submission #1 with a valid artifact."""
    venue = make.venue(phase="submission")
    cast = make.cast(venue)
    member = cast["members"]["student"]
    sub = submission_service.save_submission(db, cast["student"], venue, member, title="Int8 keyword spotting",
                                             abstract="", keywords="tinyml")
    submission_service.artifact_from_archive(db, settings, cast["student"], venue, sub, artifact_zip(), "code.zip")
    other_group = make.group(venue, "Team Beta")
    other, other_m = make.member(venue, group=other_group, name="Other Student")
    db.commit()
    return {"venue": venue, "sub": sub, "other": other, **cast}


def url(world, tail: str = "") -> str:  # noqa: ANN001
    return f"/api/v1/venues/{world['venue'].slug}/submissions/{world['sub'].number}/runs{tail}"


def new_rig(db, kind: str = "local", name: str = "bench") -> tuple:  # noqa: ANN001
    rig, token = run_service.create_rig(db, None, name=name, kind=kind)
    db.commit()
    return rig, token


def rig_client(app, token: str) -> TestClient:  # noqa: ANN001
    return TestClient(app, headers={"Authorization": f"Bearer {token}"})


def test_author_queues_a_run_and_it_is_enqueued_after_commit(world, as_user, db, enqueued):
    r = as_user(world["student"]).post(url(world), json={})
    assert r.status_code == 201, r.text
    run = r.json()
    assert run["status"] == "queued" and run["rig_kind"] == "local" and run["attempts"] == 0
    assert enqueued == [(run["id"], "local")]
    assert "requested_by" not in run  # no identities in run answers
    listed = as_user(world["student"]).get(url(world)).json()
    assert [x["id"] for x in listed] == [run["id"]]
    assert as_user(world["ta"]).get(url(world, f"/{run['id']}")).json()["status"] == "queued"
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "run.request")).first() is not None


def test_other_group_reviewer_and_outsider_cannot_see_or_start_runs(world, as_user, enqueued):
    for who in ("other", "reviewer", "outsider", "loner"):
        c = as_user(world[who])
        assert c.post(url(world), json={}).status_code == 404, who
        assert c.get(url(world)).status_code == 404, who
    assert enqueued == []
    assert as_user(world["ta"]).post(url(world), json={"smoke": True}).json()["smoke"] is True


def test_a_run_needs_an_artifact_with_a_valid_manifest(world, as_user, db, settings, enqueued):
    # A manifest with mistakes is refused at upload; an artifact without one is stored but cannot run.
    submission_service.artifact_from_archive(db, settings, world["student"], world["venue"], world["sub"],
                                             artifact_zip(None), "code.zip")
    db.commit()
    r = as_user(world["student"]).post(url(world), json={})
    assert r.status_code == 409 and "reproduce.toml has problems" in r.json()["detail"]
    assert enqueued == []


def test_rigs_are_registered_by_chairs_and_admins_only(world, as_user):
    r = as_user(world["chair"]).post("/api/v1/rigs", json={"name": "gpu-lab-1", "kind": "gpu", "gpus": 2})
    assert r.status_code == 201 and r.json()["token"].startswith("rig_") and r.json()["kind"] == "gpu"
    listed = as_user(world["admin"]).get("/api/v1/rigs").json()
    assert [x["name"] for x in listed] == ["gpu-lab-1"] and listed[0]["token"] is None
    assert as_user(world["student"]).post("/api/v1/rigs", json={"name": "mine"}).status_code == 403
    assert as_user(world["ta"]).get("/api/v1/rigs").status_code == 403
    r = as_user(world["admin"]).post("/api/v1/rigs", json={"name": "x", "kind": "quantum"})
    assert r.status_code == 422 and "local, gpu, notebook, mcu" in r.json()["detail"]
    assert "gpu-lab-1" in as_user(world["admin"]).get("/rigs").text


def test_rig_protocol_claim_log_heartbeat_result(world, app, as_user, db, settings, enqueued):
    run_id = as_user(world["student"]).post(url(world), json={}).json()["id"]
    _, token = new_rig(db)
    _, other_token = new_rig(db, name="second")
    _, gpu_token = new_rig(db, kind="gpu", name="gpu")
    assert rig_client(app, "rig_wrong").post(f"/api/v1/rig/runs/{run_id}/claim").status_code == 401
    assert as_user(world["chair"]).post(f"/api/v1/rig/runs/{run_id}/claim").status_code == 401  # users are not rigs
    assert rig_client(app, gpu_token).post(f"/api/v1/rig/runs/{run_id}/claim").status_code == 403
    rig = rig_client(app, token)
    assert rig.get(f"/api/v1/rig/runs/{run_id}/bundle").status_code == 409  # not claimed yet

    r = rig.post(f"/api/v1/rig/runs/{run_id}/claim")
    assert r.status_code == 200, r.text
    claim = r.json()
    assert claim["manifest"] == MANIFEST and claim["limits"]["log_max_bytes"] > 0 and claim["attempt"] == 1
    r = rig_client(app, other_token).post(f"/api/v1/rig/runs/{run_id}/claim")
    assert r.status_code == 409 and "running" in r.json()["detail"]

    bundle = rig.get(f"/api/v1/rig/runs/{run_id}/bundle")
    assert bundle.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(bundle.content)) as tar:
        assert {"reproduce.toml", "run.py"} <= set(tar.getnames())
    assert rig_client(app, other_token).get(f"/api/v1/rig/runs/{run_id}/bundle").status_code == 409

    assert rig.post(f"/api/v1/rig/runs/{run_id}/log", json={"text": "line one\n", "seq": 0}).json()["stop"] is False
    rig.post(f"/api/v1/rig/runs/{run_id}/log", json={"text": "line two\n", "seq": 1})
    rig.post(f"/api/v1/rig/runs/{run_id}/log", json={"text": "line two\n", "seq": 1})  # a retry is ignored
    assert rig.post(f"/api/v1/rig/runs/{run_id}/heartbeat").json() == {"run_id": run_id, "status": "running",
                                                                       "stop": False}
    log = as_user(world["student"]).get(url(world, f"/{run_id}/log"))
    assert log.status_code == 200 and log.text == "line one\nline two\n"
    assert log.headers["content-type"].startswith("text/plain")

    result = {"status": "passed", "reason": None, "metrics": {"E1": {"accuracy": 0.92}},
              "checks": [{"claim": "C1", "metric": "accuracy", "claimed": 0.91, "measured": 0.92, "passed": True}],
              "badges": ["available", "functional", "reproduced", "bogus"], "facts": {"cpu": "test"},
              "duration_s": 1.5}
    r = rig.post(f"/api/v1/rig/runs/{run_id}/result", json=result)
    assert r.status_code == 200 and r.json()["stop"] is True
    run = as_user(world["student"]).get(url(world, f"/{run_id}")).json()
    assert run["status"] == "passed" and run["finished"] and run["duration_s"] == 1.5
    assert run["checks"] == result["checks"] and run["badges"] == ["available", "functional", "reproduced"]
    assert run["metrics"] == {"E1": {"accuracy": 0.92}} and run["facts"] == {"cpu": "test"}
    assert rig.post(f"/api/v1/rig/runs/{run_id}/result", json=result).status_code == 409
    assert rig.post(f"/api/v1/rig/runs/{run_id}/log", json={"text": "late\n"}).json()["stop"] is True
    fragment = as_user(world["student"]).get(f"/venues/{world['venue'].slug}/submissions/1/runs/{run_id}/status")
    assert "passed" in fragment.text and "hx-trigger" not in fragment.text and "C1" in fragment.text


def test_cancel_a_queued_and_a_running_run(world, app, as_user, db, enqueued):
    c = as_user(world["student"])
    queued_id = c.post(url(world), json={}).json()["id"]
    fragment = c.get(f"/venues/{world['venue'].slug}/submissions/1/runs/{queued_id}/status").text
    assert 'hx-trigger="every 2s"' in fragment  # it polls while the run is not finished
    assert c.post(url(world, f"/{queued_id}/cancel")).json()["status"] == "cancelled"
    assert c.post(url(world, f"/{queued_id}/cancel")).status_code == 409
    _, token = new_rig(db)
    rig = rig_client(app, token)
    assert rig.post(f"/api/v1/rig/runs/{queued_id}/claim").status_code == 409

    running_id = c.post(url(world), json={}).json()["id"]
    assert rig.post(f"/api/v1/rig/runs/{running_id}/claim").status_code == 200
    assert as_user(world["other"]).post(url(world, f"/{running_id}/cancel")).status_code == 404
    assert as_user(world["chair"]).post(url(world, f"/{running_id}/cancel")).status_code == 200
    assert rig.post(f"/api/v1/rig/runs/{running_id}/heartbeat").json()["stop"] is True
    r = rig.post(f"/api/v1/rig/runs/{running_id}/result", json={"status": "passed"})
    assert r.status_code == 409
    assert c.get(url(world, f"/{running_id}")).json()["status"] == "cancelled"


def test_expire_stale_runs_requeues_then_fails_after_max_attempts(world, as_user, db, enqueued):
    run_id = as_user(world["student"]).post(url(world), json={}).json()["id"]
    rig, _ = new_rig(db)
    t0 = datetime.now(UTC)
    for attempt in (1, 2):
        run_service.claim_run(db, rig, run_id, now=t0)
        assert run_service.expire_stale_runs(db, t0 + timedelta(seconds=30), ttl_s=60, max_attempts=2) == []
        assert run_service.expire_stale_runs(db, t0 + timedelta(seconds=61), ttl_s=60, max_attempts=2) == \
            ([run_id] if attempt == 1 else [])
        db.commit()
        run = db.get(Run, run_id)
        if attempt == 1:
            assert run.status == "queued" and run.rig_id is None and "stopped answering" in run.reason
    assert run.status == "failed" and run.reason == "the rig stopped answering" and run.attempts == 2
    assert run.finished_at is not None


def test_a_rig_heartbeat_sweeps_silent_runs_back_onto_the_queue(world, app, as_user, db, enqueued):
    run_id = as_user(world["student"]).post(url(world), json={}).json()["id"]
    rig, token = new_rig(db)
    run_service.claim_run(db, rig, run_id, now=datetime.now(UTC) - timedelta(hours=1))
    db.commit()
    r = rig_client(app, token).post("/api/v1/rig/heartbeat", json={"facts": {"cpu": "x", "gpus": []}})
    assert r.status_code == 200
    assert enqueued[-1] == (run_id, "local")
    db.refresh(db.get(Run, run_id))
    assert db.get(Run, run_id).status == "queued"
    # The rig that lost the run is told so, and cannot post into it any more.
    assert rig_client(app, token).post(f"/api/v1/rig/runs/{run_id}/heartbeat").status_code == 409


def test_log_is_capped_with_a_marker(world, as_user, db, monkeypatch, enqueued):
    monkeypatch.setattr(run_service, "LOG_CAP_BYTES", 100)
    run_id = as_user(world["student"]).post(url(world), json={}).json()["id"]
    rig, _ = new_rig(db)
    run = run_service.claim_run(db, rig, run_id)
    for i in range(5):
        run_service.append_log(db, rig, run, "x" * 40 + "\n")
    text = run_service.read_log(db, run)
    assert text.count("x") == 100 - 2 and "[log truncated" in text and run.log_bytes == 100
    assert db.exec(select(Submission)).first() is not None
