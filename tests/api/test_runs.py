"""Runs: who may queue and read them, the rig protocol (claim, bundle, log, heartbeat, result), cancel, expiry."""

import io
import re
import tarfile
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app import outbox
from app.models import AuditEvent, Submission
from app.models.run import Run
from app.services import runs as run_service
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
    """Record the runs handed to the queue after a commit instead of running them (the runner tests run them
    for real). The test's transaction never really commits, so the real handler would enqueue nothing."""
    calls: list[tuple[int, str]] = []
    monkeypatch.setitem(outbox._handlers, "run",
                        lambda bind, payloads: calls.extend((p["run_id"], p["rig_kind"]) for p in payloads))
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
    smoke = db.exec(select(Run).where(Run.submission_id == sub.id)).one()  # every new artifact gets a smoke run
    return {"venue": venue, "sub": sub, "other": other, "smoke_id": smoke.id, **cast}


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
    assert [x["id"] for x in listed] == [run["id"], world["smoke_id"]]
    assert [x["smoke"] for x in listed] == [False, True]
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
    assert [{k: c[k] for k in result["checks"][0]} for c in run["checks"]] == result["checks"]
    assert run["checks"][0]["text"] == "The int8 model reaches 91% accuracy" and run["checks"][0]["page"] == 3
    assert run["badges"] == ["available", "functional", "reproduced"]
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


# ---- smoke runs, server-side checks, claims, badges, GPUs, logs --------------------------------------

GPU_MANIFEST = MANIFEST.replace('rig = "local"', 'rig = "gpu"').replace('timeout = "1m"', 'timeout = "1m"\ngpus = 2')


def _finish(app, db, world, run_id: int, metrics: dict, *, checks: list | None = None,  # noqa: ANN001
            badges: list | None = None, status: str = "passed") -> None:
    """Claim the run with a fresh rig and post a result (checks and badges as the rig would claim them)."""
    _, token = new_rig(db, name=f"rig-{run_id}")
    rig = rig_client(app, token)
    assert rig.post(f"/api/v1/rig/runs/{run_id}/claim").status_code == 200
    r = rig.post(f"/api/v1/rig/runs/{run_id}/result", json={"status": status, "metrics": metrics,
                                                            "checks": checks or [], "badges": badges or []})
    assert r.status_code == 200, r.text


def test_every_new_artifact_version_gets_a_smoke_run(world, as_user, db, settings):
    r = as_user(world["student"]).post(f"/api/v1/venues/{world['venue'].slug}/submissions/1/artifact/archive",
                                       files={"file": ("code.zip", artifact_zip(), "application/zip")})
    assert r.status_code == 201, r.text
    runs = db.exec(select(Run).where(Run.submission_id == world["sub"].id).order_by(Run.id)).all()
    assert [(x.smoke, x.status, x.artifact_id) for x in runs][-1] == (True, "queued", r.json()["id"])
    assert len(runs) == 2 and runs[0].artifact_id != runs[1].artifact_id
    # an artifact without reproduce.toml cannot run: no smoke run for it
    submission_service.artifact_from_archive(db, settings, world["student"], world["venue"], world["sub"],
                                             artifact_zip(None), "code.zip")
    assert len(db.exec(select(Run).where(Run.submission_id == world["sub"].id)).all()) == 2


