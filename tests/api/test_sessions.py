"""Sessions end on the server: signing out (here, everywhere, by a password change or reset) makes a kept copy of
the cookie worthless, in every API process at once; sessions expire and their rows are deleted."""

import base64
import json
from datetime import UTC, datetime, timedelta

import itsdangerous
from fastapi.testclient import TestClient
from sqlmodel import select

from app.models import UserSession
from app.security import tokens
from tests.factories import PASSWORD, csrf_from
from tests.testapp import app_on_session


def _api_login(app, user) -> TestClient:  # noqa: ANN001
    c = TestClient(app)
    r = c.post("/api/v1/session", json={"email": user.email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return c


def _copy(app, c: TestClient) -> TestClient:  # noqa: ANN001
    """Another client holding a copy of `c`'s cookie, as an attacker who kept it would."""
    return TestClient(app, cookies={"rr_session": c.cookies["rr_session"]})


def test_a_cookie_kept_from_before_sign_out_gets_401(app, make, db):
    user = make.user()
    db.commit()
    c = _api_login(app, user)
    kept = _copy(app, c)
    assert kept.get("/api/v1/me").status_code == 200
    assert c.delete("/api/v1/session").status_code == 204
    assert c.get("/api/v1/me").status_code == 401
    r = kept.get("/api/v1/me")
    assert r.status_code == 401 and r.json()["code"] == "not-signed-in"
    assert kept.get("/account", follow_redirects=False).headers["location"].startswith("/login")
    assert db.exec(select(UserSession).where(UserSession.user_id == user.id)).all() == []


def test_the_sign_out_form_ends_the_session_too(browser_login, app, make, db):
    user = make.user()
    db.commit()
    c = browser_login(user)
    kept = _copy(app, c)
    r = c.post("/logout", data={"csrf_token": c.csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert kept.get("/api/v1/me").status_code == 401


def test_several_api_processes_agree_on_a_sign_out(app, settings, engine, make, db):
    """Two app instances (two API processes behind a proxy) share only the database and the secret key."""
    other_process = app_on_session(settings, engine, db)
    user = make.user()
    db.commit()
    c = _api_login(app, user)
    on_other = _copy(other_process, c)
    assert on_other.get("/api/v1/me").status_code == 200
    assert c.delete("/api/v1/session").status_code == 204
    assert on_other.get("/api/v1/me").status_code == 401


def test_sign_in_starts_a_fresh_session_and_csrf_token(app, make, db):
    """No session fixation: the cookie and CSRF token a browser had before signing in do not carry over."""
    user = make.user()
    db.commit()
    c = TestClient(app)
    before = csrf_from(c.get("/login").text)
    c.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": before})
    after = csrf_from(c.get("/account").text)
    assert after != before
    assert c.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRF-Token": before}).status_code == 403
    assert c.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRF-Token": after}).status_code == 201
    # Signing in again on the same browser replaces its session (the old key ends).
    c.post("/api/v1/session", json={"email": user.email, "password": PASSWORD})
    assert len(db.exec(select(UserSession).where(UserSession.user_id == user.id)).all()) == 1


def test_sign_out_everywhere_else_keeps_this_browser(browser_login, make, db):
    user = make.user()
    db.commit()
    here, phone, laptop = browser_login(user), browser_login(user), browser_login(user)
    page = here.get("/account")
    assert page.text.count("<tr><td>") >= 3 and "this browser" in page.text
    r = here.post("/account/sessions/end", data={"csrf_token": here.csrf, "keep_current": "true"})
    assert r.status_code == 200 and "2 other sessions ended" in r.text
    assert here.get("/account", follow_redirects=False).status_code == 200
    for gone in (phone, laptop):
        assert gone.get("/account", follow_redirects=False).status_code == 303
        assert gone.get("/api/v1/me").status_code == 401


def test_sign_out_everywhere_ends_this_browser_too(browser_login, make, db):
    user, bystander = make.user(), make.user()
    db.commit()
    here, there, theirs = browser_login(user), browser_login(user), browser_login(bystander)
    kept = _copy(here.app, here)
    r = here.post("/account/sessions/end", data={"csrf_token": here.csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    for gone in (here, there, kept):
        assert gone.get("/api/v1/me").status_code == 401
    assert theirs.get("/api/v1/me").status_code == 200  # another person's sessions are untouched


def test_sign_out_everywhere_needs_the_csrf_token(browser_login, make, db):
    user = make.user()
    db.commit()
    here, there = browser_login(user), browser_login(user)
    assert here.post("/account/sessions/end", data={"csrf_token": "forged"}).status_code == 403
    assert there.get("/api/v1/me").status_code == 200


def test_api_sign_out_everywhere(app, make, db, as_user):
    user = make.user()
    db.commit()
    a, b = _api_login(app, user), _api_login(app, user)
    csrf = a.get("/api/v1/csrf").json()["csrf_token"]
    r = a.delete("/api/v1/sessions", params={"except_current": "true"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json() == {"ended": 1}
    assert a.get("/api/v1/me").status_code == 200 and b.get("/api/v1/me").status_code == 401
    # A script with an API token signs every browser out; the token itself stays valid.
    script = as_user(user)
    assert script.delete("/api/v1/sessions").json() == {"ended": 1}
    assert a.get("/api/v1/me").status_code == 401
    assert script.get("/api/v1/me").status_code == 200
    assert TestClient(app).delete("/api/v1/sessions").status_code == 401


def test_a_password_reset_ends_every_session(app, make, db, settings):
    user = make.user()
    db.commit()
    c = _api_login(app, user)
    token = tokens.make_reset_token(settings.resolved_secret_key, user.id, user.password_hash)
    r = TestClient(app).post("/api/v1/password/reset", json={"token": token, "password": "a brand new password"})
    assert r.status_code == 200
    assert c.get("/api/v1/me").status_code == 401


def test_a_password_change_keeps_only_the_browser_that_changed_it(browser_login, app, make, db):
    user = make.user()
    db.commit()
    here, elsewhere = browser_login(user), _api_login(app, user)
    kept = _copy(app, here)
    r = here.post("/account/password", data={"current": PASSWORD, "password": "new password 123",
                                              "csrf_token": here.csrf})
    assert "Password changed" in r.text
    assert here.get("/api/v1/me").status_code == 200 and kept.get("/api/v1/me").status_code == 200
    assert elsewhere.get("/api/v1/me").status_code == 401


def test_sessions_expire_and_expired_rows_are_deleted(app, make, db, settings):
    user = make.user()
    db.commit()
    c = _api_login(app, user)
    row = db.exec(select(UserSession).where(UserSession.user_id == user.id)).one()
    row.last_seen_at = datetime.now(UTC) - timedelta(seconds=settings.session_max_age_s + 60)
    db.add(row)
    db.commit()
    assert c.get("/api/v1/me").status_code == 401
    _api_login(app, make.user())  # any sign-in cleans up expired sessions
    db.expire_all()
    assert db.exec(select(UserSession).where(UserSession.user_id == user.id)).all() == []


def test_use_refreshes_a_session_coarsely(app, make, db, settings):
    """The lifetime is sliding (as the cookie's): a session in use stays; last_seen_at is written once an hour."""
    user = make.user()
    db.commit()
    c = _api_login(app, user)
    row = db.exec(select(UserSession).where(UserSession.user_id == user.id)).one()
    old = datetime.now(UTC) - timedelta(seconds=settings.session_max_age_s - 600)
    row.last_seen_at = old
    db.add(row)
    db.commit()
    assert c.get("/api/v1/me").status_code == 200
    db.refresh(row)
    assert row.last_seen_at > old + timedelta(seconds=500)


def test_a_cookie_of_the_old_stateless_kind_no_longer_signs_in(app, make, db, settings):
    """Cookies signed with the site key but naming a user directly (as before server-side sessions) are refused."""
    user = make.user()
    db.commit()
    payload = base64.b64encode(json.dumps({"uid": user.id, "ep": 0, "csrf": "x"}).encode())
    cookie = itsdangerous.TimestampSigner(settings.resolved_secret_key).sign(payload).decode()
    forged = TestClient(app, cookies={"rr_session": cookie})
    assert forged.get("/api/v1/me").status_code == 401
    # The same forging with a random session key that no row has is refused as well.
    payload = base64.b64encode(json.dumps({"sid": tokens.new_session_key(), "csrf": "x"}).encode())
    cookie = itsdangerous.TimestampSigner(settings.resolved_secret_key).sign(payload).decode()
    assert TestClient(app, cookies={"rr_session": cookie}).get("/api/v1/me").status_code == 401
