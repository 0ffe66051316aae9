"""create_app(): routers, middleware, templates, static files, error mapping, start-up checks."""

from contextlib import asynccontextmanager
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from sqlalchemy.engine import Engine

from app import jobs  # noqa: F401 — registers the after-commit handlers and background jobs
from app.db import get_engine, make_engine
from app.errors import DomainError, NotSignedIn
from app.jobs.mail import DeliverAfterResponse
from app.migrate import ensure_migrated
from app.routers import assignments, audit, auth, extensions, groups, members, reviews, runs, submissions, venues
from app.routers import moderation, notifications
from app.security.headers import SecurityHeaders
from app.settings import ROOT, Settings, get_settings

ROUTERS = (auth, venues, members, groups, extensions, audit, submissions, assignments, runs, reviews, notifications,
           moderation)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def create_app(settings: Settings | None = None, *, engine: Engine | None = None,
               check_schema: bool = True) -> FastAPI:
    """The application; tests pass their own settings and engine."""
    settings = settings or get_settings()
    if engine is None:
        engine = get_engine() if settings is get_settings() else make_engine(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):  # noqa: ANN202
        if check_schema:
            ensure_migrated(engine)
        yield

    app = FastAPI(title="ReproReview", version="0.1.0", lifespan=lifespan,
                  description="Double-blind peer review of course project papers and code. "
                              "Authenticate scripts with `Authorization: Bearer <token>` (create one on /account).")
    app.state.settings = settings
    app.state.engine = engine
    app.add_middleware(DeliverAfterResponse)  # mails what a request committed, after its response
    app.add_middleware(SessionMiddleware, secret_key=settings.resolved_secret_key, session_cookie="rr_session",
                       max_age=settings.session_max_age_s, same_site="lax", https_only=settings.secure_cookies)
    app.add_middleware(SecurityHeaders)  # outermost of ours: every response, errors and static files included
    app.mount("/static", StaticFiles(directory=str(ROOT / "static")), name="static")
    for module in ROUTERS:
        app.include_router(module.api)
        app.include_router(module.pages)

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError):  # noqa: ANN202
        retry_after = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(retry_after)} if retry_after else None
        if _is_api(request):
            body = {"detail": exc.message, "code": exc.code}
            if exc.details is not None:
                body["details"] = exc.details
            return JSONResponse(body, status_code=exc.status_code, headers=headers)
        if isinstance(exc, NotSignedIn):
            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        from app.web import render

        response = render(request, "pages/error.html", {"message": exc.message, "status": exc.status_code},
                          status_code=exc.status_code)
        if headers:
            response.headers.update(headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):  # noqa: ANN202
        problems = [{"field": ".".join(str(p) for p in e.get("loc", ())[1:]), "message": e.get("msg", "")}
                    for e in exc.errors()]
        message = "; ".join(f"{p['field']}: {p['message']}" for p in problems) or "The request is not valid."
        if _is_api(request):
            return JSONResponse({"detail": message, "code": "validation", "details": problems}, status_code=422)
        from app.web import render

        return render(request, "pages/error.html", {"message": message, "status": 422}, status_code=422)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"ok": True}

    return app
