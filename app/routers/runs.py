"""Runs of artifacts: authors and staff queue them and read them; rigs claim them and report back; rigs page.

User side under /api/v1/venues/{slug}/submissions/{number}/runs (and its claims and badges); rig side
under /api/v1/rig with `Authorization: Bearer rig_…`; site-wide rig registration under /api/v1/rigs.
A run is enqueued only after the commit that created it.
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from app import schemas
from app.db import SessionDep, release
from app.deps import CurrentUser, SettingsDep, SubmissionContext, VenueCtx, VisibleRun, VisibleSubmission
from app.errors import BadInput, NotFound, NotSignedIn
from app.jobs.sweep import sweep_runs
from app.models import Submission
from app.models.run import FINISHED, Rig, Run
from app.security import permissions
from app.security.permissions import require
from app.services import badges as badge_service
from app.services import claims as claim_service
from app.services import runs as service
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
    gpus: int
    finished: bool


class RigIn(BaseModel):
    name: str = Field(max_length=100)
    kind: str = Field(default="local", max_length=20)
    description: str = Field(default="", max_length=1000)
    gpus: int = Field(default=0, ge=0, le=64)
    site_wide: bool = Field(default=False, description="Serve every venue (site admins only); otherwise the rig "
                                                        "serves the venues its creator chairs.")


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
    site_wide: bool
    venues: list[str] | None = Field(default=None, description="Slugs of the venues the rig serves (its creator "
                                                                "chairs them); null for a site-wide rig.")
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


class ClaimIn(BaseModel):
    key: str = Field(max_length=32, description="the claim's id, e.g. C3 (unique with reproduce.toml's)")
    experiment: str = Field(max_length=64)
    metric: str = Field(max_length=128)
    value: float
    direction: str = Field(default="at_least", max_length=10)
    tolerance: str = Field(default="0", max_length=20, description='"10%" (relative) or "0.02" (absolute)')
    text: str = Field(default="", max_length=1000)
    page: int | None = None


class ClaimOut(BaseModel):
    id: int | None = Field(description="the form claim's id; null for a claim in reproduce.toml")
    key: str
    source: str
    text: str
    page: int | None
    experiment: str
    metric: str
    value: float
    direction: str
    tolerance: str
    experiment_exists: bool
    measured: float | None = Field(description="in the latest finished run of the current artifact")
    passed: bool | None
    reason: str | None


class BadgeDecisionIn(BaseModel):
    granted: bool | None = Field(description="true/false to confirm or override; null withdraws the decision")
    reason: str = Field(default="", max_length=1000)


class BadgeOut(BaseModel):
    badge: str
    label: str
    earned: bool
    granted: bool
    decision: str
    reason: str | None
    decided_at: datetime | None


def run_out(run: Run, number: int, mask=None) -> RunOut:  # noqa: ANN001
    """The run as this reader may see it: `mask` (service.text_masker) masks the author text in it for reviewers."""
    fields = run.model_dump(exclude={"venue_id", "submission_id", "requested_by"})
    if mask is not None:
        shown = service.masked_run(run, mask)
        fields.update(reason=shown.reason, metrics=shown.metrics, facts=shown.facts, checks=shown.checks)
    return RunOut(submission_number=number, finished=run.status in FINISHED, **fields)


def rig_out(rig: Rig, venues: list | None, token: str | None = None) -> RigOut:
    return RigOut(token=token, venues=None if venues is None else [v.slug for v in venues],
                  **rig.model_dump(exclude={"token_hash", "created_by"}))


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


def _runs_submission(ctx: SubmissionContext, *, request: bool = False) -> Submission:
    """The visible submission whose runs this route reads (403 without can_view_runs; `request`: can_request_run)."""
    require(permissions.can_view_runs, ctx.standing)
    if request:
        require(permissions.can_request_run, ctx.standing)
    return ctx.sub


def _unmasked(ctx: SubmissionContext) -> bool:
    return permissions.can_read_run_logs_unmasked(ctx.standing)


def _mask(session, ctx: SubmissionContext):  # noqa: ANN001, ANN202
    """None for the authors and staff; the submission's masker for anyone else (reviewers)."""
    return service.text_masker(session, ctx.sub, unmasked=_unmasked(ctx))


