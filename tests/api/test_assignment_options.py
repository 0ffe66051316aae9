"""Course options of the auto-solve through the API and the page (issue 17): stored per venue, on by default,
each holding in a real solve (real embedding model), and an option that makes the solve impossible named in the
refusal, with nothing assigned."""

from collections import Counter

from sqlmodel import func, select

from app.models import AuditEvent
from app.models.assignment import Assignment, AssignmentSettings
from app.services.submissions import save_submission
from tests.api.test_assignments import TOPICS, inline_jobs  # noqa: F401 — the fixture is used by name
from tests.api.test_assignments import _venue as _plain_venue

MORE_TOPICS = {
    "Fed A": ("Client drift in federated learning on non-IID data",
              "FedAvg, FedProx and SCAFFOLD on Dirichlet-skewed CIFAR-10 with 100 simulated clients."),
    "Fed B": ("Secure aggregation cost in cross-device federated learning",
              "We measure the bandwidth and latency of secure aggregation for federated averaging on phones."),
    "GPU A": ("A fused softmax kernel in Triton",
              "Our fused Triton kernel for softmax and layer norm is 3.1x faster than the PyTorch baseline on an H100."),
}


def _venue(make, db, groups=None):  # noqa: ANN001, ANN202
    """Groups of two with a submission each, the course options as stored by default (none: all on)."""
    if groups is None:
        return _plain_venue(make, db, course_options=True)
    venue = make.venue(phase="submission")
    chair, _ = make.member(venue, "chair", name="Chair")
    people = {}
    for name, (title, abstract) in list({**TOPICS, **MORE_TOPICS}.items())[:groups]:
        group = make.group(venue, name)
        members = [make.member(venue, "student", group=group, name=f"{name} student {i}") for i in range(2)]
        save_submission(db, members[0][0], venue, members[0][1], title=title, abstract=abstract, keywords=[])
        people[name] = members
    venue.phase = "assignment"
    db.add(venue)
    db.commit()
    return venue, chair, people

ALL_OFF = {"one_reviewer_per_group": False, "no_reciprocal_groups": False, "every_student_reviews": False}


def _groups(people) -> dict[int, str]:  # noqa: ANN001
    return {m.id: name for name, ms in people.items() for _u, m in ms}


def _count(db) -> int:  # noqa: ANN001
    return db.exec(select(func.count()).select_from(Assignment)).one()


def test_options_endpoints_per_role(make, db, as_user, client):  # noqa: ANN001
    venue, chair, people = _venue(make, db)
    ta, _ = make.member(venue, "ta", name="TA")
    outsider = make.user("Outsider")
    db.commit()
    student = people["Dist B"][0][0]
    url = f"/api/v1/venues/{venue.slug}/assignment/settings"
    assert as_user(chair).get(url).json() == {k: True for k in ALL_OFF}  # on by default for a course
    assert as_user(ta).get(url).status_code == 200
    assert as_user(student).get(url).status_code == 403
    assert as_user(outsider).get(url).status_code == 404
    assert client.get(url).status_code == 401
    for who, code in ((ta, 403), (student, 403), (outsider, 404)):
        assert as_user(who).put(url, json=ALL_OFF).status_code == code
    assert client.put(url, json=ALL_OFF).status_code == 401
    assert db.get(AssignmentSettings, venue.id) is None  # nothing was stored by the refused writes
    r = as_user(chair).put(url, json={"no_reciprocal_groups": False})
    assert r.status_code == 200 and r.json() == {**{k: True for k in ALL_OFF}, "no_reciprocal_groups": False}
    bad = as_user(chair).put(url, json={"one_reviewer_per_group": "perhaps"})
    assert bad.status_code == 422
    assert as_user(chair).get(url).json()["one_reviewer_per_group"] is True  # unchanged by the bad request
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "assignment.options")).one()
    assert "no reciprocal pairs between two groups off" in event.summary


def test_default_options_hold_in_a_real_solve(make, db, as_user):  # noqa: ANN001
    """7 groups of 2, k=2: every submission gets two reviewers of two different groups, no two groups review each
    other, and all 14 students review (14 slots). (With the options off, the topic-closest group takes both slots:
    tests/api/test_assignments.py::test_solve_respects_conflicts_loads_and_matches_topics.)"""
    venue, chair, people = _venue(make, db, groups=7)
    c = as_user(chair)
    base = f"/api/v1/venues/{venue.slug}"
    r = c.post(f"{base}/assignment/solve", json={"k": 2, "max_load": 2})
    assert r.status_code == 200, r.text
    assert r.json()["stats"]["options"] == {k: True for k in ALL_OFF}
    rows = c.get(f"{base}/assignments").json()
    group_of = _groups(people)
    names = list(people)
    per_sub_group = Counter((row["submission"], group_of[row["member_id"]]) for row in rows)
    assert len(rows) == 14 and max(per_sub_group.values()) == 1
    directions = {(group_of[row["member_id"]], names[row["submission"] - 1]) for row in rows}
    assert not any((b, a) in directions for a, b in directions)
    assert set(Counter(row["member_id"] for row in rows)) == set(group_of)  # every student has a paper


