"""Signing in and out, password reset, the account page and API tokens."""

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse

from app import schemas
from app.db import SessionDep
from app.deps import CurrentUser, OptionalUser, SettingsDep
from app.errors import BadInput, NotSignedIn
from app.security.sessions import flash, session_key, sign_in, sign_out, verify_csrf
from app.services import accounts, notifications
from app.security.tokens import token_digest
from app.services.deadlines import check_timezone
from app.web import form_action, redirect, render

pages = APIRouter(tags=["pages"], include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["account"])

CsrfChecked = Depends(verify_csrf)


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _start_session(request: Request, session, settings, user) -> None:  # noqa: ANN001
    """A new server-side session in a fresh cookie; the one this browser had before (if any) ends."""
    if (old := session_key(request)) is not None:
        accounts.end_session(session, old)
    sign_in(request, accounts.start_session(session, settings, user, request.headers.get("user-agent", "")))


def _end_session(request: Request, session) -> None:  # noqa: ANN001
    if (key := session_key(request)) is not None:
        accounts.end_session(session, key)
    sign_out(request)


def _safe_next(next_url: str | None) -> str:
    """Only same-site relative paths: no open redirect through ?next=."""
    if next_url and next_url.startswith("/") and not next_url.startswith("//"):
        return next_url
    return "/"


@pages.get("/login")
def login_page(request: Request, user: OptionalUser, next: str | None = None):  # noqa: A002, ANN201
    if user is not None:
        return redirect(_safe_next(next))
    return render(request, "pages/login.html", {"next": _safe_next(next)})


@pages.post("/login", dependencies=[CsrfChecked])
def login_submit(request: Request, session: SessionDep, settings: SettingsDep,
                 email: Annotated[str, Form()], password: Annotated[str, Form()],
                 next: Annotated[str, Form()] = "/"):  # noqa: A002, ANN201
    # A failed attempt returns None (it does not raise), so the request boundary commits the recorded attempt.
    user = accounts.authenticate(session, settings, email, password, _client_ip(request))
    if user is None:
        flash(request, "Wrong email or password.", "error")
        return redirect(f"/login?next={quote(_safe_next(next))}")
    _start_session(request, session, settings, user)
    return redirect(_safe_next(next))


@pages.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request, session: SessionDep):  # noqa: ANN201
    _end_session(request, session)
    flash(request, "You are signed out.")
    return redirect("/login")


@pages.get("/password/forgot")
def forgot_page(request: Request):  # noqa: ANN201
    return render(request, "pages/password_forgot.html")


@pages.post("/password/forgot", dependencies=[CsrfChecked])
def forgot_submit(request: Request, session: SessionDep, settings: SettingsDep, email: Annotated[str, Form()]):  # noqa: ANN201
    accounts.request_password_reset(session, settings, email, _client_ip(request))
    flash(request, "If an account exists for that address, we have emailed it a link to choose a new password.")
    return redirect("/login")


@pages.get("/password/reset")
def reset_page(request: Request, token: str = ""):  # noqa: ANN201
    return render(request, "pages/password_reset.html", {"token": token})


@pages.post("/password/reset", dependencies=[CsrfChecked])
def reset_submit(request: Request, session: SessionDep, settings: SettingsDep, token: Annotated[str, Form()],
                 password: Annotated[str, Form()]):  # noqa: ANN201
    return form_action(request, session,
                       lambda: accounts.reset_password(session, settings, token, password, _client_ip(request)),
                       success="Your password is changed: sign in with it.", next_url="/login",
                       back_url=f"/password/reset?token={quote(token)}")


@pages.get("/account")
def account_page(request: Request, session: SessionDep, user: CurrentUser):  # noqa: ANN201
    current = session_key(request)
    return render(request, "pages/account.html",
                  {"tokens": accounts.list_api_tokens(session, user),
                   "sessions": [(row, current is not None and row.key_hash == token_digest(current))
                                for row in accounts.list_sessions(session, user)],
                   "new_token": request.session.pop("new_token", None),
                   **notifications.account_context(session, request.app.state.settings, user)}, user=user)


@pages.post("/account/tokens")
def account_token_create(request: Request, session: SessionDep, user: CurrentUser, name: Annotated[str, Form()]):  # noqa: ANN201
    def create():  # noqa: ANN202
        token, plaintext = accounts.create_api_token(session, user, name)
        request.session["new_token"] = plaintext  # shown once on the next page, then gone
        return token
    return form_action(request, session, create, success="Token created: copy it now, it is shown only once.",
                       next_url="/account", back_url="/account")


@pages.post("/account/tokens/{token_id}/revoke")
def account_token_revoke(request: Request, session: SessionDep, user: CurrentUser, token_id: int):  # noqa: ANN201
    return form_action(request, session, lambda: accounts.revoke_api_token(session, user, token_id),
                       success="Token revoked.", next_url="/account", back_url="/account")


@pages.post("/account/timezone")
def account_timezone(request: Request, session: SessionDep, user: CurrentUser, timezone: Annotated[str, Form()]):  # noqa: ANN201
    def change():  # noqa: ANN202
        user.timezone = check_timezone(timezone) if timezone.strip() else None
        session.add(user)
    return form_action(request, session, change, success="Time zone saved.", next_url="/account",
                       back_url="/account")


