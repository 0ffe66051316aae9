"""In a real browser, under the Content-Security-Policy: every role's pages (crawled from the home page through
their links) load without a CSP violation or a script error, and htmx still works: a boosted form, the PDF
upload with its progress bar, the review autosave, the PDF framed beside the review form."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from app.models import Assignment, Deadline, Group, Member, Submission, User, Venue
from app.security.passwords import hash_password
from tests.api.test_submissions import make_pdf
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e
PASSWORD = "headers pass 1"
SKIP = ("/api/", "download", "/export", ".ics", "/docs", "/redoc", "/logout", "/static/", "/calendar/")
PAGES_PER_ROLE = 30


def _seed(engine) -> dict:  # noqa: ANN001
    """A venue in the submission phase: a chair, a TA, a site admin, Ada (Team Alpha) and Bea (Team Beta)."""
    tag = uuid.uuid4().hex[:8]
    with Session(engine) as s:
        venue = Venue(slug=f"csp-{tag}", title="CSP E2E", timezone="Europe/London", phase="submission")
        s.add(venue)
        s.flush()
        s.add(Deadline(venue_id=venue.id, kind="submission", due_at=datetime.now(UTC) + timedelta(days=2)))
        emails = {}
        for key, role, team in (("chair", "chair", None), ("ta", "ta", None), ("admin", None, None),
                                ("ada", "student", "Team Alpha"), ("bea", "student", "Team Beta")):
            user = User(email=f"{key}.{tag}@uni.example", full_name=f"{key.title()} Person", is_admin=key == "admin",
                        password_hash=hash_password(PASSWORD))
            s.add(user)
            s.flush()
            group = None
            if team:
                group = Group(venue_id=venue.id, name=team, join_code=f"C{tag}{key}"[:12].upper())
                s.add(group)
                s.flush()
            if role:
                s.add(Member(venue_id=venue.id, user_id=user.id, role=role, group_id=group.id if group else None))
            emails[key] = user.email
        s.commit()
        return {"slug": venue.slug, "venue_id": venue.id, **emails}


def _start_review_phase(engine, seed: dict) -> None:  # noqa: ANN001
    with Session(engine) as s:
        venue = s.get(Venue, seed["venue_id"])
        sub = s.exec(select(Submission).where(Submission.venue_id == venue.id)).one()
        bea = s.exec(select(User).where(User.email == seed["bea"])).one()
        member = s.exec(select(Member).where(Member.venue_id == venue.id, Member.user_id == bea.id)).one()
        s.add(Assignment(venue_id=venue.id, submission_id=sub.id, member_id=member.id, origin="manual"))
        s.add(Deadline(venue_id=venue.id, kind="review", due_at=datetime.now(UTC) + timedelta(days=3)))
        venue.phase = "review"
        s.add(venue)
        s.commit()


class Watch:
    """CSP violations (reported by the page's securitypolicyviolation events and Chromium's console) and script
    errors, with the page they happened on; and every document's CSP header."""

    def __init__(self, page) -> None:  # noqa: ANN001
        self.problems: list[str] = []
        self.unprotected: list[str] = []
        page.add_init_script("document.addEventListener('securitypolicyviolation', function (e) {"
                             " console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + e.blockedURI"
                             " + ' on ' + location.pathname); });")
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"script error on {page.url}: {exc}"))
        page.on("response", self._response)
        self.page = page

    def _console(self, msg) -> None:  # noqa: ANN001
        text = msg.text
        if msg.type == "error" and ("Content Security Policy" in text or "CSP violation" in text
                                    or "Refused to" in text or "X-Frame-Options" in text):
            self.problems.append(f"{self.page.url}: {text[:300]}")

    def _response(self, response) -> None:  # noqa: ANN001
        if response.request.resource_type == "document" and response.url.startswith("http://127.0.0.1"):
            if "frame-ancestors" not in (response.headers.get("content-security-policy") or ""):
                self.unprotected.append(response.url)


def _crawl(page, url: str, *also: str) -> list[str]:  # noqa: ANN001
    """Breadth first through the same-site links from the home page (and `also`), files, downloads and the API
    skipped."""
    seen: list[str] = []
    queue = ["/", *also]
    while queue and len(seen) < PAGES_PER_ROLE:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.append(path)
        page.goto(url + path)
        page.wait_for_load_state("load")
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
            href = (href or "").split("#")[0]
            if href.startswith("/") and not href.startswith("//") and not any(s in href for s in SKIP) \
                    and href not in seen and href not in queue:
                queue.append(href)
    return seen


