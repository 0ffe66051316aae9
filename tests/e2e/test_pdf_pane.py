"""In a real browser (headless Chromium, whose own PDF viewer cannot be relied on): the reviewer's PDF pane draws
the reviewer copy's pages with the vendored pdf.js, with a thumbnail per page, and a claim's page link and a
thumbnail scroll the pane to that page."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from app.models import Artifact, Assignment, Deadline, Group, Member, User, Venue
from app.security.passwords import hash_password
from app.services.submissions import save_submission, upload_revision
from tests.api.test_runs import MANIFEST
from tests.e2e.conftest import sign_in
from tests.api.test_submissions import make_pdf

pytestmark = pytest.mark.e2e
PASSWORD = "pdf pane pass 1"
PAGES = 4


def _seed(live_server) -> dict:  # noqa: ANN001
    """Team Alpha's #1 (a 4-page PDF, claim C1 on page 3) assigned to Bea, in the review phase."""
    tag = uuid.uuid4().hex[:8]
    with Session(live_server.engine) as s:
        venue = Venue(slug=f"pdf-e2e-{tag}", title="PDF pane E2E", timezone="UTC", phase="submission")
        s.add(venue)
        s.flush()
        s.add(Deadline(venue_id=venue.id, kind="submission", due_at=datetime.now(UTC) + timedelta(days=1)))
        people = {}
        for key, team in (("ada", "Team Alpha"), ("bea", "Team Beta")):
            group = Group(venue_id=venue.id, name=team, join_code=f"P{tag}{key}"[:12].upper())
            user = User(email=f"{key}.{tag}@uni.example", full_name=f"{key.title()} Person",
                        password_hash=hash_password(PASSWORD))
            s.add_all([group, user])
            s.flush()
            member = Member(venue_id=venue.id, user_id=user.id, group_id=group.id)
            s.add(member)
            s.flush()
            people[key] = (user, member)
        author, author_member = people["ada"]
        sub = save_submission(s, author, venue, author_member, title="Int8 keyword spotting",
                              abstract="An int8 CNN on a Cortex-M4.", keywords=["tinyml"])
        upload_revision(s, live_server.settings, author, venue, sub, make_pdf(PAGES), "paper.pdf")
        # the artifact row alone (no snapshot, no run): its reproduce.toml states claim C1 on page 3
        s.add(Artifact(submission_id=sub.id, source="archive", snapshot_sha="0" * 64, anonymized_sha="0" * 64,
                       manifest_ok=True, manifest_text=MANIFEST, created_by=author.id))
        s.add(Assignment(venue_id=venue.id, submission_id=sub.id, member_id=people["bea"][1].id, origin="manual"))
        venue.phase = "review"
        s.add(venue)
        s.commit()
        return {"slug": venue.slug, "number": sub.number, "bea": people["bea"][0].email}


NON_BLANK = """(canvas) => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let dark = 0;
  for (let i = 0; i < data.length; i += 4) { if (data[i + 3] > 0 && data[i] < 128) dark += 1; }
  return dark;
}"""


def test_the_pdf_pane_draws_the_pages_with_thumbnails_and_claim_links(live_server, page):  # noqa: ANN001
    seed = _seed(live_server)
    sign_in(page, live_server.url, seed["bea"], PASSWORD)
    pdf_requests = []
    page.on("request", lambda r: pdf_requests.append(r.url) if "/pdf" in r.url.split("?")[0] else None)
    page.goto(f"{live_server.url}/venues/{seed['slug']}/submissions/{seed['number']}/review")

    viewer = page.locator("#pdf-viewer")
    page.wait_for_selector(f"#pdf-viewer[data-ready='done'][data-rendered-pages='{PAGES}']", timeout=30_000)
    assert viewer.get_attribute("data-pages") == str(PAGES)
    assert page.locator("#pdf-viewer .pdf-status").inner_text().startswith(f"{PAGES} pages")
    # the pages are drawn (the filler text is dark pixels), not just canvases that exist
    first = page.locator("#pdf-page-1 canvas")
    assert first.evaluate(NON_BLANK) > 1000
    assert page.locator("#pdf-viewer .pdf-pages canvas").count() == PAGES
    thumbs = page.locator("#pdf-viewer .pdf-thumbs a")
    assert thumbs.count() == PAGES and thumbs.nth(1).locator("canvas").evaluate(NON_BLANK) > 0
    # it read the reviewer copy (the default), never the original
    assert pdf_requests and not any("copy=original" in u for u in pdf_requests)

    # the claim's page link jumps to page 3 in the pane; a thumbnail to page 4
    pane = page.locator("#pdf-viewer .pdf-pages")
    assert pane.evaluate("p => p.scrollTop") == 0
    page.click("#review-claims li[data-claim='C1'] a.claim-page")
    page.wait_for_function("document.querySelector('#pdf-viewer').dataset.currentPage === '3'")
    top = pane.evaluate("p => p.scrollTop")
    third = page.locator("#pdf-page-3").evaluate("e => e.offsetTop - e.parentElement.offsetTop")
    assert top > 0 and abs(top - third) <= 2
    assert page.locator("#pdf-viewer .pdf-thumbs a[data-page='3']").get_attribute("aria-current") == "page"
    thumbs.nth(3).click()
    page.wait_for_function("document.querySelector('#pdf-viewer').dataset.currentPage === '4'")
    assert pane.evaluate("p => p.scrollTop") > top
