"""Every permission decision, as can_* functions used by the pages and the JSON API alike.

Each takes the signed-in user, their membership in the venue (or None) and the venue, and
answers a question; `require` turns a "no" into Forbidden with a message a person understands.
"""

from app.errors import Forbidden
from app.models import Extension, Group, Member, Phase, Role, User, Venue

GROUP_PHASES = {Phase.setup.value, Phase.submission.value}
STAFF_ROLES = {Role.chair.value, Role.ta.value}
# phases in which assigned reviewers read their papers; authors read their reviews from the response phase on
REVIEWING_PHASES = {Phase.review.value, Phase.response.value, Phase.discussion.value, Phase.moderation.value,
                    Phase.released.value, Phase.closed.value}
REVIEW_WRITE_PHASES = {Phase.review.value, Phase.response.value, Phase.discussion.value}
AUTHORS_READ_REVIEWS = {Phase.response.value, Phase.discussion.value, Phase.moderation.value, Phase.released.value,
                        Phase.closed.value}
COMMENT_PHASES = {Phase.review.value, Phase.response.value, Phase.discussion.value}


def require(allowed: bool, message: str = "You are not allowed to do that.") -> None:
    if not allowed:
        raise Forbidden(message)


def is_chair(user: User, member: Member | None) -> bool:
    return user.is_admin or (member is not None and member.role == Role.chair.value)


def is_staff(user: User, member: Member | None) -> bool:
    """Chairs and TAs (the design's "lecturer / TA (chair)"), and site admins."""
    return user.is_admin or (member is not None and member.role in STAFF_ROLES)


def is_author(member: Member | None) -> bool:
    return member is not None and member.role == Role.student.value


def can_create_venue(user: User) -> bool:
    return user.is_admin


def can_view_venue(user: User, member: Member | None, venue: Venue) -> bool:
    return user.is_admin or member is not None


def can_manage_venue(user: User, member: Member | None, venue: Venue) -> bool:
    """Settings, phases, deadlines, roles and roster: lecturers (chairs) only."""
    return is_chair(user, member)


def can_change_phase(user: User, member: Member | None, venue: Venue) -> bool:
    return is_chair(user, member)


def can_set_deadline(user: User, member: Member | None, venue: Venue) -> bool:
    return is_chair(user, member)


def can_change_role(user: User, member: Member | None, venue: Venue, target: Member) -> bool:
    # A chair may not demote themselves: a venue must never lose its last way to be managed.
    return is_chair(user, member) and (member is None or target.id != member.id or user.is_admin)


def can_import_roster(user: User, member: Member | None, venue: Venue) -> bool:
    return is_chair(user, member)


def can_view_roster(user: User, member: Member | None, venue: Venue) -> bool:
    return is_staff(user, member)


def can_view_audit(user: User, member: Member | None, venue: Venue) -> bool:
    return is_staff(user, member)


def can_manage_groups(user: User, member: Member | None, venue: Venue) -> bool:
    return is_staff(user, member) and venue.phase != Phase.closed.value


def can_view_group(user: User, member: Member | None, venue: Venue, group: Group) -> bool:
    """Group names are identities: students see only their own group (double-blind)."""
    return is_staff(user, member) or (member is not None and member.group_id == group.id)


def can_create_group(user: User, member: Member | None, venue: Venue) -> bool:
    return is_author(member) and member.group_id is None and venue.phase in GROUP_PHASES


def can_join_group(user: User, member: Member | None, venue: Venue) -> bool:
    return can_create_group(user, member, venue)


def can_leave_group(user: User, member: Member | None, venue: Venue) -> bool:
    return is_author(member) and member.group_id is not None and venue.phase in GROUP_PHASES


def can_request_extension(user: User, member: Member | None, venue: Venue) -> bool:
    return (
        is_author(member)
        and member.group_id is not None
        and venue.phase in {Phase.setup.value, Phase.submission.value}
    )


def can_view_extension(user: User, member: Member | None, venue: Venue, extension: Extension) -> bool:
    return is_staff(user, member) or (member is not None and member.group_id == extension.group_id)


def can_decide_extension(user: User, member: Member | None, venue: Venue) -> bool:
    return is_staff(user, member)


def why_not_create_group(user: User, member: Member | None, venue: Venue) -> str:
    """The reason can_create_group said no, for the page and the API."""
    if not is_author(member):
        return "Only students of this venue form groups."
    if member.group_id is not None:
        return "You are already in a group in this venue: leave it first."
    return f"Groups can be formed only in the setup and submission phases (the venue is in {venue.phase})."


def can_submit(user: User, member: Member | None, venue: Venue) -> bool:
    """Authors submit and revise in the submission phase (deadlines are checked by the service)."""
    return is_author(member) and member.group_id is not None and venue.phase == Phase.submission.value


def can_view_submission(user: User, member: Member | None, venue: Venue, submission,  # noqa: ANN001
                        assigned: bool = False) -> bool:
    """Staff and the submitting group; an assigned reviewer from the review phase on (anonymized views only)."""
    return is_staff(user, member) or (member is not None and member.group_id == submission.group_id) \
        or (assigned and member is not None and venue.phase in REVIEWING_PHASES)


