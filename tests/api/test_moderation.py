"""Moderation and marks through the HTTP API: the marking scheme (bad input changes nothing), overrides kept
beside the computed mark, review-quality marks confirmed or overridden, release gating every mark, release
with unmarked reviews, the gradebook export (Moodle parsed back) and its CLI, hidden reviews."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from app.models import AuditEvent, Deadline, MarkOverride, ReleasedMark, ReviewAssessment, SentNotification
from app.services import reviews as review_service
from app.services.assignments import Change, apply_changes
from app.services.submissions import save_submission

BASE = {
    "summary": "The paper quantises a keyword-spotting CNN to int8 and runs it on a Cortex-M4 board.",
    "strengths": "Clear measurements of latency on the real device in Table 2 and Figure 3.",
    "weaknesses": "Only one dataset; no comparison with pruning in Section 4.",
    "soundness": 3, "presentation": 3, "contribution": 2,
    "runs_from_readme": 3, "reproducible": 3, "code_quality": 3, "documentation_quality": 2,
    "code_review": "The smoke run passed; the README misses the flashing step for the board (line 40).",
    "overall": 6, "confidence": 3,
}


def _answers(overall: int, **extra) -> dict:  # noqa: ANN003
    return {**BASE, "overall": overall, **extra}


@pytest.fixture
def course(make, db):  # noqa: ANN001, ANN201
    """A venue in the moderation phase: groups Alpha (#1), Beta (#2), Gamma (#3) of two students each; every
    student reviewed the two other groups' submissions; the TA reviewed #1 too."""
    venue = make.venue(phase="submission")
    chair, _ = make.member(venue, "chair", name="Chair Person")
    ta, ta_m = make.member(venue, "ta", name="Teaching Assistant")
    people, subs = {}, []
    for gname in ("Alpha", "Beta", "Gamma"):
        group = make.group(venue, f"{gname} Team")
        members = []
        for k in (1, 2):
            user, member = make.member(venue, "student", group=group, name=f"{gname} Student{k}")
            user.student_id = f"S{gname[:2].upper()}{k}"
            db.add(user)
            members.append((user, member))
            people[f"{gname.lower()}{k}"] = (user, member)
        sub = save_submission(db, members[0][0], venue, members[0][1], title=f"{gname} project on tinyML",
                              abstract="int8 CNN on Cortex-M4", keywords=["tinyml"])
        subs.append((sub, group, members))
    venue.phase = "review"
    db.add(venue)
    db.add(Deadline(venue_id=venue.id, kind="review", due_at=datetime.now(UTC) + timedelta(days=3)))
    changes = [Change("add", sub.id, member.id) for sub, group, _m in subs
               for other_sub, other_group, members in subs if other_group.id != group.id for _u, member in members]
    changes.append(Change("add", subs[0][0].id, ta_m.id))
    apply_changes(db, chair, venue, changes, action="assignment.manual")
    db.flush()
    # Alpha's submission is scored high, Gamma's low; the TA's own review of #1 is an 8.
    base_scores = {subs[0][0].id: 8, subs[1][0].id: 6, subs[2][0].id: 4}
    reviews = {}
    for i, (sub, _group, _members) in enumerate(subs):
        for key, (user, member) in people.items():
            if member.group_id == sub.group_id:
                continue
            score = max(1, min(10, base_scores[sub.id] + (1 if key.endswith("1") else -1)))
            reviews[(key, i + 1)] = review_service.submit_review(db, user, venue, member, sub, _answers(score), 0)
    reviews[("ta", 1)] = review_service.submit_review(db, ta, venue, ta_m, subs[0][0], _answers(8), 0)
    venue.phase = "moderation"
    db.add(venue)
    db.commit()
    return {"venue": venue, "chair": chair, "ta": ta, "people": people, "subs": [s for s, _g, _m in subs],
            "reviews": reviews, "slug": venue.slug}


def _api(c, path="") -> str:  # noqa: ANN001
    return f"/api/v1/venues/{c['slug']}{path}"


def test_queue_and_submission_view_for_staff_only(course, as_user):  # noqa: ANN001
    c = course
    chair = as_user(c["chair"])
    queue = chair.get(_api(c, "/moderation"))
    assert queue.status_code == 200, queue.text
    rows = {r["number"]: r for r in queue.json()}
    assert set(rows) == {1, 2, 3}
    # #1 has 4 peer reviews (7,7,9,9: Beta and Gamma students) and the TA's 8 as the lecturer's review
    assert sorted(rows[1]["scores"]) == [7, 7, 9, 9] and rows[1]["lecturer"] == 8
    assert rows[1]["calibrated"] is not None and rows[1]["sd"] > 0
    assert rows[1]["calibrated"] > rows[2]["calibrated"] > rows[3]["calibrated"]
    view = chair.get(_api(c, "/submissions/1/moderation")).json()
    assert len(view["reviews"]) == 4 and all("bias" in r for r in view["reviews"])
    assert [r["reviewer"] for r in view["lecturer_reviews"]] == ["Teaching Assistant"]
    assert "badges" in view["evidence"] and "runs" in view["evidence"]
    student = as_user(c["people"]["alpha1"][0])
    for path in ("/moderation", "/submissions/1/moderation", "/review-marks", "/marking-scheme", "/marks/export"):
        assert student.get(_api(c, path)).status_code == 403, path


def _audits(db, action: str) -> int:  # noqa: ANN001
    return len(db.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def _mark_all_reviews(client, c) -> list[dict]:  # noqa: ANN001
    rows = client.get(_api(c, "/review-marks")).json()
    for row in rows:
        r = client.put(_api(c, f"/reviews/{row['review']['id']}/assessment"), json={"accept_suggestion": True})
        assert r.status_code == 200, r.text
    return rows


@pytest.mark.parametrize(("config", "message"), [
    ({"components": [{"key": "group", "name": "Group", "weight": 60, "kind": "group"},
                     {"key": "individual", "name": "Individual", "weight": 30, "kind": "individual"}]},
     "must sum to 100 %, not 90 %"),
    ({"rubric": {"criteria": [{"key": "specific", "name": "Specific", "levels": []}]}}, "'Specific' has no levels"),
    ({"scale": {"low": 100, "high": 0}}, "must be below its high end"),
    ({"scale": {"decimals": 9}}, "rounding to 9 decimals"),
    ({"rounding": 1}, "unknown key(s) rounding"),
    ({"flags": {"min_reviews": -1}}, "at least 0"),
])
def test_a_bad_scheme_is_refused_with_its_reason_and_changes_nothing(course, as_user, db, config, message):  # noqa: ANN001
    c = course
    chair = as_user(c["chair"])
    before = chair.get(_api(c, "/marking-scheme")).json()
    r = chair.put(_api(c, "/marking-scheme"), json={"config": config})
    assert r.status_code == 422 and message in r.json()["detail"], r.text
    assert chair.get(_api(c, "/marking-scheme")).json() == before
    assert _audits(db, "scheme.set") == 0
    good = chair.put(_api(c, "/marking-scheme"), json={"config": {"scale": {"decimals": 2}}})
    assert good.status_code == 200 and good.json()["version"] == 1
    assert good.json()["config"]["scale"]["decimals"] == 2
    assert _audits(db, "scheme.set") == 1
    assert as_user(c["ta"]).put(_api(c, "/marking-scheme"), json={"config": {}}).status_code == 403


def test_an_override_is_audited_and_keeps_the_computed_mark(course, as_user, db):  # noqa: ANN001
    c = course
    chair = as_user(c["chair"])
    computed = {r["number"]: r for r in chair.get(_api(c, "/moderation")).json()}[2]["computed"]
    assert computed is not None
    no_reason = chair.put(_api(c, "/submissions/2/mark"), json={"value": 75, "reason": ""})
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["detail"]
    outside = chair.put(_api(c, "/submissions/2/mark"), json={"value": 120, "reason": "typo check"})
    assert outside.status_code == 422 and "outside the scale" in outside.json()["detail"]
    assert db.exec(select(MarkOverride)).all() == []
    r = chair.put(_api(c, "/submissions/2/mark"), json={"value": 75, "reason": "The code ran on the rig after all"})
    assert r.status_code == 200 and r.json() == {"component": "group", "value": 75.0, "computed": computed,
                                                 "reason": "The code ran on the rig after all"}
    row = {r["number"]: r for r in chair.get(_api(c, "/moderation")).json()}[2]
    assert row["mark"] == 75 and row["computed"] == computed and row["override"]["computed"] == computed
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "mark.override")).one()
    assert event.detail["computed"] == computed and event.detail["value"] == 75
    assert "The code ran on the rig after all" in event.summary
    # the student's computed group mark follows the override, the computed one is kept beside it
    marks = chair.get(_api(c, "/marks")).json()["students"]
    beta = [s for s in marks if s["submission"] == 2]
    assert beta and all(s["components"]["group"] == 75 and s["computed"]["group"] == computed for s in beta)
    # withdrawing the override brings the computed mark back
    chair.put(_api(c, "/submissions/2/mark"), json={"value": None, "reason": "withdrawn after discussion"})
    assert {r["number"]: r for r in chair.get(_api(c, "/moderation")).json()}[2]["mark"] == computed


