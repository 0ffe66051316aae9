"""The roster: members of a venue, their roles, and roster import from a gradebook CSV."""

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile

from app import schemas
from app.anonymity import display_email, display_name
from app.db import SessionDep, discard
from app.deps import SettingsDep, VenueCtx
from app.errors import TooLarge
from app.security import permissions
from app.security.permissions import require
from app.security.sessions import flash
from app.services import accounts, roster
from app.services import venues as venue_service
from app.web import form_action, redirect, render

pages = APIRouter(tags=["pages"], include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["members"])


def read_upload(upload: UploadFile, max_bytes: int) -> bytes:
    """Read an upload, stopping (and refusing) as soon as it is larger than max_bytes."""
    data = upload.file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise TooLarge(f"The file is larger than the {max_bytes // 1024} KB limit.")
    return data


def member_rows(session, ctx) -> list[schemas.MemberOut]:  # noqa: ANN001
    rows = []
    for member, user in venue_service.list_members(session, ctx.venue):
        rows.append(schemas.MemberOut(
            id=member.id, user_id=user.id, role=member.role, group_id=member.group_id,
            full_name=display_name(ctx.user, ctx.member, user, member),
            email=display_email(ctx.user, ctx.member, user, member), student_id=user.student_id))
    return rows


@pages.get("/venues/{slug}/roster")
def roster_page(request: Request, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    require(permissions.can_view_roster, ctx.user, ctx.member, ctx.venue)
    return render(request, "pages/roster.html", {
        "venue": ctx.venue, "members": member_rows(session, ctx),
        "can_import": permissions.can_import_roster(ctx.user, ctx.member, ctx.venue),
        "report": request.session.pop("roster_report", None), "roles": ["student", "reviewer", "ta", "chair"],
        "chair": permissions.is_chair(ctx.user, ctx.member), "my_member_id": ctx.member.id if ctx.member else None,
    }, user=ctx.user)


@pages.post("/venues/{slug}/roster")
def roster_import_page(request: Request, session: SessionDep, settings: SettingsDep, ctx: VenueCtx,
                             file: Annotated[UploadFile, File()], partial: Annotated[bool, Form()] = False):  # noqa: ANN201
    require(permissions.can_import_roster, ctx.user, ctx.member, ctx.venue)
    url = f"/venues/{ctx.venue.slug}/roster"
    data = b""
    try:
        data = read_upload(file, settings.roster_max_bytes)
    except TooLarge as exc:
        flash(request, exc.message, "error")
        return redirect(url)

    def run():  # noqa: ANN202
        report = roster.import_roster(session, ctx.user, ctx.venue, data, max_bytes=settings.roster_max_bytes,
                                      partial=partial)
        request.session["roster_report"] = {**report.as_dict(), "summary": report.summary}
        if not report.applied:
            discard(session)  # a refused strict import keeps nothing; the report says why
        return report

    return form_action(request, session, run, success=lambda r: r.summary, next_url=url, back_url=url)


@pages.post("/venues/{slug}/members/{member_id}/role")
def role_page(request: Request, session: SessionDep, ctx: VenueCtx, member_id: int, role: Annotated[str, Form()]):  # noqa: ANN201
    url = f"/venues/{ctx.venue.slug}/roster"

    def change():  # noqa: ANN202
        target = venue_service.get_member_by_id(session, ctx.venue, member_id)
        require(permissions.can_change_role, ctx.user, ctx.member, ctx.venue, target)
        return venue_service.set_role(session, ctx.user, ctx.venue, target, role)
    return form_action(request, session, change, success="Role changed.", next_url=url, back_url=url)


# ---- JSON API ---------------------------------------------------------------------------------------


@api.get("/venues/{slug}/members", response_model=list[schemas.MemberOut])
def api_members(session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    require(permissions.can_view_roster, ctx.user, ctx.member, ctx.venue)
    return member_rows(session, ctx)


@api.post("/venues/{slug}/members", response_model=schemas.MemberOut, status_code=201)
def api_member_add(body: schemas.MemberIn, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    require(permissions.can_import_roster, ctx.user, ctx.member, ctx.venue)
    user = accounts.get_user_by_email(session, body.email) or accounts.create_user(session, body.email, body.full_name)
    member = venue_service.add_member(session, ctx.user, ctx.venue, user, body.role)
    return schemas.MemberOut(id=member.id, user_id=user.id, full_name=user.full_name, email=user.email,
                             student_id=user.student_id, role=member.role, group_id=None)


@api.patch("/venues/{slug}/members/{member_id}", response_model=schemas.MemberOut)
def api_member_role(member_id: int, body: schemas.RoleIn, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    require(permissions.can_view_roster, ctx.user, ctx.member, ctx.venue)
    target = venue_service.get_member_by_id(session, ctx.venue, member_id)
    require(permissions.can_change_role, ctx.user, ctx.member, ctx.venue, target)
    venue_service.set_role(session, ctx.user, ctx.venue, target, body.role)
    return next(m for m in member_rows(session, ctx) if m.id == member_id)


@api.post("/venues/{slug}/roster", response_model=schemas.RosterReportOut,
          responses={422: {"model": schemas.ErrorOut}, 413: {"model": schemas.ErrorOut}})
def api_roster_import(session: SessionDep, settings: SettingsDep, ctx: VenueCtx,
                            file: Annotated[UploadFile, File()], partial: Annotated[bool, Form()] = False):  # noqa: ANN201
    """Import a gradebook CSV. Strict unless partial: with any rejected row nothing is imported (422)."""
    require(permissions.can_import_roster, ctx.user, ctx.member, ctx.venue)
    data = read_upload(file, settings.roster_max_bytes)
    report = roster.import_roster(session, ctx.user, ctx.venue, data, max_bytes=settings.roster_max_bytes,
                                  partial=partial)
    out = schemas.RosterReportOut(**report.as_dict(), summary=report.summary)
    if not report.applied:
        from app.errors import BadInput

        raise BadInput(report.summary, details=out.model_dump())
    return out
