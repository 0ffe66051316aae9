"""Reviewer assignment for chairs (solve jobs, preview, adjust, import/export, explanations), bids, interests and
conflicts for members: the JSON API and the pages."""

from html import escape
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from app import schemas
from app.db import SessionDep, begin_read, discard, release, start_write
from app.deps import SettingsDep, VenueCtx
from app.errors import BadInput, DomainError, NotFound
from app.jobs import assignments as _solve_jobs  # noqa: F401 — registers the solve job and the handler that starts it
from app.routers.members import read_upload
from app.security import permissions
from app.security.permissions import require
from app.security.sessions import flash
from app.services import assignments as service
from app.services import groups as group_service
from app.services import venues as venue_service
from app.web import form_action, is_htmx, redirect, render

api = APIRouter(prefix="/api/v1", tags=["assignment"])
pages = APIRouter(include_in_schema=False)
CSV_MAX_BYTES = 2 * 1024 * 1024


class SolveIn(BaseModel):
    k: int = Field(3, ge=1, le=20)
    min_load: int = Field(0, ge=0)
    max_load: int = Field(4, ge=0)
    include_tas: bool = False
    fair: bool = False
    keep_existing: bool = Field(True, description="keep every still-valid current pair and fill only open slots "
                                                  "(falls back to a full, sticky re-solve when impossible)")
    dry_run: bool = False


class OptionsIn(BaseModel):
    """Course options of the auto-solve; a field left out keeps its value."""

    one_reviewer_per_group: bool | None = Field(None, description="at most one reviewer per group on a submission "
                                                                  "(exact in the min-cost flow)")
    no_reciprocal_groups: bool | None = Field(None, description="no two groups review each other (enforced)")
    every_student_reviews: bool | None = Field(None, description="min load 1 when the slots allow; otherwise the "
                                                                 "solve says which k would make it possible")


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


class InterestsIn(BaseModel):
    items: list[str] = Field(description="a few lines each: topics you know, or a paper's title and abstract")


def _assignment_rows(session, ctx) -> list[dict]:  # noqa: ANN001
    subs = {s.id: s for s in service.submissions(session, ctx.venue)}
    return [{"submission": subs[a.submission_id].number, "member_id": a.member_id, "origin": a.origin,
             "locked": a.locked, "affinity": a.affinity} for a in service.current(session, ctx.venue)]


def _solve_params(body: SolveIn) -> dict:
    return {"k": body.k, "min_load": body.min_load, "max_load": body.max_load, "include_tas": body.include_tas,
            "fair": body.fair, "keep_existing": body.keep_existing}


def _start_job(request: Request, session, settings, ctx, params: dict, dry_run: bool):  # noqa: ANN001, ANN202, ARG001
    """Record the job; it starts once the request commits (app.jobs.assignments), never before its row exists."""
    require(permissions.can_manage_assignments, ctx.user, ctx.member, ctx.venue)
    return service.start_job(session, settings, ctx.user, ctx.venue, dry_run=dry_run, **params)


# ---- JSON API ----------------------------------------------------------------------------------------------


@api.post("/venues/{slug}/assignment/solve")
def api_solve(body: SolveIn, session: SessionDep, settings: SettingsDep, ctx: VenueCtx) -> dict:
    """Solve the whole assignment now, in this request (keeps locked pairs, changes as little as it can);
    dry_run only reports. For a venue whose texts are not embedded yet, prefer a job (…/assignment/jobs)."""
    require(permissions.can_manage_assignments, ctx.user, ctx.member, ctx.venue)
    from app.assignment.solver import Infeasible

    release(session)
    begin_read(session)  # the solve may embed texts for a while: no write lock meanwhile (like a job)
    try:
        plan = service.plan_auto(session, settings, ctx.venue, **_solve_params(body))
    except Infeasible as exc:
        raise BadInput(f"No assignment is possible: {exc}") from None
    if not body.dry_run:
        start_write(session)
        service.apply_plan(session, ctx.user, ctx.venue, plan.changes, plan.stats)
    return {"dry_run": body.dry_run, "stats": plan.stats, "summary": plan.summary,
            "changes": [{"op": c.op, "submission_id": c.submission_id, "member_id": c.member_id} for c in plan.changes]}


