"""Annotated FastAPI dependencies that raise: the signed-in user, the venue and membership."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from app.db import SessionDep, defer_write
from app.errors import NotFound, NotSignedIn
from app.models import Member, User, Venue
from app.security import permissions
from app.security.sessions import UNSAFE_METHODS, session_user_id, verify_csrf
from app.services import accounts, venues
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
        _release(session)
        return user
    ids = session_user_id(request)
    if ids is None:
        return None
    user = session.get(User, ids[0])
    _release(session)
    if user is None or user.session_epoch != ids[1]:
        request.session.clear()
        return None
    return user


def _release(session: Session) -> None:
    """End the read transaction of the sign-in lookup: the connection goes back to the pool while the
    request waits for a worker thread or reads its body (nothing is pending at this point)."""
    session.commit()


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


def venue_context(slug: str, user: CurrentUser, session: SessionDep) -> VenueContext:
    try:
        venue = venues.get_venue(session, slug)
    except NotFound:
        raise
    member = venues.get_member(session, venue, user)
    if not permissions.can_view_venue(user, member, venue):
        # Same answer as a venue that does not exist: do not reveal which venues there are.
        raise NotFound(f"There is no venue '{slug[:64]}'.")
    _release(session)  # no connection held while the request waits for its endpoint's worker thread
    return VenueContext(venue=venue, user=user, member=member)


VenueCtx = Annotated[VenueContext, Depends(venue_context)]
