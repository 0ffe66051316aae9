"""Run one untrusted command in a bubblewrap sandbox with bounded time, memory, processes and output.

Layers, outermost first (``build_argv`` assembles them; it is pure so tests can read it):

* ``bwrap``: new pid/net/ipc/uts/cgroup namespaces (no network unless asked), the host
  read-only, fresh /dev, /proc and /tmp, home directories and /run hidden (no host Unix
  sockets), the workdir the only writable place, ``--die-with-parent`` so killing bwrap
  tears the whole pid namespace down;
* ``setpriv``: when we are root, drop to uid/gid 65534 with no capabilities and
  no_new_privs. This matters for RLIMIT_NPROC, which counts processes per real uid and is
  not enforced for root;
* ``prlimit``: address space, CPU seconds, file size, process count;
* ``/bin/sh -c CMD`` (or the argv given).

The wall clock, the output cap and the kill are enforced here, outside the sandbox.
``sandbox=False`` (the CLI's ``--unsafe-no-sandbox``) keeps prlimit, the wall clock and the
output cap but adds no namespaces and no uid change: callers must opt in explicitly.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SandboxLimits", "SandboxResult", "SandboxUnavailable", "bwrap_available", "build_argv", "gpu_device_paths",
    "run_sandboxed", "describe_exit", "prepare_workdir", "SANDBOX_UID",
]

SANDBOX_UID = 65534  # nobody
SANDBOX_HOSTNAME = "sandbox"
HIDDEN_PATHS = ("/root", "/home", "/run", "/var/run", "/var/tmp", "/srv")
NVIDIA_CONTROL = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset",
                  "/dev/nvidia-caps")
CANCEL_POLL_S = 0.1  # how often a running command looks at its cancel event
_LINE_MAX = 16 * 1024  # a line longer than this is emitted in pieces
_GIB = 1024 ** 3


class SandboxUnavailable(RuntimeError):
    """bwrap (or prlimit) is missing; the caller may choose --unsafe-no-sandbox."""


@dataclass(frozen=True)
class SandboxLimits:
    """Bounds for one command; None leaves that limit unset."""

    wall_s: float = 600.0
    cpu_s: int | None = 600
    memory_bytes: int | None = 4 * _GIB       # RLIMIT_AS; leave None for CUDA (huge virtual reservations)
    file_size_bytes: int | None = 1 * _GIB    # RLIMIT_FSIZE: largest single file
    nproc: int | None = 256                   # RLIMIT_NPROC: processes + threads of the sandbox uid
    output_bytes: int = 2 * 1024 * 1024       # log kept; beyond it output is drained and dropped
    output_kill_factor: int = 10              # killed once output exceeds output_bytes * this
    tmp_bytes: int | None = 512 * 1024 * 1024  # size of the private /tmp (a tmpfs: it is memory)

    def replace(self, **changes) -> SandboxLimits:
        from dataclasses import replace
        return replace(self, **changes)


@dataclass(frozen=True)
class SandboxResult:
    exit_code: int | None          # negative: killed by that signal (as subprocess reports it)
    timed_out: bool
    killed_reason: str | None      # "timeout" | "output" | "cancelled" when we killed it
    output_truncated: bool
    duration_s: float
    output_bytes: int = 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.killed_reason is None


def bwrap_available() -> bool:
    """True when bubblewrap is installed and can create namespaces here."""
    exe = shutil.which("bwrap")
    if not exe:
        return False
    try:
        probe = subprocess.run([exe, "--unshare-pid", "--unshare-net", "--ro-bind", "/", "/", "--dev", "/dev",
                                "--proc", "/proc", "--", "/bin/true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def gpu_device_paths(gpu_devices: Iterable[int], exists: Callable[[str], bool] = os.path.exists) -> list[str]:
    """/dev nodes to pass through for these GPU indices (plus the control devices that exist)."""
    indices = list(gpu_devices)
    if not indices:
        return []
    paths = [f"/dev/nvidia{int(i)}" for i in indices]
    paths += list(NVIDIA_CONTROL)
    return [p for p in paths if exists(p)]


def _python_runtime_paths() -> list[str]:
    """Directories the interpreter lives in, re-exposed if a hidden path (e.g. /root/.pyenv) covers them."""
    out = []
    for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
              str(Path(os.path.realpath(sys.executable)).parent.parent)}:
        real = os.path.realpath(p)
        if real not in out:
            out.append(real)
    return sorted(out)


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def locked_ancestors(paths: Iterable[str], covered: Sequence[str]) -> list[str]:
    """The highest ancestor of each path that others may not enter (no o+x), unless `covered` already hides it."""
    out: list[str] = []
    for path in paths:
        parts = Path(os.path.abspath(path)).parts
        for k in range(2, len(parts) + 1):
            ancestor = str(Path(*parts[:k]))
            if any(_under(ancestor, root) for root in [*covered, *out]):
                break
            try:
                mode = os.stat(ancestor).st_mode
            except OSError:
                break
            if not mode & stat.S_IXOTH:
                if ancestor != os.path.abspath(path):
                    out.append(ancestor)
                break
    return out


def _parents(path: str, tmpfs_roots: Sequence[str]) -> list[str]:
    """bwrap creates a bind target's missing parents 0700 on a tmpfs; create them 0755 so nobody can pass."""
    for root in tmpfs_roots:
        if _under(path, root) and path != root:
            rel = Path(path).relative_to(root).parts
            out: list[str] = []
            for k in range(1, len(rel)):
                out += ["--perms", "0755", "--dir", str(Path(root, *rel[:k]))]
            return out
    return []


