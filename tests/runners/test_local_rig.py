"""The local and notebook rigs end to end on small real artifacts, and `reproreview reproduce`."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import pytest

from app.artifacts.manifest import load_manifest
from runners.reproduce import main, reproduce
from runners.rigs.local import run_artifact_dir
from tests.runners.conftest import (TEST_LIMITS, command_artifact, logreg_artifact, needs_bwrap, processes_with,
                                    write_artifact)

pytestmark = needs_bwrap


def run(artifact: Path, **kw):
    lines: list[str] = []
    result = reproduce(artifact, on_log=lines.append, limits=kw.pop("limits", TEST_LIMITS), **kw)
    return result, lines


def test_true_claim_passes_with_all_badges(tmp_path):
    result, lines = run(logreg_artifact(tmp_path / "a", claimed=0.9))
    assert set(result) == {"status", "reason", "metrics", "checks", "badges", "duration_s"}
    assert result["status"] == "passed" and result["reason"] is None
    assert result["badges"] == ["available", "functional", "reproduced"]
    acc = result["metrics"]["E1"]["accuracy"]
    assert 0.9 < acc <= 1.0
    assert result["checks"] == [{"claim": "C1", "metric": "accuracy", "claimed": 0.9, "measured": acc,
                                 "passed": True}]
    assert any(line.startswith("accuracy ") for line in lines)  # the experiment's own output is streamed
    json.dumps(result)


def test_false_claim_fails_functional_not_reproduced(tmp_path):
    result, _ = run(logreg_artifact(tmp_path / "a", claimed=0.995, tolerance="0.001"))
    assert result["status"] == "failed"
    assert result["badges"] == ["available", "functional"]
    (check,) = result["checks"]
    assert check["passed"] is False and check["measured"] < 0.99
    assert "claim C1" in result["reason"]


def test_at_most_claim_on_loss(tmp_path):
    art = logreg_artifact(tmp_path / "a", claimed=0.5, direction="at_most", tolerance="0")
    text = (art / "reproduce.toml").read_text().replace('metric = "accuracy"', 'metric = "loss"')
    (art / "reproduce.toml").write_text(text)
    result, _ = run(art)
    assert result["status"] == "passed", result


def test_notebook_with_injected_parameters(tmp_path):
    import nbformat

    art = write_artifact(tmp_path / "nb", """
        [artifact]
        rig = "notebook"
        timeout = "2m"

        [[experiment]]
        id = "E1"
        notebook = "analysis.ipynb"
        metrics = "out/metrics.json"
        parameters = { n = 100, scale = 2.0 }

        [[claim]]
        id = "C1"
        experiment = "E1"
        metric = "total"
        value = 9900
        direction = "about"
        tolerance = 0.5
        """)
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("n = 10\nscale = 1.0")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Analysis"), params, nbformat.v4.new_code_cell(
        "import json, os\nimport numpy as np\ntotal = float(np.arange(n).sum() * scale)\nprint('total', total)\n"
        "os.makedirs('out', exist_ok=True)\njson.dump({'total': total}, open('out/metrics.json', 'w'))")]
    nbformat.write(nb, art / "analysis.ipynb")
    result, lines = run(art)
    assert result["status"] == "passed", (result, lines)
    assert result["metrics"] == {"E1": {"total": 9900.0}}  # 45.0 had the parameters not been injected
    assert "total 9900.0" in lines


def test_notebook_cell_error_fails_the_experiment(tmp_path):
    import nbformat

    art = write_artifact(tmp_path / "nb", """
        [artifact]
        rig = "notebook"
        [[experiment]]
        id = "E1"
        notebook = "bad.ipynb"
        metrics = "m.json"
        """)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("raise ValueError('broken cell')")]
    nbformat.write(nb, art / "bad.ipynb")
    result, lines = run(art)
    assert result["status"] == "failed" and result["badges"] == ["available"]
    assert any("broken cell" in line for line in lines)


def test_timeout_is_quick_and_kills_process_tree(tmp_path):
    marker = f"rr-marker-{uuid.uuid4().hex}"
    art = command_artifact(tmp_path / "t", f"python -c 'import time; time.sleep(600)' {marker} & sleep 600",
                           timeout="2s")
    t0 = time.monotonic()
    result, _ = run(art)
    assert time.monotonic() - t0 < 10
    assert result["status"] == "timed_out" and "timed out" in result["reason"]
    assert result["badges"] == ["available"]
    time.sleep(0.2)
    assert processes_with(marker) == []


def test_artifact_timeout_bounds_setup_too(tmp_path):
    art = write_artifact(tmp_path / "s", """
        [artifact]
        timeout = "2s"
        [setup]
        commands = ["sleep 60"]
        [[experiment]]
        id = "E1"
        command = "true"
        metrics = "m.json"
        """)
    t0 = time.monotonic()
    result, _ = run(art)
    assert result["status"] == "timed_out" and "setup" in result["reason"] and time.monotonic() - t0 < 10


def test_network_only_in_setup_when_asked(tmp_path):
    import socket
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    probe = f"python -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3)\""
    try:
        art = command_artifact(tmp_path / "n", probe + " && echo '{\"x\": 1}' > m.json")
        result, _ = run(art)
        assert result["status"] == "failed" and "exit code" in result["reason"]
        art = command_artifact(tmp_path / "n2", "echo '{\"x\": 1}' > m.json",
                               setup=f'[setup]\ncommands = ["""{probe}"""]\nnetwork = true\n')
        result, _ = run(art)
        assert result["status"] == "passed", result
        art = command_artifact(tmp_path / "n3", "echo '{\"x\": 1}' > m.json",
                               setup=f'[setup]\ncommands = ["""{probe}"""]\n')
        result, _ = run(art)
        assert result["status"] == "failed" and "setup command 1" in result["reason"]
    finally:
        server.close()


def test_fork_bomb_then_rig_keeps_working(tmp_path):
    art = command_artifact(tmp_path / "bomb", "bomb() { bomb | bomb & }; bomb; sleep 3", timeout="3s")
    result, _ = run(art, limits=TEST_LIMITS.replace(nproc=64))
    assert result["status"] in ("timed_out", "failed")
    result, _ = run(logreg_artifact(tmp_path / "after", claimed=0.9))
    assert result["status"] == "passed"


def test_gigabyte_of_output_ends_the_run(tmp_path):
    art = command_artifact(tmp_path / "spew", "yes 0123456789012345678901234567890123456789")
    t0 = time.monotonic()
    result, lines = run(art, limits=TEST_LIMITS.replace(output_bytes=64 * 1024))
    assert time.monotonic() - t0 < 15
    assert result["status"] == "failed" and "printing" in result["reason"]
    assert sum(len(x) + 1 for x in lines) < 80 * 1024


def test_disk_filler_hits_file_size_limit(tmp_path):
    art = command_artifact(tmp_path / "disk", "head -c 300000000 /dev/zero > fill.bin && echo '{}' > m.json")
    result, _ = run(art)
    assert result["status"] == "failed" and "file size" in result["reason"]


def test_writes_outside_workdir_do_not_land(tmp_path):
    src = tmp_path / "src"
    repo_target = Path(__file__).resolve().parents[2] / f"pwned-{uuid.uuid4().hex}"
    targets = ["/etc/pwned-by-artifact", str(repo_target), str(src / "train.py"), "/usr/local/pwned"]
    art = command_artifact(src, "; ".join(f"(echo evil > {t})" for t in targets) + "; echo '{\"ok\": 1}' > m.json",
                           files={"train.py": "print('original')\n"})
    result, _ = run(art)
    assert result["status"] == "passed"  # the writes failed quietly; the run itself is fine
    assert not Path(targets[0]).exists() and not repo_target.exists() and not Path(targets[3]).exists()
    assert (src / "train.py").read_text() == "print('original')\n"  # the submitted files are untouched
    assert not (src / "m.json").exists()  # the run happened in a private copy


def test_shipped_metrics_file_does_not_count(tmp_path):
    art = command_artifact(tmp_path / "cheat", "true", files={"m.json": '{"accuracy": 0.99}'})
    result, _ = run(art)
    assert result["status"] == "failed" and "did not write its metrics file" in result["reason"]
    assert result["badges"] == ["available"]


@pytest.mark.parametrize("content, needle", [
    ('[1, 2]', "JSON object"), ('{"a": "high"}', "not finite numbers"), ("{oops", "not valid JSON"),
    ('{"a": true}', "not finite numbers")])
def test_bad_metrics_fail_with_reason(tmp_path, content, needle):
    (tmp_path / "payload.json").write_text(content)
    art = command_artifact(tmp_path / "a", "cp payload.json m.json", files={"payload.json": content})
    result, _ = run(art)
    assert result["status"] == "failed" and needle in result["reason"]


def test_metrics_symlink_to_host_file_is_refused(tmp_path):
    art = command_artifact(tmp_path / "link", "ln -sf /etc/shadow m.json")
    result, _ = run(art)
    assert result["status"] == "failed" and "outside the artifact" in result["reason"]


def test_two_experiments_and_missing_metric(tmp_path):
    art = write_artifact(tmp_path / "two", """
        [artifact]
        timeout = "1m"
        [[experiment]]
        id = "A"
        command = "echo '{\\"x\\": 2}' > a.json"
        metrics = "a.json"
        [[experiment]]
        id = "B"
        command = "echo '{\\"y\\": 5}' > b.json"
        metrics = "b.json"
        [[claim]]
        id = "C1"
        experiment = "A"
        metric = "x"
        value = 2
        direction = "about"
        [[claim]]
        id = "C2"
        experiment = "B"
        metric = "z"
        value = 1
        """)
    result, _ = run(art)
    assert result["metrics"] == {"A": {"x": 2.0}, "B": {"y": 5.0}}
    assert [c["passed"] for c in result["checks"]] == [True, False]
    assert result["checks"][1]["measured"] is None
    assert result["status"] == "failed" and result["badges"] == ["available", "functional"]


def test_gpu_rig_without_gpu_is_an_error(tmp_path):
    if os.path.exists("/dev/nvidia0"):
        pytest.skip("this machine has a GPU")
    result, _ = run(logreg_artifact(tmp_path / "g", claimed=0.9), rig="gpu")
    assert result["status"] == "error" and "GPU" in result["reason"]


def test_run_artifact_dir_with_given_workdir(tmp_path):
    art = logreg_artifact(tmp_path / "a", claimed=0.9)
    outcome = run_artifact_dir(art, load_manifest(art), workdir=tmp_path / "run", on_log=lambda _: None,
                               limits=TEST_LIMITS, snapshot_stored=False)
    assert outcome.status == "passed" and outcome.badges == ["functional", "reproduced"]
    assert (tmp_path / "run" / "artifact" / "results" / "e1.json").exists()
    assert outcome.experiments[0].exit_code == 0


# --- the CLI -----------------------------------------------------------------------------------------------

def test_cli_json_and_exit_codes(tmp_path, capsys):
    art = logreg_artifact(tmp_path / "a", claimed=0.995, tolerance="0")
    assert main([str(art), "--json"]) == 0  # completed, whatever it found
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "failed" and out["checks"][0]["claim"] == "C1"


def test_cli_typo_exits_2_with_line_number(tmp_path, capsys):
    art = logreg_artifact(tmp_path / "a", claimed=0.9)
    text = (art / "reproduce.toml").read_text().replace("command =", "comand =")
    (art / "reproduce.toml").write_text(text)
    assert main([str(art)]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'comand' in [[experiment]] #1 (line 7); did you mean 'command'?" in err
    assert main([str(art), "--json"]) == 2
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "error" and out["errors"][0]["line"] == 7


def test_cli_unsafe_no_sandbox(tmp_path, capsys):
    art = logreg_artifact(tmp_path / "a", claimed=0.9)
    assert main([str(art), "--json", "--unsafe-no-sandbox"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["status"] == "passed"
    assert "WITHOUT the sandbox" in captured.err


@pytest.mark.slow
def test_mcu_fixture_through_the_same_pipeline():
    """The MCU rig's build runs in this sandbox; its metrics are judged like any other run's."""
    import shutil
    missing = [t for t in ("qemu-system-arm", "arm-none-eabi-gcc", "arm-none-eabi-size", "make") if not shutil.which(t)]
    if missing:
        pytest.skip(f"MCU toolchain not installed: {', '.join(missing)}")
    result, lines = run(Path(__file__).resolve().parent / "mcu_fixture")
    assert result["status"] == "passed", (result, lines[-20:])
    assert result["metrics"]["E1"]["accuracy"] >= 0.85 and result["metrics"]["E1"]["flash_bytes"] > 0
    assert result["badges"] == ["available", "functional", "reproduced"]


def test_cancel_kills_the_running_experiment_and_starts_no_more(tmp_path):
    import threading

    marker = f"rr-cancel-{uuid.uuid4().hex}"
    art = write_artifact(tmp_path / "c", f"""
        [artifact]
        timeout = "1m"
        [[experiment]]
        id = "A"
        command = "sleep 300 & echo {marker}; python -c 'import time; time.sleep(300)' {marker}"
        metrics = "a.json"
        [[experiment]]
        id = "B"
        command = "echo never > b.txt; echo '{{}}' > b.json"
        metrics = "b.json"
        """)
    cancel = threading.Event()

    def on_log(line: str) -> None:
        if line == marker:
            threading.Timer(0.3, cancel.set).start()

    t0 = time.monotonic()
    result = reproduce(art, on_log=on_log, limits=TEST_LIMITS, cancel=cancel, workdir=tmp_path / "run")
    assert result["status"] == "cancelled" and time.monotonic() - t0 < 5
    assert not (tmp_path / "run" / "artifact" / "b.txt").exists()  # B never started
    assert processes_with(marker) == []


def test_json_shape_is_designs(tmp_path, capsys):
    art = logreg_artifact(tmp_path / "a", claimed=0.9)
    assert main([str(art), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"status", "reason", "metrics", "checks", "badges", "duration_s"}
    assert set(out["metrics"]) == {"E1"} and set(out["metrics"]["E1"]) == {"accuracy", "loss"}  # experiment -> metric
    assert set(out["checks"][0]) == {"claim", "metric", "claimed", "measured", "passed"}
    assert out["status"] == "passed" and out["badges"] == ["available", "functional", "reproduced"]
    assert isinstance(out["duration_s"], float) and out["reason"] is None
