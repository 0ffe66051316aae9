"""Reviews: the review form, writing (autosaved drafts, submit), reading, discussion, response, ratings."""

import json
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from app.db import SessionDep, discard, start_write
from app.deps import CurrentUser, SubmissionContext, VenueCtx, VisibleReview, VisibleSubmission
from app.errors import BadInput, DomainError
from app.markdown import render_markdown
from app.security import permissions
from app.security.permissions import require
from app.security.sessions import flash
from app.services import review_forms as form_service
from app.services.anonymization import reader_title
from app.services import reviews as service
from app.services import runs as run_service
from app.services import submissions as submission_service
from app.web import form_action, redirect, render

pages = APIRouter(tags=["pages"], include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["reviews"])

class FormIn(BaseModel):
    fields: list[dict[str, Any]]


class DraftIn(BaseModel):
    answers: dict[str, Any]
    version: int | None = Field(default=None, description="the version this draft starts from (0 or null: new)")


class CommentIn(BaseModel):
    body: str
    audience: str = "everyone"
    parent_id: int | None = None


class ResponseIn(BaseModel):
    body: str
    version: int | None = None


class RatingIn(BaseModel):
    score: int
    comment: str = ""


class MarkdownIn(BaseModel):
    text: str = Field(max_length=100_000)


# --- shared steps (thin: permission, then one service call) -----------------------------------------------------


def _rel(session, ctx: SubmissionContext) -> service.Relation:  # noqa: ANN001, ARG001
    """The review service's view of the viewer (which reviews and posts are theirs), as the standing found it."""
    return ctx.standing.relation


def _writer(session, ctx: SubmissionContext):  # noqa: ANN001, ANN202
    require(permissions.can_write_review, ctx.standing)
    start_write(session)
    return ctx.sub


def _my_review_json(session, ctx, sub) -> dict:  # noqa: ANN001
    review = service.get_review(session, sub, ctx.member)
    label = service.pseudonyms(session, sub).get(ctx.member.id)
    if review is None:
        return {"submission": sub.number, "status": "not started", "version": 0, "answers": {}, "published": None,
                "pseudonym": label, "is_late": False, "submitted_at": None}
    return {"submission": sub.number, "status": review.status, "version": review.version, "answers": review.answers,
            "published": review.published, "published_version": review.published_version, "pseudonym": label,
            "is_late": review.is_late, "submitted_at": review.submitted_at}


def _review_json(v: service.ReviewView) -> dict:
    return {"id": v.id, "reviewer": v.reviewer, "status": v.status, "is_late": v.is_late,
            "submitted_at": v.submitted_at, "version": v.version, "is_mine": v.is_mine,
            "answers": v.answers, "fields": [f["id"] for f in v.fields], "my_rating": v.my_rating,
            **({"ratings": v.ratings} if v.ratings else {})}


def _comment_json(c: service.CommentView) -> dict:
    return {"id": c.id, "parent_id": c.parent_id, "author": c.author, "as_role": c.as_role,
            "audience": c.audience, "body": c.body, "created_at": c.created_at,
            "replies": [_comment_json(r) for r in c.replies]}


def _reviews(session, ctx: SubmissionContext) -> list[service.ReviewView]:  # noqa: ANN001
    require(permissions.can_read_reviews, ctx.standing)
    return service.visible_reviews(session, ctx.user, ctx.member, ctx.venue, ctx.sub,
                                   is_staff=ctx.standing.staff, rel=_rel(session, ctx))


def _comments(session, ctx: SubmissionContext) -> list[service.CommentView]:  # noqa: ANN001
    require(permissions.can_read_discussion, ctx.standing)
    comments = service.list_comments(session, ctx.user, ctx.member, ctx.sub, is_staff=ctx.standing.staff,
                                     rel=_rel(session, ctx))
    mask = _author_text_mask(session, ctx)
    return comments if mask is None else [_masked_comment(c, mask) for c in comments]


def _author_text_mask(session, ctx: SubmissionContext):  # noqa: ANN001, ANN202
    """None for the authors and staff; the submission's one masker for reviewers (the authors write in the
    discussion and the response, and may sign it)."""
    unmasked = permissions.can_read_author_text_unmasked(ctx.standing)
    return run_service.text_masker(session, ctx.sub, unmasked=unmasked)


def _author_text(session, ctx: SubmissionContext, text: str) -> str:  # noqa: ANN001
    mask = _author_text_mask(session, ctx)
    return text if mask is None else mask(text)


