"""Groups: create, join by code, size limits, one group per venue, staff moves."""

from sqlmodel import select

from app.models import AuditEvent, Member


def test_student_creates_a_group_and_another_joins_by_code(make, as_user, db):
    venue = make.venue(phase="submission")
    _, m1 = make.member(venue, name="First Student")
    u2, m2 = make.member(venue, name="Second Student")
    u1 = db.get(type(u2), m1.user_id)
    db.commit()
    r = as_user(u1).post(f"/api/v1/venues/{venue.slug}/groups", json={"name": "Team Int8"})
    assert r.status_code == 201
    group = r.json()
    assert group["size"] == 1 and len(group["join_code"]) == 8
    code = group["join_code"].lower()[:4] + "-" + group["join_code"][4:]  # tolerant of case and dashes
    r = as_user(u2).post(f"/api/v1/venues/{venue.slug}/groups/join", json={"code": code})
    assert r.status_code == 200 and r.json()["size"] == 2
    assert {m["full_name"] for m in r.json()["members"]} == {"First Student", "Second Student"}
    db.refresh(m2)
    assert m2.group_id == group["id"]
    assert {e.action for e in db.exec(select(AuditEvent).where(AuditEvent.venue_id == venue.id)).all()} >= \
        {"group.create", "group.join"}


def test_unknown_code_full_group_and_second_group_are_refused(make, as_user, db):
    venue = make.venue(phase="submission", group_max=2)
    full = make.group(venue, "Full House", size=2)
    u, m = make.member(venue)
    db.commit()
    c = as_user(u)
    r = c.post(f"/api/v1/venues/{venue.slug}/groups/join", json={"code": "NOPE9999"})
    assert r.status_code == 404 and "No group in this venue has the join code 'NOPE9999'" in r.json()["detail"]
    r = c.post(f"/api/v1/venues/{venue.slug}/groups/join", json={"code": full.join_code})
    assert r.status_code == 409 and "is full (2 of 2 members)" in r.json()["detail"]
    db.refresh(m)
    assert m.group_id is None
    assert c.post(f"/api/v1/venues/{venue.slug}/groups", json={"name": "Mine"}).status_code == 201
    r = c.post(f"/api/v1/venues/{venue.slug}/groups", json={"name": "Second"})
    assert r.status_code == 403 and "already in a group" in r.json()["detail"]
    r = c.post(f"/api/v1/venues/{venue.slug}/groups", json={"name": "Full House"})
    assert r.status_code == 403


def test_group_name_clash_and_phase_rules(make, as_user, db):
    venue = make.venue(phase="submission")
    make.group(venue, "Taken")
    u, _ = make.member(venue)
    db.commit()
    r = as_user(u).post(f"/api/v1/venues/{venue.slug}/groups", json={"name": "Taken"})
    assert r.status_code == 409 and "exists already" in r.json()["detail"]
    venue.phase = "review"
    db.add(venue)
    db.commit()
    r = as_user(u).post(f"/api/v1/venues/{venue.slug}/groups", json={"name": "Late"})
    assert r.status_code == 403 and "setup and submission phases" in r.json()["detail"]


def test_students_see_only_their_own_group(make, as_user, db):
    venue = make.venue(phase="submission")
    cast = make.cast(venue)
    other = make.group(venue, "Other Team", size=2)
    db.commit()
    mine = as_user(cast["student"]).get(f"/api/v1/venues/{venue.slug}/groups").json()
    assert [g["name"] for g in mine] == ["Team Alpha"]
    assert as_user(cast["student"]).get(f"/api/v1/venues/{venue.slug}/groups/{other.id}").status_code == 404
    assert as_user(cast["loner"]).get(f"/api/v1/venues/{venue.slug}/groups").json() == []
    staff = as_user(cast["ta"]).get(f"/api/v1/venues/{venue.slug}/groups").json()
    assert {g["name"] for g in staff} == {"Team Alpha", "Other Team"}


def test_staff_form_groups_and_move_students_within_limits(make, as_user, db):
    venue = make.venue(phase="setup", group_max=2)
    cast = make.cast(venue)
    _, a = make.member(venue, name="Ann")
    _, b = make.member(venue, name="Bob")
    db.commit()
    ta = as_user(cast["ta"])
    r = ta.post(f"/api/v1/venues/{venue.slug}/groups", json={"name": "Formed", "member_ids": [a.id, b.id]})
    assert r.status_code == 201 and r.json()["size"] == 2
    r = ta.post(f"/api/v1/venues/{venue.slug}/groups/move",
                json={"member_id": cast["members"]["loner"].id, "group_id": r.json()["id"]})
    assert r.status_code == 409 and "is full" in r.json()["detail"]
    r = ta.post(f"/api/v1/venues/{venue.slug}/groups/move", json={"member_id": a.id, "group_id": None})
    assert r.status_code == 200
    db.refresh(a)
    assert a.group_id is None
    r = as_user(cast["student"]).post(f"/api/v1/venues/{venue.slug}/groups/move",
                                      json={"member_id": a.id, "group_id": None})
    assert r.status_code == 403


def test_leaving_a_group(make, as_user, db):
    venue = make.venue(phase="submission")
    cast = make.cast(venue)
    c = as_user(cast["student"])
    assert c.post(f"/api/v1/venues/{venue.slug}/groups/leave").status_code == 204
    assert db.exec(select(Member).where(Member.id == cast["members"]["student"].id)).one().group_id is None
    assert c.post(f"/api/v1/venues/{venue.slug}/groups/leave").status_code == 403
