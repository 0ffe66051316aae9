"""In a real browser: a lecturer imports the roster and opens submissions; students set a password,
sign in, one creates a group and another joins it with the code."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from app.models import Deadline, Member, User, Venue
from app.security.passwords import hash_password
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e

ROSTER = ("First name,Last name,ID number,Email address\n"
          "Amara,Okafor,s1,amara.okafor@student.uni.example\n"
          "Bao,Nguyen,s2,bao.nguyen@student.uni.example\n"
          "Chiara,Rossi,s3,chiara.rossi@student.uni.example\n")


def _seed(engine) -> str:  # noqa: ANN001
    with Session(engine) as s:
        venue = Venue(slug="mlsys-e2e", title="MLSys E2E", course_code="CS 1", timezone="Europe/London")
        s.add(venue)
        lecturer = User(email="lecturer@uni.example", full_name="Lena Lecturer",
                        password_hash=hash_password("lecturer password"))
        s.add(lecturer)
        s.flush()
        s.add(Member(venue_id=venue.id, user_id=lecturer.id, role="chair"))
        s.add(Deadline(venue_id=venue.id, kind="submission", due_at=datetime.now(UTC) + timedelta(days=10)))
        s.commit()
        return venue.slug




def _set_password_via_email(page, live, email: str, password: str) -> None:  # noqa: ANN001
    before = len(live.outbox())
    page.goto(f"{live.url}/login")
    page.click("text=Forgot your password")
    page.fill("#email", email)
    page.click("button:has-text('Email me a link')")
    page.wait_for_selector("text=we have emailed it a link")
    mails = live.outbox()
    assert len(mails) == before + 1 and email in mails[-1]
    link = re.search(r"(http://\S+/password/reset\?token=\S+)", mails[-1]).group(1)
    page.goto(link)
    page.fill("#password", password)
    page.click("button:has-text('Save password')")
    page.wait_for_selector("text=Your password is changed")


def test_lecturer_imports_roster_opens_submission_students_form_a_group(live_server, page, tmp_path):  # noqa: ANN001
    slug = _seed(live_server.engine)
    url = live_server.url

    # Lecturer: sign in, import the roster, open the submission phase.
    sign_in(page, url, "lecturer@uni.example", "lecturer password")
    page.goto(f"{url}/venues/{slug}/roster")
    csv_path = tmp_path / "gradebook.csv"
    csv_path.write_text(ROSTER, encoding="utf-8-sig")
    page.set_input_files("#roster-file", str(csv_path))
    page.click("button:has-text('Import roster')")
    page.wait_for_selector("#roster-report")
    assert "3 created, 0 updated, 0 unchanged, 0 rejected" in page.inner_text("#roster-report")
    assert "Chiara Rossi" in page.inner_text("#members")
    page.goto(f"{url}/venues/{slug}")
    assert page.inner_text("#current-phase") == "setup"
    page.click("button:has-text('Open the submission phase')")
    # the confirmation page: the checklist of this transition, nothing changed until the chair confirms
    page.wait_for_selector("#checklist")
    assert "No mail goes out." in page.inner_text("#checklist")
    page.click("#confirm-phase")
    page.wait_for_selector("text=The venue is now in the submission phase.")
    assert page.inner_text("#current-phase") == "submission"

    # First student: set a password from the emailed link, sign in, create a group.
    page.context.clear_cookies()
    _set_password_via_email(page, live_server, "amara.okafor@student.uni.example", "amara password 1")
    sign_in(page, url, "amara.okafor@student.uni.example", "amara password 1")
    page.wait_for_selector("text=not in a group yet")
    page.click("text=Create or join one")
    page.fill("#group-name", "Team Int8")
    page.click("button:has-text('Create group')")
    page.wait_for_selector("#flashes >> text=Share the join code")
    code = page.inner_text("article.group code.joincode").strip()
    assert re.fullmatch(r"[A-Z0-9]{8}", code)

    # Second student: joins with the code.
    page.context.clear_cookies()
    _set_password_via_email(page, live_server, "bao.nguyen@student.uni.example", "bao password 22")
    sign_in(page, url, "bao.nguyen@student.uni.example", "bao password 22")
    page.goto(f"{url}/venues/{slug}/groups")
    page.fill("#join-code", "nope0000")
    page.click("button:has-text('Join group')")
    page.wait_for_selector("text=No group in this venue has the join code")
    page.fill("#join-code", code.lower())
    page.click("button:has-text('Join group')")
    page.wait_for_selector("text=You joined 'Team Int8'")
    members = page.inner_text("article.group")
    assert "Amara Okafor" in members and "Bao Nguyen" in members
    page.goto(f"{url}/venues/{slug}")
    assert "Team Int8" in page.inner_text("#my-group")
    page.screenshot(path=str(tmp_path / "student-dashboard.png"))
