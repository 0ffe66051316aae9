"""Safe phase changes (issue 17): each transition's checklist, computed from the venue; a dry run changes nothing;
a confirm whose checklist changed since it was shown is refused with the new list; the release mail tells students
whose marks are withheld that their marks are not released."""

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from app.models import (
    Assignment,
    AuditEvent,
    Deadline,
    MarkRelease,
    ReleasedMark,
    Review,
    Revision,
    SentNotification,
    Submission,
    Venue,
)
from app.services import notifications
from tests.factories import confirm_phase


def _submission(db, venue, group, number: int, *, pdf: bool = True, format_ok: bool = True, by=None):  # noqa: ANN001, ANN202
    sub = Submission(venue_id=venue.id, group_id=group.id, number=number, title=f"Paper {number}")
    db.add(sub)
    db.flush()
    if pdf:
        db.add(Revision(submission_id=sub.id, blob_sha="a" * 64, reviewer_blob_sha="b" * 64, size=10,
                        filename="paper.pdf", uploaded_by=by.id, format_ok=format_ok))
        db.flush()
    return sub


def _dry(client, venue, phase: str):  # noqa: ANN001, ANN202
    r = client.post(f"/api/v1/venues/{venue.slug}/phase", json={"phase": phase})
    assert r.status_code == 200, r.text
    assert r.json()["moved"] is False
    return r.json()["checklist"]


def _items(checklist: dict) -> dict[str, dict]:
    return {i["code"]: i for i in checklist["items"] if i["code"] != "deadline"} | \
        {f"deadline{n}": i for n, i in enumerate(i for i in checklist["items"] if i["code"] == "deadline")}


def _course(make, db, phase: str, **venue_kw):  # noqa: ANN001, ANN202
    venue = make.venue(phase=phase, **venue_kw)
    chair, _ = make.member(venue, "chair", name="Chair One")
    chair2, _ = make.member(venue, "chair", name="Chair Two")
    groups = [make.group(venue, f"Team {n}") for n in "ABC"]
    people = [make.member(venue, "student", group=g, name=f"Student {g.name[-1]}") for g in groups]
    db.commit()
    return venue, chair, chair2, groups, people


def test_leaving_submission_early_lists_the_open_deadline_missing_pdfs_and_format_errors(make, as_user, db):
    venue, chair, _c2, groups, people = _course(make, db, "submission",
                                                submission_due=datetime.now(UTC) + timedelta(days=14))
    by = people[0][0]
    _submission(db, venue, groups[0], 1, by=by)
    _submission(db, venue, groups[1], 2, pdf=False)
    _submission(db, venue, groups[2], 3, format_ok=False, by=by)
    db.commit()
    checklist = _dry(as_user(chair), venue, "assignment")
    assert (checklist["from"], checklist["to"]) == ("submission", "assignment")
    items = _items(checklist)
    assert items["deadline0"]["level"] == "warning" and "has not passed" in items["deadline0"]["message"]
    assert "14 days away" in items["deadline0"]["message"] or "13 days away" in items["deadline0"]["message"]
    assert (items["no-pdf"]["level"], items["no-pdf"]["count"], items["no-pdf"]["names"]) == ("warning", 1, ["#2"])
    assert (items["format-errors"]["count"], items["format-errors"]["names"]) == (1, ["#3"])
    assert items["mails"]["count"] == 0 and checklist["can_confirm"] is True
    # the dry run changed nothing
    db.refresh(venue)
    assert venue.phase == "submission"
    assert db.exec(select(AuditEvent).where(AuditEvent.venue_id == venue.id,
                                            AuditEvent.action == "venue.phase")).all() == []


def test_a_passed_deadline_and_complete_pdfs_are_ok(make, as_user, db):
    venue, chair, _c2, groups, people = _course(make, db, "submission",
                                                submission_due=datetime.now(UTC) - timedelta(hours=1))
    for n, g in enumerate(groups, 1):
        _submission(db, venue, g, n, by=people[0][0])
    db.commit()
    items = _items(_dry(as_user(chair), venue, "assignment"))
    assert items["deadline0"]["level"] == "ok" and "has passed" in items["deadline0"]["message"]
    assert items["no-pdf"]["level"] == "ok" and items["format-errors"]["level"] == "ok"
    r = confirm_phase(as_user(chair), venue.slug, "assignment")
    assert r.status_code == 200 and r.json()["moved"] is True and r.json()["phase"] == "assignment"


