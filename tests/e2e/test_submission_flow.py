"""In a real browser: a student registers the paper, uploads a PDF (htmx multipart upload) and reads the
format report; a bad file gets a clear message and leaves the earlier revision in place."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from app.models import Deadline, Group, Member, User, Venue
from app.security.passwords import hash_password
from tests.api.test_submissions import make_pdf
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e


def _seed(engine) -> None:  # noqa: ANN001
    with Session(engine) as s:
        venue = Venue(slug="sub-e2e", title="Submissions E2E", timezone="Europe/London", phase="submission",
                      page_limit=8)
        s.add(venue)
        s.flush()
        s.add(Deadline(venue_id=venue.id, kind="submission", due_at=datetime.now(UTC) + timedelta(days=3)))
        group = Group(venue_id=venue.id, name="Team Upload", join_code="UPLOAD22")
        user = User(email="uploader@uni.example", full_name="Una Loader", password_hash=hash_password("upload pass 1"))
        s.add_all([group, user])
        s.flush()
        s.add(Member(venue_id=venue.id, user_id=user.id, group_id=group.id))
        s.commit()


def test_student_uploads_a_pdf_and_reads_the_format_report(live_server, page, tmp_path):  # noqa: ANN001
    _seed(live_server.engine)
    url = live_server.url
    sign_in(page, url, "uploader@uni.example", "upload pass 1")
    page.goto(f"{url}/venues/sub-e2e/submission")
    page.fill("#title", "Fast Int8 Keyword Spotting on Microcontrollers")
    page.fill("#abstract", "We measure int8 keyword spotting on a Cortex-M4.")
    page.fill("#keywords", "TinyML, int8")
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=Submission #1 saved.")
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(make_pdf(10))  # 10 pages with references on the last: 9 content pages, limit 8
    page.set_input_files("#pdf-file", str(pdf))
    page.click("button:has-text('Upload PDF')")
    page.wait_for_selector("#flashes >> text=PDF uploaded")
    report = page.inner_text("#format-report")
    assert "9 content page(s)" in report and "the limit is 8" in report
    assert page.locator("#findings tr[data-code='pages']").count() == 1
    assert page.locator("#revisions tbody tr").count() == 1
    bad = tmp_path / "report.pdf"
    bad.write_bytes(b"PK\x03\x04 this is really a docx")
    page.set_input_files("#pdf-file", str(bad))
    page.click("button:has-text('Upload PDF')")
    page.wait_for_selector("#flashes >> text=not a PDF")
    assert page.locator("#revisions tbody tr").count() == 1
