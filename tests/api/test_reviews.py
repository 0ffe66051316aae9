"""Reviews through the HTTP API: writing, conflicts between tabs, deadlines, visibility per role and phase,
pseudonyms, discussion, the authors' response and ratings — and every bad input the issue names."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from app.models import Deadline, Extension, Review, ReviewHistory
from app.services.assignments import Change, apply_changes
from app.services.submissions import save_submission

GOOD = {
    "summary": "The paper quantises a keyword-spotting CNN to int8 and runs it on a Cortex-M4 board.",
    "strengths": "Clear measurements of latency on the real device.",
    "weaknesses": "Only one dataset; no comparison with pruning.",
    "soundness": 3, "presentation": 3, "contribution": 2,
    "runs_from_readme": 3, "reproducible": 3, "code_quality": 3, "documentation_quality": 2,
    "code_review": "The smoke run passed; the README misses the flashing step for the board.",
    "overall": 6, "confidence": 3,
    "confidential": "I suspect the baseline numbers were copied from the TFLM docs.",
}


@pytest.fixture
def venue_setup(make, db):  # noqa: ANN001, ANN201
    """A venue in the review phase: group Alpha's submission #1 reviewed by Bea (group Beta) and Cy (group Gamma)."""
    venue = make.venue(phase="submission")
    chair, chair_m = make.member(venue, "chair", name="Chair Person")
    alpha, beta, gamma = make.group(venue, "Alpha Team"), make.group(venue, "Beta Team"), make.group(venue, "Gamma")
    ada, ada_m = make.member(venue, "student", group=alpha, name="Ada Author")
    alan, _ = make.member(venue, "student", group=alpha, name="Alan Author")
    bea, bea_m = make.member(venue, "student", group=beta, name="Bea Reviewer")
    cy, cy_m = make.member(venue, "student", group=gamma, name="Cy Reviewer")
    dee, dee_m = make.member(venue, "student", group=gamma, name="Dee Unassigned")
    sub = save_submission(db, ada, venue, ada_m, title="Keyword spotting on a microcontroller",
                          abstract="int8 CNN on Cortex-M4", keywords=["tinyml"])
    venue.phase = "review"
    db.add(venue)
    db.add(Deadline(venue_id=venue.id, kind="review", due_at=datetime.now(UTC) + timedelta(days=3)))
    apply_changes(db, chair, venue, [Change("add", sub.id, bea_m.id), Change("add", sub.id, cy_m.id)],
                  action="assignment.manual")
    db.commit()
    return {"venue": venue, "sub": sub, "chair": chair, "ada": ada, "alan": alan, "bea": bea, "bea_m": bea_m,
            "cy": cy, "dee": dee, "beta": beta, "alpha": alpha}


def _url(s, path="") -> str:  # noqa: ANN001
    return f"/api/v1/venues/{s['venue'].slug}/submissions/{s['sub'].number}{path}"


def _phase(db, s, phase) -> None:  # noqa: ANN001
    s["venue"].phase = phase
    db.add(s["venue"])
    db.commit()


def _submit(client, s, answers=GOOD) -> dict:  # noqa: ANN001
    saved = client.put(_url(s, "/review"), json={"answers": answers, "version": 0})
    assert saved.status_code == 200, saved.text
    r = client.post(_url(s, "/review/submit"), json={"answers": answers, "version": saved.json()["version"]})
    assert r.status_code == 200, r.text
    return r.json()


NAMES = ("Ada Author", "Alan Author", "Alpha Team", "Bea Reviewer", "Cy Reviewer", "Beta Team", "Gamma")


def _leaks(text: str, *names: str) -> list[str]:
    return [n for n in names if n in text]


