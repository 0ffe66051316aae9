"""Moderation and marks: the moderation queue, a submission's moderation view, mark overrides, review-quality
marks, hiding reviews, calibration items and exclusions, the marking scheme, release, the marks page and the
gradebook export — pages and the JSON API, with the same checks.

Reviewers never see marks or flags (every route here is for staff, or a student's own released marks);
authors never see reviewers' identities or bias estimates (a student's marks page shows numbers and the
lecturers' feedback only)."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from app import schemas
from app.db import SessionDep, start_write
from app.deps import SettingsDep, VenueCtx
from app.security import permissions
from app.security.permissions import require
from app.services import moderation as service
from app.web import form_action, render

pages = APIRouter(tags=["pages"], include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["moderation"])



class OverrideIn(BaseModel):
    component: str = "group"
    value: float | None = Field(default=None, description="the mark; null withdraws the override")
    reason: str


class AssessmentIn(BaseModel):
    accept_suggestion: bool = False
    levels: dict[str, Any] | None = None
    mark: float | None = None
    feedback: str = ""


class ModerateIn(BaseModel):
    hidden: bool
    abusive: bool = False
    reason: str = ""


class ExclusionIn(BaseModel):
    excluded: bool
    reason: str = ""


class SchemeIn(BaseModel):
    config: dict[str, Any]


class ReasonIn(BaseModel):
    reason: str


class CalibrationItemIn(BaseModel):
    reference: float
    note: str = ""


class ReleaseIn(BaseModel):
    submission: int | None = Field(default=None, description="a submission's number; null releases the venue")
    allow_incomplete: bool = Field(default=False, description="release what is complete, list the rest")


# --- shared steps ---------------------------------------------------------------------------------------------


def _staff(ctx) -> None:  # noqa: ANN001
    require(permissions.can_moderate, ctx.user, ctx.member, ctx.venue)


def _queue_json(rows: list[service.SubmissionMarks]) -> list[dict]:
    return [_sub_marks_json(s) for s in rows]


def _sub_marks_json(s: service.SubmissionMarks) -> dict:
    return {"number": s.submission.number, "title": s.submission.title, "need": s.need, "field": s.field,
            "flags": [{"code": f["code"], "reason": f["reason"]} for f in s.flags],
            "scores": s.scores, "mean": s.mean, "median": s.median, "calibrated": s.calibrated, "sd": s.sd,
            "lecturer": s.lecturer, "computed": s.computed, "mark": s.mark, "explanation": s.explanation,
            "override": None if s.override is None else {"value": s.override.value, "reason": s.override.reason,
                                                         "computed": s.override.computed},
            "is_calibration": s.is_calibration}


def _review_json(r: service.ReviewInput, bias=None, excluded=None) -> dict:  # noqa: ANN001
    return {"id": r.id, "reviewer": r.reviewer_name, "pseudonym": r.pseudonym, "member_id": r.member_id,
            "is_lecturer": r.is_lecturer, "scores": r.scores, "texts": r.texts, "is_late": r.is_late,
            "ratings": r.ratings, "hidden": r.hidden, "abusive": r.abusive,
            **({"bias": bias[0], "bias_sd": bias[1]} if bias else {}),
            **({"excluded_from_calibration": excluded is not None})}


def _assessment_json(a) -> dict | None:  # noqa: ANN001
    if a is None:
        return None
    return {"mark": a.mark, "levels": a.levels, "feedback": a.feedback, "overridden": a.overridden,
            "suggestion_shown": a.suggestion, "confirmed_at": a.confirmed_at}


def _marking_json(row: dict) -> dict:
    return {"review": _review_json(row["review"]), "submission": row["number"], "suggestion": row["suggestion"],
            "assessment": _assessment_json(row["assessment"])}


def _scheme_json(session, ctx) -> dict:  # noqa: ANN001
    row = service.get_scheme_row(session, ctx.venue)
    return {"config": service.stored_scheme(session, ctx.venue), "version": row.version if row else 0,
            "frozen_at": row.frozen_at if row else None, "is_default": row is None}


def _own_marks(session, ctx):  # noqa: ANN001, ANN202
    """A student's released marks, or Forbidden: before release a student gets nothing."""
    snap = service.released_marks(session, ctx.venue, ctx.member)
    require(permissions.can_view_own_marks, ctx.user, ctx.member, ctx.venue, snap is not None)
    return snap


