"""The job a rig runs: claim → download the bundle → extract safely → reproduce (sandboxed) → post the result.

`execute_run(client, run_id)` is plain synchronous code shared by arq workers (through `run_artifact`,
which runs it in a thread so the worker's event loop stays free) and by the API's embedded rig.
Output lines are batched and posted every ~0.3 s; a run heartbeat goes out every second when there is
no output to post. Either answer may say `stop` (the run was cancelled or taken away): the poster then
sets its `cancel` event, which the sandbox watches, so the running command's whole process tree is
killed within about a second of the cancel and no further experiment starts.
Any failure after the claim is reported as status "error" with the reason, never left hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

from runners.client import RigApiError

log = logging.getLogger(__name__)
FLUSH_S = 0.3
HEARTBEAT_S = 1.0  # also how fast a cancel reaches the sandbox when the run prints nothing
CHUNK_MAX = 64 * 1024
BUNDLE_MAX_FILES = 50_000
BUNDLE_MAX_BYTES = 2 * 1024 ** 3
RESULT_TRIES = 5
TOO_FEW_GPUS = "too-few-gpus"  # the API's code when a gpu rig has fewer GPUs than the run needs
OUT_OF_SCOPE = "rig-out-of-scope"  # the API's code for a run of a venue this rig does not serve
GPU_RETRY_DEFER_S = 10  # back on the queue for another rig (arq retries the job this much later)  # a finished run's result is worth waiting for: the API may be restarting


class _LogPoster:
    """Collects on_log lines; a thread posts them in batches and sends run heartbeats; learns of cancellation."""

    def __init__(self, client, run_id: int, flush_s: float, heartbeat_s: float) -> None:  # noqa: ANN001
        self.client, self.run_id = client, run_id
        self.flush_s, self.heartbeat_s = flush_s, heartbeat_s
        self.lines: list[str] = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.cancel = threading.Event()  # set when the API says stop; the sandbox kills the tree on it
        self.seq = 0
        self.thread = threading.Thread(target=self._loop, name=f"run-{run_id}-log", daemon=True)

    @property
    def stop_requested(self) -> bool:
        return self.cancel.is_set()

    def request_stop(self) -> None:
        if not self.cancel.is_set():
            log.info("run %s: the API says stop; killing the running command", self.run_id)
        self.cancel.set()

    def write(self, line: str) -> None:
        text = str(line)
        with self.lock:
            self.lines.append(text if text.endswith("\n") else text + "\n")

    def start(self) -> None:
        self.thread.start()

    def _flush(self) -> bool:
        with self.lock:
            pending, self.lines = "".join(self.lines), []
        if not pending:
            return False
        for i in range(0, len(pending), CHUNK_MAX):
            try:
                state = self.client.log(self.run_id, pending[i:i + CHUNK_MAX], self.seq)
            except RigApiError as exc:
                if exc.status in (404, 409):
                    self.request_stop()
                log.warning("run %s: log post failed: %s", self.run_id, exc)
                return True
            self.seq += 1
            if state.get("stop"):
                self.request_stop()
        return True

    def _loop(self) -> None:
        last_beat = time.monotonic()
        while not self.done.wait(self.flush_s):
            sent = self._flush()
            if not sent and time.monotonic() - last_beat >= self.heartbeat_s:
                try:
                    if self.client.run_heartbeat(self.run_id).get("stop"):
                        self.request_stop()
                except RigApiError as exc:
                    if exc.status in (404, 409):
                        self.request_stop()
                    log.warning("run %s: heartbeat failed: %s", self.run_id, exc)
            if sent or time.monotonic() - last_beat >= self.heartbeat_s:
                last_beat = time.monotonic()

    def stop(self) -> None:
        self.done.set()
        self.thread.join(30)
        self._flush()


def extract_bundle(bundle: Path, dest: Path, *, max_files: int = BUNDLE_MAX_FILES,
                   max_bytes: int = BUNDLE_MAX_BYTES) -> Path:
    """Unpack a snapshot tarball with tarfile's 'data' filter (no absolute paths, no escaping links,
    no devices) and limits on files and bytes."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(bundle, "r:gz") as tar:
        members, total = [], 0
        for m in tar:
            members.append(m)
            total += max(m.size, 0)
            if len(members) > max_files or total > max_bytes:
                raise ValueError(f"the artifact bundle is too large ({len(members)} files, {total} bytes)")
        tar.extractall(dest, members=members, filter="data")
    return dest


