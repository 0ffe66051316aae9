"""The sandbox's hostname resolves to loopback: torchrun's rendezvous store listens on and connects to it.

Seen on a real H100 rig: with `--hostname sandbox` and the host's /etc/hosts, `torchrun --standalone` waited
300 s for "(sandbox, port)" and the experiment timed out.
"""

from __future__ import annotations

import os

from runners.sandbox import SandboxLimits, build_argv, run_sandboxed
from tests.runners.conftest import TEST_LIMITS, needs_bwrap

RENDEZVOUS = """
import socket, threading
host = socket.gethostname()
srv = socket.create_server((host, 0))
port = srv.getsockname()[1]
threading.Thread(target=lambda: srv.accept()[0].sendall(b"hello"), daemon=True).start()
with socket.create_connection((host, port), timeout=5) as c:
    print(host, "rendezvous", c.recv(5).decode())
"""


@needs_bwrap
def test_a_process_in_the_sandbox_reaches_itself_by_hostname(tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    os.chmod(work, 0o777)
    (work / "rdzv.py").write_text(RENDEZVOUS)
    os.chmod(work / "rdzv.py", 0o644)
    lines: list[str] = []
    res = run_sandboxed(["python3", "rdzv.py"], work, TEST_LIMITS.replace(wall_s=30), on_output=lines.append)
    assert res.exit_code == 0, lines
    assert "sandbox rendezvous hello" in lines


def test_hosts_file_is_bound_over_etc_hosts_only_when_given(tmp_path):
    with_hosts = build_argv("true", tmp_path, SandboxLimits(), hosts_file="/x/hosts", as_root=True)
    i = with_hosts.index("/x/hosts")
    assert with_hosts[i - 1:i + 2] == ["--ro-bind", "/x/hosts", "/etc/hosts"]
    assert "/etc/hosts" not in build_argv("true", tmp_path, SandboxLimits(), as_root=True)


def test_a_directory_nobody_may_enter_is_hidden_and_the_interpreter_re_exposed(monkeypatch):
    """A rig installed in a 0700 directory (a `mktemp -d` checkout): python must still run as nobody."""
    import os
    import stat as st

    from runners import sandbox

    modes = {"/srv2": 0o755, "/srv2/ci1234": 0o700, "/srv2/ci1234/.venv": 0o755, "/srv2/ci1234/.venv/bin": 0o755}
    real_stat = os.stat

    class Fake:
        def __init__(self, mode: int) -> None:
            self.st_mode = st.S_IFDIR | mode

    monkeypatch.setattr(os, "stat", lambda p, *a, **kw: Fake(modes[p]) if p in modes else real_stat(p, *a, **kw))
    assert sandbox.locked_ancestors(["/srv2/ci1234/.venv"], ["/tmp"]) == ["/srv2/ci1234"]
    assert sandbox.locked_ancestors(["/srv2/ci1234/.venv"], ["/srv2"]) == []  # already hidden
    assert sandbox.locked_ancestors(["/srv2"], []) == []  # nothing to enter on the way