def test_confirm_and_override_a_review_mark(course, as_user, db):  # noqa: ANN001
    c = course
    ta = as_user(c["ta"])
    rows = ta.get(_api(c, "/review-marks")).json()
    assert len(rows) == 12 and all(r["assessment"] is None and r["suggestion"]["reasons"] for r in rows)
    first, second = rows[0], rows[1]
    ok = ta.put(_api(c, f"/reviews/{first['review']['id']}/assessment"), json={"accept_suggestion": True})
    assert ok.status_code == 200, ok.text
    assert ok.json()["mark"] == first["suggestion"]["mark"] and ok.json()["overridden"] is False
    assert ok.json()["suggestion_shown"]["mark"] == first["suggestion"]["mark"]
    own = 100.0 if second["suggestion"]["mark"] != 100 else 90.0
    over = ta.put(_api(c, f"/reviews/{second['review']['id']}/assessment"),
                  json={"mark": own, "feedback": "Precise and kind."})
    assert over.status_code == 200 and over.json()["mark"] == own and over.json()["overridden"] is True
    assert _audits(db, "review_mark.confirm") == 1 and _audits(db, "review_mark.override") == 1
    bad = ta.put(_api(c, f"/reviews/{rows[2]['review']['id']}/assessment"), json={"levels": {"specific": 7}})
    assert bad.status_code == 422 and "not one of its levels" in bad.json()["detail"]
    assert len(db.exec(select(ReviewAssessment)).all()) == 2
    # a reviewer never sees review marks or suggestions
    assert as_user(c["people"]["beta1"][0]).get(_api(c, "/review-marks")).status_code == 403


