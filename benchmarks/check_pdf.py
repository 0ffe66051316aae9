"""Time check_pdf on a generated 10-page NeurIPS-like report and on each shared corpus PDF.

Usage: python benchmarks/check_pdf.py [--runs 7] [--out FILE.json]
Prints the median wall and CPU time of several runs per PDF (total and per page) and writes them as
JSON (default benchmarks/results/check_pdf.json). CPU time is reported too because wall time on a
shared machine moves with its load. Goal: a 10-page report in at most 0.3 s.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.pdf import check_pdf  # noqa: E402
from tests.unit.pdf_factory import Paper, make_paper  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
GOAL_S = 0.3


def time_one(name: str, data: bytes, runs: int) -> dict:
    check_pdf(data)  # warm: imports and first-use caches are not what an upload pays each time
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        report = check_pdf(data)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    pages = max(report.pages_total, 1)
    wall_ms, cpu_ms = statistics.median(walls) * 1000, statistics.median(cpus) * 1000
    return {"pdf": name, "bytes": len(data), "pages": report.pages_total, "runs": runs,
            "wall_ms": round(wall_ms, 1), "wall_ms_per_page": round(wall_ms / pages, 1),
            "cpu_ms": round(cpu_ms, 1), "cpu_ms_per_page": round(cpu_ms / pages, 1),
            "errors": sorted(report.errors)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "check_pdf.json"))
    args = parser.parse_args()

    pdfs = [("generated-10-pages", make_paper(Paper(content_pages=9)))]  # 9 content pages + references
    if CORPUS.is_dir():
        pdfs += [(path.name, path.read_bytes()) for path in sorted(CORPUS.glob("*.pdf"))]
    else:
        print(f"(no corpus at {CORPUS}: timing the generated report only)")
    rows = [time_one(name, data, args.runs) for name, data in pdfs]

    print(f"{'pdf':<42} {'pages':>5} {'wall ms':>8} {'ms/page':>8} {'cpu ms':>8} {'cpu/page':>8}")
    for row in rows:
        print(f"{row['pdf']:<42} {row['pages']:>5} {row['wall_ms']:>8.1f} {row['wall_ms_per_page']:>8.1f} "
              f"{row['cpu_ms']:>8.1f} {row['cpu_ms_per_page']:>8.1f}")
    generated = rows[0]
    meets = generated["wall_ms"] <= GOAL_S * 1000
    print(f"generated 10-page report: {generated['wall_ms']:.0f} ms wall "
          f"({'meets' if meets else 'misses'} the {GOAL_S * 1000:.0f} ms goal)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    result = {"benchmark": "check_pdf", "goal_ms_10_pages": GOAL_S * 1000, "meets_goal": meets,
              "python": platform.python_version(), "cpus": os.cpu_count(), "load_average_1m": load,
              "results": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
