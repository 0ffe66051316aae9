"""The audit log of a venue, for its chairs and TAs."""

from fastapi import APIRouter, Request

from app import schemas
from app.db import SessionDep
from app.deps import VenueCtx
from app.security import permissions
from app.security.permissions import require
from app.services import audit as audit_service
from app.web import render

pages = APIRouter(tags=["pages"], include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["audit"])

def _events(session, ctx, limit: int, offset: int, action: str | None) -> list[schemas.AuditOut]:  # noqa: ANN001
    require(permissions.can_view_audit, ctx.user, ctx.member, ctx.venue)
    limit = max(1, min(limit, 1000))
    return [schemas.AuditOut(id=e.id, at=e.at, actor=u.email if u else None, action=e.action, summary=e.summary,
                             detail=e.detail)
            for e, u in audit_service.list_events(session, ctx.venue.id, limit=limit, offset=max(0, offset),
                                                  action=action)]


@pages.get("/venues/{slug}/audit")
def audit_page(request: Request, session: SessionDep, ctx: VenueCtx, offset: int = 0, action: str | None = None):  # noqa: ANN201
    events = _events(session, ctx, 100, offset, action or None)
    return render(request, "pages/audit.html", {"venue": ctx.venue, "events": events, "offset": offset,
                                                "action": action or ""}, user=ctx.user)


@api.get("/venues/{slug}/audit", response_model=list[schemas.AuditOut])
def api_audit(session: SessionDep, ctx: VenueCtx, limit: int = 200, offset: int = 0, action: str | None = None):  # noqa: ANN201
    return _events(session, ctx, limit, offset, action)