def _title(session, ctx: SubmissionContext) -> str:  # noqa: ANN001
    return reader_title(session, ctx.sub, unmasked=permissions.can_read_author_text_unmasked(ctx.standing))


def _masked_comment(c: service.CommentView, mask) -> service.CommentView:  # noqa: ANN001
    return replace(c, body=mask(c.body), replies=[_masked_comment(r, mask) for r in c.replies])


def _post(session, ctx: SubmissionContext, body: str, audience: str, parent_id: int | None):  # noqa: ANN001, ANN202
    require(permissions.can_post_comment, ctx.standing)
    rel = _rel(session, ctx)
    start_write(session)
    return service.post_comment(session, ctx.user, ctx.venue, ctx.member, ctx.sub, body, audience=audience,
                                parent_id=parent_id, is_staff=ctx.standing.staff, rel=rel)


def _respond(session, ctx: SubmissionContext, body: str, version: int | None):  # noqa: ANN001, ANN202
    require(permissions.can_respond, ctx.standing)
    start_write(session)
    return service.save_response(session, ctx.user, ctx.venue, ctx.sub, body, version)


def _rate(session, ctx, score: Any, comment: str):  # noqa: ANN001, ANN202
    require(permissions.can_rate_review, ctx.standing)
    start_write(session)
    return service.rate_review(session, ctx.user, ctx.venue, ctx.member, ctx.review, score, comment)


def _response_json(session, ctx: SubmissionContext) -> dict | None:  # noqa: ANN001
    if not permissions.can_read_response(ctx.standing):
        return None
    row = service.get_response(session, ctx.sub)
    if row is None:
        return None
    mask = _author_text_mask(session, ctx)
    return {"body": row.body if mask is None else mask(row.body), "version": row.version,
            "updated_at": row.updated_at}


# --- JSON API ---------------------------------------------------------------------------------------------------


@api.get("/venues/{slug}/review-form")
def api_review_form(session: SessionDep, ctx: VenueCtx) -> dict:
    require(permissions.can_view_review_form, ctx.user, ctx.member, ctx.venue)
    return {"fields": form_service.get_fields(session, ctx.venue)}


@api.put("/venues/{slug}/review-form")
def api_set_review_form(body: FormIn, session: SessionDep, ctx: VenueCtx) -> dict:
    require(permissions.can_edit_review_form, ctx.user, ctx.member, ctx.venue)
    return {"fields": form_service.set_fields(session, ctx.user, ctx.venue, body.fields)}


@api.get("/venues/{slug}/my-reviews")
def api_my_reviews(session: SessionDep, ctx: VenueCtx) -> list[dict]:
    require(permissions.can_list_own_reviews, ctx.user, ctx.member, ctx.venue)
    return [{"submission": sub.number, "title": reader_title(session, sub),
             "status": review.status if review else "not started", "version": review.version if review else 0,
             "is_late": bool(review and review.is_late)}
            for sub, review in service.assigned_reviews(session, ctx.venue, ctx.member)]


@api.get("/venues/{slug}/submissions/{number}/review")
def api_my_review(session: SessionDep, ctx: VisibleSubmission) -> dict:
    require(permissions.can_open_review, ctx.standing)
    return _my_review_json(session, ctx, ctx.sub)


@api.put("/venues/{slug}/submissions/{number}/review")
def api_save_draft(body: DraftIn, session: SessionDep, ctx: VisibleSubmission) -> JSONResponse:
    """Autosave. 409 with the stored copy (`theirs`) when another tab saved since `version`; yours is kept."""
    sub = _writer(session, ctx)
    result = service.save_draft(session, ctx.user, ctx.venue, ctx.member, sub, body.answers, body.version)
    if result.conflict:
        return JSONResponse(status_code=409, content={
            "detail": "This review was changed in another tab or window since you loaded it. Your text was kept "
                      "in the review's history; reload to see the newer version.",
            "code": "conflict", "version": result.review.version, "theirs": result.theirs})
    return JSONResponse({"version": result.review.version, "status": result.review.status,
                         "saved_at": result.review.updated_at.isoformat()})


@api.post("/venues/{slug}/submissions/{number}/review/submit")
def api_submit(body: DraftIn, session: SessionDep, ctx: VisibleSubmission) -> dict:
    sub = _writer(session, ctx)
    service.submit_review(session, ctx.user, ctx.venue, ctx.member, sub, body.answers, body.version)
    return _my_review_json(session, ctx, sub)


