"""Runs of artifacts: authors and staff queue them and read them; rigs claim them and report back; rigs page.

User side under /api/v1/venues/{slug}/submissions/{number}/runs; rig side under /api/v1/rig with
`Authorization: Bearer rig_…`; site-wide rig registration under /api/v1/rigs. A run is enqueued only
after the commit that created it.
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, PlainTextResponse
from pydantic import BaseModel, Field

from app.artifacts import queue
from app.artifacts import runs as service
from app.db import SessionDep
from app.deps import CurrentUser, SettingsDep, VenueCtx
from app.errors import NotSignedIn
from app.models.run import FINISHED, Rig, Run
from app.routers.submissions import _visible_submission
from app.security import permissions
from app.security.permissions import require
from app.services import submissions as submission_service
from app.web import form_action, render

pages = APIRouter(tags=["pages"], include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["runs"])


# ---- shapes -----------------------------------------------------------------------------------------


class RunIn(BaseModel):
    smoke: bool = False


class RunOut(BaseModel):
    id: int
    submission_number: int
    artifact_id: int
    rig_kind: str
    status: str
    reason: str | None
    smoke: bool
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    rig_id: int | None
    attempts: int
    duration_s: float | None
    metrics: dict
    facts: dict
    checks: list
    badges: list
    log_bytes: int
    finished: bool


class RigIn(BaseModel):
    name: str = Field(max_length=100)
    kind: str = Field(default="local", max_length=20)
    description: str = Field(default="", max_length=1000)
    gpus: int = Field(default=0, ge=0, le=64)


class RigOut(BaseModel):
    id: int
    name: str
    kind: str
    description: str
    created_at: datetime
    last_seen_at: datetime | None
    facts: dict
    gpus: int
    disabled: bool
    token: str | None = Field(default=None, description="The rig's secret, shown once at creation.")


class RigHeartbeatIn(BaseModel):
    facts: dict = Field(default_factory=dict)


class LogIn(BaseModel):
    text: str = Field(max_length=1024 * 1024)
    seq: int | None = Field(default=None, ge=0)


class ResultIn(BaseModel):
    status: str
    reason: str | None = Field(default=None, max_length=10_000)
    metrics: dict = Field(default_factory=dict)
    checks: list = Field(default_factory=list)
    badges: list = Field(default_factory=list)
    facts: dict = Field(default_factory=dict)
    duration_s: float | None = None


def run_out(run: Run, number: int) -> RunOut:
    return RunOut(submission_number=number, finished=run.status in FINISHED,
                  **run.model_dump(exclude={"venue_id", "submission_id", "requested_by"}))


def rig_out(rig: Rig, token: str | None = None) -> RigOut:
    return RigOut(token=token, **rig.model_dump(exclude={"token_hash", "created_by"}))


# ---- dependencies -----------------------------------------------------------------------------------


def current_rig(request: Request, session: SessionDep) -> Rig:
    """The rig a `Bearer rig_…` token names; anything else is 401."""
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    rig = service.rig_from_token(session, token) if token else None
    if rig is None:
        raise NotSignedIn("This endpoint is for rigs: send Authorization: Bearer rig_… with a valid rig token.")
    return rig


CurrentRig = Annotated[Rig, Depends(current_rig)]


def _runs_submission(session, ctx, number: int, *, request: bool = False):  # noqa: ANN001, ANN202
    sub = _visible_submission(session, ctx, number)
    require(permissions.can_view_runs(ctx.user, ctx.member, ctx.venue, sub))
    if request:
        require(permissions.can_request_run(ctx.user, ctx.member, ctx.venue, sub),
                "Only the submission's authors and the venue's staff can start runs.")
    return sub


def _sweep(session, settings, request: Request) -> None:  # noqa: ANN001
    """Re-queue (or fail) runs whose rig went silent; enqueue the re-queued ones after the commit."""
    requeued = service.expire_stale_runs(session, ttl_s=service.HEARTBEAT_TTL_S, max_attempts=service.MAX_ATTEMPTS)
    if requeued:
        kinds = [(r, session.get(Run, r).rig_kind) for r in requeued]
        session.commit()
        queue.enqueue_runs(settings, kinds, engine=request.app.state.engine)


# ---- user side --------------------------------------------------------------------------------------


@api.post("/venues/{slug}/submissions/{number}/runs", response_model=RunOut, status_code=201)
def api_request_run(number: int, request: Request, session: SessionDep, settings: SettingsDep, ctx: VenueCtx,
                    body: RunIn | None = None) -> RunOut:
    """Queue a run of the submission's current artifact (it needs a valid reproduce.toml)."""
    sub = _runs_submission(session, ctx, number, request=True)
    run = service.create_run(session, ctx.user, sub, submission_service.current_artifact(session, sub),
                             smoke=bool(body and body.smoke))
    session.commit()  # the job must never see a run that is not there yet
    queue.enqueue_run(settings, run.id, run.rig_kind, engine=request.app.state.engine)
    return run_out(run, sub.number)


@api.get("/venues/{slug}/submissions/{number}/runs", response_model=list[RunOut])
def api_runs(number: int, session: SessionDep, ctx: VenueCtx) -> list[RunOut]:
    sub = _runs_submission(session, ctx, number)
    return [run_out(r, sub.number) for r in service.list_runs(session, sub)]


@api.get("/venues/{slug}/submissions/{number}/runs/{run_id}", response_model=RunOut)
def api_run(number: int, run_id: int, session: SessionDep, ctx: VenueCtx) -> RunOut:
    sub = _runs_submission(session, ctx, number)
    return run_out(service.get_run(session, sub, run_id), sub.number)


