"""The one gate for identities: what name a viewer sees for a person.

Templates and API schemas never read a person's name directly; they call display_name. On a submission,
authors appear to others as "Authors of #17" and reviewers as their stable pseudonym ("Reviewer B");
chairs and TAs see everybody (with the pseudonym beside the name, so they can follow the discussion).
"""

from app.models import Member, Submission, User
from app.security.permissions import is_staff

ANONYMOUS = "Anonymous"
CHAIR = "Chair"


def authors_label(submission: Submission) -> str:
    return f"Authors of #{submission.number}"


def display_name(viewer: User, viewer_member: Member | None, person: User, person_member: Member | None, *,
                 submission: Submission | None = None, pseudonym: str | None = None) -> str:
    """Staff see everybody; a person sees themself and their own group; others see a label or no name."""
    if viewer.id == person.id:
        return f"You ({pseudonym})" if pseudonym else person.full_name
    if is_staff(viewer, viewer_member):
        return f"{person.full_name} ({pseudonym})" if pseudonym else person.full_name
    same_group = (viewer_member is not None and person_member is not None and viewer_member.group_id is not None
                  and viewer_member.group_id == person_member.group_id)
    if same_group and not pseudonym:
        return person.full_name
    if submission is not None and person_member is not None and person_member.group_id == submission.group_id:
        return authors_label(submission)
    if pseudonym:
        return pseudonym
    return ANONYMOUS


def display_email(viewer: User, viewer_member: Member | None, person: User, person_member: Member | None) -> str | None:
    return person.email if display_name(viewer, viewer_member, person, person_member) != ANONYMOUS else None


def comment_signature(viewer: User, viewer_member: Member | None, author: User, author_member: Member | None,
                      as_role: str, submission: Submission, pseudonym: str | None) -> str:
    """How a discussion post is signed for this viewer ("Chair", "Reviewer A", "Authors of #17", a name)."""
    if as_role == "chair":
        return f"Chair ({author.full_name})" if is_staff(viewer, viewer_member) else CHAIR
    if as_role == "author":
        if viewer.id == author.id:
            return "You (authors)"
        if is_staff(viewer, viewer_member):
            return f"{author.full_name} ({authors_label(submission)})"
        same_group = viewer_member is not None and viewer_member.group_id == submission.group_id
        return author.full_name if same_group else authors_label(submission)
    return display_name(viewer, viewer_member, author, author_member, submission=submission,
                        pseudonym=pseudonym or "Reviewer")
