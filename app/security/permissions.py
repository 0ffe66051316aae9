"""Every permission decision, as can_* functions used by the pages and the JSON API alike.

Venue-level questions take the signed-in user, their membership in the venue (or None) and the venue.
Questions about one submission take the viewer's `Standing` to it, which only `standing()` here computes
(HotCRP's `Contact::can_view_paper`): no caller says "this person is assigned". Each can_* that a route
refuses with carries the reason a person reads (`why_not`, HotCRP's `perm_view_paper`); `require(can_x, …)`
turns a "no" into Forbidden with that reason.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from app.errors import Forbidden
from app.models import Assignment, Extension, Group, Member, Phase, Review, ReviewStatus, Role, Submission, User, Venue
from app.models.run import Rig


GROUP_PHASES = {Phase.setup.value, Phase.submission.value}
STAFF_ROLES = {Role.chair.value, Role.ta.value}
# phases in which assigned reviewers read their papers; authors read their reviews from the response phase on
REVIEWING_PHASES = {Phase.review.value, Phase.response.value, Phase.discussion.value, Phase.moderation.value,
                    Phase.released.value, Phase.closed.value}
REVIEW_WRITE_PHASES = {Phase.review.value, Phase.response.value, Phase.discussion.value}
AUTHORS_READ_REVIEWS = {Phase.response.value, Phase.discussion.value, Phase.moderation.value, Phase.released.value,
                        Phase.closed.value}
COMMENT_PHASES = {Phase.review.value, Phase.response.value, Phase.discussion.value}
DEFAULT_REASON = "You are not allowed to do that."


# --- reasons ---------------------------------------------------------------------------------------------------


def because(reason: str | Callable[..., str]) -> Callable:
    """Attach the reason a person reads when this can_* says no (a text, or a function of the same arguments)."""
    def attach(check: Callable[..., bool]) -> Callable[..., bool]:
        check.why_not = reason if callable(reason) else (lambda *_a, **_k: reason)
        return check
    return attach


def why_not(check: Callable[..., bool], *args: Any) -> str | None:
    """None when `check(*args)` allows it, else the reason it does not."""
    if check(*args):
        return None
    reason = getattr(check, "why_not", None)
    return reason(*args) if reason else DEFAULT_REASON


def require(check: Callable[..., bool], *args: Any) -> None:
    """`require(can_x, *args)`: Forbidden with can_x's reason when it says no."""
    reason = why_not(check, *args)
    if reason is not None:
        raise Forbidden(reason)


# --- roles -----------------------------------------------------------------------------------------------------


def is_chair(user: User, member: Member | None) -> bool:
    return user.is_admin or (member is not None and member.role == Role.chair.value)


def is_staff(user: User, member: Member | None) -> bool:
    """Chairs and TAs (the design's "lecturer / TA (chair)"), and site admins."""
    return user.is_admin or (member is not None and member.role in STAFF_ROLES)


def is_author(member: Member | None) -> bool:
    return member is not None and member.role == Role.student.value


def is_submission_author(member: Member | None, submission: Submission) -> bool:
    return member is not None and member.group_id is not None and member.group_id == submission.group_id


# --- standing: how one viewer stands to one submission -----------------------------------------------------------

_MADE_HERE = object()


@dataclass(frozen=True)
class Relation:
    """How a member stands to a submission: author, assigned reviewer, and whether their review is submitted."""

    is_author: bool
    assigned: bool
    submitted_own: bool


def relation(session: Session, member: Member | None, submission: Submission) -> Relation:
    """What the database says of `member` and `submission` (the one query every standing reads)."""
    if member is None:
        return Relation(False, False, False)
    is_author = member.group_id is not None and member.group_id == submission.group_id
    assigned = session.exec(select(Assignment.id).where(Assignment.submission_id == submission.id,
                                                        Assignment.member_id == member.id)).first() is not None
    submitted = False
    if assigned:
        submitted = session.exec(select(Review.id).where(
            Review.submission_id == submission.id, Review.member_id == member.id,
            Review.status == ReviewStatus.submitted.value)).first() is not None
    return Relation(is_author, assigned, submitted)


