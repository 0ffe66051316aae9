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
