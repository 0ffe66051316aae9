"""300 concurrent uploads of 5 MB PDFs against `reproreview serve`: latency p50/p99 and lost uploads.

Usage: python benchmarks/uploads.py [--database-url URL] [--uploads 300] [--concurrency 300] [--out FILE]
Starts its own server (a fresh SQLite file unless --database-url names a PostgreSQL server database to
create a fresh database on), seeds a venue with groups and tokens directly in the database, fires the
uploads with httpx, then counts the revision rows and blobs.
"""

import argparse
import asyncio
import io
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # not benchmarks/: its scripts must not shadow stdlib modules

from benchmarks.server import serve  # noqa: E402


def make_pdf(target_bytes: int, seed: int) -> bytes:
    """A 10-page anonymous NeurIPS-like PDF padded to about target_bytes with an incompressible image."""
    import random

    from PIL import Image
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    rnd = random.Random(seed)
    side = int((target_bytes / 3) ** 0.5)
    img = Image.frombytes("RGB", (side, side), rnd.randbytes(side * side * 3))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=letter)
    for page in range(10):
        c.setFont("Times-Roman", 10)
        for i in range(50):
            c.drawString(108, 720 - i * 12, f"Benchmark paper {seed} page {page + 1} line {i}: measured latency.")
        if page == 2:
            c.drawImage(ImageReader(img), 108, 300, width=396, height=300)
        if page == 8:
            c.drawString(108, 100, "References")
        c.showPage()
    c.save()
    return buf.getvalue()


def seed(url: str, groups: int) -> tuple[str, list[tuple[str, int]]]:
    from sqlmodel import Session

    from app.db import make_engine
    from app.models import Deadline, Group, Member, User, Venue
    from app.security.tokens import new_join_code
    from app.services.accounts import create_api_token
    from app.services.submissions import save_submission

    engine = make_engine(url)
    out = []
    with Session(engine) as s:
        venue = Venue(slug="bench", title="Bench", phase="submission", page_limit=9)
        s.add(venue)
        s.flush()
        s.add(Deadline(venue_id=venue.id, kind="submission", due_at=datetime.now(UTC) + timedelta(days=1)))
        for g in range(groups):
            group = Group(venue_id=venue.id, name=f"G{g}", join_code=new_join_code())
            s.add(group)
            s.flush()
            user = User(email=f"b{g}@uni.example", full_name=f"Bench {g}")
            s.add(user)
            s.flush()
            member = Member(venue_id=venue.id, user_id=user.id, group_id=group.id)
            s.add(member)
            s.flush()
            sub = save_submission(s, user, venue, member, title=f"Bench paper {g}", abstract="", keywords=[])
            _t, token = create_api_token(s, user, "bench")
            out.append((token, sub.number))
        s.commit()
    engine.dispose()
    return "bench", out


def count_revisions(url: str) -> int:
    from sqlmodel import Session, func, select

    from app.db import make_engine
    from app.models import Revision

    engine = make_engine(url)
    with Session(engine) as s:
        n = s.exec(select(func.count()).select_from(Revision)).one()
    engine.dispose()
    return n


async def fire(base: str, slug: str, targets: list[tuple[str, int]], pdfs: list[bytes], uploads: int,
               concurrency: int) -> tuple[list[float], list[str]]:
    import httpx

    sem = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    failures: list[str] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as client:
        async def one(i: int) -> None:
            token, number = targets[i % len(targets)]
            async with sem:
                t0 = time.perf_counter()
                r = await client.post(f"/api/v1/venues/{slug}/submissions/{number}/revisions",
                                      headers={"Authorization": f"Bearer {token}"},
                                      files={"file": (f"p{i}.pdf", pdfs[i % len(pdfs)], "application/pdf")})
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 201:
                    failures.append(f"{r.status_code} {r.text[:200]}")
        await asyncio.gather(*(one(i) for i in range(uploads)))
    return latencies, failures


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--database-url", default=None)
    p.add_argument("--uploads", type=int, default=300)
    p.add_argument("--concurrency", type=int, default=300)
    p.add_argument("--size-mb", type=float, default=5.0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "uploads.json"))
    args = p.parse_args()

    from tests.conftest import _fresh_database
    from app.migrate import upgrade

    tmp = Path(tempfile.mkdtemp(prefix="rr-bench-"))
    base_url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    url, drop = _fresh_database(base_url)
    upgrade(url)
    slug, targets = seed(url, groups=30)
    pdfs = [make_pdf(int(args.size_mb * 1024 * 1024), s) for s in range(3)]
    with serve(url, tmp / "data", workers=args.workers, log_path=tmp / "server.log",
               extra_env={"REPROREVIEW_PDF_MAX_BYTES": str(50 * 1024 * 1024)}) as base:
        t0 = time.perf_counter()
        latencies, failures = asyncio.run(fire(base, slug, targets, pdfs, args.uploads, args.concurrency))
        wall = time.perf_counter() - t0
    stored = count_revisions(url)
    latencies.sort()
    result = {
        "backend": url.split(":")[0], "uploads": args.uploads, "concurrency": args.concurrency,
        "pdf_bytes": len(pdfs[0]), "server_workers": args.workers, "wall_s": round(wall, 2),
        "p50_s": round(statistics.median(latencies), 3),
        "p99_s": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 3),
        "max_s": round(latencies[-1], 3), "failed_requests": len(failures), "revisions_stored": stored,
        "lost": args.uploads - len(failures) - stored, "failures_sample": failures[:3],
        "goal": "300 uploads of 5 MB within 60 s, 0 lost",
    }
    drop()
    print(json.dumps(result, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
