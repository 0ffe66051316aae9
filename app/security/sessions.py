"""The session cookie (signed): the key of a server-side session row (app.services.accounts), the CSRF token
and one-time messages. Signing out deletes the row, so a copy of the cookie kept from before is worth nothing."""

import hmac
import secrets

from fastapi import Request

from app.errors import CsrfError

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def sign_in(request: Request, key: str) -> None:
    """A fresh cookie for a new server-side session (new CSRF token too: no session fixation)."""
    request.session.clear()
    request.session.update({"sid": key, "csrf": secrets.token_urlsafe(24)})


def sign_out(request: Request) -> None:
    request.session.clear()


def session_key(request: Request) -> str | None:
    """The server-side session's key the cookie carries (cookies from before server-side sessions carry none)."""
    key = request.session.get("sid")
    return key if isinstance(key, str) and key else None


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use (also for the sign-in form)."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return token


async def verify_csrf(request: Request) -> None:
    """Reject an unsafe request whose CSRF token (form field or X-CSRF-Token header) does not match."""
    if request.method not in UNSAFE_METHODS:
        return
    expected = request.session.get("csrf")
    given = request.headers.get(CSRF_HEADER)
    if not given:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
    if not expected or not given or not hmac.compare_digest(str(expected), str(given)):
        raise CsrfError("This form has expired or did not come from this site. Reload the page and try again.")


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """A one-time message shown on the next page (kept in the signed cookie)."""
    request.session.setdefault("flash", [])
    request.session["flash"] = [*request.session["flash"], [kind, message[:500]]][-5:]


def pop_flashes(request: Request) -> list[tuple[str, str]]:
    return [tuple(f) for f in request.session.pop("flash", [])]
