"""50 concurrent reviewers autosaving every 5 s for 5 minutes against `reproreview serve`: p99 latency, 0 lost drafts.

Usage: python benchmarks/autosave.py [--duration-s 300] [--reviewers 50] [--interval-s 5] [--db sqlite|postgres|both]
           [--postgres-url URL] [--workers 2] [--out FILE]
For each database it starts its own server (a fresh SQLite file, or a fresh database created on the PostgreSQL
server), seeds a venue in the review phase where every reviewer is assigned one submission, then each reviewer
autosaves its growing draft through the API as the review page does (PUT …/review with the version the previous
save answered). At the end every stored draft must equal the last text its reviewer saved, and a single-tab writer
must never have been told of a conflict (409).
"""

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # not benchmarks/: its scripts must not shadow stdlib modules

from benchmarks.server import serve  # noqa: E402

SLUG = "autosave-bench"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SENTENCE = "The kernel timing in section {n} should be repeated with warm caches and more seeds. "


def seed(url: str, reviewers: int) -> list[tuple[str, int]]:
    """A venue in the review phase: group g submits #g+1, and its student reviews the next group's paper."""
    from sqlmodel import Session

    from app.db import make_engine
    from app.models import Assignment, Deadline, Group, Member, User, Venue
    from app.security.tokens import new_join_code
    from app.services.accounts import create_api_token
    from app.services.submissions import save_submission

    engine = make_engine(url)
    members, tokens, sub_ids = [], [], []
    with Session(engine) as s:
        venue = Venue(slug=SLUG, title="Autosave bench", phase="submission")
        s.add(venue)
        s.flush()
        s.add(Deadline(venue_id=venue.id, kind="submission", due_at=datetime.now(UTC) + timedelta(days=1)))
        for g in range(reviewers):
            group = Group(venue_id=venue.id, name=f"Team {g}", join_code=new_join_code())
            user = User(email=f"r{g}@uni.example", full_name=f"Reviewer {g}")
            s.add_all([group, user])
            s.flush()
            member = Member(venue_id=venue.id, user_id=user.id, group_id=group.id)
            s.add(member)
            s.flush()
            sub = save_submission(s, user, venue, member, title=f"Paper {g}", abstract="", keywords=[])
            members.append(member)
            sub_ids.append((sub.id, sub.number))
            tokens.append(create_api_token(s, user, "bench")[1])
        for g, member in enumerate(members):
            s.add(Assignment(venue_id=venue.id, submission_id=sub_ids[(g + 1) % reviewers][0], member_id=member.id,
                             origin="manual"))
        venue.phase = "review"
        s.add(venue)
        s.add(Deadline(venue_id=venue.id, kind="review", due_at=datetime.now(UTC) + timedelta(days=3)))
        s.commit()
    engine.dispose()
    return [(tokens[g], sub_ids[(g + 1) % reviewers][1]) for g in range(reviewers)]


def stored_drafts(url: str) -> dict[int, dict]:
    """Each submission number's stored working copy (answers), read straight from the database."""
    from sqlmodel import Session, select

    from app.db import make_engine
    from app.models import Review, Submission

    engine = make_engine(url)
    with Session(engine) as s:
        rows = s.exec(select(Submission.number, Review.answers)
                      .join(Review, Review.submission_id == Submission.id)).all()
    engine.dispose()
    return {number: answers for number, answers in rows}


class Reviewer:
    """One reviewer in one tab: grows the draft, saves it with the version the last save answered."""

    def __init__(self, token: str, number: int, rnd: random.Random) -> None:
        self.token, self.number, self.rnd = token, number, rnd
        self.version = 0
        self.summary = ""
        self.last_saved: dict | None = None
        self.latencies: list[float] = []
        self.conflicts = 0
        self.errors: list[str] = []

    def next_answers(self, n: int) -> dict:
        self.summary += SENTENCE.format(n=n)
        return {"summary": self.summary, "strengths": f"Clear figures (edit {n}).",
                "overall": self.rnd.randint(1, 10), "confidence": self.rnd.randint(1, 5)}

    async def run(self, client, interval: float, until: float) -> None:  # noqa: ANN001
        await asyncio.sleep(self.rnd.uniform(0, interval))  # reviewers do not type in lockstep
        n = 0
        url = f"/api/v1/venues/{SLUG}/submissions/{self.number}/review"
        headers = {"Authorization": f"Bearer {self.token}"}
        while time.monotonic() < until:
            n += 1
            answers = self.next_answers(n)
            started = time.monotonic()
            try:
                r = await client.put(url, headers=headers, json={"answers": answers, "version": self.version})
            except Exception as exc:  # noqa: BLE001  (a timeout or reset is a measured error, not a crash)
                self.errors.append(f"{type(exc).__name__}: {exc}")
            else:
                self.latencies.append(time.monotonic() - started)
                if r.status_code == 200:
                    self.version = r.json()["version"]
                    self.last_saved = answers
                elif r.status_code == 409:
                    self.conflicts += 1
                    self.version = r.json()["version"]
                else:
                    self.errors.append(f"{r.status_code} {r.text[:200]}")
            await asyncio.sleep(max(0.0, started + interval - time.monotonic()))


