"""Extensions for reviewers (issue 17): a reviewer asks with a reason, a chair or TA decides, and the reviewer's
effective review deadline (not their group's, not the venue's) is what the review form honours."""

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from app.models import AuditEvent, Deadline, Extension
from app.services.deadlines import effective_deadline
from tests.api.test_reviews import GOOD, _url, venue_setup  # noqa: F401  (a fixture)

REASON = "I have two exams this week and the paper's appendix is long."


def _ext_url(s, tail: str = "") -> str:  # noqa: ANN001
    return f"/api/v1/venues/{s['venue'].slug}/extensions{tail}"


def _past_deadline(db, s) -> None:  # noqa: ANN001
    due = db.exec(select(Deadline).where(Deadline.venue_id == s["venue"].id, Deadline.kind == "review")).one()
    due.due_at = datetime.now(UTC) - timedelta(hours=1)
    db.add(due)
    db.commit()


def test_a_reviewer_asks_a_chair_grants_and_the_form_honours_the_new_deadline(venue_setup, as_user, db):  # noqa: ANN001, F811
    s = venue_setup
    bea, chair = as_user(s["bea"]), as_user(s["chair"])
    assert bea.put(_url(s, "/review"), json={"answers": {"summary": "my draft"}, "version": 0}).status_code == 200
    venue_due = db.exec(select(Deadline).where(Deadline.kind == "review",
                                               Deadline.venue_id == s["venue"].id)).one().due_at
    r = bea.post(_ext_url(s, "/review"), json={"reason": REASON,
                                               "requested_until": (venue_due + timedelta(days=2)).isoformat()})
    assert r.status_code == 201, r.text
    ext = r.json()
    assert ext["for_reviewer"] is True and ext["kind"] == "review" and ext["status"] == "pending"
    assert ext["group_name"] == "You (as a reviewer)" and ext["group_id"] is None
    # staff see who asked; the reviewer's group-mates and the authors do not see the request at all
    staff_view = {e["id"]: e for e in as_user(s["chair"]).get(_ext_url(s)).json()}
    assert staff_view[ext["id"]]["group_name"] == "Reviewer Bea Reviewer"
    assert ext["id"] not in {e["id"] for e in as_user(s["ada"]).get(_ext_url(s)).json()}
    assert ext["id"] not in {e["id"] for e in as_user(s["cy"]).get(_ext_url(s)).json()}
    # the reviewer cannot decide their own request
    assert bea.post(_ext_url(s, f"/{ext['id']}/decision"), json={"grant": True}).status_code == 403

    _past_deadline(db, s)
    late = bea.post(_url(s, "/review/submit"), json={"answers": GOOD, "version": 1})
    assert late.status_code == 409 and late.json()["code"] == "deadline-passed"
    new_due = datetime.now(UTC) + timedelta(days=2)
    r = chair.post(_ext_url(s, f"/{ext['id']}/decision"), json={"grant": True, "new_due_at": new_due.isoformat(),
                                                                 "note": "Fine, take two days."})
    assert r.status_code == 200 and r.json()["status"] == "granted"
    eff = effective_deadline(db, s["venue"], "review", s["bea_m"].group_id, s["bea_m"].id)
    assert eff.extended and abs((eff.due_at - new_due).total_seconds()) < 1
    # the deadline the reviewer sees is their own
    page_deadlines = {d["kind"]: d for d in bea.get(f"/api/v1/venues/{s['venue'].slug}/deadlines").json()}
    assert page_deadlines["review"]["extended"] is True
    ok = bea.post(_url(s, "/review/submit"), json={"answers": GOOD, "version": 1})
    assert ok.status_code == 200, ok.text
    assert ok.json()["is_late"] is True
    # Cy (another reviewer of the same paper, no extension) is still past the deadline
    cy = as_user(s["cy"])
    refused = cy.put(_url(s, "/review"), json={"answers": {"summary": "late start"}, "version": 0})
    assert refused.status_code == 409 and refused.json()["code"] == "deadline-passed"
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "extension.decide")).first() is not None