def test_opening_review_counts_unassigned_submissions_and_the_assignment_mails(make, as_user, db):
    venue, chair, _c2, groups, people = _course(make, db, "assignment",
                                                submission_due=datetime.now(UTC) + timedelta(days=14))
    db.add(Deadline(venue_id=venue.id, kind="review", due_at=datetime.now(UTC) + timedelta(days=21)))
    s1 = _submission(db, venue, groups[0], 1, by=people[0][0])
    _submission(db, venue, groups[1], 2, pdf=False)
    db.add(Assignment(venue_id=venue.id, submission_id=s1.id, member_id=people[1][1].id))
    db.add(Assignment(venue_id=venue.id, submission_id=s1.id, member_id=people[2][1].id))
    db.commit()
    checklist = _dry(as_user(chair), venue, "review")
    items = _items(checklist)
    # the case: review opened two weeks before the submission deadline, a paper without a PDF
    assert items["deadline0"]["level"] == "warning" and "submission deadline" in items["deadline0"]["message"]
    assert items["no-pdf"]["names"] == ["#2"] and "No PDF was uploaded" in items["no-pdf"]["message"]
    assert (items["unassigned"]["count"], items["unassigned"]["names"]) == (1, ["#2"])
    assert checklist["mails"] == 2 and items["mails"]["count"] == 2
    assert db.exec(select(SentNotification).where(SentNotification.venue_id == venue.id)).all() == []
    r = as_user(chair).post(f"/api/v1/venues/{venue.slug}/phase",
                            json={"phase": "review", "confirm": checklist["fingerprint"]})
    assert r.status_code == 200 and r.json()["moved"] is True
    mailed = db.exec(select(SentNotification).where(SentNotification.venue_id == venue.id)).all()
    assert sorted(m.to_email for m in mailed) == sorted([people[1][0].email, people[2][0].email])


def test_a_reviewer_who_turned_assignment_mail_off_is_not_counted(make, as_user, db):
    venue, chair, _c2, groups, people = _course(make, db, "assignment")
    db.add(Deadline(venue_id=venue.id, kind="review", due_at=datetime.now(UTC) + timedelta(days=21)))
    s1 = _submission(db, venue, groups[0], 1, by=people[0][0])
    db.add(Assignment(venue_id=venue.id, submission_id=s1.id, member_id=people[1][1].id))
    db.add(Assignment(venue_id=venue.id, submission_id=s1.id, member_id=people[2][1].id))
    db.commit()
    assert as_user(people[2][0]).put("/api/v1/me/notifications", json={"on_assignment": False}).status_code == 200
    assert _dry(as_user(chair), venue, "review")["mails"] == 1


def test_leaving_review_lists_draft_and_unstarted_reviews(make, as_user, db):
    venue, chair, _c2, groups, people = _course(make, db, "review")
    db.add(Deadline(venue_id=venue.id, kind="review", due_at=datetime.now(UTC) + timedelta(days=2)))
    s1 = _submission(db, venue, groups[0], 1, by=people[0][0])
    s2 = _submission(db, venue, groups[1], 2, by=people[1][0])
    for sub, m in ((s1, people[1][1]), (s1, people[2][1]), (s2, people[0][1])):
        db.add(Assignment(venue_id=venue.id, submission_id=sub.id, member_id=m.id))
    db.add(Review(venue_id=venue.id, submission_id=s1.id, member_id=people[1][1].id, status="submitted"))
    db.add(Review(venue_id=venue.id, submission_id=s1.id, member_id=people[2][1].id, status="draft"))
    db.commit()
    items = _items(_dry(as_user(chair), venue, "response"))
    drafts = items["draft-reviews"]
    assert drafts["level"] == "warning" and drafts["count"] == 2 and drafts["names"] == ["#1", "#2"]
    assert "1 review is still a draft" in drafts["message"] and "1 assigned review was never started" in drafts["message"]
    assert "can no longer submit" in drafts["message"]
    assert items["deadline0"]["level"] == "warning" and "review deadline" in items["deadline0"]["message"]