def runs_section(session, st: permissions.Standing | None) -> dict:  # noqa: ANN001
    """The Runs / Claims / Badges sections' context for a submission page (authors' or staff's): a page fragment
    that app/routers/submissions.py uses too (this module imports no other router)."""
    if st is None or not permissions.can_view_runs(st):
        return {"runs_section": None}
    unmasked = permissions.can_read_run_logs_unmasked(st)
    overview = service.masked_overview(service.runs_overview(session, st.submission),
                                       service.text_masker(session, st.submission, unmasked=unmasked))
    return {"runs_section": {
        **overview, "unmasked": unmasked, "finished": FINISHED,
        "can_request_run": permissions.can_request_run(st),
        "can_edit_claims": permissions.can_edit_claims(st),
        "can_decide_badges": permissions.can_decide_badges(st),
        "experiments": claim_service.experiment_ids(overview["artifact"]),
        "directions": ("at_least", "at_most", "about"),
        "tails": {r.id: service.log_tail(session, r, anonymize=not unmasked) for r in overview["runs"][:5]},
    }}



# ---- user side --------------------------------------------------------------------------------------


@api.post("/venues/{slug}/submissions/{number}/runs", response_model=RunOut, status_code=201)
def api_request_run(request: Request, session: SessionDep, settings: SettingsDep, ctx: VisibleSubmission,
                    body: RunIn | None = None) -> RunOut:
    """Queue a run of the submission's current artifact (it needs a valid reproduce.toml)."""
    sub = _runs_submission(ctx, request=True)
    run = service.create_run(session, ctx.user, sub, submission_service.current_artifact(session, sub),
                             smoke=bool(body and body.smoke))
    service.enqueue_after_commit(session, settings, run)  # to a rig once the request commits, never before
    return run_out(run, sub.number, _mask(session, ctx))


@api.get("/venues/{slug}/submissions/{number}/runs", response_model=list[RunOut])
def api_runs(request: Request, session: SessionDep, settings: SettingsDep,
             ctx: VisibleSubmission) -> list[RunOut]:
    sub = _runs_submission(ctx)
    sweep_runs(settings, session)
    mask = _mask(session, ctx)
    return [run_out(r, sub.number, mask) for r in service.list_runs(session, sub)]


@api.get("/venues/{slug}/submissions/{number}/runs/{run_id}", response_model=RunOut)
def api_run(session: SessionDep, ctx: VisibleRun) -> RunOut:
    return run_out(ctx.run, ctx.sub.number, _mask(session, ctx))


@api.get("/venues/{slug}/submissions/{number}/runs/{run_id}/log", response_class=PlainTextResponse)
def api_run_log(session: SessionDep, ctx: VisibleRun, download: bool = False) -> PlainTextResponse:
    """The run's whole output so far, as text (`?download=1`: as a file); anonymized for all but the
    authors and staff."""
    text = service.read_log(session, ctx.run, anonymize=not _unmasked(ctx))
    headers = {"Content-Disposition": f'attachment; filename="run-{ctx.run.id}.log"'} if download else None
    return PlainTextResponse(text, headers=headers)


@api.post("/venues/{slug}/submissions/{number}/runs/{run_id}/cancel", response_model=RunOut)
def api_cancel_run(session: SessionDep, ctx: VisibleRun) -> RunOut:
    """Cancel a run: a rig running it kills the command's whole process tree within about a second."""
    sub = _runs_submission(ctx, request=True)
    return run_out(service.cancel_run(session, ctx.user, ctx.run), sub.number, _mask(session, ctx))


# ---- claims and badges ------------------------------------------------------------------------------


def _claim_in(body: ClaimIn) -> claim_service.ClaimIn:
    return claim_service.ClaimIn(**body.model_dump())


