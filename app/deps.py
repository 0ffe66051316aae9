"""Annotated FastAPI dependencies that raise, one per resource: the signed-in user, the venue (with the
membership), a submission, a review and a run. Each resolves its object and answers 404 for one that does not
exist AND for one the viewer may not see (which ones exist is not revealed); the route's own action permission
then answers 403. Pages and the API use the same ones."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.db import SessionDep, defer_write, release
from app.errors import NotFound, NotSignedIn
from app.models import Member, Review, Submission, User, Venue
from app.models.run import Run
from app.security import permissions
from app.security.sessions import UNSAFE_METHODS, session_key, verify_csrf
from app.services import runs as run_service
from app.services import accounts, venues
from app.services import reviews as review_service
from app.services import submissions as submission_service
from app.settings import Settings


def app_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(app_settings)]


def _resolve_user(request: Request, session: SessionDep) -> User | None:
    """Bearer token first (scripts, rigs), else the session cookie. Sync: FastAPI runs it in the threadpool,
    so a database wait never blocks the event loop."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        user, token = accounts.user_from_api_token(session, auth[7:].strip())
        if user is None:
            raise NotSignedIn("The API token is invalid or revoked.")
        request.state.via_token = True
        if accounts.token_needs_touch(token):
            # Written at the end of the request, so no write lock is held while the request works.
            defer_write(request, lambda s, token_id=token.id: accounts.touch_api_token(s, token_id))
        release(session)
        return user
    key = session_key(request)
    if key is None:
        if "uid" in request.session:  # a cookie from before server-side sessions: sign in again
            request.session.clear()
        return None
    user, row = accounts.user_from_session(session, request.app.state.settings, key)
    if user is None:
        release(session)
        request.session.clear()  # signed out (here or everywhere), or expired: the cookie is worth nothing
        return None
    if accounts.session_needs_touch(row):
        defer_write(request, lambda s, session_id=row.id: accounts.touch_session(s, session_id))
    release(session)
    return user


async def optional_user(request: Request, user: Annotated[User | None, Depends(_resolve_user)]) -> User | None:
    """The signed-in user; cookie-authenticated writes must carry the session's CSRF token."""
    if user is not None and not getattr(request.state, "via_token", False) and request.method in UNSAFE_METHODS:
        await verify_csrf(request)
    return user


OptionalUser = Annotated[User | None, Depends(optional_user)]


def current_user(user: OptionalUser) -> User:
    if user is None:
        raise NotSignedIn("Sign in first.")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


@dataclass
class VenueContext:
    """The venue a request is about, who asks, and their membership (None for an admin outside it)."""

    venue: Venue
    user: User
    member: Member | None


def venue_context(slug: str, request: Request, user: CurrentUser, session: SessionDep) -> VenueContext:
    try:
        venue = venues.get_venue(session, slug)
    except NotFound:
        raise
    member = venues.get_member(session, venue, user)
    if not permissions.can_view_venue(user, member, venue):
        # Same answer as a venue that does not exist: do not reveal which venues there are.
        raise NotFound(f"There is no venue '{slug[:64]}'.")
    release(session)  # no connection held while the request waits for its endpoint's worker thread
    ctx = VenueContext(venue=venue, user=user, member=member)
    request.state.venue_ctx = ctx  # this request's only: the page's navigation asks permissions with it
    return ctx


VenueCtx = Annotated[VenueContext, Depends(venue_context)]


@dataclass
class SubmissionContext(VenueContext):
    """A submission the viewer may see, with their standing to it (computed by app.security.permissions)."""

    sub: Submission
    standing: permissions.Standing


def visible_submission(number: int, ctx: VenueCtx, session: SessionDep) -> SubmissionContext:
    """/venues/{slug}/submissions/{number}: 404 for a number that does not exist and for one this viewer may not
    see, with the same words, so the answer does not tell which submissions exist."""
    missing = NotFound(f"There is no submission #{number} in this venue.")
    try:
        sub = submission_service.get_submission(session, ctx.venue, number)
    except NotFound:
        raise missing from None
    st = permissions.standing(session, ctx.user, ctx.member, sub, ctx.venue)
    if not permissions.can_view_submission(st):
        raise missing
    release(session)
    return SubmissionContext(venue=ctx.venue, user=ctx.user, member=ctx.member, sub=sub, standing=st)


VisibleSubmission = Annotated[SubmissionContext, Depends(visible_submission)]


@dataclass
class ReviewContext(SubmissionContext):
    """A submitted review of a visible submission, which this viewer may read."""

    review: Review


def visible_review(review_id: int, ctx: VisibleSubmission, session: SessionDep) -> ReviewContext:
    """/…/submissions/{number}/reviews/{review_id}: 404 unless the viewer may read the submission's reviews."""
    review = review_service.get_review_by_id(session, ctx.sub, review_id)
    if not permissions.can_read_reviews(ctx.standing):
        raise NotFound("There is no such review of this submission.")
    return ReviewContext(**_fields(ctx), review=review)


VisibleReview = Annotated[ReviewContext, Depends(visible_review)]


@dataclass
class RunContext(SubmissionContext):
    """A run of a visible submission, for a viewer who may see its runs."""

    run: Run


def visible_run(run_id: int, ctx: VisibleSubmission, session: SessionDep) -> RunContext:
    """/…/submissions/{number}/runs/{run_id}: 404 for another submission's run; 403 without can_view_runs."""
    run = run_service.get_run(session, ctx.sub, run_id)
    permissions.require(permissions.can_view_runs, ctx.standing)
    return RunContext(**_fields(ctx), run=run)


VisibleRun = Annotated[RunContext, Depends(visible_run)]


def _fields(ctx: SubmissionContext) -> dict:
    return {"venue": ctx.venue, "user": ctx.user, "member": ctx.member, "sub": ctx.sub, "standing": ctx.standing}
