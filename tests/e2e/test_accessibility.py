"""In a real browser: axe-core finds no violation (of any impact) on any page of any role, on demo data; the
autosave status and a run's status are stable live regions whose text changes; a refused submit moves the focus
to its list of problems, and each problem links to its field.

axe-core is vendored from npm in tests/e2e/vendor/ (MPL-2.0, LICENSE beside it) and only ever injected by tests."""

import io
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from app.demo import DEMO_PASSWORD, DEMO_SLUG, FINISHED_SLUG, LAST_TERM_SLUG, demo_logins, seed_demo, \
    seed_finished, seed_last_term
from app.models import Artifact, Member, Review, Run, Submission, User, Venue
from app.services import submissions as submission_service
from tests.e2e.conftest import LiveServer, sign_in
from tests.e2e.test_review_flow import PASSWORD as REVIEW_PASSWORD
from tests.e2e.test_review_flow import _seed as seed_review_venue
from tests.live import serve_in_thread

pytestmark = pytest.mark.e2e
AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"

# The pages each role opens, by role. "{demo}", "{last}", "{finished}" and "{review}" are venue slugs; add a
# page here when you add one (the test opens each, runs axe and lists every violation it finds). A (path, status)
# pair is a page expected to answer that status (error pages are pages too).
PAGES: dict[str, list[str | tuple[str, int]]] = {
    "anonymous": ["/login", "/password/forgot", "/password/reset?token=not-a-token"],
    "student": ["/", "/venues/{demo}", "/venues/{demo}/groups", "/venues/{demo}/extensions", "/venues/{demo}/bids",
                "/venues/{demo}/conflicts", "/venues/{demo}/reviews", "/venues/{demo}/submission",
                "/venues/{demo}/submissions/{number}/runs", "/venues/{demo}/submissions/{number}/artifact",
                "/venues/{demo}/submissions/{number}/artifact/README.md", "/account", ("/venues/{demo}/settings", 403),
                ("/venues/no-such-venue", 404)],
    "ungrouped": ["/venues/{demo}", "/venues/{demo}/groups"],
    "author": ["/venues/{last}", "/venues/{last}/submissions/1/reviews", "/venues/{last}/submission"],
    "reviewer": ["/venues/{last}/reviews", "/venues/{last}/submissions/1/review"],
    "writer": ["/venues/{review}/submissions/1/review"],
    "released": ["/venues/{finished}", "/venues/{finished}/marks"],
    "chair": ["/", "/venues/{demo}", "/venues/{demo}/settings", "/venues/{demo}/roster", "/venues/{demo}/groups",
              "/venues/{demo}/extensions", "/venues/{demo}/audit", "/venues/{demo}/submissions",
              "/venues/{demo}/submissions/{number}", "/venues/{demo}/submissions/{number}/runs",
              "/venues/{demo}/assignments", "/venues/{demo}/bids", "/venues/{demo}/conflicts",
              "/venues/{demo}/reviews", "/venues/{demo}/review-form", "/rigs", "/account",
              "/venues/{last}/submissions/1", "/venues/{last}/submissions/1/reviews", "/venues/{last}/reviews",
              "/venues/{finished}/moderation", "/venues/{finished}/submissions/1/moderation",
              "/venues/{finished}/review-marks", "/venues/{finished}/review-marks/{finished_review}",
              "/venues/{finished}/marking-scheme", "/venues/{finished}/marks", "/venues/{demo}/phase?to=assignment",
              "/venues/{last}/phase?to=released"],
    "admin": ["/"],
}

RUN_AXE = """async () => {
    const result = await axe.run(document, {resultTypes: ['violations'], iframes: false});
    return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                        nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
}"""


def _code_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("README.md", "# Keyword spotting\n\nRun `python bench.py`.\n")
        z.writestr("bench.py", "print('hello')\n")
    return buf.getvalue()