@api.post("/venues/{slug}/assignment/jobs", status_code=202)
def api_start_job(body: SolveIn, request: Request, session: SessionDep, settings: SettingsDep, ctx: VenueCtx) -> dict:
    """Start a solve in the background (a preview when dry_run); poll GET …/assignment/jobs/{id} for progress."""
    return service.job_view(_start_job(request, session, settings, ctx, _solve_params(body), body.dry_run))


@api.get("/venues/{slug}/assignment/jobs/{job_id}")
def api_job(job_id: int, session: SessionDep, ctx: VenueCtx) -> dict:
    """A job's phase, progress (texts embedded / total) and, once done, its stats, quality summary and changes."""
    require(permissions.can_view_assignments, ctx.user, ctx.member, ctx.venue)
    return service.job_view(service.get_job(session, ctx.venue, job_id))


@api.post("/venues/{slug}/assignment/jobs/{job_id}/apply")
def api_apply_job(job_id: int, session: SessionDep, ctx: VenueCtx) -> dict:
    """Apply exactly the changes a finished preview showed (all or nothing, checked against the current state)."""
    require(permissions.can_manage_assignments, ctx.user, ctx.member, ctx.venue)
    job = service.apply_preview(session, ctx.user, ctx.venue, service.get_job(session, ctx.venue, job_id))
    return service.job_view(job)


@api.get("/venues/{slug}/assignment/settings")
def api_options(session: SessionDep, ctx: VenueCtx) -> dict:
    """The venue's course options for the auto-solve (all on unless a chair turned one off)."""
    require(permissions.can_view_assignments, ctx.user, ctx.member, ctx.venue)
    return service.options_view(service.get_options(session, ctx.venue))


@api.put("/venues/{slug}/assignment/settings")
def api_set_options(body: OptionsIn, session: SessionDep, ctx: VenueCtx) -> dict:
    """Change course options (those given); the next solve uses them."""
    require(permissions.can_manage_assignments, ctx.user, ctx.member, ctx.venue)
    return service.options_view(service.set_options(session, ctx.user, ctx.venue, **body.model_dump()))


@api.get("/venues/{slug}/assignments")
def api_assignments(session: SessionDep, ctx: VenueCtx) -> list[dict]:
    require(permissions.can_view_assignments, ctx.user, ctx.member, ctx.venue)
    return _assignment_rows(session, ctx)


@api.get("/venues/{slug}/assignments/explain")
def api_explain(session: SessionDep, settings: SettingsDep, ctx: VenueCtx) -> dict:
    """Per pair: affinity, its rank for the reviewer and the submission, the closest profile item; and the
    quality summary (mean/min affinity, load histogram). Read from cached embeddings only."""
    require(permissions.can_view_assignments, ctx.user, ctx.member, ctx.venue)
    out = service.explain_current(session, settings, ctx.venue)
    out.pop("values", None)
    return out


@api.post("/venues/{slug}/assignments")
def api_change(body: list[ChangeIn], session: SessionDep, ctx: VenueCtx) -> list[dict]:
    """Manual changes, all or nothing."""
    require(permissions.can_manage_assignments, ctx.user, ctx.member, ctx.venue)
    changes = [service.Change(c.op, service.get_assignment_sub(session, ctx.venue, c.submission).id, c.member_id)
               for c in body]
    service.apply_changes(session, ctx.user, ctx.venue, changes, action="assignment.manual")
    return _assignment_rows(session, ctx)


@api.post("/venues/{slug}/assignments/import")
def api_import(session: SessionDep, ctx: VenueCtx, file: Annotated[UploadFile, File()]) -> list[dict]:
    require(permissions.can_manage_assignments, ctx.user, ctx.member, ctx.venue)
    service.import_csv(session, ctx.user, ctx.venue, read_upload(file, CSV_MAX_BYTES))
    return _assignment_rows(session, ctx)


@api.get("/venues/{slug}/assignments/export", response_class=Response,
         responses=schemas.served_as("text/csv", description="The assignment, CSV"))