def can_view_original_pdf(user: User, member: Member | None, venue: Venue, submission) -> bool:  # noqa: ANN001
    """The unscrubbed original (with its metadata) is for chairs and the authors only."""
    return can_view_submission(user, member, venue, submission)


def can_list_submissions(user: User, member: Member | None, venue: Venue) -> bool:
    return is_staff(user, member)


def can_manage_assignments(user: User, member: Member | None, venue: Venue) -> bool:
    """Chairs run and adjust the assignment (TAs may look, not change)."""
    return is_chair(user, member) and venue.phase in {Phase.assignment.value, Phase.review.value,
                                                      Phase.submission.value}


def can_view_assignments(user: User, member: Member | None, venue: Venue) -> bool:
    return is_staff(user, member)


def can_bid(user: User, member: Member | None, venue: Venue) -> bool:
    """Reviewers bid on titles and abstracts during the assignment phase (the bidding window)."""
    return member is not None and member.role in {Role.student.value, Role.reviewer.value} \
        and venue.phase == Phase.assignment.value


def can_declare_conflict(user: User, member: Member | None, venue: Venue) -> bool:
    return is_staff(user, member) or (member is not None and venue.phase in {
        Phase.setup.value, Phase.submission.value, Phase.assignment.value})


def can_request_run(user: User, member: Member | None, venue: Venue, submission) -> bool:  # noqa: ANN001
    """The submission's authors and staff queue runs of its artifact (reviewers read them)."""
    return is_staff(user, member) or (member is not None and member.group_id == submission.group_id)


def can_view_runs(user: User, member: Member | None, venue: Venue, submission,  # noqa: ANN001
                  assigned: bool = False) -> bool:
    """Whoever may see the submission sees its runs (reviewers through their assignment, logs anonymized)."""
    return can_view_submission(user, member, venue, submission, assigned=assigned)


def can_manage_rigs(user: User, chairs_a_venue: bool) -> bool:
    """Rigs are site-wide: admins and the chair of any venue register them and see their tokens once."""
    return user.is_admin or chairs_a_venue


def can_view_artifact_original(user: User, member: Member | None, venue: Venue, submission) -> bool:  # noqa: ANN001
    """The artifact as uploaded (names, emails) is for the group and staff; everyone else reads the anonymized view."""
    return is_staff(user, member) or (member is not None and member.group_id == submission.group_id)


def can_view_submission_staff_page(user: User, member: Member | None, venue: Venue) -> bool:
    """The staff page of a submission (identities, original PDFs, manifest problems): chairs and TAs."""
    return is_staff(user, member)


def can_edit_interests(user: User, member: Member | None, venue: Venue) -> bool:
    """Reviewers (students, external reviewers) and staff describe their expertise until reviewing starts."""
    return member is not None and venue.phase in {Phase.setup.value, Phase.submission.value,
                                                  Phase.assignment.value}


def can_view_conflicts(user: User, member: Member | None, venue: Venue) -> bool:
    """The venue's whole conflict list names people and groups: staff only."""
    return is_staff(user, member)


def can_import_conflicts(user: User, member: Member | None, venue: Venue) -> bool:
    return is_chair(user, member) and venue.phase != Phase.closed.value


def can_edit_claims(user: User, member: Member | None, venue: Venue, submission) -> bool:  # noqa: ANN001
    """Authors state their claims while they may still change the submission; chairs may correct them."""
    return is_chair(user, member) or (can_submit(user, member, venue) and member.group_id == submission.group_id)


def can_decide_badges(user: User, member: Member | None, venue: Venue, submission) -> bool:  # noqa: ANN001, ARG001
    """Only chairs confirm or override a submission's artifact badges (with a reason, audited)."""
    return is_chair(user, member)


def can_read_run_logs_unmasked(user: User, member: Member | None, venue: Venue, submission) -> bool:  # noqa: ANN001
    """Run logs as printed (they may name the authors) for the group and staff; others read them anonymized."""
    return is_staff(user, member) or (member is not None and member.group_id == submission.group_id)


# --- reviews, discussion, responses, ratings -----------------------------------------------------------------
# `assigned`: the member is assigned to review this submission; `submitted_own`: their review is submitted.
# The review service computes both (app.services.reviews.relation) so these stay pure.


def is_submission_author(member: Member | None, submission) -> bool:  # noqa: ANN001
    return member is not None and member.group_id is not None and member.group_id == submission.group_id


def can_write_review(user: User, member: Member | None, venue: Venue, assigned: bool) -> bool:
    """Assigned reviewers write in the review phase and may update a submitted review up to the discussion."""
    return assigned and member is not None and venue.phase in REVIEW_WRITE_PHASES


def can_read_reviews(user: User, member: Member | None, venue: Venue, submission, *,  # noqa: ANN001
                     assigned: bool, submitted_own: bool) -> bool:
    """Staff always; a reviewer once their own review is in; the authors from the response phase on."""
    if is_staff(user, member):
        return True
    if assigned and submitted_own and venue.phase in REVIEWING_PHASES:
        return True
    return is_submission_author(member, submission) and venue.phase in AUTHORS_READ_REVIEWS