@pages.post("/account/password")
def account_password(request: Request, session: SessionDep, user: CurrentUser, settings: SettingsDep,
                     current: Annotated[str, Form()], password: Annotated[str, Form()]):  # noqa: ANN201
    def change():  # noqa: ANN202
        from app.security.passwords import verify_password

        if not verify_password(user.password_hash, current):
            raise BadInput("Your current password is not right.")
        accounts.set_password(session, user, password, keep_session=session_key(request))  # this browser stays in
    return form_action(request, session, change, success="Password changed; other sessions are signed out.",
                       next_url="/account", back_url="/account")


@pages.post("/account/sessions/end")
def account_sessions_end(request: Request, session: SessionDep, user: CurrentUser,
                         keep_current: Annotated[bool, Form()] = False):  # noqa: ANN201
    """Sign out everywhere: every browser of this account, this one too unless `keep_current`."""
    current = session_key(request)
    ended = accounts.end_sessions(session, user, except_key=current if keep_current else None)
    if keep_current:
        flash(request, f"Signed out everywhere else ({ended} other session{'s' if ended != 1 else ''} ended).")
        return redirect("/account")
    sign_out(request)
    flash(request, "You are signed out everywhere.")
    return redirect("/login")


# ---- JSON API -------------------------------------------------------------------------------------


def _user_out(user) -> schemas.UserOut:  # noqa: ANN001
    return schemas.UserOut(id=user.id, email=user.email, full_name=user.full_name, is_admin=user.is_admin,
                           timezone=user.timezone)


@api.post("/session", response_model=schemas.UserOut, responses={401: {"model": schemas.ErrorOut},
                                                                   429: {"model": schemas.ErrorOut}})
def api_login(request: Request, body: schemas.LoginIn, session: SessionDep, settings: SettingsDep):  # noqa: ANN201
    """Sign in with email and password; sets the session cookie (scripts should prefer API tokens)."""
    user = accounts.authenticate(session, settings, body.email, body.password, _client_ip(request))  # see login_submit
    if user is None:
        return JSONResponse({"detail": "Wrong email or password.", "code": "bad-credentials"}, status_code=401)
    _start_session(request, session, settings, user)
    return _user_out(user)


@api.delete("/session", status_code=204)
def api_logout(request: Request, session: SessionDep) -> None:
    """Sign this browser out: its session ends on the server, so a copy of the cookie is refused too."""
    _end_session(request, session)


@api.delete("/sessions", response_model=schemas.SessionsEndedOut)
def api_sessions_end(request: Request, session: SessionDep, user: CurrentUser,
                     except_current: bool = False) -> schemas.SessionsEndedOut:
    """Sign out everywhere: end every session of this account (API tokens stay; revoke them under /tokens).
    `except_current=true` keeps the calling browser's session."""
    current = session_key(request) if not getattr(request.state, "via_token", False) else None
    ended = accounts.end_sessions(session, user, except_key=current if except_current else None)
    if not except_current and current is not None:
        sign_out(request)
    return schemas.SessionsEndedOut(ended=ended)


@api.get("/me", response_model=schemas.UserOut)
def api_me(user: CurrentUser):  # noqa: ANN201
    return _user_out(user)


@api.get("/csrf")
def api_csrf(request: Request) -> dict:
    """The CSRF token to send as X-CSRF-Token with cookie-authenticated writes."""
    from app.security.sessions import csrf_token

    return {"csrf_token": csrf_token(request)}


@api.get("/tokens", response_model=list[schemas.TokenOut])
def api_tokens(session: SessionDep, user: CurrentUser):  # noqa: ANN201
    return [schemas.TokenOut(id=t.id, name=t.name, created_at=t.created_at, last_used_at=t.last_used_at)
            for t in accounts.list_api_tokens(session, user)]


@api.post("/tokens", response_model=schemas.TokenOut, status_code=201)
def api_token_create(body: schemas.TokenIn, session: SessionDep, user: CurrentUser):  # noqa: ANN201
    token, plaintext = accounts.create_api_token(session, user, body.name)
    return schemas.TokenOut(id=token.id, name=token.name, created_at=token.created_at, last_used_at=None,
                            token=plaintext)


@api.delete("/tokens/{token_id}", status_code=204)
def api_token_revoke(token_id: int, session: SessionDep, user: CurrentUser) -> None:
    accounts.revoke_api_token(session, user, token_id)


@api.post("/password/forgot", status_code=202)
def api_forgot(request: Request, body: schemas.PasswordForgotIn, session: SessionDep, settings: SettingsDep) -> dict:
    accounts.request_password_reset(session, settings, body.email, _client_ip(request))
    return {"detail": "If an account exists for that address, a reset link was emailed to it."}


@api.post("/password/reset", response_model=schemas.UserOut)
def api_reset(request: Request, body: schemas.PasswordResetIn, session: SessionDep,
              settings: SettingsDep):  # noqa: ANN201
    return _user_out(accounts.reset_password(session, settings, body.token, body.password, _client_ip(request)))


__all__ = ["api", "pages", "NotSignedIn"]