def test_a_smoke_run_is_enqueued_only_when_the_transaction_commits(monkeypatch, settings):
    from types import SimpleNamespace

    from sqlalchemy import create_engine
    from sqlmodel import Session

    from app.jobs import runs as queue

    calls: list = []
    monkeypatch.setattr(queue, "enqueue_run", lambda s, run_id, kind, **kw: calls.append((run_id, kind, kw)))
    engine = create_engine("sqlite://")
    with Session(engine) as s:
        s.connection()
        run_service.enqueue_after_commit(s, settings, SimpleNamespace(id=7, rig_kind="gpu", attempts=0))
        assert calls == [] and outbox.pending(s, "run")[0]["run_id"] == 7  # not before the commit
        s.commit()
    assert [(c[0], c[1], c[2]["attempt"]) for c in calls] == [(7, "gpu", 0)] and calls[0][2]["engine"] is engine
    with Session(engine) as s:
        s.connection()
        run_service.enqueue_after_commit(s, settings, SimpleNamespace(id=8, rig_kind="local", attempts=0))
        s.rollback()
        s.commit()
    assert len(calls) == 1  # a rolled-back run is never enqueued
    with engine.connect() as conn:  # a session inside someone else's transaction (as in tests) commits nothing
        outer = conn.begin()
        with Session(bind=conn, join_transaction_mode="create_savepoint") as s:
            run_service.enqueue_after_commit(s, settings, SimpleNamespace(id=9, rig_kind="local", attempts=0))
            s.commit()
        outer.rollback()
    assert len(calls) == 1


def test_the_server_recomputes_checks_and_badges_a_rig_cannot_forge_them(world, app, as_user, db, enqueued):
    run_id = as_user(world["student"]).post(url(world), json={}).json()["id"]
    forged = [{"claim": "C1", "metric": "accuracy", "claimed": 0.91, "measured": 0.95, "passed": True}]
    _finish(app, db, world, run_id, {"E1": {"accuracy": 0.5}}, checks=forged,
            badges=["available", "functional", "reproduced"])
    run = as_user(world["student"]).get(url(world, f"/{run_id}")).json()
    assert run["status"] == "failed" and "claim C1" in run["reason"]
    assert len(run["checks"]) == 1 and run["checks"][0]["measured"] == 0.5 and run["checks"][0]["passed"] is False
    assert run["badges"] == ["available", "functional"]
    # metrics missing an experiment: not functional, whatever the rig says
    run_id = as_user(world["student"]).post(url(world), json={}).json()["id"]
    _finish(app, db, world, run_id, {}, badges=["available", "functional", "reproduced"])
    run = as_user(world["student"]).get(url(world, f"/{run_id}")).json()
    assert run["status"] == "failed" and run["reason"] == "experiment E1 reported no metrics"
    assert run["badges"] == ["available"]


def claim_body(**changes) -> dict:  # noqa: ANN003
    body = {"key": "C2", "text": "Latency stays under 20 ms", "page": 5, "experiment": "E1", "metric": "latency_ms",
            "value": 20, "direction": "at_most", "tolerance": "10%"}
    return {**body, **changes}


def test_authors_add_edit_and_delete_claims_checked_against_the_manifest(world, app, as_user, db, enqueued):
    c = as_user(world["student"])
    claims_url = f"/api/v1/venues/{world['venue'].slug}/submissions/1/claims"
    r = c.post(claims_url, json=claim_body())
    assert r.status_code == 201, r.text
    assert [(x["key"], x["source"]) for x in r.json()] == [("C1", "manifest"), ("C2", "form")]
    claim_id = r.json()[1]["id"]
    bad = c.post(claims_url, json=claim_body(key="C3", experiment="E9", tolerance="ten"))
    assert bad.status_code == 422 and "Experiment 'E9' is not in" in bad.json()["detail"]
    assert "tolerance" in bad.json()["detail"]
    assert c.post(claims_url, json=claim_body(key="C1")).status_code == 422  # reproduce.toml has C1
    assert c.post(claims_url, json=claim_body()).status_code == 422  # C2 exists
    r = c.put(f"{claims_url}/{claim_id}", json=claim_body(value=25))
    assert r.status_code == 200 and r.json()[1]["value"] == 25

    # a run's checks cover both claims; the claims table shows the latest run's measurement
    run_id = c.post(url(world), json={}).json()["id"]
    _finish(app, db, world, run_id, {"E1": {"accuracy": 0.92, "latency_ms": 30.0}})
    run = c.get(url(world, f"/{run_id}")).json()
    assert [(x["claim"], x["passed"], x["source"]) for x in run["checks"]] == [("C1", True, "manifest"),
                                                                              ("C2", False, "form")]
    assert run["status"] == "failed" and run["badges"] == ["available", "functional"]
    table = {x["key"]: x for x in c.get(claims_url).json()}
    assert table["C2"]["measured"] == 30.0 and table["C2"]["passed"] is False and table["C1"]["passed"] is True

    assert c.delete(f"{claims_url}/{claim_id}").status_code == 204
    assert [x["key"] for x in c.get(claims_url).json()] == ["C1"]
    actions = {e.action for e in db.exec(select(AuditEvent).where(AuditEvent.action.like("claim.%"))).all()}
    assert actions == {"claim.create", "claim.update", "claim.delete"}


