"""Extensions: a group asks for more time with a reason; staff grant a new deadline or refuse."""

from datetime import UTC, datetime

from sqlmodel import Session, select

from app.errors import BadInput, Conflict, NotFound
from app.models import DeadlineKind, Extension, ExtensionStatus, Group, User, Venue
from app.services import audit
from app.services.deadlines import effective_deadline, format_in


def request_extension(session: Session, actor: User, venue: Venue, group_id: int, reason: str,
                      requested_until: datetime | None = None,
                      kind: str = DeadlineKind.submission.value) -> Extension:
    reason = reason.strip()
    if len(reason) < 10:
        raise BadInput("Explain the reason for the extension in a sentence or two (at least 10 characters).")
    if len(reason) > 4000:
        raise BadInput("Keep the reason under 4000 characters.")
    if kind not in {k.value for k in DeadlineKind}:
        raise BadInput(f"'{kind[:20]}' is not a deadline.")
    current = effective_deadline(session, venue, kind, group_id)
    if current.due_at is None:
        raise Conflict(f"The {kind} deadline has not been set yet: there is nothing to extend.")
    if requested_until is not None and requested_until <= current.due_at:
        raise BadInput("The date you ask for must be after your current deadline "
                       f"({format_in(current.due_at, venue.timezone)}).")
    pending = session.exec(select(Extension).where(Extension.group_id == group_id, Extension.kind == kind,
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


def get_extension(session: Session, venue: Venue, extension_id: int) -> Extension:
    ext = session.get(Extension, extension_id)
    if ext is None or ext.venue_id != venue.id:
        raise NotFound("No such extension request.")
    return ext


def list_extensions(session: Session, venue: Venue, group_id: int | None = None) -> list[tuple[Extension, Group]]:
    query = select(Extension, Group).join(Group, Group.id == Extension.group_id).where(Extension.venue_id == venue.id)
    if group_id is not None:
        query = query.where(Extension.group_id == group_id)
    return list(session.exec(query.order_by(Extension.created_at.desc(), Extension.id.desc())).all())


def decide_extension(session: Session, actor: User, venue: Venue, ext: Extension, *, grant: bool,
                     new_due_at: datetime | None = None, note: str = "", now: datetime | None = None) -> Extension:
    if ext.status != ExtensionStatus.pending.value:
        raise Conflict(f"This request was {ext.status} already.")
    group = session.get(Group, ext.group_id)
    if grant:
        if new_due_at is None:
            raise BadInput("Give the new deadline to grant the extension.")
        current = effective_deadline(session, venue, ext.kind, ext.group_id)
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
    summary = (f"granted '{group.name}' an extension to {format_in(new_due_at, venue.timezone)}" if grant
               else f"refused the extension request of '{group.name}'")
    audit.record(session, venue_id=venue.id, actor=actor, action="extension.decide", summary=summary,
                 extension_id=ext.id, granted=grant, new_due_at=new_due_at)
    return ext
