"""Reviewer assignment for chairs (solve, adjust, import/export), bids and conflicts for members."""

from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from app.db import SessionDep
from app.deps import SettingsDep, VenueCtx
from app.errors import BadInput, NotFound
from app.routers.members import read_upload
from app.security import permissions
from app.security.permissions import require
from app.services import assignments as service
from app.services import groups as group_service
from app.services import venues as venue_service

api = APIRouter(prefix="/api/v1", tags=["assignment"])
pages = APIRouter(include_in_schema=False)
CHAIRS_ONLY = "Only the venue's chairs change the assignment (in the submission, assignment or review phase)."


class SolveIn(BaseModel):
    k: int = Field(3, ge=1, le=20)
    min_load: int = Field(0, ge=0)
    max_load: int = Field(4, ge=0)
    include_tas: bool = False
    fair: bool = False
    dry_run: bool = False


class ChangeIn(BaseModel):
    op: str = Field(description="add | remove | lock | unlock")
    submission: int = Field(description="submission number")
    member_id: int


class BidIn(BaseModel):
    value: str = Field(description="eager | willing | not_willing | conflict")


class ConflictIn(BaseModel):
    member_id: int | None = Field(None, description="staff only: the reviewer; default yourself")
    group_id: int | None = Field(None, description="staff: the group")
    with_email: str | None = Field(None, description="students: a person you conflict with (their group counts)")
    reason: str = ""


def _assignment_rows(session, ctx) -> list[dict]:  # noqa: ANN001
    subs = {s.id: s for s in service.submissions(session, ctx.venue)}
    return [{"submission": subs[a.submission_id].number, "member_id": a.member_id, "origin": a.origin,
             "locked": a.locked, "affinity": a.affinity} for a in service.current(session, ctx.venue)]


@api.post("/venues/{slug}/assignment/solve")
def api_solve(body: SolveIn, session: SessionDep, settings: SettingsDep, ctx: VenueCtx) -> dict:
    """Solve the whole assignment (keeps locked pairs, changes as little as it can); dry_run only reports."""
    require(permissions.can_manage_assignments(ctx.user, ctx.member, ctx.venue), CHAIRS_ONLY)
    from app.assignment.solver import Infeasible

    try:
        plan = service.auto_assign(session, settings, ctx.user, ctx.venue, k=body.k, min_load=body.min_load,
                                   max_load=body.max_load, include_tas=body.include_tas, fair=body.fair,
                                   dry_run=body.dry_run)
    except Infeasible as exc:
        raise BadInput(f"No assignment is possible: {exc}") from None
    return {"dry_run": body.dry_run, "stats": plan.stats,
            "changes": [{"op": c.op, "submission_id": c.submission_id, "member_id": c.member_id} for c in plan.changes]}


@api.get("/venues/{slug}/assignments")
def api_assignments(session: SessionDep, ctx: VenueCtx) -> list[dict]:
    require(permissions.can_view_assignments(ctx.user, ctx.member, ctx.venue), "Only chairs and TAs see assignments.")
    return _assignment_rows(session, ctx)


@api.post("/venues/{slug}/assignments")
def api_change(body: list[ChangeIn], session: SessionDep, ctx: VenueCtx) -> list[dict]:
    """Manual changes, all or nothing."""
    require(permissions.can_manage_assignments(ctx.user, ctx.member, ctx.venue), CHAIRS_ONLY)
    changes = [service.Change(c.op, service.get_assignment_sub(session, ctx.venue, c.submission).id, c.member_id)
               for c in body]
    service.apply_changes(session, ctx.user, ctx.venue, changes, action="assignment.manual")
    return _assignment_rows(session, ctx)


@api.post("/venues/{slug}/assignments/import")
def api_import(session: SessionDep, ctx: VenueCtx, file: Annotated[UploadFile, File()]) -> list[dict]:
    require(permissions.can_manage_assignments(ctx.user, ctx.member, ctx.venue), CHAIRS_ONLY)
    service.import_csv(session, ctx.user, ctx.venue, read_upload(file, 2 * 1024 * 1024))
    return _assignment_rows(session, ctx)


@api.get("/venues/{slug}/assignments/export", response_class=PlainTextResponse)
def api_export(session: SessionDep, ctx: VenueCtx) -> PlainTextResponse:
    require(permissions.can_view_assignments(ctx.user, ctx.member, ctx.venue), "Only chairs and TAs see assignments.")
    return PlainTextResponse(service.export_csv(session, ctx.venue), media_type="text/csv")


@api.put("/venues/{slug}/bids/{number}")
def api_bid(number: int, body: BidIn, session: SessionDep, ctx: VenueCtx) -> dict:
    require(permissions.can_bid(ctx.user, ctx.member, ctx.venue), "Bidding is open to reviewers in the assignment phase.")
    sub = service.get_assignment_sub(session, ctx.venue, number)
    bid = service.set_bid(session, ctx.venue, ctx.member, sub, body.value)
    return {"submission": number, "value": bid.value}


@api.post("/venues/{slug}/conflicts", status_code=201)
def api_conflict(body: ConflictIn, session: SessionDep, ctx: VenueCtx) -> dict:
    require(permissions.can_declare_conflict(ctx.user, ctx.member, ctx.venue), "Conflicts can no longer be declared.")
    staff = permissions.is_staff(ctx.user, ctx.member)
    if staff and body.member_id and body.group_id:
        member = venue_service.get_member_by_id(session, ctx.venue, body.member_id)
        group = group_service.get_group(session, ctx.venue, body.group_id)
    elif body.with_email and ctx.member is not None:
        from app.services.accounts import get_user_by_email

        other_user = get_user_by_email(session, body.with_email)
        other = venue_service.get_member(session, ctx.venue, other_user) if other_user else None
        if other is None or other.group_id is None:
            raise NotFound("That person is not in a group of this venue.")
        member, group = ctx.member, group_service.get_group(session, ctx.venue, other.group_id)
    else:
        raise BadInput("Name the person you conflict with (with_email); staff give member_id and group_id.")
    conflict = service.declare_conflict(session, ctx.user, ctx.venue, member, group, body.reason)
    return {"id": conflict.id}
