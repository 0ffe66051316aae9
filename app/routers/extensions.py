"""Extension requests and decisions."""

from typing import Annotated

from fastapi import APIRouter, Form, Request

from app import schemas
from app.db import SessionDep
from app.deps import VenueCtx
from app.security import permissions
from app.security.permissions import require
from app.services import extensions as extension_service
from app.services.deadlines import parse_local
from app.services.reviews import review_deadline_text
from app.web import form_action, render

pages = APIRouter(tags=["pages"], include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["extensions"])


def _visible(session, ctx) -> list[schemas.ExtensionOut]:  # noqa: ANN001
    staff = permissions.is_staff(ctx.user, ctx.member)
    if staff:
        rows = extension_service.list_extensions(session, ctx.venue)
    elif ctx.member is not None:
        rows = extension_service.list_extensions(session, ctx.venue, ctx.member.group_id, ctx.member.id)
    else:
        rows = []
    names = extension_service.reviewer_names(session, [e for e, _g in rows]) if staff else {}
    return [schemas.ExtensionOut(id=e.id, group_id=g.id if g else None, group_name=_whose(e, g, names),
                                 member_id=e.member_id, for_reviewer=e.member_id is not None, kind=e.kind,
                                 reason=e.reason, requested_until=e.requested_until, status=e.status,
                                 new_due_at=e.new_due_at, decision_note=e.decision_note, created_at=e.created_at)
            for e, g in rows]


def _whose(ext, group, names: dict[int, str]) -> str:  # noqa: ANN001
    """A group's request by the group's name; a reviewer's by their name for staff, "You" for themselves."""
    if ext.member_id is None:
        return group.name if group else ""
    return f"Reviewer {names[ext.member_id]}" if ext.member_id in names else "You (as a reviewer)"


def _request(session, ctx, reason: str, until: str | None, kind: str):  # noqa: ANN001, ANN202
    require(permissions.can_request_extension, ctx.user, ctx.member, ctx.venue)
    requested = parse_local(until, ctx.venue.timezone) if until and until.strip() else None
    return extension_service.request_extension(session, ctx.user, ctx.venue, ctx.member.group_id, reason,
                                               requested, kind)


def _request_review(session, ctx, reason: str, until: str | None):  # noqa: ANN001, ANN202
    require(permissions.can_request_review_extension, ctx.user, ctx.member, ctx.venue)
    requested = parse_local(until, ctx.venue.timezone) if until and until.strip() else None
    return extension_service.request_review_extension(session, ctx.user, ctx.venue, ctx.member, reason, requested)


def _decide(session, ctx, extension_id: int, grant: bool, new_due_at: str | None, note: str):  # noqa: ANN001, ANN202
    require(permissions.can_decide_extension, ctx.user, ctx.member, ctx.venue)
    ext = extension_service.get_extension(session, ctx.venue, extension_id)
    due = parse_local(new_due_at, ctx.venue.timezone) if grant and new_due_at and new_due_at.strip() else None
    return extension_service.decide_extension(session, ctx.user, ctx.venue, ext, grant=grant, new_due_at=due, note=note)


@pages.get("/venues/{slug}/extensions")
def extensions_page(request: Request, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    return render(request, "pages/extensions.html", {
        "venue": ctx.venue, "extensions": _visible(session, ctx),
        "can_request": permissions.can_request_extension(ctx.user, ctx.member, ctx.venue),
        "can_request_review": permissions.can_request_review_extension(ctx.user, ctx.member, ctx.venue),
        "review_deadline": review_deadline_text(session, ctx.venue, ctx.member) if ctx.member else None,
        "can_decide": permissions.can_decide_extension(ctx.user, ctx.member, ctx.venue),
    }, user=ctx.user)


@pages.post("/venues/{slug}/extensions")
def extension_request_page(request: Request, session: SessionDep, ctx: VenueCtx, reason: Annotated[str, Form()],
                           requested_until: Annotated[str, Form()] = "", kind: Annotated[str, Form()] = "submission"):  # noqa: ANN201
    url = f"/venues/{ctx.venue.slug}/extensions"
    return form_action(request, session, lambda: _request(session, ctx, reason, requested_until, kind),
                       success="Your request is sent to the chairs.", next_url=url, back_url=url)


@pages.post("/venues/{slug}/extensions/review")
def review_extension_request_page(request: Request, session: SessionDep, ctx: VenueCtx,
                                  reason: Annotated[str, Form()], requested_until: Annotated[str, Form()] = ""):  # noqa: ANN201
    url = f"/venues/{ctx.venue.slug}/extensions"
    return form_action(request, session, lambda: _request_review(session, ctx, reason, requested_until),
                       success="Your request is sent to the chairs.", next_url=url, back_url=url)


@pages.post("/venues/{slug}/extensions/{extension_id}/decision")
def extension_decide_page(request: Request, session: SessionDep, ctx: VenueCtx, extension_id: int,
                          decision: Annotated[str, Form()], new_due_at: Annotated[str, Form()] = "",
                          note: Annotated[str, Form()] = ""):  # noqa: ANN201
    url = f"/venues/{ctx.venue.slug}/extensions"
    grant = decision == "grant"
    return form_action(request, session, lambda: _decide(session, ctx, extension_id, grant, new_due_at, note),
                       success="Extension granted." if grant else "Extension refused.", next_url=url, back_url=url)


@api.get("/venues/{slug}/extensions", response_model=list[schemas.ExtensionOut])
def api_extensions(session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    return _visible(session, ctx)


@api.post("/venues/{slug}/extensions", response_model=schemas.ExtensionOut, status_code=201)
def api_extension_request(body: schemas.ExtensionIn, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    ext = _request(session, ctx, body.reason, body.requested_until, body.kind)
    return next(e for e in _visible(session, ctx) if e.id == ext.id)


@api.post("/venues/{slug}/extensions/review", response_model=schemas.ExtensionOut, status_code=201)
def api_review_extension_request(body: schemas.ReviewExtensionIn, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    """A reviewer asks for a later review deadline of their own (decided like a group's request)."""
    ext = _request_review(session, ctx, body.reason, body.requested_until)
    return next(e for e in _visible(session, ctx) if e.id == ext.id)


@api.post("/venues/{slug}/extensions/{extension_id}/decision", response_model=schemas.ExtensionOut)
def api_extension_decide(extension_id: int, body: schemas.ExtensionDecisionIn, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    ext = _decide(session, ctx, extension_id, body.grant, body.new_due_at, body.note)
    return next(e for e in _visible(session, ctx) if e.id == ext.id)