@pytest.mark.parametrize(("role", "status"), [("student", 201), ("chair", 201), ("admin", 201), ("ta", 403),
                                              ("other", 404), ("reviewer", 404), ("loner", 404), ("outsider", 404)])
def test_who_may_change_claims(world, as_user, role, status):
    c = as_user(world[role])
    claims_url = f"/api/v1/venues/{world['venue'].slug}/submissions/1/claims"
    assert c.post(claims_url, json=claim_body()).status_code == status
    if status == 201:
        claim_id = c.get(claims_url).json()[1]["id"]
        assert c.put(f"{claims_url}/{claim_id}", json=claim_body(value=1)).status_code == 200
        assert c.delete(f"{claims_url}/{claim_id}").status_code == 204


def test_claims_close_with_the_submission_phase_for_authors(world, as_user, db):
    world["venue"].phase = "review"
    db.add(world["venue"])
    db.commit()
    claims_url = f"/api/v1/venues/{world['venue'].slug}/submissions/1/claims"
    assert as_user(world["student"]).post(claims_url, json=claim_body()).status_code == 403
    assert as_user(world["chair"]).post(claims_url, json=claim_body()).status_code == 201


def test_chair_confirms_and_overrides_badges_with_a_reason(world, app, as_user, db, enqueued):
    badges_url = f"/api/v1/venues/{world['venue'].slug}/submissions/1/badges"
    before = {b["badge"]: b for b in as_user(world["student"]).get(badges_url).json()}
    assert before["available"]["granted"] and not before["reproduced"]["granted"]
    assert before["reproduced"]["label"] == "Results Reproduced"
    chair = as_user(world["chair"])
    assert chair.put(f"{badges_url}/reproduced", json={"granted": True, "reason": ""}).status_code == 422
    assert as_user(world["student"]).put(f"{badges_url}/reproduced",
                                         json={"granted": True, "reason": "we say so"}).status_code == 403
    assert as_user(world["ta"]).put(f"{badges_url}/reproduced",
                                    json={"granted": True, "reason": "looks fine"}).status_code == 403
    r = chair.put(f"{badges_url}/reproduced", json={"granted": True, "reason": "Re-ran it on the lab H100 by hand."})
    assert r.status_code == 200 and r.json()["granted"] and r.json()["decision"] == "overridden"
    r = chair.put(f"{badges_url}/available", json={"granted": True, "reason": "Snapshot checked."})
    assert r.json()["decision"] == "confirmed"
    after = {b["badge"]: b for b in as_user(world["student"]).get(badges_url).json()}
    assert after["reproduced"]["granted"] and after["reproduced"]["reason"] == "Re-ran it on the lab H100 by hand."
    events = db.exec(select(AuditEvent).where(AuditEvent.action == "badge.decide")).all()
    assert len(events) == 2 and "reproduced" in events[0].summary
    assert chair.put(f"{badges_url}/reproduced", json={"granted": None}).json()["decision"] == "automatic"
    assert chair.put(f"{badges_url}/shiny", json={"granted": True, "reason": "why not"}).status_code == 422
    # a run that reproduces every claim earns the badge without a decision
    run_id = as_user(world["student"]).post(url(world), json={}).json()["id"]
    _finish(app, db, world, run_id, {"E1": {"accuracy": 0.93}})
    assert {b["badge"]: b["granted"] for b in as_user(world["student"]).get(badges_url).json()} == \
        {"available": True, "functional": True, "reproduced": True}


