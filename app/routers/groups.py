"""Groups: create, join by code, leave; staff form groups and move students."""

from typing import Annotated

from fastapi import APIRouter, Form, Request

from app import schemas
from app.anonymity import display_name
from app.db import SessionDep
from app.deps import SettingsDep, VenueCtx
from app.errors import BadInput
from app.models import Group, User
from app.security import permissions
from app.security.permissions import require
from app.services import groups as group_service
from app.services import venues as venue_service
from app.web import form_action, render

pages = APIRouter(tags=["pages"], include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["groups"])


def group_out(ctx, group: Group, members) -> schemas.GroupOut:  # noqa: ANN001
    return schemas.GroupOut(
        id=group.id, name=group.name, size=len(members),
        join_code=group.join_code,
        members=[schemas.GroupMemberOut(member_id=m.id, full_name=display_name(ctx.user, ctx.member, u, m))
                 for m, u in members])


def visible_groups(session, ctx) -> list[schemas.GroupOut]:  # noqa: ANN001
    return [group_out(ctx, g, ms) for g, ms in group_service.list_groups(session, ctx.venue)
            if permissions.can_view_group(ctx.user, ctx.member, ctx.venue, g)]


def _create(session, settings, ctx, name: str, member_ids: list[int]) -> Group:  # noqa: ANN001
    """Students found a group they join; staff may form one and put students in it."""
    if permissions.can_manage_groups(ctx.user, ctx.member, ctx.venue):
        group = group_service.create_group(session, ctx.user, ctx.venue, name, founder=None)
        for member_id in member_ids:
            target = venue_service.get_member_by_id(session, ctx.venue, member_id)
            group_service.move_member(session, settings, ctx.user, ctx.venue, target, group)
        return group
    require(permissions.can_create_group, ctx.user, ctx.member, ctx.venue)
    if member_ids:
        raise BadInput("Students add members by sharing the join code.")
    return group_service.create_group(session, ctx.user, ctx.venue, name, founder=ctx.member)


def _join(session, settings, ctx, code: str) -> Group:  # noqa: ANN001
    require(permissions.can_join_group, ctx.user, ctx.member, ctx.venue)
    return group_service.join_group(session, settings, ctx.user, ctx.venue, ctx.member, code)


def _leave(session, ctx) -> None:  # noqa: ANN001
    require(permissions.can_leave_group, ctx.user, ctx.member, ctx.venue)
    group_service.leave_group(session, ctx.user, ctx.venue, ctx.member)


def _move(session, settings, ctx, member_id: int, group_id: int | None) -> None:  # noqa: ANN001
    require(permissions.can_manage_groups, ctx.user, ctx.member, ctx.venue)
    target = venue_service.get_member_by_id(session, ctx.venue, member_id)
    group = group_service.get_group(session, ctx.venue, group_id) if group_id else None
    group_service.move_member(session, settings, ctx.user, ctx.venue, target, group)


# ---- pages ------------------------------------------------------------------------------------------