def _seed(live) -> dict:  # noqa: ANN001
    """The demo's three venues, a PDF, code and two finished runs for a student of this term, and a venue in
    review where a reviewer writes. Returns the slugs, the submission number and each role's email."""
    from tests.api.test_submissions import make_pdf

    with Session(live.engine) as s:
        seed_demo(s)
        seed_last_term(s)
        seed_finished(s)
        s.commit()
        logins = {what: email for what, email, _ in demo_logins(s)}
        venue = s.exec(select(Venue).where(Venue.slug == DEMO_SLUG)).one()
        student = s.exec(select(User).where(User.email == logins["student in a group"])).one()
        member = s.exec(select(Member).where(Member.venue_id == venue.id, Member.user_id == student.id)).one()
        sub = s.exec(select(Submission).where(Submission.group_id == member.group_id)).one()
        if not submission_service.revisions(s, sub):
            submission_service.upload_revision(s, live.settings, student, venue, sub, make_pdf(6), "paper.pdf")
            artifact = submission_service.artifact_from_archive(s, live.settings, student, venue, sub, _code_zip(),
                                                                "code.zip")
            s.flush()
            now = datetime.now(UTC)
            check = {"claim": "C1", "text": "accuracy at least 0.9", "page": 5, "metric": "accuracy",
                     "experiment": "E1", "direction": "at_least", "claimed": 0.9, "tolerance": "0"}
            s.add(Run(venue_id=venue.id, submission_id=sub.id, artifact_id=artifact.id, rig_kind="local",
                      status="passed", queued_at=now - timedelta(minutes=9), finished_at=now - timedelta(minutes=8),
                      duration_s=41.0, checks=[{**check, "measured": 0.92, "passed": True}], badges=["functional"]))
            s.add(Run(venue_id=venue.id, submission_id=sub.id, artifact_id=artifact.id, rig_kind="local",
                      status="failed", reason="claim C1 not reproduced", queued_at=now - timedelta(minutes=5),
                      finished_at=now - timedelta(minutes=4), duration_s=39.5,
                      checks=[{**check, "measured": 0.81, "passed": False}]))
        number = sub.number
        s.commit()
        finished = s.exec(select(Venue).where(Venue.slug == FINISHED_SLUG)).one()
        finished_review = s.exec(select(Review).join(Submission, Submission.id == Review.submission_id)
                                 .where(Submission.venue_id == finished.id).order_by(Review.id)).first().id
        assert s.exec(select(Artifact).where(Artifact.submission_id == sub.id)).first() is not None
    review = seed_review_venue(live.engine)
    return {"slugs": {"demo": DEMO_SLUG, "last": LAST_TERM_SLUG, "finished": FINISHED_SLUG, "review": review["slug"],
                      "number": number, "finished_review": finished_review},
            "logins": {"student": (logins["student in a group"], DEMO_PASSWORD),
                       "ungrouped": (logins["student without a group"], DEMO_PASSWORD),
                       "author": (logins["author (last term)"], DEMO_PASSWORD),
                       "reviewer": (logins["reviewer (last term)"], DEMO_PASSWORD),
                       "writer": (review["bea"], REVIEW_PASSWORD),
                       "released": (logins["student (MLSys 2024)"], DEMO_PASSWORD),
                       "chair": ("ada.lovelace@uni.example", DEMO_PASSWORD),
                       "admin": ("admin@uni.example", DEMO_PASSWORD)},
            "review": review}


