"""Every permission decision, as can_* functions used by the pages and the JSON API alike.

Each takes the signed-in user, their membership in the venue (or None) and the venue, and
answers a question; `require` turns a "no" into Forbidden with a message a person understands.
"""

from app.errors import Forbidden
from app.models import Extension, Group, Member, Phase, Role, User, Venue

GROUP_PHASES = {Phase.setup.value, Phase.submission.value}
STAFF_ROLES = {Role.chair.value, Role.ta.value}


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


def can_view_submission(user: User, member: Member | None, venue: Venue, submission) -> bool:  # noqa: ANN001
    """Staff and the submitting group; reviewers gain access through assignments (a later phase)."""
    return is_staff(user, member) or (member is not None and member.group_id == submission.group_id)


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


def can_view_runs(user: User, member: Member | None, venue: Venue, submission) -> bool:  # noqa: ANN001
    """Whoever may see the submission sees its runs (reviewers gain it through assignments)."""
    return can_view_submission(user, member, venue, submission)


def can_manage_rigs(user: User, chairs_a_venue: bool) -> bool:
    """Rigs are site-wide: admins and the chair of any venue register them and see their tokens once."""
    return user.is_admin or chairs_a_venue