def test_a_reviewer_drafts_reloads_and_submits(venue_setup, as_user, db):  # noqa: ANN001
    s = venue_setup
    bea = as_user(s["bea"])
    first = bea.put(_url(s, "/review"), json={"answers": {"summary": "Half a thought"}, "version": 0})
    assert first.status_code == 200 and first.json()["version"] == 1
    again = bea.get(_url(s, "/review")).json()
    assert again["answers"] == {"summary": "Half a thought"} and again["status"] == "draft"
    assert again["pseudonym"] == "Reviewer A"

    incomplete = bea.post(_url(s, "/review/submit"), json={"answers": {"summary": "short"}, "version": 1})
    assert incomplete.status_code == 422
    problems = {p["field"] for p in incomplete.json().get("details") or []}
    assert {"summary", "strengths", "overall", "confidence", "code_review"} <= problems
    assert bea.get(_url(s, "/review")).json()["answers"] == {"summary": "Half a thought"}  # nothing changed

    done = bea.post(_url(s, "/review/submit"), json={"answers": GOOD, "version": 1})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "submitted" and body["published"]["overall"] == 6 and body["is_late"] is False
    assert [h.kind for h in db.exec(select(ReviewHistory)).all()] == ["submitted"]
    listed = bea.get(f"/api/v1/venues/{s['venue'].slug}/my-reviews").json()
    assert listed == [{"submission": 1, "title": s["sub"].title, "status": "submitted", "version": 2,
                       "is_late": False}]


def test_two_tabs_saving_the_same_draft_detect_each_other_and_lose_nothing(venue_setup, as_user, db):  # noqa: ANN001
    s = venue_setup
    bea = as_user(s["bea"])
    v1 = bea.put(_url(s, "/review"), json={"answers": {"summary": "start"}, "version": 0}).json()["version"]
    tab_a = bea.put(_url(s, "/review"), json={"answers": {"summary": "tab A's text"}, "version": v1})
    assert tab_a.status_code == 200
    tab_b = bea.put(_url(s, "/review"), json={"answers": {"summary": "tab B's text"}, "version": v1})
    assert tab_b.status_code == 409
    assert tab_b.json()["code"] == "conflict" and tab_b.json()["theirs"] == {"summary": "tab A's text"}
    review = db.exec(select(Review)).one()
    db.refresh(review)
    assert review.answers == {"summary": "tab A's text"}
    kept = db.exec(select(ReviewHistory).where(ReviewHistory.kind == "conflict")).one()
    assert kept.answers == {"summary": "tab B's text"}  # the refused save is kept, not lost
    # saving the identical text again from a stale version (autosave racing the submit button) is not a conflict
    same = bea.put(_url(s, "/review"), json={"answers": {"summary": "tab A's text"}, "version": v1})
    assert same.status_code == 200
    # without a version a second save is refused rather than blindly overwriting
    blind = bea.put(_url(s, "/review"), json={"answers": {"summary": "blind"}})
    assert blind.status_code == 422


@pytest.mark.parametrize("answers, message", [
    ({"soundness": 7}, "not on the scale"),
    ({"overall": "ten"}, "not on the scale"),
    ({"summary": "x" * 1_000_000}, "too long"),
    ({"no_such_field": "hi"}, "no field"),
])
def test_bad_answers_are_refused_and_the_draft_is_untouched(venue_setup, as_user, db, answers, message):  # noqa: ANN001
    s = venue_setup
    bea = as_user(s["bea"])
    bea.put(_url(s, "/review"), json={"answers": {"summary": "kept"}, "version": 0})
    r = bea.put(_url(s, "/review"), json={"answers": answers, "version": 1})
    assert r.status_code == 422 and message in r.json()["detail"]
    assert bea.get(_url(s, "/review")).json() | {} == bea.get(_url(s, "/review")).json()
    stored = bea.get(_url(s, "/review")).json()
    assert stored["answers"] == {"summary": "kept"} and stored["version"] == 1


def test_unassigned_people_cannot_review_or_read(venue_setup, as_user, client):  # noqa: ANN001
    s = venue_setup
    dee = as_user(s["dee"])
    assert dee.put(_url(s, "/review"), json={"answers": {"summary": "x"}, "version": 0}).status_code in (403, 404)
    assert dee.get(_url(s, "/reviews")).status_code in (403, 404)
    assert dee.get(_url(s, "/comments")).status_code in (403, 404)
    ada = as_user(s["ada"])  # an author cannot review their own paper
    assert ada.put(_url(s, "/review"), json={"answers": {"summary": "x"}, "version": 0}).status_code == 403
    assert client.get(_url(s, "/reviews")).status_code == 401


