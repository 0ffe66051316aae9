"""Every review, discussion, response and rating endpoint as every role in every phase.

The expectations are written out here from the issue's rules (not computed from app.security.permissions),
so a change in a can_* function that breaks a rule fails this test.
"""

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.models import Deadline, Review
from app.services.assignments import Change, apply_changes
from app.services.submissions import save_submission
from tests.api.test_reviews import GOOD

PHASES = ["submission", "review", "response", "discussion", "moderation", "released", "closed"]
ROLES = ["anonymous", "outsider", "other_student", "author", "reviewer_done", "reviewer_new", "ta", "chair"]
MEMBERS = {"other_student", "author", "reviewer_done", "reviewer_new", "ta", "chair"}
STAFF = {"ta", "chair"}
READING = {"review", "response", "discussion", "moderation", "released", "closed"}
AUTHORS_READ = {"response", "discussion", "moderation", "released", "closed"}
WRITING = {"review", "response", "discussion"}


def expected(endpoint: str, role: str, phase: str) -> int | None:
    """The status class a role gets: 2 (allowed), 409 (allowed to try, refused by the phase/state), None (denied)."""
    if endpoint == "markdown":
        return 2 if role != "anonymous" else None
    if role not in MEMBERS:
        return None
    if endpoint in ("form", "mine"):
        return 2
    if endpoint in ("reviews", "comments"):
        ok = role in STAFF or (role == "reviewer_done" and phase in READING) or \
            (role == "author" and phase in AUTHORS_READ)
        return 2 if ok else None
    if endpoint == "post_comment":
        ok = (role in STAFF and phase in WRITING | {"moderation"}) or \
            (role == "reviewer_done" and phase in WRITING) or (role == "author" and phase == "response")
        return 2 if ok else None
    if endpoint == "get_review":
        # an assigned reviewer sees the submission (and so their review of it) from the review phase on
        return 2 if role in ("reviewer_done", "reviewer_new") and phase in READING else None
    if endpoint in ("save_review", "submit_review"):
        if role == "reviewer_done":
            return 2 if phase in WRITING else None
        if role == "reviewer_new":
            return 2 if phase == "review" else 409 if phase in WRITING else None
        return None
    if endpoint == "get_response":
        ok = role in STAFF or role == "author" or (role in ("reviewer_done", "reviewer_new") and phase in AUTHORS_READ)
        return 2 if ok else None
    if endpoint == "put_response":
        return 2 if role == "author" and phase == "response" else None
    if endpoint == "rate":
        return 2 if role == "author" and phase in AUTHORS_READ else None
    raise AssertionError(endpoint)


def sees_submission(role: str, phase: str) -> bool:
    """Staff, the authors, and the assigned reviewers from the review phase on (can_view_submission)."""
    return role in STAFF or role == "author" or (role in ("reviewer_done", "reviewer_new") and phase in READING)


def denied_status(endpoint: str, role: str, phase: str) -> int:
    """404 when the viewer may not see the submission (or the review rated), whether or not it exists; 403 when
    they see it but may not do this (one answer for every submission route: app.deps.VisibleSubmission)."""
    if endpoint in ("form", "mine", "markdown"):
        return 403
    if not sees_submission(role, phase):
        return 404
    # reviewer_new has submitted its own review by the time "rate" is called in the review phase (calls run in order)
    reads = expected("reviews", role, phase) is not None or (role == "reviewer_new" and phase == "review")
    if endpoint == "rate" and not reads:
        return 404  # a review the viewer may not read is not there for them
    return 403


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("role", ROLES)
def test_review_endpoints_as_role_in_phase(make, db, app, as_user, role, phase):  # noqa: ANN001
    venue = make.venue(phase="submission")
    people = {}
    chair, _ = make.member(venue, "chair", name="Chair Person")
    people["chair"] = chair
    people["ta"], _ = make.member(venue, "ta", name="Teaching Assistant")
    alpha, beta, gamma = make.group(venue, "Alpha"), make.group(venue, "Beta"), make.group(venue, "Gamma")
    people["author"], author_m = make.member(venue, "student", group=alpha, name="Ada Author")
    people["reviewer_done"], done_m = make.member(venue, "student", group=beta, name="Bea Reviewer")
    people["reviewer_new"], new_m = make.member(venue, "student", group=gamma, name="Cy Reviewer")
    people["other_student"], _ = make.member(venue, "student", group=gamma, name="Dee Student")
    people["outsider"] = make.user("Out Sider")
    sub = save_submission(db, people["author"], venue, author_m, title="Paper", abstract="", keywords=[])
    venue.phase = "review"
    db.add(venue)
    db.add(Deadline(venue_id=venue.id, kind="review", due_at=datetime.now(UTC) + timedelta(days=3)))
    apply_changes(db, chair, venue, [Change("add", sub.id, done_m.id), Change("add", sub.id, new_m.id)],
                  action="assignment.manual")
    db.commit()
    base = f"/api/v1/venues/{venue.slug}/submissions/1"
    done = as_user(people["reviewer_done"])
    assert done.put(base + "/review", json={"answers": GOOD, "version": 0}).status_code == 200
    assert done.post(base + "/review/submit", json={"answers": GOOD, "version": 1}).status_code == 200
    assert done.get(base + "/review").json()["status"] == "submitted"
    venue.phase = phase
    db.add(venue)
    db.commit()

    client = TestClient(app) if role == "anonymous" else as_user(people[role])

    def version() -> int:
        mine = client.get(base + "/review")
        return mine.json()["version"] if mine.status_code == 200 else 0

    rid = db.exec(select(Review.id)).one()
    calls = {
        "reviews": ("GET", base + "/reviews", None),
        "comments": ("GET", base + "/comments", None),
        "post_comment": ("POST", base + "/comments", {"body": "A point about table 2."}),
        "get_review": ("GET", base + "/review", None),
        "save_review": ("PUT", base + "/review", lambda: {"answers": {"summary": "draft text"}, "version": version()}),
        "submit_review": ("POST", base + "/review/submit", lambda: {"answers": GOOD, "version": version()}),
        "get_response": ("GET", base + "/response", None),
        "put_response": ("PUT", base + "/response", {"body": "Thank you for the reviews."}),
        "rate": ("PUT", base + f"/reviews/{rid}/rating", {"score": 4}),
        "form": ("GET", f"/api/v1/venues/{venue.slug}/review-form", None),
        "mine": ("GET", f"/api/v1/venues/{venue.slug}/my-reviews", None),
        "markdown": ("POST", "/api/v1/markdown", {"text": "**hi**"}),
    }
    wrong = []
    for name, (method, url, body) in calls.items():
        r = client.request(method, url, json=body() if callable(body) else body)
        assert r.status_code < 500, (name, r.text)
        want = expected(name, role, phase)
        if role == "anonymous":
            ok = r.status_code == 401
        elif want == 2:
            ok = 200 <= r.status_code < 300
        elif want == 409:
            ok = r.status_code == 409
        else:
            ok = "detail" in r.json() and r.status_code == (404 if role == "outsider" and name != "markdown"
                                                             else denied_status(name, role, phase))
        if not ok:
            wrong.append((name, want, r.status_code, r.text[:120]))
    assert not wrong, wrong


