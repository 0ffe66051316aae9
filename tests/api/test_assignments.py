"""Reviewer assignment through the API and the CLI, with the real embedding model."""

from sqlmodel import func, select

from app.models import AuditEvent
from app.models.assignment import Assignment
from app.services.submissions import save_submission

TOPICS = {
    "Tiny A": ("Keyword spotting on the Arduino Nano 33 BLE Sense with TFLite Micro",
               "An int8 quantised depthwise CNN for keyword spotting runs on a Cortex-M4 microcontroller within "
               "256 KB of RAM; we measure latency and accuracy on the device."),
    "Tiny B": ("Gesture recognition on a microcontroller with an int8 1D CNN",
               "We quantise a small convolutional network to int8 and deploy it with TensorFlow Lite Micro on an "
               "nRF52840 microcontroller, reporting flash, RAM and on-device latency."),
    "Dist A": ("Pipeline parallel training of GPT-2 across four GPUs",
               "We compare GPipe and 1F1B pipeline schedules for data and model parallel transformer training on "
               "a multi-GPU cluster, measuring throughput and activation memory."),
    "Dist B": ("ZeRO sharded data parallel training of a 1.3B transformer",
               "Sharding optimizer state, gradients and parameters across eight GPUs with DeepSpeed ZeRO reduces "
               "memory per GPU for distributed training at some throughput cost."),
}


def _venue(make, db, phase="assignment"):  # noqa: ANN001, ANN202
    venue = make.venue(phase="submission")
    chair, _ = make.member(venue, "chair", name="Chair")
    people = {}
    for name, (title, abstract) in TOPICS.items():
        group = make.group(venue, name)
        members = [make.member(venue, "student", group=group, name=f"{name} student {i}") for i in range(2)]
        save_submission(db, members[0][0], venue, members[0][1], title=title, abstract=abstract, keywords=[])
        people[name] = members
    venue.phase = phase
    db.add(venue)
    db.commit()
    return venue, chair, people


def test_solve_respects_conflicts_loads_and_matches_topics(make, db, as_user):  # noqa: ANN001
    venue, chair, people = _venue(make, db)
    c = as_user(chair)
    dry = c.post(f"/api/v1/venues/{venue.slug}/assignment/solve", json={"k": 2, "max_load": 2, "dry_run": True})
    assert dry.status_code == 200, dry.text
    assert dry.json()["stats"]["added"] == 8
    assert db.exec(select(func.count()).select_from(Assignment)).one() == 0
    r = c.post(f"/api/v1/venues/{venue.slug}/assignment/solve", json={"k": 2, "max_load": 2})
    assert r.status_code == 200, r.text
    rows = c.get(f"/api/v1/venues/{venue.slug}/assignments").json()
    assert len(rows) == 8
    group_of = {m.id: name for name, ms in people.items() for _u, m in ms}
    by_sub: dict[int, set[str]] = {}
    for row in rows:
        by_sub.setdefault(row["submission"], set()).add(group_of[row["member_id"]])
        assert 0 <= row["affinity"] <= 1
    numbers = {name: i + 1 for i, name in enumerate(TOPICS)}
    for name in TOPICS:
        assert name not in by_sub[numbers[name]]  # never their own paper
    # Close topics attract each other's authors: both TinyML papers are reviewed by the other TinyML group.
    assert by_sub[numbers["Tiny A"]] == {"Tiny B"} and by_sub[numbers["Tiny B"]] == {"Tiny A"}
    assert by_sub[numbers["Dist A"]] == {"Dist B"}
    loads: dict[int, int] = {}
    for row in rows:
        loads[row["member_id"]] = loads.get(row["member_id"], 0) + 1
    assert max(loads.values()) <= 2
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "assignment.auto")).first() is not None
    # Re-solving changes nothing.
    again = c.post(f"/api/v1/venues/{venue.slug}/assignment/solve", json={"k": 2, "max_load": 2}).json()
    assert again["stats"]["added"] == 0 and again["stats"]["removed"] == 0


def test_infeasible_and_bad_changes_are_explained_and_change_nothing(make, db, as_user):  # noqa: ANN001
    venue, chair, people = _venue(make, db)
    c = as_user(chair)
    r = c.post(f"/api/v1/venues/{venue.slug}/assignment/solve", json={"k": 7, "max_load": 4})
    assert r.status_code == 422 and "No assignment is possible" in r.json()["detail"]
    r = c.post(f"/api/v1/venues/{venue.slug}/assignment/solve", json={"k": 2, "max_load": 0})
    assert r.status_code == 422
    own = people["Tiny A"][0][1]
    r = c.post(f"/api/v1/venues/{venue.slug}/assignments",
               json=[{"op": "add", "submission": 2, "member_id": own.id},
                     {"op": "add", "submission": 1, "member_id": own.id}])
    assert r.status_code == 422 and "is an author of #1" in r.json()["detail"]
    assert db.exec(select(func.count()).select_from(Assignment)).one() == 0
    csv = b"submission,reviewer_email\n1,nobody@uni.example\n"
    r = c.post(f"/api/v1/venues/{venue.slug}/assignments/import", files={"file": ("a.csv", csv, "text/csv")})
    assert r.status_code == 422 and "nobody@uni.example is not a reviewer" in r.json()["detail"]
    assert db.exec(select(func.count()).select_from(Assignment)).one() == 0