def test_a_reviewers_extension_does_not_extend_their_groups_submission_deadline(venue_setup, as_user, db):  # noqa: ANN001, F811
    s = venue_setup
    r = as_user(s["bea"]).post(_ext_url(s, "/review"), json={"reason": REASON})
    assert r.status_code == 201
    later = datetime.now(UTC) + timedelta(days=9)
    assert as_user(s["chair"]).post(_ext_url(s, f"/{r.json()['id']}/decision"),
                                    json={"grant": True, "new_due_at": later.isoformat()}).status_code == 200
    # a group-mate of Bea's (none assigned here) and the group itself keep the venue's review deadline
    group_only = effective_deadline(db, s["venue"], "review", s["beta"].id)
    assert group_only.extended is False
    assert effective_deadline(db, s["venue"], "submission", s["beta"].id, s["bea_m"].id).extended is False


def test_bad_reviewer_requests_are_refused_and_change_nothing(venue_setup, as_user, db, make):  # noqa: ANN001, F811
    s = venue_setup
    bea = as_user(s["bea"])
    before = len(db.exec(select(Extension)).all())
    r = bea.post(_ext_url(s, "/review"), json={"reason": "busy"})
    assert r.status_code == 422 and "at least 10 characters" in r.json()["detail"]
    r = bea.post(_ext_url(s, "/review"), json={"reason": REASON, "requested_until": "2020-01-01T00:00"})
    assert r.status_code == 422 and "after your current review deadline" in r.json()["detail"]
    r = bea.post(_ext_url(s, "/review"), json={"reason": REASON, "requested_until": "next week"})
    assert r.status_code == 422 and "not a date" in r.json()["detail"]
    # Dee reviews nothing: nothing to extend
    r = as_user(s["dee"]).post(_ext_url(s, "/review"), json={"reason": REASON})
    assert r.status_code == 409 and "no reviews to write" in r.json()["detail"]
    # staff and authors of the venue are not reviewers asking for time... a chair is refused by the permission
    r = as_user(s["chair"]).post(_ext_url(s, "/review"), json={"reason": REASON})
    assert r.status_code == 403 and "reviewer" in r.json()["detail"]
    assert len(db.exec(select(Extension)).all()) == before
    # one pending request at a time
    assert bea.post(_ext_url(s, "/review"), json={"reason": REASON}).status_code == 201
    again = bea.post(_ext_url(s, "/review"), json={"reason": REASON + " Again."})
    assert again.status_code == 409 and "pending" in again.json()["detail"]
    # outside the review phase the request is refused
    s["venue"].phase = "response"
    db.add(s["venue"])
    db.commit()
    r = as_user(s["cy"]).post(_ext_url(s, "/review"), json={"reason": REASON})
    assert r.status_code == 403 and "review phase" in r.json()["detail"]
    assert len(db.exec(select(Extension)).all()) == before + 1


def test_a_refused_request_leaves_the_deadline_and_the_page_shows_the_form(venue_setup, as_user, browser_login, db):  # noqa: ANN001, F811
    s = venue_setup
    r = as_user(s["bea"]).post(_ext_url(s, "/review"), json={"reason": REASON})
    ext_id = r.json()["id"]
    r = as_user(s["chair"]).post(_ext_url(s, f"/{ext_id}/decision"), json={"grant": False, "note": "Sorry."})
    assert r.status_code == 200 and r.json()["status"] == "refused"
    assert effective_deadline(db, s["venue"], "review", s["bea_m"].group_id, s["bea_m"].id).extended is False
    c = browser_login(s["cy"])
    page = c.get(f"/venues/{s['venue'].slug}/extensions").text
    assert 'id="review-extension"' in page and "Your review deadline:" in page
    r = c.post(f"/venues/{s['venue'].slug}/extensions/review", data={"reason": REASON, "csrf_token": c.csrf})
    assert "Your request is sent to the chairs." in r.text and "You (as a reviewer)" in r.text
    staff_page = browser_login(s["chair"]).get(f"/venues/{s['venue'].slug}/extensions").text
    assert "Reviewer Cy Reviewer" in staff_page