def test_a_gpu_rig_with_too_few_gpus_leaves_the_run_queued(world, app, as_user, db, settings, enqueued):
    submission_service.artifact_from_archive(db, settings, world["student"], world["venue"], world["sub"],
                                             artifact_zip(GPU_MANIFEST), "code.zip")
    db.commit()
    smoke = db.exec(select(Run).where(Run.submission_id == world["sub"].id).order_by(Run.id.desc())).first()
    assert smoke.rig_kind == "gpu" and smoke.gpus == 2 and smoke.reason == "waiting for a rig with ≥ 2 GPUs"
    assert as_user(world["student"]).get(url(world, f"/{smoke.id}")).json()["gpus"] == 2
    _, token = new_rig(db, kind="gpu", name="one-gpu")
    rig = rig_client(app, token)
    rig.post("/api/v1/rig/heartbeat", json={"facts": {"gpus": [{"name": "NVIDIA H100"}]}})
    r = rig.post(f"/api/v1/rig/runs/{smoke.id}/claim")
    assert r.status_code == 409 and r.json()["code"] == "too-few-gpus" and "at least 2 GPUs" in r.json()["detail"]
    db.refresh(smoke)
    assert smoke.status == "queued" and smoke.reason == "waiting for a rig with ≥ 2 GPUs"
    page = as_user(world["student"]).get(f"/venues/{world['venue'].slug}/submission").text
    assert "waiting for a rig with ≥ 2 GPUs" in page
    _, big = new_rig(db, kind="gpu", name="two-gpus")
    big_rig = rig_client(app, big)
    big_rig.post("/api/v1/rig/heartbeat", json={"facts": {"gpus": [{"name": "H100"}, {"name": "H100"}]}})
    assert big_rig.post(f"/api/v1/rig/runs/{smoke.id}/claim").status_code == 200


def test_logs_are_anonymized_for_readers_outside_the_group_and_staff(world, as_user, db, enqueued):
    from app.security import permissions

    run_id = as_user(world["student"]).post(url(world), json={}).json()["id"]
    rig, _ = new_rig(db)
    run = run_service.claim_run(db, rig, run_id)
    email = world["student"].email
    run_service.append_log(db, rig, run, f"training by Stu Dent <{email}>\nacc 0.92\n")
    db.commit()
    assert "Stu Dent" in as_user(world["student"]).get(url(world, f"/{run_id}/log")).text
    masked = run_service.read_log(db, run, anonymize=True)
    assert "Stu Dent" not in masked and email not in masked and "[anonymized]" in masked and "acc 0.92" in masked
    assert "Stu Dent" not in run_service.log_tail(db, run, anonymize=True)
    m = world["members"]
    assert not permissions.can_read_run_logs_unmasked(permissions.standing(db, world["reviewer"], m["reviewer"],
                                                                           world["sub"]))
    assert permissions.can_read_run_logs_unmasked(permissions.standing(db, world["student"], m["student"], world["sub"]))
    r = as_user(world["student"]).get(url(world, f"/{run_id}/log?download=1"))
    assert r.headers["content-disposition"] == f'attachment; filename="run-{run_id}.log"'


