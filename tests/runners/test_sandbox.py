"""run_sandboxed with real processes: limits, kills, output cap, isolation; and the pure argv builder."""

from __future__ import annotations

import os
import socket
import sys
import time
import uuid
from pathlib import Path

import pytest

from runners.sandbox import (SANDBOX_UID, SandboxLimits, build_argv, describe_exit, gpu_device_paths,
                             prepare_workdir, run_sandboxed)
from tests.runners.conftest import TEST_LIMITS, needs_bwrap, processes_of_uid, processes_with


@pytest.fixture
def workdir(tmp_path):
    wd = tmp_path / "work"
    wd.mkdir()
    prepare_workdir(wd)
    return wd


def run(cmd, workdir, limits=TEST_LIMITS, **kw):
    lines: list[str] = []
    res = run_sandboxed(cmd, workdir, limits, on_output=lines.append, **kw)
    return res, lines


# --- the argv builder (pure) -------------------------------------------------------------------------------

def test_argv_network_off_by_default_and_on_when_asked(tmp_path):
    off = build_argv("true", tmp_path, TEST_LIMITS, as_root=True)
    on = build_argv("true", tmp_path, TEST_LIMITS, network=True, as_root=True)
    assert off[0] == "bwrap" and "--unshare-net" in off and "--unshare-net" not in on
    assert "--die-with-parent" in off and "--unshare-pid" in off
    assert off[-3:] == ["/bin/sh", "-c", "true"]
    i = off.index("setpriv")
    assert f"--reuid={SANDBOX_UID}" in off[i:] and "--no-new-privs" in off[i:]
    j = off.index("prlimit")
    assert j > i and "--nproc=128" in off[j:] and f"--fsize={16 * 1024**2}" in off[j:]
    k = off.index("--bind")
    assert off[k + 1:k + 3] == [str(tmp_path), str(tmp_path)]


def test_argv_without_root_uses_user_namespace_and_unsafe_has_no_bwrap(tmp_path):
    user = build_argv(["python", "x.py"], tmp_path, TEST_LIMITS, as_root=False)
    assert "--unshare-user" in user and "setpriv" not in user and user[-2:] == ["python", "x.py"]
    unsafe = build_argv("true", tmp_path, TEST_LIMITS, sandbox=False)
    assert "bwrap" not in unsafe and "prlimit" in unsafe and unsafe[:2] == ["env", "-i"]


def test_argv_gpu_passthrough():
    present = {"/dev/nvidia0", "/dev/nvidia1", "/dev/nvidiactl", "/dev/nvidia-uvm"}
    devs = gpu_device_paths([1], exists=present.__contains__)
    assert devs == ["/dev/nvidia1", "/dev/nvidiactl", "/dev/nvidia-uvm"]
    assert gpu_device_paths([], exists=present.__contains__) == []
    argv = build_argv("nvidia-smi", "/tmp/w", SandboxLimits(memory_bytes=None), gpu_devices=devs, as_root=True)
    assert ["--dev-bind", "/dev/nvidia1", "/dev/nvidia1"] == argv[argv.index("/dev/nvidia1") - 1:][:3]
    assert "/dev/nvidia0" not in argv and not any(a.startswith("--as=") for a in argv)
    dev = argv.index("--dev")
    assert dev < argv.index("--dev-bind")  # passthrough after the fresh /dev, or it would be hidden


def test_argv_keeps_interpreter_visible_under_hidden_home(tmp_path):
    argv = build_argv("true", "/tmp/x/y/work", TEST_LIMITS, as_root=True, hidden_paths=["/root"],
                      runtime_paths=["/root/.pyenv/versions/3.11.7"])
    s = " ".join(argv)
    assert "--tmpfs /root --perms 0755 --dir /root/.pyenv --perms 0755 --dir /root/.pyenv/versions " \
           "--ro-bind /root/.pyenv/versions/3.11.7 /root/.pyenv/versions/3.11.7" in s
    assert "--perms 0755 --dir /tmp/x --perms 0755 --dir /tmp/x/y --bind /tmp/x/y/work /tmp/x/y/work" in s


# --- real processes ----------------------------------------------------------------------------------------