@dataclass(frozen=True)
class Standing:
    """The viewer, their venue role, and how they stand to one submission. Only `standing()` makes one."""

    user: User
    member: Member | None
    venue: Venue
    submission: Submission
    staff: bool
    chair: bool
    relation: Relation  # what the database says: author, assigned, own review submitted
    _key: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._key is not _MADE_HERE:
            raise TypeError("A Standing is computed by app.security.permissions.standing(), never built by hand.")

    @property
    def phase(self) -> str:
        return self.venue.phase

    @property
    def author(self) -> bool:
        """A member of the submitting group."""
        return self.relation.is_author

    @property
    def assigned(self) -> bool:
        """Assigned to review the submission."""
        return self.relation.assigned

    @property
    def submitted_own(self) -> bool:
        """Their review of the submission is submitted."""
        return self.relation.submitted_own


def standing(session: Session, user: User, member: Member | None, submission: Submission,
             venue: Venue | None = None) -> Standing:
    """Work out how `user` (with `member` in the submission's venue) stands to `submission` now."""
    venue = venue if venue is not None and venue.id == submission.venue_id else session.get(Venue, submission.venue_id)
    if member is not None and member.venue_id != submission.venue_id:
        member = None
    return Standing(user=user, member=member, venue=venue, submission=submission, staff=is_staff(user, member),
                    chair=is_chair(user, member), relation=relation(session, member, submission),
                    _key=_MADE_HERE)


# --- venue ------------------------------------------------------------------------------------------------------


@because("Only site admins and the chairs of a venue create venues.")
def can_create_venue(user: User, chairs_a_venue: bool) -> bool:
    """Site admins, and anyone who chairs some venue (a lecturer sets up next term's course without the admin);
    `chairs_a_venue` comes from app.services.venues.chairs_any_venue."""
    return user.is_admin or chairs_a_venue


@because("Only the venue's chairs copy it into a new venue.")
def can_copy_venue(user: User, member: Member | None, venue: Venue) -> bool:
    """A copy carries the venue's settings, review form, deadlines and marking scheme: its chairs (who may
    create venues by chairing this one) and site admins."""
    return is_chair(user, member)


@because("Only members of the venue see it.")
def can_view_venue(user: User, member: Member | None, venue: Venue) -> bool:
    return user.is_admin or member is not None


@because("Only the venue's chairs change its settings.")
def can_manage_venue(user: User, member: Member | None, venue: Venue) -> bool:
    """Settings, phases, deadlines, roles and roster: lecturers (chairs) only."""
    return is_chair(user, member)


@because("Only the venue's chairs move its phase.")
def can_change_phase(user: User, member: Member | None, venue: Venue) -> bool:
    return is_chair(user, member)


@because("Only the venue's chairs set deadlines.")
def can_set_deadline(user: User, member: Member | None, venue: Venue) -> bool:
    return is_chair(user, member)


@because("Only chairs change roles, and not their own.")
def can_change_role(user: User, member: Member | None, venue: Venue, target: Member) -> bool:
    # A chair may not demote themselves: a venue must never lose its last way to be managed.
    return is_chair(user, member) and (member is None or target.id != member.id or user.is_admin)


@because("Only the venue's chairs import the roster and add members.")
def can_import_roster(user: User, member: Member | None, venue: Venue) -> bool:
    return is_chair(user, member)


@because("Only the venue's chairs and TAs see the roster.")
def can_view_roster(user: User, member: Member | None, venue: Venue) -> bool:
    return is_staff(user, member)


@because("Only the venue's chairs and TAs see the audit log.")
def can_view_audit(user: User, member: Member | None, venue: Venue) -> bool:
    return is_staff(user, member)


# --- groups and extensions --------------------------------------------------------------------------------------