def test_after_the_deadline_submitting_is_refused_but_an_extension_allows_a_marked_late_review(
        venue_setup, as_user, db):  # noqa: ANN001
    s = venue_setup
    bea = as_user(s["bea"])
    bea.put(_url(s, "/review"), json={"answers": {"summary": "my draft"}, "version": 0})
    due = db.exec(select(Deadline).where(Deadline.kind == "review")).one()
    due.due_at = datetime.now(UTC) - timedelta(hours=1)
    db.add(due)
    db.commit()
    late = bea.post(_url(s, "/review/submit"), json={"answers": GOOD, "version": 1})
    assert late.status_code == 409 and late.json()["code"] == "deadline-passed"
    assert "draft is kept" in late.json()["detail"]
    stored = bea.get(_url(s, "/review")).json()
    assert stored["answers"] == {"summary": "my draft"} and stored["status"] == "draft"

    db.add(Extension(venue_id=s["venue"].id, group_id=s["beta"].id, kind="review", reason="ill",
                     requested_by=s["bea"].id, status="granted", new_due_at=datetime.now(UTC) + timedelta(days=1)))
    db.commit()
    ok = bea.post(_url(s, "/review/submit"), json={"answers": GOOD, "version": 1})
    assert ok.status_code == 200, ok.text
    assert ok.json()["is_late"] is True


def test_visibility_pseudonyms_response_and_ratings_across_phases(venue_setup, as_user, db):  # noqa: ANN001
    s = venue_setup
    bea, cy, ada, chair = as_user(s["bea"]), as_user(s["cy"]), as_user(s["ada"]), as_user(s["chair"])
    _submit(bea, s)
    # Cy has not submitted: cannot read Bea's review yet; the authors cannot read anything in the review phase
    assert cy.get(_url(s, "/reviews")).status_code == 403
    assert ada.get(_url(s, "/reviews")).status_code == 403
    cy_answers = dict(GOOD, overall=4, summary="A second, independent summary of the keyword spotting paper.")
    _submit(cy, s, cy_answers)
    seen_by_cy = cy.get(_url(s, "/reviews"))
    assert seen_by_cy.status_code == 200
    assert sorted(r["reviewer"] for r in seen_by_cy.json()) == ["Reviewer A", "You (Reviewer B)"]
    assert not _leaks(seen_by_cy.text, *NAMES)
    assert "confidential" not in seen_by_cy.text  # chairs-only field

    _phase(db, s, "response")
    seen_by_ada = ada.get(_url(s, "/reviews"))
    assert seen_by_ada.status_code == 200
    reviews = seen_by_ada.json()
    assert sorted(r["reviewer"] for r in reviews) == ["Reviewer A", "Reviewer B"]
    assert all("confidential" not in r["answers"] for r in reviews)
    assert not _leaks(seen_by_ada.text, "Bea Reviewer", "Cy Reviewer", "Beta Team", "Gamma", s["bea"].email)

    # one response per group, with a length limit; a second member's stale edit is refused, not lost silently
    resp = ada.put(_url(s, "/response"), json={"body": "Thank you. We added the flashing step to the README."})
    assert resp.status_code == 200 and resp.json()["version"] == 1
    alan = as_user(s["alan"])
    stale = alan.put(_url(s, "/response"), json={"body": "Alan's version", "version": 0})
    assert stale.status_code == 409
    too_long = ada.put(_url(s, "/response"), json={"body": "x" * 7000, "version": 1})
    assert too_long.status_code == 422
    assert bea.get(_url(s, "/response")).json()["response"]["body"].startswith("Thank you.")

    # ratings: authors rate, chairs read them, reviewers never see who rated
    rid = next(r["id"] for r in reviews if r["reviewer"] == "Reviewer A")
    assert ada.put(_url(s, f"/reviews/{rid}/rating"), json={"score": 6}).status_code == 422
    assert ada.put(_url(s, f"/reviews/{rid}/rating"), json={"score": 4, "comment": "useful"}).status_code == 200
    assert bea.put(_url(s, f"/reviews/{rid}/rating"), json={"score": 5}).status_code == 403
    chair_view = chair.get(_url(s, "/reviews")).json()
    rated = next(r for r in chair_view if r["id"] == rid)
    assert rated["ratings"] == [{"score": 4, "comment": "useful"}]
    assert "Bea Reviewer (Reviewer A)" in {r["reviewer"] for r in chair_view}
    assert "ratings" not in next(r for r in bea.get(_url(s, "/reviews")).json() if r["id"] == rid)

    # a reviewer updates the review after the response: history keeps both versions, authors read the update
    cur = bea.get(_url(s, "/review")).json()
    upd = bea.post(_url(s, "/review/submit"), json={"answers": dict(GOOD, overall=7), "version": cur["version"]})
    assert upd.status_code == 200, upd.text
    kinds = [h.kind for h in db.exec(select(ReviewHistory).where(ReviewHistory.review_id == rid)
                                     .order_by(ReviewHistory.id)).all()]
    assert kinds == ["submitted", "updated"]
    assert next(r for r in ada.get(_url(s, "/reviews")).json() if r["id"] == rid)["answers"]["overall"] == 7

    _phase(db, s, "closed")  # after the end nobody writes
    assert ada.put(_url(s, "/response"), json={"body": "late", "version": 1}).status_code == 403
    assert bea.put(_url(s, "/review"), json={"answers": GOOD, "version": 99}).status_code == 403


