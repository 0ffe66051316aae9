"""``reproreview reproduce DIR``: run an artifact checkout through the rig code and sandbox, no server, no database."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from app.artifacts.manifest import RIGS, ManifestError, load_manifest

__all__ = ["reproduce", "main"]


JSON_EPILOG = """\
--json prints one object (DESIGN.md):
  {"status": "passed"|"failed"|"timed_out"|"error", "reason": str|null,
   "metrics": {EXPERIMENT_ID: {METRIC: number, ...}, ...},
   "checks": [{"claim": "C1", "metric": str, "claimed": float, "measured": float|null, "passed": bool}],
   "badges": ["available"|"functional"|"reproduced", ...], "duration_s": float}
"metrics" is keyed by experiment id, then metric name (two claims may name the same metric of
different experiments); an experiment that failed or did not run is absent.
Exit 0 when the run completed (whatever it found), 2 on a bad manifest or directory
(with --json the object then also has "errors": [{"line": int|null, "message": str}])."""


def reproduce(directory: str | Path, rig: str | None = None, *, sandbox: bool = True,
              on_log: Callable[[str], None] = print, cancel: threading.Event | None = None, **run_options) -> dict:
    """Run the artifact at ``directory``; returns DESIGN.md's JSON object. Raises ManifestError.

    Setting ``cancel`` (a rig learning the run was cancelled) kills the running command's process
    tree and starts nothing more; the status is then "cancelled"."""
    from runners.rigs.local import run_artifact_dir

    start = time.monotonic()
    directory = Path(directory)
    manifest = load_manifest(directory)
    if rig is not None and rig not in RIGS:
        return _error(f"unknown rig {rig!r}: one of {', '.join(RIGS)}", start)
    outcome = run_artifact_dir(directory, manifest, on_log=on_log, sandbox=sandbox, rig=rig, cancel=cancel,
                               **run_options)
    return outcome.as_json()


def _error(reason: str, start: float) -> dict:
    return {"status": "error", "reason": reason, "metrics": {}, "checks": [], "badges": [],
            "duration_s": round(time.monotonic() - start, 3)}


def _print_summary(result: dict) -> None:
    print(f"status: {result['status']}" + (f" ({result['reason']})" if result["reason"] else ""))
    for exp, metrics in result["metrics"].items():
        print(f"  {exp}: " + ", ".join(f"{k}={v:g}" for k, v in metrics.items()))
    for c in result["checks"]:
        measured = "not measured" if c["measured"] is None else f"{c['measured']:g}"
        print(f"  {'PASS' if c['passed'] else 'FAIL'} {c['claim']}: {c['metric']} claimed {c['claimed']:g}, "
              f"measured {measured}")
    print(f"badges: {', '.join(result['badges']) or 'none'}; {result['duration_s']:.1f} s")


def main(argv: list[str] | None = None) -> int:
    """CLI: exit 0 when the run completed (whatever it found), 2 on a bad manifest or directory."""
    parser = argparse.ArgumentParser(prog="reproreview reproduce",
                                     description="Run an artifact's reproduce.toml the way the rigs do.",
                                     epilog=JSON_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", help="artifact checkout with reproduce.toml at its root")
    parser.add_argument("--rig", choices=RIGS, help="override [artifact] rig")
    parser.add_argument("--json", action="store_true", help="print one JSON object (logs go to stderr)")
    parser.add_argument("--unsafe-no-sandbox", action="store_true",
                        help="run without bubblewrap (only time, output and rlimits are bounded)")
    args = parser.parse_args(argv)

    directory = Path(args.directory)
    if not directory.is_dir():
        print(f"reproreview reproduce: {directory} is not a directory", file=sys.stderr)
        return 2
    log_stream = sys.stderr if args.json else sys.stdout

    def on_log(line: str) -> None:
        print(line, file=log_stream, flush=True)

    try:
        result = reproduce(directory, args.rig, sandbox=not args.unsafe_no_sandbox, on_log=on_log)
    except ManifestError as exc:
        if args.json:
            bad = _error(f"bad reproduce.toml ({len(exc.errors)} problem(s))", time.monotonic())
            bad["errors"] = [{"line": i.line, "message": i.message} for i in exc.errors]
            print(json.dumps(bad))
        print(str(exc), file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    else:
        _print_summary(result)
    return 0
