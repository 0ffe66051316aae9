"""Groups: students form them with a join code; chairs can form and move them too."""

from sqlalchemy import func
from sqlmodel import Session, select

from app.errors import BadInput, Conflict, NotFound
from app.models import Group, Member, Role, User, Venue
from app.security.tokens import new_join_code, normalise_join_code
from app.services import audit
from app.services.anonymization import refresh_anonymized_views
from app.settings import Settings


def get_group(session: Session, venue: Venue, group_id: int) -> Group:
    group = session.get(Group, group_id)
    if group is None or group.venue_id != venue.id:
        raise NotFound("No such group in this venue.")
    return group


def list_groups(session: Session, venue: Venue) -> list[tuple[Group, list[tuple[Member, User]]]]:
    groups = session.exec(select(Group).where(Group.venue_id == venue.id).order_by(Group.name)).all()
    rows = session.exec(
        select(Member, User).join(User, User.id == Member.user_id)
        .where(Member.venue_id == venue.id, Member.group_id != None)  # noqa: E711
        .order_by(User.full_name)
    ).all()
    by_group: dict[int, list[tuple[Member, User]]] = {}
    for member, user in rows:
        by_group.setdefault(member.group_id, []).append((member, user))
    return [(g, by_group.get(g.id, [])) for g in groups]


def group_members(session: Session, group: Group) -> list[tuple[Member, User]]:
    return list(session.exec(
        select(Member, User).join(User, User.id == Member.user_id).where(Member.group_id == group.id)
        .order_by(User.full_name)
    ).all())


def group_size(session: Session, group_id: int) -> int:
    return session.exec(select(func.count()).select_from(Member).where(Member.group_id == group_id)).one()


def _check_name(session: Session, venue: Venue, name: str) -> str:
    name = " ".join(name.split())
    if not (2 <= len(name) <= 120):
        raise BadInput("A group name has 2 to 120 characters.")
    if session.exec(select(Group).where(Group.venue_id == venue.id, Group.name == name)).first():
        raise Conflict(f"A group called '{name}' exists already in this venue: choose another name.")
    return name


def _unique_code(session: Session) -> str:
    while True:
        code = new_join_code()
        if not session.exec(select(Group).where(Group.join_code == code)).first():
            return code


def create_group(session: Session, actor: User, venue: Venue, name: str, founder: Member | None) -> Group:
    """A new group; the founder (a student) joins it at once."""
    group = Group(venue_id=venue.id, name=_check_name(session, venue, name), join_code=_unique_code(session))
    session.add(group)
    session.flush()
    if founder is not None:
        founder.group_id = group.id
        session.add(founder)
    audit.record(session, venue_id=venue.id, actor=actor, action="group.create",
                 summary=f"created group '{group.name}'", group_id=group.id,
                 **({"member_id": founder.id} if founder is not None else {}))
    return group


def find_by_code(session: Session, venue: Venue, code: str) -> Group:
    clean = normalise_join_code(code)
    group = session.exec(select(Group).where(Group.join_code == clean, Group.venue_id == venue.id)).first() \
        if clean else None
    if group is None:
        raise NotFound(f"No group in this venue has the join code '{code.strip()[:20]}'. Check it with your group.")
    return group


def join_group(session: Session, settings: Settings, actor: User, venue: Venue, member: Member, code: str) -> Group:
    group = find_by_code(session, venue, code)
    _add_to_group(session, actor, venue, member, group)
    refresh_anonymized_views(session, settings, actor, group.id)
    return group


def _add_to_group(session: Session, actor: User, venue: Venue, member: Member, group: Group) -> None:
    if member.role != Role.student.value:
        raise Conflict("Only students can be members of a group.")
    if member.group_id == group.id:
        raise Conflict(f"Already a member of '{group.name}'.")
    size = group_size(session, group.id)
    if size >= venue.group_max:
        raise Conflict(f"Group '{group.name}' is full ({size} of {venue.group_max} members).")
    before = member.group_id
    member.group_id = group.id
    session.add(member)
    user = session.get(User, member.user_id)
    audit.record(session, venue_id=venue.id, actor=actor, action="group.join",
                 summary=f"{user.email} joined '{group.name}'" if before is None
                 else f"moved {user.email} to '{group.name}'",
                 group_id=group.id, member_id=member.id, before_group_id=before)


def leave_group(session: Session, actor: User, venue: Venue, member: Member) -> None:
    if member.group_id is None:
        raise Conflict("Not in a group.")
    group = session.get(Group, member.group_id)
    member.group_id = None
    session.add(member)
    user = session.get(User, member.user_id)
    audit.record(session, venue_id=venue.id, actor=actor, action="group.leave",
                 summary=f"{user.email} left '{group.name}'", group_id=group.id, member_id=member.id)


def move_member(session: Session, settings: Settings, actor: User, venue: Venue, member: Member,
                group: Group | None) -> None:
    """A chair puts a student into a group (or out of any, with group None); size limits still hold.

    The group they join gets its code masked again; the one they leave keeps masking them (see group_identity).
    """
    if group is None:
        leave_group(session, actor, venue, member)
    else:
        _add_to_group(session, actor, venue, member, group)
        refresh_anonymized_views(session, settings, actor, group.id)


def rename_group(session: Session, settings: Settings, actor: User, venue: Venue, group: Group,
                 name: str) -> Group:
    """A new name; the old one stays masked in the group's code along with the new one."""
    before = group.name
    group.name = _check_name(session, venue, name)
    session.add(group)
    audit.record(session, venue_id=venue.id, actor=actor, action="group.rename",
                 summary=f"renamed '{before}' to '{group.name}'", group_id=group.id, before=before)
    session.flush()
    refresh_anonymized_views(session, settings, actor, group.id)
    return group
