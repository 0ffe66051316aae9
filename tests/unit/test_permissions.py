"""app.security.permissions itself: every can_* says yes and no (roles × phases × standing) on a real session.

The expectations are written out from the rules (DESIGN.md and the issue), not computed from the functions.
"""

import inspect
from dataclasses import dataclass

import pytest
from sqlmodel import Session

from app.errors import Forbidden
from app.models import Assignment, Extension, Review, Submission
from app.security import permissions
from app.security.permissions import Standing, require, standing, why_not
from tests.factories import Factory

PEOPLE = ("admin", "chair", "ta", "author", "assigned", "reviewed", "other", "loner", "external")


@dataclass
class World:
    db: Session
    venue: object
    sub: object
    group: object
    other_group: object
    extension: object
    users: dict
    members: dict

    def at(self, phase: str) -> "World":
        self.venue.phase = phase
        self.db.add(self.venue)
        self.db.flush()
        return self

    def st(self, who: str) -> Standing:
        return standing(self.db, self.users[who], self.members.get(who), self.sub)


@pytest.fixture
def world(db: Session, make: Factory) -> World:
    """A venue with one submission (#1, group Alpha) and one person for each way of standing to it."""
    venue = make.venue(phase="submission")
    alpha, beta, gamma = make.group(venue, "Alpha"), make.group(venue, "Beta"), make.group(venue, "Gamma")
    users, members = {"admin": make.user("Ad Min", admin=True)}, {}
    for who, role, group in (("chair", "chair", None), ("ta", "ta", None), ("author", "student", alpha),
                             ("assigned", "student", beta), ("reviewed", "student", gamma),
                             ("other", "student", beta), ("loner", "student", None),
                             ("external", "reviewer", None)):
        users[who], members[who] = make.member(venue, role, group=group, name=who.title())
    sub = Submission(venue_id=venue.id, group_id=alpha.id, number=1, title="Paper One")
    db.add(sub)
    db.flush()
    for who in ("assigned", "reviewed"):
        db.add(Assignment(venue_id=venue.id, submission_id=sub.id, member_id=members[who].id))
    db.add(Review(venue_id=venue.id, submission_id=sub.id, member_id=members["reviewed"].id, status="submitted"))
    extension = Extension(venue_id=venue.id, group_id=alpha.id, reason="GPU quota", requested_by=users["author"].id)
    db.add(extension)
    db.flush()
    return World(db, venue, sub, alpha, beta, extension, users, members)


REVIEWING = ("review", "response", "discussion", "moderation", "released", "closed")