def _claims_submission(ctx: SubmissionContext, *, edit: bool = False) -> Submission:
    """A visible submission's claims and badges (403 without can_view_runs); edit checks can_edit_claims."""
    return _claims_check(ctx.standing, edit=edit)


def _own_claims_submission(session, ctx, *, edit: bool = False) -> Submission:  # noqa: ANN001
    """The signed-in author's own submission, for the authors' page forms."""
    require(permissions.can_view_own_submission, ctx.user, ctx.member, ctx.venue)
    sub = submission_service.submission_of_group(session, ctx.venue, ctx.member.group_id)
    if sub is None:
        raise NotFound("Your group has no submission yet: give it a title first.")
    return _claims_check(permissions.standing(session, ctx.user, ctx.member, sub, ctx.venue), edit=edit)


def _claims_check(st: permissions.Standing, *, edit: bool) -> Submission:
    require(permissions.can_view_runs, st)
    if edit:
        require(permissions.can_edit_claims, st)
    return st.submission


def _claims_out(session, ctx: SubmissionContext, sub) -> list[ClaimOut]:  # noqa: ANN001
    """Every claim as this reader may see it (texts and metric names masked for reviewers)."""
    overview = service.masked_overview(service.runs_overview(session, sub), _mask(session, ctx))
    return [ClaimOut(**row) for row in overview["claims"]]


@api.get("/venues/{slug}/submissions/{number}/claims", response_model=list[ClaimOut])
def api_claims(session: SessionDep, ctx: VisibleSubmission) -> list[ClaimOut]:
    """Every claim (reproduce.toml's and the form's) with its check against the latest finished run."""
    return _claims_out(session, ctx, _claims_submission(ctx))


@api.post("/venues/{slug}/submissions/{number}/claims", response_model=list[ClaimOut], status_code=201)
def api_add_claim(body: ClaimIn, session: SessionDep, ctx: VisibleSubmission) -> list[ClaimOut]:
    """Add a claim; it must name an experiment of the current reproduce.toml (metric names are free)."""
    sub = _claims_submission(ctx, edit=True)
    claim_service.save_claim(session, ctx.user, ctx.venue, sub, submission_service.current_artifact(session, sub),
                             _claim_in(body))
    return _claims_out(session, ctx, sub)


@api.put("/venues/{slug}/submissions/{number}/claims/{claim_id}", response_model=list[ClaimOut])
def api_edit_claim(claim_id: int, body: ClaimIn, session: SessionDep, ctx: VisibleSubmission) -> list[ClaimOut]:
    sub = _claims_submission(ctx, edit=True)
    claim_service.save_claim(session, ctx.user, ctx.venue, sub, submission_service.current_artifact(session, sub),
                             _claim_in(body), claim_id)
    return _claims_out(session, ctx, sub)


@api.delete("/venues/{slug}/submissions/{number}/claims/{claim_id}", status_code=204)
def api_delete_claim(claim_id: int, session: SessionDep, ctx: VisibleSubmission) -> Response:
    sub = _claims_submission(ctx, edit=True)
    claim_service.delete_claim(session, ctx.user, ctx.venue, sub, claim_id)
    return Response(status_code=204)


@api.get("/venues/{slug}/submissions/{number}/badges", response_model=list[BadgeOut])
def api_badges(session: SessionDep, ctx: VisibleSubmission) -> list[BadgeOut]:
    """The ACM badges: earned by the runs, confirmed or overridden by a chair; `granted` is what counts."""
    sub = _claims_submission(ctx)
    return [BadgeOut(**b) for b in badge_service.effective_badges(session, sub)]


@api.put("/venues/{slug}/submissions/{number}/badges/{badge}", response_model=BadgeOut)
def api_decide_badge(badge: str, body: BadgeDecisionIn, session: SessionDep,
                     ctx: VisibleSubmission) -> BadgeOut:
    """A chair confirms or overrides one badge with a reason (null `granted` withdraws the decision)."""
    sub = _claims_submission(ctx)
    require(permissions.can_decide_badges, ctx.standing)
    return BadgeOut(**badge_service.decide_badge(session, ctx.user, ctx.venue, sub, badge, granted=body.granted,
                                                 reason=body.reason))


