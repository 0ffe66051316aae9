"""In a real browser: the chair previews an assignment (a background job whose progress the page polls),
applies it, reads the quality summary and locks a pair; a student bids on the bidding page (htmx radios)."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from app.models import Deadline, Group, Member, Submission, User, Venue
from app.models.assignment import Assignment, Bid
from app.security.passwords import hash_password
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e
PASSWORD = "assign pass 1"
PAPERS = [
    ("Wake", "Keyword spotting on a Cortex-M4 microcontroller",
     "An int8 depthwise CNN for keyword spotting runs with TFLite Micro on the Nano 33 BLE Sense."),
    ("Pipes", "Pipeline parallel training of GPT-2 on four GPUs",
     "We compare GPipe and 1F1B schedules for data and model parallel transformer training."),
    ("Feds", "Client drift in federated learning on non-IID data",
     "FedAvg, FedProx and SCAFFOLD on Dirichlet-skewed CIFAR-10 with 100 simulated clients."),
]


def _seed(engine) -> None:  # noqa: ANN001
    with Session(engine) as s:
        venue = Venue(slug="assign-e2e", title="Assignment E2E", timezone="Europe/London", phase="assignment")
        s.add(venue)
        s.flush()
        s.add(Deadline(venue_id=venue.id, kind="submission", due_at=datetime.now(UTC) - timedelta(days=1)))
        chair = User(email="chair.assign@uni.example", full_name="Cara Chair", password_hash=hash_password(PASSWORD))
        s.add(chair)
        s.flush()
        s.add(Member(venue_id=venue.id, user_id=chair.id, role="chair"))
        for n, (name, title, abstract) in enumerate(PAPERS, start=1):
            group = Group(venue_id=venue.id, name=f"Team {name}", join_code=f"ASSIGN{n:02d}")
            user = User(email=f"{name.lower()}@uni.example", full_name=f"{name} Author",
                        password_hash=hash_password(PASSWORD))
            s.add_all([group, user])
            s.flush()
            s.add(Member(venue_id=venue.id, user_id=user.id, group_id=group.id))
            s.add(Submission(venue_id=venue.id, group_id=group.id, number=n, title=title, abstract=abstract))
        s.commit()


def _login(page, url: str, email: str) -> None:  # noqa: ANN001
    sign_in(page, url, email, PASSWORD)


def test_chair_previews_applies_locks_and_a_student_bids(live_server, browser):  # noqa: ANN001
    _seed(live_server.engine)
    url = live_server.url
    chair = browser.new_context().new_page()
    chair.set_default_timeout(15_000)
    _login(chair, url, "chair.assign@uni.example")
    chair.goto(f"{url}/venues/assign-e2e/assignments")
    chair.fill("#k", "1")
    chair.fill("#max_load", "1")
    chair.click("button[value='preview']")
    # The job runs in a background thread of the server; the page polls its progress, then reloads.
    chair.wait_for_selector("#assign-job")
    chair.wait_for_selector("#preview-changes, #job-error", timeout=240_000)  # model load + embedding, 2 busy cores
    assert chair.locator("#job-error").count() == 0, chair.inner_text("#job-error")
    assert chair.locator("#preview-changes tbody tr").count() == 3
    with Session(live_server.engine) as s:
        assert s.exec(select(Assignment)).all() == []  # a preview saves nothing
    # The course options are on by default: the three groups review in a cycle, never each other.
    assert "no reciprocal pairs" in chair.inner_text("#preview-options")
    planned_mean = chair.inner_text("#preview-quality")
    chair.click("#apply-preview")
    chair.wait_for_selector("#flashes >> text=Preview applied.")
    # After Apply the preview block is gone (htmx swapped the page in place); a line says what was applied.
    assert chair.locator("#preview").count() == 0 and chair.locator("#apply-preview").count() == 0
    assert "applied" in chair.inner_text("#job-applied")
    assert chair.locator("#assignment tbody tr[data-origin='auto']").count() == 3
    with Session(live_server.engine) as s:
        directions = {(s.get(Member, a.member_id).group_id, s.get(Submission, a.submission_id).group_id)
                      for a in s.exec(select(Assignment)).all()}
    assert len(directions) == 3 and not any((b, a) in directions for a, b in directions)
    chair.wait_for_selector("#quality-summary")
    mean = float(chair.inner_text("#mean-affinity"))
    assert 0 < mean <= 1
    assert f"mean affinity {chair.inner_text('#mean-affinity')}," in planned_mean  # one number on both tables
    rank = chair.locator("#assignment tbody tr td.rank").first.inner_text()
    assert "for the reviewer, this submission is match" in rank.lower() and "of 2" in rank  # in words
    assert "3 reviewer(s) with 1" in chair.inner_text("#load-histogram")
    assert chair.locator("#affinity-plot svg").count() == 1
    chair.locator("#assignment tbody tr").first.locator("button:has-text('Lock')").click()
    chair.wait_for_selector("#flashes >> text=Pair locked.")
    assert chair.locator("#assignment tbody tr[data-origin='locked']").count() == 1
    with Session(live_server.engine) as s:
        assert len([a for a in s.exec(select(Assignment)).all() if a.locked]) == 1

    student = browser.new_context().new_page()
    student.set_default_timeout(15_000)
    _login(student, url, "wake@uni.example")
    student.goto(f"{url}/venues/assign-e2e/bids")
    rows = student.locator("#bids li.bid-row")
    assert rows.count() == 2  # not their own paper
    listed = student.inner_text("#bids")
    assert "Pipeline parallel" in listed and "Keyword spotting" not in listed
    assert "Team" not in listed and "Author" not in listed  # no group or author names
    student.locator("#bid-2 input[value='eager']").check()  # htmx saves on change, no button press
    student.wait_for_selector("#bid-2 >> text=Saved: eager")
    with Session(live_server.engine) as s:
        assert [b.value for b in s.exec(select(Bid)).all()] == ["eager"]
    student.context.close()
    chair.context.close()