# can_* name -> [(person, phase, expected)], each with at least one yes and one no.
CASES: dict[str, list[tuple[str, str, bool]]] = {
    "can_create_venue": [("admin", "setup", True), ("chair", "setup", True), ("ta", "setup", False),
                         ("author", "setup", False)],
    "can_copy_venue": [("chair", "closed", True), ("admin", "released", True), ("ta", "closed", False),
                       ("author", "closed", False)],
    "can_view_venue": [("admin", "setup", True), ("loner", "closed", True), ("outsider", "setup", False)],
    "can_manage_venue": [("chair", "review", True), ("admin", "review", True), ("ta", "review", False)],
    "can_change_phase": [("chair", "setup", True), ("ta", "setup", False), ("author", "setup", False)],
    "can_set_deadline": [("chair", "submission", True), ("ta", "submission", False)],
    "can_change_role": [("chair", "setup", True), ("admin", "setup", True), ("ta", "setup", False),
                        ("self_chair", "setup", False)],
    "can_import_roster": [("chair", "setup", True), ("ta", "setup", False)],
    "can_view_roster": [("ta", "setup", True), ("chair", "setup", True), ("author", "setup", False)],
    "can_view_audit": [("ta", "review", True), ("external", "review", False)],
    "can_manage_groups": [("ta", "submission", True), ("ta", "closed", False), ("author", "submission", False)],
    "can_view_group": [("author", "submission", True), ("ta", "submission", True), ("other", "submission", False)],
    "can_create_group": [("loner", "setup", True), ("loner", "submission", True), ("loner", "review", False),
                         ("author", "setup", False), ("external", "setup", False)],
    "can_join_group": [("loner", "submission", True), ("author", "submission", False), ("loner", "assignment", False)],
    "can_leave_group": [("author", "submission", True), ("author", "review", False), ("loner", "submission", False)],
    "can_request_extension": [("author", "submission", True), ("author", "review", False),
                              ("loner", "submission", False)],
    "can_view_extension": [("author", "review", True), ("ta", "review", True), ("other", "review", False)],
    "can_request_review_extension": [("assigned", "review", True), ("external", "review", True),
                                     ("assigned", "submission", False), ("assigned", "response", False),
                                     ("ta", "review", False), ("chair", "review", False)],
    "can_decide_extension": [("ta", "submission", True), ("author", "submission", False)],
    "can_submit": [("author", "submission", True), ("author", "assignment", False), ("loner", "submission", False)],
    "can_view_own_submission": [("author", "review", True), ("loner", "review", False), ("chair", "review", False)],
    "can_view_submission": [("ta", "submission", True), ("author", "submission", True), ("admin", "setup", True),
                            ("assigned", "review", True), ("assigned", "assignment", False),
                            ("other", "review", False), ("external", "review", False)],
    "can_view_original_pdf": [("author", "review", True), ("chair", "review", True), ("assigned", "review", False)],
    "can_view_superseded_revisions": [("author", "review", True), ("ta", "review", True), ("chair", "review", True),
                                      ("assigned", "review", False), ("reviewed", "discussion", False)],
    "can_read_format_report_unmasked": [("author", "review", True), ("admin", "review", True),
                                        ("assigned", "review", False), ("reviewed", "review", False)],
    "can_list_submissions": [("ta", "submission", True), ("author", "submission", False)],
    "can_request_run": [("author", "review", True), ("ta", "review", True), ("assigned", "review", False)],
    "can_view_runs": [("assigned", "discussion", True), ("author", "submission", True),
                      ("assigned", "submission", False), ("other", "discussion", False)],
    "can_manage_rigs": [("admin", "setup", True), ("chair", "setup", True), ("ta", "setup", False)],
    "can_make_site_wide_rig": [("admin", "setup", True), ("chair", "setup", False)],
    # a rig made by this person, not site-wide ("site_rig": a site-wide one made by someone outside the venue)
    "can_rig_serve": [("chair", "review", True), ("site_rig", "review", True), ("ta", "review", False),
                      ("admin", "review", False), ("outsider", "review", False)],
    "can_view_artifact_original": [("author", "review", True), ("ta", "review", True), ("reviewed", "review", False)],
    "can_view_contributions": [("author", "review", True), ("ta", "review", True), ("assigned", "review", False),
                               ("reviewed", "released", False), ("other", "review", False)],
    "can_claim_identity": [("author", "review", True), ("author", "closed", False), ("ta", "review", False)],
    "can_map_identity": [("chair", "review", True), ("ta", "review", False), ("author", "review", False)],
    "can_view_submission_staff_page": [("ta", "review", True), ("author", "review", False)],
    "can_edit_claims": [("author", "submission", True), ("chair", "review", True), ("author", "review", False),
                        ("ta", "submission", False)],
    "can_decide_badges": [("chair", "review", True), ("admin", "review", True), ("ta", "review", False),
                          ("author", "review", False)],
    "can_read_run_logs_unmasked": [("author", "review", True), ("ta", "review", True), ("assigned", "review", False)],
    "can_read_author_text_unmasked": [("author", "discussion", True), ("chair", "review", True),
                                      ("assigned", "discussion", False)],
    "can_manage_assignments": [("chair", "assignment", True), ("chair", "submission", True),
                               ("chair", "discussion", False), ("ta", "assignment", False)],
    "can_view_assignments": [("ta", "assignment", True), ("assigned", "review", False)],
    "can_bid": [("other", "assignment", True), ("external", "assignment", True), ("other", "review", False),
                ("ta", "assignment", False)],
    "can_open_bids_page": [("other", "assignment", True), ("ta", "submission", True), ("other", "review", False)],
    "can_view_interests": [("loner", "closed", True), ("admin", "review", False)],
    "can_edit_interests": [("external", "assignment", True), ("external", "review", False), ("admin", "setup", False)],
    "can_declare_conflict": [("other", "assignment", True), ("ta", "closed", True), ("other", "review", False)],
    "can_view_own_conflicts": [("loner", "review", True), ("admin", "review", True), ("outsider", "review", False)],
    "can_view_conflicts": [("ta", "review", True), ("author", "review", False)],
    "can_import_conflicts": [("chair", "assignment", True), ("chair", "closed", False), ("ta", "assignment", False)],
    "can_open_review": [("assigned", "review", True), ("reviewed", "closed", True), ("assigned", "assignment", False),
                        ("other", "review", False), ("chair", "review", False)],
    "can_write_review": [("assigned", "review", True), ("reviewed", "discussion", True),
                         ("assigned", "moderation", False), ("other", "review", False), ("chair", "review", False)],
    "can_read_reviews": [("ta", "submission", True), ("reviewed", "review", True), ("assigned", "review", False),
                         ("author", "response", True), ("author", "review", False), ("other", "released", False)],
    "can_read_discussion": [("reviewed", "discussion", True), ("author", "response", True),
                            ("assigned", "discussion", False), ("author", "review", False)],
    "can_post_comment": [("reviewed", "review", True), ("reviewed", "moderation", False), ("ta", "moderation", True),
                         ("ta", "released", False), ("author", "response", True), ("author", "discussion", False),
                         ("assigned", "review", False)],
    "can_respond": [("author", "response", True), ("author", "discussion", False), ("chair", "response", False),
                    ("reviewed", "response", False)],
    "can_read_response": [("author", "review", True), ("ta", "review", True), ("assigned", "response", True),
                          ("assigned", "review", False), ("other", "released", False)],
    "can_rate_review": [("author", "released", True), ("author", "review", False), ("reviewed", "released", False)],
    "can_view_ratings": [("ta", "released", True), ("author", "released", False)],
    "can_view_review_form": [("loner", "review", True), ("admin", "review", True), ("outsider", "review", False)],
    "can_view_review_form_settings": [("ta", "review", True), ("external", "review", False)],
    "can_edit_review_form": [("chair", "review", True), ("chair", "closed", False), ("ta", "review", False)],
    "can_list_own_reviews": [("external", "review", True), ("admin", "review", False)],
    "can_remind_reviewer": [("chair", "review", True), ("ta", "discussion", True), ("chair", "moderation", False),
                            ("author", "review", False), ("external", "review", False)],
    "can_moderate": [("ta", "moderation", True), ("chair", "discussion", True), ("author", "moderation", False)],
    "can_mark_reviews": [("ta", "moderation", True), ("ta", "closed", False), ("reviewed", "moderation", False)],
    "can_adjust_marks": [("chair", "moderation", True), ("ta", "released", True), ("ta", "closed", False),
                         ("author", "moderation", False)],
    "can_moderate_reviews": [("chair", "moderation", True), ("ta", "moderation", False), ("chair", "closed", False)],
    "can_edit_marking_scheme": [("chair", "setup", True), ("ta", "setup", False), ("chair", "closed", False)],
    "can_unfreeze_marking_scheme": [("chair", "released", True), ("ta", "released", False)],
    "can_manage_calibration_items": [("chair", "review", True), ("ta", "review", False)],
    "can_release_marks": [("chair", "moderation", True), ("chair", "released", True), ("chair", "discussion", False),
                          ("ta", "moderation", False)],
    "can_view_all_marks": [("ta", "moderation", True), ("author", "released", False)],
    "can_export_marks": [("ta", "released", True), ("chair", "released", True), ("author", "released", False)],
    # `released` (does a release cover this student?) follows the phase in this table: released and closed
    "can_request_extra_review": [("chair", "review", True), ("admin", "review", True), ("chair", "moderation", False),
                                 ("ta", "review", False), ("author", "review", False)],
    "can_view_own_marks": [("author", "released", True), ("author", "moderation", False), ("ta", "released", False),
                           ("external", "released", False)],
}


