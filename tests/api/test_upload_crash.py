"""A server killed (kill -9) in the middle of an upload leaves no half file and no revision row."""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, func, select

from app.db import make_engine
from app.migrate import upgrade
from app.models import Deadline, Group, Member, Revision, User, Venue
from app.services.accounts import create_api_token
from app.services.submissions import save_submission
from tests.conftest import _fresh_database

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.db


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(url: str, data_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "REPROREVIEW_DATABASE_URL": url, "REPROREVIEW_DATA_DIR": str(data_dir),
           "REPROREVIEW_SECRET_KEY": "crash-test"}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(150):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start")


def test_kill_9_mid_upload_leaves_nothing(tmp_path):  # noqa: ANN001
    base = os.environ.get("REPROREVIEW_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'crash.db'}"
    url, drop = _fresh_database(base)
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as s:
        venue = Venue(slug="crash", title="Crash", phase="submission")
        s.add(venue)
        s.flush()
        s.add(Deadline(venue_id=venue.id, kind="submission", due_at=datetime.now(UTC) + timedelta(days=1)))
        group = Group(venue_id=venue.id, name="G", join_code=uuid.uuid4().hex[:8].upper())
        user = User(email="crash@uni.example", full_name="Crash Test")
        s.add_all([group, user])
        s.flush()
        member = Member(venue_id=venue.id, user_id=user.id, group_id=group.id)
        s.add(member)
        s.flush()
        save_submission(s, user, venue, member, title="Crash paper", abstract="", keywords=[])
        _t, token = create_api_token(s, user, "crash")
        s.commit()
    data_dir = tmp_path / "data"
    port = _port()
    server = _start(url, data_dir, port)
    try:
        boundary = "rrcrashboundary"
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.pdf\"\r\n"
                "Content-Type: application/pdf\r\n\r\n").encode()
        total = len(head) + 8 * 1024 * 1024
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall((f"POST /api/v1/venues/crash/submissions/1/revisions HTTP/1.1\r\nHost: x\r\n"
                      f"Authorization: Bearer {token}\r\n"
                      f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                      f"Content-Length: {total + 40}\r\n\r\n").encode() + head + b"%PDF-1.7\n" + b"0" * (3 * 1024 * 1024))
        time.sleep(0.5)  # the server is now in the middle of reading the body
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        sock.close()
        server = _start(url, data_dir, port)
        with Session(engine) as s:
            assert s.exec(select(func.count()).select_from(Revision)).one() == 0
        leftovers = [p for p in data_dir.rglob("*") if p.is_file() and p.name != "secret_key"] \
            if data_dir.exists() else []
        assert leftovers == []
        # The restarted server works and the upload can be made again.
        r = httpx.get(f"http://127.0.0.1:{port}/api/v1/venues/crash/submissions/1",
                      headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["current_revision"] is None
    finally:
        server.kill()
        server.wait(10)
        engine.dispose()
        drop()
