"""Builds the database once (Alembic), then runs each test in a transaction that is rolled back.

REPROREVIEW_TEST_DATABASE_URL picks the backend: unset uses a SQLite file; a PostgreSQL URL
(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) gets a fresh database created for the run.
"""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from app.db import make_engine
from app.migrate import upgrade
from app.settings import Settings
from tests import factories
from tests.testapp import app_on_session

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def pytest_collection_modifyitems(config, items):  # noqa: ANN001, ARG001
    """Mark every test that touches the database, so CI can run exactly those again on PostgreSQL."""
    for item in items:
        if {"engine", "live_server", "database_url", "live"} & set(item.fixturenames):
            item.add_marker(pytest.mark.db)


def _fresh_database(base_url: str) -> tuple[str, callable]:
    """For PostgreSQL: a new database for this test run, dropped afterwards."""
    url = make_url(base_url)
    if url.get_backend_name() != "postgresql":
        return base_url, lambda: None
    name = f"rr_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()

    def drop() -> None:
        eng = create_engine(url, isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = os.environ.get("REPROREVIEW_TEST_DATABASE_URL")
    if not base:
        base = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    url, drop = _fresh_database(base)
    upgrade(url)
    yield url
    drop()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, secret_key="test-secret-key",
                    base_url="http://testserver", allow_local_repos=True, _env_file=None)


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back after the test."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield session
    session.close()
    outer.rollback()
    connection.close()


@pytest.fixture
def app(settings: Settings, engine: Engine, db: Session):  # noqa: ANN201
    return app_on_session(settings, engine, db)


@pytest.fixture
def client(app) -> TestClient:  # noqa: ANN001
    return TestClient(app)


@pytest.fixture
def make(db: Session) -> factories.Factory:
    return factories.Factory(db)


@pytest.fixture
def as_user(app, db: Session):  # noqa: ANN001, ANN201
    """A TestClient authenticated with an API token of the given user."""
    from app.services.accounts import create_api_token

    def _as(user) -> TestClient:  # noqa: ANN001
        _token, plaintext = create_api_token(db, user, f"test-{uuid.uuid4().hex[:6]}")
        db.commit()
        return TestClient(app, headers={"Authorization": f"Bearer {plaintext}"})

    return _as


@pytest.fixture
def browser_login(app, db: Session):  # noqa: ANN001, ANN201
    """A TestClient signed in through the login form, with the CSRF token at hand."""

    def _login(user, password: str = factories.PASSWORD) -> TestClient:  # noqa: ANN001
        c = TestClient(app)
        token = factories.csrf_from(c.get("/login").text)
        r = c.post("/login", data={"email": user.email, "password": password, "csrf_token": token},
                   follow_redirects=False)
        assert r.status_code == 303 and "/login" not in r.headers["location"], r.text
        c.csrf = factories.csrf_from(c.get("/account").text)
        return c

    return _login
