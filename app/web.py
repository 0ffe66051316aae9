"""Rendering pages and fragments, and the post/redirect/get helper that page forms share."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from app.artifacts.manifest import RIGS
from app.db import discard
from app.errors import DomainError
from app.security import permissions
from app.security.sessions import csrf_token, flash, pop_flashes
from app.services.deadlines import format_in
from app.services.runs import run_outcome
from app.settings import ROOT

templates = Jinja2Templates(directory=str(ROOT / "templates"))


def _local(moment: datetime | None, tz_name: str | None) -> str:
    return format_in(moment, tz_name) if moment else "not set"


templates.env.filters["local"] = _local
templates.env.globals["STATIC_VERSION"] = "1"
templates.env.globals["RIG_KINDS"] = RIGS  # the kernel's list, for the rigs page
templates.env.globals["run_outcome"] = run_outcome  # a run's state in words, colour and icon


def venue_nav(user, member, venue) -> list[tuple[str, str]]:  # noqa: ANN001
    """The venue's links this person may open now (each asks the permission its page asks), as (label, path)."""
    base = f"/venues/{venue.slug}"
    links = [(venue.course_code or venue.title, base, True),
             ("Your submission", f"{base}/submission", permissions.can_view_own_submission(user, member, venue)),
             ("Submissions", f"{base}/submissions", permissions.can_list_submissions(user, member, venue)),
             ("Groups", f"{base}/groups", True),
             ("Extensions", f"{base}/extensions", True),
             ("Bids & interests", f"{base}/bids", permissions.can_open_bids_page(user, member, venue)),
             ("Reviews", f"{base}/reviews", permissions.can_list_own_reviews(user, member, venue)),
             ("Assignment", f"{base}/assignments", permissions.can_view_assignments(user, member, venue)),
             ("Moderation", f"{base}/moderation", permissions.can_moderate(user, member, venue))]
    return [(label, path) for label, path, allowed in links if allowed]


def _nav_for(request: Request, context: dict) -> list[tuple[str, str]]:
    """The navigation of the page's venue, from the membership this request resolved (none: no venue links)."""
    ctx = getattr(request.state, "venue_ctx", None)
    venue = context.get("venue")
    if ctx is None or venue is None or getattr(venue, "id", None) != ctx.venue.id:
        return []
    return venue_nav(ctx.user, ctx.member, ctx.venue)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(request: Request, page: str, context: dict[str, Any] | None = None, *, status_code: int = 200,
           partial: str | None = None, user=None) -> Response:  # noqa: ANN001
    """The full page, or only `partial` when htmx asks for a fragment (same URL, Vary: HX-Request)."""
    ctx = {"request": request, "csrf_token": csrf_token(request), "flashes": pop_flashes(request),
           "user": user, **(context or {})}
    ctx.setdefault("venue_nav", _nav_for(request, ctx))
    name = partial if partial and is_htmx(request) and not request.headers.get("hx-boosted") else page
    response = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    response.headers["Vary"] = "HX-Request"
    return response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def form_action(request: Request, session: Session, action: Callable[[], Any], *, success: str | Callable[[Any], str],
                next_url: str | Callable[[Any], str], back_url: str) -> RedirectResponse:
    """Run a page form's action and redirect (the request boundary commits it); on a domain error discard what
    it did and redirect back with the message, so nothing half-done is kept and the form works without JS."""
    try:
        result = action()
        session.flush()  # the success message and next URL may name new rows' ids
    except DomainError as exc:
        discard(session)
        flash(request, exc.message, "error")
        return redirect(back_url)
    flash(request, success(result) if callable(success) else success, "ok")
    return redirect(next_url(result) if callable(next_url) else next_url)
