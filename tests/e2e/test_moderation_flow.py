"""In a real browser: the lecturer opens the moderation queue, sets a group mark with a reason, confirms a
suggested review-quality mark, releases the venue's marks and downloads the Moodle export; a student, refused
their marks before the release, then reads their own."""

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from app.models import Assignment, Deadline, Group, Member, ReleasedMark, User, Venue
from app.security.passwords import hash_password
from app.services import moderation
from app.services.reviews import submit_review
from app.services.submissions import save_submission
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e
PASSWORD = "moderation pass 1"
ANSWERS = {
    "summary": "The paper quantises a keyword-spotting CNN to int8 and runs it on a Cortex-M4 board.",
    "strengths": "Latency is measured on the real device in Table 2 and Figure 3, with the firmware size.",
    "weaknesses": "Only one dataset, and no comparison with pruning in Section 4; you could add error bars.",
    "soundness": 3, "presentation": 3, "contribution": 2, "runs_from_readme": 3, "reproducible": 3,
    "code_quality": 3, "documentation_quality": 2,
    "code_review": "The smoke run passed; the README misses the flashing step for the board (line 40).",
    "overall": 6, "confidence": 3,
}
OVERALL = {("bea", 1): 8, ("cy", 1): 6, ("ada", 2): 5, ("cy", 2): 7, ("ada", 3): 4, ("bea", 3): 6}
GROUP_MARK, REASON = "73.7", "Moderated after the viva: the demo on the board held up."


def _seed(engine) -> dict:  # noqa: ANN001
    """A venue in the moderation phase: Ada (#1), Bea (#2) and Cy (#3), each in a group of one, each reviewed
    the other two submissions; every review's quality is marked but Ada's review of #2, left for the browser."""
    tag = uuid.uuid4().hex[:8]
    with Session(engine) as s:
        venue = Venue(slug=f"moderation-e2e-{tag}", title="Moderation E2E", timezone="Europe/London",
                      phase="submission")
        s.add(venue)
        s.flush()
        chair = User(email=f"chair.{tag}@uni.example", full_name="Lena Lecturer", password_hash=hash_password(PASSWORD))
        s.add(chair)
        s.flush()
        s.add(Member(venue_id=venue.id, user_id=chair.id, role="chair"))
        people, subs = {}, {}
        for i, (key, name) in enumerate((("ada", "Ada Author"), ("bea", "Bea Student"), ("cy", "Cy Student")), 1):
            group = Group(venue_id=venue.id, name=f"Team {name.split()[0]}", join_code=f"M{tag}{key}"[:12].upper())
            user = User(email=f"{key}.{tag}@uni.example", full_name=name, password_hash=hash_password(PASSWORD),
                        student_id=f"s{tag[:4]}{i}")
            s.add_all([group, user])
            s.flush()
            member = Member(venue_id=venue.id, user_id=user.id, group_id=group.id)
            s.add(member)
            s.flush()
            people[key] = (user, member)
            subs[i] = save_submission(s, user, venue, member, title=f"{name.split()[0]}'s int8 keyword spotting",
                                      abstract="An int8 CNN on a Cortex-M4.", keywords=["tinyml"])
        for (key, n) in OVERALL:
            s.add(Assignment(venue_id=venue.id, submission_id=subs[n].id, member_id=people[key][1].id,
                             origin="manual"))
        venue.phase = "review"
        s.add(venue)
        s.add(Deadline(venue_id=venue.id, kind="review", due_at=datetime.now(UTC) + timedelta(days=3)))
        s.flush()
        reviews = {}
        for (key, n), overall in OVERALL.items():
            user, member = people[key]
            reviews[(key, n)] = submit_review(s, user, venue, member, subs[n], {**ANSWERS, "overall": overall}, 0)
        venue.phase = "moderation"
        s.add(venue)
        s.flush()
        for pair, review in reviews.items():
            if pair != ("ada", 2):
                moderation.confirm_assessment(s, chair, venue, review, mark=60 + OVERALL[pair],
                                              feedback=f"Feedback on the review of #{pair[1]}.")
        left = moderation.review_marking_one(s, venue, reviews[("ada", 2)])
        assert left["suggestion"]["complete"], left["suggestion"]  # the browser confirms it as suggested
        s.commit()
        return {"slug": venue.slug, "chair": chair.email, "ada": people["ada"][0].email,
                "ada_member": people["ada"][1].id, "suggested": left["suggestion"]["mark"]}


