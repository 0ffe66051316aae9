"""Venues: creation, settings, phases, deadlines, members and roles."""

import copy
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from app.errors import BadInput, Conflict, NotFound, PhaseError
from app.models import PHASES, Deadline, DeadlineKind, MarkingScheme, Member, Phase, ReviewForm, Role, User, Venue
from app.services import audit, notifications
from app.services.deadlines import check_timezone, format_in, venue_deadlines
from app.services.phase_checklist import PHASE_NEEDS_DEADLINE, Checklist, phase_checklist

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def get_venue(session: Session, slug: str) -> Venue:
    venue = session.exec(select(Venue).where(Venue.slug == slug)).first()
    if venue is None:
        raise NotFound(f"There is no venue '{slug[:64]}'.")
    return venue


def list_venues_for(session: Session, user: User) -> list[tuple[Venue, Member | None]]:
    if user.is_admin:
        rows = session.exec(
            select(Venue, Member).join(Member, (Member.venue_id == Venue.id) & (Member.user_id == user.id),
                                       isouter=True).order_by(Venue.created_at.desc())
        ).all()
    else:
        rows = session.exec(
            select(Venue, Member).join(Member, Member.venue_id == Venue.id)
            .where(Member.user_id == user.id).order_by(Venue.created_at.desc())
        ).all()
    return list(rows)


def get_member(session: Session, venue: Venue, user: User) -> Member | None:
    return session.exec(select(Member).where(Member.venue_id == venue.id, Member.user_id == user.id)).first()


def create_venue(session: Session, actor: User, *, slug: str, title: str, course_code: str = "",
                 timezone: str = "UTC", group_min: int = 2, group_max: int = 4, page_limit: int = 9) -> Venue:
    slug = slug.strip().lower()
    if not SLUG_RE.match(slug):
        raise BadInput("The short name must be 2-63 lower-case letters, digits or dashes (e.g. mlsys-2026).")
    if session.exec(select(Venue).where(Venue.slug == slug)).first():
        raise Conflict(f"A venue '{slug}' exists already.")
    if not title.strip():
        raise BadInput("Give the venue a title.")
    _check_group_sizes(group_min, group_max)
    venue = Venue(slug=slug, title=title.strip(), course_code=course_code.strip(),
                  timezone=check_timezone(timezone), group_min=group_min, group_max=group_max,
                  page_limit=_check_page_limit(page_limit))
    session.add(venue)
    session.flush()
    if not actor.is_admin:
        add_member(session, actor, venue, actor, Role.chair.value)
    audit.record(session, venue_id=venue.id, actor=actor, action="venue.create", summary=f"created {venue.title}")
    return venue


def chairs_any_venue(session: Session, user: User) -> bool:
    """Whether `user` chairs some venue (which lets them create and copy venues)."""
    return session.exec(select(Member.id).where(Member.user_id == user.id,
                                                Member.role == Role.chair.value)).first() is not None


MAX_SHIFT_DAYS = 3660


def _weeks_ahead(deadlines: dict[str, datetime], now: datetime) -> int:
    """The fewest whole weeks (days kept on their weekday) that put every deadline in the future."""
    if not deadlines:
        return 0
    earliest = min(deadlines.values())
    if earliest > now:
        return 0
    weeks = (now - earliest).days // 7 + 1
    return weeks * 7


def default_copy_shift(session: Session, venue: Venue, now: datetime | None = None) -> int:
    """The days a copy moves the deadlines by when none is given."""
    return _weeks_ahead(venue_deadlines(session, venue), now or datetime.now(UTC))


