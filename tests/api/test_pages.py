"""Pages per role: each sees its own dashboard; forbidden pages answer 403/404 with a message, not 500."""

import html

import pytest


@pytest.mark.parametrize(("role", "expect", "absent"), [
    ("chair", ["Roster", "Audit log", "Open the assignment phase"], ["Your group"]),
    ("ta", ["Roster", "Audit log"], ["Open the assignment phase"]),
    ("student", ["Your group", "Team Alpha", "join code"], ["Roster", "Audit log"]),
    ("loner", ["not in a group yet"], ["Roster"]),
])
def test_dashboard_per_role(make, browser_login, role, expect, absent):  # noqa: ANN001
    venue = make.venue(phase="submission")
    cast = make.cast(venue)
    page = browser_login(cast[role]).get(f"/venues/{venue.slug}")
    assert page.status_code == 200
    for text in expect:
        assert text in page.text, text
    for text in absent:
        assert text not in page.text, text


@pytest.mark.parametrize("path", ["roster", "audit", "settings"])
def test_staff_pages_refuse_students_with_a_message(make, browser_login, path):  # noqa: ANN001
    venue = make.venue(phase="submission")
    cast = make.cast(venue)
    r = browser_login(cast["student"]).get(f"/venues/{venue.slug}/{path}")
    assert r.status_code == 403 and "Only the venue" in r.text
    assert browser_login(cast["outsider"]).get(f"/venues/{venue.slug}/{path}").status_code == 404
    assert browser_login(cast["chair"]).get(f"/venues/{venue.slug}/{path}").status_code == 200


def test_pages_redirect_to_login_when_signed_out(client, make):  # noqa: ANN001
    venue = make.venue()
    make.db.commit()
    r = client.get(f"/venues/{venue.slug}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/login?next=/venues/{venue.slug}"


def test_phase_jump_from_the_page_shows_why(make, browser_login, db):  # noqa: ANN001
    venue = make.venue(phase="submission")
    cast = make.cast(venue)
    c = browser_login(cast["chair"])
    r = c.post(f"/venues/{venue.slug}/phase", data={"phase": "released", "csrf_token": c.csrf})
    assert "cannot jump from submission to released" in r.text
    db.refresh(venue)
    assert venue.phase == "submission"


def test_group_pages_flow_without_javascript(make, browser_login, db):  # noqa: ANN001
    venue = make.venue(phase="submission")
    u1, _ = make.member(venue, name="Ana First")
    u2, _ = make.member(venue, name="Ben Second")
    db.commit()
    c1 = browser_login(u1)
    r = c1.post(f"/venues/{venue.slug}/groups", data={"name": "Team Quant", "csrf_token": c1.csrf})
    assert "Group 'Team Quant' created" in html.unescape(r.text)
    import re

    code = re.search(r'class="joincode">([A-Z0-9]+)<', r.text).group(1)
    c2 = browser_login(u2)
    r = c2.post(f"/venues/{venue.slug}/groups/join", data={"code": "WRONG123", "csrf_token": c2.csrf})
    assert "No group in this venue has the join code" in r.text
    r = c2.post(f"/venues/{venue.slug}/groups/join", data={"code": code, "csrf_token": c2.csrf})
    assert "You joined 'Team Quant'" in html.unescape(r.text) and "Ana First" in r.text


def test_htmx_requests_vary_on_hx_request(make, browser_login):  # noqa: ANN001
    venue = make.venue()
    cast = make.cast(venue)
    r = browser_login(cast["chair"]).get(f"/venues/{venue.slug}", headers={"HX-Request": "true"})
    assert "HX-Request" in r.headers["vary"]


def test_static_assets_are_vendored(client):  # noqa: ANN001
    assert client.get("/static/vendor/htmx-2.0.11.min.js").status_code == 200
    assert client.get("/static/vendor/simple-2.3.7.min.css").status_code == 200
    page = client.get("/login").text
    assert "https://" not in page  # no CDN
