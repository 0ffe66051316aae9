"""create_app(): routers, middleware, templates, static files, error mapping, start-up checks."""

from contextlib import asynccontextmanager
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, OperationalError

from app import jobs  # noqa: F401 — registers the after-commit handlers and background jobs
from app.db import get_engine, is_busy, make_engine, refused_value
from app.errors import BadInput, Busy, DomainError, NotSignedIn
from app.jobs.mail import DeliverAfterResponse
from app.migrate import ensure_migrated
from app.openapi import install_openapi
from app.paths import bounded_path_ids
from app.routers import assignments, audit, auth, extensions, groups, members, reviews, runs, submissions, venues
from app.routers import contributions, moderation, notifications
from app.security.headers import SecurityHeaders
from app.services.artifacts import store
from app.settings import ROOT, Settings, get_settings

ROUTERS = (auth, venues, members, groups, extensions, audit, submissions, assignments, runs, reviews, notifications,
           moderation, contributions)


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
        store(settings).cleanup_temp()  # crashed writers' .tmp-* files (older than an hour: not a live upload's)
        yield

    app = FastAPI(title="ReproReview", version="0.1.0", lifespan=lifespan,
                  dependencies=[Depends(bounded_path_ids)],  # an id no INTEGER column holds: 404, not a driver error
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
        if _is_api(request):
            body = {"detail": exc.message, "code": exc.code}
            if exc.details is not None:
                body["details"] = exc.details
            return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
        if isinstance(exc, NotSignedIn):
            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        from app.web import render

        page = render(request, "pages/error.html", {"message": exc.message, "status": exc.status_code},
                      status_code=exc.status_code)
        page.headers.update(exc.headers or {})
        return page

    @app.exception_handler(OperationalError)
    async def database_busy(request: Request, exc: OperationalError):  # noqa: ANN202
        if not is_busy(exc):
            raise exc
        return await domain_error(request, Busy("The database is busy with other changes. Try again in a moment."))

    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    async def database_refused_value(request: Request, exc: Exception):  # noqa: ANN202
        # A value no column can hold: a number beyond 64 bits (sqlite3 raises OverflowError, PostgreSQL "out of
        # range"), text with a NUL byte (PostgreSQL). The input is wrong, not the server.
        problem = refused_value(exc)
        if problem is None:
            raise exc
        return await domain_error(request, BadInput(problem))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):  # noqa: ANN202
        if not _is_api(request):
            return await http_exception_handler(request, exc)
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return JSONResponse({"detail": str(exc.detail), "code": code}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):  # noqa: ANN202
        problems = [{"field": ".".join(str(p) for p in e.get("loc", ())[1:]), "message": e.get("msg", "")}
                    for e in exc.errors()]
        message = "; ".join(f"{p['field']}: {p['message']}" for p in problems) or "The request is not valid."
        if _is_api(request):
            return JSONResponse({"detail": message, "code": "validation", "details": problems}, status_code=422)
        from app.web import render

        return render(request, "pages/error.html", {"message": message, "status": 422}, status_code=422)

    install_openapi(app)  # error bodies and statuses as served (app.openapi)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"ok": True}

    return app
