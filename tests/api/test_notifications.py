"""Notifications through the HTTP API against a real SMTP server (aiosmtpd): who gets which mail, that no mail
names an author to a reviewer or a reviewer to an author, per-user settings, sending only after commit, retries,
the daily digest (once per person and day), and the .ics calendar feed."""

import email
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.jobs import mail as mail_jobs
from app.jobs.digest import run_digest
from app.models import Deadline, Extension, SentNotification
from app.models.assignment import AssignmentSettings
from app.services import notifications
from app.services.assignments import Change, apply_changes
from app.services.deadlines import zone
from app.services.submissions import save_submission
from tests.api.test_reviews import GOOD as REVIEW
from tests.factories import PASSWORD, confirm_phase

ROOT = Path(__file__).resolve().parents[2]

GOOD = {**REVIEW, "confidential": "Nothing for the chair."}
AUTHOR_NAMES = ("Ada Author", "Alan Author", "Alpha Team")
REVIEWER_NAMES = ("Bea Reviewer", "Cy Reviewer", "Beta Team", "Gamma Team")


class _Inbox:
    """An SMTP server's mailbox; `reject` makes it refuse mail with a temporary error (451)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.reject = False
        self.port = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        if self.reject:
            return "451 Requested action aborted: try again later"
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(settings):  # noqa: ANN001, ANN201
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.smtp_host, settings.smtp_port = "127.0.0.1", port
    inbox.port = port
    yield inbox
    controller.stop()


def _body(msg: Message) -> str:
    return msg.get_payload(decode=True).decode()


def _text(msg: Message) -> str:
    return f"{msg['Subject']}\n{_body(msg)}"


@pytest.fixture
def course(make, db):  # noqa: ANN001, ANN201
    """Submission #1 by group Alpha (Ada, Alan), assigned to Bea (Beta) and Cy (Gamma); Dee reviews nothing.

    The pairs are made in the assignment phase (no mail yet: reviewers cannot see papers before reviewing
    opens), then the venue is put straight into the review phase, so no test starts with mail queued."""
    venue = make.venue(phase="submission")
    chair, _ = make.member(venue, "chair", name="Chair Person")
    alpha, beta = make.group(venue, "Alpha Team"), make.group(venue, "Beta Team")
    gamma = make.group(venue, "Gamma Team")
    ada, ada_m = make.member(venue, "student", group=alpha, name="Ada Author")
    alan, _ = make.member(venue, "student", group=alpha, name="Alan Author")
    bea, bea_m = make.member(venue, "student", group=beta, name="Bea Reviewer")
    cy, cy_m = make.member(venue, "student", group=gamma, name="Cy Reviewer")
    dee, dee_m = make.member(venue, "student", name="Dee Unassigned")
    sub = save_submission(db, ada, venue, ada_m, title="Keyword spotting on a microcontroller",
                          abstract="int8 CNN on Cortex-M4", keywords=["tinyml"])
    venue.phase = "assignment"
    apply_changes(db, chair, venue, [Change("add", sub.id, bea_m.id), Change("add", sub.id, cy_m.id)],
                  action="assignment.manual")
    review_due = datetime.now(UTC) + timedelta(days=3)
    db.add(Deadline(venue_id=venue.id, kind="review", due_at=review_due))
    venue.phase = "review"
    db.add(venue)
    db.commit()
    assert db.exec(select(SentNotification)).all() == []
    return {"venue": venue, "sub": sub, "chair": chair, "ada": ada, "alan": alan, "bea": bea, "cy": cy,
            "dee": dee, "dee_m": dee_m, "alpha": alpha, "review_due": review_due}


def _url(c, path="") -> str:  # noqa: ANN001
    return f"/api/v1/venues/{c['venue'].slug}/submissions/{c['sub'].number}{path}"


def _submit(client, c) -> None:  # noqa: ANN001
    saved = client.put(_url(c, "/review"), json={"answers": GOOD, "version": 0})
    assert saved.status_code == 200, saved.text
    r = client.post(_url(c, "/review/submit"), json={"answers": GOOD, "version": saved.json()["version"]})
    assert r.status_code == 200, r.text


def _phase(db, c, phase: str) -> None:  # noqa: ANN001
    c["venue"].phase = phase
    db.add(c["venue"])
    db.commit()


def _leaks(text: str, *needles: str) -> list[str]:
    return [n for n in needles if n and n in text]


def test_a_reviewers_comment_reaches_authors_and_the_other_reviewer_not_the_poster(course, as_user, db, smtp):  # noqa: ANN001
    c = course
    bea, cy = as_user(c["bea"]), as_user(c["cy"])
    _submit(bea, c)
    _submit(cy, c)
    _phase(db, c, "response")
    r = bea.post(_url(c, "/comments"), json={"body": "Could you share the exact board clock speed?"})
    assert r.status_code == 201, r.text

    # sent after the commit, before the request returned (the middleware runs once the response is out)
    assert {m["To"] for m in smtp.messages} == {c["ada"].email, c["alan"].email, c["cy"].email, c["chair"].email}
    assert smtp.to(c["bea"].email) == [] and smtp.to(c["dee"].email) == []
    reviewer_ids = (c["bea"].email, c["cy"].email) + REVIEWER_NAMES
    author_ids = (c["ada"].email, c["alan"].email) + AUTHOR_NAMES
    for author in (c["ada"], c["alan"]):
        (mail,) = smtp.to(author.email)
        text = _text(mail)
        assert "Reviewer A wrote" in text and "exact board clock speed" in text
        assert "#1" in mail["Subject"] and c["sub"].title in mail["Subject"]
        assert _leaks(text, *reviewer_ids) == [], text
        assert "http://testserver/venues/" in text  # the link uses the configured base URL
    (to_cy,) = smtp.to(c["cy"].email)
    assert _leaks(_text(to_cy), *author_ids, c["bea"].email, "Bea Reviewer") == []
    assert "Reviewer A wrote" in _text(to_cy)
    (to_chair,) = smtp.to(c["chair"].email)
    assert "Bea Reviewer" in _text(to_chair)  # chairs see everybody
    rows = db.exec(select(SentNotification).where(SentNotification.kind == "comment")).all()
    assert {r.status for r in rows} == {"sent"} and all(r.body and r.subject for r in rows)

    # the authors answer: reviewers read "Authors of #1", never a name
    smtp.messages.clear()
    r = as_user(c["ada"]).post(_url(c, "/comments"), json={"body": "It runs at 64 MHz; see the README."})
    assert r.status_code == 201, r.text
    assert {m["To"] for m in smtp.messages} == {c["alan"].email, c["bea"].email, c["cy"].email, c["chair"].email}
    for reviewer in (c["bea"], c["cy"]):
        text = _text(smtp.to(reviewer.email)[0])
        assert "Authors of #1 wrote" in text and _leaks(text, *author_ids) == [], text


def test_comment_audience_and_phase_decide_who_is_mailed(course, as_user, db, smtp):  # noqa: ANN001
    c = course
    bea, cy = as_user(c["bea"]), as_user(c["cy"])
    _submit(bea, c)
    _submit(cy, c)
    # review phase: the authors cannot read the discussion yet, so they are not mailed
    assert bea.post(_url(c, "/comments"), json={"body": "Early thoughts."}).status_code == 201
    assert {m["To"] for m in smtp.messages} == {c["cy"].email, c["chair"].email}
    smtp.messages.clear()
    _phase(db, c, "response")
    # a reviewers-only post never reaches the authors
    r = bea.post(_url(c, "/comments"), json={"body": "Between us: the baseline is weak.", "audience": "reviewers"})
    assert r.status_code == 201, r.text
    assert {m["To"] for m in smtp.messages} == {c["cy"].email, c["chair"].email}
    assert "to reviewers and chairs only" in _body(smtp.to(c["cy"].email)[0])


def test_settings_off_means_no_mail(course, as_user, db, smtp):  # noqa: ANN001
    c = course
    bea, cy = as_user(c["bea"]), as_user(c["cy"])
    _submit(bea, c)
    _submit(cy, c)
    _phase(db, c, "response")
    assert cy.get("/api/v1/me/notifications").json() == {"on_assignment": True, "on_comment": True,
                                                         "on_release": True, "deadline_digest": True}
    r = cy.put("/api/v1/me/notifications", json={"on_comment": False})
    assert r.status_code == 200 and r.json() == {"on_assignment": True, "on_comment": False, "on_release": True,
                                                 "deadline_digest": True}
    assert as_user(c["ada"]).put("/api/v1/me/notifications", json={"on_release": False}).status_code == 200
    assert bea.post(_url(c, "/comments"), json={"body": "Any news?"}).status_code == 201
    assert smtp.to(c["cy"].email) == []
    assert len(smtp.to(c["ada"].email)) == 1  # Ada turned off only release mail
    # release: Ada said no, Alan gets it
    smtp.messages.clear()
    _phase(db, c, "moderation")
    chair = as_user(c["chair"])
    assert confirm_phase(chair, c["venue"].slug, "released").status_code == 200
    assert [m["To"] for m in smtp.messages] == [c["alan"].email]


def test_settings_api_rejects_bad_input_and_anonymous_callers(client, make, as_user, db):  # noqa: ANN001
    user = make.user("Some One")
    db.commit()
    assert client.get("/api/v1/me/notifications").status_code == 401
    assert client.put("/api/v1/me/notifications", json={"on_comment": False}).status_code == 401
    assert client.get("/api/v1/me/calendar-url").status_code == 401
    me = as_user(user)
    bad = me.put("/api/v1/me/notifications", json={"on_everything": False})
    assert bad.status_code == 422 and bad.json()["code"] == "validation"
    assert me.put("/api/v1/me/notifications", json={"on_comment": "maybe"}).status_code == 422
    assert me.get("/api/v1/me/notifications").json()["on_comment"] is True  # nothing changed


def test_account_page_checkboxes_and_calendar_url(course, browser_login, as_user):  # noqa: ANN001
    c = course
    browser = browser_login(c["cy"])
    page = browser.get("/account").text
    url = as_user(c["cy"]).get("/api/v1/me/calendar-url").json()["url"]
    assert url.startswith("http://testserver/calendar/") and url.endswith(".ics")
    assert url in page and page.count('type="checkbox"') == 4 and page.count(" checked") == 4
    # an unticked box is absent from the form: only the digest stays on
    r = browser.post("/account/notifications", data={"deadline_digest": "true", "csrf_token": browser.csrf},
                     follow_redirects=False)
    assert r.status_code == 303
    assert as_user(c["cy"]).get("/api/v1/me/notifications").json() == {
        "on_assignment": False, "on_comment": False, "on_release": False, "deadline_digest": True}
    assert browser.get("/account").text.count(" checked") == 1
    # without the CSRF token nothing changes
    r = browser.post("/account/notifications", data={"on_comment": "true"}, follow_redirects=False)
    assert as_user(c["cy"]).get("/api/v1/me/notifications").json()["on_comment"] is False


def test_assignment_mail_when_added_in_review_and_when_reviewing_opens(course, as_user, make, db, smtp):  # noqa: ANN001
    c = course
    chair = as_user(c["chair"])
    slug = c["venue"].slug
    r = chair.post(f"/api/v1/venues/{slug}/assignments",
                   json=[{"op": "add", "submission": 1, "member_id": c["dee_m"].id}])
    assert r.status_code == 200, r.text
    (mail,) = smtp.messages
    assert mail["To"] == c["dee"].email
    assert mail["Subject"].endswith("You were assigned #1: Keyword spotting on a microcontroller")
    text = _body(mail)
    assert "Review deadline: " in text and f"http://testserver/venues/{slug}/submissions/1/review" in text
    assert _leaks(text, *AUTHOR_NAMES, c["ada"].email) == []

    # pairs made before reviewing opens are announced when the chair opens it, once per pair
    venue2 = make.venue(phase="submission")
    chair2, _ = make.member(venue2, "chair")
    grp = make.group(venue2, "Authors Two")
    author2, author2_m = make.member(venue2, "student", group=grp, name="Zed Author")
    rev2, rev2_m = make.member(venue2, "reviewer", name="Rex Reviewer")
    sub2 = save_submission(db, author2, venue2, author2_m, title="Federated learning on phones", abstract="",
                           keywords=[])
    venue2.phase = "assignment"
    apply_changes(db, chair2, venue2, [Change("add", sub2.id, rev2_m.id)], action="assignment.manual")
    db.add(Deadline(venue_id=venue2.id, kind="review", due_at=datetime.now(UTC) + timedelta(days=5)))
    db.commit()
    smtp.messages.clear()
    assert db.exec(select(SentNotification).where(SentNotification.venue_id == venue2.id)).all() == []
    c2 = as_user(chair2)
    assert confirm_phase(c2, venue2.slug, "review").status_code == 200
    assert [m["To"] for m in smtp.messages] == [rev2.email]
    assert "Zed Author" not in _text(smtp.messages[0]) and "Authors Two" not in _text(smtp.messages[0])
    # back and forth: the pair was announced already
    assert confirm_phase(c2, venue2.slug, "assignment").status_code == 200
    assert confirm_phase(c2, venue2.slug, "review").status_code == 200
    assert len(smtp.messages) == 1


def test_response_and_release_mail_reach_the_authors_only(course, as_user, db, smtp):  # noqa: ANN001
    c = course
    _submit(as_user(c["bea"]), c)
    response_due = datetime.now(UTC) + timedelta(days=4)
    extended = response_due + timedelta(days=2)
    db.add(Deadline(venue_id=c["venue"].id, kind="response", due_at=response_due))
    db.add(Extension(venue_id=c["venue"].id, group_id=c["alpha"].id, kind="response", reason="Illness",
                     requested_by=c["ada"].id, status="granted", new_due_at=extended))
    db.commit()
    chair = as_user(c["chair"])
    slug = c["venue"].slug
    assert confirm_phase(chair, slug, "response").status_code == 200
    assert sorted(m["To"] for m in smtp.messages) == sorted([c["ada"].email, c["alan"].email])
    mail = smtp.to(c["ada"].email)[0]
    assert "Reviews of #1 are available: response open until" in mail["Subject"]
    text = _text(mail)
    assert "1 review." in text and "(extended for your group)" in text
    assert extended.astimezone(zone(c["venue"].timezone)).strftime("%d %b %Y") in text
    assert _leaks(text, *REVIEWER_NAMES, c["bea"].email, c["cy"].email) == []

    smtp.messages.clear()
    for phase in ("discussion", "moderation", "released"):
        assert confirm_phase(chair, slug, phase).status_code == 200
    assert sorted(m["To"] for m in smtp.messages) == sorted([c["ada"].email, c["alan"].email])
    # no marks were released: the venue-wide mail says the reviews are final, never that marks are released
    assert all(m["Subject"].endswith("The reviews of #1 are final") for m in smtp.messages)
    assert all("Your marks are not" in _text(m) and "marks of your" not in _text(m) for m in smtp.messages)
    assert all(_leaks(_text(m), *REVIEWER_NAMES) == [] for m in smtp.messages)


def test_digest_once_per_person_and_day_even_when_run_twice(course, as_user, db, smtp, settings):  # noqa: ANN001
    c = course
    _submit(as_user(c["bea"]), c)  # Bea is done; Cy's review is still open
    now = c["review_due"] - timedelta(hours=30)
    bind = db.connection()
    queued, report = run_digest(settings, bind, venue_slug=c["venue"].slug, now=now)
    assert (queued, report.sent, report.failed) == (1, 1, 0)
    (mail,) = smtp.messages
    assert mail["To"] == c["cy"].email and "Deadline in the next 48 hours" in mail["Subject"]
    text = _body(mail)
    assert "#1: Keyword spotting on a microcontroller" in text and "not submitted yet" in text
    assert _leaks(text, *AUTHOR_NAMES, c["ada"].email) == []
    # the same day again (another cron host, a re-run): nothing new
    queued, report = run_digest(settings, bind, venue_slug=c["venue"].slug, now=now + timedelta(hours=2))
    assert (queued, report.sent) == (0, 0) and len(smtp.messages) == 1
    # the next day, still inside 48 h: a new digest
    queued, _ = run_digest(settings, bind, now=now + timedelta(hours=24))
    assert queued == 1 and len(smtp.messages) == 2
    # too early (more than 48 h before), or turned off: none
    assert run_digest(settings, bind, now=now - timedelta(days=2))[0] == 0
    assert as_user(c["cy"]).put("/api/v1/me/notifications", json={"deadline_digest": False}).status_code == 200
    assert run_digest(settings, bind, now=now - timedelta(hours=12))[0] == 0


def test_digest_uses_the_groups_extended_submission_deadline(make, db, smtp, settings):  # noqa: ANN001
    due = datetime.now(UTC) + timedelta(days=1)
    venue = make.venue(phase="submission", submission_due=due)
    late, early = make.group(venue, "Late Group"), make.group(venue, "On Time")
    la, _ = make.member(venue, "student", group=late)
    ea, _ = make.member(venue, "student", group=early)
    db.add(Extension(venue_id=venue.id, group_id=late.id, kind="submission", reason="ill",
                     requested_by=la.id, status="granted", new_due_at=due + timedelta(days=3)))
    db.commit()
    queued, _ = run_digest(settings, db.connection(), venue_slug=venue.slug)
    assert queued == 1 and [m["To"] for m in smtp.messages] == [ea.email]  # the extended group is not due yet
    assert "has not uploaded its paper yet" in _body(smtp.messages[0])
    queued, _ = run_digest(settings, db.connection(), venue_slug=venue.slug,
                                         now=due + timedelta(days=2))
    assert queued == 1 and smtp.messages[-1]["To"] == la.email and "extended for your group" in _body(smtp.messages[-1])


def test_a_failed_send_is_kept_and_retried_by_notify_send(course, as_user, db, smtp, settings):  # noqa: ANN001
    c = course
    _submit(as_user(c["bea"]), c)
    _submit(as_user(c["cy"]), c)
    smtp.reject = True
    r = as_user(c["bea"]).post(_url(c, "/comments"), json={"body": "Is the dataset public?"})
    assert r.status_code == 201  # the post is saved whatever the mail server says
    rows = db.exec(select(SentNotification).where(SentNotification.kind == "comment")).all()
    assert len(rows) == 2 and {r.status for r in rows} == {"failed"}
    assert all(r.attempts == 1 and "451" in r.error for r in rows)
    # the request path sends only fresh mail; `notify send` retries failures
    assert mail_jobs.deliver_pending(settings, db.connection()).sent == 0
    smtp.reject = False
    report = mail_jobs.deliver_pending(settings, db.connection(), retry_failed=True)
    assert (report.sent, report.failed) == (2, 0)
    assert sorted(m["To"] for m in smtp.messages) == sorted([c["cy"].email, c["chair"].email])
    for row in rows:
        db.refresh(row)
    assert {(r.status, r.attempts) for r in rows} == {("sent", 2)}
    # and nothing is sent twice
    assert mail_jobs.deliver_pending(settings, db.connection(), retry_failed=True).sent == 0
    assert len(smtp.messages) == 2


def test_two_senders_never_claim_the_same_mail(course, as_user, db, smtp, settings):  # noqa: ANN001
    c = course
    _submit(as_user(c["bea"]), c)
    _submit(as_user(c["cy"]), c)
    smtp.reject = True
    assert as_user(c["bea"]).post(_url(c, "/comments"), json={"body": "Hello"}).status_code == 201
    _token, first = mail_jobs.claim(db.connection(), retry_failed=True)
    _token, second = mail_jobs.claim(db.connection(), retry_failed=True)
    assert len(first) == 2 and second == []


def test_a_rolled_back_request_sends_nothing(course, app, as_user, db, smtp, monkeypatch):  # noqa: ANN001
    c = course
    _submit(as_user(c["bea"]), c)
    _submit(as_user(c["cy"]), c)
    real = notifications.comment_posted
    queued = []

    def then_fail(session, comment, submission):  # noqa: ANN001, ANN202
        queued.append(real(session, comment, submission))
        raise RuntimeError("the request fails after the mail was queued")

    monkeypatch.setattr(notifications, "comment_posted", then_fail)
    client = as_user(c["bea"])
    client = TestClient(app, headers=dict(client.headers), raise_server_exceptions=False)
    r = client.post(_url(c, "/comments"), json={"body": "This comment is never saved."})
    assert r.status_code == 500 and queued == [2]  # two mails were queued inside the failed transaction
    assert db.exec(select(SentNotification)).all() == []
    time.sleep(0.2)
    assert smtp.messages == []


def _unfold(ics: str) -> list[str]:
    return ics.replace("\r\n ", "").split("\r\n")


def _parse(ics: str) -> list[dict]:
    """Minimal RFC 5545 reading: unfold, check BEGIN/END nesting, return each VEVENT's properties."""
    stack, events, current = [], [], None
    for line in _unfold(ics)[:-1]:
        name, _, value = line.partition(":")
        if name == "BEGIN":
            stack.append(value)
            if value == "VEVENT":
                current = {}
        elif name == "END":
            assert stack.pop() == value
            if value == "VEVENT":
                events.append(current)
                current = None
        elif current is not None and stack[-1] == "VEVENT":
            current[name] = value
    assert stack == []
    return events


