"""Venues: creation, settings, phases, deadlines, audit trail."""

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from app.models import AuditEvent, Deadline, Venue
from tests.factories import confirm_phase


def test_admin_creates_a_venue_and_others_cannot(make, as_user, db):
    admin = make.user(admin=True)
    student = make.user()
    db.commit()
    body = {"slug": "mlsys-2026", "title": "MLSys 2026", "course_code": "CS 8803", "timezone": "America/New_York"}
    assert as_user(student).post("/api/v1/venues", json=body).status_code == 403
    r = as_user(admin).post("/api/v1/venues", json=body)
    assert r.status_code == 201 and r.json()["phase"] == "setup" and r.json()["timezone"] == "America/New_York"
    r = as_user(admin).post("/api/v1/venues", json=body)
    assert r.status_code == 409 and "exists already" in r.json()["detail"]
    bad = as_user(admin).post("/api/v1/venues", json={**body, "slug": "x y", "title": "t"})
    assert bad.status_code == 422 and "short name" in bad.json()["detail"]
    bad_tz = as_user(admin).post("/api/v1/venues", json={**body, "slug": "ok-slug", "timezone": "Mars/Olympus"})
    assert bad_tz.status_code == 422 and "time zone" in bad_tz.json()["detail"]
    assert db.exec(select(Venue).where(Venue.slug == "ok-slug")).first() is None


def test_chair_moves_phases_one_step_at_a_time_with_audit(make, as_user, db):
    venue = make.venue(phase="setup")
    cast = make.cast(venue)
    chair = as_user(cast["chair"])
    r = confirm_phase(chair, venue.slug, "review")
    assert r.status_code == 409 and "cannot jump from setup to review" in r.json()["detail"]
    db.refresh(venue)
    assert venue.phase == "setup"
    r = confirm_phase(chair, venue.slug, "submission")
    assert r.status_code == 200 and r.json()["phase"] == "submission"
    assert r.json()["allowed_phase_moves"] == ["assignment", "setup"]
    r = confirm_phase(chair, venue.slug, "banana")
    assert r.status_code == 422 and "not a phase" in r.json()["detail"]
    events = db.exec(select(AuditEvent).where(AuditEvent.venue_id == venue.id,
                                              AuditEvent.action == "venue.phase")).all()
    assert [(e.detail["before"], e.detail["after"]) for e in events] == [("setup", "submission")]
    assert events[0].actor_id == cast["chair"].id
    for who in ("ta", "student", "reviewer"):
        r = confirm_phase(as_user(cast[who]), venue.slug, "assignment")
        assert r.status_code == 403, who
    assert confirm_phase(as_user(cast["outsider"]), venue.slug, "assignment").status_code == 404


def test_opening_submission_needs_a_future_deadline(make, as_user, db):
    venue = make.venue(phase="setup", submission_due=None)
    cast = make.cast(venue)
    chair = as_user(cast["chair"])
    r = confirm_phase(chair, venue.slug, "submission")
    assert r.status_code == 409 and "Set the submission deadline" in r.json()["detail"]
    r = chair.put(f"/api/v1/venues/{venue.slug}/deadlines/submission", json={"due_at": "2020-01-01T12:00"})
    assert r.status_code == 422 and "is in the past" in r.json()["detail"]
    assert db.exec(select(Deadline).where(Deadline.venue_id == venue.id)).first() is None
    future = (datetime.now(UTC) + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    r = chair.put(f"/api/v1/venues/{venue.slug}/deadlines/submission", json={"due_at": future})
    assert r.status_code == 200
    sub = next(d for d in r.json() if d["kind"] == "submission")
    # Naive input is read in the venue's zone (Europe/London) and stored in UTC.
    local = datetime.fromisoformat(future).replace(tzinfo=__import__("zoneinfo").ZoneInfo("Europe/London"))
    assert datetime.fromisoformat(sub["due_at"]) == local
    assert confirm_phase(chair, venue.slug, "submission").status_code == 200
    r = chair.put(f"/api/v1/venues/{venue.slug}/deadlines/lunch", json={"due_at": future})
    assert r.status_code == 422 and "not a deadline" in r.json()["detail"]
    r = chair.put(f"/api/v1/venues/{venue.slug}/deadlines/review", json={"due_at": "next tuesday"})
    assert r.status_code == 422 and "not a date" in r.json()["detail"]


def test_deadlines_shown_in_the_venue_and_the_viewer_time_zone(make, browser_login, db):
    due = datetime(2031, 3, 1, 17, 0, tzinfo=UTC)
    venue = make.venue(phase="submission", timezone="Europe/London", submission_due=due)
    cast = make.cast(venue)
    cast["student"].timezone = "Asia/Tokyo"
    db.add(cast["student"])
    db.commit()
    page = browser_login(cast["student"]).get(f"/venues/{venue.slug}").text
    assert "Sat 01 Mar 2031, 17:00 GMT" in page
    assert "Sun 02 Mar 2031, 02:00 JST" in page


def test_settings_patch_validates_and_audits(make, as_user, db):
    venue = make.venue()
    cast = make.cast(venue)
    chair = as_user(cast["chair"])
    r = chair.patch(f"/api/v1/venues/{venue.slug}", json={"group_min": 5, "group_max": 3})
    assert r.status_code == 422
    r = chair.patch(f"/api/v1/venues/{venue.slug}", json={"page_limit": 8, "title": "MLSys"})
    assert r.status_code == 200 and r.json()["page_limit"] == 8
    ev = db.exec(select(AuditEvent).where(AuditEvent.action == "venue.settings")).one()
    assert ev.detail["changes"]["page_limit"] == [9, 8]
    assert as_user(cast["ta"]).patch(f"/api/v1/venues/{venue.slug}", json={"title": "x"}).status_code == 403


def test_venue_list_shows_only_own_venues(make, as_user, db):
    v1, v2 = make.venue(), make.venue()
    cast = make.cast(v1)
    slugs = {v["slug"] for v in as_user(cast["student"]).get("/api/v1/venues").json()}
    assert v1.slug in slugs and v2.slug not in slugs
    admin_slugs = {v["slug"] for v in as_user(cast["admin"]).get("/api/v1/venues").json()}
    assert {v1.slug, v2.slug} <= admin_slugs
    assert as_user(cast["outsider"]).get(f"/api/v1/venues/{v1.slug}").status_code == 404
    assert as_user(cast["student"]).get("/api/v1/venues/no-such-venue").status_code == 404


def test_audit_log_is_for_staff(make, as_user):
    venue = make.venue()
    cast = make.cast(venue)
    confirm_phase(as_user(cast["chair"]), venue.slug, "submission")
    events = as_user(cast["ta"]).get(f"/api/v1/venues/{venue.slug}/audit").json()
    assert events[0]["action"] == "venue.phase" and events[0]["actor"] == cast["chair"].email
    assert as_user(cast["student"]).get(f"/api/v1/venues/{venue.slug}/audit").status_code == 403
    assert as_user(cast["reviewer"]).get(f"/api/v1/venues/{venue.slug}/audit").status_code == 403