def test_discussion_signatures_audiences_and_phases(venue_setup, as_user, db):  # noqa: ANN001
    s = venue_setup
    bea, cy, ada, chair = as_user(s["bea"]), as_user(s["cy"]), as_user(s["ada"]), as_user(s["chair"])
    assert bea.post(_url(s, "/comments"), json={"body": "too early"}).status_code == 403  # before submitting
    _submit(bea, s)
    to_reviewers = bea.post(_url(s, "/comments"), json={"body": "Did the smoke run pass for you?",
                                                        "audience": "reviewers"})
    assert to_reviewers.status_code == 201 and to_reviewers.json()["as_role"] == "reviewer"
    chair_post = chair.post(_url(s, "/comments"), json={"body": "Please check the <script>alert(1)</script> "
                                                                "claims", "parent_id": to_reviewers.json()["id"],
                                                        "audience": "reviewers"})
    assert chair_post.status_code == 201
    _phase(db, s, "response")
    assert ada.post(_url(s, "/comments"), json={"body": "Hello", "audience": "reviewers"}).status_code == 422
    authors = ada.post(_url(s, "/comments"), json={"body": "We fixed the README."})
    assert authors.status_code == 201
    seen_by_ada = ada.get(_url(s, "/comments")).json()
    assert [c["body"] for c in seen_by_ada] == ["We fixed the README."]  # reviewer-only thread hidden
    seen_by_bea = bea.get(_url(s, "/comments"))
    thread = seen_by_bea.json()
    assert thread[0]["author"] == "You (Reviewer A)" and thread[0]["replies"][0]["author"] == "Chair"
    assert thread[1]["author"] == "Authors of #1"
    assert not _leaks(seen_by_bea.text, "Ada Author", "Alpha Team", "Chair Person", s["ada"].email)
    chair_thread = chair.get(_url(s, "/comments")).json()
    assert chair_thread[0]["author"] == "Bea Reviewer (Reviewer A)"
    # Cy has not submitted a review: the discussion stays closed to them
    assert cy.get(_url(s, "/comments")).status_code == 403
    # a reply to a comment the poster cannot read is refused
    assert ada.post(_url(s, "/comments"), json={"body": "sneaky", "parent_id": to_reviewers.json()["id"]}
                    ).status_code == 404
    _phase(db, s, "discussion")
    assert ada.post(_url(s, "/comments"), json={"body": "more"}).status_code == 403  # authors: response phase only
    assert bea.post(_url(s, "/comments"), json={"body": "   "}).status_code == 422


def test_markdown_is_sanitized_everywhere_it_is_shown(venue_setup, as_user, browser_login, db):  # noqa: ANN001
    s = venue_setup
    bea = as_user(s["bea"])
    evil = dict(GOOD, summary='<script>alert("x")</script><img src=x onerror=alert(1)> **bold** '
                              '[click](javascript:alert(1)) and a long enough summary of the paper')
    _submit(bea, s, evil)
    html = bea.post("/api/v1/markdown", json={"text": evil["summary"]}).json()["html"]
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;" in html  # shown as text, not run
    assert "<strong>bold</strong>" in html
    _phase(db, s, "response")
    author_web = browser_login(s["ada"])
    assert 'id="reviews-open"' in author_web.get(f"/venues/{s['venue'].slug}/submission").text
    page = author_web.get(f"/venues/{s['venue'].slug}/submissions/1/reviews")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "<strong>bold</strong>" in page.text
    assert "Bea Reviewer" not in page.text and "Reviewer A" in page.text