async def drive(base: str, targets: list[tuple[str, int]], interval: float, duration: float) -> list[Reviewer]:
    import httpx

    rnd = random.Random(7)
    reviewers = [Reviewer(token, number, random.Random(rnd.random())) for token, number in targets]
    limits = httpx.Limits(max_connections=len(reviewers), max_keepalive_connections=len(reviewers))
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        until = time.monotonic() + duration
        await asyncio.gather(*(r.run(client, interval, until) for r in reviewers))
    return reviewers


def _pct(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))]


def bench(db: str, args: argparse.Namespace) -> dict:
    """One database: fresh schema, server subprocess, the reviewers, then the lost-draft check."""
    from app.migrate import upgrade
    from tests.conftest import _fresh_database

    tmp = Path(tempfile.mkdtemp(prefix="rr-autosave-"))
    url, drop = _fresh_database(args.postgres_url if db == "postgres" else f"sqlite:///{tmp / 'bench.db'}")
    try:
        upgrade(url)
        targets = seed(url, args.reviewers)
        with serve(url, tmp / "data", workers=args.workers, log_path=tmp / "server.log") as base:
            t0 = time.perf_counter()
            reviewers = asyncio.run(drive(base, targets, args.interval_s, args.duration_s))
            wall = time.perf_counter() - t0
        stored = stored_drafts(url)
    finally:
        drop()
    latencies = sorted(x for r in reviewers for x in r.latencies)
    lost = [r.number for r in reviewers if r.last_saved is not None and stored.get(r.number) != r.last_saved]
    never_saved = [r.number for r in reviewers if r.last_saved is None]
    errors = [e for r in reviewers for e in r.errors]
    if errors:
        print(f"{db}: {len(errors)} failed saves; the server's log is {tmp / 'server.log'}", file=sys.stderr)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "db": db, "reviewers": args.reviewers, "interval_s": args.interval_s, "duration_s": args.duration_s,
        "server_workers": args.workers, "wall_s": round(wall, 1), "saves": len(latencies),
        "saves_per_s": round(len(latencies) / wall, 2) if wall else None,
        "p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(1000 * _pct(latencies, 0.95), 1) if latencies else None,
        "p99_ms": round(1000 * _pct(latencies, 0.99), 1) if latencies else None,
        "max_ms": round(1000 * latencies[-1], 1) if latencies else None,
        "errors": len(errors), "errors_sample": errors[:3], "conflicts": sum(r.conflicts for r in reviewers),
        "lost_drafts": len(lost) + len(never_saved), "lost_sample": (lost + never_saved)[:5],
        "draft_chars_at_end": max((len(r.summary) for r in reviewers), default=0),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration-s", type=float, default=300)
    p.add_argument("--reviewers", type=int, default=50)
    p.add_argument("--interval-s", type=float, default=5)
    p.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    p.add_argument("--postgres-url", default=os.environ.get("REPROREVIEW_TEST_DATABASE_URL") or POSTGRES_URL,
                   help="a PostgreSQL server database to create a fresh benchmark database on")
    p.add_argument("--workers", type=int, default=2, help="server processes (uvicorn --workers)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "autosave.json"))
    args = p.parse_args()
    if args.reviewers < 2:
        p.error("--reviewers must be at least 2 (each reviews another group's paper)")

    runs = []
    for db in (("sqlite", "postgres") if args.db == "both" else (args.db,)):
        result = bench(db, args)
        runs.append(result)
        print(f"{db:>8}: {result['saves']} saves in {result['wall_s']} s · latency p50 {result['p50_ms']} ms, "
              f"p95 {result['p95_ms']} ms, p99 {result['p99_ms']} ms, max {result['max_ms']} ms · "
              f"errors {result['errors']} · conflicts {result['conflicts']} · lost drafts {result['lost_drafts']}",
              flush=True)
    ok = all(r["lost_drafts"] == 0 and r["conflicts"] == 0 and r["errors"] == 0 for r in runs)
    out = {"goal": f"{args.reviewers} concurrent reviewers autosaving every {args.interval_s:g} s: p99 latency, "
                   "0 lost drafts, 0 conflicts for single-tab writers",
           "ok": ok, "runs": runs, "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
    print(json.dumps(out, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