def _default_env(workdir: str, extra: Mapping[str, str] | None) -> dict[str, str]:
    path = os.pathsep.join(dict.fromkeys([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]))
    env = {"PATH": path, "HOME": workdir, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONUNBUFFERED": "1",
           "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg", "TMPDIR": "/tmp", "JUPYTER_PLATFORM_DIRS": "1"}
    if extra:
        env.update({str(k): str(v) for k, v in extra.items()})
    return env


def _prlimit_args(limits: SandboxLimits) -> list[str]:
    args = ["prlimit"]
    if limits.memory_bytes is not None:
        args.append(f"--as={int(limits.memory_bytes)}")
    if limits.cpu_s is not None:
        args.append(f"--cpu={int(limits.cpu_s)}")
    if limits.file_size_bytes is not None:
        args.append(f"--fsize={int(limits.file_size_bytes)}")
    if limits.nproc is not None:
        args.append(f"--nproc={int(limits.nproc)}")
    return [*args, "--"]


def build_argv(
    command: str | Sequence[str],
    workdir: str | os.PathLike,
    limits: SandboxLimits,
    *,
    network: bool = False,
    env: Mapping[str, str] | None = None,
    gpu_devices: Sequence[str] = (),
    sandbox: bool = True,
    as_root: bool | None = None,
    hidden_paths: Sequence[str] = HIDDEN_PATHS,
    runtime_paths: Sequence[str] | None = None,
    ro_binds: Sequence[str] = (),
    hosts_file: str | None = None,
) -> list[str]:
    """The full argv for one sandboxed command (pure: no side effects, nothing probed but its args).

    ``gpu_devices`` are /dev paths (see ``gpu_device_paths``). ``runtime_paths`` are
    directories to keep visible under a hidden path (default: this interpreter's).
    """
    workdir = os.path.abspath(os.fspath(workdir))
    inner = ["/bin/sh", "-c", command] if isinstance(command, str) else [str(a) for a in command]
    limited = _prlimit_args(limits) + inner
    full_env = _default_env(workdir, env)
    if not sandbox:
        return ["env", "-i", *(f"{k}={v}" for k, v in full_env.items()), *limited]

    as_root = (os.geteuid() == 0) if as_root is None else as_root
    argv = ["bwrap", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if not network:
        argv.append("--unshare-net")
    if not as_root:
        # without root we cannot setuid; a user namespace gives the nobody identity instead
        argv += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
    argv += ["--die-with-parent", "--new-session", "--hostname", SANDBOX_HOSTNAME,
             "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    if hosts_file:
        # the sandbox's own hostname must resolve: torchrun's rendezvous store connects to it
        argv += ["--ro-bind", hosts_file, "/etc/hosts"]
    if limits.tmp_bytes is not None:
        argv += ["--size", str(int(limits.tmp_bytes))]
    argv += ["--perms", "1777", "--tmpfs", "/tmp"]
    keep = list(runtime_paths) if runtime_paths is not None else _python_runtime_paths()
    # A directory the sandbox uid cannot enter (a 0700 checkout holding the virtualenv) is hidden like /root,
    # and the interpreter re-exposed inside it, so `python` runs as nobody wherever the rig was installed.
    hidden_paths = list(hidden_paths) + locked_ancestors([*keep, *ro_binds], [*hidden_paths, "/tmp"])
    hidden = [h for h in hidden_paths if not _under(workdir, h) and os.path.isdir(h) and not os.path.islink(h)]
    tmpfs_roots = ["/tmp"]
    for h in hidden:
        argv += ["--tmpfs", h]
        tmpfs_roots.append(h)
        for path in keep:
            if _under(path, h) and path != h:
                argv += _parents(path, tmpfs_roots) + ["--ro-bind", path, path]
    # The interpreter (e.g. a virtualenv in a checkout under /tmp) must stay visible under the private /tmp too.
    for path in keep:
        if _under(path, "/tmp") and path != "/tmp":
            argv += _parents(path, tmpfs_roots) + ["--ro-bind", path, path]
    for path in ro_binds:
        argv += _parents(path, tmpfs_roots) + ["--ro-bind", path, path]
    argv += _parents(workdir, tmpfs_roots) + ["--bind", workdir, workdir, "--chdir", workdir]
    for dev in gpu_devices:
        argv += ["--dev-bind", dev, dev]
    argv += ["--clearenv"]
    for k, v in full_env.items():
        argv += ["--setenv", k, v]
    argv.append("--")
    if as_root:
        argv += ["setpriv", f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    return argv + limited


def _hosts_file() -> str | None:
    """The host's /etc/hosts plus the sandbox's hostname on loopback, written once per uid (readable by all)."""
    try:
        base = Path("/etc/hosts").read_text(encoding="utf-8", errors="replace") if os.path.isfile("/etc/hosts") else ""
    except OSError:
        base = ""
    text = base.rstrip("\n") + f"\n127.0.0.1\t{SANDBOX_HOSTNAME}\n::1\t{SANDBOX_HOSTNAME}\n"
    path = Path(tempfile.gettempdir()) / f"reproreview-sandbox-hosts-{os.geteuid()}"
    try:
        if not path.is_file() or path.read_text(encoding="utf-8", errors="replace") != text:
            tmp = path.with_name(f"{path.name}.{os.getpid()}")
            tmp.write_text(text, encoding="utf-8")
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
    except OSError:
        return None
    return str(path)


def prepare_workdir(workdir: str | os.PathLike) -> None:
    """Make ``workdir`` (recursively) writable by the sandbox uid: chown when root, else leave it."""
    if os.geteuid() != 0:
        return
    root = Path(workdir)
    os.chown(root, SANDBOX_UID, SANDBOX_UID)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            try:
                os.chown(os.path.join(dirpath, name), SANDBOX_UID, SANDBOX_UID, follow_symlinks=False)
            except OSError:
                pass


def _descendants(pid: int) -> list[int]:
    """All live descendants of ``pid`` (from /proc), so an unsandboxed run cannot leave children behind."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _kill_tree(proc: subprocess.Popen) -> None:
    pids = _descendants(proc.pid)
    for sig_target in (lambda: os.killpg(proc.pid, signal.SIGKILL),):
        try:
            sig_target()
        except (ProcessLookupError, PermissionError):
            pass
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


_SIGNALS = {signal.SIGKILL: "killed (SIGKILL: out of time, memory or processes)",
            signal.SIGXCPU: "CPU time limit exceeded (SIGXCPU)",
            signal.SIGXFSZ: "file size limit exceeded (SIGXFSZ)",
            signal.SIGSEGV: "crashed (SIGSEGV)", signal.SIGABRT: "aborted (SIGABRT)"}


def describe_exit(result: SandboxResult) -> str:
    """A short human reason for a command that did not succeed."""
    if result.killed_reason == "timeout":
        return f"timed out after {result.duration_s:.0f} s"
    if result.killed_reason == "output":
        return "killed: it kept printing far past the output limit"
    if result.killed_reason == "cancelled":
        return "cancelled: the whole process tree was killed"
    code = result.exit_code
    if code is None:
        return "did not run"
    sig = -code if code < 0 else code - 128 if code > 128 else None
    if sig:
        try:
            return _SIGNALS.get(signal.Signals(sig), f"killed by signal {signal.Signals(sig).name}")
        except ValueError:
            pass
    return f"exit code {code}"


def run_sandboxed(
    command: str | Sequence[str],
    workdir: str | os.PathLike,
    limits: SandboxLimits | None = None,
    *,
    network: bool = False,
    env: Mapping[str, str] | None = None,
    on_output: Callable[[str], None] | None = None,
    gpu_devices: Iterable[int] = (),
    sandbox: bool = True,
    hidden_paths: Sequence[str] = HIDDEN_PATHS,
    ro_binds: Sequence[str] = (),
    cancel: threading.Event | None = None,
) -> SandboxResult:
    """Run ``command`` (shell string or argv) in ``workdir``; stream output lines to ``on_output``.

    The whole process tree is killed on the wall-clock limit, when output exceeds
    ``output_bytes * output_kill_factor``, and within ``CANCEL_POLL_S`` of ``cancel`` being set
    (a cancelled run). ``sandbox=False`` is the explicit, unsafe opt-out.
    """
    limits = limits or SandboxLimits()
    emit = on_output or (lambda _line: None)
    if sandbox and not shutil.which("bwrap"):
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed: install it, or run with "
                                 "--unsafe-no-sandbox on your own machine")
    if not shutil.which("prlimit"):
        raise SandboxUnavailable("prlimit (util-linux) is not installed")
    devices = gpu_device_paths(gpu_devices)
    argv = build_argv(command, workdir, limits, network=network, env=env, gpu_devices=devices, sandbox=sandbox,
                      hidden_paths=hidden_paths, ro_binds=ro_binds, hosts_file=_hosts_file() if sandbox else None)
    start = time.monotonic()
    proc = subprocess.Popen(argv, cwd=os.fspath(workdir), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    state = {"total": 0, "truncated": False, "killed": None}
    lock = threading.Lock()

    def kill(reason: str) -> None:
        with lock:
            if state["killed"] is None:
                state["killed"] = reason
        _kill_tree(proc)

    def pump() -> None:
        fd = proc.stdout.fileno()
        cap = limits.output_bytes
        hard_cap = cap * max(1, limits.output_kill_factor)
        buf = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            before = state["total"]
            state["total"] += len(chunk)
            if before < cap:
                keep = chunk[: cap - before]
                if len(keep) < len(chunk):
                    state["truncated"] = True
                buf += keep
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    emit(line.decode("utf-8", errors="replace").rstrip("\r"))
                while len(buf) > _LINE_MAX:
                    emit(buf[:_LINE_MAX].decode("utf-8", errors="replace"))
                    buf = buf[_LINE_MAX:]
                if state["truncated"]:
                    if buf:
                        emit(buf.decode("utf-8", errors="replace"))
                        buf = b""
                    emit(f"[output truncated: more than {cap} bytes; the rest is dropped]")
            else:
                state["truncated"] = True
                if state["total"] > hard_cap and state["killed"] is None:
                    kill("output")
        if buf:
            emit(buf.decode("utf-8", errors="replace"))

    reader = threading.Thread(target=pump, name="sandbox-output", daemon=True)
    reader.start()
    timed_out = False
    deadline = start + max(0.0, limits.wall_s)
    try:
        while True:
            left = deadline - time.monotonic()
            if cancel is not None and cancel.is_set():
                kill("cancelled")
                proc.wait()
                break
            if left <= 0:
                timed_out = True
                kill("timeout")
                proc.wait()
                break
            try:
                proc.wait(timeout=min(left, CANCEL_POLL_S) if cancel is not None else left)
                break
            except subprocess.TimeoutExpired:
                continue
    finally:
        if proc.poll() is None:  # interrupted (KeyboardInterrupt...): never leave the tree running
            _kill_tree(proc)
            proc.wait()
    # leftovers (background jobs) die with the run; in the sandbox the pid namespace is gone already
    _kill_tree(proc)
    reader.join(timeout=5)
    proc.stdout.close()
    duration = time.monotonic() - start
    with lock:
        killed = state["killed"]
    if killed == "timeout":
        emit(f"[killed: wall-clock limit of {limits.wall_s:g} s reached]")
    elif killed == "output":
        emit(f"[killed: output exceeded {limits.output_bytes * limits.output_kill_factor} bytes]")
    elif killed == "cancelled":
        emit("[killed: the run was cancelled]")
    return SandboxResult(exit_code=proc.returncode, timed_out=timed_out, killed_reason=killed,
                         output_truncated=state["truncated"], duration_s=duration, output_bytes=state["total"])
