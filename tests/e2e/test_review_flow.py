"""In a real browser: a reviewer writes a draft that autosaves, reloads, finds it, submits; two tabs of one review
detect each other and lose nothing; the Markdown preview is sanitized; an author reads the released reviews
(pseudonyms only), writes a response and rates a review."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from app.models import Assignment, Deadline, Group, Member, Review, ReviewHistory, User, Venue
from app.security.passwords import hash_password
from app.services.reviews import submit_review
from app.services.submissions import save_submission
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e
PASSWORD = "review pass 1"
NAMES = ("Ada Author", "Bea Reviewer", "Cy Reviewer", "Team Alpha", "Team Beta", "Team Gamma")
SCORES = {"soundness": 3, "presentation": 4, "contribution": 2, "runs_from_readme": 3, "reproducible": 3,
          "code_quality": 3, "documentation_quality": 2, "overall": 6, "confidence": 3}
TEXTS = {
    "summary": "The paper quantises a keyword-spotting CNN to int8 and runs it on a Cortex-M4 board.",
    "strengths": "Latency is measured on the real device, with the firmware size.",
    "weaknesses": "Only one dataset, and no comparison with pruning or distillation.",
    "code_review": "The smoke run passed; the README misses the flashing step for the board.",
}


def _seed(engine) -> dict:  # noqa: ANN001
    """A venue in the review phase: Team Alpha's #1 is assigned to Bea (Team Beta) and Cy (Team Gamma)."""
    tag = uuid.uuid4().hex[:8]
    with Session(engine) as s:
        venue = Venue(slug=f"review-e2e-{tag}", title="Review E2E", timezone="Europe/London", phase="submission")
        s.add(venue)
        s.flush()
        s.add(Deadline(venue_id=venue.id, kind="submission", due_at=datetime.now(UTC) + timedelta(days=1)))
        people = {}
        for key, name, team in (("ada", "Ada Author", "Team Alpha"), ("bea", "Bea Reviewer", "Team Beta"),
                                ("cy", "Cy Reviewer", "Team Gamma")):
            group = Group(venue_id=venue.id, name=team, join_code=f"R{tag}{key}"[:12].upper())
            user = User(email=f"{key}.{tag}@uni.example", full_name=name, password_hash=hash_password(PASSWORD))
            s.add_all([group, user])
            s.flush()
            member = Member(venue_id=venue.id, user_id=user.id, group_id=group.id)
            s.add(member)
            s.flush()
            people[key] = (user, member)
        sub = save_submission(s, people["ada"][0], venue, people["ada"][1],
                              title="Keyword spotting on a microcontroller", abstract="An int8 CNN on a Cortex-M4.",
                              keywords=["tinyml"])
        for key in ("bea", "cy"):
            s.add(Assignment(venue_id=venue.id, submission_id=sub.id, member_id=people[key][1].id, origin="manual"))
        venue.phase = "review"
        s.add(venue)
        s.add(Deadline(venue_id=venue.id, kind="review", due_at=datetime.now(UTC) + timedelta(days=3)))
        s.commit()
        return {"slug": venue.slug, "venue_id": venue.id, "sub_id": sub.id, "number": sub.number,
                **{key: user.email for key, (user, _m) in people.items()},
                **{f"{key}_member": member.id for key, (_u, member) in people.items()}}


def _login(page, url: str, email: str) -> None:  # noqa: ANN001
    sign_in(page, url, email, PASSWORD)


def _new_page(browser):  # noqa: ANN001, ANN202
    page = browser.new_context().new_page()
    page.set_default_timeout(15_000)
    return page


def _review(engine, seed: dict, member_key: str) -> Review | None:  # noqa: ANN001
    with Session(engine) as s:
        return s.exec(select(Review).where(Review.submission_id == seed["sub_id"],
                                           Review.member_id == seed[f"{member_key}_member"])).first()


def _version(page) -> int:  # noqa: ANN001
    return int(page.get_attribute("#save-status", "data-version") or 0)


def _wait_saved(page, after: int) -> int:  # noqa: ANN001
    """Wait until the autosave status says "saved" at a version newer than `after` and no save is in flight
    (htmx marks the form with htmx-request while one is, queued ones included): no blind sleeping."""
    page.wait_for_function("""(after) => {
        const s = document.querySelector('#save-status');
        return s && s.querySelector("[data-state='saved']") && Number(s.dataset.version) > after
            && !document.querySelector('#review-form').classList.contains('htmx-request');
    }""", arg=after)
    return _version(page)