def test_an_option_that_makes_it_impossible_is_named_and_nothing_changes(make, db, as_user, browser_login,  # noqa: ANN001
                                                                          inline_jobs):  # noqa: F811
    venue, chair, people = _venue(make, db)
    c = as_user(chair)
    base = f"/api/v1/venues/{venue.slug}"
    # k=2 over 4 groups: 8 reviewing directions between groups, but 4 groups have only 6 pairs.
    r = c.post(f"{base}/assignment/solve", json={"k": 2, "max_load": 2})
    assert r.status_code == 422
    assert '"no reciprocal pairs between two groups" makes this impossible' in r.json()["detail"]
    assert "need 8 reviewing directions between groups, but 4 groups have only 6 pairs" in r.json()["detail"]
    assert "k=1 at most" in r.json()["detail"]
    # k=4: only 3 other groups exist.
    r = c.post(f"{base}/assignment/solve", json={"k": 4, "max_load": 4})
    assert r.status_code == 422
    assert '"at most one reviewer per group on a submission" makes this impossible' in r.json()["detail"]
    assert _count(db) == 0
    # The page: a job whose options make it impossible shows the reason where its progress was.
    page_client = browser_login(chair)
    r = page_client.post(f"/venues/{venue.slug}/assignments/jobs", follow_redirects=False,
                         data={"k": "2", "min_load": "0", "max_load": "2", "action": "preview",
                               "csrf_token": page_client.csrf})
    assert r.status_code in (302, 303) and inline_jobs
    page = page_client.get(f"/venues/{venue.slug}/assignments").text
    assert "no reciprocal pairs between two groups" in page and 'id="job-error"' in page
    assert _count(db) == 0
    # Turning the option off makes the same request work.
    assert c.put(f"{base}/assignment/settings", json={"no_reciprocal_groups": False}).status_code == 200
    assert c.post(f"{base}/assignment/solve", json={"k": 2, "max_load": 2}).status_code == 200
    assert _count(db) == 8


def test_every_student_reviews_says_which_k_would_do_it(make, db, as_user):  # noqa: ANN001
    venue, chair, _people = _venue(make, db)
    c = as_user(chair)
    r = c.post(f"/api/v1/venues/{venue.slug}/assignment/solve", json={"k": 1, "max_load": 2, "dry_run": True})
    assert r.status_code == 200, r.text
    notices = r.json()["stats"]["notices"]
    assert notices and "4 submissions × k=1 = 4 review slots for 8 reviewers" in notices[0]
    assert "With k=2 (8 slots) every student reviews" in notices[0]
    # k=2 gives 8 slots (4 groups cannot then avoid reciprocal pairs: that option off here)
    assert c.put(f"/api/v1/venues/{venue.slug}/assignment/settings", json={"no_reciprocal_groups": False}).status_code == 200
    r = c.post(f"/api/v1/venues/{venue.slug}/assignment/solve", json={"k": 2, "max_load": 2})
    assert r.status_code == 200, r.text
    assert r.json()["stats"]["notices"] == [] and r.json()["stats"]["min_load"] == 1
    loads = Counter(row["member_id"] for row in c.get(f"/api/v1/venues/{venue.slug}/assignments").json())
    assert len(loads) == 8 and set(loads.values()) == {1}  # every one of the 8 students reviews


def test_the_page_shows_and_saves_the_options(make, db, browser_login):  # noqa: ANN001
    venue, chair, _people = _venue(make, db)
    c = browser_login(chair)
    url = f"/venues/{venue.slug}/assignments"
    page = c.get(url).text
    assert 'id="course-options"' in page and page.count('type="checkbox" name="one_reviewer_per_group" checked') == 1
    # An unchecked box is not sent: saving with only one box checked turns the other two off.
    r = c.post(f"{url}/settings", data={"csrf_token": c.csrf, "every_student_reviews": "on"}, follow_redirects=False)
    assert r.status_code == 303
    stored = db.get(AssignmentSettings, venue.id)
    db.refresh(stored)
    assert (stored.one_reviewer_per_group, stored.no_reciprocal_groups, stored.every_student_reviews) == \
        (False, False, True)
    page = c.get(url).text
    assert "Course options saved" in page and 'name="every_student_reviews" checked' in page
    assert 'name="one_reviewer_per_group" checked' not in page
    # Without the CSRF token nothing changes.
    r = c.post(f"{url}/settings", data={"one_reviewer_per_group": "on"}, follow_redirects=False)
    assert r.status_code in (403, 400)
    db.refresh(stored)
    assert stored.one_reviewer_per_group is False


def test_a_resolve_removes_reciprocal_pairs_made_before_the_option(make, db, as_user):  # noqa: ANN001
    venue, chair, people = _venue(make, db)
    c = as_user(chair)
    base = f"/api/v1/venues/{venue.slug}"
    a, b = people["Tiny A"][0][1], people["Tiny B"][0][1]
    r = c.post(f"{base}/assignments", json=[{"op": "add", "submission": 2, "member_id": a.id},
                                            {"op": "add", "submission": 1, "member_id": b.id}])
    assert r.status_code == 200  # a manual change is the chair's: the options bind the auto-solve
    r = c.post(f"{base}/assignment/solve", json={"k": 1, "max_load": 1})
    assert r.status_code == 200, r.text
    assert r.json()["stats"]["mode"].startswith("full (the current pairs hold reciprocal groups)")
    rows = c.get(f"{base}/assignments").json()
    group_of, names = _groups(people), list(people)
    directions = {(group_of[row["member_id"]], names[row["submission"] - 1]) for row in rows}
    assert len(rows) == 4 and not any((y, x) in directions for x, y in directions)
