"""Reviewer assignment through the API and the CLI, with the real embedding model."""

from datetime import UTC, datetime

from sqlmodel import func, select

from app.models import AuditEvent
from app.models.assignment import Assignment, AssignmentSettings
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


def _venue(make, db, phase="assignment", course_options=False):  # noqa: ANN001, ANN202
    """Four groups of two with a submission each. course_options=False stores the course options off (these
    tests are about topics, locks, bids and jobs; tests/api/test_assignment_options.py tests the options)."""
    venue = make.venue(phase="submission")
    if not course_options:
        db.add(AssignmentSettings(venue_id=venue.id, one_reviewer_per_group=False, no_reciprocal_groups=False,
                                  every_student_reviews=False))
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


# ---- jobs, explanations, incremental re-solve, cache, bad input (issue 5) --------------------------------

import pytest  # noqa: E402
from sqlmodel import Session  # noqa: E402

from app.jobs import assignments as solve_jobs  # noqa: E402
from app.models import Member, Submission, User  # noqa: E402
from app.models.assignment import AssignmentJob, Conflict  # noqa: E402
from app.services import assignments as assignment_service  # noqa: E402


def on_test_connection(db):  # noqa: ANN001, ANN201
    """Sessions on the test's connection, each committing to a savepoint of the test's transaction."""
    return lambda: Session(bind=db.bind, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def inline_jobs(monkeypatch, db):  # noqa: ANN001, ANN201
    """Run solve jobs where the request commits, on the test's connection (a real thread or worker could not see
    the test's uncommitted data); tests/api/test_assignment_jobs.py and the browser test run them for real."""
    started: list[int] = []

    def launch(settings, bind, job_id):  # noqa: ANN001, ANN202
        assert bind is db.bind  # the request committed on the test's connection
        started.append(job_id)
        solve_jobs.run_job(on_test_connection(db), settings, job_id)
        db.expire_all()  # the test's session reads what the job wrote

    monkeypatch.setattr(solve_jobs, "launch", launch)
    return started


@pytest.fixture
def held_jobs(monkeypatch):  # noqa: ANN001, ANN201
    """Jobs are recorded and committed but never started (they stay queued)."""
    held: list[int] = []
    monkeypatch.setattr(solve_jobs, "launch", lambda settings, bind, job_id: held.append(job_id))
    return held


def _count(db, model) -> int:  # noqa: ANN001
    return db.exec(select(func.count()).select_from(model)).one()


def _pairs(client, venue) -> set[tuple[int, int]]:  # noqa: ANN001
    return {(r["submission"], r["member_id"]) for r in client.get(f"/api/v1/venues/{venue.slug}/assignments").json()}


def _late_submission(make, db, venue, name="Fed A", title="Federated averaging with non-IID clients",  # noqa: ANN001, ANN202
                     abstract="FedAvg on Dirichlet-skewed CIFAR-10 splits across 100 simulated clients; we compare "
                              "FedProx and SCAFFOLD for client drift."):
    venue.phase = "submission"
    db.add(venue)
    group = make.group(venue, name)
    members = [make.member(venue, "student", group=group, name=f"{name} student {i}") for i in range(2)]
    sub = save_submission(db, members[0][0], venue, members[0][1], title=title, abstract=abstract, keywords=[])
    venue.phase = "assignment"
    db.add(venue)
    db.commit()
    return sub, members


def test_preview_job_reports_progress_and_saves_nothing_then_apply_saves_it(make, db, as_user, inline_jobs):  # noqa: ANN001
    venue, chair, _people = _venue(make, db)
    c = as_user(chair)
    r = c.post(f"/api/v1/venues/{venue.slug}/assignment/jobs", json={"k": 2, "max_load": 2, "dry_run": True})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    assert inline_jobs == [job_id]
    job = c.get(f"/api/v1/venues/{venue.slug}/assignment/jobs/{job_id}").json()
    assert job["status"] == "done" and job["finished"] and job["phase"] == "done", job
    # progress counts texts: 4 submissions + 8 profile items (each student's own paper, cached once embedded)
    assert job["total"] == 12 and job["done"] == job["total"]
    assert job["result"]["stats"]["added"] == 8 and len(job["result"]["changes"]) == 8
    assert {ch["op"] for ch in job["result"]["changes"]} == {"add"}
    summary = job["result"]["summary"]
    assert 0 < summary["min_affinity"] <= summary["mean_affinity"] <= 1
    assert summary["load_histogram"] == {"1": 8}  # 8 pairs over 8 reviewers with max load 2: the solver spreads them
    assert _count(db, Assignment) == 0  # a preview saves nothing
    # The job's progress lives in the database, where any API process can read it.
    db.expire_all()
    assert db.get(AssignmentJob, job_id).done == 12
    r = c.post(f"/api/v1/venues/{venue.slug}/assignment/jobs/{job_id}/apply")
    assert r.status_code == 200, r.text
    assert _count(db, Assignment) == 8
    assert {(ch["submission"], ch["member_id"]) for ch in job["result"]["changes"]} == _pairs(c, venue)
    again = c.post(f"/api/v1/venues/{venue.slug}/assignment/jobs/{job_id}/apply")
    assert again.status_code == 409 and "applied already" in again.json()["detail"]
    assert _count(db, Assignment) == 8


def test_a_failed_job_says_why_and_changes_nothing(make, db, as_user, inline_jobs):  # noqa: ANN001
    venue, chair, _people = _venue(make, db)
    c = as_user(chair)
    r = c.post(f"/api/v1/venues/{venue.slug}/assignment/jobs", json={"k": 7, "max_load": 4})
    assert r.status_code == 202
    job = c.get(f"/api/v1/venues/{venue.slug}/assignment/jobs/{r.json()['id']}").json()
    assert job["status"] == "failed" and job["finished"]
    assert "No assignment is possible" in job["error"] and "submission #1 has only 6 non-conflicted" in job["error"]
    assert _count(db, Assignment) == 0
    # max load 0 is refused before any job starts
    r = c.post(f"/api/v1/venues/{venue.slug}/assignment/jobs", json={"k": 2, "max_load": 0})
    assert r.status_code == 422 and "max load" in r.json()["detail"]
    assert _count(db, AssignmentJob) == 1


def test_a_second_job_waits_for_the_running_one(make, db, as_user, held_jobs):  # noqa: ANN001
    venue, chair, _people = _venue(make, db)
    c = as_user(chair)
    assert c.post(f"/api/v1/venues/{venue.slug}/assignment/jobs", json={"k": 2, "max_load": 2}).status_code == 202
    r = c.post(f"/api/v1/venues/{venue.slug}/assignment/jobs", json={"k": 2, "max_load": 2})
    assert r.status_code == 409 and "already queued" in r.json()["detail"]
    assert len(held_jobs) == 1  # the refused one was never handed on


def test_explanations_give_affinity_ranks_closest_item_and_quality(make, db, as_user, settings):  # noqa: ANN001
    venue, chair, people = _venue(make, db)
    c = as_user(chair)
    base = f"/api/v1/venues/{venue.slug}"
    # A manual pair before anything is embedded: explanations read the cache only and say so.
    pick = people["Dist A"][0][1]
    assert c.post(f"{base}/assignments", json=[{"op": "add", "submission": 1, "member_id": pick.id}]).status_code == 200
    before = c.get(f"{base}/assignments/explain").json()
    assert before["available"] is False and "not embedded yet" in before["reason"]
    assert c.post(f"{base}/assignments", json=[{"op": "remove", "submission": 1, "member_id": pick.id}]).status_code == 200
    assert c.post(f"{base}/assignment/solve", json={"k": 2, "max_load": 2}).status_code == 200
    r = c.get(f"{base}/assignments/explain")
    assert r.status_code == 200
    out = r.json()
    assert out["available"] is True and len(out["pairs"]) == 8
    group_of = {m.id: name for name, ms in people.items() for _u, m in ms}
    numbers = {name: i + 1 for i, name in enumerate(TOPICS)}
    for p in out["pairs"]:
        assert 0 <= p["affinity"] <= 1 and p["rank_for_reviewer"] >= 1 and p["rank_for_paper"] >= 1
        # a student's only profile item is their own group's paper: that is the closest item, named for the chair
        assert p["closest_item"]["label"] == f"own submission #{numbers[group_of[p['member_id']]]}"
        assert p["closest_item"]["excerpt"]
    tiny_a = [p for p in out["pairs"] if p["submission"] == numbers["Tiny A"]]
    assert all(p["rank_for_paper"] <= 2 for p in tiny_a)  # its two reviewers are its two best matches (Tiny B)
    q = out["summary"]
    assert q["pairs"] == 8 and q["load_histogram"] == {"1": 8}
    assert q["min_affinity"] <= q["mean_affinity"]
    student = people["Tiny A"][0][0]
    assert as_user(student).get(f"{base}/assignments/explain").status_code == 403


def test_interests_are_profile_items(make, db, as_user, settings):  # noqa: ANN001
    venue, chair, _people = _venue(make, db)
    ext, ext_m = make.member(venue, "reviewer", name="External Reviewer")
    db.commit()
    c = as_user(ext)
    base = f"/api/v1/venues/{venue.slug}"
    assert c.get(f"{base}/interests").json() == {"items": []}
    r = c.put(f"{base}/interests", json={"items": ["  Int8 quantisation and TinyML on Cortex-M microcontrollers  ",
                                                   "   "]})
    assert r.status_code == 200 and r.json()["items"] == ["Int8 quantisation and TinyML on Cortex-M microcontrollers"]
    assert c.get(f"{base}/interests").json()["items"] == r.json()["items"]
    too_many = c.put(f"{base}/interests", json={"items": [f"topic {i}" for i in range(11)]})
    assert too_many.status_code == 422 and "at most 10" in too_many.json()["detail"]
    assert len(c.get(f"{base}/interests").json()["items"]) == 1  # unchanged
    sc = assignment_service.score_venue(db, settings, venue)
    j = [m.id for m in sc.members].index(ext_m.id)
    assert [i.label for i in sc.items[j]] == ["interest 1"]
    tiny = [i for i, s in enumerate(sc.subs) if s.title.startswith(("Keyword", "Gesture"))]
    dist = [i for i in range(len(sc.subs)) if i not in tiny]
    assert min(sc.matrix[i, j] for i in tiny) > max(sc.matrix[i, j] for i in dist)


def test_a_late_submission_changes_only_what_it_needs(make, db, as_user):  # noqa: ANN001
    venue, chair, people = _venue(make, db)
    c = as_user(chair)
    base = f"/api/v1/venues/{venue.slug}"
    assert c.post(f"{base}/assignment/solve", json={"k": 2, "max_load": 2}).status_code == 200
    before = _pairs(c, venue)
    sub, _late_people = _late_submission(make, db, venue)
    r = c.post(f"{base}/assignment/solve", json={"k": 2, "max_load": 2})
    assert r.status_code == 200, r.text
    st = r.json()["stats"]
    assert st["mode"] == "incremental" and st["removed"] == 0 and st["kept"] == 8 and st["added"] == 2
    after = _pairs(c, venue)
    assert before <= after and {s for s, _m in after - before} == {sub.number}


def test_a_dropped_reviewer_is_replaced_and_nothing_else_moves(make, db, as_user):  # noqa: ANN001
    venue, chair, people = _venue(make, db)
    c = as_user(chair)
    base = f"/api/v1/venues/{venue.slug}"
    assert c.post(f"{base}/assignment/solve", json={"k": 2, "max_load": 2}).status_code == 200
    before = _pairs(c, venue)
    number, member_id = sorted(before)[0]
    # The reviewer drops out of reviewing (becomes a TA, who is not in the pool by default).
    member = db.get(Member, member_id)
    member.role = "ta"
    db.add(member)
    db.commit()
    r = c.post(f"{base}/assignment/solve", json={"k": 2, "max_load": 2})
    assert r.status_code == 200, r.text
    after = _pairs(c, venue)
    assert before - after == {(number, member_id)}
    assert len(after - before) == 1 and next(iter(after - before))[0] == number


def test_a_rerun_embeds_only_the_new_text(make, db, as_user, monkeypatch):  # noqa: ANN001
    from app.assignment import embeddings

    encoded: list[str] = []
    real = embeddings.encode_chunks

    def counting(chunks, model_name=embeddings.DEFAULT_MODEL):  # noqa: ANN001, ANN202
        encoded.extend(chunks)
        return real(chunks, model_name)

    monkeypatch.setattr(embeddings, "encode_chunks", counting)
    venue, chair, _people = _venue(make, db)
    c = as_user(chair)
    base = f"/api/v1/venues/{venue.slug}"
    assert c.post(f"{base}/assignment/solve", json={"k": 2, "max_load": 2, "dry_run": True}).status_code == 200
    assert len(encoded) == 4  # four distinct texts (each is also its authors' profile item), one chunk each
    encoded.clear()
    assert c.post(f"{base}/assignment/solve", json={"k": 2, "max_load": 2, "dry_run": True}).status_code == 200
    assert encoded == []  # all cached
    sub, _late = _late_submission(make, db, venue)
    assert c.post(f"{base}/assignment/solve", json={"k": 2, "max_load": 2, "dry_run": True}).status_code == 200
    assert len(encoded) == 1 and sub.title in encoded[0]


def test_bad_input_names_the_cause_and_changes_nothing(make, db, as_user):  # noqa: ANN001
    venue, chair, people = _venue(make, db)
    c = as_user(chair)
    base = f"/api/v1/venues/{venue.slug}"
    # k larger than the reviewers there are
    r = c.post(f"{base}/assignment/solve", json={"k": 9, "max_load": 4})
    assert r.status_code == 422 and "k=9" in r.json()["detail"] and "only 8 reviewer" in r.json()["detail"]
    # max load 0
    r = c.post(f"{base}/assignment/solve", json={"k": 2, "max_load": 0})
    assert r.status_code == 422 and "max load" in r.json()["detail"]
    # every reviewer conflicted with #2 (imported: "same team last term")
    lines = [f"{u.email},2" for name, ms in people.items() if name != "Tiny B" for u, _m in ms]
    r = c.post(f"{base}/conflicts/import", files={"file": ("c.csv", "\n".join(lines).encode(), "text/csv")})
    assert r.status_code == 200 and r.json()["created"] == 6
    r = c.post(f"{base}/assignment/solve", json={"k": 2, "max_load": 2})
    assert r.status_code == 422 and "all reviewers are conflicted with submission #2" in r.json()["detail"]
    assert _count(db, Assignment) == 0
    db.exec(Conflict.__table__.delete().where(Conflict.venue_id == venue.id))
    # a submission with no text to match on (a title that is only blanks, e.g. from an old import)
    sub = db.exec(select(Submission).where(Submission.venue_id == venue.id, Submission.number == 3)).one()
    sub.title, sub.abstract = "   ", ""
    db.add(sub)
    db.commit()
    r = c.post(f"{base}/assignment/solve", json={"k": 2, "max_load": 2})
    assert r.status_code == 422 and "#3 have no text" in r.json()["detail"]
    assert _count(db, Assignment) == 0


def test_assignment_csv_lists_every_bad_line_and_changes_nothing(make, db, as_user):  # noqa: ANN001
    venue, chair, people = _venue(make, db)
    c = as_user(chair)
    base = f"/api/v1/venues/{venue.slug}"
    tiny_b, dist_a = people["Tiny B"][0][0], people["Dist A"][0][0]
    # Tiny B's student declares a conflict with a Tiny A author.
    assert as_user(tiny_b).post(f"{base}/conflicts", json={"with_email": people["Tiny A"][0][0].email}).status_code == 201
    csv_text = (f"submission,reviewer_email\n1,{dist_a.email}\n1,nobody@uni.example\n1,{tiny_b.email}\n"
                f"9,{dist_a.email}\n2,{tiny_b.email}\n").encode()
    r = c.post(f"{base}/assignments/import", files={"file": ("a.csv", csv_text, "text/csv")})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "4 bad line(s)" in detail
    assert "line 3: nobody@uni.example is not a reviewer" in detail
    assert f"line 4: {tiny_b.email} has a conflict with #1" in detail
    assert "line 5: no submission #9" in detail
    assert f"line 6: {tiny_b.email} is an author of #2" in detail
    assert [d["message"][:6] for d in r.json()["details"]] == ["line 3", "line 4", "line 5", "line 6"]
    assert _count(db, Assignment) == 0
    ok = c.post(f"{base}/assignments/import", files={"file": ("a.csv", f"1,{dist_a.email}\n".encode(), "text/csv")})
    assert ok.status_code == 200 and _count(db, Assignment) == 1


def test_conflict_import_is_strict_and_the_list_is_for_staff(make, db, as_user):  # noqa: ANN001
    venue, chair, people = _venue(make, db)
    ta, _ = make.member(venue, "ta", name="TA")
    db.commit()
    c = as_user(chair)
    base = f"/api/v1/venues/{venue.slug}"
    a, b = people["Tiny A"][0][0], people["Dist B"][1][0]
    bad = (f"reviewer,other\n{a.email},{b.email}\nghost@uni.example,{b.email}\n{a.email},#12\n{a.email},soon\n"
           f"{a.email},{people['Tiny A'][1][0].email}\n").encode()
    r = c.post(f"{base}/conflicts/import", files={"file": ("c.csv", bad, "text/csv")})
    assert r.status_code == 422
    msgs = [d["message"] for d in r.json()["details"]]
    assert msgs == ["line 3: ghost@uni.example is not a member of this venue", "line 4: there is no submission #12",
                    "line 5: the second column must be an email or a submission number, not 'soon'"]
    assert _count(db, Conflict) == 0
    good = f"{a.email},{b.email},same team last term\n{a.email},#4\n{a.email},{people['Tiny A'][1][0].email}\n".encode()
    r = c.post(f"{base}/conflicts/import", files={"file": ("c.csv", good, "text/csv")})
    assert r.status_code == 200 and r.json() == {"created": 1, "skipped": 2, "assigned_now_conflicted": 0}
    listed = as_user(ta).get(f"{base}/conflicts").json()
    assert [(x["reviewer"], x["group"], x["submission"], x["source"]) for x in listed] == [
        (a.email, "Dist B", 4, "imported")]
    own = as_user(a).get(f"{base}/conflicts").json()
    assert own and all(set(x) == {"source", "reason", "created_at"} for x in own)  # no names, no groups
    assert as_user(a).get(f"{base}/conflicts").text.count("Dist B") == 0
    assert as_user(ta).post(f"{base}/conflicts/import", files={"file": ("c.csv", good, "text/csv")}).status_code == 403
    # The solver honours it: Tiny A's author never reviews Dist B.
    assert c.post(f"{base}/assignment/solve", json={"k": 2, "max_load": 2}).status_code == 200
    a_member = people["Tiny A"][0][1].id
    assert (4, a_member) not in _pairs(c, venue)


def test_bidding_list_shows_titles_and_abstracts_only(make, db, as_user):  # noqa: ANN001
    venue, chair, people = _venue(make, db)
    user = people["Dist A"][0][0]
    c = as_user(user)
    base = f"/api/v1/venues/{venue.slug}"
    assert c.put(f"{base}/bids/1", json={"value": "eager"}).status_code == 200
    rows = c.get(f"{base}/bids").json()
    assert [r["number"] for r in rows] == [1, 2, 4]  # not their own #3
    assert set(rows[0]) == {"number", "title", "abstract", "bid"} and rows[0]["bid"] == "eager"
    text = c.get(f"{base}/bids").text
    assert not any(name in text for name in TOPICS)  # no group names
    assert "student" not in text  # no author names
    assert as_user(chair).get(f"{base}/bids").status_code == 403


def test_job_and_explain_endpoints_per_role(make, db, as_user, client, inline_jobs):  # noqa: ANN001
    venue, chair, people = _venue(make, db)
    ta, _ = make.member(venue, "ta", name="TA")
    outsider = make.user("Outsider")
    db.commit()
    student = people["Dist B"][0][0]
    base = f"/api/v1/venues/{venue.slug}"
    r = as_user(chair).post(f"{base}/assignment/jobs", json={"k": 2, "max_load": 2, "dry_run": True})
    job = r.json()["id"]
    for url in (f"{base}/assignment/jobs/{job}", f"{base}/assignments/explain"):
        assert as_user(ta).get(url).status_code == 200
        assert as_user(student).get(url).status_code == 403
        assert as_user(outsider).get(url).status_code == 404
        assert client.get(url).status_code == 401
    for url in (f"{base}/assignment/jobs", f"{base}/assignment/jobs/{job}/apply"):
        assert as_user(ta).post(url, json={"k": 1}).status_code == 403
        assert as_user(student).post(url, json={"k": 1}).status_code == 403
        assert as_user(outsider).post(url, json={"k": 1}).status_code == 404
    assert as_user(chair).get(f"{base}/assignment/jobs/99999").status_code == 404
    assert _count(db, Assignment) == 0


def test_two_processes_starting_a_job_at_once_get_one_job(make, db, as_user, held_jobs):  # noqa: ANN001
    """The race the check above cannot see: another process inserts its job between our check and our insert.
    The database's partial unique index (one queued/running job per venue) refuses ours: 409, not two jobs."""
    from sqlalchemy import event, insert

    from app.models.assignment import AssignmentJob

    venue, chair, _people = _venue(make, db)

    def rival_first(session, flush_context, instances) -> None:  # noqa: ANN001
        if any(isinstance(o, AssignmentJob) for o in session.new):
            session.connection().execute(insert(AssignmentJob.__table__).values(
                venue_id=venue.id, dry_run=True, params={}, status="running", phase="embedding", done=0, total=0,
                result={}, created_at=datetime.now(UTC), heartbeat_at=datetime.now(UTC)))

    event.listen(db, "before_flush", rival_first)
    try:
        r = as_user(chair).post(f"/api/v1/venues/{venue.slug}/assignment/jobs", json={"k": 2, "max_load": 2})
    finally:
        event.remove(db, "before_flush", rival_first)
    assert r.status_code == 409 and "just started by someone else" in r.json()["detail"]


def test_pdf_text_is_extracted_once_per_stored_pdf(make, db, settings, monkeypatch):  # noqa: ANN001
    """The chair's page and every re-solve read the first pages' text back instead of parsing the PDF again."""
    import pypdf

    from app.services.submissions import upload_revision
    from tests.api.test_submissions import make_pdf

    venue = make.venue(phase="submission")
    group = make.group(venue, "Solo")
    user, member = make.member(venue, "student", group=group)
    sub = save_submission(db, user, venue, member, title="Tiled GEMM on consumer GPUs", abstract="", keywords=[])
    rev = upload_revision(db, settings, user, venue, sub, make_pdf(3, body="shared memory tiling " * 40), "p.pdf")
    first = assignment_service._pdf_text(settings, rev)
    assert "tiling" in first
    opened = []
    real = pypdf.PdfReader
    monkeypatch.setattr(pypdf, "PdfReader", lambda *a, **kw: opened.append(a) or real(*a, **kw))
    assert assignment_service._pdf_text(settings, rev) == first and opened == []


def test_a_started_review_survives_a_full_resolve_and_a_departed_reviewers_slot_is_refilled(make, db, as_user):  # noqa: ANN001
    """pairs_to_keep: a review someone started is never taken from them by a re-solve, even a full one; if that
    reviewer leaves the pool, their slot is filled again (no misleading "unlock" error) and the draft stays."""
    from app.models import Review

    venue, chair, people = _venue(make, db)
    c = as_user(chair)
    base = f"/api/v1/venues/{venue.slug}"
    assert c.post(f"{base}/assignment/solve", json={"k": 2, "max_load": 2}).status_code == 200
    before = _pairs(c, venue)
    number, member_id = sorted(before)[0]
    writer = next(u for ms in people.values() for u, m in ms if m.id == member_id)
    venue.phase = "review"
    db.add(venue)
    db.commit()
    r = as_user(writer).put(f"{base}/submissions/{number}/review",
                            json={"answers": {"summary": "Started: the int8 numbers look plausible."}, "version": 0})
    assert r.status_code == 200, r.text
    # A full re-solve that favours anyone but this reviewer for that paper still keeps the pair.
    for _ in range(2):
        r = c.post(f"{base}/assignment/solve", json={"k": 2, "max_load": 2, "keep_existing": False})
        assert r.status_code == 200, r.text
        assert (number, member_id) in _pairs(c, venue)
    # The reviewer leaves the pool: their slot is refilled, their draft is kept for the chair.
    member = db.get(Member, member_id)
    member.role = "ta"
    db.add(member)
    db.commit()
    r = c.post(f"{base}/assignment/solve", json={"k": 2, "max_load": 2})
    assert r.status_code == 200, r.text
    assert r.json()["stats"]["reviews_by_departed"] == 1
    after = _pairs(c, venue)
    assert (number, member_id) not in after and sum(1 for n, _m in after if n == number) == 2
    assert db.exec(select(Review).where(Review.member_id == member_id)).one() is not None


def test_bad_loads_are_refused_before_anything_runs_and_change_nothing(make, db, as_user):  # noqa: ANN001
    from app.models import AuditEvent

    venue, chair, _people = _venue(make, db)
    c = as_user(chair)
    base = f"/api/v1/venues/{venue.slug}"
    assert c.post(f"{base}/assignment/solve", json={"k": 2, "max_load": 2}).status_code == 200
    pairs, events = _pairs(c, venue), _count(db, AuditEvent)
    for body, words in (({"k": 2, "min_load": -1, "max_load": 2}, "min_load"),
                        ({"k": 2, "max_load": 0}, "max load"), ({"k": 2, "min_load": 3, "max_load": 2}, "above"),
                        ({"k": 9, "max_load": 4}, "only")):
        r = c.post(f"{base}/assignment/solve", json=body)
        assert r.status_code == 422 and words in r.json()["detail"], (body, r.text)
        assert _pairs(c, venue) == pairs and _count(db, AuditEvent) == events


def test_a_declared_conflict_holds_both_ways_for_the_person_named(make, db, as_user):  # noqa: ANN001
    """Bea (Tiny B) declares a conflict with Al (Tiny A): Bea does not review Tiny A, and Al does not review
    Tiny B; Al's teammate may. A chair's CSV row naming two people works the same way."""
    venue, chair, people = _venue(make, db)
    (bea, bea_m), (al, al_m), (al_mate, mate_m) = people["Tiny B"][0], people["Tiny A"][0], people["Tiny A"][1]
    base = f"/api/v1/venues/{venue.slug}"
    r = as_user(bea).post(f"{base}/conflicts", json={"with_email": al.email, "reason": "flatmates"})
    assert r.status_code == 201, r.text
    c = as_user(chair)
    listed = [row for row in c.get(f"{base}/conflicts").json() if row["member_id"] == bea_m.id]
    assert [row["with"] for row in listed] == [al.email]  # chairs see whom it names
    page = c.get(f"/venues/{venue.slug}/conflicts")
    assert page.status_code == 200 and f"(with {al.email})" in page.text
    tiny_a, tiny_b = 1, 2
    for number, member in ((tiny_a, bea_m), (tiny_b, al_m)):
        r = c.post(f"{base}/assignments", json=[{"op": "add", "submission": number, "member_id": member.id}])
        assert r.status_code == 422 and "has a conflict" in r.json()["detail"], r.text
    assert c.post(f"{base}/assignments", json=[{"op": "add", "submission": tiny_b,
                                                "member_id": mate_m.id}]).status_code == 200
    # the solver sees it too: Al is the best match for Tiny B on topic, and still is not given it
    r = c.post(f"{base}/assignment/solve", json={"k": 2, "max_load": 2, "keep_existing": False})
    assert r.status_code == 200, r.text
    pairs = _pairs(c, venue)
    assert (tiny_b, al_m.id) not in pairs and (tiny_a, bea_m.id) not in pairs
    # imported: "reviewer, other person" blocks both; "reviewer, submission number" only the one pair
    dist_a, dist_b = people["Dist A"][0], people["Dist B"][0]
    csv = f"reviewer_email,other\n{dist_a[0].email},{dist_b[0].email}\n{bea.email},4\n".encode()
    r = c.post(f"{base}/conflicts/import", files={"file": ("c.csv", csv, "text/csv")})
    assert r.status_code == 200, r.text
    number_of = {name: i for i, name in enumerate(TOPICS, start=1)}
    r = c.post(f"{base}/assignment/solve", json={"k": 2, "max_load": 2, "keep_existing": False})
    assert r.status_code == 200, r.text
    pairs = _pairs(c, venue)
    blocked = {(number_of["Dist B"], dist_a[1].id), (number_of["Dist A"], dist_b[1].id), (4, bea_m.id)}
    assert not pairs & blocked
    for number, member_id in blocked:
        r = c.post(f"{base}/assignments", json=[{"op": "add", "submission": number, "member_id": member_id}])
        assert r.status_code == 422 and "has a conflict" in r.json()["detail"], (number, r.text)


def test_bids_close_at_the_bidding_deadline_and_are_kept(make, db, as_user):  # noqa: ANN001
    from datetime import UTC, datetime, timedelta

    from app.models import Bid, Deadline

    venue, _chair, people = _venue(make, db)
    student = as_user(people["Dist A"][0][0])
    url = f"/api/v1/venues/{venue.slug}/bids/1"
    assert student.put(url, json={"value": "eager"}).status_code == 200
    deadline = Deadline(venue_id=venue.id, kind="bidding", due_at=datetime.now(UTC) + timedelta(hours=1))
    db.add(deadline)
    db.commit()
    assert student.put(url, json={"value": "willing"}).status_code == 200  # still open
    assert "Bidding closes on " in student.get(f"/venues/{venue.slug}/bids").text
    deadline.due_at = datetime.now(UTC) - timedelta(minutes=1)
    db.add(deadline)
    db.commit()
    r = student.put(url, json={"value": "not_willing"})
    assert r.status_code == 409 and "Bidding closed" in r.json()["detail"], r.text
    db.expire_all()
    assert [b.value for b in db.exec(select(Bid).where(Bid.venue_id == venue.id))] == ["willing"]
    assert "Bidding closed on " in student.get(f"/venues/{venue.slug}/bids").text


def test_every_kind_of_change_leaves_one_audit_event_naming_it(make, db, as_user):  # noqa: ANN001
    """The one path: auto-solve, manual add/remove, lock/unlock and CSV import each record an audit event with
    their counts; a refused change records nothing."""
    venue, chair, people = _venue(make, db)
    c = as_user(chair)
    base = f"/api/v1/venues/{venue.slug}"

    def events() -> list[AuditEvent]:
        db.expire_all()
        return list(db.exec(select(AuditEvent).where(AuditEvent.venue_id == venue.id,
                                                     AuditEvent.action.like("assignment.%"))
                            .order_by(AuditEvent.id)))

    assert c.post(f"{base}/assignment/solve", json={"k": 1, "max_load": 1}).status_code == 200
    number, member_id = sorted(_pairs(c, venue))[0]
    authors = db.exec(select(Submission).where(Submission.venue_id == venue.id, Submission.number == number)).one()
    other = next(m.id for ms in people.values() for _u, m in ms
                 if (number, m.id) not in _pairs(c, venue) and m.group_id != authors.group_id)
    steps = [([{"op": "lock", "submission": number, "member_id": member_id}], {"lock": 1}),
             ([{"op": "unlock", "submission": number, "member_id": member_id}], {"unlock": 1}),
             ([{"op": "add", "submission": number, "member_id": other}], {"add": 1}),
             ([{"op": "remove", "submission": number, "member_id": other}], {"remove": 1})]
    for body, counts in steps:
        assert c.post(f"{base}/assignments", json=body).status_code == 200
        last = events()[-1]
        assert last.action == "assignment.manual" and {k: v for k, v in last.detail["counts"].items() if v} == counts
    before = len(events())
    assert c.post(f"{base}/assignments", json=[{"op": "remove", "submission": number, "member_id": other}]
                  ).status_code == 422  # not assigned: refused
    assert len(events()) == before
    email = db.get(User, db.get(Member, other).user_id).email
    r = c.post(f"{base}/assignments/import", files={"file": ("a.csv", f"{number},{email}\n".encode(), "text/csv")})
    assert r.status_code == 200, r.text
    assert [e.action for e in events()] == ["assignment.auto", *["assignment.manual"] * 4, "assignment.import"]


# ---- calibration items: one per student, on top of the assigned papers -----------------------------------------


def _calibration_state(c, venue, people, items: set[int]):  # noqa: ANN001, ANN202
    """(each student's calibration items, each item's reviewers, each ordinary submission's reviewers)."""
    pairs = _pairs(c, venue)
    students = {m.id: name for name, ms in people.items() for _u, m in ms}
    mine = {m: sorted(n for n, who in pairs if who == m and n in items) for m in students}
    per_item = {n: sum(1 for k, _m in pairs if k == n) for n in items}
    ordinary = {n: sum(1 for k, _m in pairs if k == n) for n in range(1, len(TOPICS) + 1) if n not in items}
    return mine, per_item, ordinary


def test_each_student_gets_one_calibration_item_never_their_own_and_a_resolve_keeps_it(make, db, as_user):  # noqa: ANN001
    venue, chair, people = _venue(make, db)
    c = as_user(chair)
    base = f"/api/v1/venues/{venue.slug}"
    for number, reference in ((1, 7), (3, 4)):  # Tiny A and Dist A are last year's TA-marked reports
        r = c.put(f"{base}/submissions/{number}/calibration-item", json={"reference": reference})
        assert r.status_code == 200, r.text
    r = c.post(f"{base}/assignment/solve", json={"k": 2, "max_load": 2})
    assert r.status_code == 200, r.text
    cal = r.json()["stats"]["calibration"]
    assert cal["items"] == 2 and cal["students"] == 8 and cal["added"] == 8 and cal["skipped"] == []
    assert cal["per_item"] == {"#1": 4, "#3": 4}
    mine, per_item, ordinary = _calibration_state(c, venue, people, {1, 3})
    numbers = {name: n for n, name in enumerate(TOPICS, start=1)}
    group_of = {m.id: name for name, ms in people.items() for _u, m in ms}
    assert all(len(items) == 1 for items in mine.values()), mine
    assert all(numbers[group_of[m]] not in items for m, items in mine.items())  # never their own group's
    assert per_item == {1: 4, 3: 4}  # spread evenly; the solver gave them nobody besides
    assert ordinary == {2: 2, 4: 2}  # the ordinary papers keep their k reviewers
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "assignment.auto")).one()
    assert event.detail["counts"]["add"] == 4 + 8 and event.detail["stats"]["calibration"]["added"] == 8
    assert "calibration items: 8 given" in event.summary
    # Re-solving (incremental, then full) stacks no second item on anyone and moves nothing.
    for keep_existing in (True, False):
        again = c.post(f"{base}/assignment/solve", json={"k": 2, "max_load": 2, "keep_existing": keep_existing})
        assert again.status_code == 200, again.text
        st = again.json()["stats"]
        assert st["calibration"]["added"] == 0 and st["calibration"]["kept"] == 8 and st["calibration"]["removed"] == 0
        assert _calibration_state(c, venue, people, {1, 3})[0] == mine