def test_reviewer_drafts_reloads_is_told_what_is_missing_and_submits(live_server, browser):  # noqa: ANN001
    seed = _seed(live_server.engine)
    url, engine = live_server.url, live_server.engine
    page = _new_page(browser)
    _login(page, url, seed["bea"])
    review_url = f"{url}/venues/{seed['slug']}/submissions/{seed['number']}/review"
    page.goto(review_url)
    assert page.get_attribute("#save-status [data-state]", "data-state") == "new"
    assert page.inner_text("#review-status") == "not started"

    # typing saves by itself: after a pause in typing, when a radio changes, when the field loses focus
    page.fill("#a-summary", TEXTS["summary"])
    v = _wait_saved(page, 0)  # 3 s after the last keystroke, with the focus still in the field
    assert page.evaluate("document.activeElement.id") == "a-summary"
    page.check("input[name='a.soundness'][value='3']")
    v = _wait_saved(page, v)
    page.fill("#a-strengths", TEXTS["strengths"])
    page.locator("#a-strengths").blur()
    v = _wait_saved(page, v)
    page.check("input[name='a.overall'][value='6']")
    v = _wait_saved(page, v)
    assert _review(engine, seed, "bea").answers == {"summary": TEXTS["summary"], "soundness": 3,
                                                    "strengths": TEXTS["strengths"], "overall": 6}
    assert page.inner_text("#save-status").startswith("Saved")

    page.reload()
    assert page.input_value("#a-summary") == TEXTS["summary"]
    assert page.input_value("#a-strengths") == TEXTS["strengths"]
    assert page.is_checked("input[name='a.soundness'][value='3']")
    assert page.is_checked("input[name='a.overall'][value='6']")
    assert page.inner_text("#review-status") == "draft"
    # after a reload the page keeps saving on top of the stored version (no false conflict)
    v = _version(page)
    page.fill("#a-weaknesses", TEXTS["weaknesses"])
    page.locator("#a-weaknesses").blur()
    v = _wait_saved(page, v)
    for field, value in SCORES.items():
        radio = page.locator(f"input[name='a.{field}'][value='{value}']")
        if not radio.is_checked():  # choosing the one already chosen changes nothing, so saves nothing
            radio.check()
            v = _wait_saved(page, v)
    assert page.locator("#save-status [data-state='conflict']").count() == 0
    assert _review(engine, seed, "bea").answers == {**{k: TEXTS[k] for k in ("summary", "strengths", "weaknesses")},
                                                    **SCORES}

    # code_review (required) is still empty: the page says which field, and keeps what was typed
    page.click("button:has-text('Submit review')")
    problems = page.locator("#submit-problems")
    problems.wait_for()
    assert "Code and documentation review" in problems.inner_text()
    assert page.locator("#field-code_review.invalid").count() == 1
    assert page.locator("#field-summary.invalid").count() == 0
    assert page.input_value("#a-weaknesses") == TEXTS["weaknesses"]
    assert page.inner_text("#review-status") == "draft"
    assert _review(engine, seed, "bea").status == "draft"

    page.fill("#a-code_review", TEXTS["code_review"])
    page.click("button:has-text('Submit review')")
    page.wait_for_selector("#flashes >> text=Your review is submitted")
    assert page.inner_text("#review-status") == "submitted"
    stored = _review(engine, seed, "bea")
    assert stored.status == "submitted" and stored.published == {**TEXTS, **SCORES}
    page.context.close()


def test_two_tabs_of_one_review_show_the_conflict_and_lose_nothing(live_server, browser):  # noqa: ANN001
    seed = _seed(live_server.engine)
    url, engine = live_server.url, live_server.engine
    first = _new_page(browser)
    _login(first, url, seed["bea"])
    second = first.context.new_page()
    review_url = f"{url}/venues/{seed['slug']}/submissions/{seed['number']}/review"
    first.goto(review_url)
    second.goto(review_url)

    first.fill("#a-summary", "Typed in the first tab: the int8 model fits in 180 KB.")
    first.locator("#a-summary").blur()
    _wait_saved(first, 0)
    second.fill("#a-summary", "Typed in the second tab: the latency claim is not measured.")
    second.locator("#a-summary").blur()
    banner = second.locator("#save-status [data-state='conflict']")
    banner.wait_for()
    assert "changed in another tab" in banner.inner_text()
    # the second tab still shows what was typed there, and typing more keeps being refused, never overwriting
    assert second.input_value("#a-summary") == "Typed in the second tab: the latency claim is not measured."
    second.fill("#a-strengths", "Also typed in the second tab.")
    with second.expect_response(lambda r: r.url.endswith("/review/draft")) as again:
        second.locator("#a-strengths").blur()
    assert again.value.status == 409

    review = _review(engine, seed, "bea")
    assert review.answers == {"summary": "Typed in the first tab: the int8 model fits in 180 KB."}
    with Session(engine) as s:
        kept = [h.answers for h in s.exec(select(ReviewHistory).where(ReviewHistory.review_id == review.id,
                                                                      ReviewHistory.kind == "conflict")).all()]
    assert {"summary": "Typed in the second tab: the latency claim is not measured."} in kept

    # the first tab goes on saving normally
    first.fill("#a-strengths", "Typed in the first tab again.")
    first.locator("#a-strengths").blur()
    _wait_saved(first, 1)
    assert _review(engine, seed, "bea").answers["strengths"] == "Typed in the first tab again."
    first.context.close()


