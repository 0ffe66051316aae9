"""The lecturers' marks pages for a 300-student venue, served by `reproreview serve` (goal: marks page <= 300 ms).

Usage: python benchmarks/marks_page.py [--students 300] [--requests 20] [--db sqlite|postgres|both]
           [--postgres-url URL] [--out FILE]

Seeds a venue in the moderation phase: groups of three, one submission each, every student has written three
submitted reviews (of other groups' papers, scores on every score field of the default review form) and every
review has a lecturer's quality mark, so every student has every mark and the calibration runs on all of it.
Then, signed in as the chair over HTTP, it times each page and API route (first request apart, then the median
and p95 of the rest) and the in-process `compute_marks` that they all call.
"""

from __future__ import annotations

import argparse
import json
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

SLUG = "marks-bench"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CHAIR, PASSWORD = "chair@marks.example", "marks-bench-password"
ROUTES = ["/venues/{slug}/marks", "/venues/{slug}/moderation", "/venues/{slug}/review-marks",
          "/api/v1/venues/{slug}/marks", "/api/v1/venues/{slug}/moderation"]


def seed(url: str, students: int) -> None:
    from sqlmodel import Session

    from app.db import make_engine
    from app.models import Deadline, Group, Member, Review, ReviewAssessment, Role, Submission, User, Venue
    from app.security.passwords import hash_password
    from app.security.tokens import new_join_code
    from app.services.review_forms import default_fields

    rng = random.Random(300)
    fields = default_fields()
    engine = make_engine(url)
    now = datetime.now(UTC)
    with Session(engine) as s:
        venue = Venue(slug=SLUG, title="Marks bench", phase="moderation")
        chair = User(email=CHAIR, full_name="Chair Person", password_hash=hash_password(PASSWORD))
        s.add_all([venue, chair])
        s.flush()
        s.add(Member(venue_id=venue.id, user_id=chair.id, role=Role.chair.value))
        for kind, days in (("submission", -30), ("review", -10)):
            s.add(Deadline(venue_id=venue.id, kind=kind, due_at=now + timedelta(days=days)))
        n_groups = students // 3
        members: list[list[Member]] = []
        subs: list[Submission] = []
        quality = [rng.uniform(3, 9) for _ in range(n_groups)]
        for g in range(n_groups):
            group = Group(venue_id=venue.id, name=f"Team {g}", join_code=new_join_code())
            s.add(group)
            s.flush()
            people = []
            for k in range(3):
                user = User(email=f"s{g}-{k}@marks.example", full_name=f"Student {g}-{k}", student_id=f"{g:03d}{k}")
                s.add(user)
                s.flush()
                member = Member(venue_id=venue.id, user_id=user.id, role=Role.student.value, group_id=group.id)
                s.add(member)
                people.append(member)
            sub = Submission(venue_id=venue.id, group_id=group.id, number=g + 1, title=f"Paper {g}", abstract="",
                             keywords=[])
            s.add(sub)
            subs.append(sub)
            members.append(people)
        s.flush()
        bias = {}
        for g, people in enumerate(members):
            for k, member in enumerate(people):
                b = bias.setdefault(member.id, rng.gauss(0, 1))
                for step in (1, 2, 3):
                    target = (g + step + k * 3) % n_groups
                    if target == g:
                        target = (target + 1) % n_groups
                    answers = {}
                    for f in fields:
                        if f["type"] == "score":
                            values = [p[0] for p in f["scale"]]
                            mid = quality[target] / 10 * (max(values) - min(values)) + min(values)
                            answers[f["id"]] = int(min(max(values), max(min(values), round(mid + b + rng.gauss(0, 1)))))
                        elif f["type"] == "text":
                            answers[f["id"]] = (f"Section {rng.randint(1, 6)} reports {rng.randint(10, 99)} % in "
                                                f"Table {rng.randint(1, 3)}; the code in train.py line {rng.randint(5, 300)} "
                                                "should fix its seed.")
                    review = Review(venue_id=venue.id, submission_id=subs[target].id, member_id=member.id,
                                    status="submitted", answers=answers, published=answers, published_version=1,
                                    submitted_at=now - timedelta(days=12))
                    s.add(review)
                    s.flush()
                    s.add(ReviewAssessment(venue_id=venue.id, review_id=review.id, mark=float(rng.randint(50, 90)),
                                           confirmed_by=chair.id))
        s.commit()
    engine.dispose()


def compute_time(url: str) -> float:
    from sqlmodel import Session, select

    from app.db import make_engine
    from app.models import Venue
    from app.services import moderation

    engine = make_engine(url)
    with Session(engine) as s:
        venue = s.exec(select(Venue).where(Venue.slug == SLUG)).one()
        moderation.compute_marks(s, venue)
        times = []
        for _ in range(5):
            t = time.perf_counter()
            marks = moderation.compute_marks(s, venue)
            times.append(time.perf_counter() - t)
        assert all(st.total is not None for st in marks.students), "every student should have a total"
    engine.dispose()
    return min(times)


def bench(db: str, args: argparse.Namespace) -> dict:
    import httpx

    tmp = Path(tempfile.mkdtemp(prefix=f"marks-bench-{db}-"))
    try:
        if db == "sqlite":
            url = f"sqlite:///{tmp / 'bench.db'}"
        else:
            import sqlalchemy

            name = f"marks_bench_{int(time.time())}"
            admin = sqlalchemy.create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.exec_driver_sql(f'CREATE DATABASE "{name}"')
            admin.dispose()
            url = args.postgres_url.rsplit("/", 1)[0] + f"/{name}"
        from app.migrate import upgrade

        upgrade(url)
        t = time.perf_counter()
        seed(url, args.students)
        seeded = time.perf_counter() - t
        compute = compute_time(url)
        out = {"students": args.students, "seed_s": round(seeded, 1), "compute_marks_ms": round(compute * 1000, 1)}
        with serve(url, tmp / "data", workers=1, log_path=tmp / "server.log", ready_s=180) as base:
            with httpx.Client(base_url=base, timeout=60) as client:
                r = client.post("/api/v1/session", json={"email": CHAIR, "password": PASSWORD})
                r.raise_for_status()
                for route in ROUTES:
                    path = route.format(slug=SLUG)
                    times = []
                    for _ in range(args.requests + 1):
                        t = time.perf_counter()
                        resp = client.get(path)
                        times.append(time.perf_counter() - t)
                        if resp.status_code != 200:
                            raise SystemExit(f"{path}: {resp.status_code} {resp.text[:200]}")
                    rest = sorted(times[1:])
                    out[path.replace(SLUG, "{slug}")] = {
                        "first_ms": round(times[0] * 1000, 1), "median_ms": round(statistics.median(rest) * 1000, 1),
                        "p95_ms": round(rest[int(0.95 * (len(rest) - 1))] * 1000, 1), "bytes": len(resp.content)}
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--students", type=int, default=300)
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    ap.add_argument("--postgres-url", default=POSTGRES_URL)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "marks_page.json"))
    args = ap.parse_args()
    results = {}
    for db in (["sqlite", "postgres"] if args.db == "both" else [args.db]):
        results[db] = bench(db, args)
        print(db, json.dumps(results[db], indent=2), flush=True)
        page = results[db]["/venues/{slug}/marks"]["median_ms"]
        print(f"{db}: marks page median {page} ms (goal <= 300 ms: {'met' if page <= 300 else 'NOT met'})")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