@needs_bwrap
def test_runs_as_nobody_streams_lines_and_sees_python(workdir):
    res, lines = run("id -u; echo to-stderr >&2; python -c 'import numpy; print(\"np\", numpy.__name__)'; "
                     "echo ok > out.txt", workdir)
    assert res.exit_code == 0 and not res.timed_out and res.killed_reason is None
    assert lines[0] == str(SANDBOX_UID) and "to-stderr" in lines and "np numpy" in lines
    assert (workdir / "out.txt").read_text() == "ok\n"


@needs_bwrap
@pytest.mark.parametrize("sandbox", [True, False])
def test_wall_clock_kills_whole_tree(workdir, sandbox):
    marker = f"rr-marker-{uuid.uuid4().hex}"
    cmd = (f"python -c 'import time; time.sleep(300)' {marker} & "
           f"setsid python -c 'import time; time.sleep(300)' {marker} & sleep 300")
    t0 = time.monotonic()
    res, lines = run(cmd, workdir, TEST_LIMITS.replace(wall_s=1.5), sandbox=sandbox)
    assert res.timed_out and res.killed_reason == "timeout"
    assert time.monotonic() - t0 < 8
    assert "timed out" in describe_exit(res)
    deadline = time.monotonic() + 3
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(marker) == []


@needs_bwrap
def test_no_network_inside(workdir):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    try:
        probe = f"python -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3); print('CONNECTED')\""
        res, lines = run(probe, workdir)
        assert res.exit_code != 0 and "CONNECTED" not in lines
        res, lines = run(probe, workdir, network=True)  # control: the same probe reaches the host when allowed
        assert res.exit_code == 0 and "CONNECTED" in lines
        res, lines = run("python -c \"import socket; socket.create_connection(('pypi.org', 443), timeout=3)\"",
                         workdir)
        assert res.exit_code != 0
    finally:
        server.close()


@needs_bwrap
def test_fork_bomb_is_bounded_and_ends(workdir):
    t0 = time.monotonic()
    res, _ = run("bomb() { bomb | bomb & }; bomb; sleep 2", workdir, TEST_LIMITS.replace(wall_s=4, nproc=64))
    assert time.monotonic() - t0 < 15
    deadline = time.monotonic() + 5
    while processes_of_uid(SANDBOX_UID) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_of_uid(SANDBOX_UID) == []
    res, lines = run("echo still-working", workdir)
    assert res.exit_code == 0 and lines == ["still-working"]


@needs_bwrap
def test_one_gigabyte_of_output_is_capped_and_killed(workdir):
    limits = TEST_LIMITS.replace(output_bytes=64 * 1024, output_kill_factor=10)
    t0 = time.monotonic()
    res, lines = run("python -c \"import sys\nline = 'x' * 1023 + '\\n'\nfor _ in range(1 << 20): sys.stdout.write(line)\"",
                     workdir, limits)
    assert time.monotonic() - t0 < 15
    assert res.output_truncated and res.killed_reason == "output" and res.exit_code != 0
    kept = sum(len(line) + 1 for line in lines if not line.startswith("["))
    assert kept <= 64 * 1024
    assert res.output_bytes < 1024**3


@needs_bwrap
def test_output_over_cap_but_not_runaway_is_drained(workdir):
    limits = TEST_LIMITS.replace(output_bytes=10_000, output_kill_factor=10)
    res, lines = run("seq 1 10000; echo done > done.txt", workdir, limits)  # ~49 KB: over the cap, under 10x
    assert res.exit_code == 0 and res.output_truncated and res.killed_reason is None
    assert (workdir / "done.txt").exists() and lines[0] == "1" and "10000" not in lines


@needs_bwrap
def test_file_size_limit_stops_disk_filling(workdir):
    res, _ = run("head -c 200000000 /dev/zero > big.bin", workdir, TEST_LIMITS.replace(file_size_bytes=4 * 1024**2))
    assert res.exit_code != 0 and "file size" in describe_exit(res)
    assert (workdir / "big.bin").stat().st_size <= 4 * 1024**2


@needs_bwrap
def test_memory_limit(workdir):
    res, lines = run("python -c \"b = bytearray(1500 * 1024 * 1024); print('ALLOCATED')\"", workdir,
                     TEST_LIMITS.replace(memory_bytes=512 * 1024**2))
    assert res.exit_code != 0 and "ALLOCATED" not in lines and any("MemoryError" in x for x in lines)