def test_markdown_preview_renders_bold_and_shows_script_as_text(live_server, browser):  # noqa: ANN001
    seed = _seed(live_server.engine)
    page = _new_page(browser)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _login(page, live_server.url, seed["cy"])
    page.goto(f"{live_server.url}/venues/{seed['slug']}/submissions/{seed['number']}/review")
    page.fill("#a-questions", "Is the **int8 model** really 180 KB? <script>alert('xss')</script>\n\n"
                              "<img src=x onerror=\"alert('img')\">")
    page.click("#field-questions summary")
    preview = page.locator("#field-questions .markdown-preview")
    preview.wait_for()
    assert preview.locator("strong").inner_text() == "int8 model"
    text = preview.inner_text()
    assert "<script>alert('xss')</script>" in text and "<img src=x" in text  # shown as text, not as markup
    assert preview.locator("script").count() == 0 and preview.locator("img").count() == 0
    assert page.evaluate("document.querySelectorAll('#review-form script, #review-form img').length") == 0
    page.wait_for_timeout(300)  # a script that did run would have opened its dialog by now
    assert dialogs == []
    page.context.close()


def _submit_as(engine, seed: dict, key: str, answers: dict) -> None:  # noqa: ANN001
    from app.models import Submission

    with Session(engine) as s:
        member = s.get(Member, seed[f"{key}_member"])
        submit_review(s, s.get(User, member.user_id), s.get(Venue, seed["venue_id"]), member,
                      s.get(Submission, seed["sub_id"]), answers, 0)
        s.commit()


def test_author_reads_pseudonymous_reviews_responds_and_rates(live_server, browser):  # noqa: ANN001
    from app.models import Rating, Response

    seed = _seed(live_server.engine)
    engine = live_server.engine
    _submit_as(engine, seed, "bea", {**TEXTS, **SCORES, "confidential": "Only for the chair: Bea suspects copying."})
    _submit_as(engine, seed, "cy", {**TEXTS, **SCORES, "overall": 4,
                                    "weaknesses": "The **baseline** is weak. <script>alert('cy')</script>"})
    with Session(engine) as s:
        venue = s.get(Venue, seed["venue_id"])
        venue.phase = "response"
        s.add(venue)
        s.commit()

    page = _new_page(browser)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _login(page, live_server.url, seed["ada"])
    page.goto(f"{live_server.url}/venues/{seed['slug']}/submissions/{seed['number']}/reviews")
    headings = [h.strip() for h in page.locator("article.review h2").all_inner_texts()]
    assert headings == ["Reviewer A", "Reviewer B"]
    html = page.content()
    leaks = [n for n in (*NAMES[1:], seed["bea"], seed["cy"]) if n in html]
    assert leaks == []  # no reviewer's name, group or email anywhere in the page
    assert "Only for the chair" not in html  # the confidential field is for chairs
    cy_review = page.locator("article.review").nth(1)
    assert cy_review.locator("dd[data-field='weaknesses'] strong").inner_text() == "baseline"
    assert "<script>alert('cy')</script>" in cy_review.inner_text()
    assert dialogs == []

    page.fill("#response-text", "Thank you. We added a **pruning** baseline; see the new Table 3.")
    page.click("button:has-text('Save the response')")
    page.wait_for_selector("#flashes >> text=Your response is saved.")
    assert page.locator("#response-body strong").inner_text() == "pruning"

    first = page.locator("article.review").first
    review_id = int(first.get_attribute("data-review-id"))
    first.locator("input[name='score'][value='4']").check()
    first.locator("input[name='comment']").fill("Concrete and kind.")
    first.locator("button:has-text('Rate')").click()
    page.wait_for_selector("#flashes >> text=Thank you: your rating is saved.")
    assert "(you said 4/5)" in page.locator(f"#review-{review_id}").inner_text()
    assert page.locator(f"#review-{review_id} input[name='score'][value='4']").is_checked()
    with Session(engine) as s:
        ratings = s.exec(select(Rating).where(Rating.review_id == review_id)).all()
        assert [(r.score, r.comment) for r in ratings] == [(4, "Concrete and kind.")]
        response = s.exec(select(Response).where(Response.submission_id == seed["sub_id"])).one()
        assert "pruning" in response.body
    assert [n for n in NAMES[1:] if n in page.content()] == []
    assert dialogs == []
    page.context.close()
