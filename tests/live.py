"""A real uvicorn server in a thread, on a fresh migrated database: for browser tests and rig workers."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from sqlalchemy.engine import Engine

from app.db import make_engine
from app.main import create_app
from app.migrate import upgrade
from app.settings import Settings
from tests.conftest import _fresh_database


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    url: str
    settings: Settings
    engine: Engine


@contextmanager
def serve_in_thread(tmp: Path, *, secret_key: str, redis_url: str | None = None,
                    seed: Callable[[Settings, Engine], None] | None = None) -> Iterator[Served]:
    """Migrate a fresh database (REPROREVIEW_TEST_DATABASE_URL's server, or SQLite in tmp), seed it, serve it."""
    base = os.environ.get("REPROREVIEW_TEST_DATABASE_URL") or f"sqlite:///{tmp / 'live.db'}"
    url, drop = _fresh_database(base)
    upgrade(url)
    port = free_port()
    settings = Settings(data_dir=tmp / "data", database_url=url, secret_key=secret_key, redis_url=redis_url,
                        base_url=f"http://127.0.0.1:{port}", embed_ahead=False, _env_file=None)
    # embed_ahead off: an embedding thread in this test server competes with the test's own writes on SQLite
    # (seen as "database is locked" in the browser flows); tests/api/test_assignment_embed_ahead.py covers it.
    engine = make_engine(url)
    if seed is not None:
        seed(settings, engine)
    server = uvicorn.Server(uvicorn.Config(create_app(settings, engine=engine), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "the live server did not start"
    try:
        yield Served(f"http://127.0.0.1:{port}", settings, engine)
    finally:
        server.should_exit = True
        thread.join(10)
        engine.dispose()
        drop()
