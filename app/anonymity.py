"""The one gate for identities: what name a viewer sees for a person.

Templates and API schemas never read a person's name directly; they call display_name.
Later phases add submissions and reviews (pseudonyms such as "Reviewer B", "Authors of #17").
"""

from app.models import Member, User
from app.security.permissions import is_staff

ANONYMOUS = "Anonymous"


def display_name(viewer: User, viewer_member: Member | None, person: User, person_member: Member | None) -> str:
    """Staff see everybody; a person sees themself and their own group; others see no name."""
    if viewer.id == person.id or is_staff(viewer, viewer_member):
        return person.full_name
    if (viewer_member is not None and person_member is not None and viewer_member.group_id is not None
            and viewer_member.group_id == person_member.group_id):
        return person.full_name
    return ANONYMOUS


def display_email(viewer: User, viewer_member: Member | None, person: User, person_member: Member | None) -> str | None:
    return person.email if display_name(viewer, viewer_member, person, person_member) != ANONYMOUS else None