# ---- rig side ---------------------------------------------------------------------------------------


@api.post("/rig/heartbeat")
def api_rig_heartbeat(request: Request, session: SessionDep, settings: SettingsDep, rig: CurrentRig,
                      body: RigHeartbeatIn | None = None) -> dict:
    """The rig is alive (with its machine's facts); also the moment silent runs are re-queued."""
    service.rig_heartbeat(session, rig, body.facts if body else None)
    sweep_runs(settings, session)
    return {"ok": True, "rig_id": rig.id, "kind": rig.kind}


@api.post("/rig/runs/{run_id}/claim")
def api_rig_claim(run_id: int, session: SessionDep, rig: CurrentRig) -> dict:
    """Take a queued run: returns the manifest text and the limits; a run already taken is 409."""
    return service.claim_payload(session, service.claim_run(session, rig, run_id))


@api.get("/rig/runs/{run_id}/bundle", response_class=Response,
         responses=schemas.served_as("application/gzip", description="The snapshot, .tar.gz"))
def api_rig_bundle(run_id: int, session: SessionDep, settings: SettingsDep, rig: CurrentRig) -> FileResponse:
    """The artifact's ORIGINAL snapshot as .tar.gz, for the rig holding the run."""
    sha = service.run_bundle_sha(session, service.rig_run(session, rig, run_id))
    release(session)  # end the transaction before streaming: the file may take a while to send
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



@api.post("/rigs", response_model=RigOut, status_code=201)
def api_create_rig(body: RigIn, session: SessionDep, user: CurrentUser) -> RigOut:
    """Register a rig; the answer carries its token, shown this once. It serves the venues its creator chairs
    (claims and bundles of other venues' runs are refused), or every venue when a site admin says `site_wide`."""
    require(permissions.can_manage_rigs, user, service.chairs_a_venue(session, user))
    rig, token = service.create_rig(session, user, name=body.name, kind=body.kind, description=body.description,
                                    gpus=body.gpus, site_wide=body.site_wide)
    return rig_out(rig, service.rig_venues(session, rig), token)


@api.get("/rigs", response_model=list[RigOut])
def api_rigs(session: SessionDep, user: CurrentUser) -> list[RigOut]:
    """Site admins see every rig; a chair the site-wide ones and those serving the venues they chair."""
    require(permissions.can_manage_rigs, user, service.chairs_a_venue(session, user))
    return [rig_out(r, service.rig_venues(session, r)) for r in service.list_rigs(session, user)]


@pages.get("/rigs")
def rigs_page(request: Request, session: SessionDep, user: CurrentUser):  # noqa: ANN201
    require(permissions.can_manage_rigs, user, service.chairs_a_venue(session, user))
    rigs = service.list_rigs(session, user)
    return render(request, "pages/rigs.html", {"rigs": [(r, service.rig_venues(session, r)) for r in rigs],
                                               "may_site_wide": permissions.can_make_site_wide_rig(user)}, user=user)


@pages.post("/rigs")
def rigs_create(request: Request, session: SessionDep, user: CurrentUser, name: Annotated[str, Form()],
                kind: Annotated[str, Form()] = "local", description: Annotated[str, Form()] = "",
                gpus: Annotated[int, Form()] = 0, site_wide: Annotated[bool, Form()] = False):  # noqa: ANN201
    def create():  # noqa: ANN202
        require(permissions.can_manage_rigs, user, service.chairs_a_venue(session, user))
        return service.create_rig(session, user, name=name, kind=kind, description=description, gpus=gpus,
                                  site_wide=site_wide)
    return form_action(request, session, create,
                       success=lambda r: f"Rig '{r[0].name}' registered. Its token, shown only now: {r[1]}",
                       next_url="/rigs", back_url="/rigs")