# ---- work directories: each worker owns one, and cleans up after workers that died ----------------------

WORK_PREFIX = "rr-worker-"  # a worker's directory in the temp dir: the runs' bundles and extracted code
_LOCK_NAME = ".lock"


def claim_work_root(base: str | Path | None = None) -> tuple[Path, int]:
    """A fresh work directory for this worker, `rr-worker-<random>/`, with its lock (an flock the kernel drops
    when the process dies, however it dies); returns the directory and the lock's file descriptor."""
    import fcntl

    root = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=base))
    fd = os.open(root / _LOCK_NAME, os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return root, fd


def release_work_root(root: Path, fd: int) -> None:
    """Remove this worker's directory and drop its lock (a clean shutdown)."""
    _rmtree(root)
    os.close(fd)


def remove_dead_work_roots(base: str | Path | None = None, *, min_age_s: float = 60.0) -> list[Path]:
    """Remove the work directories of workers that are gone (their lock is free): what a worker killed mid-run
    left behind. A live worker's directory is locked and left alone; one without a lock yet is removed only
    when older than `min_age_s` (a worker may be creating it right now)."""
    import fcntl

    removed = []
    for root in Path(base or tempfile.gettempdir()).glob(WORK_PREFIX + "*"):
        if not root.is_dir() or root.is_symlink():
            continue
        try:
            fd = os.open(root / _LOCK_NAME, os.O_RDWR)
        except FileNotFoundError:
            try:
                if time.time() - root.stat().st_mtime > min_age_s:
                    _rmtree(root)
                    removed.append(root)
            except FileNotFoundError:
                pass
            continue
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a live worker's
        finally:
            os.close(fd)  # (closing drops the lock we may have taken; the directory goes next)
        _rmtree(root)
        removed.append(root)
    if removed:
        log.info("removed the work directories of %d worker(s) that stopped mid-run: %s", len(removed),
                 ", ".join(str(p) for p in removed))
    return removed


def remove_run_dirs(work_root: str | Path | None, run_id: int) -> int:
    """After a run: remove whatever of that run is left in the work directory (a cleanup that failed, a run
    interrupted), so a long-lived worker does not fill the rig's disk."""
    n = 0
    for path in Path(work_root or tempfile.gettempdir()).glob(f"rr-run-{run_id}-*"):
        _rmtree(path)
        n += 1
    return n


def _rmtree(path: Path) -> None:
    """rmtree that also removes what a sandboxed run left read-only."""
    def retry(func, target, _exc) -> None:  # noqa: ANN001
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(target), 0o700)
            os.chmod(target, 0o700)
            func(target)

    shutil.rmtree(path, onexc=retry) if sys.version_info >= (3, 12) else shutil.rmtree(path, onerror=retry)


def rig_facts() -> dict:
    """What a run's result says about the machine: cpu, cores, ram, python, and GPUs from nvidia-smi."""
    facts: dict = {"platform": platform.platform(), "python": platform.python_version(), "cores": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                facts["ram_gb"] = round(int(line.split()[1]) / 1024 ** 2, 1)
                break
    except OSError:
        pass
    facts.setdefault("cpu", platform.processor() or platform.machine())
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                                  "--format=csv,noheader"], capture_output=True, text=True, timeout=10).stdout
            gpus = [dict(zip(("name", "driver", "memory"), (p.strip() for p in row.split(",")), strict=False))
                    for row in out.splitlines() if row.strip()]
            facts["gpus"] = gpus
        except (OSError, subprocess.SubprocessError):
            pass
    return facts


def _reproduce(artifact_dir: Path, rig_kind: str, sandbox: bool, on_log,  # noqa: ANN001
               cancel: threading.Event | None = None) -> dict:
    from runners.reproduce import reproduce

    return reproduce(artifact_dir, rig_kind, sandbox=sandbox, on_log=on_log, cancel=cancel)


