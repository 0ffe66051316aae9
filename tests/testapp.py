"""The app wired to one test session: every request uses (and finishes on) the test's own transaction."""

from collections.abc import Iterator

from fastapi import FastAPI, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.db import finish_request, get_session
from app.main import create_app
from app.settings import Settings


def app_on_session(settings: Settings, engine: Engine, db: Session) -> FastAPI:
    """create_app with get_session overridden to yield `db` (rolled back by the test, never by a request)."""
    application = create_app(settings, engine=engine, check_schema=False)

    def _session(request: Request) -> Iterator[Session]:
        try:
            yield db
            finish_request(request, db)
        except Exception:
            db.rollback()
            raise

    application.dependency_overrides[get_session] = _session
    return application