def _new_page(browser):  # noqa: ANN001, ANN202
    page = browser.new_context(accept_downloads=True).new_page()
    page.set_default_timeout(15_000)
    return page


def test_lecturer_moderates_releases_and_exports_then_a_student_reads_their_marks(live_server, browser):  # noqa: ANN001
    seed = _seed(live_server.engine)
    url, slug = live_server.url, seed["slug"]
    student = _new_page(browser)
    sign_in(student, url, seed["ada"], PASSWORD)
    before = student.goto(f"{url}/venues/{slug}/marks")
    assert before.status == 403 and "Your marks are not released yet" in student.inner_text("main")
    page = _new_page(browser)
    sign_in(page, url, seed["chair"], PASSWORD)

    # the queue: every submission, sorted by need, each with its calibrated score
    page.goto(f"{url}/venues/{slug}/moderation")
    rows = page.locator("#moderation-queue tbody tr")
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.submission)")) == ["1", "2", "3"]
    assert all("±" in rows.nth(i).inner_text() for i in range(3))
    page.click("#moderation-queue a:has-text('#1')")
    page.wait_for_selector("#override-form")
    computed = page.inner_text("#group-mark")

    # adjust #1's group mark with a reason: the computed mark stays beside it, the history keeps the reason
    page.fill("#override-form input[name='value']", GROUP_MARK)
    page.fill("#override-form input[name='reason']", REASON)
    page.click("#override-form button[type='submit']")
    page.wait_for_selector("#flashes >> text=The mark is set")
    assert GROUP_MARK in page.inner_text("#group-mark") and "computed" in page.inner_text("#group-mark")
    assert computed != page.inner_text("#group-mark")
    assert REASON in page.inner_text("#override-history")

    # confirm the suggested quality mark of the one review not yet marked
    page.goto(f"{url}/venues/{slug}/review-marks")
    unmarked = page.locator("#review-marks tr[data-marked='no']")
    assert unmarked.count() == 1
    unmarked.locator("a").click()
    page.wait_for_selector("#suggestion")
    assert f"Suggested: {seed['suggested']}" in page.inner_text("#suggestion")
    page.click("button[value='confirm']")
    page.wait_for_selector("#flashes >> text=Review mark")
    assert page.locator("#review-marks tr[data-marked='no']").count() == 0

    # release the venue's marks (all complete now), then download the Moodle export from the marks page
    page.goto(f"{url}/venues/{slug}/moderation")
    page.click("#release-form button[type='submit']")
    page.wait_for_selector("#flashes >> text=Released the marks of 3 student(s)")
    page.goto(f"{url}/venues/{slug}/marks")
    with page.expect_download() as info:
        page.click("a[href$='/marks/download?format=moodle']")
    download = info.value
    assert download.suggested_filename == f"{slug}-marks-moodle.csv"
    table = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert table[0] == ["ID number", "Email address", "Group work", "Group work (Feedback)", "Individual work",
                        "Individual work (Feedback)", "Total", "Total (Feedback)"], table[0]
    by_email = {row[1]: row for row in table[1:]}
    assert len(by_email) == 3 and by_email[seed["ada"]][2] == GROUP_MARK
    page.context.close()

    # the student, refused before the release: now their own marks, the group mark as moderated with its
    # reason in the breakdown, and the lecturers' feedback
    student.reload()
    student.wait_for_selector("#my-marks")
    assert GROUP_MARK in student.inner_text("#my-marks tr[data-component='group']")
    assert float(student.inner_text("#my-total").split()[1]) == float(by_email[seed["ada"]][6])
    assert "Feedback on the review of #3." in student.inner_text("#feedback")
    assert REASON in student.inner_text("#breakdown")
    with Session(live_server.engine) as s:
        snap = s.exec(select(ReleasedMark).where(ReleasedMark.member_id == seed["ada_member"])).one()
    assert snap.components["group"] == float(GROUP_MARK)
    student.context.close()