def test_submission_page_runs_section_run_now_and_claims_form(world, app, browser_login, db, enqueued):
    c = browser_login(world["student"])
    slug = world["venue"].slug
    page = c.get(f"/venues/{slug}/submission").text
    assert 'id="runs"' in page and f'id="run-{world["smoke_id"]}"' in page and 'hx-trigger="every 2s"' in page
    assert "Run now" in page and 'id="claims"' in page and "Results Reproduced" in page
    r = c.post(f"/venues/{slug}/submission/runs", data={"csrf_token": c.csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert len(db.exec(select(Run).where(Run.submission_id == world["sub"].id)).all()) == 2
    r = c.post(f"/venues/{slug}/submission/claims", data={"csrf_token": c.csrf, **{
        k: str(v) for k, v in claim_body().items()}}, follow_redirects=False)
    assert r.status_code == 303
    page = c.get(f"/venues/{slug}/submission").text
    assert 'data-claim="C2"' in page and "Latency stays under 20 ms" in page and "Claim C2 added." in page
    r = c.post(f"/venues/{slug}/submission/claims", data={"csrf_token": c.csrf, **{
        k: str(v) for k, v in claim_body(key="C4", experiment="nope").items()}}, follow_redirects=True)
    assert "is not in the artifact" in r.text
    assert c.post(f"/venues/{slug}/submission/runs", data={}, follow_redirects=False).status_code == 403  # CSRF


def test_staff_runs_page_and_badge_form(world, browser_login, db):
    c = browser_login(world["chair"])
    slug = world["venue"].slug
    page = c.get(f"/venues/{slug}/submissions/1/runs").text
    assert f'id="run-{world["smoke_id"]}"' in page and "Grant" in page
    r = c.post(f"/venues/{slug}/submissions/1/badges/functional",
               data={"csrf_token": c.csrf, "decision": "grant", "reason": "Ran it by hand"}, follow_redirects=True)
    assert "Artifacts Evaluated — Functional: granted (overridden)." in r.text
    ta = browser_login(world["ta"])
    assert "Grant" not in ta.get(f"/venues/{slug}/submissions/1/runs").text


def test_one_fragment_drives_the_runs_table_and_the_status_blocks(world, app, as_user, browser_login, db,  # noqa: ANN001
                                                                   enqueued):
    """Issue 17: the table and the status block come from one fragment, so a finished run is never "queued" with a
    cancel link in the table; the words tell a claim that missed from a run that broke."""
    c = browser_login(world["student"])
    live = f"/venues/{world['venue'].slug}/submissions/1/runs/live"
    smoke = world["smoke_id"]
    r = c.get(live, headers={"HX-Request": "true"})
    assert r.status_code == 200 and 'id="runs-live"' in r.text and 'hx-trigger="every 2s"' in r.text
    assert "HX-Trigger" not in r.headers and r.text.count('hx-trigger="every 2s"') == 1  # the blocks do not poll
    row = re.search(rf'<tr data-run="{smoke}">.*?</tr>', r.text, re.S).group(0)
    assert 'data-status="queued"' in row and ">cancel</button>" in row
    assert f'id="run-{smoke}"' in r.text and "Queued: waiting for a local rig" in r.text

    # the code ran, its claim missed: "the code ran", not "failed", in both places; the polling stops
    _finish(app, db, world, smoke, {"E1": {"accuracy": 0.5}})
    r = c.get(live, headers={"HX-Request": "true"})
    assert "hx-trigger" not in r.text and r.headers["HX-Trigger"] == "runs-finished"
    row = re.search(rf'<tr data-run="{smoke}">.*?</tr>', r.text, re.S).group(0)
    assert 'data-status="failed"' in row and 'data-outcome="partial"' in row and "cancel" not in row
    assert "code ran · 1 of 1 claim not reproduced" in row
    block = re.search(rf'<div id="run-{smoke}".*?</div>', r.text, re.S).group(0)
    assert "The code ran; 1 of 1 claim not reproduced" in block and "The run failed" not in block
    assert 'class="reason">claim C1' in block

    # a command that broke: "the run failed: <reason>", in red
    run_id = as_user(world["student"]).post(url(world), json={}).json()["id"]
    _, token = new_rig(db, name="breaker")
    rig = rig_client(app, token)
    assert rig.post(f"/api/v1/rig/runs/{run_id}/claim").status_code == 200
    assert rig.post(f"/api/v1/rig/runs/{run_id}/result", json={
        "status": "failed", "reason": "experiment E1: exit status 1", "metrics": {}}).status_code == 200
    r = c.get(live, headers={"HX-Request": "true"})
    block = re.search(rf'<div id="run-{run_id}".*?</div>', r.text, re.S).group(0)
    assert 'data-outcome="bad"' in block and "The run failed" in block and "experiment E1: exit status 1" in block
    assert "The code ran" not in block
    # the staff's runs page and the authors' page include the same fragment
    staff = browser_login(world["chair"]).get(f"/venues/{world['venue'].slug}/submissions/1/runs").text
    assert 'id="runs-live"' in staff and "The run failed" in staff