@api.get("/venues/{slug}/submissions/{number}/reviews")
def api_reviews(session: SessionDep, ctx: VisibleSubmission) -> list[dict]:
    return [_review_json(v) for v in _reviews(session, ctx)]


@api.get("/venues/{slug}/submissions/{number}/comments")
def api_comments(session: SessionDep, ctx: VisibleSubmission) -> list[dict]:
    return [_comment_json(c) for c in _comments(session, ctx)]


@api.post("/venues/{slug}/submissions/{number}/comments", status_code=201)
def api_post_comment(body: CommentIn, session: SessionDep, ctx: VisibleSubmission) -> dict:
    comment = _post(session, ctx, body.body, body.audience, body.parent_id)
    return {"id": comment.id, "as_role": comment.as_role, "audience": comment.audience}


@api.get("/venues/{slug}/submissions/{number}/response")
def api_response(session: SessionDep, ctx: VisibleSubmission) -> dict:
    require(permissions.can_read_response, ctx.standing)
    return {"response": _response_json(session, ctx), "limit": service.RESPONSE_MAX}


@api.put("/venues/{slug}/submissions/{number}/response")
def api_save_response(body: ResponseIn, session: SessionDep, ctx: VisibleSubmission) -> dict:
    row = _respond(session, ctx, body.body, body.version)
    return {"body": row.body, "version": row.version, "updated_at": row.updated_at}


@api.put("/venues/{slug}/submissions/{number}/reviews/{review_id}/rating")
def api_rate(body: RatingIn, session: SessionDep, ctx: VisibleReview) -> dict:
    row = _rate(session, ctx, body.score, body.comment)
    return {"review_id": ctx.review.id, "score": row.score, "comment": row.comment}


@api.post("/markdown")
def api_markdown(body: MarkdownIn, user: CurrentUser) -> dict:
    """The sanitized HTML the pages show for this Markdown (for previews)."""
    return {"html": render_markdown(body.text)}


# --- pages ------------------------------------------------------------------------------------------------------


def _answers_from_form(form) -> dict[str, Any]:  # noqa: ANN001
    return {key[2:]: value for key, value in form.multi_items() if key.startswith("a.") and value != ""}


def _version_from_form(form) -> int | None:  # noqa: ANN001
    raw = form.get("version")
    return int(raw) if raw not in (None, "") and str(raw).isdigit() else None