def api_export(session: SessionDep, ctx: VenueCtx) -> PlainTextResponse:
    require(permissions.can_view_assignments, ctx.user, ctx.member, ctx.venue)
    return PlainTextResponse(service.export_csv(session, ctx.venue), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{ctx.venue.slug}-assignment.csv"'})


@api.get("/venues/{slug}/bids")
def api_bids(session: SessionDep, ctx: VenueCtx) -> list[dict]:
    """The submissions you may bid on (titles and abstracts only) with your bid."""
    require(permissions.can_bid, ctx.user, ctx.member, ctx.venue)
    return service.bidding_list(session, ctx.venue, ctx.member)


@api.put("/venues/{slug}/bids/{number}")
def api_bid(number: int, body: BidIn, session: SessionDep, ctx: VenueCtx) -> dict:
    require(permissions.can_bid, ctx.user, ctx.member, ctx.venue)
    sub = service.get_assignment_sub(session, ctx.venue, number)
    bid = service.set_bid(session, ctx.venue, ctx.member, sub, body.value)
    return {"submission": number, "value": bid.value}


@api.get("/venues/{slug}/interests")
def api_interests(session: SessionDep, ctx: VenueCtx) -> dict:
    """Your interests: profile items the assignment matches submissions against."""
    require(permissions.can_view_interests, ctx.user, ctx.member, ctx.venue)
    return {"items": [i.text for i in service.interests(session, ctx.member)]}


@api.put("/venues/{slug}/interests")
def api_set_interests(body: InterestsIn, session: SessionDep, ctx: VenueCtx) -> dict:
    require(permissions.can_edit_interests, ctx.user, ctx.member, ctx.venue)
    return {"items": service.set_interests(session, ctx.member, body.items)}


@api.get("/venues/{slug}/conflicts")
def api_conflicts(session: SessionDep, ctx: VenueCtx) -> list[dict]:
    """Staff: every conflict of the venue. Others: the conflicts they declared (no names)."""
    if permissions.can_view_conflicts(ctx.user, ctx.member, ctx.venue):
        return service.list_conflicts(session, ctx.venue)
    require(permissions.can_view_own_conflicts, ctx.user, ctx.member, ctx.venue)
    return service.own_conflicts(session, ctx.venue, ctx.member)


def _declare(session, ctx, body: ConflictIn) -> dict:  # noqa: ANN001
    """Staff name a member and a group; anyone else names a person by email and gets the same answer whoever
    that is (see declare_conflict_by_email)."""
    require(permissions.can_declare_conflict, ctx.user, ctx.member, ctx.venue)
    staff = permissions.is_staff(ctx.user, ctx.member)
    if staff and body.member_id and body.group_id:
        member = venue_service.get_member_by_id(session, ctx.venue, body.member_id)
        group = group_service.get_group(session, ctx.venue, body.group_id)
        conflict = service.declare_conflict(session, ctx.user, ctx.venue, member, group, body.reason)
        return {"id": conflict.id, "status": "recorded", "message": "Conflict recorded."}
    if body.with_email and ctx.member is not None:
        return service.declare_conflict_by_email(session, ctx.user, ctx.venue, ctx.member, body.with_email,
                                                 body.reason)
    raise BadInput("Name the person you conflict with (with_email); staff give member_id and group_id.")


@api.post("/venues/{slug}/conflicts", status_code=201)
def api_conflict(body: ConflictIn, session: SessionDep, ctx: VenueCtx) -> dict:
    """Declare a conflict. Naming a person answers 201 with the same body whether or not they are in a group;
    409 once you have declared the most one person may."""
    return _declare(session, ctx, body)


@api.post("/venues/{slug}/conflicts/import")
def api_import_conflicts(session: SessionDep, ctx: VenueCtx, file: Annotated[UploadFile, File()]) -> dict:
    """CSV `reviewer_email,other_email` or `reviewer_email,submission number` (e.g. "same team last term")."""
    require(permissions.can_import_conflicts, ctx.user, ctx.member, ctx.venue)
    return service.import_conflicts(session, ctx.user, ctx.venue, read_upload(file, CSV_MAX_BYTES))


# ---- pages -------------------------------------------------------------------------------------------------

DEFAULT_PARAMS = {"k": 3, "min_load": 0, "max_load": 4, "include_tas": False, "fair": False, "keep_existing": True}


def _report_problems(request: Request, exc: DomainError) -> None:
    """Show an import's every bad line on the next page (the flash holds only a short message)."""
    lines = [d.get("message", "") for d in exc.details] if isinstance(exc.details, list) else []
    flash(request, ": ".join(exc.message.split(": ")[:2]) + "." if lines else exc.message, "error")
    if lines:
        request.session["assign_problems"] = lines[:30]


def _assignment_context(request: Request, session, settings, ctx) -> dict:  # noqa: ANN001
    venue = ctx.venue
    subs = service.submissions(session, venue)
    by_id = {s.id: s for s in subs}
    pool = service.reviewers(session, venue, include_tas=True)
    who = {m.id: (m, u) for m, u in pool}
    labels = service._member_labels(session, {a.member_id for a in service.current(session, venue)})  # noqa: SLF001
    explanation = service.explain_current(session, settings, venue)
    why = {(p["submission_id"], p["member_id"]): p for p in explanation["pairs"]}
    rows = []
    for a in service.current(session, venue):
        m_u = who.get(a.member_id)
        rows.append({"a": a, "sub": by_id[a.submission_id], "reviewer": labels.get(a.member_id, str(a.member_id)),
                     "name": m_u[1].full_name if m_u else "", "role": m_u[0].role if m_u else "",
                     "why": why.get((a.submission_id, a.member_id)),
                     "origin": "locked" if a.locked else a.origin})
    job = service.latest_job(session, venue)
    view = service.job_view(job) if job else None
    params = {**DEFAULT_PARAMS, **(job.params if job else {})}
    svg = service.histogram_svg(explanation["values"]) if explanation["available"] and explanation["values"] else ""
    preview_svg = service.histogram_svg(view["result"]["values"]) \
        if view and view["status"] == "done" and view["result"].get("values") else ""
    return {"venue": venue, "rows": rows, "subs": subs, "pool": pool, "job": view, "params": params,
            "options": service.options_view(service.get_options(session, venue)), "option_labels": service.OPTIONS,
            "explanation": explanation, "svg": svg, "preview_svg": preview_svg,
            "can_manage": permissions.can_manage_assignments(ctx.user, ctx.member, venue),
            "problems": request.session.pop("assign_problems", None)}


@pages.get("/venues/{slug}/assignments")
def assignments_page(request: Request, session: SessionDep, settings: SettingsDep, ctx: VenueCtx):  # noqa: ANN201
    require(permissions.can_view_assignments, ctx.user, ctx.member, ctx.venue)
    return render(request, "pages/assignments.html", _assignment_context(request, session, settings, ctx),
                  user=ctx.user)


@pages.get("/venues/{slug}/assignments/jobs/{job_id}")
def job_fragment(job_id: int, request: Request, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    """The job's progress fragment, polled by htmx while the job runs; once finished the page reloads to show
    the preview or the new assignment (and the fragment it then renders no longer polls)."""
    require(permissions.can_view_assignments, ctx.user, ctx.member, ctx.venue)
    view = service.job_view(service.get_job(session, ctx.venue, job_id))
    if not is_htmx(request):
        return redirect(f"/venues/{ctx.venue.slug}/assignments")
    response = render(request, "partials/assign_job.html", {"venue": ctx.venue, "job": view}, user=ctx.user)
    if view["finished"]:
        response.headers["HX-Refresh"] = "true"
    return response


def _form_params(k: str, min_load: str, max_load: str, include_tas: str, fair: str, keep_existing: str) -> dict:
    try:
        ints = {"k": int(k), "min_load": int(min_load), "max_load": int(max_load)}
    except ValueError:
        raise BadInput("k, min load and max load are whole numbers.") from None
    return {**ints, "include_tas": include_tas == "on", "fair": fair == "on", "keep_existing": keep_existing == "on"}


@pages.post("/venues/{slug}/assignments/jobs")
def start_job_page(request: Request, session: SessionDep, settings: SettingsDep, ctx: VenueCtx,  # noqa: ANN201
                   k: Annotated[str, Form()] = "3", min_load: Annotated[str, Form()] = "0",
                   max_load: Annotated[str, Form()] = "4", include_tas: Annotated[str, Form()] = "",
                   fair: Annotated[str, Form()] = "", keep_existing: Annotated[str, Form()] = "",
                   action: Annotated[str, Form()] = "preview"):
    url = f"/venues/{ctx.venue.slug}/assignments"
    try:
        params = _form_params(k, min_load, max_load, include_tas, fair, keep_existing)
        _start_job(request, session, settings, ctx, params, dry_run=action != "apply")
    except DomainError as exc:
        discard(session)
        flash(request, exc.message, "error")
        return redirect(url)
    flash(request, "Preview started: nothing is saved until you apply it." if action != "apply"
          else "Solving: the assignment is saved when the job finishes.", "ok")
    return redirect(url)


@pages.post("/venues/{slug}/assignments/jobs/{job_id}/apply")
def apply_job_page(job_id: int, request: Request, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    url = f"/venues/{ctx.venue.slug}/assignments"

    def act():  # noqa: ANN202
        require(permissions.can_manage_assignments, ctx.user, ctx.member, ctx.venue)
        return service.apply_preview(session, ctx.user, ctx.venue, service.get_job(session, ctx.venue, job_id))

    return form_action(request, session, act, success="Preview applied.", next_url=url, back_url=url)


@pages.post("/venues/{slug}/assignments/settings")
def options_page(request: Request, session: SessionDep, ctx: VenueCtx,  # noqa: ANN201
                 one_reviewer_per_group: Annotated[str, Form()] = "", no_reciprocal_groups: Annotated[str, Form()] = "",
                 every_student_reviews: Annotated[str, Form()] = ""):
    url = f"/venues/{ctx.venue.slug}/assignments"

    def act():  # noqa: ANN202
        require(permissions.can_manage_assignments, ctx.user, ctx.member, ctx.venue)
        return service.set_options(session, ctx.user, ctx.venue, one_reviewer_per_group=one_reviewer_per_group == "on",
                                   no_reciprocal_groups=no_reciprocal_groups == "on",
                                   every_student_reviews=every_student_reviews == "on")

    return form_action(request, session, act, success="Course options saved: the next Preview uses them.",
                       next_url=url, back_url=url)


@pages.post("/venues/{slug}/assignments/change")
def change_page(request: Request, session: SessionDep, ctx: VenueCtx, op: Annotated[str, Form()],  # noqa: ANN201
                submission: Annotated[str, Form()], member_id: Annotated[str, Form()]):
    url = f"/venues/{ctx.venue.slug}/assignments"

    def act():  # noqa: ANN202
        require(permissions.can_manage_assignments, ctx.user, ctx.member, ctx.venue)
        number, mid = submission.strip().lstrip("#"), member_id.strip()
        if not number.isdigit() or not mid.isdigit():
            raise BadInput("Pick a submission number and a reviewer.")
        sub = service.get_assignment_sub(session, ctx.venue, int(number))
        return service.apply_changes(session, ctx.user, ctx.venue, [service.Change(op, sub.id, int(mid))],
                                     action="assignment.manual")

    done = {"add": "Reviewer added.", "remove": "Reviewer removed.", "lock": "Pair locked.", "unlock": "Pair unlocked."}
    return form_action(request, session, act, success=done.get(op, "Done."), next_url=url, back_url=url)


@pages.post("/venues/{slug}/assignments/import")
def import_page(request: Request, session: SessionDep, ctx: VenueCtx, file: Annotated[UploadFile, File()]):  # noqa: ANN201
    url = f"/venues/{ctx.venue.slug}/assignments"
    try:
        require(permissions.can_manage_assignments, ctx.user, ctx.member, ctx.venue)
        changes = service.import_csv(session, ctx.user, ctx.venue, read_upload(file, CSV_MAX_BYTES))
    except DomainError as exc:
        discard(session)
        _report_problems(request, exc)
        return redirect(url)
    flash(request, f"Imported {len(changes)} assignment change(s).", "ok")
    return redirect(url)


# bidding and interests ------------------------------------------------------------------------------------


def _bid_row(session, ctx, number: int) -> dict | None:  # noqa: ANN001
    rows = service.bidding_list(session, ctx.venue, ctx.member) if ctx.member is not None else []
    return next((r for r in rows if r["number"] == number), None)


@pages.get("/venues/{slug}/bids")
def bids_page(request: Request, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    require(permissions.can_open_bids_page, ctx.user, ctx.member, ctx.venue)
    can_bid = permissions.can_bid(ctx.user, ctx.member, ctx.venue)
    can_interests = permissions.can_edit_interests(ctx.user, ctx.member, ctx.venue)
    return render(request, "pages/bids.html", {
        "venue": ctx.venue, "can_bid": can_bid, "can_interests": can_interests,
        "rows": service.bidding_list(session, ctx.venue, ctx.member) if can_bid else [],
        "interests": "\n\n".join(i.text for i in service.interests(session, ctx.member)) if ctx.member else "",
        "choices": BID_CHOICES, "window": service.bidding_window(session, ctx.venue),
    }, user=ctx.user)


BID_CHOICES = [("eager", "Eager"), ("willing", "Willing"), ("not_willing", "Not willing"), ("conflict", "Conflict")]


@pages.post("/venues/{slug}/bids/{number}")
def bid_page(number: int, request: Request, session: SessionDep, ctx: VenueCtx,  # noqa: ANN201
             value: Annotated[str, Form()] = ""):
    url = f"/venues/{ctx.venue.slug}/bids"
    try:
        require(permissions.can_bid, ctx.user, ctx.member, ctx.venue)
        service.set_bid(session, ctx.venue, ctx.member, service.get_assignment_sub(session, ctx.venue, number), value)
        error = None
    except DomainError as exc:
        discard(session)
        error = exc.message
    if is_htmx(request):
        row = _bid_row(session, ctx, number)
        if row is None:  # not biddable for this person: say why where the row would be
            return Response(f'<p class="notice flash-error">{escape(error or "")}</p>', media_type="text/html")
        return render(request, "partials/assign_bid_row.html", {
            "venue": ctx.venue, "r": row, "choices": BID_CHOICES, "saved": error is None, "error": error},
            status_code=200, user=ctx.user)
    flash(request, error or f"Bid on #{number} saved.", "error" if error else "ok")
    return redirect(url)


@pages.post("/venues/{slug}/interests")
def interests_page(request: Request, session: SessionDep, ctx: VenueCtx,  # noqa: ANN201
                   interests: Annotated[str, Form()] = ""):
    url = f"/venues/{ctx.venue.slug}/bids"

    def act():  # noqa: ANN202
        require(permissions.can_edit_interests, ctx.user, ctx.member, ctx.venue)
        return service.set_interests(session, ctx.member, service.split_interests(interests))

    return form_action(request, session, act, success=lambda items: f"Interests saved ({len(items)} item(s)).",
                       next_url=url, back_url=url)


# conflicts ----------------------------------------------------------------------------------------------------


@pages.get("/venues/{slug}/conflicts")
def conflicts_page(request: Request, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    staff = permissions.can_view_conflicts(ctx.user, ctx.member, ctx.venue)
    require(permissions.can_view_own_conflicts, ctx.user, ctx.member, ctx.venue)
    return render(request, "pages/conflicts.html", {
        "venue": ctx.venue, "staff": staff, "max_declared": service.MAX_DECLARED_CONFLICTS,
        "rows": service.list_conflicts(session, ctx.venue) if staff else service.own_conflicts(session, ctx.venue,
                                                                                               ctx.member),
        "can_declare": ctx.member is not None and permissions.can_declare_conflict(ctx.user, ctx.member, ctx.venue),
        "can_import": permissions.can_import_conflicts(ctx.user, ctx.member, ctx.venue),
        "problems": request.session.pop("assign_problems", None),
    }, user=ctx.user)


@pages.post("/venues/{slug}/conflicts")
def declare_page(request: Request, session: SessionDep, ctx: VenueCtx, with_email: Annotated[str, Form()] = "",  # noqa: ANN201
                 reason: Annotated[str, Form()] = ""):
    url = f"/venues/{ctx.venue.slug}/conflicts"
    return form_action(request, session, lambda: _declare(session, ctx, ConflictIn(with_email=with_email,
                                                                                  reason=reason)),
                       success=lambda out: out["message"], next_url=url,
                       back_url=url)


@pages.post("/venues/{slug}/conflicts/import")
def import_conflicts_page(request: Request, session: SessionDep, ctx: VenueCtx,  # noqa: ANN201
                          file: Annotated[UploadFile, File()]):
    url = f"/venues/{ctx.venue.slug}/conflicts"
    try:
        require(permissions.can_import_conflicts, ctx.user, ctx.member, ctx.venue)
        out = service.import_conflicts(session, ctx.user, ctx.venue, read_upload(file, CSV_MAX_BYTES))
    except DomainError as exc:
        discard(session)
        _report_problems(request, exc)
        return redirect(url)
    flash(request, f"Imported {out['created']} conflict(s), {out['skipped']} skipped (known or own group)"
          + (f"; {out['assigned_now_conflicted']} assigned pair(s) now conflict: re-solve." if
             out["assigned_now_conflicted"] else "."), "ok")
    return redirect(url)
