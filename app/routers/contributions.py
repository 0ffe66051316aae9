"""Team contributions: who did what in a submission's repository, and which git identities are whose.

Staff and the group's own members only (app.security.permissions.can_view_contributions): everything here names
authors, so reviewers get 403 like anyone outside the group."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app import schemas
from app.db import SessionDep
from app.deps import VisibleSubmission
from app.security import permissions
from app.security.permissions import require
from app.services import contributions as service
from app.services import moderation

pages = APIRouter(tags=["pages"], include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["contributions"])
ERRORS = {code: {"model": schemas.ErrorOut} for code in (401, 403, 404, 409, 422)}


class ClaimIn(BaseModel):
    email: str
    member_id: int | None = None  # a chair maps an identity to this member; members claim for themselves


@api.get("/venues/{slug}/submissions/{number}/contributions", responses=ERRORS)
def get_contributions(session: SessionDep, ctx: VisibleSubmission) -> dict:
    """Per member: commits, co-authored commits, lines after the exclusions, files, areas, weekly activity and the
    share of the last 48 h before the deadline; the claims and the identities nobody claimed."""
    require(permissions.can_view_contributions, ctx.standing)
    return service.contributions(session, ctx.venue, ctx.sub).to_json()


@api.post("/venues/{slug}/submissions/{number}/contributions/identities", status_code=201, responses=ERRORS)
def claim_identity(body: ClaimIn, session: SessionDep, ctx: VisibleSubmission):  # noqa: ANN201
    """A member claims a git identity (by email) as theirs; a chair maps one to a member (`member_id`)."""
    if body.member_id is not None:
        require(permissions.can_map_identity, ctx.standing)
        member = moderation.get_member(session, ctx.venue, body.member_id)
        row, disputed = service.claim_identity(session, ctx.user, ctx.venue, ctx.sub, member, body.email,
                                               by_chair=True)
    else:
        require(permissions.can_claim_identity, ctx.standing)
        row, disputed = service.claim_identity(session, ctx.user, ctx.venue, ctx.sub, ctx.member, body.email)
    if disputed:  # an answer, not an exception: the dispute is committed for the chairs to see
        return JSONResponse({"detail": service.DISPUTED, "code": "identity-disputed"}, status_code=409)
    return {"email": row.email, "member_id": row.member_id, "origin": row.origin}


@api.delete("/venues/{slug}/submissions/{number}/contributions/identities/{email}", status_code=204,
            responses=ERRORS)
def unclaim_identity(email: str, session: SessionDep, ctx: VisibleSubmission) -> None:
    """Withdraw a claim: a member their own, a chair anyone's."""
    if permissions.can_map_identity(ctx.standing):
        service.unclaim_identity(session, ctx.user, ctx.venue, ctx.sub, email, None)
    else:
        require(permissions.can_claim_identity, ctx.standing)
        service.unclaim_identity(session, ctx.user, ctx.venue, ctx.sub, email, ctx.member)
