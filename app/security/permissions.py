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