def _args(world: World, name: str, who: str) -> tuple:
    """The arguments `name` takes, for person `who` ("outsider": signed in, no membership, not an admin)."""
    check = getattr(permissions, name)
    params = list(inspect.signature(check).parameters)
    if who == "site_rig":
        from app.models import Rig

        return (Rig(name="campus", kind="gpu", token_hash="x", site_wide=True), None, None, world.venue)
    if who == "outsider":
        user, member = world.users["loner"], None
    elif who == "self_chair":
        user, member = world.users["chair"], world.members["chair"]
    else:
        user, member = world.users[who], world.members.get(who)
    if params == ["st"]:
        return (standing(world.db, user, member, world.sub),)
    if name == "can_create_venue":
        return (user, member is not None and member.role == "chair")
    if name == "can_manage_rigs":
        return (user, member is not None and member.role == "chair")
    if name == "can_make_site_wide_rig":
        return (user,)
    if name == "can_rig_serve":
        from app.models import Rig

        return (Rig(name="bench", kind="local", token_hash="x", created_by=user.id), user, member, world.venue)
    extra = {"can_change_role": (member if who == "self_chair" else world.members["loner"],),
             "can_view_group": (world.group,), "can_view_extension": (world.extension,),
             "can_view_own_marks": (world.venue.phase in ("released", "closed"),)}.get(name, ())
    return (user, member, world.venue, *extra)


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_can_says_yes_and_no(world: World, name: str) -> None:
    cases = CASES[name]
    assert {want for _who, _phase, want in cases} == {True, False}, "each can_* needs a yes and a no"
    check = getattr(permissions, name)
    wrong = []
    for who, phase, want in cases:
        args = _args(world.at(phase), name, who)
        got = check(*args)
        reason = why_not(check, *args)
        if got != want or (reason is None) != want or (reason is not None and not reason.strip()):
            wrong.append((who, phase, want, got, reason))
    assert not wrong, wrong