def _unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\":
            nxt = value[i + 1]
            out.append("\n" if nxt in "nN" else nxt)
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def test_calendar_feed_is_valid_icalendar_with_the_groups_extended_deadline(course, as_user, client, db):  # noqa: ANN001
    c = course
    title = "Systems, ML; and \\ GPUs: Über-long course title " + "x" * 60
    c["venue"].title = title
    db.add(c["venue"])
    submission_due = db.exec(select(Deadline).where(Deadline.venue_id == c["venue"].id,
                                                    Deadline.kind == "submission")).one().due_at
    extended = submission_due + timedelta(days=2, minutes=17)
    db.add(Extension(venue_id=c["venue"].id, group_id=c["alpha"].id, kind="submission", reason="Our GPU died.",
                     requested_by=c["ada"].id, status="granted", new_due_at=extended))
    db.commit()
    url = as_user(c["ada"]).get("/api/v1/me/calendar-url").json()["url"]
    r = client.get(url.removeprefix("http://testserver"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    ics = r.content.decode()
    assert ics.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") and ics.endswith("END:VCALENDAR\r\n")
    assert "\n" not in ics.replace("\r\n", "")  # CRLF only
    physical = ics.split("\r\n")[:-1]
    assert all(len(line.encode()) <= 75 for line in physical)
    assert any(line.startswith(" ") for line in physical)  # the long title was folded…
    for line in physical:
        line.encode().decode()  # …and never inside a UTF-8 character
    events = {e["UID"]: e for e in _parse(ics)}
    kinds = {uid.split("-")[2] for uid in events}
    assert kinds == {"submission", "review"}  # Ada's: her group's submission, and reviewing; no response set
    sub_event = next(e for uid, e in events.items() if "-submission-" in uid)
    assert sub_event["DTSTART"] == extended.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    assert sub_event["DTSTAMP"].endswith("Z") and len(sub_event["DTSTAMP"]) == 16
    assert "Systems\\, ML\\; and \\\\ GPUs" in sub_event["SUMMARY"]
    assert _unescape(sub_event["SUMMARY"]) == f"Submission deadline: {title}"
    assert "\\n" in sub_event["DESCRIPTION"] and "extended for your group" in sub_event["DESCRIPTION"]
    # UIDs are stable per venue, kind and person; another person gets their own
    again = _parse(client.get(url.removeprefix("http://testserver")).content.decode())
    assert {e["UID"] for e in again} == set(events)
    bea_url = as_user(c["bea"]).get("/api/v1/me/calendar-url").json()["url"]
    bea_events = _parse(client.get(bea_url.removeprefix("http://testserver")).content.decode())
    bea_sub = next(e for e in bea_events if "-submission-" in e["UID"])
    assert bea_sub["UID"] not in events and bea_sub["DTSTART"] == submission_due.astimezone(UTC).strftime(
        "%Y%m%dT%H%M%SZ")  # Beta has no extension


def test_calendar_token_bad_or_outdated_is_404(course, as_user, client, db):  # noqa: ANN001
    from app.services.accounts import set_password

    c = course
    url = as_user(c["cy"]).get("/api/v1/me/calendar-url").json()["url"].removeprefix("http://testserver")
    assert client.get(url).status_code == 200
    token = url.removeprefix("/calendar/").removesuffix(".ics")
    assert client.get("/calendar/not-a-token.ics").status_code == 404
    assert client.get(f"/calendar/{token[:-2]}xx.ics").status_code == 404  # signature broken
    from itsdangerous import URLSafeSerializer

    forged = URLSafeSerializer("another-key", salt="calendar-feed").dumps({"u": c["cy"].id, "p": "x", "e": 0})
    assert client.get(f"/calendar/{forged}.ics").status_code == 404
    set_password(db, c["cy"], "a completely new password")
    db.commit()
    assert client.get(url).status_code == 404  # the password changed: the old feed URL is dead
    fresh = as_user(c["cy"]).get("/api/v1/me/calendar-url").json()["url"].removeprefix("http://testserver")
    assert fresh != url and client.get(fresh).status_code == 200


def test_real_commits_and_the_cli_on_a_database_of_its_own(tmp_path, smtp):  # noqa: ANN001
    """Production wiring: a real engine (commits are real), mail sent by the middleware after the commit, and
    `reproreview notify digest/send` as cron runs them, in processes of their own."""
    from app.db import make_engine
    from app.main import create_app
    from app.migrate import upgrade
    from app.settings import Settings
    from tests.factories import Factory

    url = f"sqlite:///{tmp_path / 'rr.db'}"
    upgrade(url)
    engine = make_engine(url)
    settings = Settings(data_dir=tmp_path / "data", database_url=url, secret_key="k", base_url="http://rr.example",
                        smtp_host="127.0.0.1", smtp_port=smtp.port, _env_file=None)
    app = create_app(settings, engine=engine, check_schema=False)
    with Session(engine, expire_on_commit=False) as db:
        make = Factory(db)
        venue = make.venue(phase="submission")
        chair, _ = make.member(venue, "chair")
        grp = make.group(venue, "Alpha Team")
        ada, ada_m = make.member(venue, "student", group=grp, name="Ada Author")
        bea, bea_m = make.member(venue, "reviewer", name="Bea Reviewer")
        sub = save_submission(db, ada, venue, ada_m, title="Int8 kernels", abstract="", keywords=[])
        venue.phase = "assignment"
        apply_changes(db, chair, venue, [Change("add", sub.id, bea_m.id)], action="assignment.manual")
        # at 10:00 UTC, so that 20 h and 2 h before it (the two digest runs below) are two days in London
        review_due = (datetime.now(UTC) + timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
        db.add(Deadline(venue_id=venue.id, kind="review", due_at=review_due))
        db.commit()
        slug = venue.slug
    with TestClient(app) as client:
        r = client.post("/api/v1/session", json={"email": chair.email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        r = confirm_phase(client, slug, "review",
                          headers={"X-CSRF-Token": client.get("/api/v1/csrf").json()["csrf_token"]})
        assert r.status_code == 200, r.text
    assert [m["To"] for m in smtp.messages] == [bea.email]
    assert "http://rr.example/venues/" in _body(smtp.messages[0])
    env = {**os.environ, "REPROREVIEW_DATABASE_URL": url, "REPROREVIEW_DATA_DIR": str(tmp_path / "data"),
           "REPROREVIEW_SECRET_KEY": "k", "REPROREVIEW_SMTP_HOST": "127.0.0.1",
           "REPROREVIEW_SMTP_PORT": str(settings.smtp_port), "HF_HUB_OFFLINE": "1"}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "app.cli", "notify", *args], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=120)

    now = (review_due - timedelta(hours=20)).isoformat()
    first, second = cli("digest", "--venue", slug, "--now", now), cli("digest", "--now", now)
    assert first.returncode == 0 and "queued 1 digest(s); sent 1" in first.stdout, first.stderr
    assert second.returncode == 0 and "queued 0 digest(s); sent 0" in second.stdout, second.stderr
    assert [m["To"] for m in smtp.messages] == [bea.email, bea.email]
    assert "Deadline in the next 48 hours" in smtp.messages[1]["Subject"]
    # the mail server is down for the next digest day; `notify send` delivers once it is back
    smtp.reject = True
    later = cli("digest", "--now", (review_due - timedelta(hours=2)).isoformat())
    assert later.returncode == 1 and "queued 1 digest(s); sent 0, failed 1" in later.stdout
    smtp.reject = False
    retry = cli("send")
    assert retry.returncode == 0 and "sent 1, failed 0" in retry.stdout, retry.stderr
    assert len(smtp.messages) == 3 and cli("send").stdout.strip() == "sent 0, failed 0"
    assert cli("digest", "--venue", "no-such-venue").returncode == 2
    with Session(engine) as db:
        assert {r.status for r in db.exec(select(SentNotification)).all()} == {"sent"}
    engine.dispose()


def test_assignments_applied_outside_a_request_are_mailed_at_once(tmp_path, smtp):  # noqa: ANN001
    """No request follows a background solve job or `reproreview assign` to send what they queued: both send
    the assignment mails themselves once their change is committed (in the review phase, where they are due)."""
    from app.db import make_engine
    from app.migrate import upgrade
    from app.models import Assignment
    import app.jobs  # noqa: F401 — the handler that starts committed jobs
    from app.services import assignments
    from app.settings import Settings
    from tests.factories import Factory

    url = f"sqlite:///{tmp_path / 'rr.db'}"
    upgrade(url)
    engine = make_engine(url)
    settings = Settings(data_dir=tmp_path / "data", database_url=url, secret_key="k", base_url="http://rr.example",
                        smtp_host="127.0.0.1", smtp_port=smtp.port, _env_file=None)
    topics = {"Alpha Team": ("Int8 keyword spotting on a Cortex-M4", "TFLite Micro on the Nano 33 BLE Sense."),
              "Beta Team": ("ZeRO sharding for data-parallel training", "Optimizer state sharded over 8 GPUs.")}

    def review_phase_venue(db: Session):  # noqa: ANN202
        make = Factory(db)
        venue = make.venue(phase="submission")
        # two or three groups reviewing each other: the course options (tests/api/test_assignment_options.py) off
        db.add(AssignmentSettings(venue_id=venue.id, one_reviewer_per_group=False, no_reciprocal_groups=False,
                                  every_student_reviews=False))
        chair, _ = make.member(venue, "chair")
        students = {}
        for name, (title, abstract) in topics.items():
            grp = make.group(venue, name)
            user, member = make.member(venue, "student", group=grp, name=f"{name} student")
            save_submission(db, user, venue, member, title=title, abstract=abstract, keywords=[])
            students[name] = user
        db.add(Deadline(venue_id=venue.id, kind="review", due_at=datetime.now(UTC) + timedelta(days=4)))
        venue.phase = "review"
        db.add(venue)
        db.commit()
        return venue, chair, students

    with Session(engine, expire_on_commit=False) as db:
        venue, chair, students = review_phase_venue(db)
        job = assignments.start_job(db, settings, chair, venue, k=1, min_load=0, max_load=1, dry_run=False)
        db.commit()  # without Redis the committed job runs in a daemon thread of this process
    for thread in threading.enumerate():
        if thread.name == f"job-{assignments.SOLVE_JOB}":
            thread.join(300)
    with Session(engine) as db:
        assert db.get(type(job), job.id).status == "done"
        assert len(db.exec(select(Assignment).where(Assignment.venue_id == venue.id)).all()) == 2
        assert {r.status for r in db.exec(select(SentNotification)).all()} == {"sent"}
    # each student reviews the other group's paper, and hears of it now, not at the next request
    assert sorted(m["To"] for m in smtp.messages) == sorted(u.email for u in students.values())
    assert all("You were assigned #" in m["Subject"] for m in smtp.messages)

    smtp.messages.clear()
    with Session(engine, expire_on_commit=False) as db:
        venue2, _chair2, students2 = review_phase_venue(db)
    env = {**os.environ, "REPROREVIEW_DATABASE_URL": url, "REPROREVIEW_DATA_DIR": str(tmp_path / "data"),
           "REPROREVIEW_SECRET_KEY": "k", "REPROREVIEW_SMTP_HOST": "127.0.0.1",
           "REPROREVIEW_SMTP_PORT": str(smtp.port), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "app.cli", "assign", "--venue", venue2.slug, "--k", "1",
                           "--max-load", "1"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(m["To"] for m in smtp.messages) == sorted(u.email for u in students2.values())
    with Session(engine) as db:
        assert {r.status for r in db.exec(select(SentNotification)).all()} == {"sent"}
    engine.dispose()


# --- the one after-commit path (app.outbox → app.jobs.mail), outside requests ------------------------------------

REDIS_URL = os.environ.get("REPROREVIEW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _own_database(tmp_path, smtp, **extra):  # noqa: ANN001, ANN202
    """A migrated SQLite file whose commits are real (no test transaction around them), and its settings."""
    from app.db import make_engine
    from app.migrate import upgrade
    from app.settings import Settings

    url = f"sqlite:///{tmp_path / 'rr.db'}"
    upgrade(url)
    settings = Settings(data_dir=tmp_path / "data", database_url=url, secret_key="k", base_url="http://rr.example",
                        smtp_host="127.0.0.1", smtp_port=smtp.port, _env_file=None, **extra)
    return make_engine(url), settings


def _one_person(engine):  # noqa: ANN001, ANN202
    from app.models import User
    from tests.factories import Factory

    with Session(engine, expire_on_commit=False) as db:
        user = Factory(db).user("Pat Person")
        db.commit()
    return lambda s: s.get(User, user.id)


_ASSIGNED = {"venue_title": "Systems", "venue_slug": "systems", "number": 1, "title": "Int8 kernels", "due": None,
             "extended": False, "path": "/venues/systems/submissions/1/review"}


def _wait_until(check, timeout: float = 30.0) -> None:  # noqa: ANN001
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_a_rolled_back_transaction_outside_a_request_sends_nothing(tmp_path, smtp):  # noqa: ANN001
    from app import outbox

    engine, settings = _own_database(tmp_path, smtp)
    person = _one_person(engine)
    with mail_jobs.delivering(settings) as report:
        with Session(engine) as s:
            assert notifications.enqueue(s, key="t:1", user=person(s), kind="assignment", venue=None,
                                         context=_ASSIGNED)
            assert len(outbox.pending(s, "mail")) == 1
            s.rollback()
            assert outbox.pending(s) == []
            s.commit()  # a later commit of the same session has nothing left to hand on
        with pytest.raises(RuntimeError), Session(engine) as s, s.begin():
            notifications.enqueue(s, key="t:2", user=person(s), kind="assignment", venue=None, context=_ASSIGNED)
            raise RuntimeError("the job fails after queueing the mail")
    assert (report.sent, report.failed, report.handed_on) == (0, 0, 0) and smtp.messages == []
    with Session(engine) as s:
        assert s.exec(select(SentNotification)).all() == []
    assert mail_jobs.deliver_pending(settings, engine, retry_failed=True).sent == 0
    engine.dispose()


def test_a_background_job_commit_sends_its_mail_once_through_the_outbox(tmp_path, smtp, monkeypatch):  # noqa: ANN001
    """The digest job in a thread of its own (no Redis): its commit hands the mail on, which is sent at once."""
    from app.jobs import background
    from app.jobs import digest as digest_jobs
    from tests.factories import Factory

    engine, settings = _own_database(tmp_path, smtp)
    with Session(engine, expire_on_commit=False) as db:
        make = Factory(db)
        venue = make.venue(phase="submission", submission_due=datetime.now(UTC) + timedelta(days=1))
        student, _ = make.member(venue, "student", group=make.group(venue, "Late Group"))
        db.commit()
    handed_on = []
    real = mail_jobs.send_committed
    monkeypatch.setattr(mail_jobs, "send_committed", lambda s, bind, r: (handed_on.append(bind), real(s, bind, r)))

    background.submit(settings, engine, "digest", venue.slug)

    def sent() -> bool:
        with Session(engine) as s:
            return [r.status for r in s.exec(select(SentNotification)).all()] == ["sent"]

    _wait_until(sent)
    assert [m["To"] for m in smtp.messages] == [student.email] and handed_on == [engine]
    with Session(engine) as s:
        (row,) = s.exec(select(SentNotification)).all()
        assert row.kind == "digest" and row.attempts == 1
    # the job again the same day (a second cron host): nothing is queued, nothing handed on or sent
    queued, report = digest_jobs.digest({"settings": settings, "engine": engine}, venue.slug)
    assert (queued, report.sent) == (0, 0) and handed_on == [engine] and len(smtp.messages) == 1
    engine.dispose()


def test_a_commit_outside_any_request_or_job_block_sends_with_the_process_settings(tmp_path, smtp,  # noqa: ANN001
                                                                                   monkeypatch):
    """A thread that commits mail outside a request or `delivering` block (e.g. a solve's) sends it right after
    its commit, in that thread, with the process's settings."""
    import threading

    engine, settings = _own_database(tmp_path, smtp)
    person = _one_person(engine)
    monkeypatch.setattr(mail_jobs, "get_settings", lambda: settings)
    seen = []

    def job() -> None:
        with Session(engine) as s:
            notifications.enqueue(s, key="t:thread", user=person(s), kind="assignment", venue=None, context=_ASSIGNED)
            s.commit()
            seen.append(len(smtp.messages))  # already sent when commit() returned

    t = threading.Thread(target=job)
    t.start()
    t.join(60)
    assert seen == [1] and smtp.messages[0]["Subject"].endswith("You were assigned #1: Int8 kernels")
    engine.dispose()


def test_with_redis_committed_mail_is_a_deliver_mail_job_on_the_server_queue(tmp_path, smtp):  # noqa: ANN001
    import redis

    from app.jobs import background

    r = redis.Redis.from_url(REDIS_URL)
    try:
        r.ping()
    except redis.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    r.delete(background.SERVER_QUEUE)
    engine, settings = _own_database(tmp_path, smtp, redis_url=REDIS_URL)
    person = _one_person(engine)
    try:
        with mail_jobs.delivering(settings) as report, Session(engine) as s:
            notifications.enqueue(s, key="t:redis", user=person(s), kind="assignment", venue=None, context=_ASSIGNED)
            s.commit()
        assert report.handed_on == 1 and report.sent == 0 and smtp.messages == []  # nothing sent by the API
        (job_id,) = r.zrange(background.SERVER_QUEUE, 0, -1)
        import pickle

        assert pickle.loads(r.get(b"arq:job:" + job_id))["f"] == "deliver_mail"
        # what the server-side worker runs
        done = background.jobs()["deliver_mail"]({"settings": settings, "engine": engine})
        assert (done.sent, done.failed) == (1, 0) and len(smtp.messages) == 1
        assert background.jobs()["deliver_mail"]({"settings": settings, "engine": engine}).sent == 0
    finally:
        for key in r.zrange(background.SERVER_QUEUE, 0, -1):
            r.delete(b"arq:job:" + key)
        r.delete(background.SERVER_QUEUE)
        engine.dispose()


def test_mail_goes_out_after_the_commit_not_when_a_savepoint_is_released(tmp_path, smtp):  # noqa: ANN001
    """Each enqueue inserts in a savepoint; releasing one must not send the mails queued before it (nobody else
    could see them yet, and on SQLite the sender would wait for the writer's own lock)."""
    engine, settings = _own_database(tmp_path, smtp)
    person = _one_person(engine)
    started = time.monotonic()
    with mail_jobs.delivering(settings) as report, Session(engine) as s:
        for n in range(3):
            assert notifications.enqueue(s, key=f"t:sp:{n}", user=person(s), kind="assignment", venue=None,
                                         context=_ASSIGNED)
        assert smtp.messages == [] and report.sent == 0
        s.commit()
    assert report.sent == 3 and len(smtp.messages) == 3 and time.monotonic() - started < 20
    engine.dispose()
