"""Security headers on every response (pages, fragments, JSON, files, static, errors): a Content-Security-Policy
the pages satisfy without 'unsafe-inline' (scripts are static files: static/app.js beside the vendored htmx),
no framing by other sites, no MIME sniffing, no full URLs in Referer.

A pure ASGI middleware (not BaseHTTPMiddleware) so streamed file responses pass through untouched. A route that
must be framed by our own pages (the PDF beside the review form) sets its own CSP and X-Frame-Options first
(`allow_same_origin_framing`); the middleware never overwrites a header a route has set.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "frame-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
# FastAPI's interactive API docs load Swagger UI / ReDoc from a CDN and start them with an inline script.
DOCS_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net",
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com",
    "font-src 'self' https://fonts.gstatic.com",
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
))
DOCS_PATHS = ("/docs", "/redoc")
SAME_ORIGIN_FRAMING_POLICY = "frame-ancestors 'self'; object-src 'none'; base-uri 'none'"

HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=()",
}


def allow_same_origin_framing(response) -> None:  # noqa: ANN001
    """Let our own pages frame this response (and nobody else's)."""
    response.headers["Content-Security-Policy"] = SAME_ORIGIN_FRAMING_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"


class SecurityHeaders:
    """Adds the headers above to every HTTP response that does not carry them already."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        policy = DOCS_POLICY if path in DOCS_PATHS or path.startswith("/docs/") else CONTENT_SECURITY_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _value in headers}
                wanted = {**HEADERS, "content-security-policy": policy}
                headers += [(name.encode(), value.encode()) for name, value in wanted.items()
                            if name.encode() not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
