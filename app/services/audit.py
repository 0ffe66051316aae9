"""Recording and reading the audit log."""

from sqlmodel import Session, select

from app.models import AuditEvent, User


def record(session: Session, *, venue_id: int | None, actor: User | None, action: str, summary: str,
           **detail) -> AuditEvent:  # noqa: ANN003
    """Add one audit event to the session (committed with the change it describes)."""
    event = AuditEvent(venue_id=venue_id, actor_id=actor.id if actor else None, action=action,
                       summary=summary, detail=_jsonable(detail))
    session.add(event)
    return event


def _jsonable(value):  # noqa: ANN001, ANN202
    from datetime import datetime

    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def list_events(session: Session, venue_id: int, *, limit: int = 200, offset: int = 0,
                action: str | None = None) -> list[tuple[AuditEvent, User | None]]:
    query = (
        select(AuditEvent, User)
        .join(User, User.id == AuditEvent.actor_id, isouter=True)
        .where(AuditEvent.venue_id == venue_id)
    )
    if action:
        query = query.where(AuditEvent.action == action)
    query = query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).offset(offset).limit(limit)
    return list(session.exec(query).all())