def copy_venue(session: Session, actor: User, source: Venue, *, slug: str, title: str,
               course_code: str | None = None, shift_days: int | None = None,
               now: datetime | None = None) -> Venue:
    """A new venue in the setup phase with `source`'s settings, review form, marking scheme (its rubric with it)
    and deadlines moved by `shift_days` (by default the fewest whole weeks that put them all in the future), so
    the phases keep their durations. Refused, with nothing created, when the slug exists or a deadline would
    land in the past."""
    now = now or datetime.now(UTC)
    deadlines = venue_deadlines(session, source)
    if shift_days is None:
        shift_days = _weeks_ahead(deadlines, now)
    if not -MAX_SHIFT_DAYS <= shift_days <= MAX_SHIFT_DAYS:
        raise BadInput(f"Shift the deadlines by at most {MAX_SHIFT_DAYS} days.")
    shifted = {kind: due + timedelta(days=shift_days) for kind, due in deadlines.items()}
    past = sorted(kind for kind, due in shifted.items() if due <= now)
    if past:
        raise BadInput(f"Moved by {shift_days} days, the {', '.join(past)} deadline"
                       f"{'s' if len(past) > 1 else ''} would be in the past: move them by more days "
                       "(or leave the shift out to move them by whole weeks into the future).")
    venue = create_venue(session, actor, slug=slug, title=title,
                         course_code=source.course_code if course_code is None else course_code,
                         timezone=source.timezone, group_min=source.group_min, group_max=source.group_max,
                         page_limit=source.page_limit)
    venue.format_mandatory = source.format_mandatory
    session.add(venue)
    for kind, due in sorted(shifted.items()):
        session.add(Deadline(venue_id=venue.id, kind=kind, due_at=due))
    copied = ["settings"] + (["deadlines"] if shifted else [])
    form = session.exec(select(ReviewForm).where(ReviewForm.venue_id == source.id)).first()
    if form is not None:
        session.add(ReviewForm(venue_id=venue.id, fields=copy.deepcopy(form.fields), updated_by=actor.id))
        copied.append("review form")
    scheme = session.exec(select(MarkingScheme).where(MarkingScheme.venue_id == source.id)).first()
    if scheme is not None:  # a new venue's scheme is not frozen: nothing was released there
        session.add(MarkingScheme(venue_id=venue.id, config=copy.deepcopy(scheme.config), version=1,
                                  updated_by=actor.id))
        copied.append("marking scheme and rubric")
    session.flush()
    audit.record(session, venue_id=venue.id, actor=actor, action="venue.copy",
                 summary=f"copied {', '.join(copied)} from {source.slug}"
                         + (f", deadlines moved by {shift_days} days" if shifted else ""),
                 source=source.slug, shift_days=shift_days, copied=copied)
    audit.record(session, venue_id=source.id, actor=actor, action="venue.copied",
                 summary=f"copied into {venue.slug}", target=venue.slug)
    return venue


def _check_group_sizes(group_min: int, group_max: int) -> None:
    if not (1 <= group_min <= group_max <= 20):
        raise BadInput("Group sizes must satisfy 1 ≤ minimum ≤ maximum ≤ 20.")


def _check_page_limit(page_limit: int) -> int:
    if not (1 <= page_limit <= 50):
        raise BadInput("The page limit must be between 1 and 50 content pages.")
    return page_limit


def update_settings(session: Session, actor: User, venue: Venue, **changes) -> Venue:  # noqa: ANN003
    """Change title, course code, timezone, group sizes, page limit or format policy."""
    allowed = {"title", "course_code", "timezone", "group_min", "group_max", "page_limit", "format_mandatory"}
    unknown = set(changes) - allowed
    if unknown:
        raise BadInput(f"Unknown setting(s): {', '.join(sorted(unknown))}.")
    changes = {k: v for k, v in changes.items() if v is not None}
    if "timezone" in changes:
        changes["timezone"] = check_timezone(changes["timezone"])
    if "title" in changes and not str(changes["title"]).strip():
        raise BadInput("The title cannot be empty.")
    _check_group_sizes(changes.get("group_min", venue.group_min), changes.get("group_max", venue.group_max))
    if "page_limit" in changes:
        _check_page_limit(changes["page_limit"])
    before = {k: getattr(venue, k) for k in changes}
    for key, value in changes.items():
        setattr(venue, key, value)
    session.add(venue)
    diff = {k: [before[k], v] for k, v in changes.items() if before[k] != v}
    if diff:
        audit.record(session, venue_id=venue.id, actor=actor, action="venue.settings",
                     summary="changed " + ", ".join(sorted(diff)), changes=diff)
    return venue


def allowed_phase_moves(venue: Venue) -> list[str]:
    """Chairs move one step forward, or one step back to reopen the previous phase."""
    i = PHASES.index(Phase(venue.phase))
    moves = []
    if i + 1 < len(PHASES):
        moves.append(PHASES[i + 1].value)
    if i > 0:
        moves.append(PHASES[i - 1].value)
    return moves


class StaleChecklist(Conflict):
    code = "stale-checklist"


@dataclass
class PhaseChange:
    checklist: Checklist
    moved: bool


def change_phase(session: Session, actor: User, venue: Venue, target: str, confirm: str | None,
                 *, now: datetime | None = None) -> PhaseChange:
    """The chairs' path: without `confirm` a dry run (the checklist, nothing changes); with it, the move, if
    `confirm` is the fingerprint of the checklist as it is now (else refused with the new list)."""
    _check_move(venue, target)
    checklist = phase_checklist(session, venue, target, now=now)
    if confirm is None or not confirm.strip():
        return PhaseChange(checklist, moved=False)
    if confirm.strip() != checklist.fingerprint:
        raise StaleChecklist("The checklist of this phase change changed since it was shown (another chair acted, "
                             "or submissions or reviews changed): nothing was changed. Read the new list and "
                             "confirm again.", details=checklist.as_dict())
    if checklist.blockers:
        raise PhaseError(checklist.blockers[0].message, details=checklist.as_dict())
    move_phase(session, actor, venue, target, now=now)
    return PhaseChange(checklist, moved=True)


