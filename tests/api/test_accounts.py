"""Sign-in, sessions, CSRF, rate limiting, password reset by email, API tokens."""

import email
import re
import time

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlmodel import select

from app.models import AuditEvent, LoginAttempt, User
from tests.factories import PASSWORD, csrf_from


def test_login_form_signs_in_and_logout_signs_out(client, make):
    user = make.user("Ada Lovelace")
    make.db.commit()
    token = csrf_from(client.get("/login").text)
    r = client.post("/login", data={"email": user.email.upper(), "password": PASSWORD, "csrf_token": token,
                                    "next": "/account"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account"
    page = client.get("/account")
    assert "Ada Lovelace" in page.text
    # The signed cookie carries the key of a server-side session (tests/api/test_sessions.py).
    assert "rr_session" in client.cookies
    r = client.post("/logout", data={"csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/account", follow_redirects=False).headers["location"].startswith("/login")


def test_wrong_password_is_refused_with_a_message(client, make):
    user = make.user()
    make.db.commit()
    token = csrf_from(client.get("/login").text)
    r = client.post("/login", data={"email": user.email, "password": "nope-nope-nope", "csrf_token": token})
    assert r.status_code == 200 and "Wrong email or password." in r.text
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_open_redirect_through_next_is_refused(client, make):
    user = make.user()
    make.db.commit()
    token = csrf_from(client.get("/login").text)
    r = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token,
                                    "next": "//evil.example/"}, follow_redirects=False)
    assert r.headers["location"] == "/"


def test_forged_csrf_token_is_refused_and_changes_nothing(browser_login, make):
    user = make.user("Tim Zone")
    make.db.commit()
    c = browser_login(user)
    r = c.post("/account/timezone", data={"timezone": "Asia/Tokyo", "csrf_token": "forged"})
    assert r.status_code == 403 and "did not come from this site" in r.text
    r = c.post("/account/timezone", data={"timezone": "Asia/Tokyo"})
    assert r.status_code == 403
    make.db.refresh(user)
    assert user.timezone is None
    r = c.post("/account/timezone", data={"timezone": "Asia/Tokyo", "csrf_token": c.csrf})
    assert r.status_code == 200 and "Time zone saved." in r.text
    make.db.refresh(user)
    assert user.timezone == "Asia/Tokyo"


def test_cookie_authenticated_api_writes_need_the_csrf_header(browser_login, make):
    user = make.user()
    make.db.commit()
    c = browser_login(user)
    assert c.post("/api/v1/tokens", json={"name": "x"}).status_code == 403
    r = c.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRF-Token": c.csrf})
    assert r.status_code == 201 and r.json()["token"].startswith("rr_")


def test_twenty_wrong_passwords_lock_out_sign_in_for_a_while(client, make, db):
    user = make.user()
    make.db.commit()
    statuses = []
    for _ in range(20):
        r = client.post("/api/v1/session", json={"email": user.email, "password": "wrong password"})
        statuses.append(r.status_code)
    assert statuses[:5] == [401] * 5
    assert set(statuses[5:]) == {429}
    # Even the right password is refused during the lock-out, with a clear message.
    r = client.post("/api/v1/session", json={"email": user.email, "password": PASSWORD})
    assert r.status_code == 429 and "Too many failed sign-ins" in r.json()["detail"]
    # Nothing about the account changed; only 5 attempts were recorded (the rest were refused early).
    db.refresh(user)
    assert user.password_hash and user.session_epoch == 0
    assert len(db.exec(select(LoginAttempt).where(LoginAttempt.email == user.email)).all()) == 5
    # Another account is not locked by it.
    other = make.user()
    make.db.commit()
    assert client.post("/api/v1/session", json={"email": other.email, "password": PASSWORD}).status_code == 200


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp(settings):  # noqa: ANN001, ANN201
    inbox = _Inbox()
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.smtp_host = "127.0.0.1"
    settings.smtp_port = port
    yield inbox
    controller.stop()


def _wait_for(inbox: _Inbox, n: int = 1) -> None:
    deadline = time.time() + 5
    while len(inbox.messages) < n and time.time() < deadline:
        time.sleep(0.02)


def test_password_reset_by_email_through_a_real_smtp_server(client, make, smtp, db):
    user = make.user("Grace Hopper")
    make.db.commit()
    token = csrf_from(client.get("/password/forgot").text)
    r = client.post("/password/forgot", data={"email": user.email, "csrf_token": token})
    assert "we have emailed it a link" in r.text
    _wait_for(smtp)
    assert len(smtp.messages) == 1
    msg = smtp.messages[0]
    assert msg["To"] == user.email
    body = msg.get_payload(decode=True).decode()
    link = re.search(r"http://testserver(/password/reset\?token=\S+)", body).group(1)
    reset_token = link.split("token=")[1]
    page = client.get(link)
    r = client.post("/password/reset", data={"token": reset_token, "password": "a brand new password",
                                             "csrf_token": csrf_from(page.text)})
    assert "Your password is changed" in r.text
    assert client.post("/api/v1/session", json={"email": user.email, "password": PASSWORD}).status_code == 401
    assert client.post("/api/v1/session", json={"email": user.email,
                                                "password": "a brand new password"}).status_code == 200
    # The link is single-use: the password it was made for is gone.
    r = client.post("/api/v1/password/reset", json={"token": reset_token, "password": "yet another password"})
    assert r.status_code == 422 and "invalid or has expired" in r.json()["detail"]


def test_password_reset_for_unknown_email_says_the_same_and_sends_nothing(client, smtp):
    r = client.post("/api/v1/password/forgot", json={"email": "nobody@uni.example"})
    assert r.status_code == 202
    time.sleep(0.2)
    assert smtp.messages == []


def test_forged_reset_token_is_refused(client):
    r = client.post("/api/v1/password/reset", json={"token": "eyJ1IjoxfQ.forged.sig", "password": "whatever-long"})
    assert r.status_code == 422


def test_api_tokens_authenticate_and_can_be_revoked(client, make, as_user):
    user = make.user("Script Owner")
    make.db.commit()
    c = as_user(user)
    me = c.get("/api/v1/me")
    assert me.status_code == 200 and me.json()["full_name"] == "Script Owner"
    created = c.post("/api/v1/tokens", json={"name": "grading"}).json()
    c2 = TestClient(c.app, headers={"Authorization": f"Bearer {created['token']}"})
    assert c2.get("/api/v1/me").status_code == 200
    assert c.delete(f"/api/v1/tokens/{created['id']}").status_code == 204
    assert c2.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer rr_made_up"}).status_code == 401
    assert client.get("/api/v1/me").status_code == 401


def test_changing_password_signs_out_other_sessions(browser_login, make, db):
    user = make.user()
    make.db.commit()
    first = browser_login(user)
    second = browser_login(user)
    r = second.post("/account/password", data={"current": PASSWORD, "password": "new password 123",
                                                "csrf_token": second.csrf})
    assert "Password changed" in r.text
    assert second.get("/account", follow_redirects=False).status_code == 200
    assert first.get("/account", follow_redirects=False).status_code == 303
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "account.password")).first() is not None
    assert isinstance(db.get(User, user.id), User)


def test_token_use_is_recorded_at_the_end_of_the_request(make, as_user, db):
    from app.models import ApiToken

    user = make.user()
    make.db.commit()
    c = as_user(user)
    token = db.exec(select(ApiToken).where(ApiToken.user_id == user.id)).one()
    assert token.last_used_at is None
    assert c.get("/api/v1/me").status_code == 200
    db.refresh(token)
    assert token.last_used_at is not None
