"""What every rig shares: the run's outcome, copying an artifact, reading metrics, judging a run."""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from app.artifacts.badges import award_badges
from app.artifacts.checks import Check, check_claim
from app.artifacts.manifest import Manifest

__all__ = ["RUN_STATUSES", "ExperimentOutcome", "RunOutcome", "copy_artifact", "read_metrics", "judge_run",
           "MetricsError", "Log", "MAX_METRICS_BYTES"]

RUN_STATUSES = ("passed", "failed", "timed_out", "error", "cancelled")
MAX_METRICS_BYTES = 1024 * 1024
Log = Callable[[str], None]


@dataclass
class ExperimentOutcome:
    id: str
    status: str                       # "ok" | "failed" | "timed_out" | "skipped"
    reason: str | None = None
    exit_code: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    duration_s: float = 0.0
    output_truncated: bool = False


@dataclass
class RunOutcome:
    status: str                       # one of RUN_STATUSES ("cancelled" only when the caller cancelled it)
    reason: str | None
    metrics: dict[str, dict[str, float]]   # experiment id -> metric name -> value
    checks: list[Check]
    badges: list[str]
    duration_s: float
    experiments: list[ExperimentOutcome] = field(default_factory=list)

    def as_json(self) -> dict:
        """DESIGN.md's ``reproreview reproduce --json`` object."""
        return {"status": self.status, "reason": self.reason, "metrics": self.metrics,
                "checks": [c.as_json() for c in self.checks], "badges": list(self.badges),
                "duration_s": round(self.duration_s, 3)}


class MetricsError(ValueError):
    """A metrics file that is missing or is not a JSON object of name -> number."""


def copy_artifact(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Copy the artifact into a private directory; symlinks stay links (never followed on the host)."""
    dst = Path(dst)
    shutil.copytree(src, dst, symlinks=True, ignore=shutil.ignore_patterns(".git", "__pycache__"))
    return dst


def _inside(root: Path, rel: str) -> Path:
    path = (root / rel).resolve()
    if not path.is_relative_to(root.resolve()):
        raise MetricsError(f"metrics path {rel!r} points outside the artifact")
    return path


def read_metrics(artifact_root: str | os.PathLike, rel: str) -> dict[str, float]:
    """The experiment's metrics file: a JSON object of name -> finite number (bools are not numbers)."""
    root = Path(artifact_root)
    path = _inside(root, rel)  # resolves symlinks: a link to /etc/shadow is refused, not read as root
    if not path.is_file():
        raise MetricsError(f"the experiment did not write its metrics file {rel}")
    if path.stat().st_size > MAX_METRICS_BYTES:
        raise MetricsError(f"metrics file {rel} is larger than {MAX_METRICS_BYTES} bytes")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MetricsError(f"metrics file {rel} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MetricsError(f"metrics file {rel} must hold a JSON object of name -> number")
    out: dict[str, float] = {}
    bad = []
    for name, value in data.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            bad.append(name)
        else:
            out[str(name)] = float(value)
    if bad:
        raise MetricsError(f"metrics file {rel}: not finite numbers: {', '.join(map(str, bad[:5]))}")
    return out


def judge_run(manifest: Manifest, experiments: list[ExperimentOutcome], *, setup_failure: tuple[str, str] | None,
              duration_s: float, snapshot_stored: bool = True) -> RunOutcome:
    """Checks per claim, badges, and the run's status and reason from what happened."""
    # every experiment that ran to completion is listed, even one whose metrics file is an empty object
    metrics = {e.id: dict(e.metrics) for e in experiments if e.status == "ok" or e.metrics}
    checks = []
    for claim in manifest.claims:
        checks.append(check_claim(claim, metrics.get(claim.experiment, {}).get(claim.metric)))
    functional = setup_failure is None and bool(experiments) and all(e.status == "ok" for e in experiments)
    badges = award_badges(snapshot_stored=snapshot_stored, experiments_functional=functional, checks=checks)
    if setup_failure is not None:
        status, reason = setup_failure
    elif timed := [e for e in experiments if e.status == "timed_out"]:
        status, reason = "timed_out", f"experiment {timed[0].id}: {timed[0].reason}"
    elif failed := [e for e in experiments if e.status != "ok"]:
        status, reason = "failed", f"experiment {failed[0].id}: {failed[0].reason}"
    elif bad := [c for c in checks if not c.passed]:
        status = "failed"
        reason = "; ".join(f"claim {c.claim}: {c.reason}" for c in bad)
    else:
        status, reason = "passed", None
    return RunOutcome(status=status, reason=reason, metrics=metrics, checks=checks, badges=badges,
                      duration_s=duration_s, experiments=experiments)
