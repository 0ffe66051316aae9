"""Sign-in limits that a stranger cannot turn into a lock-out: by (address, IP), a slower per-address backoff,
lifted by a password reset; reset mail throttled per address without an oracle; 429s carry Retry-After."""

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import select

from app.models import LoginAttempt
from app.security import tokens
from tests.factories import PASSWORD, csrf_from


def _from(app, ip: str) -> TestClient:  # noqa: ANN001
    return TestClient(app, client=(ip, 40000))


def _try(c: TestClient, email: str, password: str = "wrong password") -> int:
    return c.post("/api/v1/session", json={"email": email, "password": password}).status_code


def test_failures_from_another_ip_do_not_lock_the_owner_out(app, make, db):
    victim = make.user()
    db.commit()
    attacker = _from(app, "203.0.113.7")
    assert [_try(attacker, victim.email) for _ in range(8)] == [401] * 5 + [429] * 3
    # The owner, from their own address, signs in at once.
    assert _try(_from(app, "198.51.100.20"), victim.email, PASSWORD) == 200
    # The attacker's pair stays locked, even with the right password.
    assert _try(attacker, victim.email, PASSWORD) == 429


def test_a_429_says_when_to_retry_in_the_usual_error_shape(app, make, db, settings):
    user = make.user()
    db.commit()
    c = _from(app, "203.0.113.8")
    for _ in range(5):
        _try(c, user.email)
    r = c.post("/api/v1/session", json={"email": user.email, "password": PASSWORD})
    assert r.status_code == 429
    body = r.json()
    assert set(body) == {"detail", "code"} and body["code"] == "rate-limited"
    assert "Too many failed sign-ins" in body["detail"] and "reset your password" in body["detail"]
    assert 0 < int(r.headers["Retry-After"]) <= settings.login_window_s
    # The login form answers 429 with Retry-After as well, and a readable page.
    token = csrf_from(c.get("/login").text)
    r = c.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 429 and "Too many failed sign-ins" in r.text
    assert 0 < int(r.headers["Retry-After"]) <= settings.login_window_s


def test_the_pair_lock_ends_when_its_failures_leave_the_window(app, make, db, settings):
    user = make.user()
    db.commit()
    c = _from(app, "203.0.113.9")
    for _ in range(5):
        _try(c, user.email)
    assert _try(c, user.email, PASSWORD) == 429
    for attempt in db.exec(select(LoginAttempt).where(LoginAttempt.email == user.email)).all():
        attempt.at -= timedelta(seconds=settings.login_window_s + 1)
        db.add(attempt)
    db.commit()
    assert _try(c, user.email, PASSWORD) == 200


def test_failures_across_many_ips_slow_the_address_down_with_growing_delays(app, make, db, settings):
    victim = make.user()
    db.commit()
    threshold = settings.login_address_max_failures
    for i in range(threshold // settings.login_max_failures):
        c = _from(app, f"192.0.2.{i + 1}")
        assert [_try(c, victim.email) for _ in range(settings.login_max_failures)] == [401] * 5
    fresh = _from(app, "192.0.2.200")
    r = fresh.post("/api/v1/session", json={"email": victim.email, "password": PASSWORD})
    assert r.status_code == 429 and 0 < int(r.headers["Retry-After"]) <= settings.login_backoff_s

    def age_all(seconds: int) -> None:
        for attempt in db.exec(select(LoginAttempt).where(LoginAttempt.email == victim.email)).all():
            attempt.at -= timedelta(seconds=seconds)
            db.add(attempt)
        db.commit()

    age_all(settings.login_backoff_s + 1)
    assert _try(fresh, victim.email) == 401  # one more try after the delay, wrong again
    r = fresh.post("/api/v1/session", json={"email": victim.email, "password": PASSWORD})
    assert r.status_code == 429
    # The delay doubled: more than the first one, never more than the window.
    assert settings.login_backoff_s < int(r.headers["Retry-After"]) <= 2 * settings.login_backoff_s
    # Only delayed, never locked for long: after the delay the owner gets in, and that lifts the count.
    age_all(2 * settings.login_backoff_s + 1)
    assert _try(fresh, victim.email, PASSWORD) == 200
    assert _try(_from(app, "192.0.2.201"), victim.email, PASSWORD) == 200


def test_one_ip_trying_many_addresses_is_stopped(app, make, db, settings):
    people = [make.user() for _ in range(5)]
    db.commit()
    sprayer = _from(app, "203.0.113.50")
    statuses = [_try(sprayer, p.email) for p in people for _ in range(4)]
    assert statuses == [401] * 20
    assert _try(sprayer, make.user().email) == 429
    db.commit()
    assert _try(_from(app, "203.0.113.51"), people[0].email, PASSWORD) == 200  # elsewhere: unaffected


def test_a_password_reset_lifts_the_lock(app, make, db, settings):
    user = make.user()
    db.commit()
    c = _from(app, "203.0.113.60")
    for _ in range(5):
        _try(c, user.email)
    assert _try(c, user.email, PASSWORD) == 429
    token = tokens.make_reset_token(settings.resolved_secret_key, user.id, user.password_hash)
    r = c.post("/api/v1/password/reset", json={"token": token, "password": "a brand new password"})
    assert r.status_code == 200
    assert _try(c, user.email, "a brand new password") == 200


def test_reset_mail_is_throttled_per_address_and_the_answer_does_not_change(app, make, db, settings):
    user = make.user()
    db.commit()
    outbox = settings.data_dir / "outbox"
    c = _from(app, "203.0.113.70")
    answers = [c.post("/api/v1/password/forgot", json={"email": user.email}) for _ in range(6)]
    unknown = c.post("/api/v1/password/forgot", json={"email": "nobody@uni.example"})
    assert {(a.status_code, a.text) for a in [*answers, unknown]} == {(answers[0].status_code, answers[0].text)}
    assert answers[0].status_code == 202
    mails = sorted(outbox.glob("*.eml"))
    assert len(mails) == settings.reset_mail_max_per_hour
    assert all(user.email in m.read_text() for m in mails)
    # From another IP too: the throttle is per address, not per requester.
    assert _from(app, "198.51.100.71").post("/api/v1/password/forgot", json={"email": user.email}).status_code == 202
    assert len(list(outbox.glob("*.eml"))) == settings.reset_mail_max_per_hour
    # The page form says the same words whether or not a mail went out.
    token = csrf_from(c.get("/password/forgot").text)
    r = c.post("/password/forgot", data={"email": user.email, "csrf_token": token})
    assert "If an account exists for that address" in r.text
    # An hour later the address gets mail again.
    for row in db.exec(select(LoginAttempt).where(LoginAttempt.kind == "reset-mail")).all():
        row.at -= timedelta(hours=1, seconds=1)
        db.add(row)
    db.commit()
    c.post("/api/v1/password/forgot", json={"email": user.email})
    assert len(list(outbox.glob("*.eml"))) == settings.reset_mail_max_per_hour + 1