def test_release_gates_marks_and_lists_unmarked_reviews(course, as_user, browser_login, db):  # noqa: ANN001
    c = course
    chair = as_user(c["chair"])
    alpha1, _ = c["people"]["alpha1"]
    student = as_user(alpha1)
    assert student.get(_api(c, "/marks")).status_code == 403
    page = browser_login(alpha1).get(f"/venues/{c['slug']}/marks")
    assert page.status_code == 403 and "not released yet" in page.text

    refused = chair.post(_api(c, "/marks/release"), json={})
    assert refused.status_code == 409, refused.text
    listed = refused.json()["details"]
    assert len(listed) == 6 and all(any("not marked" in m for m in r["missing"]) for r in listed)
    assert db.exec(select(ReleasedMark)).all() == []

    # mark the reviews Alpha's students wrote (of #2 and #3): they are complete, the others are not
    rows = chair.get(_api(c, "/review-marks")).json()
    alpha_ids = {c["people"]["alpha1"][1].id, c["people"]["alpha2"][1].id}
    for row in rows:
        if row["review"]["member_id"] in alpha_ids:
            chair.put(_api(c, f"/reviews/{row['review']['id']}/assessment"),
                      json={"accept_suggestion": True}).raise_for_status()
    partial = chair.post(_api(c, "/marks/release"), json={"allow_incomplete": True})
    assert partial.status_code == 200, partial.text
    assert partial.json()["released"] == 2 and len(partial.json()["skipped"]) == 4
    mine = student.get(_api(c, "/marks"))
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert set(body) == {"components", "mine"} and body["mine"]["total"] is not None
    assert body["mine"]["components"]["group"] is not None and body["mine"]["components"]["individual"] is not None
    text = mine.text
    assert "Beta Student" not in text and "Gamma Student" not in text and "bias" not in text  # no one else's
    assert as_user(c["people"]["beta1"][0]).get(_api(c, "/marks")).status_code == 403  # not released for Beta
    page = browser_login(alpha1).get(f"/venues/{c['slug']}/marks")
    assert page.status_code == 200 and "Your marks" in page.text and str(body["mine"]["total"]) in page.text
    mails = db.exec(select(SentNotification).where(SentNotification.kind == "released")).all()
    assert sorted(m.user_id for m in mails) == sorted([alpha1.id, c["people"]["alpha2"][0].id])
    # releasing again mails nobody twice; the scheme is frozen, editing it is refused until an audited unfreeze
    _mark_all_reviews(chair, c)
    again = chair.post(_api(c, "/marks/release"), json={})
    assert again.status_code == 200 and again.json()["released"] == 6 and again.json()["skipped"] == []
    assert len(db.exec(select(SentNotification).where(SentNotification.kind == "released")).all()) == 6
    frozen = chair.put(_api(c, "/marking-scheme"), json={"config": {"scale": {"decimals": 0}}})
    assert frozen.status_code == 409 and "frozen" in frozen.json()["detail"]
    assert chair.post(_api(c, "/marking-scheme/unfreeze"), json={"reason": ""}).status_code == 422
    assert chair.post(_api(c, "/marking-scheme/unfreeze"), json={"reason": "a weight was wrong"}).status_code == 200
    assert _audits(db, "scheme.unfreeze") == 1
    assert chair.put(_api(c, "/marking-scheme"), json={"config": {"scale": {"decimals": 0}}}).status_code == 200
    # a student never gets the lecturers' view, whatever the phase
    assert "students" not in student.get(_api(c, "/marks")).json()


def test_release_per_submission_and_only_in_moderation(course, as_user, db):  # noqa: ANN001
    c = course
    chair = as_user(c["chair"])
    _mark_all_reviews(chair, c)
    assert as_user(c["ta"]).post(_api(c, "/marks/release"), json={}).status_code == 403
    one = chair.post(_api(c, "/marks/release"), json={"submission": 3})
    assert one.status_code == 200 and one.json()["released"] == 2
    released = {r.member_id for r in db.exec(select(ReleasedMark)).all()}
    assert released == {c["people"]["gamma1"][1].id, c["people"]["gamma2"][1].id}
    c["venue"].phase = "discussion"
    db.add(c["venue"])
    db.commit()
    r = chair.post(_api(c, "/marks/release"), json={})
    assert r.status_code == 403 and "moderation phase" in r.json()["detail"]


def _release_all(chair, c) -> None:  # noqa: ANN001
    _mark_all_reviews(chair, c)
    chair.post(_api(c, "/marks/release"), json={}).raise_for_status()


