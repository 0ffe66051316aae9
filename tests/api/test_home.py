"""Role-aware home pages of a venue (issue 17): a student's leads with their next deadline, group, submission,
reviews to write and reviews of their paper; a chair's with what needs attention, late reviewers with a remind
button (a mail through the outbox); the navigation shows only links the person may open now."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from app.models import Assignment, AuditEvent, Deadline, Extension, Review, SentNotification, Submission
from app.services import submissions as subs
from app.services.notifications.render import render as render_mail
from tests.api.test_submissions import make_pdf

AUTHORS = ("Zelda Quarkmore", "Yuri Nobody")


@pytest.fixture
def course(make, db, settings):  # noqa: ANN001, ANN201
    """A venue in the review phase: Team Alpha (Zelda, Yuri) wrote #1 (PDF fine); Team Beta's #2 has a PDF with
    format errors; Team Gamma's #3 has no PDF. Bea (Team Beta) reviews #1, Cy (Team Gamma) reviews #1 and #2;
    the review deadline passed yesterday, Bea's review is a draft; Gamma asked for an extension."""
    venue = make.venue(phase="submission")
    alpha, beta, gamma = (make.group(venue, n) for n in ("Team Alpha", "Team Beta", "Team Gamma"))
    zelda, zelda_m = make.member(venue, "student", group=alpha, name=AUTHORS[0])
    make.member(venue, "student", group=alpha, name=AUTHORS[1])
    bea, bea_m = make.member(venue, "student", group=beta, name="Bea Reviewer")
    cy, cy_m = make.member(venue, "student", group=gamma, name="Cy Reviewer")
    chair, chair_m = make.member(venue, "chair", name="Chair Person")
    ta, _ = make.member(venue, "ta", name="Teaching Assistant")
    papers = {}
    for user, member, title, pdf in ((zelda, zelda_m, "Int8 keyword spotting", make_pdf(6)),
                                     (bea, bea_m, "Fused attention kernels", make_pdf(6, left=40, width=530)),
                                     (cy, cy_m, "Federated averaging at scale", None)):
        sub = subs.save_submission(db, user, venue, member, title=title, abstract="", keywords=[])
        if pdf:
            subs.upload_revision(db, settings, user, venue, sub, pdf, "paper.pdf")
        papers[sub.number] = sub
    for sub_no, member in ((1, bea_m), (1, cy_m), (2, cy_m)):
        db.add(Assignment(venue_id=venue.id, submission_id=papers[sub_no].id, member_id=member.id))
    db.add(Review(venue_id=venue.id, submission_id=papers[1].id, member_id=bea_m.id, status="draft", answers={}))
    db.add(Deadline(venue_id=venue.id, kind="review", due_at=datetime.now(UTC) - timedelta(days=1)))
    db.add(Deadline(venue_id=venue.id, kind="response", due_at=datetime.now(UTC) + timedelta(days=5)))
    db.add(Extension(venue_id=venue.id, group_id=gamma.id, requested_by=cy.id, reason="ill", kind="submission"))
    venue.phase = "review"
    db.add(venue)
    db.commit()
    return {"venue": venue, "zelda": zelda, "bea": bea, "bea_m": bea_m, "cy": cy, "cy_m": cy_m, "chair": chair,
            "ta": ta, "papers": papers}


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _section(html: str, sid: str) -> str:
    m = re.search(rf'<(section|div|ul|p|li|table)\b[^>]*\bid="{sid}".*?</\1>', html, re.S)
    assert m, f"no #{sid} on the page"
    return m.group(0)


def test_a_reviewer_s_home_lists_the_reviews_to_write_and_never_the_authors(course, browser_login):  # noqa: ANN001
    html = browser_login(course["cy"]).get(f"/venues/{course['venue'].slug}").text
    tasks = _section(html, "review-tasks")
    assert 'data-number="1"' in tasks and 'data-number="2"' in tasks and "Int8 keyword spotting" in tasks
    assert "You have 2 of 2 reviews to write" in _text(html)
    # the review deadline passed: the next one that concerns Cy (an author too) is the response
    assert 'id="next-deadline" class="notice" data-kind="response"' in html
    # Cy's own submission has no PDF: said so; its reviews come in the response phase
    mine = _text(_section(html, "my-submission"))
    assert "Federated averaging at scale" in mine and "not uploaded yet" in mine
    assert "released to you in the response phase" in mine
    # double-blind: nothing names the authors of #1 or #2, nor their groups
    for name in (*AUTHORS, "Team Alpha", "Team Beta", "Bea Reviewer"):
        assert name not in html, name


