"""Rigs serve the venues their creator chairs: a chair's rig cannot claim another venue's runs or download its
original bundles; only site admins register site-wide rigs; a rig that loses its scope loses its runs' bundles."""

import pytest
from sqlmodel import select

from app.models import AuditEvent, Rig
from app.models.run import Run
from tests.api.test_runs import enqueued, rig_client, world  # noqa: F401 — fixtures and helpers of the runs tests


@pytest.fixture
def two_venues(world, make, db):  # noqa: ANN001, ANN201, F811
    """`world` (venue A with a queued smoke run) and venue B with a chair of its own."""
    other = make.venue(phase="submission")
    chair_b, _ = make.member(other, "chair", name="Other Chair")
    db.commit()
    return {**world, "venue_b": other, "chair_b": chair_b}


def _register(as_user, who, **body) -> tuple[int, str]:  # noqa: ANN001
    r = as_user(who).post("/api/v1/rigs", json={"name": body.pop("name", "bench"), "kind": "local", **body})
    assert r.status_code == 201, r.text
    return r.json()["id"], r.json()["token"]


def test_a_chairs_rig_cannot_claim_another_venues_run(two_venues, app, as_user, db):
    w = two_venues
    rig_id, token = _register(as_user, w["chair_b"])
    r = rig_client(app, token).post(f"/api/v1/rig/runs/{w['smoke_id']}/claim")
    assert r.status_code == 403 and r.json()["code"] == "rig-out-of-scope"
    assert "does not serve" in r.json()["detail"]
    run = db.get(Run, w["smoke_id"])
    db.refresh(run)
    assert run.status == "queued" and run.rig_id is None and run.attempts == 0  # nothing changed
    # Nor can it download the run's original bundle, claimed or not.
    assert rig_client(app, token).get(f"/api/v1/rig/runs/{w['smoke_id']}/bundle").status_code in (403, 409)
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "run.claim")).first() is None


def test_a_chairs_rig_serves_the_venues_they_chair(two_venues, app, as_user, db):
    w = two_venues
    _rig_id, token = _register(as_user, w["chair"])
    rig = rig_client(app, token)
    assert rig.post(f"/api/v1/rig/runs/{w['smoke_id']}/claim").status_code == 200
    bundle = rig.get(f"/api/v1/rig/runs/{w['smoke_id']}/bundle")
    assert bundle.status_code == 200 and bundle.content[:2] == b"\x1f\x8b"


def test_a_rig_whose_creator_stops_chairing_loses_the_venues_runs(two_venues, app, as_user, db):
    w = two_venues
    _rig_id, token = _register(as_user, w["chair"])
    rig = rig_client(app, token)
    run_id = w["smoke_id"]
    assert rig.post(f"/api/v1/rig/runs/{run_id}/claim").status_code == 200
    chair_m = w["members"]["chair"]
    chair_m.role = "ta"
    db.add(chair_m)
    db.commit()
    for method, tail, body in (("GET", "bundle", None), ("POST", "log", {"text": "x"}), ("POST", "heartbeat", None),
                               ("POST", "result", {"status": "passed"})):
        r = rig.request(method, f"/api/v1/rig/runs/{run_id}/{tail}", json=body)
        assert r.status_code == 403 and r.json()["code"] == "rig-out-of-scope", (tail, r.status_code, r.text)
    run = db.get(Run, run_id)
    db.refresh(run)
    assert run.status == "running" and run.metrics in ({}, None)  # the result was not taken


def test_only_site_admins_register_site_wide_rigs(two_venues, app, as_user, db):
    w = two_venues
    r = as_user(w["chair_b"]).post("/api/v1/rigs", json={"name": "everything", "kind": "local", "site_wide": True})
    assert r.status_code == 403 and "site admins" in r.json()["detail"]
    assert db.exec(select(Rig).where(Rig.name == "everything")).first() is None
    rig_id, token = _register(as_user, w["admin"], name="campus-gpu", site_wide=True)
    assert rig_client(app, token).post(f"/api/v1/rig/runs/{w['smoke_id']}/claim").status_code == 200
    listed = {x["name"]: x for x in as_user(w["admin"]).get("/api/v1/rigs").json()}
    assert listed["campus-gpu"]["site_wide"] is True and listed["campus-gpu"]["venues"] is None


def test_chairs_list_only_the_rigs_that_serve_their_venues(two_venues, app, as_user, db, make):
    w = two_venues
    _register(as_user, w["chair"], name="rig-of-a")
    _register(as_user, w["chair_b"], name="rig-of-b")
    _register(as_user, w["admin"], name="site-rig", site_wide=True)
    co_chair, _ = make.member(w["venue"], "chair", name="Co Chair")
    db.commit()
    names = lambda who: sorted(x["name"] for x in as_user(who).get("/api/v1/rigs").json())  # noqa: E731
    assert names(w["chair"]) == names(co_chair) == ["rig-of-a", "site-rig"]
    assert names(w["chair_b"]) == ["rig-of-b", "site-rig"]
    assert names(w["admin"]) == ["rig-of-a", "rig-of-b", "site-rig"]
    mine = next(x for x in as_user(w["chair"]).get("/api/v1/rigs").json() if x["name"] == "rig-of-a")
    assert mine["site_wide"] is False and mine["venues"] == [w["venue"].slug]
    page = as_user(w["chair_b"]).get("/rigs").text
    assert "rig-of-b" in page and "rig-of-a" not in page and "every venue (site-wide)" in page
    assert 'name="site_wide"' not in page and 'name="site_wide"' in as_user(w["admin"]).get("/rigs").text


def test_the_rigs_form_refuses_a_chairs_site_wide_rig(two_venues, browser_login, db):
    w = two_venues
    c = browser_login(w["chair_b"])
    r = c.post("/rigs", data={"name": "sneaky", "kind": "local", "site_wide": "true", "csrf_token": c.csrf})
    assert "Only site admins register site-wide rigs" in r.text
    assert db.exec(select(Rig).where(Rig.name == "sneaky")).first() is None
    r = c.post("/rigs", data={"name": "mine", "kind": "local", "csrf_token": c.csrf})
    assert "registered. Its token, shown only now" in r.text
    assert db.exec(select(Rig).where(Rig.name == "mine")).one().site_wide is False


def test_a_worker_leaves_a_run_it_does_not_serve_for_another_rig():
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from arq.worker import Retry

    from runners.client import RigApiError
    from runners.jobs import OUT_OF_SCOPE, execute_run, run_artifact

    class OtherVenuesRig:
        def claim(self, run_id: int) -> dict:
            raise RigApiError(403, f"Run {run_id} belongs to a venue this rig does not serve", OUT_OF_SCOPE)

    assert execute_run(OtherVenuesRig(), 7) == OUT_OF_SCOPE
    with pytest.raises(Retry), ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run_artifact({"client": OtherVenuesRig()}, 7)).result()