def test_moodle_export_parses_back_with_one_row_per_student(course, as_user):  # noqa: ANN001
    c = course
    chair = as_user(c["chair"])
    before = chair.get(_api(c, "/marks/export"), params={"format": "moodle"})
    assert before.status_code == 409 and "none have been released" in before.json()["detail"]
    draft = chair.get(_api(c, "/marks/export"), params={"format": "moodle", "draft": "true"})
    assert draft.status_code == 200 and "DRAFT" in draft.headers["content-disposition"]
    assert as_user(c["ta"]).get(_api(c, "/marks/export"), params={"draft": "true"}).status_code == 403
    _release_all(chair, c)
    r = chair.get(_api(c, "/marks/export"), params={"format": "moodle"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "DRAFT" not in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8"))))
    assert {"ID number", "Email address", "Total", "Total (Feedback)", "Group work (Feedback)"} <= set(rows[0])
    assert len(rows) == 6
    marks = {s["email"]: s for s in chair.get(_api(c, "/marks")).json()["students"]}
    for row in rows:
        s = marks[row["Email address"]]
        assert row["ID number"] == s["id_number"] and float(row["Total"]) == s["total"]
        assert float(row["Group work"]) == s["components"]["group"]
    learn = chair.get(_api(c, "/marks/export"), params={"format": "learn"})
    learn_rows = list(csv.DictReader(io.StringIO(learn.text)))
    assert list(learn_rows[0]) == ["Username", "Group work", "Individual work", "Total"]
    assert {r["Username"] for r in learn_rows} == {e.split("@")[0] for e in marks}
    data = chair.get(_api(c, "/marks/export"), params={"format": "json"}).json()
    assert len(data["members"]) == 6 and {m["email"] for m in data["members"]} == set(marks)


def test_export_without_an_id_number_lists_the_members_and_writes_nothing(course, as_user, db):  # noqa: ANN001
    c = course
    chair = as_user(c["chair"])
    _release_all(chair, c)
    gamma2 = c["people"]["gamma2"][0]
    gamma2.student_id = None
    db.add(gamma2)
    db.commit()
    r = chair.get(_api(c, "/marks/export"), params={"format": "moodle"})
    assert r.status_code == 409 and "Gamma Student2" in r.json()["detail"] and "ID number" in r.json()["detail"]
    assert chair.get(_api(c, "/marks/export"), params={"format": "csv"}).status_code == 200  # csv needs none


@pytest.fixture
def cli(db, monkeypatch):  # noqa: ANN001, ANN201
    """`reproreview …` in-process, on the test's session, returning (exit code, stdout, stderr)."""
    from contextlib import contextmanager

    import app.cli

    @contextmanager
    def on_test_session():  # noqa: ANN202
        yield db

    monkeypatch.setattr(app.cli, "_export_session", on_test_session)

    def run(capsys, *argv: str) -> tuple[int, str, str]:  # noqa: ANN001
        code = app.cli.main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_cli_export_marks(course, as_user, db, cli, capsys, tmp_path):  # noqa: ANN001
    c = course
    code, out, err = cli(capsys, "export-marks", "--venue", c["slug"], "--format", "moodle")
    assert code == 2 and out == "" and "none have been released" in err
    target = tmp_path / "marks.csv"
    code, _out, err = cli(capsys, "export-marks", "--venue", c["slug"], "--format", "csv", "--out", str(target))
    assert code == 2 and not target.exists()
    code, _out, err = cli(capsys, "export-marks", "--venue", "no-such-venue", "--format", "csv")
    assert code == 2 and "no-such-venue" in err
    chair = as_user(c["chair"])
    _release_all(chair, c)
    code, out, _err = cli(capsys, "export-marks", "--venue", c["slug"], "--format", "moodle")
    assert code == 0 and len(list(csv.DictReader(io.StringIO(out)))) == 6
    code, _out, _err = cli(capsys, "export-marks", "--venue", c["slug"], "--format", "json", "--out", str(target))
    assert code == 0 and '"marks"' in target.read_text()
    code, _out, _err = cli(capsys, "export-marks", "--venue", c["slug"], "--format", "csv", "--draft",
                           "--out", str(tmp_path / "d.csv"))
    assert code == 0 and (tmp_path / "d-DRAFT.csv").exists() and not (tmp_path / "d.csv").exists()
    alpha1 = c["people"]["alpha1"][0]
    alpha1.student_id = ""
    db.add(alpha1)
    db.commit()
    code, out, err = cli(capsys, "export-marks", "--venue", c["slug"], "--format", "moodle", "--out", str(target))
    assert code == 2 and "Alpha Student1" in err and '"marks"' in target.read_text()  # the old file untouched


def test_a_hidden_review_is_not_shown_to_its_authors(course, as_user, db):  # noqa: ANN001
    c = course
    chair = as_user(c["chair"])
    review = c["reviews"][("beta1", 1)]
    bad = chair.put(_api(c, f"/reviews/{review.id}/moderation"), json={"hidden": True, "reason": ""})
    assert bad.status_code == 422
    r = chair.put(_api(c, f"/reviews/{review.id}/moderation"),
                  json={"hidden": True, "abusive": True, "reason": "insulting the authors"})
    assert r.status_code == 200 and r.json()["hidden"] is True
    assert _audits(db, "review.moderate") == 1
    flags = {row["number"]: row for row in chair.get(_api(c, "/moderation")).json()}[1]["flags"]
    assert any(f["code"] == "abusive" for f in flags)
    staff_ids = {v["id"] for v in chair.get(_api(c, "/submissions/1/reviews")).json()}
    assert review.id in staff_ids  # kept for chairs
    author_ids = {v["id"] for v in as_user(c["people"]["alpha1"][0]).get(_api(c, "/submissions/1/reviews")).json()}
    assert review.id not in author_ids and len(author_ids) == 4


def test_pages_for_lecturers_and_forms_without_javascript(course, browser_login, db):  # noqa: ANN001
    import html

    c = course
    chair = browser_login(c["chair"])
    slug = c["slug"]
    review_id = c["reviews"][("beta1", 1)].id
    for path in ("moderation", "submissions/1/moderation", "review-marks", f"review-marks/{review_id}",
                 "marking-scheme", "marks"):
        page = chair.get(f"/venues/{slug}/{path}")
        assert page.status_code == 200, (path, page.text[:300])
    queue = chair.get(f"/venues/{slug}/moderation").text
    assert "<svg" in queue and 'id="moderation-queue"' in queue
    one = chair.get(f"/venues/{slug}/review-marks/{review_id}").text
    assert "Suggested:" in one and 'id="current-mark"' not in one  # a suggestion, never the mark, until confirmed
    r = chair.post(f"/venues/{slug}/review-marks/{review_id}", data={"csrf_token": chair.csrf, "action": "confirm"})
    assert r.status_code == 200 and "saved" in html.unescape(r.text)
    assert 'id="current-mark"' in chair.get(f"/venues/{slug}/review-marks/{review_id}").text
    r = chair.post(f"/venues/{slug}/submissions/1/mark",
                   data={"csrf_token": chair.csrf, "value": "88", "reason": ""})
    assert "reason" in html.unescape(r.text) and db.exec(select(MarkOverride)).all() == []
    r = chair.post(f"/venues/{slug}/submissions/1/mark",
                   data={"csrf_token": chair.csrf, "value": "88", "reason": "Lecturer moderation meeting"})
    assert "computed mark is kept" in html.unescape(r.text) and "Lecturer moderation meeting" in r.text
    r = chair.post(f"/venues/{slug}/marking-scheme", data={"csrf_token": chair.csrf, "config": "{not json"})
    assert "not valid JSON" in html.unescape(r.text)
    r = chair.post(f"/venues/{slug}/marks/release", data={"csrf_token": chair.csrf})
    assert "not complete" in html.unescape(r.text) and db.exec(select(ReleasedMark)).all() == []
    student = browser_login(c["people"]["beta1"][0])
    for path in ("moderation", "submissions/1/moderation", "review-marks", "marking-scheme",
                 "marks/download?format=csv"):
        assert student.get(f"/venues/{slug}/{path}").status_code == 403, path


def test_the_demo_has_a_finished_venue_made_through_the_services(db, tmp_path):  # noqa: ANN001
    from app.demo import seed_demo, seed_finished
    from app.models import MarkRelease
    from app.services import moderation

    seed_demo(db)
    venue = seed_finished(db, export_dir=tmp_path)
    assert venue.phase == "released" and seed_finished(db) is venue  # idempotent
    marks = moderation.compute_marks(db, venue)
    assert all(s.calibrated is not None for s in marks.submissions.values())
    assert not marks.unmarked and all(s.total is not None for s in marks.students)
    snaps = db.exec(select(ReleasedMark).where(ReleasedMark.venue_id == venue.id)).all()
    assert len(snaps) == len(marks.students) == 15
    assert db.exec(select(MarkRelease).where(MarkRelease.venue_id == venue.id)).one()
    override = db.exec(select(MarkOverride).where(MarkOverride.venue_id == venue.id)).one()
    assert override.value == 72 and "GPU quota" in override.reason and override.computed is not None
    assert db.exec(select(ReviewAssessment).where(ReviewAssessment.venue_id == venue.id,
                                                  ReviewAssessment.overridden == True)).all()  # noqa: E712
    exported = list(tmp_path.glob("mlsys-2024-marks-moodle.csv"))
    assert exported and len(list(csv.DictReader(io.StringIO(exported[0].read_text())))) == 15


def test_queue_sorts_by_need_and_says_why(course, as_user):  # noqa: ANN001
    c = course
    chair = as_user(c["chair"])
    assert all(not r["flags"] for r in chair.get(_api(c, "/moderation")).json())  # a clean venue: no flags
    chair.put(_api(c, "/marking-scheme"), json={"config": {"flags": {"min_reviews": 5, "disagreement": 0.3,
                                                                       "outlier": 0.3}}}).raise_for_status()
    few = chair.get(_api(c, "/moderation")).json()
    assert all([f["code"] for f in r["flags"]] == ["few-reviews"] for r in few)
    assert "4 of 5 required reviews submitted" in few[0]["flags"][0]["reason"]
    chair.put(_api(c, "/reviews/{}/moderation".format(c["reviews"][("alpha1", 3)].id)),
              json={"hidden": False, "abusive": True, "reason": "rude to the authors"}).raise_for_status()
    queue = chair.get(_api(c, "/moderation")).json()
    assert queue[0]["number"] == 3 and {f["code"] for f in queue[0]["flags"]} == {"few-reviews", "abusive"}
    assert "was marked abusive" in next(f["reason"] for f in queue[0]["flags"] if f["code"] == "abusive")
    assert [r["number"] for r in queue[1:]] == [1, 2]


# Every moderation API route, checked per role below; tests/api/test_permissions_matrix.py counts them as covered
# once it adds `elsewhere |= MODERATION_ROUTES` (as it does with REVIEW_ROUTES).
MODERATION_ROUTES = {
    ("GET", "/api/v1/venues/{slug}/moderation"),
    ("GET", "/api/v1/venues/{slug}/submissions/{number}/moderation"),
    ("PUT", "/api/v1/venues/{slug}/submissions/{number}/mark"),
    ("PUT", "/api/v1/venues/{slug}/members/{member_id}/mark"),
    ("GET", "/api/v1/venues/{slug}/review-marks"),
    ("PUT", "/api/v1/venues/{slug}/reviews/{review_id}/assessment"),
    ("PUT", "/api/v1/venues/{slug}/reviews/{review_id}/moderation"),
    ("PUT", "/api/v1/venues/{slug}/members/{member_id}/calibration"),
    ("GET", "/api/v1/venues/{slug}/marking-scheme"),
    ("PUT", "/api/v1/venues/{slug}/marking-scheme"),
    ("POST", "/api/v1/venues/{slug}/marking-scheme/unfreeze"),
    ("GET", "/api/v1/venues/{slug}/calibration-items"),
    ("PUT", "/api/v1/venues/{slug}/submissions/{number}/calibration-item"),
    ("DELETE", "/api/v1/venues/{slug}/submissions/{number}/calibration-item"),
    ("POST", "/api/v1/venues/{slug}/marks/release"),
    ("GET", "/api/v1/venues/{slug}/marks"),
    ("GET", "/api/v1/venues/{slug}/marks/export"),
    ("POST", "/api/v1/venues/{slug}/submissions/{number}/extra-review"),
}
EXTRA_REVIEW = ("POST", "/api/v1/venues/{slug}/submissions/{number}/extra-review")


def test_every_moderation_route_per_role(course, as_user, make, db):  # noqa: ANN001
    """Students, reviewers and outsiders are refused every moderation route (403, or 404 outside the venue);
    TAs moderate and mark but do not release, edit the scheme or hide reviews; chairs do all of it."""
    c = course
    ext, _ = make.member(c["venue"], "reviewer", name="External Reviewer")
    outsider = make.user("Out Sider")
    db.commit()
    member_id = c["people"]["beta1"][1].id
    review_id = c["reviews"][("beta1", 1)].id
    calls = {
        ("GET", "/api/v1/venues/{slug}/moderation"): None,
        ("GET", "/api/v1/venues/{slug}/submissions/{number}/moderation"): None,
        ("PUT", "/api/v1/venues/{slug}/submissions/{number}/mark"): {"value": 70, "reason": "moderated"},
        ("PUT", "/api/v1/venues/{slug}/members/{member_id}/mark"): {"component": "individual", "value": 60,
                                                                     "reason": "moderated"},
        ("GET", "/api/v1/venues/{slug}/review-marks"): None,
        ("PUT", "/api/v1/venues/{slug}/reviews/{review_id}/assessment"): {"mark": 50},
        ("PUT", "/api/v1/venues/{slug}/reviews/{review_id}/moderation"): {"hidden": False},
        ("PUT", "/api/v1/venues/{slug}/members/{member_id}/calibration"): {"excluded": True, "reason": "colluded"},
        ("GET", "/api/v1/venues/{slug}/marking-scheme"): None,
        ("PUT", "/api/v1/venues/{slug}/marking-scheme"): {"config": {"scale": {"decimals": 1}}},
        ("POST", "/api/v1/venues/{slug}/marking-scheme/unfreeze"): {"reason": "fix a weight"},
        ("GET", "/api/v1/venues/{slug}/calibration-items"): None,
        ("PUT", "/api/v1/venues/{slug}/submissions/{number}/calibration-item"): {"reference": 6},
        ("DELETE", "/api/v1/venues/{slug}/submissions/{number}/calibration-item"): None,
        ("POST", "/api/v1/venues/{slug}/marks/release"): {"allow_incomplete": True},
        ("GET", "/api/v1/venues/{slug}/marks"): None,
        ("GET", "/api/v1/venues/{slug}/marks/export"): None,
        EXTRA_REVIEW: {"member_id": _member_of(db, c["venue"], c["ta"]).id},
    }
    assert set(calls) == MODERATION_ROUTES
    from app.routers import moderation as moderation_routes

    declared = {(m, r.path) for r in moderation_routes.api.routes for m in r.methods}
    assert declared == MODERATION_ROUTES
    chair_only = {p for p in calls if p[1].endswith(("/moderation", "/calibration", "/unfreeze", "/release",
                                                     "/calibration-item")) and p[0] != "GET"} | {
        ("PUT", "/api/v1/venues/{slug}/marking-scheme"), EXTRA_REVIEW}
    people = {"student": c["people"]["alpha1"][0], "reviewer": ext, "outsider": outsider, "ta": c["ta"],
              "chair": c["chair"]}
    for role, person in people.items():
        client = as_user(person)
        for (method, path), body in calls.items():
            url = (path.replace("{slug}", c["slug"]).replace("{number}", "2").replace("{member_id}", str(member_id))
                   .replace("{review_id}", str(review_id)))
            r = client.request(method, url, json=body)
            where = f"{role} {method} {path}: {r.status_code} {r.text[:200]}"
            if role == "outsider":
                assert r.status_code == 404, where
            elif role in ("student", "reviewer"):
                assert r.status_code == 403, where
            elif role == "ta" and (method, path) in chair_only:
                assert r.status_code == 403, where
            elif (method, path) == EXTRA_REVIEW:  # a new review is written in the review phase only
                assert r.status_code == 403 and "review phase only" in r.json()["detail"], where
            else:
                assert r.status_code < 500 and r.status_code not in (401, 403, 404) or \
                    (r.status_code == 409 and path.endswith(("/unfreeze", "/export"))), where


def test_calibration_items_and_excluded_reviewers_change_the_calibration(course, as_user, db):  # noqa: ANN001
    c = course
    chair = as_user(c["chair"])
    before = {r["number"]: r for r in chair.get(_api(c, "/moderation")).json()}
    bad = chair.put(_api(c, "/submissions/3/calibration-item"), json={"reference": 11})
    assert bad.status_code == 422 and "outside the scale" in bad.json()["detail"]
    assert chair.get(_api(c, "/calibration-items")).json() == []
    ok = chair.put(_api(c, "/submissions/3/calibration-item"), json={"reference": 2, "note": "TA-marked"})
    assert ok.status_code == 200
    after = {r["number"]: r for r in chair.get(_api(c, "/moderation")).json()}
    assert after[3]["calibrated"] == 2 and after[3]["is_calibration"] and after[3]["sd"] == 0
    # the reviewers of #3 now look lenient, so their other scores are read lower
    assert after[1]["calibrated"] < before[1]["calibrated"]
    beta1 = c["people"]["beta1"][1]
    assert chair.put(_api(c, f"/members/{beta1.id}/calibration"), json={"excluded": True}).status_code == 422
    r = chair.put(_api(c, f"/members/{beta1.id}/calibration"), json={"excluded": True, "reason": "colluded"})
    assert r.status_code == 200
    view = chair.get(_api(c, "/submissions/1/moderation")).json()
    mine = next(x for x in view["reviews"] if x["member_id"] == beta1.id)
    assert mine["excluded_from_calibration"] is True and "bias" not in mine  # left out of the fit
    assert _audits(db, "calibration.exclude") == 1 and _audits(db, "calibration.item") == 1
    assert chair.delete(_api(c, "/submissions/3/calibration-item")).status_code == 204
    assert chair.get(_api(c, "/calibration-items")).json() == []


def test_a_member_override_and_a_total_override_keep_their_computed_marks(course, as_user, db):  # noqa: ANN001
    c = course
    chair = as_user(c["chair"])
    _mark_all_reviews(chair, c)
    gamma1 = c["people"]["gamma1"][1]
    before = next(s for s in chair.get(_api(c, "/marks")).json()["students"] if s["member_id"] == gamma1.id)
    assert before["total"] is not None and before["missing"] == []
    bad = chair.put(_api(c, f"/members/{gamma1.id}/mark"), json={"component": "bonus", "value": 5, "reason": "x y z"})
    assert bad.status_code == 422 and "individual" in bad.json()["detail"]
    r = chair.put(_api(c, f"/members/{gamma1.id}/mark"),
                  json={"component": "total", "value": 64, "reason": "Exam board decision"})
    assert r.status_code == 200 and r.json()["computed"] == before["total"]
    after = next(s for s in chair.get(_api(c, "/marks")).json()["students"] if s["member_id"] == gamma1.id)
    assert after["total"] == 64 and after["letter"] == "B" and after["computed"]["total"] == before["total"]
    assert any("Exam board decision" in line for line in after["breakdown"]["explanation"])


MODERATION_PAGES = ("moderation", "submissions/{number}/moderation", "review-marks", "review-marks/{review_id}",
                    "marking-scheme", "marks", "marks/download")


def test_moderation_pages_per_role(course, app, browser_login, make, db):  # noqa: ANN001
    """Anonymous visitors are sent to sign in, outsiders find no venue, students and reviewers are refused the
    lecturers' pages (and their own marks before release), TAs and chairs read them all."""
    from fastapi.testclient import TestClient

    c = course
    ext, _ = make.member(c["venue"], "reviewer", name="External Reviewer")
    outsider = make.user("Out Sider")
    db.commit()
    review_id = c["reviews"][("beta1", 1)].id
    urls = {p: f"/venues/{c['slug']}/" + p.replace("{number}", "1").replace("{review_id}", str(review_id))
            for p in MODERATION_PAGES}
    anonymous = TestClient(app)
    for page, url in urls.items():
        r = anonymous.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), (page, r.status_code)
    people = {"outsider": outsider, "student": c["people"]["alpha1"][0], "reviewer": ext, "ta": c["ta"],
              "chair": c["chair"]}
    for role, person in people.items():
        client = browser_login(person)
        for page, url in urls.items():
            r = client.get(url, follow_redirects=False)
            where = (role, page, r.status_code, r.text[:200])
            if role == "outsider":
                assert r.status_code == 404, where
            elif role in ("student", "reviewer"):
                assert r.status_code == 403, where
            elif page == "marks/download":  # nothing released yet: back to the marks page with the reason
                assert r.status_code == 303 and r.headers["location"].endswith("/marks"), where
            else:
                assert r.status_code == 200, where


# ---- request an extra review: through the one assignment path -----------------------------------------------------


def _member_of(db, venue, user):  # noqa: ANN001, ANN202
    from app.models import Member

    return db.exec(select(Member).where(Member.venue_id == venue.id, Member.user_id == user.id)).one()


def _reviewing(c, db, make) -> dict:  # noqa: ANN001
    """The course back in the review phase, with two external reviewers nobody assigned: one close to the tinyML
    papers, one far from them."""
    from app.services.assignments import set_interests

    c["venue"].phase = "review"
    db.add(c["venue"])
    close, close_m = make.member(c["venue"], "reviewer", name="Close Reviewer")
    far, far_m = make.member(c["venue"], "reviewer", name="Far Reviewer")
    set_interests(db, close_m, ["int8 quantised CNNs for keyword spotting on Cortex-M4 microcontrollers (tinyML)"])
    set_interests(db, far_m, ["pipeline parallel training of GPT-2 with ZeRO sharding across many GPUs"])
    db.commit()
    return {"close": (close, close_m), "far": (far, far_m)}


def _extra_state(db) -> tuple:  # noqa: ANN001
    from app.models import Assignment

    db.expire_all()
    return (len(db.exec(select(Assignment)).all()), _audits(db, "assignment.extra_review"),
            len(db.exec(select(SentNotification).where(SentNotification.kind == "assignment")).all()))


def test_an_extra_review_is_assigned_audited_mailed_and_can_be_written(course, as_user, db, make, settings):  # noqa: ANN001
    from app.models import Assignment
    from app.services.assignments import score_venue

    c = course
    extra = _reviewing(c, db, make)
    chair = as_user(c["chair"])
    before = _extra_state(db)
    # no reviewer named and no embeddings cached yet: a clear 409, nothing changed
    r = chair.post(_api(c, "/submissions/2/extra-review"), json={"member_id": None})
    assert r.status_code == 409 and "pick a reviewer" in r.json()["detail"], r.text
    assert _extra_state(db) == before
    score_venue(db, settings, c["venue"])  # what an assignment Preview does: the embeddings are cached now
    r = chair.post(_api(c, "/submissions/2/extra-review"), json={})
    assert r.status_code == 201, r.text
    close_user, close_m = extra["close"]
    assert r.json()["member_id"] == close_m.id and r.json()["chosen"] == "affinity" and r.json()["affinity"] > 0
    row = db.exec(select(Assignment).where(Assignment.submission_id == c["subs"][1].id,
                                           Assignment.member_id == close_m.id)).one()
    assert row.origin == "manual" and row.created_by == c["chair"].id
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "assignment.extra_review")).one()
    assert event.detail["counts"]["add"] == 1 and "#2" in event.summary and close_user.email in event.summary
    mail = db.exec(select(SentNotification).where(SentNotification.kind == "assignment",
                                                  SentNotification.user_id == close_user.id)).one()
    assert mail.context["number"] == 2
    # the extra reviewer can write the review now
    drafted = as_user(close_user).put(_api(c, "/submissions/2/review"),
                                      json={"answers": {"summary": "A second look at the int8 numbers."}, "version": 0})
    assert drafted.status_code == 200, drafted.text
    # a named reviewer: the far one, although the affinity says otherwise
    far_user, far_m = extra["far"]
    r = chair.post(_api(c, "/submissions/2/extra-review"), json={"member_id": far_m.id})
    assert r.status_code == 201 and r.json()["chosen"] == "chair" and r.json()["member_id"] == far_m.id
    assert _extra_state(db) == (before[0] + 2, 2, before[2] + 2)