def test_every_can_function_is_tested() -> None:
    every = {n for n, f in vars(permissions).items() if n.startswith("can_") and callable(f)}
    assert every == set(CASES), (every - set(CASES), set(CASES) - every)


def test_a_reviewers_extension_is_theirs_alone(world: World) -> None:
    """A reviewer's own request (member_id set, no group): not their group-mates', not an ungrouped student's."""
    ext = Extension(venue_id=world.venue.id, group_id=None, member_id=world.members["assigned"].id, kind="review",
                    reason="Two exams this week", requested_by=world.users["assigned"].id)
    world.db.add(ext)
    world.db.flush()
    seen = {who: permissions.can_view_extension(world.users[who], world.members.get(who), world.venue, ext)
            for who in ("assigned", "other", "loner", "external", "author", "ta", "chair", "admin")}
    assert seen == {"assigned": True, "other": False, "loner": False, "external": False, "author": False,
                    "ta": True, "chair": True, "admin": True}


def test_draft_exports_are_for_chairs(world: World) -> None:
    world.at("moderation")
    assert permissions.can_export_marks(world.users["chair"], world.members["chair"], world.venue, True)
    assert not permissions.can_export_marks(world.users["ta"], world.members["ta"], world.venue, True)


def test_require_refuses_with_the_reason_a_person_reads(world: World) -> None:
    world.at("review")
    require(permissions.can_read_reviews, world.st("reviewed"))
    with pytest.raises(Forbidden) as refused:
        require(permissions.can_read_reviews, world.st("assigned"))
    assert "after they submit their own" in refused.value.message
    with pytest.raises(Forbidden) as refused:
        require(permissions.can_create_group, world.users["author"], world.members["author"], world.venue)
    assert refused.value.message == "You are already in a group in this venue: leave it first."


def test_standing_is_computed_from_the_database_not_given(world: World) -> None:
    """An assignment made after a standing was computed shows in the next one; nobody builds one by hand."""
    world.at("review")
    before = world.st("other")
    assert not before.assigned and not permissions.can_view_submission(before)
    world.db.add(Assignment(venue_id=world.venue.id, submission_id=world.sub.id, member_id=world.members["other"].id))
    world.db.flush()
    after = world.st("other")
    assert after.assigned and not after.submitted_own and permissions.can_view_submission(after)
    assert not permissions.can_read_reviews(after)
    with pytest.raises(TypeError):
        Standing(user=after.user, member=after.member, venue=after.venue, submission=after.submission, staff=True,
                 chair=True, relation=after.relation)


def test_a_member_of_another_venue_stands_nowhere(world: World, make: Factory) -> None:
    elsewhere = make.venue(phase="review")
    _user, member = make.member(elsewhere, "chair", user=world.users["other"])
    st = standing(world.db, world.users["other"], member, world.sub)
    assert st.member is None and not st.staff and not st.chair
    assert not permissions.can_view_submission(st) and not permissions.can_decide_badges(st)
