"""Venue set-up by chairs (issue 17): anyone who chairs a venue creates one and copies one (settings, review
form, marking scheme with its rubric, deadlines moved so each phase keeps its length), without the site admin; a
copy into a slug that exists is refused with a clear error and creates nothing."""

from datetime import UTC, datetime, timedelta

from sqlmodel import func, select

from app.models import AuditEvent, Deadline, MarkingScheme, Member, ReviewForm, Venue
from app.services import moderation, review_forms


def _venues(db) -> int:  # noqa: ANN001
    return db.exec(select(func.count()).select_from(Venue)).one()


def test_a_chair_creates_a_venue_without_the_admin_and_others_cannot(make, as_user, db):
    venue = make.venue()
    cast = make.cast(venue)
    body = {"slug": "mlsys-2027", "title": "MLSys 2027", "timezone": "Europe/London"}
    for who in ("ta", "student", "reviewer", "outsider"):
        r = as_user(cast[who]).post("/api/v1/venues", json=body)
        assert r.status_code == 403 and "chairs of a venue" in r.json()["detail"], who
    r = as_user(cast["chair"]).post("/api/v1/venues", json=body)
    assert r.status_code == 201 and r.json()["my_role"] == "chair" and r.json()["phase"] == "setup"
    new = db.exec(select(Venue).where(Venue.slug == "mlsys-2027")).one()
    assert db.exec(select(Member).where(Member.venue_id == new.id)).one().user_id == cast["chair"].id


def _source(make, db):  # noqa: ANN001, ANN202
    """Last year's venue: deadlines in the past, its own review form and a frozen marking scheme."""
    now = datetime.now(UTC)
    venue = make.venue(phase="closed", submission_due=now - timedelta(days=300))
    venue.group_min, venue.group_max, venue.page_limit, venue.format_mandatory = 1, 3, 8, True
    db.add(venue)
    db.add(Deadline(venue_id=venue.id, kind="review", due_at=now - timedelta(days=279)))
    db.add(Deadline(venue_id=venue.id, kind="response", due_at=now - timedelta(days=272)))
    cast = make.cast(venue)
    fields = review_forms.default_fields()[:3] + [{"id": "gpu_use", "label": "Is the GPU used well?",
                                                    "type": "text", "required": False}]
    review_forms.set_fields(db, cast["chair"], venue, fields)
    config = moderation.default_config()
    moderation.save_scheme(db, cast["chair"], venue, config)
    scheme = db.exec(select(MarkingScheme).where(MarkingScheme.venue_id == venue.id)).one()
    scheme.frozen_at = now - timedelta(days=200)
    db.add(scheme)
    db.commit()
    return venue, cast


def test_a_chair_copies_a_venue_with_its_form_scheme_and_deadlines_moved_by_whole_weeks(make, as_user, db):
    source, cast = _source(make, db)
    r = as_user(cast["chair"]).post(f"/api/v1/venues/{source.slug}/copy",
                                    json={"slug": "next-term", "title": "MLSys (next term)"})
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["phase"] == "setup" and out["my_role"] == "chair" and out["course_code"] == source.course_code
    new = db.exec(select(Venue).where(Venue.slug == "next-term")).one()
    assert (new.timezone, new.group_min, new.group_max, new.page_limit, new.format_mandatory) == \
        (source.timezone, 1, 3, 8, True)
    old = {d.kind: d.due_at for d in db.exec(select(Deadline).where(Deadline.venue_id == source.id)).all()}
    moved = {d.kind: d.due_at for d in db.exec(select(Deadline).where(Deadline.venue_id == new.id)).all()}
    assert set(moved) == set(old)
    shift = moved["submission"] - old["submission"]
    assert shift.days % 7 == 0 and shift.seconds == 0 and shift.days == 301  # 43 weeks: the first in the future
    assert all(moved[k] - old[k] == shift for k in old)  # each phase keeps its length
    assert all(d > datetime.now(UTC) for d in moved.values())
    src_form = db.exec(select(ReviewForm).where(ReviewForm.venue_id == source.id)).one()
    new_form = db.exec(select(ReviewForm).where(ReviewForm.venue_id == new.id)).one()
    assert new_form.fields == src_form.fields and any(f["id"] == "gpu_use" for f in new_form.fields)
    src_scheme = db.exec(select(MarkingScheme).where(MarkingScheme.venue_id == source.id)).one()
    new_scheme = db.exec(select(MarkingScheme).where(MarkingScheme.venue_id == new.id)).one()
    assert new_scheme.config == src_scheme.config and "rubric" in new_scheme.config
    assert new_scheme.frozen_at is None and new_scheme.version == 1
    members = db.exec(select(Member).where(Member.venue_id == new.id)).all()
    assert [(m.user_id, m.role) for m in members] == [(cast["chair"].id, "chair")]  # nobody else is copied
    event = db.exec(select(AuditEvent).where(AuditEvent.venue_id == new.id, AuditEvent.action == "venue.copy")).one()
    assert event.detail["source"] == source.slug and "review form" in event.summary
    # the copy's own deadlines: the review form there is editable (no review submitted in the copy)
    assert as_user(cast["chair"]).get("/api/v1/venues/next-term/review-form").status_code == 200