def test_an_extra_review_is_refused_with_its_reason_and_changes_nothing(course, as_user, db, make):  # noqa: ANN001
    from app.models import Group
    from app.services.assignments import declare_conflict

    c = course
    extra = _reviewing(c, db, make)
    far_user, far_m = extra["far"]
    beta = db.get(Group, c["subs"][1].group_id)
    declare_conflict(db, far_user, c["venue"], far_m, beta, "worked with Beta last term")
    db.commit()
    chair = as_user(c["chair"])
    before = _extra_state(db)
    url = _api(c, "/submissions/2/extra-review")
    for member_id, status, reason in (
            (c["people"]["beta1"][1].id, 422, "Beta Student1 is an author of #2"),
            (c["people"]["alpha1"][1].id, 422, "Alpha Student1 is already assigned to #2"),
            (far_m.id, 422, "Far Reviewer has a conflict with #2"),
            (_member_of(db, c["venue"], c["chair"]).id, 422, "Chair Person is a chair of this venue, not a reviewer"),
            (999_999, 404, "no such member")):
        r = chair.post(url, json={"member_id": member_id})
        assert r.status_code == status and reason in r.json()["detail"], (member_id, r.text)
        assert _extra_state(db) == before
    assert as_user(c["ta"]).post(url, json={"member_id": extra["close"][1].id}).status_code == 403
    assert as_user(c["people"]["alpha1"][0]).post(url, json={"member_id": extra["close"][1].id}).status_code == 403
    # after the review deadline the reviewer could not write it: refused until it is extended
    deadline = db.exec(select(Deadline).where(Deadline.venue_id == c["venue"].id, Deadline.kind == "review")).one()
    deadline.due_at = datetime.now(UTC) - timedelta(hours=1)
    db.add(deadline)
    db.commit()
    r = chair.post(url, json={"member_id": extra["close"][1].id})
    assert r.status_code == 409 and "has passed" in r.json()["detail"], r.text
    # in the moderation phase a new review can no longer be written: refused with the reason
    c["venue"].phase = "moderation"
    db.add(c["venue"])
    db.commit()
    r = chair.post(url, json={"member_id": extra["close"][1].id})
    assert r.status_code == 403 and "review phase only" in r.json()["detail"]
    assert _extra_state(db) == before