@because("Only chairs and TAs form groups and move students (until the venue is closed).")
def can_manage_groups(user: User, member: Member | None, venue: Venue) -> bool:
    return is_staff(user, member) and venue.phase != Phase.closed.value


@because("Group names are identities: you see only your own group.")
def can_view_group(user: User, member: Member | None, venue: Venue, group: Group) -> bool:
    """Group names are identities: students see only their own group (double-blind)."""
    return is_staff(user, member) or (member is not None and member.group_id == group.id)


def why_not_create_group(user: User, member: Member | None, venue: Venue) -> str:
    """The reason can_create_group (and can_join_group) said no, for the page and the API."""
    if not is_author(member):
        return "Only students of this venue form groups."
    if member.group_id is not None:
        return "You are already in a group in this venue: leave it first."
    return f"Groups can be formed only in the setup and submission phases (the venue is in {venue.phase})."


@because(why_not_create_group)
def can_create_group(user: User, member: Member | None, venue: Venue) -> bool:
    return is_author(member) and member.group_id is None and venue.phase in GROUP_PHASES


@because(why_not_create_group)
def can_join_group(user: User, member: Member | None, venue: Venue) -> bool:
    return can_create_group(user, member, venue)


@because("You can leave a group only in the setup and submission phases.")
def can_leave_group(user: User, member: Member | None, venue: Venue) -> bool:
    return is_author(member) and member.group_id is not None and venue.phase in GROUP_PHASES


@because("Only a student in a group can ask for an extension, before the submission phase ends.")
def can_request_extension(user: User, member: Member | None, venue: Venue) -> bool:
    return (
        is_author(member)
        and member.group_id is not None
        and venue.phase in {Phase.setup.value, Phase.submission.value}
    )


@because("Only a reviewer of this venue can ask for more time for their reviews, during the review phase.")
def can_request_review_extension(user: User, member: Member | None, venue: Venue) -> bool:
    """Reviewers (students and external reviewers) ask for a later review deadline of their own while reviewing
    (the service checks that they have reviews to write)."""
    return member is not None and member.role in {Role.student.value, Role.reviewer.value} \
        and venue.phase == Phase.review.value


@because("Only the group or reviewer that asked and the venue's staff see an extension request.")
def can_view_extension(user: User, member: Member | None, venue: Venue, extension: Extension) -> bool:
    if is_staff(user, member):
        return True
    if member is None:
        return False
    if extension.member_id is not None:  # a reviewer's own request: theirs alone
        return extension.member_id == member.id
    return member.group_id is not None and member.group_id == extension.group_id


@because("Only chairs and TAs decide extensions.")
def can_decide_extension(user: User, member: Member | None, venue: Venue) -> bool:
    return is_staff(user, member)


# --- submissions and artifacts ----------------------------------------------------------------------------------


@because("Only a student in a group can submit, during the submission phase.")
def can_submit(user: User, member: Member | None, venue: Venue) -> bool:
    """Authors submit and revise in the submission phase (deadlines are checked by the service)."""
    return is_author(member) and member.group_id is not None and venue.phase == Phase.submission.value


@because("Join a group first: submissions belong to groups.")
def can_view_own_submission(user: User, member: Member | None, venue: Venue) -> bool:
    """The authors' own submission page (and its forms) is for members of a group."""
    return member is not None and member.group_id is not None


@because("You cannot see this submission.")
def can_view_submission(st: Standing) -> bool:
    """Staff and the submitting group; an assigned reviewer from the review phase on (anonymized views only)."""
    return st.staff or st.author or (st.assigned and st.phase in REVIEWING_PHASES)


@because("The original PDF (with its metadata) is for the authors and the venue's staff; reviewers read the "
         "reviewer copy.")
def can_view_original_pdf(st: Standing) -> bool:
    """The unscrubbed original (with its metadata) is for staff and the authors only."""
    return st.staff or st.author


