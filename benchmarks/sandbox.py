"""Sandbox overhead: the same command bare, under prlimit only (--unsafe-no-sandbox), and in bwrap.

    python benchmarks/sandbox.py [--out FILE] [--runs N] [--quick]

Prints a table and writes JSON (default benchmarks/results/sandbox.json): median wall seconds per
mode and the sandbox's overhead over bare, for `true` (pure start-up cost), a Python start-up,
and a ~2 s numpy workload (does confinement slow real work down?).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runners.sandbox import SandboxLimits, bwrap_available, prepare_workdir, run_sandboxed  # noqa: E402

NUMPY_WORK = ("python -c \"import numpy as np, time\n"
              "a = np.random.default_rng(0).standard_normal((600, 600))\n"
              "t = time.perf_counter()\n"
              "while time.perf_counter() - t < 2.0: a = np.tanh(a @ a.T / 600)\n\"")
WORKLOADS = {
    "true": "true",
    "python-startup": "python -c pass",
    "numpy-2s": NUMPY_WORK,
}


def _time_bare(cmd: str, workdir: Path) -> float:
    t = time.perf_counter()
    subprocess.run(["/bin/sh", "-c", cmd], cwd=workdir, check=True, stdout=subprocess.DEVNULL,
                   env={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"})
    return time.perf_counter() - t


def _time_sandboxed(cmd: str, workdir: Path, sandbox: bool) -> float:
    t = time.perf_counter()
    res = run_sandboxed(cmd, workdir, SandboxLimits(wall_s=60), sandbox=sandbox)
    elapsed = time.perf_counter() - t
    if res.exit_code != 0:
        raise RuntimeError(f"{cmd!r} failed in mode sandbox={sandbox}: exit {res.exit_code}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sandbox.json"))
    parser.add_argument("--runs", type=int, default=None, help="runs per mode (default 21 for short, 5 for numpy)")
    parser.add_argument("--quick", action="store_true", help="3 runs each, for a smoke test")
    args = parser.parse_args(argv)

    modes = {"bare": lambda c, w: _time_bare(c, w), "prlimit-only": lambda c, w: _time_sandboxed(c, w, False)}
    if bwrap_available():
        modes["bwrap"] = lambda c, w: _time_sandboxed(c, w, True)
    else:
        print("bwrap is not available here: only bare and prlimit-only are measured", file=sys.stderr)

    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="rr-bench-") as tmp:
        workdir = Path(tmp) / "work"
        workdir.mkdir()
        prepare_workdir(workdir)
        Path(tmp).chmod(0o755)
        for name, cmd in WORKLOADS.items():
            runs = 3 if args.quick else args.runs or (5 if name == "numpy-2s" else 21)
            samples: dict[str, list[float]] = {m: [] for m in modes}
            for m, fn in modes.items():  # one warm-up each, not counted
                fn(cmd, workdir)
            for _ in range(runs):  # interleave modes so drift hits all alike
                for m, fn in modes.items():
                    samples[m].append(fn(cmd, workdir))
            med = {m: statistics.median(s) for m, s in samples.items()}
            entry = {"runs": runs, "median_s": med,
                     "min_s": {m: min(s) for m, s in samples.items()},
                     "overhead_s": {m: med[m] - med["bare"] for m in modes if m != "bare"},
                     "overhead_pct": {m: 100 * (med[m] - med["bare"]) / med["bare"] for m in modes if m != "bare"}}
            results[name] = entry

    report = {"benchmark": "sandbox", "python": platform.python_version(), "platform": platform.platform(),
              "cores": __import__("os").cpu_count(), "modes": list(modes), "workloads": results}
    print(f"{'workload':<16}" + "".join(f"{m:>14}" for m in modes) + "   overhead of bwrap")
    for name, e in results.items():
        row = f"{name:<16}" + "".join(f"{e['median_s'][m] * 1000:>12.1f}ms" for m in modes)
        if "bwrap" in e["overhead_s"]:
            row += f"   {e['overhead_s']['bwrap'] * 1000:+.1f} ms ({e['overhead_pct']['bwrap']:+.1f}%)"
        print(row)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