def can_read_discussion(user: User, member: Member | None, venue: Venue, submission, *,  # noqa: ANN001
                        assigned: bool, submitted_own: bool) -> bool:
    return can_read_reviews(user, member, venue, submission, assigned=assigned, submitted_own=submitted_own)


def can_post_comment(user: User, member: Member | None, venue: Venue, submission, *,  # noqa: ANN001
                     assigned: bool, submitted_own: bool) -> bool:
    """Reviewers after submitting their own review; authors in the response phase; staff while it runs."""
    if is_staff(user, member):
        return venue.phase in COMMENT_PHASES | {Phase.moderation.value}
    if assigned and submitted_own:
        return venue.phase in COMMENT_PHASES
    return is_submission_author(member, submission) and venue.phase == Phase.response.value


def can_respond(user: User, member: Member | None, venue: Venue, submission) -> bool:  # noqa: ANN001
    """One response per group, written by its members in the response phase."""
    return is_author(member) and is_submission_author(member, submission) and venue.phase == Phase.response.value


def can_read_response(user: User, member: Member | None, venue: Venue, submission, *,  # noqa: ANN001
                      assigned: bool) -> bool:
    if is_staff(user, member) or is_submission_author(member, submission):
        return True
    return assigned and venue.phase in AUTHORS_READ_REVIEWS


def can_rate_review(user: User, member: Member | None, venue: Venue, submission) -> bool:  # noqa: ANN001
    """Authors rate the helpfulness of the reviews they can read."""
    return is_author(member) and is_submission_author(member, submission) and venue.phase in AUTHORS_READ_REVIEWS


def can_view_ratings(user: User, member: Member | None, venue: Venue) -> bool:
    """Ratings are an input to review-quality marks: staff only, never shown to the reviewer by name."""
    return is_staff(user, member)


def can_edit_review_form(user: User, member: Member | None, venue: Venue) -> bool:
    return is_chair(user, member) and venue.phase != Phase.closed.value


def can_list_own_reviews(user: User, member: Member | None, venue: Venue) -> bool:
    return member is not None



# --- moderation and marks -------------------------------------------------------------------------------------
# Before release no student sees any mark, suggestion, flag or calibrated score; after it, only their own marks.

MODERATION_PHASES = {Phase.moderation.value, Phase.released.value, Phase.closed.value}
MARKS_RELEASED_PHASES = {Phase.released.value, Phase.closed.value}


def can_moderate(user: User, member: Member | None, venue: Venue) -> bool:
    """Chairs and TAs read the moderation queue, calibrated scores and flags, and set marks."""
    return is_staff(user, member)


def can_mark_reviews(user: User, member: Member | None, venue: Venue) -> bool:
    """Chairs and TAs mark the quality of reviews (confirm or override the suggestion)."""
    return is_staff(user, member) and venue.phase != Phase.closed.value


def can_adjust_marks(user: User, member: Member | None, venue: Venue) -> bool:
    """Chairs and TAs set or adjust a mark, with a reason (audited); not once the venue is closed."""
    return is_staff(user, member) and venue.phase != Phase.closed.value


def can_moderate_reviews(user: User, member: Member | None, venue: Venue) -> bool:
    """Hiding a review from the authors, marking it abusive, excluding a reviewer from calibration: chairs."""
    return is_chair(user, member) and venue.phase != Phase.closed.value


def can_edit_marking_scheme(user: User, member: Member | None, venue: Venue) -> bool:
    """Chairs edit the marking scheme (the service refuses while it is frozen after a release)."""
    return is_chair(user, member) and venue.phase != Phase.closed.value


def can_unfreeze_marking_scheme(user: User, member: Member | None, venue: Venue) -> bool:
    return is_chair(user, member) and venue.phase != Phase.closed.value


def can_manage_calibration_items(user: User, member: Member | None, venue: Venue) -> bool:
    return is_chair(user, member) and venue.phase != Phase.closed.value


def can_release_marks(user: User, member: Member | None, venue: Venue) -> bool:
    """Chairs release marks, per venue or per submission, from the moderation phase on."""
    return is_chair(user, member) and venue.phase in MODERATION_PHASES


def why_not_release_marks(user: User, member: Member | None, venue: Venue) -> str:
    if not is_chair(user, member):
        return "Only the venue's chairs release marks."
    return f"Marks are released from the moderation phase on (the venue is in the {venue.phase} phase)."


def can_view_all_marks(user: User, member: Member | None, venue: Venue) -> bool:
    """Lecturers and TAs see every mark, draft or released."""
    return is_staff(user, member)


def can_export_marks(user: User, member: Member | None, venue: Venue, *, draft: bool = False) -> bool:
    """The gradebook export: chairs (a draft export of marks not yet released too); TAs the released marks."""
    return is_chair(user, member) if draft else is_staff(user, member)


def can_view_own_marks(user: User, member: Member | None, venue: Venue, *, released: bool) -> bool:
    """A student sees their own marks, and only once they are released (`released`: the service says whether
    a release covers them)."""
    return member is not None and member.role == Role.student.value and released