def test_an_explicit_shift_moves_every_deadline_by_that_many_days(make, as_user, db):
    source, cast = _source(make, db)
    r = as_user(cast["chair"]).post(f"/api/v1/venues/{source.slug}/copy",
                                    json={"slug": "in-400-days", "title": "Later", "shift_days": 400})
    assert r.status_code == 201, r.text
    new = db.exec(select(Venue).where(Venue.slug == "in-400-days")).one()
    old = {d.kind: d.due_at for d in db.exec(select(Deadline).where(Deadline.venue_id == source.id)).all()}
    moved = {d.kind: d.due_at for d in db.exec(select(Deadline).where(Deadline.venue_id == new.id)).all()}
    assert all(moved[k] - old[k] == timedelta(days=400) for k in old)


def test_a_copy_into_an_existing_slug_or_into_the_past_is_refused_and_creates_nothing(make, as_user, db):
    source, cast = _source(make, db)
    taken = make.venue(slug="taken-slug")
    db.commit()
    before, events = _venues(db), db.exec(select(func.count()).select_from(AuditEvent)).one()
    chair = as_user(cast["chair"])
    r = chair.post(f"/api/v1/venues/{source.slug}/copy", json={"slug": "taken-slug", "title": "Again"})
    assert r.status_code == 409 and r.json()["detail"] == "A venue 'taken-slug' exists already."
    r = chair.post(f"/api/v1/venues/{source.slug}/copy", json={"slug": "too-early", "title": "x", "shift_days": 7})
    assert r.status_code == 422 and "would be in the past" in r.json()["detail"]
    assert "response, review, submission deadlines" in r.json()["detail"]
    r = chair.post(f"/api/v1/venues/{source.slug}/copy", json={"slug": "Not A Slug", "title": "x"})
    assert r.status_code == 422 and "short name" in r.json()["detail"]
    r = chair.post(f"/api/v1/venues/{source.slug}/copy", json={"slug": "blank-title", "title": "  "})
    assert r.status_code == 422 and "title" in r.json()["detail"]
    r = chair.post(f"/api/v1/venues/{source.slug}/copy", json={"slug": "far", "title": "x", "shift_days": 99999})
    assert r.status_code == 422 and "at most" in r.json()["detail"]
    assert _venues(db) == before
    assert db.exec(select(func.count()).select_from(AuditEvent)).one() == events
    assert db.exec(select(Venue).where(Venue.slug == "too-early")).first() is None
    db.refresh(taken)
    assert taken.title.startswith("Venue")  # the existing venue is untouched
    # only the source's chairs copy it
    for who in ("ta", "student"):
        assert as_user(cast[who]).post(f"/api/v1/venues/{source.slug}/copy",
                                       json={"slug": f"by-{who}", "title": "x"}).status_code == 403
    other_chair = make.member(make.venue(), "chair")[0]
    db.commit()
    assert as_user(other_chair).post(f"/api/v1/venues/{source.slug}/copy",
                                     json={"slug": "by-stranger", "title": "x"}).status_code == 404


def test_the_settings_page_copies_and_says_why_not(make, browser_login, db):
    source, cast = _source(make, db)
    c = browser_login(cast["chair"])
    page = c.get(f"/venues/{source.slug}/settings").text
    assert 'action="/venues/' + source.slug + '/copy"' in page and 'value="301"' in page
    r = c.post(f"/venues/{source.slug}/copy", data={"slug_new": source.slug, "title": "Dup", "shift_days": "",
                                                    "csrf_token": c.csrf})
    assert f"A venue &#39;{source.slug}&#39; exists already." in r.text or f"A venue '{source.slug}' exists" in r.text
    r = c.post(f"/venues/{source.slug}/copy", data={"slug_new": "page-copy", "title": "Page copy",
                                                    "shift_days": "soon", "csrf_token": c.csrf})
    assert "not a whole number of days" in r.text
    assert db.exec(select(Venue).where(Venue.slug == "page-copy")).first() is None
    r = c.post(f"/venues/{source.slug}/copy", data={"slug_new": "page-copy", "title": "Page copy",
                                                    "shift_days": "", "csrf_token": c.csrf})
    assert "Venue Page copy created from" in r.text
    assert db.exec(select(Venue).where(Venue.slug == "page-copy")).one().phase == "setup"