def test_the_chair_configures_the_form_until_reviews_exist(venue_setup, as_user):  # noqa: ANN001
    s = venue_setup
    chair, bea = as_user(s["chair"]), as_user(s["bea"])
    url = f"/api/v1/venues/{s['venue'].slug}/review-form"
    bad = chair.put(url, json={"fields": [{"id": "Bad Id", "label": "", "type": "slider"},
                                          {"id": "score", "label": "S", "type": "score", "scale": [[1, "one"]]}]})
    assert bad.status_code == 422
    assert len(bad.json()["details"]) >= 4
    assert len(bea.get(url).json()["fields"]) == 15  # unchanged default
    custom = [{"id": "summary", "label": "Summary", "type": "text", "required": True, "min_length": 10},
              {"id": "grade", "label": "Grade", "type": "score", "required": True,
               "scale": [[1, "fail"], [2, "pass"], [3, "merit"]]},
              {"id": "runs", "label": "I ran the code", "type": "checkbox", "visibility": "reviewers"}]
    assert chair.put(url, json={"fields": custom}).status_code == 200
    assert bea.put(url, json={"fields": custom}).status_code == 403
    assert _submit(bea, s, {"summary": "A fine paper overall.", "grade": 3, "runs": True})["status"] == "submitted"
    frozen = chair.put(url, json={"fields": custom[:2]})
    assert frozen.status_code == 409


def test_review_pages_autosave_and_report_a_conflict(venue_setup, browser_login):  # noqa: ANN001
    s = venue_setup
    web = browser_login(s["bea"])
    base = f"/venues/{s['venue'].slug}/submissions/1/review"
    page = web.get(base)
    assert page.status_code == 200
    assert 'hx-trigger="input changed delay:3s, change"' in page.text  # change also fires on leaving an edited field
    assert 'name="a.summary"' in page.text and "Ada Author" not in page.text
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    saved = web.post(base + "/draft", data={"csrf_token": csrf, "version": "0", "a.summary": "typed"},
                     headers={"HX-Request": "true"})
    assert saved.status_code == 200 and 'data-state="saved"' in saved.text and 'value="1"' in saved.text
    stale = web.post(base + "/draft", data={"csrf_token": csrf, "version": "0", "a.summary": "other tab"},
                     headers={"HX-Request": "true"})
    assert stale.status_code == 409 and 'data-state="conflict"' in stale.text
    assert "typed" in web.get(base).text
    listing = web.get(f"/venues/{s['venue'].slug}/reviews")
    assert "Keyword spotting on a microcontroller" in listing.text and "draft" in listing.text


def test_chairs_see_reviewing_progress_with_names_students_do_not(venue_setup, as_user, browser_login):  # noqa: ANN001
    s = venue_setup
    _submit(as_user(s["bea"]), s)
    as_user(s["cy"]).put(_url(s, "/review"), json={"answers": {"summary": "started"}, "version": 0})
    page = browser_login(s["chair"]).get(f"/venues/{s['venue'].slug}/reviews")
    assert page.status_code == 200
    assert 'id="progress-summary">1 of 2 assigned reviews submitted' in page.text
    assert "Bea Reviewer (Reviewer A): submitted, overall 6" in page.text
    assert "Cy Reviewer (Reviewer B): draft" in page.text
    student_page = browser_login(s["bea"]).get(f"/venues/{s['venue'].slug}/reviews")
    assert "review-progress" not in student_page.text and "Cy Reviewer" not in student_page.text


def test_reviewers_see_that_a_pdf_is_not_anonymous_but_not_the_names(venue_setup, as_user, db, settings):  # noqa: ANN001
    from app.services.submissions import upload_revision
    from tests.api.test_submissions import make_pdf

    s = venue_setup
    s["venue"].phase = "submission"
    upload_revision(db, settings, s["ada"], s["venue"], s["sub"], make_pdf(4, author="Ada Author"), "ada-author.pdf")
    s["venue"].phase = "review"
    db.add(s["venue"])
    db.commit()
    base = f"/api/v1/venues/{s['venue'].slug}/submissions/1/revisions"
    mine = as_user(s["ada"]).get(base).json()[0]
    assert "Ada Author" in str(mine["format_report"]["findings"]) and mine["filename"] == "ada-author.pdf"
    seen = as_user(s["bea"]).get(base)
    assert seen.status_code == 200
    rev = seen.json()[0]
    assert "Ada" not in seen.text and rev["filename"].startswith("revision-")
    codes = {f["code"] for f in rev["format_report"]["findings"]}
    assert "metadata" in codes  # the reviewer learns the PDF is not anonymous, without the names