@api.get("/venues/{slug}/submissions/{number}/runs/{run_id}/log", response_class=PlainTextResponse)
def api_run_log(number: int, run_id: int, session: SessionDep, ctx: VenueCtx) -> PlainTextResponse:
    """The run's output so far, as text."""
    sub = _runs_submission(session, ctx, number)
    return PlainTextResponse(service.read_log(session, service.get_run(session, sub, run_id)))


@api.post("/venues/{slug}/submissions/{number}/runs/{run_id}/cancel", response_model=RunOut)
def api_cancel_run(number: int, run_id: int, session: SessionDep, ctx: VenueCtx) -> RunOut:
    sub = _runs_submission(session, ctx, number, request=True)
    return run_out(service.cancel_run(session, ctx.user, service.get_run(session, sub, run_id)), sub.number)


# ---- rig side ---------------------------------------------------------------------------------------


@api.post("/rig/heartbeat")
def api_rig_heartbeat(request: Request, session: SessionDep, settings: SettingsDep, rig: CurrentRig,
                      body: RigHeartbeatIn | None = None) -> dict:
    """The rig is alive (with its machine's facts); also the moment silent runs are re-queued."""
    service.rig_heartbeat(session, rig, body.facts if body else None)
    _sweep(session, settings, request)
    return {"ok": True, "rig_id": rig.id, "kind": rig.kind}


@api.post("/rig/runs/{run_id}/claim")
def api_rig_claim(run_id: int, session: SessionDep, rig: CurrentRig) -> dict:
    """Take a queued run: returns the manifest text and the limits; a run already taken is 409."""
    return service.claim_payload(session, service.claim_run(session, rig, run_id))


@api.get("/rig/runs/{run_id}/bundle")
def api_rig_bundle(run_id: int, session: SessionDep, settings: SettingsDep, rig: CurrentRig) -> FileResponse:
    """The artifact's ORIGINAL snapshot as .tar.gz, for the rig holding the run."""
    sha = service.run_bundle_sha(session, service.rig_run(session, rig, run_id))
    session.commit()  # end the transaction before streaming: the file may take a while to send
    return FileResponse(submission_service.store(settings).path(sha), media_type="application/gzip",
                        filename=f"run-{run_id}.tar.gz")


@api.post("/rig/runs/{run_id}/log")
def api_rig_log(run_id: int, body: LogIn, session: SessionDep, rig: CurrentRig) -> dict:
    """Append output; `stop` in the answer tells the rig the run was cancelled."""
    run = service.rig_run(session, rig, run_id)
    if run.status != "running":
        return service.rig_state(run)
    return service.rig_state(service.append_log(session, rig, run, body.text, body.seq))


@api.post("/rig/runs/{run_id}/heartbeat")
def api_rig_run_heartbeat(run_id: int, session: SessionDep, rig: CurrentRig) -> dict:
    return service.rig_state(service.run_heartbeat(session, rig, service.rig_run(session, rig, run_id)))


@api.post("/rig/runs/{run_id}/result")
def api_rig_result(run_id: int, body: ResultIn, session: SessionDep, rig: CurrentRig) -> dict:
    """The run's outcome: status, reason, metrics, checks against the claims, badges, machine facts."""
    run = service.rig_run(session, rig, run_id)
    return service.rig_state(service.finish_run(session, rig, run, **body.model_dump()))


# ---- rigs (site-wide) -------------------------------------------------------------------------------

RIGS_ONLY = "Only admins and venue chairs manage rigs."


@api.post("/rigs", response_model=RigOut, status_code=201)
def api_create_rig(body: RigIn, session: SessionDep, user: CurrentUser) -> RigOut:
    """Register a rig; the answer carries its token, shown this once."""
    require(permissions.can_manage_rigs(user, service.chairs_a_venue(session, user)), RIGS_ONLY)
    rig, token = service.create_rig(session, user, name=body.name, kind=body.kind, description=body.description,
                                    gpus=body.gpus)
    return rig_out(rig, token)


@api.get("/rigs", response_model=list[RigOut])
def api_rigs(session: SessionDep, user: CurrentUser) -> list[RigOut]:
    require(permissions.can_manage_rigs(user, service.chairs_a_venue(session, user)), RIGS_ONLY)
    return [rig_out(r) for r in service.list_rigs(session)]


@pages.get("/rigs")
def rigs_page(request: Request, session: SessionDep, user: CurrentUser):  # noqa: ANN201
    require(permissions.can_manage_rigs(user, service.chairs_a_venue(session, user)), RIGS_ONLY)
    return render(request, "pages/rigs.html", {"rigs": service.list_rigs(session)}, user=user)


@pages.post("/rigs")
def rigs_create(request: Request, session: SessionDep, user: CurrentUser, name: Annotated[str, Form()],
                kind: Annotated[str, Form()] = "local", description: Annotated[str, Form()] = "",
                gpus: Annotated[int, Form()] = 0):  # noqa: ANN201
    def create():  # noqa: ANN202
        require(permissions.can_manage_rigs(user, service.chairs_a_venue(session, user)), RIGS_ONLY)
        return service.create_rig(session, user, name=name, kind=kind, description=description, gpus=gpus)
    return form_action(request, session, create,
                       success=lambda r: f"Rig '{r[0].name}' registered. Its token, shown only now: {r[1]}",
                       next_url="/rigs", back_url="/rigs")


@pages.get("/venues/{slug}/submissions/{number}/runs/{run_id}/status")
def run_status_fragment(number: int, run_id: int, request: Request, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    """The run's status as an htmx fragment; it polls itself while the run is queued or running."""
    sub = _runs_submission(session, ctx, number)
    run = service.get_run(session, sub, run_id)
    return render(request, "partials/run_status.html",
                  {"venue": ctx.venue, "sub": sub, "run": run, "finished": run.status in FINISHED},
                  user=ctx.user)


__all__ = ["api", "pages"]