@pages.get("/venues/{slug}/reviews")
def reviews_page(request: Request, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    require(permissions.can_list_own_reviews, ctx.user, ctx.member, ctx.venue)
    mine = service.assigned_reviews(session, ctx.venue, ctx.member) if ctx.member else []
    deadline = service.review_deadline_text(session, ctx.venue, ctx.member) if ctx.member else None
    is_staff = permissions.is_staff(ctx.user, ctx.member)
    progress = service.review_progress(session, ctx.venue) if is_staff else []
    titles = {sub.id: reader_title(session, sub) for sub, _review in mine}  # the reviewer's own: masked
    return render(request, "pages/reviews.html", {"venue": ctx.venue, "mine": mine, "titles": titles,
                                                  "deadline": deadline, "is_staff": is_staff, "progress": progress},
                  user=ctx.user)


def _review_page_context(session, ctx: SubmissionContext) -> dict:  # noqa: ANN001
    """What the review page shows: the form with the stored draft, the paper, its runs, then the other reviews."""
    sub, rel = ctx.sub, _rel(session, ctx)
    fields = form_service.get_fields(session, ctx.venue)
    review = service.get_review(session, sub, ctx.member)
    others = _reviews(session, ctx) if rel.submitted_own else []
    comments = _comments(session, ctx) if rel.submitted_own else []
    can_write = permissions.can_write_review(ctx.standing)
    revision = submission_service.current_revision(session, sub)
    pdf_url = (f"/api/v1/venues/{ctx.venue.slug}/submissions/{sub.number}/revisions/{revision.id}/pdf"
               if revision else None)
    return {
        "venue": ctx.venue, "sub": sub, "title": _title(session, ctx), "fields": fields, "review": review, "rel": rel,
        "answers": review.answers if review else {}, "version": review.version if review else 0,
        "pseudonym": service.pseudonyms(session, sub).get(ctx.member.id),
        "deadline": service.review_deadline_text(session, ctx.venue, ctx.member), "can_write": can_write,
        "others": [o for o in others if not o.is_mine], "comments": comments,
        "can_post": permissions.can_post_comment(ctx.standing),
        "response": _response_json(session, ctx),
        "render_markdown": render_markdown, "pdf_url": pdf_url, "runs": _runs(session, ctx),
        "abstract": _author_text(session, ctx, sub.abstract or ""),
        "claims": _claims(session, ctx, sub),
    }


def _runs(session, ctx: SubmissionContext) -> list:  # noqa: ANN001
    """The submission's runs as this reader may see them (reasons, metric names and claim texts masked)."""
    mask = run_service.text_masker(session, ctx.sub, unmasked=permissions.can_read_run_logs_unmasked(ctx.standing))
    return [run_service.masked_run(r, mask) for r in run_service.list_runs(session, ctx.sub)]


def _claims(session, ctx: SubmissionContext, sub) -> list[dict]:  # noqa: ANN001
    """The paper's claims beside the PDF, their experiment and metric names through the reader's masker."""
    mask = run_service.text_masker(session, sub, unmasked=permissions.can_read_run_logs_unmasked(ctx.standing))
    claims = run_service.runs_overview(session, sub)["claims"]
    if mask is None:
        return claims
    return [{**c, "experiment": mask(str(c["experiment"])), "metric": mask(str(c["metric"])),
             "text": mask(c.get("text") or "")} for c in claims]


@pages.get("/venues/{slug}/submissions/{number}/review")
def review_page(request: Request, session: SessionDep, ctx: VisibleSubmission):  # noqa: ANN201
    require(permissions.can_open_review, ctx.standing)
    return render(request, "pages/review.html", _review_page_context(session, ctx), user=ctx.user)


@pages.post("/venues/{slug}/submissions/{number}/review/draft")
async def review_autosave(request: Request, session: SessionDep, ctx: VisibleSubmission):  # noqa: ANN201
    """The htmx autosave: answers the small "saved" status (or a conflict banner) in place."""
    form = await request.form()
    try:
        sub = _writer(session, ctx)
        result = service.save_draft(session, ctx.user, ctx.venue, ctx.member, sub, _answers_from_form(form),
                                    _version_from_form(form))
    except DomainError as exc:
        discard(session)
        return render(request, "partials/review_save_status.html", {"error": exc.message, "details": exc.details},
                      status_code=exc.status_code)
    return render(request, "partials/review_save_status.html", {
        "venue": ctx.venue, "review": result.review, "conflict": result.conflict, "sub": sub, "oob": True},
        status_code=409 if result.conflict else 200)


@pages.post("/venues/{slug}/submissions/{number}/review/submit")
async def review_submit(request: Request, session: SessionDep, ctx: VisibleSubmission):  # noqa: ANN201
    """Submit; when refused, the page comes back with the text as typed and each field's problem marked."""
    form = await request.form()
    url = f"/venues/{ctx.venue.slug}/submissions/{ctx.sub.number}/review"
    sub = _writer(session, ctx)
    answers, version = _answers_from_form(form), _version_from_form(form)
    try:
        service.submit_review(session, ctx.user, ctx.venue, ctx.member, sub, answers, version)
    except DomainError as exc:
        discard(session)
        context = _review_page_context(session, ctx)
        problems = exc.details if isinstance(exc.details, list) else []
        context.update(answers=answers, version=version if version is not None else context["version"],
                       submit_error=exc.message, problems={p["field"]: p["message"] for p in problems
                                                           if isinstance(p, dict) and "field" in p})
        return render(request, "pages/review.html", context, user=ctx.user, status_code=exc.status_code)
    flash(request, "Your review is submitted. You can now read the other reviews and join the discussion.", "ok")
    return redirect(url)


@pages.get("/venues/{slug}/submissions/{number}/reviews")
def submission_reviews_page(request: Request, session: SessionDep, ctx: VisibleSubmission):  # noqa: ANN201
    """Reviews, response and discussion of one submission, as the viewer may see them (authors, reviewers, staff)."""
    reviews = _reviews(session, ctx)
    comments = _comments(session, ctx)
    response = _response_json(session, ctx)
    return render(request, "pages/submission_reviews.html", {
        "venue": ctx.venue, "sub": ctx.sub, "title": _title(session, ctx), "rel": _rel(session, ctx),
        "reviews": reviews, "comments": comments,
        "response": response, "response_limit": service.RESPONSE_MAX,
        "can_respond": permissions.can_respond(ctx.standing),
        "can_rate": permissions.can_rate_review(ctx.standing),
        "can_post": permissions.can_post_comment(ctx.standing),
        "is_staff": permissions.is_staff(ctx.user, ctx.member), "render_markdown": render_markdown,
    }, user=ctx.user)


@pages.post("/venues/{slug}/submissions/{number}/comments")
def comment_post_page(request: Request, session: SessionDep, ctx: VisibleSubmission,  # noqa: ANN201
                      body: Annotated[str, Form()], audience: Annotated[str, Form()] = "everyone",
                      parent_id: Annotated[str, Form()] = "", back: Annotated[str, Form()] = "reviews"):
    suffix = "review" if back == "review" else "reviews"
    url = f"/venues/{ctx.venue.slug}/submissions/{ctx.sub.number}/{suffix}"

    def act():  # noqa: ANN202
        return _post(session, ctx, body, audience, int(parent_id) if parent_id.isdigit() else None)
    return form_action(request, session, act, success="Posted.", next_url=lambda c: f"{url}#comment-{c.id}",
                       back_url=url)


@pages.post("/venues/{slug}/submissions/{number}/response")
def response_page(request: Request, session: SessionDep, ctx: VisibleSubmission,  # noqa: ANN201
                  body: Annotated[str, Form()], version: Annotated[str, Form()] = ""):
    url = f"/venues/{ctx.venue.slug}/submissions/{ctx.sub.number}/reviews"

    def act():  # noqa: ANN202
        return _respond(session, ctx, body, int(version) if version.isdigit() else None)
    return form_action(request, session, act, success="Your response is saved.", next_url=url + "#response",
                       back_url=url)


@pages.post("/venues/{slug}/submissions/{number}/reviews/{review_id}/rating")
def rating_page(request: Request, session: SessionDep, ctx: VisibleReview,  # noqa: ANN201
                score: Annotated[str, Form()], comment: Annotated[str, Form()] = ""):
    url = f"/venues/{ctx.venue.slug}/submissions/{ctx.sub.number}/reviews"

    def act():  # noqa: ANN202
        return _rate(session, ctx, score, comment)
    return form_action(request, session, act, success="Thank you: your rating is saved.",
                       next_url=f"{url}#review-{ctx.review.id}", back_url=url)


@pages.post("/venues/{slug}/markdown-preview")
async def markdown_preview(request: Request, ctx: VenueCtx) -> Response:
    """htmx preview of one text field: the first `a.*` (or `body`) value in the form, rendered and sanitized."""
    form = await request.form()
    field = request.query_params.get("field", "")
    text = form.get(f"a.{field}") if field else form.get("body")
    html = render_markdown(str(text or "")[:100_000])
    return Response(f'<div class="markdown-preview">{html or "<p class=muted>Nothing to preview.</p>"}</div>',
                    media_type="text/html")


@pages.get("/venues/{slug}/review-form")
def review_form_page(request: Request, session: SessionDep, ctx: VenueCtx):  # noqa: ANN201
    require(permissions.can_view_review_form_settings, ctx.user, ctx.member, ctx.venue)
    fields = form_service.get_fields(session, ctx.venue)
    return render(request, "pages/review_form.html", {
        "venue": ctx.venue, "fields": fields, "text": json.dumps(fields, indent=2, ensure_ascii=False),
        "can_edit": permissions.can_edit_review_form(ctx.user, ctx.member, ctx.venue)}, user=ctx.user)


@pages.post("/venues/{slug}/review-form")
def review_form_save(request: Request, session: SessionDep, ctx: VenueCtx,  # noqa: ANN201
                     text: Annotated[str, Form()]):
    """Save the chair's JSON; on a problem the page comes back with the text as typed and every problem listed."""
    url = f"/venues/{ctx.venue.slug}/review-form"
    require(permissions.can_edit_review_form, ctx.user, ctx.member, ctx.venue)
    try:
        try:
            fields = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInput(f"The form is not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
        form_service.set_fields(session, ctx.user, ctx.venue, fields)
    except DomainError as exc:
        discard(session)
        return render(request, "pages/review_form.html", {
            "venue": ctx.venue, "fields": form_service.get_fields(session, ctx.venue), "text": text,
            "can_edit": True, "error": exc.message, "problems": exc.details if isinstance(exc.details, list) else []},
            user=ctx.user, status_code=exc.status_code)
    flash(request, "The review form is saved.", "ok")
    return redirect(url)