@because("Reviewers read the revision that counts; earlier revisions are for the authors and the venue's staff.")
def can_view_superseded_revisions(st: Standing) -> bool:
    """Every revision (an earlier one may still name the authors) for the group and staff; reviewers only the
    current one, so a fix in a later upload is not undone by the one before it."""
    return st.staff or st.author


@because("The format report's title and identity findings are for the authors and the venue's staff.")
def can_read_format_report_unmasked(st: Standing) -> bool:
    """The format report as the check wrote it (the PDF's /Title, findings quoting names) for the group and staff;
    reviewers read it without the title and with author text masked."""
    return st.staff or st.author


@because("Only chairs and TAs list submissions.")
def can_list_submissions(user: User, member: Member | None, venue: Venue) -> bool:
    return is_staff(user, member)


@because("Only the submission's authors and the venue's staff can start runs.")
def can_request_run(st: Standing) -> bool:
    """The submission's authors and staff queue runs of its artifact (reviewers read them)."""
    return st.staff or st.author


@because("You cannot see this submission's runs.")
def can_view_runs(st: Standing) -> bool:
    """Whoever may see the submission sees its runs (reviewers through their assignment, logs anonymized)."""
    return can_view_submission(st)


@because("Only admins and venue chairs manage rigs.")
def can_manage_rigs(user: User, chairs_a_venue: bool) -> bool:
    """Admins and the chair of any venue register rigs (for the venues they chair) and see their tokens once."""
    return user.is_admin or chairs_a_venue


@because("Only site admins register site-wide rigs; a chair's rig serves the venues they chair.")
def can_make_site_wide_rig(user: User) -> bool:
    """A site-wide rig runs every venue's artifacts and downloads their original bundles: site admins only."""
    return user.is_admin


@because("This rig serves only the venues its creator chairs, and not this one.")
def can_rig_serve(rig: Rig, creator: User | None, creator_member: Member | None, venue: Venue) -> bool:
    """A rig claims runs and downloads original bundles of the venues its creator chairs (`creator_member`: the
    creator's membership in `venue`), or of every venue when a site admin made it site-wide."""
    if rig.site_wide:
        return True
    return (creator is not None and creator_member is not None and creator_member.user_id == creator.id
            and creator_member.venue_id == venue.id and creator_member.role == Role.chair.value)


@because("The artifact as uploaded is for the authors and the venue's staff.")
def can_view_artifact_original(st: Standing) -> bool:
    """The artifact as uploaded (names, emails) is for the group and staff; everyone else reads the anonymized view."""
    return st.staff or st.author


@because("Who did what in a group is for the group's members and the venue's staff only.")
def can_view_contributions(st: Standing) -> bool:
    """The repository history per member names authors: the group and staff, never reviewers."""
    return st.staff or st.author


@because("Only the group's own members claim its git identities, and not once the venue is closed.")
def can_claim_identity(st: Standing) -> bool:
    return st.author and st.member is not None and st.phase != Phase.closed.value


@because("Only the venue's chairs map git identities to members.")
def can_map_identity(st: Standing) -> bool:
    return st.chair


@because("Only chairs and TAs see this page.")
def can_view_submission_staff_page(user: User, member: Member | None, venue: Venue) -> bool:
    """The staff page of a submission (identities, original PDFs, manifest problems): chairs and TAs."""
    return is_staff(user, member)


@because("Claims are changed by the authors during the submission phase, or by a chair.")
def can_edit_claims(st: Standing) -> bool:
    """Authors state their claims while they may still change the submission; chairs may correct them."""
    return st.chair or (st.author and can_submit(st.user, st.member, st.venue))


@because("Only chairs decide badges.")
def can_decide_badges(st: Standing) -> bool:
    """Only chairs confirm or override a submission's artifact badges (with a reason, audited)."""
    return st.chair


@because("Run logs as printed are for the authors and the venue's staff.")
def can_read_run_logs_unmasked(st: Standing) -> bool:
    """Run logs as printed (they may name the authors) for the group and staff; others read them anonymized."""
    return st.staff or st.author