@pages.get("/venues/{slug}/submissions/{number}/runs/{run_id}/status")
def run_status_fragment(request: Request, session: SessionDep, settings: SettingsDep,
                        ctx: VisibleRun):  # noqa: ANN201
    """The run's status and the tail of its log as an htmx fragment; it polls itself while the run is
    queued or running, and stops once it has finished."""
    sub = ctx.sub
    sweep_runs(settings, session)
    run = ctx.run
    session.refresh(run)
    return render(request, "partials/run_status.html",
                  {"venue": ctx.venue, "sub": sub, "run": service.masked_run(run, _mask(session, ctx)),
                   "finished": run.status in FINISHED,
                   "tail": service.log_tail(session, run, anonymize=not _unmasked(ctx))},
                  user=ctx.user)


@pages.get("/venues/{slug}/submissions/{number}/runs/live")
def runs_live_fragment(request: Request, session: SessionDep, settings: SettingsDep,
                       ctx: VisibleSubmission):  # noqa: ANN201
    """The runs table and the newest runs' status blocks as one htmx fragment (the authors' page and the runs
    page poll it while a run is queued or running), so the two never disagree. The fragment that finds every
    run finished stops the polling and fires `runs-finished`, which refreshes the claims and badges."""
    sub = _runs_submission(ctx)
    sweep_runs(settings, session)
    section = runs_section(session, ctx.standing)
    response = render(request, "partials/runs_live.html", {"venue": ctx.venue, "sub": sub, **section},
                      user=ctx.user)
    if all(r.status in FINISHED for r in section["runs_section"]["runs"]):
        response.headers["HX-Trigger"] = "runs-finished"
    return response


@pages.get("/venues/{slug}/submissions/{number}/runs")
def runs_page(request: Request, session: SessionDep, ctx: VisibleSubmission):  # noqa: ANN201
    """A submission's runs, claims and badges for whoever may see its runs (staff; reviewers later)."""
    sub = _runs_submission(ctx)
    return render(request, "pages/submission_runs.html", {"venue": ctx.venue, "sub": sub,
                                                          **runs_section(session, ctx.standing)}, user=ctx.user)


def _back(ctx, number: int | None) -> str:  # noqa: ANN001
    return (f"/venues/{ctx.venue.slug}/submission" if number is None
            else f"/venues/{ctx.venue.slug}/submissions/{number}/runs")


@pages.post("/venues/{slug}/submission/runs")
def run_now(request: Request, session: SessionDep, settings: SettingsDep, ctx: VenueCtx):  # noqa: ANN201
    """The authors' "Run now" button: queue a run of the current artifact (enqueued after the commit)."""
    def start():  # noqa: ANN202
        sub = _own_claims_submission(session, ctx)
        require(permissions.can_request_run, permissions.standing(session, ctx.user, ctx.member, sub, ctx.venue))
        run = service.create_run(session, ctx.user, sub, submission_service.current_artifact(session, sub))
        service.enqueue_after_commit(session, settings, run)
        return run
    return form_action(request, session, start, success=lambda r: f"Run {r.id} queued on a {r.rig_kind} rig.",
                       next_url=_back(ctx, None) + "#runs", back_url=_back(ctx, None) + "#runs")


@pages.post("/venues/{slug}/submissions/{number}/runs/{run_id}/cancel")
def run_cancel_page(request: Request, session: SessionDep, ctx: VisibleRun):  # noqa: ANN201
    back = (_back(ctx, None) if ctx.member is not None and ctx.member.group_id is not None
            else _back(ctx, ctx.sub.number))
    def cancel():  # noqa: ANN202
        _runs_submission(ctx, request=True)
        return service.cancel_run(session, ctx.user, ctx.run)
    return form_action(request, session, cancel, success=lambda r: f"Run {r.id} cancelled.",
                       next_url=back + "#runs", back_url=back + "#runs")