def test_a_student_s_home_shows_reviews_of_their_paper_once_released(course, browser_login, db):  # noqa: ANN001
    venue = course["venue"]
    c = browser_login(course["zelda"])
    html = c.get(f"/venues/{venue.slug}").text
    assert "review-tasks" not in html  # Zelda reviews nothing
    mine = _text(_section(html, "my-submission"))
    assert "Int8 keyword spotting" in mine and "format check passed" in mine
    assert "released to you in the response phase" in mine
    # Cy submits; in the response phase Zelda's home links the one review she may read
    review = Review(venue_id=venue.id, submission_id=course["papers"][1].id, member_id=course["cy_m"].id,
                    status="submitted", answers={}, published={}, submitted_at=datetime.now(UTC))
    db.add(review)
    venue.phase = "response"
    db.add(venue)
    db.commit()
    html = c.get(f"/venues/{venue.slug}").text
    reviews = _section(html, "reviews-of-mine")
    assert f'href="/venues/{venue.slug}/submissions/1/reviews"' in reviews and "1 review to read" in _text(reviews)
    assert "Cy Reviewer" not in html and "Bea Reviewer" not in html


def test_the_chair_s_home_lists_what_needs_attention(course, browser_login):  # noqa: ANN001
    html = browser_login(course["chair"]).get(f"/venues/{course['venue'].slug}").text
    att = _text(_section(html, "attention"))
    assert "1 PDF with format errors: #2" in att
    assert "1 submission without a PDF: #3" in att
    assert "3 of 3 reviews not submitted" in att
    assert "1 extension request to decide" in att
    late = _section(html, "late-reviewers")
    rows = dict(re.findall(r'<tr data-member="(\d+)"><td>([^<]+)</td>', late))
    assert rows == {str(course["bea_m"].id): "Bea Reviewer", str(course["cy_m"].id): "Cy Reviewer"}
    assert "#1, #2" in _text(late) and "Remind Cy Reviewer" in late


def test_remind_queues_one_mail_through_the_outbox_once_a_day(course, browser_login, as_user, db, settings):  # noqa: ANN001
    venue, cy_m = course["venue"], course["cy_m"]
    c = browser_login(course["chair"])
    r = c.post(f"/venues/{venue.slug}/reviewers/{cy_m.id}/remind", data={"csrf_token": c.csrf},
               follow_redirects=True)
    assert r.status_code == 200 and "Reminder queued for #1, #2." in r.text
    mails = db.exec(select(SentNotification).where(SentNotification.kind == "review_reminder")).all()
    assert [(m.user_id, m.to_email) for m in mails] == [(course["cy"].id, course["cy"].email)]
    subject, body = render_mail("review_reminder", mails[0].context, settings)
    assert subject == f"[{venue.title}] Your reviews are late"
    assert f"/venues/{venue.slug}/submissions/1/review" in body and "#2: Fused attention kernels" in body
    assert not any(name in subject + body for name in (*AUTHORS, "Team Alpha", "Team Beta", "Bea Reviewer"))
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "review.remind")).one()
    # a second click the same day: refused with the reason, nothing more queued
    r = c.post(f"/venues/{venue.slug}/reviewers/{cy_m.id}/remind", data={"csrf_token": c.csrf},
               follow_redirects=True)
    assert "reminded today already" in r.text
    api = as_user(course["ta"]).post(f"/api/v1/venues/{venue.slug}/reviewers/{cy_m.id}/remind")
    assert api.status_code == 409 and "reminded today already" in api.json()["detail"]
    db.expire_all()
    assert len(db.exec(select(SentNotification).where(SentNotification.kind == "review_reminder")).all()) == 1
    # the API reminds Bea (a TA may): one review not submitted
    api = as_user(course["ta"]).post(f"/api/v1/venues/{venue.slug}/reviewers/{course['bea_m'].id}/remind")
    assert api.status_code == 200 and api.json() == {"member_id": course["bea_m"].id, "submissions": [1]}