def _check_move(venue: Venue, target: str) -> None:
    if target not in {p.value for p in PHASES}:
        raise BadInput(f"'{target[:30]}' is not a phase; phases are {', '.join(p.value for p in PHASES)}.")
    if target == venue.phase:
        raise PhaseError(f"The venue is already in the {target} phase.")
    if target not in allowed_phase_moves(venue):
        raise PhaseError(
            f"The venue cannot jump from {venue.phase} to {target}: "
            f"it moves one phase at a time ({' or '.join(allowed_phase_moves(venue))} from here)."
        )


def move_phase(session: Session, actor: User, venue: Venue, target: str, *, now: datetime | None = None) -> Venue:
    """Move the venue without a checklist (seeds and scripts; chairs go through change_phase)."""
    _check_move(venue, target)
    forward = PHASES.index(Phase(target)) > PHASES.index(Phase(venue.phase))
    needed = PHASE_NEEDS_DEADLINE.get(target)
    if forward and needed:
        due = venue_deadlines(session, venue).get(needed)
        if due is None:
            raise PhaseError(f"Set the {needed} deadline before opening the {target} phase.")
        if due <= (now or datetime.now(UTC)):
            raise PhaseError(f"The {needed} deadline ({format_in(due, venue.timezone)}) has passed: "
                             f"set a new one before opening the {target} phase.")
    before = venue.phase
    venue.phase = target
    session.add(venue)
    audit.record(session, venue_id=venue.id, actor=actor, action="venue.phase",
                 summary=f"moved the venue from {before} to {target}", before=before, after=target)
    notifications.phase_changed(session, venue, before, target)
    return venue


def set_deadline(session: Session, actor: User, venue: Venue, kind: str, due_at: datetime,
                 now: datetime | None = None) -> Deadline:
    if kind not in {k.value for k in DeadlineKind}:
        raise BadInput(f"'{kind[:30]}' is not a deadline; deadlines are "
                       f"{', '.join(k.value for k in DeadlineKind)}.")
    if due_at.tzinfo is None:
        raise BadInput("A deadline needs a time zone.")
    if due_at <= (now or datetime.now(UTC)):
        raise BadInput(f"The {kind} deadline {format_in(due_at, venue.timezone)} is in the past.")
    row = session.exec(select(Deadline).where(Deadline.venue_id == venue.id, Deadline.kind == kind)).first()
    before = row.due_at if row else None
    if row is None:
        row = Deadline(venue_id=venue.id, kind=kind, due_at=due_at)
    row.due_at = due_at
    session.add(row)
    audit.record(session, venue_id=venue.id, actor=actor, action="venue.deadline",
                 summary=f"set the {kind} deadline to {format_in(due_at, venue.timezone)}",
                 kind=kind, before=before, after=due_at)
    return row


def list_members(session: Session, venue: Venue, role: str | None = None) -> list[tuple[Member, User]]:
    query = select(Member, User).join(User, User.id == Member.user_id).where(Member.venue_id == venue.id)
    if role:
        query = query.where(Member.role == role)
    return list(session.exec(query.order_by(User.full_name, User.id)).all())


def get_member_by_id(session: Session, venue: Venue, member_id: int) -> Member:
    member = session.get(Member, member_id)
    if member is None or member.venue_id != venue.id:
        raise NotFound("No such member in this venue.")
    return member


def add_member(session: Session, actor: User, venue: Venue, user: User, role: str) -> Member:
    _check_role(role)
    if get_member(session, venue, user):
        raise Conflict(f"{user.email} is already a member of this venue.")
    member = Member(venue_id=venue.id, user_id=user.id, role=role)
    session.add(member)
    session.flush()
    audit.record(session, venue_id=venue.id, actor=actor, action="member.add",
                 summary=f"added {user.email} as {role}", user_id=user.id, role=role)
    return member


def _check_role(role: str) -> None:
    if role not in {r.value for r in Role}:
        raise BadInput(f"'{role[:20]}' is not a role; roles are {', '.join(r.value for r in Role)}.")


def set_role(session: Session, actor: User, venue: Venue, member: Member, role: str) -> Member:
    _check_role(role)
    if member.role == role:
        return member
    if member.group_id is not None and role != Role.student.value:
        raise Conflict("This member is in a group: take them out of it before changing their role.")
    before = member.role
    member.role = role
    session.add(member)
    user = session.get(User, member.user_id)
    audit.record(session, venue_id=venue.id, actor=actor, action="member.role",
                 summary=f"changed the role of {user.email} from {before} to {role}",
                 member_id=member.id, before=before, after=role)
    return member
