"""The local rig: copy an artifact to a private workdir, run setup and experiments in the sandbox, judge.

The notebook and GPU rigs are this same pipeline (an experiment with ``notebook`` runs through
nbclient; ``gpu`` passes /dev/nvidia* through); the MCU rig hands the measuring to
``runners.rigs.mcu.run_mcu`` and runs its build step in the sandbox.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from app.artifacts.manifest import Manifest
from runners.rigs.base import ExperimentOutcome, Log, MetricsError, RunOutcome, copy_artifact, judge_run, read_metrics
from runners.sandbox import (SandboxLimits, SandboxResult, SandboxUnavailable, describe_exit, gpu_device_paths,
                             prepare_workdir, run_sandboxed)

__all__ = ["run_artifact_dir", "DEFAULT_LIMITS"]

DEFAULT_LIMITS = SandboxLimits()
CANCELLED = "cancelled while running"


def _error(reason: str, start: float, snapshot_stored: bool) -> RunOutcome:
    badges = ["available"] if snapshot_stored else []
    return RunOutcome(status="error", reason=reason, metrics={}, checks=[], badges=badges,
                      duration_s=time.monotonic() - start)


def _cancelled(start: float, snapshot_stored: bool, experiments: list[ExperimentOutcome] | None = None,
               on_log: Log | None = None) -> RunOutcome:
    """The run was cancelled: what had run is kept, nothing is judged."""
    if on_log is not None:
        on_log("==> run cancelled: the running command's process tree was killed, nothing more is started")
    return RunOutcome(status="cancelled", reason=CANCELLED, metrics={}, checks=[],
                      badges=["available"] if snapshot_stored else [], duration_s=time.monotonic() - start,
                      experiments=list(experiments or []))


def run_artifact_dir(
    artifact_dir: str | os.PathLike,
    manifest: Manifest,
    *,
    workdir: str | os.PathLike | None = None,
    on_log: Log = print,
    limits: SandboxLimits = DEFAULT_LIMITS,
    sandbox: bool = True,
    rig: str | None = None,
    snapshot_stored: bool = True,
    gpu_devices: tuple[int, ...] | None = None,
    keep_workdir: bool = False,
    cancel: threading.Event | None = None,
) -> RunOutcome:
    """Run one artifact end to end and judge it; never raises for anything the artifact does.

    ``workdir`` is a directory for this run (a temporary one by default, removed afterwards);
    the artifact is copied to ``workdir/artifact``, the only place its commands may write.
    ``limits.wall_s`` is replaced per step by the experiment's timeout and what is left of
    ``[artifact] timeout``. ``rig`` overrides the manifest's. Setting ``cancel`` kills the running
    command's whole process tree (within ~0.1 s) and starts nothing more; the outcome is "cancelled".
    """
    start = time.monotonic()
    rig = rig or manifest.artifact.rig
    deadline = start + manifest.artifact.timeout_s
    own_workdir = workdir is None
    base = Path(tempfile.mkdtemp(prefix="reproreview-run-")) if own_workdir else Path(workdir)
    try:
        if rig == "gpu":
            wanted = max(1, max((e.gpus for e in manifest.experiments), default=1))
            gpu_devices = tuple(range(wanted)) if gpu_devices is None else gpu_devices
            if not gpu_device_paths(gpu_devices) or not os.path.exists("/dev/nvidia0"):
                return _error("rig 'gpu': no NVIDIA GPU on this machine (/dev/nvidia0 is missing)", start,
                              snapshot_stored)
            # CUDA reserves huge virtual address ranges: RLIMIT_AS would break it
            limits = limits.replace(memory_bytes=None)
        elif rig == "mcu" and manifest.mcu is None:
            return _error("rig 'mcu' needs an [mcu] table in reproduce.toml", start, snapshot_stored)
        base.mkdir(parents=True, exist_ok=True)
        art = copy_artifact(artifact_dir, base / "artifact")
        prepare_workdir(base / "artifact")
        os.chmod(base, 0o755)
        return _run(art, manifest, rig=rig, start=start, deadline=deadline, on_log=on_log, limits=limits,
                    sandbox=sandbox, snapshot_stored=snapshot_stored, gpu_devices=tuple(gpu_devices or ()),
                    cancel=cancel or threading.Event())
    except SandboxUnavailable as exc:
        return _error(str(exc), start, snapshot_stored)
    except OSError as exc:  # copying the artifact or preparing the workdir
        return _error(f"could not prepare the run's workdir: {exc}", start, snapshot_stored)
    finally:
        if own_workdir and not keep_workdir:
            shutil.rmtree(base, ignore_errors=True)


def _run(art: Path, manifest: Manifest, *, rig: str, start: float, deadline: float, on_log: Log,
         limits: SandboxLimits, sandbox: bool, snapshot_stored: bool, gpu_devices: tuple[int, ...],
         cancel: threading.Event) -> RunOutcome:
    def remaining() -> float:
        return deadline - time.monotonic()

    def run(command, wall_s: float, *, network: bool = False) -> SandboxResult:
        return run_sandboxed(command, art, limits.replace(wall_s=max(0.1, wall_s)), network=network,
                             on_output=on_log, gpu_devices=gpu_devices, sandbox=sandbox, cancel=cancel)

    if not sandbox:
        on_log("[warning: running WITHOUT the sandbox (--unsafe-no-sandbox): only time, output and rlimits "
               "are bounded]")
    setup_failure = None
    for n, command in enumerate(manifest.setup.commands, start=1):
        if cancel.is_set():
            return _cancelled(start, snapshot_stored, on_log=on_log)
        on_log(f"==> setup {n}/{len(manifest.setup.commands)}"
               f"{' (network on)' if manifest.setup.network else ''}: {command}")
        res = run(command, remaining(), network=manifest.setup.network)
        if res.killed_reason == "cancelled":
            return _cancelled(start, snapshot_stored, on_log=on_log)
        if res.timed_out:
            setup_failure = ("timed_out", f"setup command {n} ({command}): {describe_exit(res)} "
                                          f"(artifact timeout {manifest.artifact.timeout_s:g} s)")
        elif res.exit_code != 0:
            setup_failure = ("failed", f"setup command {n} ({command}) failed: {describe_exit(res)}")
        if setup_failure:
            return judge_run(manifest, [], setup_failure=setup_failure, duration_s=time.monotonic() - start,
                             snapshot_stored=snapshot_stored)

    if cancel.is_set():
        return _cancelled(start, snapshot_stored, on_log=on_log)
    if rig == "mcu":
        experiments = _run_mcu(art, manifest, on_log=on_log, remaining=remaining, run=run, cancel=cancel)
        if cancel.is_set():
            return _cancelled(start, snapshot_stored, on_log=on_log)
    else:
        experiments = []
        for exp in manifest.experiments:
            if cancel.is_set():
                return _cancelled(start, snapshot_stored, experiments, on_log=on_log)
            left = remaining()
            if left <= 0:
                experiments.append(ExperimentOutcome(exp.id, "timed_out", reason="not started: the artifact's "
                                                     f"timeout of {manifest.artifact.timeout_s:g} s was used up"))
                continue
            wall = min(left, exp.timeout_s) if exp.timeout_s else left
            what = f"notebook {exp.notebook}" if exp.notebook else exp.command
            on_log(f"==> experiment {exp.id}: {what}")
            _remove_stale(art, exp.metrics)
            if exp.notebook:
                from runners.rigs.notebook import notebook_command
                command = notebook_command(art, exp, timeout_s=wall)
            else:
                command = exp.command
            res = run(command, wall)
            if res.killed_reason == "cancelled":
                return _cancelled(start, snapshot_stored, experiments, on_log=on_log)
            outcome = ExperimentOutcome(exp.id, "ok", exit_code=res.exit_code, duration_s=res.duration_s,
                                        output_truncated=res.output_truncated)
            if res.timed_out:
                outcome.status = "timed_out"
                limit = "its timeout" if exp.timeout_s and exp.timeout_s <= left else "the artifact's timeout"
                outcome.reason = f"{describe_exit(res)} ({limit})"
            elif res.exit_code != 0:
                outcome.status, outcome.reason = "failed", describe_exit(res)
            else:
                try:
                    outcome.metrics = read_metrics(art, exp.metrics)
                except MetricsError as exc:
                    outcome.status, outcome.reason = "failed", str(exc)
            on_log(f"==> experiment {exp.id}: {outcome.status}"
                   + (f" ({outcome.reason})" if outcome.reason else "")
                   + (f" metrics {outcome.metrics}" if outcome.metrics else ""))
            experiments.append(outcome)
    if cancel.is_set():
        return _cancelled(start, snapshot_stored, experiments, on_log=on_log)
    result = judge_run(manifest, experiments, setup_failure=None, duration_s=time.monotonic() - start,
                       snapshot_stored=snapshot_stored)
    on_log(f"==> run {result.status}" + (f": {result.reason}" if result.reason else ""))
    return result


def _remove_stale(art: Path, rel: str) -> None:
    """A metrics file shipped with the artifact must not count as measured."""
    path = art / rel
    if path.is_symlink() or path.is_file():
        path.unlink()


def _run_mcu(art: Path, manifest: Manifest, *, on_log: Log, remaining, run,
             cancel: threading.Event | None = None) -> list[ExperimentOutcome]:
    """Build in the sandbox, measure with the MCU rig; its metrics stand for every experiment."""
    t0 = time.monotonic()
    ids = [e.id for e in manifest.experiments]
    try:
        from runners.rigs.mcu import run_mcu
    except ImportError as exc:
        return [ExperimentOutcome(i, "failed", reason=f"the mcu rig is not available here: {exc}") for i in ids]

    def run_build(cmd, cwd, timeout_s: float) -> None:
        res = run(cmd, min(timeout_s, remaining()))
        if res.timed_out:
            raise TimeoutError(f"build: {describe_exit(res)}")
        if res.exit_code != 0:
            raise RuntimeError(f"build failed: {describe_exit(res)}")

    try:
        metrics = run_mcu(art, manifest.mcu, on_log=on_log, timeout_s=max(1.0, remaining()), run_build=run_build,
                          cancel=cancel)
    except TimeoutError as exc:
        return [ExperimentOutcome(i, "timed_out", reason=str(exc), duration_s=time.monotonic() - t0) for i in ids]
    except Exception as exc:  # noqa: BLE001 - the artifact's fault or the bench's, reported either way
        return [ExperimentOutcome(i, "failed", reason=f"{type(exc).__name__}: {exc}",
                                  duration_s=time.monotonic() - t0) for i in ids]
    clean = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return [ExperimentOutcome(i, "ok", exit_code=0, metrics=dict(clean), duration_s=time.monotonic() - t0)
            for i in ids]