def _released_course(make, db):  # noqa: ANN001, ANN202
    venue, chair, chair2, groups, people = _course(make, db, "moderation")
    s1 = _submission(db, venue, groups[0], 1, by=people[0][0])
    s2 = _submission(db, venue, groups[1], 2, by=people[1][0])
    db.add(Assignment(venue_id=venue.id, submission_id=s1.id, member_id=people[1][1].id))
    db.add(Assignment(venue_id=venue.id, submission_id=s2.id, member_id=people[0][1].id))
    db.add(Review(venue_id=venue.id, submission_id=s1.id, member_id=people[1][1].id, status="submitted"))
    db.add(Review(venue_id=venue.id, submission_id=s2.id, member_id=people[0][1].id, status="draft"))
    release = MarkRelease(venue_id=venue.id, submission_id=s1.id, scheme_version=1, released_by=chair.id)
    db.add(release)
    db.flush()
    db.add(ReleasedMark(venue_id=venue.id, member_id=people[0][1].id, submission_id=s1.id, release_id=release.id,
                        components={"group": 70.0}, total=70.0, letter="B"))
    db.commit()
    return venue, chair, chair2, people, s1, s2


def test_released_lists_draft_reviews_and_withheld_marks_and_the_mail_does_not_claim_marks(make, as_user, db, settings):  # noqa: ANN001
    venue, chair, _c2, people, s1, s2 = _released_course(make, db)
    checklist = _dry(as_user(chair), venue, "released")
    items = _items(checklist)
    assert items["draft-reviews"]["count"] == 1 and items["draft-reviews"]["names"] == ["#2"]
    assert "not be shown to the authors" in items["draft-reviews"]["message"]
    assert items["marks-withheld"]["level"] == "warning" and items["marks-withheld"]["count"] == 1
    assert checklist["mails"] == 2
    r = as_user(chair).post(f"/api/v1/venues/{venue.slug}/phase",
                            json={"phase": "released", "confirm": checklist["fingerprint"]})
    assert r.status_code == 200, r.text
    queued = {m.to_email: notifications.render(m.kind, m.context, settings)
              for m in db.exec(select(SentNotification).where(SentNotification.venue_id == venue.id)).all()}
    assert queued[people[0][0].email][0].endswith("Reviews and marks for #1 are released")
    subject, body = queued[people[1][0].email]
    assert subject.endswith("The reviews of #2 are final")
    assert "marks are not released yet" in body.replace("\n", " ") and "marks of your" not in body
    # a later release of the withheld student's marks still mails them (another key)
    db.refresh(venue)
    user = people[1][0]
    assert notifications.marks_released(db, venue, [(user, s2)]) == 1


def test_a_stale_confirm_is_refused_with_the_new_checklist_and_changes_nothing(make, as_user, db):
    venue, chair, chair2, groups, people = _course(make, db, "assignment")
    db.add(Deadline(venue_id=venue.id, kind="review", due_at=datetime.now(UTC) + timedelta(days=21)))
    s1 = _submission(db, venue, groups[0], 1, by=people[0][0])
    s2 = _submission(db, venue, groups[1], 2, by=people[1][0])
    db.add(Assignment(venue_id=venue.id, submission_id=s1.id, member_id=people[1][1].id))
    db.commit()
    shown = _dry(as_user(chair), venue, "review")
    assert _items(shown)["unassigned"]["names"] == ["#2"]
    # meanwhile the other chair assigns #2 (through the API, as they would)
    r = as_user(chair2).post(f"/api/v1/venues/{venue.slug}/assignments",
                             json=[{"op": "add", "submission": 2, "member_id": people[0][1].id}])
    assert r.status_code in (200, 201), r.text
    r = as_user(chair).post(f"/api/v1/venues/{venue.slug}/phase",
                            json={"phase": "review", "confirm": shown["fingerprint"]})
    assert r.status_code == 409 and r.json()["code"] == "stale-checklist"
    assert "changed since it was shown" in r.json()["detail"]
    new = r.json()["details"]
    assert new["fingerprint"] != shown["fingerprint"] and _items(new)["unassigned"]["level"] == "ok"
    assert new["mails"] == 2
    db.expire_all()
    assert db.get(Venue, venue.id).phase == "assignment"
    assert db.exec(select(SentNotification).where(SentNotification.venue_id == venue.id)).all() == []
    # confirming the list as it is now works
    r = as_user(chair).post(f"/api/v1/venues/{venue.slug}/phase", json={"phase": "review", "confirm": new["fingerprint"]})
    assert r.status_code == 200 and r.json()["phase"] == "review"
    # and a confirm after another chair moved the venue already is refused too
    r = as_user(chair2).post(f"/api/v1/venues/{venue.slug}/phase", json={"phase": "review", "confirm": new["fingerprint"]})
    assert r.status_code == 409 and "already in the review phase" in r.json()["detail"]
    assert s2.id