def _as(browser, live, email: str):  # noqa: ANN001, ANN202
    page = browser.new_context().new_page()
    page.set_default_timeout(30_000)
    watch = Watch(page)
    sign_in(page, live.url, email, PASSWORD)
    return page, watch


def test_every_roles_pages_and_htmx_work_under_the_csp(live_server, browser, tmp_path):  # noqa: ANN001
    seed = _seed(live_server.engine)
    url, slug = live_server.url, seed["slug"]
    watches = []

    # Ada: the submission page's htmx upload (multipart, progress bar from static/app.js), then her code.
    ada, watch = _as(browser, live_server, seed["ada"])
    watches.append(watch)
    ada.goto(f"{url}/venues/{slug}/submission")
    ada.fill("#title", "Int8 keyword spotting")
    ada.click("button:has-text('Save')")
    ada.wait_for_selector("text=Submission #1 saved.")
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(make_pdf(6))
    ada.set_input_files("#pdf-file", str(pdf))
    # static/app.js shows the progress bar on htmx's progress events (this listener runs after app.js's)
    ada.evaluate("window.__shown = 0; document.addEventListener('htmx:xhr:progress', function () {"
                 " if (!document.querySelector('#upload-progress').hidden) window.__shown++; });")
    ada.click("button:has-text('Upload PDF')")
    ada.wait_for_selector("#flashes >> text=PDF uploaded")
    assert ada.locator("#revisions tbody tr").count() == 1
    assert ada.evaluate("window.__shown") > 0, "the upload's progress bar never showed"
    from tests.api.test_runs import artifact_zip

    archive = tmp_path / "code.zip"
    archive.write_bytes(artifact_zip())
    ada.set_input_files("#archive", str(archive))
    ada.click("button:has-text('Store code snapshot')")
    ada.wait_for_selector("#flashes >> text=snapshot")
    # A boosted form (hx-boost): the account's time zone, saved without a full page load.
    ada.goto(f"{url}/account")
    ada.evaluate("window.__still_here = true")
    ada.fill("#timezone", "Europe/Paris")
    ada.click("form[action='/account/timezone'] button")
    ada.wait_for_selector("#flashes >> text=Time zone saved.")
    assert ada.evaluate("window.__still_here === true"), "the boosted form reloaded the page (htmx did not run)"

    _start_review_phase(live_server.engine, seed)

    # Bea, assigned: the review page with the PDF drawn beside the form, and the autosave (htmx).
    bea, watch = _as(browser, live_server, seed["bea"])
    watches.append(watch)
    bea.goto(f"{url}/venues/{slug}/submissions/1/review")
    # the PDF is drawn by the vendored pdf.js (a module script and its worker, both same-origin under the CSP)
    viewer = bea.wait_for_selector("#pdf-viewer[data-ready='done']")
    assert viewer.get_attribute("data-pdf-url").startswith(f"/api/v1/venues/{slug}/submissions/1/revisions/")
    assert bea.locator(".pdf-pages canvas").count() >= 1
    bea.fill("#a-summary", "An int8 CNN on a Cortex-M4, measured on the board.")
    bea.wait_for_function("() => { const s = document.querySelector('#save-status');"
                          " return s && s.querySelector(\"[data-state='saved']\") && Number(s.dataset.version) > 0; }")

    crawled = {}
    for key, page, w in (("ada", ada, watches[0]), ("bea", bea, watches[1])):
        crawled[key] = _crawl(page, url)
    for key in ("chair", "ta", "admin"):
        page, w = _as(browser, live_server, seed[key])
        watches.append(w)
        crawled[key] = _crawl(page, url, "/rigs")
        page.context.close()
    ada.context.close()
    bea.context.close()

    assert any("/submissions" in p for p in crawled["chair"]), crawled["chair"]
    assert "/rigs" in crawled["chair"] and any("/moderation" in p for p in crawled["chair"]), crawled["chair"]
    assert any("/files" in p or "/artifact" in p for p in crawled["ada"]), crawled["ada"]
    assert any("/reviews" in p for p in crawled["bea"]), crawled["bea"]
    problems = [p for w in watches for p in w.problems]
    assert not problems, problems
    unprotected = [u for w in watches for u in w.unprotected]
    assert not unprotected, unprotected