def test_the_extra_review_form_on_the_moderation_page(course, browser_login, db, make):  # noqa: ANN001
    import html

    c = course
    extra = _reviewing(c, db, make)
    chair = browser_login(c["chair"])
    page = chair.get(f"/venues/{c['slug']}/submissions/2/moderation").text
    assert 'id="extra-review-form"' in page and "Close Reviewer" in page and "Teaching Assistant" in page
    assert "Beta Student1" not in page.split('id="extra-review-form"')[1].split("</form>")[0]  # authors not offered
    before = _extra_state(db)
    r = chair.post(f"/venues/{c['slug']}/submissions/2/extra-review",
                   data={"csrf_token": chair.csrf, "member_id": str(c["people"]["beta1"][1].id)})
    assert "is an author of #2" in html.unescape(r.text) and _extra_state(db) == before
    r = chair.post(f"/venues/{c['slug']}/submissions/2/extra-review",
                   data={"csrf_token": chair.csrf, "member_id": str(extra["far"][1].id)})
    assert "Far Reviewer is asked for an extra review of #2" in html.unescape(r.text)
    assert _extra_state(db)[1] == 1
    c["venue"].phase = "moderation"
    db.add(c["venue"])
    db.commit()
    page = chair.get(f"/venues/{c['slug']}/submissions/2/moderation").text
    assert 'id="extra-review-form"' not in page and "review phase only" in page