def test_manual_lock_survives_a_resolve_and_students_cannot_assign(make, db, as_user):  # noqa: ANN001
    venue, chair, people = _venue(make, db)
    c = as_user(chair)
    pick = people["Dist A"][0][1]
    r = c.post(f"/api/v1/venues/{venue.slug}/assignments",
               json=[{"op": "add", "submission": 1, "member_id": pick.id}])
    assert r.status_code == 200
    assert c.post(f"/api/v1/venues/{venue.slug}/assignments",
                  json=[{"op": "lock", "submission": 1, "member_id": pick.id}]).status_code == 200
    assert c.post(f"/api/v1/venues/{venue.slug}/assignment/solve", json={"k": 2, "max_load": 2}).status_code == 200
    rows = c.get(f"/api/v1/venues/{venue.slug}/assignments").json()
    assert any(r["member_id"] == pick.id and r["submission"] == 1 and r["locked"] for r in rows)
    r = c.post(f"/api/v1/venues/{venue.slug}/assignments",
               json=[{"op": "remove", "submission": 1, "member_id": pick.id}])
    assert r.status_code == 422 and "locked" in r.json()["detail"]
    student = people["Tiny B"][0][0]
    assert as_user(student).post(f"/api/v1/venues/{venue.slug}/assignment/solve", json={}).status_code == 403
    assert as_user(student).get(f"/api/v1/venues/{venue.slug}/assignments").status_code == 403
    export = c.get(f"/api/v1/venues/{venue.slug}/assignments/export")
    assert export.status_code == 200 and export.text.count("\n") == 9


def test_conflicts_and_bids_steer_the_solver(make, db, as_user):  # noqa: ANN001
    venue, chair, people = _venue(make, db)
    tiny_b = people["Tiny B"]
    # Both Tiny B students declare a conflict with a Tiny A author: they must not review Tiny A.
    for user, _m in tiny_b:
        r = as_user(user).post(f"/api/v1/venues/{venue.slug}/conflicts",
                               json={"with_email": people["Tiny A"][0][0].email, "reason": "flatmates"})
        assert r.status_code == 201, r.text
    r = as_user(people["Dist A"][0][0]).put(f"/api/v1/venues/{venue.slug}/bids/1", json={"value": "eager"})
    assert r.status_code == 200
    assert as_user(people["Dist A"][0][0]).put(f"/api/v1/venues/{venue.slug}/bids/3",
                                               json={"value": "eager"}).status_code == 422  # own paper
    r = as_user(chair).post(f"/api/v1/venues/{venue.slug}/assignment/solve", json={"k": 2, "max_load": 2})
    assert r.status_code == 200, r.text
    rows = as_user(chair).get(f"/api/v1/venues/{venue.slug}/assignments").json()
    tiny_b_ids = {m.id for _u, m in tiny_b}
    assert not any(row["submission"] == 1 and row["member_id"] in tiny_b_ids for row in rows)


def test_assignment_endpoints_per_role(make, db, as_user, client):  # noqa: ANN001
    venue, chair, people = _venue(make, db)
    ta, _ = make.member(venue, "ta", name="TA")
    outsider = make.user("Outsider")
    db.commit()
    student = people["Dist B"][0][0]
    base = f"/api/v1/venues/{venue.slug}"
    writes = [("POST", f"{base}/assignment/solve", {"k": 1, "max_load": 1, "dry_run": True}),
              ("POST", f"{base}/assignments", [{"op": "add", "submission": 1, "member_id": 1}])]
    reads = [("GET", f"{base}/assignments", None), ("GET", f"{base}/assignments/export", None)]
    for method, url, body in writes:
        assert as_user(ta).request(method, url, json=body).status_code == 403
        assert as_user(student).request(method, url, json=body).status_code == 403
        assert as_user(outsider).request(method, url, json=body).status_code == 404
        assert client.request(method, url, json=body).status_code == 401
    for method, url, body in reads:
        assert as_user(ta).request(method, url, json=body).status_code == 200
        assert as_user(student).request(method, url, json=body).status_code == 403
        assert as_user(outsider).request(method, url, json=body).status_code == 404
    r = as_user(ta).post(f"{base}/assignments/import", files={"file": ("a.csv", b"1,x@y.z\n", "text/csv")})
    assert r.status_code == 403
    # Bids are for reviewers in the assignment phase; chairs cannot bid.
    assert as_user(chair).put(f"{base}/bids/1", json={"value": "eager"}).status_code == 403
    assert as_user(student).put(f"{base}/bids/1", json={"value": "maybe"}).status_code == 422