@because("What the authors wrote, as they wrote it, is for the authors and the venue's staff.")
def can_read_author_text_unmasked(st: Standing) -> bool:
    """The authors' response and the discussion as written (a signed "— Alessandra") for the group and staff;
    reviewers read them through the submission's masker."""
    return st.staff or st.author


# --- assignment, bids, interests, conflicts ---------------------------------------------------------------------


@because("Only the venue's chairs change the assignment (in the submission, assignment or review phase).")
def can_manage_assignments(user: User, member: Member | None, venue: Venue) -> bool:
    """Chairs run and adjust the assignment (TAs may look, not change)."""
    return is_chair(user, member) and venue.phase in {Phase.assignment.value, Phase.review.value,
                                                      Phase.submission.value}


@because("Only chairs and TAs see assignments.")
def can_view_assignments(user: User, member: Member | None, venue: Venue) -> bool:
    return is_staff(user, member)


@because("Bidding is open to reviewers in the assignment phase.")
def can_bid(user: User, member: Member | None, venue: Venue) -> bool:
    """Reviewers bid on titles and abstracts during the assignment phase (the bidding window)."""
    return member is not None and member.role in {Role.student.value, Role.reviewer.value} \
        and venue.phase == Phase.assignment.value


@because("Bidding is open to reviewers in the assignment phase.")
def can_open_bids_page(user: User, member: Member | None, venue: Venue) -> bool:
    """The bids page holds bidding and interests: open while either is."""
    return can_bid(user, member, venue) or can_edit_interests(user, member, venue)


@because("Only members of the venue have interests here.")
def can_view_interests(user: User, member: Member | None, venue: Venue) -> bool:
    return member is not None


@because("Interests are set by members of the venue before the review phase.")
def can_edit_interests(user: User, member: Member | None, venue: Venue) -> bool:
    """Reviewers (students, external reviewers) and staff describe their expertise until reviewing starts."""
    return member is not None and venue.phase in {Phase.setup.value, Phase.submission.value,
                                                  Phase.assignment.value}


@because("Conflicts can no longer be declared.")
def can_declare_conflict(user: User, member: Member | None, venue: Venue) -> bool:
    return is_staff(user, member) or (member is not None and venue.phase in {
        Phase.setup.value, Phase.submission.value, Phase.assignment.value})


@because("Only members of the venue declare conflicts.")
def can_view_own_conflicts(user: User, member: Member | None, venue: Venue) -> bool:
    """Everyone in the venue sees the conflicts they declared (staff see the whole list)."""
    return member is not None or can_view_conflicts(user, member, venue)


@because("Only chairs and TAs see the venue's conflicts.")
def can_view_conflicts(user: User, member: Member | None, venue: Venue) -> bool:
    """The venue's whole conflict list names people and groups: staff only."""
    return is_staff(user, member)


@because("Only the venue's chairs import conflicts.")
def can_import_conflicts(user: User, member: Member | None, venue: Venue) -> bool:
    return is_chair(user, member) and venue.phase != Phase.closed.value


# --- reviews, discussion, responses, ratings --------------------------------------------------------------------

NOT_YOUR_REVIEW = "Only reviewers assigned to this submission write its review (in the review phase)."


@because(NOT_YOUR_REVIEW)
def can_open_review(st: Standing) -> bool:
    """The reviewer's own review of a submission they may see (writing it depends on the phase)."""
    return st.assigned and can_view_submission(st)


@because(NOT_YOUR_REVIEW)
def can_write_review(st: Standing) -> bool:
    """Assigned reviewers write in the review phase and may update a submitted review up to the discussion."""
    return st.assigned and st.member is not None and st.phase in REVIEW_WRITE_PHASES


