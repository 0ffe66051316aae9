"""In a real browser, each role's home page of a venue (issue 17): the student's leads with the next deadline, the
group and the submission (above the fold); the reviewer's with the reviews to write, naming no author; the
chair's with what needs attention, and its Remind button mails a late reviewer through the outbox."""

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from app.models import Assignment, Deadline, Group, Member, User, Venue
from app.security.passwords import hash_password
from app.services.submissions import save_submission, upload_revision
from tests.api.test_submissions import make_pdf
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e
PASSWORD = "home pages pass 1"
AUTHORS = ("Zelda Quarkmore", "Yuri Nobody")


def _seed(live_server) -> dict:  # noqa: ANN001
    """Review phase, review deadline passed: Zelda and Yuri (Team Alpha) wrote #1, which Bea (Team Beta, an
    author of #2) reviews and has not submitted; Chair Person runs the venue."""
    tag = uuid.uuid4().hex[:8]
    with Session(live_server.engine) as s:
        venue = Venue(slug=f"home-e2e-{tag}", title="Home E2E", course_code="ML 101", timezone="UTC",
                      phase="submission")
        s.add(venue)
        s.flush()
        s.add(Deadline(venue_id=venue.id, kind="submission", due_at=datetime.now(UTC) + timedelta(days=1)))
        people = {}
        for key, name, team, role in (("zelda", AUTHORS[0], "Team Alpha", "student"),
                                      ("yuri", AUTHORS[1], "Team Alpha", "student"),
                                      ("bea", "Bea Reviewer", "Team Beta", "student"),
                                      ("chair", "Chair Person", None, "chair")):
            group = None
            if team:
                group = s.query(Group).filter_by(venue_id=venue.id, name=team).first()
                if group is None:
                    group = Group(venue_id=venue.id, name=team, join_code=f"H{tag}{key}"[:12].upper())
                    s.add(group)
                    s.flush()
            user = User(email=f"{key}.{tag}@uni.example", full_name=name, password_hash=hash_password(PASSWORD))
            s.add(user)
            s.flush()
            member = Member(venue_id=venue.id, user_id=user.id, role=role, group_id=group.id if group else None)
            s.add(member)
            s.flush()
            people[key] = (user, member)
        one = save_submission(s, people["zelda"][0], venue, people["zelda"][1], title="Int8 keyword spotting",
                              abstract="", keywords=[])
        upload_revision(s, live_server.settings, people["zelda"][0], venue, one, make_pdf(6), "paper.pdf")
        save_submission(s, people["bea"][0], venue, people["bea"][1], title="Fused attention kernels",
                        abstract="", keywords=[])
        s.add(Assignment(venue_id=venue.id, submission_id=one.id, member_id=people["bea"][1].id))
        s.add(Deadline(venue_id=venue.id, kind="review", due_at=datetime.now(UTC) - timedelta(hours=2)))
        s.add(Deadline(venue_id=venue.id, kind="response", due_at=datetime.now(UTC) + timedelta(days=4)))
        venue.phase = "review"
        s.add(venue)
        s.commit()
        return {"slug": venue.slug, "title": venue.title, **{k: u.email for k, (u, _m) in people.items()}}


def _above_the_fold(page, selector: str) -> bool:  # noqa: ANN001
    box = page.locator(selector).bounding_box()
    return box is not None and box["y"] + box["height"] <= page.viewport_size["height"]


def test_student_home_leads_with_deadline_group_and_submission(live_server, page):  # noqa: ANN001
    seed = _seed(live_server)
    sign_in(page, live_server.url, seed["zelda"], PASSWORD)
    page.goto(f"{live_server.url}/venues/{seed['slug']}")
    assert page.locator("#next-deadline").get_attribute("data-kind") == "response"
    assert "Next deadline: response" in page.inner_text("#next-deadline")
    assert "Team Alpha" in page.inner_text("#my-group") and AUTHORS[1] in page.inner_text("#my-group")
    mine = page.inner_text("#my-submission")
    assert "Submission #1: Int8 keyword spotting" in mine and "format check passed" in mine
    assert "released to you in the response phase" in page.inner_text("#reviews-of-mine")
    for selector in ("#next-deadline", "#my-group", "#my-submission"):
        assert _above_the_fold(page, selector), selector
    # the nav offers her own submission, not the staff's pages
    nav = page.locator("header nav")
    assert nav.locator("a:has-text('Your submission')").count() == 1
    assert nav.locator("a:has-text('Submissions')").count() == 0 and nav.locator("a:has-text('Moderation')").count() == 0
    page.click("header nav a:has-text('Your submission')")
    page.wait_for_url(f"**/venues/{seed['slug']}/submission")


def test_reviewer_home_lists_reviews_to_write_without_authors(live_server, page):  # noqa: ANN001
    seed = _seed(live_server)
    sign_in(page, live_server.url, seed["bea"], PASSWORD)
    page.goto(f"{live_server.url}/venues/{seed['slug']}")
    tasks = page.locator("#review-tasks li")
    assert tasks.count() == 1 and tasks.first.get_attribute("data-status") == "not started"
    assert "#1: Int8 keyword spotting" in tasks.first.inner_text()
    assert _above_the_fold(page, "#review-tasks")
    body = page.inner_text("body")
    assert "You have 1 of 1 review to write" in body
    assert not any(word in body for word in (*AUTHORS, "Team Alpha", "Zelda", "Quarkmore"))
    page.click("#review-tasks a")  # a boosted link: htmx swaps the body in, the PDF pane still draws
    page.wait_for_url(f"**/venues/{seed['slug']}/submissions/1/review")
    page.wait_for_selector("#pdf-viewer[data-ready='done'][data-pages='6']", timeout=30_000)
    assert page.locator("#pdf-viewer .pdf-thumbs a").count() == 6


def test_chair_home_lists_attention_and_reminds_a_late_reviewer(live_server, page):  # noqa: ANN001
    seed = _seed(live_server)
    sign_in(page, live_server.url, seed["chair"], PASSWORD)
    page.goto(f"{live_server.url}/venues/{seed['slug']}")
    attention = page.inner_text("#attention")
    assert "1 submission without a PDF: #2" in attention and "1 of 1 reviews not submitted" in attention
    assert _above_the_fold(page, "#attention h2")
    row = page.locator("#late-reviewers tr[data-member]")
    assert row.count() == 1 and "Bea Reviewer" in row.inner_text() and "#1" in row.inner_text()
    nav = page.locator("header nav")
    for label in ("Submissions", "Assignment", "Moderation", "Reviews"):
        assert nav.locator(f"a:has-text('{label}')").count() >= 1, label
    assert nav.locator("a:has-text('Your submission')").count() == 0

    before = len(live_server.outbox())
    page.click("#late-reviewers button:has-text('Remind Bea Reviewer')")
    page.wait_for_selector(".flash-ok:has-text('Reminder queued for #1.')")
    deadline = time.monotonic() + 20
    mails = []
    while time.monotonic() < deadline:  # delivered after the commit, by the mail path
        mails = [m for m in live_server.outbox()[before:] if seed["bea"] in m]
        if mails:
            break
        time.sleep(0.2)
    assert mails, "the reminder was not mailed"
    assert f"Subject: [{seed['title']}] Your review is late" in mails[0]
    assert f"/venues/{seed['slug']}/submissions/1/review" in mails[0]
    assert not any(name in mails[0] for name in AUTHORS)
    # a second click the same day says why nothing is sent
    page.click("#late-reviewers button:has-text('Remind Bea Reviewer')")
    page.wait_for_selector(".flash-error:has-text('reminded today already')")