def test_a_conflicted_student_gets_another_calibration_item_or_none(make, db, as_user):  # noqa: ANN001
    venue, chair, people = _venue(make, db)
    c = as_user(chair)
    base = f"/api/v1/venues/{venue.slug}"
    assert c.put(f"{base}/submissions/2/calibration-item", json={"reference": 6}).status_code == 200
    dist_a = people["Dist A"][0]
    r = as_user(dist_a[0]).post(f"{base}/conflicts", json={"with_email": people["Tiny B"][0][0].email,
                                                           "reason": "project partners last year"})
    assert r.status_code == 201, r.text
    r = c.post(f"{base}/assignment/solve", json={"k": 2, "max_load": 2})
    assert r.status_code == 200, r.text
    cal = r.json()["stats"]["calibration"]
    # Tiny B's own students and the conflicted Dist A student have no item they may review
    assert sorted(cal["skipped"]) == sorted([people["Tiny B"][0][0].email, people["Tiny B"][1][0].email,
                                             dist_a[0].email])
    pairs = _pairs(c, venue)
    reviewers_of_2 = {m for n, m in pairs if n == 2}
    assert dist_a[1].id not in reviewers_of_2 and len(reviewers_of_2) == 5


def test_the_reviews_of_a_calibration_item_pin_the_reviewers_bias(make, db, as_user):  # noqa: ANN001
    """A calibration item is a real submission: the reviews its assignment brings are calibrated against its
    reference mark (app.services.moderation feeds it to the kernel as `known`)."""
    from tests.api.test_moderation import _answers

    venue, chair, people = _venue(make, db)
    c = as_user(chair)
    base = f"/api/v1/venues/{venue.slug}"
    assert c.put(f"{base}/submissions/1/calibration-item", json={"reference": 3}).status_code == 200
    assert c.post(f"{base}/assignment/solve", json={"k": 2, "max_load": 2}).status_code == 200
    venue.phase = "review"
    db.add(venue)
    db.commit()
    given = [(u, m) for ms in people.values() for u, m in ms if (1, m.id) in _pairs(c, venue)]
    assert len(given) == 6  # everyone but Tiny A's own two
    for user, _m in given:  # every reviewer is lenient: 7 where the reference says 3
        r = as_user(user).post(f"{base}/submissions/1/review/submit", json={"answers": _answers(7), "version": 0})
        assert r.status_code == 200, r.text
    row = {r["number"]: r for r in c.get(f"{base}/moderation").json()}[1]
    assert row["is_calibration"] and row["calibrated"] == 3 and sorted(row["scores"]) == [7] * 6
    view = c.get(f"{base}/submissions/1/moderation").json()
    assert len(view["reviews"]) == 6 and all(r["bias"] > 1 for r in view["reviews"])