def _export(session, ctx, fmt: str, draft: bool) -> Response:  # noqa: ANN001
    require(permissions.can_export_marks, ctx.user, ctx.member, ctx.venue, draft)
    name, text = service.export_marks(session, ctx.venue, fmt, draft=draft)
    kind = "application/json" if name.endswith(".json") else "text/csv; charset=utf-8"
    return Response(text.encode("utf-8"), media_type=kind,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# --- JSON API -------------------------------------------------------------------------------------------------


@api.get("/venues/{slug}/moderation")
def api_queue(session: SessionDep, ctx: VenueCtx) -> list[dict]:
    """The moderation queue: submissions sorted by need, each flag with its reason."""
    _staff(ctx)
    _marks, rows = service.moderation_queue(session, ctx.venue)
    return _queue_json(rows)


@api.get("/venues/{slug}/submissions/{number}/moderation")
def api_submission(number: int, session: SessionDep, ctx: VenueCtx) -> dict:
    _staff(ctx)
    sub = service.get_submission(session, ctx.venue, number)
    view = service.submission_view(session, ctx.venue, sub)
    return {**_sub_marks_json(view["marks"]),
            "reviews": [_review_json(r, view["biases"].get(r.member_id), view["excluded"].get(r.member_id))
                        for r in view["reviews"]],
            "lecturer_reviews": [_review_json(r) for r in view["lecturer_reviews"]],
            "evidence": view["evidence"],
            "calibration_item": None if view["calibration"] is None else {
                "reference": view["calibration"].reference, "note": view["calibration"].note},
            "overrides": [{"component": o.component, "value": o.value, "computed": o.computed, "reason": o.reason,
                           "at": o.created_at} for o in view["overrides"]]}


@api.put("/venues/{slug}/submissions/{number}/mark")
def api_override_group(number: int, body: OverrideIn, session: SessionDep, ctx: VenueCtx) -> dict:
    """Set or adjust a group's mark with a reason (audited; the computed mark is kept beside it)."""
    require(permissions.can_adjust_marks, ctx.user, ctx.member, ctx.venue)
    sub = service.get_submission(session, ctx.venue, number)
    start_write(session)
    row = service.override_mark(session, ctx.user, ctx.venue, component=body.component, value=body.value,
                                reason=body.reason, submission=sub)
    return {"component": row.component, "value": row.value, "computed": row.computed, "reason": row.reason}


@api.put("/venues/{slug}/members/{member_id}/mark")
def api_override_member(member_id: int, body: OverrideIn, session: SessionDep, ctx: VenueCtx) -> dict:
    require(permissions.can_adjust_marks, ctx.user, ctx.member, ctx.venue)
    target = service.get_member(session, ctx.venue, member_id)
    start_write(session)
    row = service.override_mark(session, ctx.user, ctx.venue, component=body.component, value=body.value,
                                reason=body.reason, member=target)
    return {"component": row.component, "value": row.value, "computed": row.computed, "reason": row.reason}


@api.get("/venues/{slug}/review-marks")
def api_review_marks(session: SessionDep, ctx: VenueCtx) -> list[dict]:
    """Every student review with the suggested quality mark beside it, and the lecturer's mark once confirmed."""
    require(permissions.can_mark_reviews, ctx.user, ctx.member, ctx.venue)
    return [_marking_json(row) for row in service.review_marking(session, ctx.venue)]


@api.put("/venues/{slug}/reviews/{review_id}/assessment")
def api_assess(review_id: int, body: AssessmentIn, session: SessionDep, ctx: VenueCtx) -> dict:
    """Confirm the suggested review mark (accept_suggestion) or override it with levels or a mark."""
    require(permissions.can_mark_reviews, ctx.user, ctx.member, ctx.venue)
    review = service.get_review(session, ctx.venue, review_id)
    start_write(session)
    row = service.confirm_assessment(session, ctx.user, ctx.venue, review, levels=body.levels, mark=body.mark,
                                     feedback=body.feedback, accept_suggestion=body.accept_suggestion)
    return _assessment_json(row)


@api.put("/venues/{slug}/reviews/{review_id}/moderation")
def api_moderate_review(review_id: int, body: ModerateIn, session: SessionDep, ctx: VenueCtx) -> dict:
    """Hide a review from its authors (kept for chairs) and/or mark it abusive, with a reason."""
    require(permissions.can_moderate_reviews, ctx.user, ctx.member, ctx.venue)
    review = service.get_review(session, ctx.venue, review_id)
    start_write(session)
    row = service.moderate_review(session, ctx.user, ctx.venue, review, hidden=body.hidden, abusive=body.abusive,
                                  reason=body.reason)
    return {"review_id": review_id, "hidden": row.hidden, "abusive": row.abusive, "reason": row.reason}


@api.put("/venues/{slug}/members/{member_id}/calibration")
def api_exclude(member_id: int, body: ExclusionIn, session: SessionDep, ctx: VenueCtx) -> dict:
    """Exclude a reviewer from the calibration (or count them again), with a reason."""
    require(permissions.can_moderate_reviews, ctx.user, ctx.member, ctx.venue)
    target = service.get_member(session, ctx.venue, member_id)
    start_write(session)
    service.set_exclusion(session, ctx.user, ctx.venue, target, body.excluded, body.reason)
    return {"member_id": member_id, "excluded": body.excluded}


@api.get("/venues/{slug}/marking-scheme")
def api_scheme(session: SessionDep, ctx: VenueCtx) -> dict:
    _staff(ctx)
    return _scheme_json(session, ctx)


@api.put("/venues/{slug}/marking-scheme")
def api_set_scheme(body: SchemeIn, session: SessionDep, ctx: VenueCtx) -> dict:
    """Replace the scheme: weights must sum to 100 %, a rubric needs levels; refused while frozen."""
    require(permissions.can_edit_marking_scheme, ctx.user, ctx.member, ctx.venue)
    start_write(session)
    service.save_scheme(session, ctx.user, ctx.venue, body.config)
    return _scheme_json(session, ctx)


@api.post("/venues/{slug}/marking-scheme/unfreeze")
def api_unfreeze(body: ReasonIn, session: SessionDep, ctx: VenueCtx) -> dict:
    require(permissions.can_unfreeze_marking_scheme, ctx.user, ctx.member, ctx.venue)
    start_write(session)
    service.unfreeze_scheme(session, ctx.user, ctx.venue, body.reason)
    return _scheme_json(session, ctx)


@api.get("/venues/{slug}/calibration-items")
def api_calibration_items(session: SessionDep, ctx: VenueCtx) -> list[dict]:
    _staff(ctx)
    return [{"submission": sub.number, "title": sub.title, "reference": item.reference, "note": item.note}
            for item, sub in service.calibration_items(session, ctx.venue)]


@api.put("/venues/{slug}/submissions/{number}/calibration-item")
def api_set_calibration_item(number: int, body: CalibrationItemIn, session: SessionDep, ctx: VenueCtx) -> dict:
    require(permissions.can_manage_calibration_items, ctx.user, ctx.member, ctx.venue)
    sub = service.get_submission(session, ctx.venue, number)
    start_write(session)
    item = service.set_calibration_item(session, ctx.user, ctx.venue, sub, body.reference, body.note)
    return {"submission": number, "reference": item.reference, "note": item.note}


@api.delete("/venues/{slug}/submissions/{number}/calibration-item", status_code=204)
def api_remove_calibration_item(number: int, session: SessionDep, ctx: VenueCtx) -> Response:
    require(permissions.can_manage_calibration_items, ctx.user, ctx.member, ctx.venue)
    sub = service.get_submission(session, ctx.venue, number)
    start_write(session)
    service.remove_calibration_item(session, ctx.user, ctx.venue, sub)
    return Response(status_code=204)


@api.post("/venues/{slug}/marks/release")
def api_release(body: ReleaseIn, session: SessionDep, ctx: VenueCtx) -> dict:
    """Release marks (venue or one submission). 409 with the list of what is not complete, unless
    allow_incomplete: then what is complete is released and the rest listed under `skipped`."""
    require(permissions.can_release_marks, ctx.user, ctx.member, ctx.venue)
    sub = service.get_submission(session, ctx.venue, body.submission) if body.submission is not None else None
    start_write(session)
    result = service.release(session, ctx.user, ctx.venue, submission=sub, allow_incomplete=body.allow_incomplete)
    return {"release_id": result.release.id, "released": len(result.released), "skipped": result.skipped,
            "mails": result.mails, "released_at": result.release.released_at}


@api.get("/venues/{slug}/marks")
def api_marks(session: SessionDep, ctx: VenueCtx) -> dict:
    """Lecturers: every student's marks (live, with what is missing, and whether released). A student: their own
    marks once released (403 before)."""
    if permissions.can_view_all_marks(ctx.user, ctx.member, ctx.venue):
        marks = service.compute_marks(session, ctx.venue, with_flags=False)
        released = service.released_member_ids(session, ctx.venue)
        return {"components": marks.config["components"],
                "students": [{**service.student_marks_json(s), "released": s.member.id in released}
                             for s in marks.students]}
    snap = _own_marks(session, ctx)
    return {"components": service.scheme_config(session, ctx.venue)["components"],
            "mine": service.student_marks_json(snap)}


@api.get("/venues/{slug}/marks/export", response_class=Response,
         responses=schemas.served_as("text/csv", "application/json", description="The gradebook file"))
def api_export(session: SessionDep, ctx: VenueCtx, format: str = "csv", draft: bool = False) -> Response:  # noqa: A002
    """The gradebook export (moodle, learn, csv, json): released marks, or a draft (chairs) named so."""
    return _export(session, ctx, format, draft)


# --- pages ----------------------------------------------------------------------------------------------------


def _back(ctx, path: str) -> str:  # noqa: ANN001
    return f"/venues/{ctx.venue.slug}/{path}"


@pages.get("/venues/{slug}/moderation")
def queue_page(request: Request, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    _staff(ctx)
    marks, rows = service.moderation_queue(session, ctx.venue)
    return render(request, "pages/moderation.html", {
        "venue": ctx.venue, "rows": rows, "plots": service.plots(marks), "config": marks.config,
        "unmarked": len(marks.unmarked), "releases": service.releases(session, ctx.venue),
        "items": service.calibration_items(session, ctx.venue),
        "can_release": permissions.can_release_marks(ctx.user, ctx.member, ctx.venue),
        "can_chair": permissions.is_chair(ctx.user, ctx.member)}, user=ctx.user)


@pages.get("/venues/{slug}/submissions/{number}/moderation")
def submission_page(number: int, request: Request, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    _staff(ctx)
    sub = service.get_submission(session, ctx.venue, number)
    view = service.submission_view(session, ctx.venue, sub)
    return render(request, "pages/moderation_submission.html", {
        "venue": ctx.venue, "sub": sub, **view,
        "can_adjust": permissions.can_adjust_marks(ctx.user, ctx.member, ctx.venue),
        "can_moderate_reviews": permissions.can_moderate_reviews(ctx.user, ctx.member, ctx.venue),
        "can_release": permissions.can_release_marks(ctx.user, ctx.member, ctx.venue),
        "can_items": permissions.can_manage_calibration_items(ctx.user, ctx.member, ctx.venue),
        "extra_review_refused": permissions.why_not(permissions.can_request_extra_review, ctx.user, ctx.member,
                                                    ctx.venue),
        "extra_candidates": service.extra_review_candidates(session, ctx.venue, sub)
        if permissions.can_request_extra_review(ctx.user, ctx.member, ctx.venue) else []}, user=ctx.user)


@pages.post("/venues/{slug}/submissions/{number}/mark")
def override_page(number: int, request: Request, session: SessionDep, ctx: VenueCtx,  # noqa: ANN201
                  reason: Annotated[str, Form()], value: Annotated[str, Form()] = "",
                  component: Annotated[str, Form()] = "group"):
    url = _back(ctx, f"submissions/{number}/moderation")

    def act():  # noqa: ANN202
        require(permissions.can_adjust_marks, ctx.user, ctx.member, ctx.venue)
        sub = service.get_submission(session, ctx.venue, number)
        start_write(session)
        return service.override_mark(session, ctx.user, ctx.venue, component=component, value=value or None,
                                     reason=reason, submission=sub)
    return form_action(request, session, act, success="The mark is set; the computed mark is kept beside it.",
                       next_url=url, back_url=url)


@pages.post("/venues/{slug}/members/{member_id}/mark")
def member_override_page(member_id: int, request: Request, session: SessionDep, ctx: VenueCtx,  # noqa: ANN201
                         reason: Annotated[str, Form()], value: Annotated[str, Form()] = "",
                         component: Annotated[str, Form()] = "individual"):
    url = _back(ctx, "marks")

    def act():  # noqa: ANN202
        require(permissions.can_adjust_marks, ctx.user, ctx.member, ctx.venue)
        target = service.get_member(session, ctx.venue, member_id)
        start_write(session)
        return service.override_mark(session, ctx.user, ctx.venue, component=component, value=value or None,
                                     reason=reason, member=target)
    return form_action(request, session, act, success="The mark is set; the computed mark is kept beside it.",
                       next_url=url, back_url=url)


@pages.post("/venues/{slug}/submissions/{number}/calibration-item")
def calibration_item_page(number: int, request: Request, session: SessionDep, ctx: VenueCtx,  # noqa: ANN201
                          reference: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "",
                          remove: Annotated[str, Form()] = ""):
    url = _back(ctx, f"submissions/{number}/moderation")

    def act():  # noqa: ANN202
        require(permissions.can_manage_calibration_items, ctx.user, ctx.member, ctx.venue)
        sub = service.get_submission(session, ctx.venue, number)
        start_write(session)
        if remove:
            return service.remove_calibration_item(session, ctx.user, ctx.venue, sub)
        return service.set_calibration_item(session, ctx.user, ctx.venue, sub, reference, note)
    return form_action(request, session, act, success="Calibration items updated.", next_url=url, back_url=url)


@pages.post("/venues/{slug}/reviews/{review_id}/moderation")
def moderate_review_page(review_id: int, request: Request, session: SessionDep, ctx: VenueCtx,  # noqa: ANN201
                         reason: Annotated[str, Form()] = "", hidden: Annotated[str, Form()] = "",
                         abusive: Annotated[str, Form()] = "", back: Annotated[str, Form()] = ""):
    url = back if back.startswith(f"/venues/{ctx.venue.slug}/") else _back(ctx, "moderation")

    def act():  # noqa: ANN202
        require(permissions.can_moderate_reviews, ctx.user, ctx.member, ctx.venue)
        review = service.get_review(session, ctx.venue, review_id)
        start_write(session)
        return service.moderate_review(session, ctx.user, ctx.venue, review, hidden=bool(hidden),
                                       abusive=bool(abusive), reason=reason)
    return form_action(request, session, act, success="The review's moderation is saved.", next_url=url,
                       back_url=url)


@pages.post("/venues/{slug}/members/{member_id}/calibration")
def exclude_page(member_id: int, request: Request, session: SessionDep, ctx: VenueCtx,  # noqa: ANN201
                 reason: Annotated[str, Form()] = "", excluded: Annotated[str, Form()] = "",
                 back: Annotated[str, Form()] = ""):
    url = back if back.startswith(f"/venues/{ctx.venue.slug}/") else _back(ctx, "moderation")

    def act():  # noqa: ANN202
        require(permissions.can_moderate_reviews, ctx.user, ctx.member, ctx.venue)
        target = service.get_member(session, ctx.venue, member_id)
        start_write(session)
        return service.set_exclusion(session, ctx.user, ctx.venue, target, bool(excluded), reason)
    return form_action(request, session, act, success="Calibration updated.", next_url=url, back_url=url)


@pages.get("/venues/{slug}/review-marks")
def review_marks_page(request: Request, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    require(permissions.can_mark_reviews, ctx.user, ctx.member, ctx.venue)
    rows = service.review_marking(session, ctx.venue)
    return render(request, "pages/moderation_reviews.html", {"venue": ctx.venue, "rows": rows}, user=ctx.user)


@pages.get("/venues/{slug}/review-marks/{review_id}")
def review_mark_page(review_id: int, request: Request, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    """One review with the suggestion beside it (never the mark until a marker confirms it)."""
    require(permissions.can_mark_reviews, ctx.user, ctx.member, ctx.venue)
    review = service.get_review(session, ctx.venue, review_id)
    view = service.review_marking_one(session, ctx.venue, review)
    return render(request, "pages/moderation_review.html", {"venue": ctx.venue, **view}, user=ctx.user)


@pages.post("/venues/{slug}/review-marks/{review_id}")
async def review_mark_post(review_id: int, request: Request, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    form = await request.form()
    url = _back(ctx, f"review-marks/{review_id}")
    levels = {k[6:]: v for k, v in form.multi_items() if k.startswith("level.") and v != ""}

    def act():  # noqa: ANN202
        require(permissions.can_mark_reviews, ctx.user, ctx.member, ctx.venue)
        review = service.get_review(session, ctx.venue, review_id)
        start_write(session)
        return service.confirm_assessment(session, ctx.user, ctx.venue, review, levels=levels or None,
                                          mark=form.get("mark") or None, feedback=str(form.get("feedback") or ""),
                                          accept_suggestion=form.get("action") == "confirm")
    return form_action(request, session, act,
                       success=lambda a: f"Review mark {a.mark:g} saved" + (" (overriding the suggestion)."
                                                                           if a.overridden else "."),
                       next_url=_back(ctx, "review-marks"), back_url=url)


@pages.get("/venues/{slug}/marking-scheme")
def scheme_page(request: Request, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    import json

    _staff(ctx)
    scheme = _scheme_json(session, ctx)
    return render(request, "pages/moderation_scheme.html", {
        "venue": ctx.venue, **scheme, "view": service.scheme_config(session, ctx.venue),
        "text": json.dumps(scheme["config"], indent=2, ensure_ascii=False),
        "can_edit": permissions.can_edit_marking_scheme(ctx.user, ctx.member, ctx.venue)}, user=ctx.user)


@pages.post("/venues/{slug}/marking-scheme")
def scheme_post(request: Request, session: SessionDep, ctx: VenueCtx,  # noqa: ANN201
                config: Annotated[str, Form()]):
    import json

    from app.errors import BadInput

    url = _back(ctx, "marking-scheme")

    def act():  # noqa: ANN202
        require(permissions.can_edit_marking_scheme, ctx.user, ctx.member, ctx.venue)
        try:
            parsed = json.loads(config)
        except json.JSONDecodeError as exc:
            raise BadInput(f"The scheme is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}.") \
                from None
        start_write(session)
        return service.save_scheme(session, ctx.user, ctx.venue, parsed)
    return form_action(request, session, act, success=lambda row: f"Marking scheme saved (version {row.version}).",
                       next_url=url, back_url=url)


@pages.post("/venues/{slug}/marking-scheme/unfreeze")
def unfreeze_post(request: Request, session: SessionDep, ctx: VenueCtx,  # noqa: ANN201
                  reason: Annotated[str, Form()] = ""):
    url = _back(ctx, "marking-scheme")

    def act():  # noqa: ANN202
        require(permissions.can_unfreeze_marking_scheme, ctx.user, ctx.member, ctx.venue)
        start_write(session)
        return service.unfreeze_scheme(session, ctx.user, ctx.venue, reason)
    return form_action(request, session, act, success="The marking scheme is unfrozen (audited).", next_url=url,
                       back_url=url)


@pages.post("/venues/{slug}/marks/release")
def release_post(request: Request, session: SessionDep, ctx: VenueCtx,  # noqa: ANN201
                 submission: Annotated[str, Form()] = "", allow_incomplete: Annotated[str, Form()] = ""):
    url = _back(ctx, "moderation")

    def act():  # noqa: ANN202
        require(permissions.can_release_marks, ctx.user, ctx.member, ctx.venue)
        sub = service.get_submission(session, ctx.venue, int(submission)) if submission.isdigit() else None
        start_write(session)
        return service.release(session, ctx.user, ctx.venue, submission=sub, allow_incomplete=bool(allow_incomplete))

    def said(result) -> str:  # noqa: ANN001
        text = f"Released the marks of {len(result.released)} student(s); {result.mails} mail(s) queued."
        if result.skipped:
            text += " Not complete, not released: " + "; ".join(
                f"{r['name']} ({', '.join(r['missing'])})" for r in result.skipped[:10])
        return text
    return form_action(request, session, act, success=said, next_url=url, back_url=url)


@pages.get("/venues/{slug}/marks")
def marks_page(request: Request, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    """Lecturers: every student's marks. A student: only their own, only after release."""
    if permissions.can_view_all_marks(ctx.user, ctx.member, ctx.venue):
        marks = service.compute_marks(session, ctx.venue, with_flags=False)
        return render(request, "pages/moderation_marks.html", {
            "venue": ctx.venue, "marks": marks, "released": service.released_member_ids(session, ctx.venue),
            "overrides": service.override_history(session, ctx.venue),
            "can_adjust": permissions.can_adjust_marks(ctx.user, ctx.member, ctx.venue),
            "can_draft": permissions.can_export_marks(ctx.user, ctx.member, ctx.venue, draft=True),
            "formats": service.EXPORT_FORMATS}, user=ctx.user)
    snap = _own_marks(session, ctx)
    return render(request, "pages/moderation_mine.html", {"venue": ctx.venue, "snap": snap}, user=ctx.user)


@pages.get("/venues/{slug}/marks/download")
def export_page(request: Request, session: SessionDep, ctx: VenueCtx, format: str = "csv",  # noqa: A002
                draft: str = ""):  # noqa: ANN201
    """The export download from the marks page (an error comes back as the page's message)."""
    from app.errors import DomainError
    from app.security.sessions import flash
    from app.web import redirect

    is_draft = draft in ("1", "true", "on")
    require(permissions.can_export_marks, ctx.user, ctx.member, ctx.venue, is_draft)
    try:
        return _export(session, ctx, format, is_draft)
    except DomainError as exc:
        flash(request, exc.message, "error")
        return redirect(_back(ctx, "marks"))


# --- request an extra review (through the one assignment path) ------------------------------------------------------


class ExtraReviewIn(BaseModel):
    member_id: int | None = Field(default=None, description="the reviewer to ask; null: the best-affinity eligible "
                                                             "reviewer not yet assigned and without a conflict")


def _extra_review_json(extra: service.ExtraReview) -> dict:
    return {"submission": extra.submission.number, "member_id": extra.member.id, "reviewer": extra.user.full_name,
            "email": extra.user.email, "role": extra.member.role, "chosen": extra.chosen, "affinity": extra.affinity}


@api.post("/venues/{slug}/submissions/{number}/extra-review", status_code=201)
def api_extra_review(number: int, body: ExtraReviewIn, session: SessionDep, settings: SettingsDep,
                     ctx: VenueCtx) -> dict:
    """Ask one more reviewer for a submission (audited; the reviewer gets the assignment mail). 422 for an author,
    a conflicted or an already assigned reviewer; 409 when no reviewer was named and no affinity is cached."""
    require(permissions.can_request_extra_review, ctx.user, ctx.member, ctx.venue)
    sub = service.get_submission(session, ctx.venue, number)
    start_write(session)
    return _extra_review_json(service.request_extra_review(session, settings, ctx.user, ctx.venue, sub,
                                                           body.member_id))


@pages.post("/venues/{slug}/submissions/{number}/extra-review")
def extra_review_page(number: int, request: Request, session: SessionDep, settings: SettingsDep,  # noqa: ANN201
                      ctx: VenueCtx, member_id: Annotated[str, Form()] = ""):
    url = _back(ctx, f"submissions/{number}/moderation")

    def act():  # noqa: ANN202
        from app.errors import BadInput

        require(permissions.can_request_extra_review, ctx.user, ctx.member, ctx.venue)
        if member_id.strip() and not member_id.strip().isdigit():
            raise BadInput("Choose a reviewer from the list.")
        sub = service.get_submission(session, ctx.venue, number)
        start_write(session)
        return service.request_extra_review(session, settings, ctx.user, ctx.venue, sub,
                                            int(member_id) if member_id.strip() else None)
    return form_action(request, session, act,
                       success=lambda extra: f"{extra.user.full_name} is asked for an extra review of "
                                             f"#{extra.submission.number} (mailed as usual).",
                       next_url=url, back_url=url)
