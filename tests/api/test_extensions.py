"""Extensions and the effective deadline per group."""

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from app.models import Extension
from app.services.deadlines import effective_deadline


def _iso(dt: datetime) -> str:
    return dt.isoformat()


def test_request_grant_and_effective_deadline(make, as_user, db):
    due = datetime.now(UTC) + timedelta(days=3)
    venue = make.venue(phase="submission", submission_due=due)
    cast = make.cast(venue)
    student = as_user(cast["student"])
    r = student.post(f"/api/v1/venues/{venue.slug}/extensions", json={"reason": "short"})
    assert r.status_code == 422 and "at least 10 characters" in r.json()["detail"]
    r = student.post(f"/api/v1/venues/{venue.slug}/extensions",
                     json={"reason": "Our board broke and the replacement arrives Friday.",
                           "requested_until": _iso(due + timedelta(days=4))})
    assert r.status_code == 201 and r.json()["status"] == "pending"
    ext_id = r.json()["id"]
    again = student.post(f"/api/v1/venues/{venue.slug}/extensions", json={"reason": "Another reason, please."})
    assert again.status_code == 409
    assert as_user(cast["student"]).post(f"/api/v1/venues/{venue.slug}/extensions/{ext_id}/decision",
                                         json={"grant": True, "new_due_at": _iso(due + timedelta(days=4))}
                                         ).status_code == 403
    chair = as_user(cast["chair"])
    r = chair.post(f"/api/v1/venues/{venue.slug}/extensions/{ext_id}/decision",
                   json={"grant": True, "new_due_at": _iso(due - timedelta(days=1))})
    assert r.status_code == 422 and "later than the group's current deadline" in r.json()["detail"]
    r = chair.post(f"/api/v1/venues/{venue.slug}/extensions/{ext_id}/decision",
                   json={"grant": True, "new_due_at": "2020-01-01T00:00"})
    assert r.status_code == 422 and "in the past" in r.json()["detail"]
    assert db.get(Extension, ext_id).status == "pending"
    new_due = due + timedelta(days=4)
    r = chair.post(f"/api/v1/venues/{venue.slug}/extensions/{ext_id}/decision",
                   json={"grant": True, "new_due_at": _iso(new_due), "note": "Good luck"})
    assert r.status_code == 200 and r.json()["status"] == "granted"
    eff = effective_deadline(db, venue, "submission", cast["group"].id)
    assert eff.extended and abs((eff.due_at - new_due).total_seconds()) < 1
    assert effective_deadline(db, venue, "submission", None).due_at == eff.venue_due_at
    mine = next(d for d in student.get(f"/api/v1/venues/{venue.slug}/deadlines").json() if d["kind"] == "submission")
    assert mine["extended"] is True
    other = next(d for d in as_user(cast["loner"]).get(f"/api/v1/venues/{venue.slug}/deadlines").json()
                 if d["kind"] == "submission")
    assert other["extended"] is False
    r = chair.post(f"/api/v1/venues/{venue.slug}/extensions/{ext_id}/decision", json={"grant": False})
    assert r.status_code == 409 and "granted already" in r.json()["detail"]


def test_refusal_and_visibility(make, as_user, db):
    venue = make.venue(phase="submission")
    cast = make.cast(venue)
    other_group = make.group(venue, "Other", size=1)
    other_student = db.exec(select(type(cast["student"])).where(
        type(cast["student"]).id == __import__("app.models", fromlist=["Member"]).Member.user_id)).first()
    db.commit()
    r = as_user(cast["student"]).post(f"/api/v1/venues/{venue.slug}/extensions",
                                      json={"reason": "We need more time for the GPU runs."})
    ext_id = r.json()["id"]
    r = as_user(cast["ta"]).post(f"/api/v1/venues/{venue.slug}/extensions/{ext_id}/decision",
                                 json={"grant": False, "note": "Please plan ahead."})
    assert r.status_code == 200 and r.json()["status"] == "refused"
    assert len(as_user(cast["student"]).get(f"/api/v1/venues/{venue.slug}/extensions").json()) == 1
    assert as_user(cast["loner"]).get(f"/api/v1/venues/{venue.slug}/extensions").json() == []
    assert as_user(cast["loner"]).post(f"/api/v1/venues/{venue.slug}/extensions",
                                       json={"reason": "I have no group at all."}).status_code == 403
    assert other_group and other_student


def test_no_deadline_no_extension(make, as_user):
    venue = make.venue(phase="submission", submission_due=None)
    cast = make.cast(venue)
    r = as_user(cast["student"]).post(f"/api/v1/venues/{venue.slug}/extensions",
                                      json={"reason": "We need more time please."})
    assert r.status_code == 409 and "has not been set" in r.json()["detail"]