REVIEW_ROUTES = {
    ("GET", "/api/v1/venues/{slug}/submissions/{number}/reviews"),
    ("GET", "/api/v1/venues/{slug}/submissions/{number}/comments"),
    ("POST", "/api/v1/venues/{slug}/submissions/{number}/comments"),
    ("GET", "/api/v1/venues/{slug}/submissions/{number}/review"),
    ("PUT", "/api/v1/venues/{slug}/submissions/{number}/review"),
    ("POST", "/api/v1/venues/{slug}/submissions/{number}/review/submit"),
    ("GET", "/api/v1/venues/{slug}/submissions/{number}/response"),
    ("PUT", "/api/v1/venues/{slug}/submissions/{number}/response"),
    ("PUT", "/api/v1/venues/{slug}/submissions/{number}/reviews/{review_id}/rating"),
    ("GET", "/api/v1/venues/{slug}/review-form"),
    ("PUT", "/api/v1/venues/{slug}/review-form"),  # chair-only: tests/api/test_reviews.py
    ("GET", "/api/v1/venues/{slug}/my-reviews"),
    ("POST", "/api/v1/markdown"),
}


def test_a_submission_one_may_not_see_answers_like_one_that_does_not_exist(make, db, app, as_user):
    """Reviews, runs, claims, badges and the submission itself: the same 404, word for word, for #1 (there, not
    visible to this student) and #99 (not there), on the API and on the pages; an assigned reviewer before the
    review phase is not let in by the reviews routes either (one rule: can_view_submission)."""
    venue = make.venue(phase="submission")
    chair, _ = make.member(venue, "chair")
    alpha, beta = make.group(venue, "Alpha"), make.group(venue, "Beta")
    author, author_m = make.member(venue, "student", group=alpha)
    other, other_m = make.member(venue, "student", group=beta)
    sub = save_submission(db, author, venue, author_m, title="Paper", abstract="", keywords=[])
    apply_changes(db, chair, venue, [Change("add", sub.id, other_m.id)], action="assignment.manual")
    db.commit()
    client = as_user(other)
    api = f"/api/v1/venues/{venue.slug}/submissions"
    page = f"/venues/{venue.slug}/submissions"
    for tail in ("", "/revisions", "/review", "/reviews", "/comments", "/response", "/runs", "/runs/1", "/claims",
                 "/badges", "/artifact/files"):
        there, absent = client.get(f"{api}/1{tail}"), client.get(f"{api}/99{tail}")
        assert there.status_code == absent.status_code == 404, (tail, there.text, absent.text)
        assert there.json()["detail"].replace("#1", "#N") == absent.json()["detail"].replace("#99", "#N"), tail
    for tail in ("", "/artifact", "/runs", "/review", "/reviews"):
        assert client.get(f"{page}/1{tail}", follow_redirects=False).status_code == 404, tail
    for method, tail, body in (("PUT", "/review", {"answers": {}, "version": 0}),
                               ("POST", "/comments", {"body": "hello"}), ("PUT", "/response", {"body": "hi"})):
        assert client.request(method, f"{api}/1{tail}", json=body).status_code == 404, tail
    assert client.post(f"{page}/1/comments", data={"body": "hello"}, follow_redirects=False).status_code == 404
    # From the review phase on, the assigned reviewer sees it; the author's group sees it throughout.
    venue.phase = "review"
    db.add(venue)
    db.commit()
    assert client.get(f"{api}/1/review").status_code == 200
    assert client.get(f"{api}/1/reviews").status_code == 403  # sees the submission, not yet the reviews
    assert as_user(author).get(f"{api}/1/review").status_code == 403  # sees it, is not its reviewer