@needs_bwrap
def test_cannot_write_outside_workdir(workdir, tmp_path):
    repo_file = Path(__file__).resolve().parents[2] / f"pwned-{uuid.uuid4().hex}"
    host_tmp = Path("/tmp") / f"pwned-{uuid.uuid4().hex}"
    sibling = tmp_path / "sibling.txt"
    targets = ["/etc/pwned", str(repo_file), str(host_tmp), str(sibling), "/root/pwned", "/var/pwned"]
    script = "; ".join(f"(echo x > {t} && echo WROTE {t})" for t in targets)
    res, lines = run(script, workdir)
    assert not [line for line in lines if line.startswith("WROTE") and "/tmp/pwned" not in line]
    for t in [*targets[:2], *targets[3:]]:
        assert not Path(t).exists(), t
    assert not host_tmp.exists()  # /tmp inside is a private tmpfs


@needs_bwrap
def test_environment_is_clean(workdir, monkeypatch):
    monkeypatch.setenv("REPROREVIEW_SECRET_TOKEN", "s3cret")
    res, lines = run("env", workdir, env={"SEED": "7"})
    assert res.exit_code == 0
    assert not any("s3cret" in x for x in lines) and "SEED=7" in lines
    res, lines = run("env", workdir, sandbox=False)
    assert not any("s3cret" in x for x in lines)


def test_unsafe_mode_runs_without_bwrap(workdir):
    res, lines = run([sys.executable, "-c", "print('hi')"], workdir, sandbox=False)
    assert res.exit_code == 0 and lines == ["hi"]
    assert os.getpid() > 0


@needs_bwrap
def test_nproc_limit_caps_process_count(workdir):
    script = ("import os, time\n"
              "n = 0\n"
              "for _ in range(300):\n"
              "    try:\n"
              "        pid = os.fork()\n"
              "    except OSError:\n"
              "        break\n"
              "    if pid == 0:\n"
              "        time.sleep(30)\n"
              "        os._exit(0)\n"
              "    n += 1\n"
              "print('forked', n, flush=True)\n")
    (workdir / "forker.py").write_text(script)
    res, lines = run("python forker.py", workdir, TEST_LIMITS.replace(nproc=32, wall_s=20))
    counts = [int(x.split()[1]) for x in lines if x.startswith("forked")]
    assert counts and counts[0] < 32, lines
    assert res.exit_code == 0 and res.duration_s < 10  # the sleeping children died with the sandbox


@needs_bwrap
def test_private_tmp_is_writable_and_bounded(workdir):
    limits = TEST_LIMITS.replace(tmp_bytes=8 * 1024**2, file_size_bytes=None)
    res, lines = run("echo hi > /tmp/small && cat /tmp/small; head -c 50000000 /dev/zero > /tmp/fill || echo FULL; "
                     "ls -l /tmp/fill", workdir, limits)
    assert res.exit_code == 0 and lines[0] == "hi" and "FULL" in lines
    size = int(next(x for x in lines if x.startswith("-")).split()[4])
    assert size <= 8 * 1024**2


@needs_bwrap
@pytest.mark.parametrize("sandbox", [True, False])
def test_cancel_kills_the_whole_tree_within_a_second(workdir, sandbox):
    import threading

    marker = f"rr-cancel-{uuid.uuid4().hex}"
    cmd = (f"python -c 'import time; time.sleep(300)' {marker} & "
           f"setsid python -c 'import time; time.sleep(300)' {marker} & echo started; sleep 300")
    cancel = threading.Event()
    lines: list[str] = []

    def on_output(line: str) -> None:
        lines.append(line)
        if line == "started":
            threading.Timer(0.5, cancel.set).start()

    t0 = time.monotonic()
    res = run_sandboxed(cmd, workdir, TEST_LIMITS, on_output=on_output, sandbox=sandbox, cancel=cancel)
    assert res.killed_reason == "cancelled" and not res.timed_out
    assert time.monotonic() - t0 < 3  # 0.5 s to the cancel, then at most CANCEL_POLL_S and the kill
    assert describe_exit(res).startswith("cancelled") and "[killed: the run was cancelled]" in lines
    deadline = time.monotonic() + 1
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(marker) == []
