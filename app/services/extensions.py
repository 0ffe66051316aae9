"""Extensions: a group asks for more time with a reason, and so does a reviewer for their reviews; staff grant a
new deadline or refuse. The effective deadline is app.services.deadlines.effective_deadline's."""

from datetime import UTC, datetime

from sqlalchemy import or_
from sqlmodel import Session, col, select

from app.errors import BadInput, Conflict, NotFound
from app.models import Assignment, DeadlineKind, Extension, ExtensionStatus, Group, Member, User, Venue
from app.services import audit
from app.services.deadlines import effective_deadline, format_in


def _check_reason(reason: str) -> str:
    reason = reason.strip()
    if len(reason) < 10:
        raise BadInput("Explain the reason for the extension in a sentence or two (at least 10 characters).")
    if len(reason) > 4000:
        raise BadInput("Keep the reason under 4000 characters.")
    return reason


def request_extension(session: Session, actor: User, venue: Venue, group_id: int, reason: str,
                      requested_until: datetime | None = None,
                      kind: str = DeadlineKind.submission.value) -> Extension:
    reason = _check_reason(reason)
    if kind not in {k.value for k in DeadlineKind}:
        raise BadInput(f"'{kind[:20]}' is not a deadline.")
    current = effective_deadline(session, venue, kind, group_id)
    if current.due_at is None:
        raise Conflict(f"The {kind} deadline has not been set yet: there is nothing to extend.")
    if requested_until is not None and requested_until <= current.due_at:
        raise BadInput("The date you ask for must be after your current deadline "
                       f"({format_in(current.due_at, venue.timezone)}).")
    pending = session.exec(select(Extension).where(Extension.group_id == group_id, Extension.kind == kind,
                                                   col(Extension.member_id).is_(None),
                                                   Extension.status == ExtensionStatus.pending.value)).first()
    if pending is not None:
        raise Conflict("Your group has a pending extension request for this deadline already.")
    ext = Extension(venue_id=venue.id, group_id=group_id, kind=kind, reason=reason, requested_by=actor.id,
                    requested_until=requested_until)
    session.add(ext)
    session.flush()
    group = session.get(Group, group_id)
    audit.record(session, venue_id=venue.id, actor=actor, action="extension.request",
                 summary=f"'{group.name}' asked for an extension of the {kind} deadline", extension_id=ext.id)
    return ext


def request_review_extension(session: Session, actor: User, venue: Venue, member: Member, reason: str,
                             requested_until: datetime | None = None) -> Extension:
    """A reviewer asks for more time for their own reviews (the review deadline), with a reason."""
    reason = _check_reason(reason)
    assigned = session.exec(select(Assignment.id).where(Assignment.venue_id == venue.id,
                                                        Assignment.member_id == member.id)).first()
    if assigned is None:
        raise Conflict("You have no reviews to write in this venue: there is nothing to extend.")
    kind = DeadlineKind.review.value
    current = effective_deadline(session, venue, kind, member.group_id, member.id)
    if current.due_at is None:
        raise Conflict("The review deadline has not been set yet: there is nothing to extend.")
    if requested_until is not None and requested_until <= current.due_at:
        raise BadInput("The date you ask for must be after your current review deadline "
                       f"({format_in(current.due_at, venue.timezone)}).")
    pending = session.exec(select(Extension).where(Extension.member_id == member.id, Extension.kind == kind,
                                                   Extension.status == ExtensionStatus.pending.value)).first()
    if pending is not None:
        raise Conflict("You have a pending extension request for your reviews already.")
    ext = Extension(venue_id=venue.id, group_id=None, member_id=member.id, kind=kind, reason=reason,
                    requested_by=actor.id, requested_until=requested_until)
    session.add(ext)
    session.flush()
    audit.record(session, venue_id=venue.id, actor=actor, action="extension.request",
                 summary=f"{actor.email} asked for an extension of their review deadline", extension_id=ext.id)
    return ext


def get_extension(session: Session, venue: Venue, extension_id: int) -> Extension:
    ext = session.get(Extension, extension_id)
    if ext is None or ext.venue_id != venue.id:
        raise NotFound("No such extension request.")
    return ext


def list_extensions(session: Session, venue: Venue, group_id: int | None = None,
                    member_id: int | None = None) -> list[tuple[Extension, Group | None]]:
    """Every request of the venue; or, given a group or a member, the group's and that member's own."""
    query = select(Extension, Group).join(Group, col(Group.id) == Extension.group_id, isouter=True) \
        .where(Extension.venue_id == venue.id)
    if group_id is not None or member_id is not None:
        whose = [col(Extension.group_id) == group_id] if group_id is not None else []
        whose += [col(Extension.member_id) == member_id] if member_id is not None else []
        query = query.where(or_(*whose))
    return list(session.exec(query.order_by(col(Extension.created_at).desc(), col(Extension.id).desc())).all())


def reviewer_names(session: Session, extensions: list[Extension]) -> dict[int, str]:
    """member id -> name of the reviewers among `extensions` (for the venue's staff, who see names)."""
    ids = {e.member_id for e in extensions if e.member_id is not None}
    if not ids:
        return {}
    rows = session.exec(select(Member.id, User.full_name).join(User, col(User.id) == Member.user_id)
                        .where(col(Member.id).in_(ids))).all()
    return dict(rows)


def decide_extension(session: Session, actor: User, venue: Venue, ext: Extension, *, grant: bool,
                     new_due_at: datetime | None = None, note: str = "", now: datetime | None = None) -> Extension:
    if ext.status != ExtensionStatus.pending.value:
        raise Conflict(f"This request was {ext.status} already.")
    group = session.get(Group, ext.group_id) if ext.group_id is not None else None
    member = session.get(Member, ext.member_id) if ext.member_id is not None else None
    whose = f"'{group.name}'" if group is not None else f"reviewer {session.get(User, member.user_id).email}"
    if grant:
        if new_due_at is None:
            raise BadInput("Give the new deadline to grant the extension.")
        current = effective_deadline(session, venue, ext.kind, ext.group_id, ext.member_id)
        if new_due_at <= (now or datetime.now(UTC)):
            raise BadInput(f"The new deadline {format_in(new_due_at, venue.timezone)} is in the past.")
        if current.due_at is not None and new_due_at <= current.due_at:
            raise BadInput("The new deadline must be later than the group's current deadline "
                           f"({format_in(current.due_at, venue.timezone)}).")
        ext.new_due_at = new_due_at
    ext.status = (ExtensionStatus.granted if grant else ExtensionStatus.refused).value
    ext.decision_note = note.strip()[:4000]
    ext.decided_by = actor.id
    ext.decided_at = now or datetime.now(UTC)
    session.add(ext)
    summary = (f"granted {whose} an extension to {format_in(new_due_at, venue.timezone)}" if grant
               else f"refused the extension request of {whose}")
    audit.record(session, venue_id=venue.id, actor=actor, action="extension.decide", summary=summary,
                 extension_id=ext.id, granted=grant, new_due_at=new_due_at)
    return ext