@because("Reviews are shown to reviewers after they submit their own, and to the authors from the response phase.")
def can_read_reviews(st: Standing) -> bool:
    """Staff always; a reviewer once their own review is in; the authors from the response phase on."""
    if st.staff:
        return True
    if st.assigned and st.submitted_own and st.phase in REVIEWING_PHASES:
        return True
    return st.author and st.phase in AUTHORS_READ_REVIEWS


@because("The discussion opens to reviewers after they submit their review, and to authors in the response phase.")
def can_read_discussion(st: Standing) -> bool:
    return can_read_reviews(st)


@because("You cannot post in this discussion now (reviewers after submitting, authors in the response phase).")
def can_post_comment(st: Standing) -> bool:
    """Reviewers after submitting their own review; authors in the response phase; staff while it runs."""
    if st.staff:
        return st.phase in COMMENT_PHASES | {Phase.moderation.value}
    if st.assigned and st.submitted_own:
        return st.phase in COMMENT_PHASES
    return st.author and st.phase == Phase.response.value


@because("The authors write one response, in the response phase.")
def can_respond(st: Standing) -> bool:
    """One response per group, written by its members in the response phase."""
    return is_author(st.member) and st.author and st.phase == Phase.response.value


@because("The response is shown to the reviewers from the response phase on.")
def can_read_response(st: Standing) -> bool:
    if st.staff or st.author:
        return True
    return st.assigned and st.phase in AUTHORS_READ_REVIEWS


@because("The authors rate the reviews of their submission once they can read them.")
def can_rate_review(st: Standing) -> bool:
    """Authors rate the helpfulness of the reviews they can read."""
    return is_author(st.member) and st.author and st.phase in AUTHORS_READ_REVIEWS


@because("Only chairs and TAs see ratings.")
def can_view_ratings(user: User, member: Member | None, venue: Venue) -> bool:
    """Ratings are an input to review-quality marks: staff only, never shown to the reviewer by name."""
    return is_staff(user, member)


@because("Members of the venue only.")
def can_view_review_form(user: User, member: Member | None, venue: Venue) -> bool:
    return member is not None or is_staff(user, member)


@because("Only chairs and TAs see the review form settings.")
def can_view_review_form_settings(user: User, member: Member | None, venue: Venue) -> bool:
    return is_staff(user, member)


@because("Only chairs change the review form.")
def can_edit_review_form(user: User, member: Member | None, venue: Venue) -> bool:
    return is_chair(user, member) and venue.phase != Phase.closed.value


def why_not_remind_reviewer(user: User, member: Member | None, venue: Venue) -> str:
    if not is_staff(user, member):
        return "Only the venue's chairs and TAs remind reviewers."
    return f"Reviewers are reminded while reviews can be written (the venue is in the {venue.phase} phase)."


@because(why_not_remind_reviewer)
def can_remind_reviewer(user: User, member: Member | None, venue: Venue) -> bool:
    """Chairs and TAs mail a reviewer the reviews they have not submitted, while reviews can still be written."""
    return is_staff(user, member) and venue.phase in REVIEW_WRITE_PHASES


@because("Members of the venue only.")
def can_list_own_reviews(user: User, member: Member | None, venue: Venue) -> bool:
    return member is not None
# --- moderation and marks -------------------------------------------------------------------------------------
# Before release no student sees any mark, suggestion, flag or calibrated score; after it, only their own marks.

MODERATION_PHASES = {Phase.moderation.value, Phase.released.value, Phase.closed.value}
MARKS_RELEASED_PHASES = {Phase.released.value, Phase.closed.value}


@because("Only the venue's lecturers and TAs moderate.")
def can_moderate(user: User, member: Member | None, venue: Venue) -> bool:
    """Chairs and TAs read the moderation queue, calibrated scores and flags, and set marks."""
    return is_staff(user, member)


@because("Only the venue's lecturers and TAs mark reviews, and not once the venue is closed.")
def can_mark_reviews(user: User, member: Member | None, venue: Venue) -> bool:
    """Chairs and TAs mark the quality of reviews (confirm or override the suggestion)."""
    return is_staff(user, member) and venue.phase != Phase.closed.value