def execute_run(client, run_id: int, *, sandbox: bool = True, flush_s: float = FLUSH_S,  # noqa: ANN001
                heartbeat_s: float = HEARTBEAT_S, work_root: str | None = None) -> str:
    """Run one queued run end to end; returns what happened ('passed', 'skipped', 'cancelled', …)."""
    try:
        claim = client.claim(run_id)
    except RigApiError as exc:
        if exc.code == TOO_FEW_GPUS:
            log.info("run %s left for a larger rig: %s", run_id, exc.detail)
            return TOO_FEW_GPUS
        if exc.code == OUT_OF_SCOPE:
            log.info("run %s left for a rig of its venue: %s", run_id, exc.detail)
            return OUT_OF_SCOPE
        if exc.status in (403, 404, 409):
            log.info("run %s not taken: %s", run_id, exc.detail)
            return "skipped"
        raise
    started = time.monotonic()
    poster = _LogPoster(client, run_id, flush_s, heartbeat_s)
    poster.start()
    result: dict
    with tempfile.TemporaryDirectory(prefix=f"rr-run-{run_id}-", dir=work_root, ignore_cleanup_errors=True) as tmp:
        try:
            if not sandbox:
                poster.write("[rig] WARNING: this rig runs artifacts WITHOUT a sandbox (--unsafe-no-sandbox)")
            poster.write(f"[rig] run {run_id}, attempt {claim.get('attempt')}: downloading the artifact")
            bundle = client.bundle(run_id, Path(tmp) / "bundle.tar.gz")
            artifact_dir = extract_bundle(bundle, Path(tmp) / "artifact")
            if poster.stop_requested:
                result = {"status": "cancelled"}
            else:
                poster.write(f"[rig] running on a {claim.get('rig_kind')} rig")
                result = _reproduce(artifact_dir, claim.get("rig_kind") or "local", sandbox, poster.write,
                                    poster.cancel)
        except Exception as exc:  # noqa: BLE001 — whatever broke, the run must end with a reason
            log.exception("run %s failed on the rig", run_id)
            result = {"status": "error", "reason": f"the rig failed: {type(exc).__name__}: {exc}"[:2000]}
            poster.write(f"[rig] error: {type(exc).__name__}: {exc}")
        finally:
            poster.stop()
    if poster.stop_requested:
        log.info("run %s was cancelled or taken away; its result is dropped", run_id)
        return "cancelled"
    payload = {
        "status": result.get("status") if result.get("status") in ("passed", "failed", "timed_out", "error")
        else "error",
        "reason": result.get("reason"),
        "metrics": result.get("metrics") or {},
        "checks": result.get("checks") or [],
        "badges": result.get("badges") or [],
        "duration_s": result.get("duration_s") or round(time.monotonic() - started, 3),
        "facts": rig_facts(),
    }
    for attempt in range(RESULT_TRIES):
        try:
            client.result(run_id, payload)
            return payload["status"]
        except RigApiError as exc:
            if exc.status in (404, 409):
                return "cancelled"
            if (exc.status and exc.status < 500) or attempt == RESULT_TRIES - 1:
                raise
            log.warning("run %s: posting the result failed (%s), trying again", run_id, exc)
            time.sleep(2.0)
    return payload["status"]


async def run_artifact(ctx: dict, run_id: int) -> str:
    """The arq job: the blocking run goes to a thread, the worker's event loop keeps polling and beating.
    A run this rig has too few GPUs for, or of a venue it does not serve, goes back on the queue (arq Retry)
    for another rig to take;
    when arq gives up on it, the run is still queued in the API and its sweep enqueues it again."""
    try:
        outcome = await asyncio.to_thread(execute_run, ctx["client"], run_id, sandbox=ctx.get("sandbox", True),
                                          work_root=ctx.get("work_root"))
    finally:
        remove_run_dirs(ctx.get("work_root"), run_id)
    if outcome in (TOO_FEW_GPUS, OUT_OF_SCOPE):
        from arq.worker import Retry

        raise Retry(defer=GPU_RETRY_DEFER_S)
    return outcome