@pytest.fixture(scope="module")
def a11y_server(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """A server of its own: the demo's venues, members and assignments stay out of the other modules' database."""
    with serve_in_thread(tmp_path_factory.mktemp("a11y"), secret_key="a11y-secret") as served:
        yield LiveServer(served.url, served.settings, served.engine)


@pytest.fixture(scope="module")
def world(a11y_server) -> dict:  # noqa: ANN001
    return _seed(a11y_server)


def _violations(page) -> list[str]:  # noqa: ANN001
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return [f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes']}" for v in page.evaluate(RUN_AXE)]


def test_no_axe_violation_on_any_page_of_any_role(a11y_server, browser, world):  # noqa: ANN001
    found: dict[str, list[str]] = {}
    opened = 0
    for role, paths in PAGES.items():
        context = browser.new_context(bypass_csp=True)  # axe is injected as an inline script
        page = context.new_page()
        page.set_default_timeout(30_000)
        if role != "anonymous":
            sign_in(page, a11y_server.url, *world["logins"][role])
        for entry in paths:
            path, want = entry if isinstance(entry, tuple) else (entry, 200)
            response = page.goto(a11y_server.url + path.format(**world["slugs"]))
            assert response.status == want, f"{role} {path}: {response.status}"
            opened += 1
            problems = _violations(page)
            if problems:
                found[f"{role} {path}"] = problems
        context.close()
    assert opened >= 40
    assert found == {}, "\n".join(f"{where}:\n  " + "\n  ".join(p) for where, p in found.items())


def _signed_in(browser, live, login: tuple[str, str]):  # noqa: ANN001, ANN202
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    sign_in(page, live.url, *login)
    return page


WATCH = """(id) => {
    // remember the node, and every text it shows, in order (a MutationObserver sees each change)
    window.__watched = document.getElementById(id);
    window.__texts = [window.__watched.textContent.trim()];
    new MutationObserver(() => {
        const now = document.getElementById(id);
        const text = now ? now.textContent.replace(/\\s+/g, ' ').trim() : '(gone)';
        if (text !== window.__texts[window.__texts.length - 1]) window.__texts.push(text);
    }).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


def test_autosave_status_is_one_live_region_whose_text_changes(a11y_server, browser, world):  # noqa: ANN001
    page = _signed_in(browser, a11y_server, world["logins"]["writer"])
    page.goto(f"{a11y_server.url}/venues/{world['slugs']['review']}/submissions/1/review")
    status = page.locator("#save-status")
    assert status.get_attribute("role") == "status" and status.get_attribute("aria-live") == "polite"
    page.evaluate(WATCH, "save-status")
    version = int(status.get_attribute("data-version") or 0)

    page.fill("#a-strengths", "The latency is measured on the board itself.")
    assert page.inner_text("#save-status") == "Unsaved changes"  # at once, before the save starts
    page.wait_for_function("""(after) => {
        const s = document.getElementById('save-status');
        return s.querySelector("[data-state='saved']") && Number(s.dataset.version) > after
            && !document.querySelector('#review-form').classList.contains('htmx-request');
    }""", arg=version)
    texts = page.evaluate("window.__texts")
    assert texts[1:3] == ["Unsaved changes", "Saving…"] and texts[-1].startswith("Saved "), texts
    assert page.evaluate("document.getElementById('save-status') === window.__watched")  # the same node
    assert page.evaluate("document.querySelectorAll('#save-status').length") == 1

    # a radio saves at once: "Saving…" then "Saved", in the same node again
    page.evaluate(WATCH, "save-status")
    page.check("#a-soundness-3")
    page.wait_for_function("document.querySelector(\"#save-status [data-state='saved']\") "
                           "&& window.__texts.length >= 3")
    texts = page.evaluate("window.__texts")
    assert "Saving…" in texts and texts[-1].startswith("Saved "), texts
    assert page.evaluate("document.getElementById('save-status') === window.__watched")
    page.context.close()


def test_refused_submit_focuses_its_problems_and_links_each_field(a11y_server, browser, world):  # noqa: ANN001
    page = _signed_in(browser, a11y_server, world["logins"]["writer"])
    page.goto(f"{a11y_server.url}/venues/{world['slugs']['review']}/submissions/1/review")
    page.click("button:has-text('Submit review')")
    page.locator("#submit-problems").wait_for()
    assert page.evaluate("document.activeElement.id") == "submit-problems"
    links = page.evaluate("""() => [...document.querySelectorAll('#submit-problems a')].map(a => {
        const target = document.getElementById(a.getAttribute('href').slice(1));
        const described = target && (target.closest('fieldset[aria-describedby]') || target);
        const error = described && document.getElementById(described.getAttribute('aria-describedby') || '');
        return {text: a.textContent.trim(), found: !!target, type: target && target.type,
                error: error ? error.textContent.trim() : null};
    })""")
    assert links, "no problem is listed"
    assert [link for link in links if not link["found"] or link["error"] != link["text"]] == []
    assert {"radio", "textarea"} <= {link["type"] for link in links}  # score fieldsets too, not only text fields
    assert _violations(page) == []

    # following a link puts the focus in the field
    first_radio = next(i for i, link in enumerate(links) if link["type"] == "radio")
    page.locator("#submit-problems a").nth(first_radio).click()
    assert page.evaluate("document.activeElement.type") == "radio"
    page.context.close()


def test_run_status_is_announced_through_a_stable_live_region(a11y_server, browser, world):  # noqa: ANN001
    """A running run's fragment polls; when the run passes, #announcer (the same node) says so."""
    with Session(a11y_server.engine) as s:
        venue = s.exec(select(Venue).where(Venue.slug == DEMO_SLUG)).one()
        sub = s.exec(select(Submission).where(Submission.venue_id == venue.id,
                                              Submission.number != world["slugs"]["number"])
                     .order_by(Submission.number)).first()
        author = s.exec(select(User).join(Member, Member.user_id == User.id)
                        .where(Member.group_id == sub.group_id)).first()
        artifact = submission_service.artifact_from_archive(s, a11y_server.settings, author, venue, sub, _code_zip(),
                                                            "code.zip")
        s.flush()
        now = datetime.now(UTC)
        run = Run(venue_id=venue.id, submission_id=sub.id, artifact_id=artifact.id, rig_kind="local",
                  status="running", queued_at=now, started_at=now, heartbeat_at=now, attempts=1)
        s.add(run)
        s.commit()
        run_id, number = run.id, sub.number
    page = _signed_in(browser, a11y_server, world["logins"]["chair"])
    page.goto(f"{a11y_server.url}/venues/{DEMO_SLUG}/submissions/{number}/runs")
    region = page.locator("#announcer")
    assert region.get_attribute("role") == "status" and region.get_attribute("aria-live") == "polite"
    page.evaluate("window.__announcer = document.getElementById('announcer')")
    page.wait_for_selector(f"#run-{run_id} .status[data-status='running']")
    with Session(a11y_server.engine) as s:
        stored = s.get(Run, run_id)
        stored.status, stored.finished_at, stored.duration_s = "passed", datetime.now(UTC), 12.5
        s.add(stored)
        s.commit()
    page.wait_for_function("document.getElementById('announcer').textContent.toLowerCase().includes('passed')")
    text = page.inner_text("#announcer")
    assert f"Run {run_id}" in text and "passed" in text.lower()
    assert page.evaluate("document.getElementById('announcer') === window.__announcer")
    page.context.close()


def test_skip_link_landmarks_and_current_page(a11y_server, browser, world):  # noqa: ANN001
    page = _signed_in(browser, a11y_server, world["logins"]["chair"])
    page.goto(f"{a11y_server.url}/venues/{DEMO_SLUG}/groups")
    assert page.locator("nav[aria-label='Main'] a[aria-current='page']").all_inner_texts() == ["Groups"]
    crumbs = page.locator("nav[aria-label='Breadcrumb'] li")
    assert [t.strip() for t in crumbs.all_inner_texts()] == ["Your venues", "MLSys 2026", "Groups"]
    assert crumbs.last.locator("a").get_attribute("aria-current") == "page"
    assert page.locator("h1").count() == 1
    page.keyboard.press("Tab")  # the first stop is the skip link; following it puts the focus in <main>
    assert page.evaluate("document.activeElement.textContent") == "Skip to the content"
    page.keyboard.press("Enter")
    page.wait_for_function("document.activeElement.id === 'main'")

    page.goto(f"{a11y_server.url}/venues/{DEMO_SLUG}")
    assert page.locator("[aria-current='step']").inner_text() == "submission"
    assert page.locator("nav[aria-label='Breadcrumb'] [aria-current='page']").inner_text() == "MLSys 2026"
    page.context.close()


def test_no_smooth_scrolling_for_those_who_ask_for_less_motion(a11y_server, browser):  # noqa: ANN001
    behaviour = {}
    for motion in ("no-preference", "reduce"):
        context = browser.new_context(reduced_motion=motion)
        page = context.new_page()
        page.goto(f"{a11y_server.url}/login")
        behaviour[motion] = page.evaluate("getComputedStyle(document.documentElement).scrollBehavior")
        context.close()
    assert behaviour == {"no-preference": "smooth", "reduce": "auto"}