@because("Only the venue's lecturers and TAs set marks, and not once the venue is closed.")
def can_adjust_marks(user: User, member: Member | None, venue: Venue) -> bool:
    """Chairs and TAs set or adjust a mark, with a reason (audited); not once the venue is closed."""
    return is_staff(user, member) and venue.phase != Phase.closed.value


@because("Only the venue's chairs hide reviews or exclude reviewers, and not once the venue is closed.")
def can_moderate_reviews(user: User, member: Member | None, venue: Venue) -> bool:
    """Hiding a review from the authors, marking it abusive, excluding a reviewer from calibration: chairs."""
    return is_chair(user, member) and venue.phase != Phase.closed.value


@because("Only the venue's chairs edit the marking scheme, and not once the venue is closed.")
def can_edit_marking_scheme(user: User, member: Member | None, venue: Venue) -> bool:
    """Chairs edit the marking scheme (the service refuses while it is frozen after a release)."""
    return is_chair(user, member) and venue.phase != Phase.closed.value


@because("Only the venue's chairs unfreeze the marking scheme, and not once the venue is closed.")
def can_unfreeze_marking_scheme(user: User, member: Member | None, venue: Venue) -> bool:
    return is_chair(user, member) and venue.phase != Phase.closed.value


@because("Only the venue's chairs choose calibration items, and not once the venue is closed.")
def can_manage_calibration_items(user: User, member: Member | None, venue: Venue) -> bool:
    return is_chair(user, member) and venue.phase != Phase.closed.value


@because(lambda user, member, venue: why_not_release_marks(user, member, venue))
def can_release_marks(user: User, member: Member | None, venue: Venue) -> bool:
    """Chairs release marks, per venue or per submission, from the moderation phase on."""
    return is_chair(user, member) and venue.phase in MODERATION_PHASES


def why_not_release_marks(user: User, member: Member | None, venue: Venue) -> str:
    if not is_chair(user, member):
        return "Only the venue's chairs release marks."
    return f"Marks are released from the moderation phase on (the venue is in the {venue.phase} phase)."


@because("Only the venue's lecturers and TAs see every mark.")
def can_view_all_marks(user: User, member: Member | None, venue: Venue) -> bool:
    """Lecturers and TAs see every mark, draft or released."""
    return is_staff(user, member)


@because(lambda user, member, venue, draft=False: "Only the venue's chairs export draft marks." if draft
         else "Only the venue's lecturers and TAs export marks.")
def can_export_marks(user: User, member: Member | None, venue: Venue, draft: bool = False) -> bool:
    """The gradebook export: chairs (a draft export of marks not yet released too); TAs the released marks."""
    return is_chair(user, member) if draft else is_staff(user, member)


@because('Your marks are not released yet.')
def can_view_own_marks(user: User, member: Member | None, venue: Venue, released: bool) -> bool:
    """A student sees their own marks, and only once they are released (`released`: the service says whether
    a release covers them)."""
    return member is not None and member.role == Role.student.value and released


# A new review can be written only in the review phase (app.services.reviews), so that is when an extra reviewer
# can be asked for: later, the reviewer would be mailed a review they could not write.
EXTRA_REVIEW_PHASES = {Phase.review.value}


def why_not_request_extra_review(user: User, member: Member | None, venue: Venue) -> str:
    if not is_chair(user, member):
        return "Only the venue's chairs ask for an extra review."
    return ("An extra review can be asked for in the review phase only, while new reviews can still be written "
            f"(the venue is in the {venue.phase} phase).")


@because(why_not_request_extra_review)
def can_request_extra_review(user: User, member: Member | None, venue: Venue) -> bool:
    """Chairs ask for one more reviewer on a submission (e.g. when its reviewers disagree), in the review phase."""
    return is_chair(user, member) and venue.phase in EXTRA_REVIEW_PHASES