def _claim_form(key: str, experiment: str, metric: str, value: str, direction: str, tolerance: str, text: str,
                page: str) -> claim_service.ClaimIn:
    return claim_service.ClaimIn(key=key, experiment=experiment, metric=metric, value=value, direction=direction,
                                 tolerance=tolerance, text=text, page=page)


@pages.post("/venues/{slug}/submission/claims")
def claim_add_page(request: Request, session: SessionDep, ctx: VenueCtx, key: Annotated[str, Form()],
                   experiment: Annotated[str, Form()], metric: Annotated[str, Form()], value: Annotated[str, Form()],
                   direction: Annotated[str, Form()] = "at_least", tolerance: Annotated[str, Form()] = "0",
                   text: Annotated[str, Form()] = "", page: Annotated[str, Form()] = ""):  # noqa: ANN201
    def add():  # noqa: ANN202
        sub = _own_claims_submission(session, ctx, edit=True)
        return claim_service.save_claim(session, ctx.user, ctx.venue, sub,
                                        submission_service.current_artifact(session, sub),
                                        _claim_form(key, experiment, metric, value, direction, tolerance, text, page))
    return form_action(request, session, add, success=lambda c: f"Claim {c.key} added.",
                       next_url=_back(ctx, None) + "#claims", back_url=_back(ctx, None) + "#claims")


@pages.post("/venues/{slug}/submission/claims/{claim_id}")
def claim_edit_page(claim_id: int, request: Request, session: SessionDep, ctx: VenueCtx, key: Annotated[str, Form()],
                    experiment: Annotated[str, Form()], metric: Annotated[str, Form()], value: Annotated[str, Form()],
                    direction: Annotated[str, Form()] = "at_least", tolerance: Annotated[str, Form()] = "0",
                    text: Annotated[str, Form()] = "", page: Annotated[str, Form()] = ""):  # noqa: ANN201
    def edit():  # noqa: ANN202
        sub = _own_claims_submission(session, ctx, edit=True)
        return claim_service.save_claim(session, ctx.user, ctx.venue, sub,
                                        submission_service.current_artifact(session, sub),
                                        _claim_form(key, experiment, metric, value, direction, tolerance, text, page),
                                        claim_id)
    return form_action(request, session, edit, success=lambda c: f"Claim {c.key} saved.",
                       next_url=_back(ctx, None) + "#claims", back_url=_back(ctx, None) + "#claims")


@pages.post("/venues/{slug}/submission/claims/{claim_id}/delete")
def claim_delete_page(claim_id: int, request: Request, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    def delete():  # noqa: ANN202
        sub = _own_claims_submission(session, ctx, edit=True)
        return claim_service.delete_claim(session, ctx.user, ctx.venue, sub, claim_id)
    return form_action(request, session, delete, success=lambda key: f"Claim {key} deleted.",
                       next_url=_back(ctx, None) + "#claims", back_url=_back(ctx, None) + "#claims")


@pages.post("/venues/{slug}/submissions/{number}/badges/{badge}")
def badge_decide_page(badge: str, request: Request, session: SessionDep, ctx: VisibleSubmission,
                      decision: Annotated[str, Form()], reason: Annotated[str, Form()] = ""):  # noqa: ANN201
    """A chair's confirm / award / withdraw / reset of one badge, from the runs page."""
    number = ctx.sub.number

    def decide():  # noqa: ANN202
        sub = _claims_submission(ctx)
        require(permissions.can_decide_badges, ctx.standing)
        granted = {"grant": True, "deny": False, "reset": None}.get(decision, "bad")
        if granted == "bad":
            raise BadInput("The decision is grant, deny or reset.")
        return badge_service.decide_badge(session, ctx.user, ctx.venue, sub, badge, granted=granted, reason=reason)
    return form_action(request, session, decide, success=lambda b: f"{b['label']}: "
                       + ("granted" if b["granted"] else "not granted") + f" ({b['decision']}).",
                       next_url=_back(ctx, number) + "#badges", back_url=_back(ctx, number) + "#badges")


__all__ = ["api", "pages"]
