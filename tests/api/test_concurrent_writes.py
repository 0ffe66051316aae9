"""Overlapping writers on a file SQLite database, through a real server: they wait their turn (or are told to
retry with 503 + Retry-After), never a 500 "database is locked"."""

import threading
from collections import Counter

import httpx
import pytest
from sqlmodel import Session, func, select

from app.models import LoginAttempt, Rig
from app.services.accounts import create_api_token
from tests.factories import PASSWORD, Factory
from tests.live import serve_in_thread

WORKERS = 8
ROUNDS = 4


def _seed(engine, box: dict) -> None:  # noqa: ANN001
    with Session(engine, expire_on_commit=False) as db:
        make = Factory(db)
        venue = make.venue(phase="assignment")
        chair, _ = make.member(venue, "chair", name="Chair Person")
        groups = [make.group(venue, f"Team {i}") for i in range(4)]
        students = [make.member(venue, "student", group=groups[i % 4], name=f"Student {i}") for i in range(WORKERS)]
        reviewers = [make.member(venue, "reviewer", name=f"Reviewer {i}") for i in range(WORKERS)]
        _token, plaintext = create_api_token(db, chair, "concurrency")
        db.commit()
        box.update(slug=venue.slug, token=plaintext, emails=[u.email for u, _ in students],
                   groups=[g.id for g in groups], students=[m.id for _, m in students],
                   reviewers=[m.id for _, m in reviewers])


def test_overlapping_writers_never_get_a_500(tmp_path):  # noqa: ANN001
    box: dict = {}
    with serve_in_thread(tmp_path, secret_key="concurrent-writes", seed=lambda _s, eng: _seed(eng, box)) as served:
        if not served.settings.resolved_database_url.startswith("sqlite"):
            pytest.skip("SQLite's single writer is what this test is about")
        statuses: Counter = Counter()
        bad: list[str] = []
        lock = threading.Lock()
        start = threading.Barrier(WORKERS)
        slug = box["slug"]

        def worker(i: int) -> None:
            chair = httpx.Client(base_url=served.url, timeout=120,
                                 headers={"Authorization": f"Bearer {box['token']}"})
            person = httpx.Client(base_url=served.url, timeout=120)
            start.wait()
            for n in range(ROUNDS):
                calls = [
                    # a sign-in: reads the recent attempts, then inserts its own (a read upgraded to a write)
                    ("POST /session", lambda: person.post("/api/v1/session",
                                                          json={"email": box["emails"][i], "password": PASSWORD})),
                    ("POST /rigs", lambda: chair.post("/api/v1/rigs", json={"name": f"rig-{i}-{n}"})),
                    ("POST /conflicts", lambda: chair.post(f"/api/v1/venues/{slug}/conflicts", json={
                        "member_id": box["reviewers"][i], "group_id": box["groups"][n % 4], "reason": "test"})),
                    ("POST /groups/move", lambda: chair.post(f"/api/v1/venues/{slug}/groups/move", json={
                        "member_id": box["students"][i], "group_id": box["groups"][(i + n) % 4]})),
                    ("GET /venue", lambda: chair.get(f"/api/v1/venues/{slug}")),
                ]
                for name, call in calls:
                    r = call()
                    with lock:
                        statuses[(name, r.status_code)] += 1
                        if r.status_code == 503:  # told to retry: allowed, but it must say when
                            if r.headers.get("retry-after") != "2" or r.json().get("code") != "busy":
                                bad.append(f"{name}: 503 without Retry-After: {r.text[:200]}")
                        elif r.status_code >= 500 or (r.status_code >= 400 and r.status_code != 409):
                            bad.append(f"{name}: {r.status_code} {r.text[:200]}")
                        elif r.status_code == 409 and name not in ("POST /conflicts", "POST /groups/move"):
                            bad.append(f"{name}: {r.status_code} {r.text[:200]}")  # declared twice / same group
            chair.close()
            person.close()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert not bad, f"{len(bad)} failed answers, e.g. {bad[:3]}; all: {dict(statuses)}"
        with Session(served.engine) as db:
            ok_logins = sum(c for (name, code), c in statuses.items() if name == "POST /session" and code == 200)
            assert db.exec(select(func.count()).select_from(LoginAttempt)).one() == ok_logins
            ok_rigs = sum(c for (name, code), c in statuses.items() if name == "POST /rigs" and code == 201)
            assert db.exec(select(func.count()).select_from(Rig)).one() >= ok_rigs
        print(dict(statuses))
        # Most writers simply waited their turn; a 503 is for one that waited the whole busy timeout.
        assert sum(c for (_n, code), c in statuses.items() if code == 503) <= len(threads) * ROUNDS // 10, statuses


def test_a_writing_request_takes_the_lock_up_front_and_a_long_read_does_not(tmp_path):  # noqa: ANN001
    """writer_engine (POST/PUT/PATCH/DELETE on SQLite) begins IMMEDIATE: others wait for it rather than it failing
    later; begin_read lets a long read of such a request (a solve's planning) hold no lock."""
    import sqlite3

    from app.db import begin_read, make_engine, writer_engine
    from app.migrate import upgrade
    from app.models import Venue

    url = f"sqlite:///{tmp_path / 'locks.db'}"
    upgrade(url)
    engine = make_engine(url)

    def other_writer_can_write() -> bool:
        con = sqlite3.connect(tmp_path / "locks.db", timeout=0.2, isolation_level=None)
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc)
            return False
        finally:
            con.close()

    try:
        with Session(writer_engine(engine)) as writing:
            writing.exec(select(Venue)).all()
            assert not other_writer_can_write()  # the request holds the write lock from its first read
            writing.commit()
            assert other_writer_can_write()
            begin_read(writing)
            writing.exec(select(Venue)).all()
            assert other_writer_can_write()  # a long read holds none
            writing.commit()
        with Session(engine) as reading:  # a GET reads as before
            reading.exec(select(Venue)).all()
            assert other_writer_can_write()
    finally:
        engine.dispose()