@pages.get("/venues/{slug}/groups")
def groups_page(request: Request, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    staff = permissions.is_staff(ctx.user, ctx.member)
    ungrouped = []
    if staff:
        ungrouped = [(m, display_name(ctx.user, ctx.member, u, m))
                     for m, u in venue_service.list_members(session, ctx.venue, role="student") if m.group_id is None]
    return render(request, "pages/groups.html", {
        "venue": ctx.venue, "member": ctx.member, "groups": visible_groups(session, ctx), "staff": staff,
        "ungrouped": ungrouped,
        "can_create": permissions.can_create_group(ctx.user, ctx.member, ctx.venue) or
        permissions.can_manage_groups(ctx.user, ctx.member, ctx.venue),
        "can_join": permissions.can_join_group(ctx.user, ctx.member, ctx.venue),
        "can_leave": permissions.can_leave_group(ctx.user, ctx.member, ctx.venue),
        "can_manage": permissions.can_manage_groups(ctx.user, ctx.member, ctx.venue),
        # a student whose forms a phase closed reads why, instead of finding them gone
        "why_no_join": permissions.why_not(permissions.can_join_group, ctx.user, ctx.member, ctx.venue)
        if permissions.is_author(ctx.member) and ctx.member.group_id is None else None,
        "why_no_leave": permissions.why_not(permissions.can_leave_group, ctx.user, ctx.member, ctx.venue)
        if permissions.is_author(ctx.member) and ctx.member.group_id is not None else None,
    }, user=ctx.user)


def _url(ctx) -> str:  # noqa: ANN001
    return f"/venues/{ctx.venue.slug}/groups"


@pages.post("/venues/{slug}/groups")
def group_create_page(request: Request, session: SessionDep, settings: SettingsDep, ctx: VenueCtx,  # noqa: ANN201
                      name: Annotated[str, Form()]):
    return form_action(request, session, lambda: _create(session, settings, ctx, name, []),
                       success=lambda g: f"Group '{g.name}' created. Share the join code {g.join_code} with your team.",
                       next_url=_url(ctx), back_url=_url(ctx))


@pages.post("/venues/{slug}/groups/join")
def group_join_page(request: Request, session: SessionDep, settings: SettingsDep, ctx: VenueCtx,  # noqa: ANN201
                    code: Annotated[str, Form()]):
    return form_action(request, session, lambda: _join(session, settings, ctx, code),
                       success=lambda g: f"You joined '{g.name}'.", next_url=_url(ctx), back_url=_url(ctx))


@pages.post("/venues/{slug}/groups/leave")
def group_leave_page(request: Request, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    return form_action(request, session, lambda: _leave(session, ctx), success="You left the group.",
                       next_url=_url(ctx), back_url=_url(ctx))


@pages.post("/venues/{slug}/groups/move")
def group_move_page(request: Request, session: SessionDep, settings: SettingsDep, ctx: VenueCtx,
                    member_id: Annotated[int, Form()],
                    group_id: Annotated[str, Form()] = ""):  # noqa: ANN201
    gid = int(group_id) if group_id.strip().isdigit() else None
    return form_action(request, session, lambda: _move(session, settings, ctx, member_id, gid), success="Moved.",
                       next_url=_url(ctx), back_url=_url(ctx))


# ---- JSON API ---------------------------------------------------------------------------------------


@api.get("/venues/{slug}/groups", response_model=list[schemas.GroupOut])
def api_groups(session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    """Staff see every group; a student sees only their own."""
    return visible_groups(session, ctx)


@api.post("/venues/{slug}/groups", response_model=schemas.GroupOut, status_code=201)
def api_group_create(body: schemas.GroupIn, session: SessionDep, settings: SettingsDep, ctx: VenueCtx):  # noqa: ANN201
    group = _create(session, settings, ctx, body.name, body.member_ids)
    return group_out(ctx, group, group_service.group_members(session, group))


@api.post("/venues/{slug}/groups/join", response_model=schemas.GroupOut)
def api_group_join(body: schemas.JoinIn, session: SessionDep, settings: SettingsDep, ctx: VenueCtx):  # noqa: ANN201
    group = _join(session, settings, ctx, body.code)
    return group_out(ctx, group, group_service.group_members(session, group))


@api.post("/venues/{slug}/groups/leave", status_code=204)
def api_group_leave(session: SessionDep, ctx: VenueCtx) -> None:
    _leave(session, ctx)


@api.post("/venues/{slug}/groups/move", response_model=list[schemas.GroupOut])
def api_group_move(body: schemas.MoveIn, session: SessionDep, settings: SettingsDep, ctx: VenueCtx):  # noqa: ANN201
    _move(session, settings, ctx, body.member_id, body.group_id)
    return visible_groups(session, ctx)


@api.get("/venues/{slug}/groups/{group_id}", response_model=schemas.GroupOut)
def api_group(group_id: int, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    group = group_service.get_group(session, ctx.venue, group_id)
    if not permissions.can_view_group(ctx.user, ctx.member, ctx.venue, group):
        from app.errors import NotFound

        raise NotFound("No such group in this venue.")
    return group_out(ctx, group, group_service.group_members(session, group))


__all__ = ["api", "pages", "User"]
