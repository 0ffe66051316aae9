"""Run queue: enqueue → start latency with warm workers, and 100 queued small runs drained by 2 workers.

Usage: python benchmarks/run_queue.py [--redis URL] [--database-url URL] [--runs 100] [--workers 2] [--latency-samples 20]
       [--out FILE]
Starts its own API server (uvicorn in a thread, a fresh SQLite file unless --database-url names a PostgreSQL
server to create a fresh database on), seeds one submission with a tiny artifact (reproduce.toml + a script
writing metrics.json) and a rig token, and starts `python -m runners.worker` processes (arq, poll_delay 0.05).
Latency = the run's `started_at` (set by the claim) minus the moment enqueue_run was called after the commit.
Every artifact runs for real inside the sandbox. Runs are inserted directly (the API caps pending runs
per submission at 3). Prints the figures and writes them as JSON.
"""

import sys
from pathlib import Path

# Drop benchmarks/ from the path so no script here can shadow a standard module.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.live import free_port  # noqa: E402

MANIFEST = """\
[artifact]
rig = "local"
timeout = "1m"

[[experiment]]
id = "E1"
command = "python3 run.py"
metrics = "metrics.json"
timeout = "30s"

[[claim]]
id = "C1"
text = "accuracy at least 0.9"
experiment = "E1"
metric = "accuracy"
value = 0.9
direction = "at_least"
tolerance = "1%"
"""
SCRIPT = 'import json\njson.dump({"accuracy": 0.93}, open("metrics.json", "w"))\n'


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("reproduce.toml", MANIFEST)
        z.writestr("run.py", SCRIPT)
    return buf.getvalue()


def main() -> int:  # noqa: PLR0915
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--redis", default=os.environ.get("REPROREVIEW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    p.add_argument("--database-url", default=None)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--latency-samples", type=int, default=20)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "queue.json"))
    args = p.parse_args()

    import redis
    import uvicorn
    from sqlmodel import Session, select

    from app.db import make_engine
    from app.jobs.runs import enqueue_run, queue_name
    from app.main import create_app
    from app.migrate import upgrade
    from app.models import Artifact
    from app.models.run import FINISHED, Run
    from app.services import runs as run_service
    from app.services import submissions as submission_service
    from app.settings import Settings
    from tests import factories
    from tests.conftest import _fresh_database

    tmp = Path(tempfile.mkdtemp(prefix="rr-bench-queue-"))
    print(f"working in {tmp}", file=sys.stderr)
    url, drop = _fresh_database(args.database_url or f"sqlite:///{tmp / 'bench.db'}")
    upgrade(url)
    port = free_port()
    settings = Settings(data_dir=tmp / "data", database_url=url, secret_key="bench", redis_url=args.redis,
                        base_url=f"http://127.0.0.1:{port}", _env_file=None)
    engine = make_engine(url)
    r = redis.Redis.from_url(args.redis)
    for key in r.scan_iter("reproreview:local*"):
        r.delete(key)
    with Session(engine, expire_on_commit=False) as db:
        make = factories.Factory(db)
        venue = make.venue(phase="submission")
        cast = make.cast(venue)
        sub = submission_service.save_submission(db, cast["student"], venue, cast["members"]["student"],
                                                 title="Queue benchmark", abstract="", keywords="")
        art = submission_service.artifact_from_archive(db, settings, cast["student"], venue, sub, _zip(), "a.zip")
        _, token = run_service.create_rig(db, None, name="bench", kind="local")
        db.commit()
        sub_id, venue_id, art_id, student_id = sub.id, venue.id, art.id, cast["student"].id
        assert db.get(Artifact, art_id).manifest_ok

    server = uvicorn.Server(uvicorn.Config(create_app(settings, engine=engine), host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)

    def new_runs(n: int) -> list[int]:
        with Session(engine, expire_on_commit=False) as db:
            runs = [Run(venue_id=venue_id, submission_id=sub_id, artifact_id=art_id, rig_kind="local",
                        requested_by=student_id) for _ in range(n)]
            db.add_all(runs)
            db.commit()
            return [x.id for x in runs]

    def wait_all(ids: list[int], timeout_s: float) -> list[Run]:
        deadline = time.time() + timeout_s
        while True:
            with Session(engine) as db:
                rows = db.exec(select(Run).where(Run.id.in_(ids))).all()
            if all(x.status in FINISHED for x in rows) or time.time() > deadline:
                return rows
            time.sleep(0.1)

    workers = [subprocess.Popen([sys.executable, "-m", "runners.worker", "--rig-kind", "local", "--api",
                                 f"http://127.0.0.1:{port}", "--token", token, "--redis", args.redis],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(tmp / f"worker-{i}.log", "w"))
               for i in range(args.workers)]
    try:
        # Warm up: each worker takes a run (imports, sandbox caches), then latency one run at a time.
        warm = new_runs(args.workers)
        for rid in warm:
            enqueue_run(settings, rid, "local")
        wait_all(warm, 60)
        latencies = []
        for rid in new_runs(args.latency_samples):
            t0 = datetime.now(UTC)
            enqueue_run(settings, rid, "local")
            row = wait_all([rid], 60)[0]
            latencies.append((row.started_at - t0).total_seconds())
        latencies.sort()

        ids = new_runs(args.runs)
        t0 = time.perf_counter()
        for rid in ids:
            enqueue_run(settings, rid, "local")
        enqueue_s = time.perf_counter() - t0
        rows = wait_all(ids, 600)
        drain_s = time.perf_counter() - t0
        statuses: dict[str, int] = {}
        for x in rows:
            statuses[x.status] = statuses.get(x.status, 0) + 1
        lost = sum(1 for x in rows if x.status not in FINISHED)
        double = sum(1 for x in rows if x.attempts != 1)
        left_on_queue = r.zcard(queue_name("local"))
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            try:
                w.wait(20)
            except subprocess.TimeoutExpired:
                w.kill()
        server.should_exit = True
        time.sleep(0.3)
        engine.dispose()
        drop()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))]

    result = {
        "database": url.split(":")[0], "workers": args.workers, "poll_delay_s": 0.05,
        "latency_samples": len(latencies),
        "enqueue_to_start_s": {"p50": round(statistics.median(latencies), 4), "p90": round(pct(0.9), 4),
                               "max": round(latencies[-1], 4), "goal": 0.2},
        "drain": {"runs": args.runs, "enqueue_s": round(enqueue_s, 3), "drain_s": round(drain_s, 2),
                  "runs_per_s": round(args.runs / drain_s, 2), "statuses": statuses, "lost": lost,
                  "claimed_more_than_once": double, "left_on_queue": left_on_queue},
        "ok": pct(0.5) <= 0.2 and lost == 0 and statuses.get("passed", 0) == args.runs,
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