def test_a_blocker_is_listed_on_the_dry_run_and_refuses_the_confirm(make, as_user, db):
    venue, chair, _c2, _groups, _people = _course(make, db, "assignment")
    checklist = _dry(as_user(chair), venue, "review")
    blocker = _items(checklist)["deadline-needed"]
    assert blocker["level"] == "blocker" and "Set the review deadline" in blocker["message"]
    assert checklist["can_confirm"] is False
    r = as_user(chair).post(f"/api/v1/venues/{venue.slug}/phase",
                            json={"phase": "review", "confirm": checklist["fingerprint"]})
    assert r.status_code == 409 and "Set the review deadline" in r.json()["detail"]
    db.refresh(venue)
    assert venue.phase == "assignment"


def test_bad_targets_and_other_roles(make, as_user, db):
    venue, chair, _c2, _groups, people = _course(make, db, "submission")
    r = as_user(chair).post(f"/api/v1/venues/{venue.slug}/phase", json={"phase": "released"})
    assert r.status_code == 409 and "cannot jump" in r.json()["detail"]
    r = as_user(chair).post(f"/api/v1/venues/{venue.slug}/phase", json={"phase": "assignment", "confirm": "nope"})
    assert r.status_code == 409 and r.json()["code"] == "stale-checklist"
    assert as_user(people[0][0]).post(f"/api/v1/venues/{venue.slug}/phase",
                                      json={"phase": "assignment"}).status_code == 403
    db.refresh(venue)
    assert venue.phase == "submission"


def test_the_page_flow_shows_the_checklist_and_refuses_a_stale_confirm(make, browser_login, as_user, db):
    venue, chair, chair2, groups, people = _course(make, db, "submission",
                                                   submission_due=datetime.now(UTC) + timedelta(days=3))
    _submission(db, venue, groups[0], 1, pdf=False)
    db.commit()
    c = browser_login(chair)
    r = c.post(f"/venues/{venue.slug}/phase", data={"phase": "assignment", "csrf_token": c.csrf},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/venues/{venue.slug}/phase?to=assignment"
    page = c.get(r.headers["location"]).text
    assert 'data-code="no-pdf"' in page and "without a PDF (#1)" in page and "has not passed" in page
    fingerprint = page.split('name="confirm" value="')[1].split('"')[0]
    # meanwhile another group's submission comes in without a PDF: the list the chair saw is stale
    _submission(db, venue, groups[1], 2, pdf=False)
    db.commit()
    r = c.post(f"/venues/{venue.slug}/phase", data={"phase": "assignment", "confirm": fingerprint,
                                                    "csrf_token": c.csrf})
    assert "changed since it was shown" in r.text and 'id="checklist"' in r.text
    db.refresh(venue)
    assert venue.phase == "submission"
    fresh = r.text.split('name="confirm" value="')[1].split('"')[0]
    r = c.post(f"/venues/{venue.slug}/phase", data={"phase": "assignment", "confirm": fresh, "csrf_token": c.csrf})
    assert "The venue is now in the assignment phase." in r.text
    db.refresh(venue)
    assert venue.phase == "assignment"