def test_remind_refuses_students_other_phases_and_reviewers_with_nothing_to_write(course, as_user,  # noqa: ANN001
                                                                                  browser_login, db, make):
    venue = course["venue"]
    url = f"/api/v1/venues/{venue.slug}/reviewers/{course['cy_m'].id}/remind"
    r = as_user(course["bea"]).post(url)
    assert r.status_code == 403 and "chairs and TAs" in r.json()["detail"]
    assert as_user(course["chair"]).post(f"/api/v1/venues/{venue.slug}/reviewers/99999/remind").status_code == 404
    nobody, nobody_m = make.member(venue, "student", name="No Tasks")
    db.commit()
    r = as_user(course["chair"]).post(f"/api/v1/venues/{venue.slug}/reviewers/{nobody_m.id}/remind")
    assert r.status_code == 409 and "no review left to write" in r.json()["detail"]
    venue.phase = "moderation"
    db.add(venue)
    db.commit()
    r = as_user(course["chair"]).post(url)
    assert r.status_code == 403 and "while reviews can be written" in r.json()["detail"]
    # the page says why instead of showing a button that cannot work
    html = browser_login(course["chair"]).get(f"/venues/{venue.slug}").text
    late = _section(html, "late-reviewers")
    assert "<button" not in late and "Reviewers are reminded while reviews can be written" in late
    assert db.exec(select(SentNotification).where(SentNotification.kind == "review_reminder")).all() == []


@pytest.mark.parametrize("phase", ["setup", "submission", "assignment", "review", "response", "moderation",
                                   "released"])
def test_navigation_shows_only_links_that_open(make, browser_login, db, settings, phase):  # noqa: ANN001
    venue = make.venue(phase="submission")
    cast = make.cast(venue)
    sub = subs.save_submission(db, cast["student"], venue, cast["members"]["student"], title="Paper One",
                               abstract="", keywords=[])
    assert isinstance(sub, Submission)
    venue.phase = phase
    db.add(venue)
    db.commit()
    seen = {}
    for role in ("chair", "ta", "student", "loner", "reviewer", "admin"):
        c = browser_login(cast[role])
        html = c.get(f"/venues/{venue.slug}").text
        nav = re.search(r'<nav aria-label="Main">.*?</nav>', html, re.S).group(0)
        links = [h for h in re.findall(r'href="([^"]+)"', nav) if h.startswith("/venues/")]
        seen[role] = links
        assert f'<a href="/venues/{venue.slug}" aria-current="page">' in nav  # the page we are on
        for href in links:
            r = c.get(href, follow_redirects=False)
            assert r.status_code in (200, 303), (role, phase, href, r.status_code)
    # the nav differs by role: staff get the staff pages, students their own submission
    assert f"/venues/{venue.slug}/submissions" in seen["chair"] and f"/venues/{venue.slug}/submissions" not in \
        seen["student"]
    assert f"/venues/{venue.slug}/submission" in seen["student"] and f"/venues/{venue.slug}/submission" not in \
        seen["loner"]
    assert (f"/venues/{venue.slug}/bids" in seen["student"]) == (phase in ("setup", "submission", "assignment"))
    assert f"/venues/{venue.slug}/reviews" not in seen["admin"]  # an admin outside the venue has no reviews


def test_forms_a_phase_closed_say_so(make, browser_login, db):  # noqa: ANN001
    """Group forms and the extension link do not just vanish when the phase moves on: the page says why."""
    venue = make.venue(phase="submission")
    cast = make.cast(venue)
    student, loner = browser_login(cast["student"]), browser_login(cast["loner"])
    assert "Join group" in loner.get(f"/venues/{venue.slug}/groups").text
    assert 'id="groups-closed"' not in loner.get(f"/venues/{venue.slug}/groups").text
    assert "Leave my group" in student.get(f"/venues/{venue.slug}/groups").text
    venue.phase = "review"
    db.add(venue)
    db.commit()
    html = loner.get(f"/venues/{venue.slug}/groups").text
    assert "Join group" not in html
    assert "Groups can be formed only in the setup and submission phases (the venue is in review)." in html
    html = student.get(f"/venues/{venue.slug}/groups").text
    assert "Leave my group" not in html and "You can leave a group only in the setup and submission phases." in html
    home = student.get(f"/venues/{venue.slug}").text
    assert "Ask for an extension" not in home
    assert "before the submission phase ends" in _text(_section(home, "extension-closed"))
