"""The mcu rig end to end: build the fixture firmware, boot it in QEMU (mps2-an386), measure.

Needs qemu-system-arm and arm-none-eabi-gcc (Debian: qemu-system-arm gcc-arm-none-eabi);
skipped with a reason when they are missing.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from runners.mcu_protocol import McuClient, McuProtocolError, McuTimeoutError
from runners.rigs.mcu import McuRigError, McuRigTimeout, QemuDut, run_mcu

FIXTURE = Path(__file__).resolve().parent / "mcu_fixture"
MISSING = [t for t in ("qemu-system-arm", "arm-none-eabi-gcc", "arm-none-eabi-size", "make") if not shutil.which(t)]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"MCU toolchain not installed: {', '.join(MISSING)}")

MCU = {"board": "qemu-mps2-an386", "build": "make", "firmware": "build/firmware.elf", "testset": "data/test.npz"}


def _copy_fixture(dst: Path) -> Path:
    shutil.copytree(FIXTURE, dst, ignore=shutil.ignore_patterns("build", "__pycache__"))
    return dst


def _make_model_module(workdir: Path):
    spec = importlib.util.spec_from_file_location("mcu_fixture_make_model", workdir / "make_model.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _qemu_processes_for(path: Path) -> list[int]:
    """PIDs whose command line mentions ``path`` (the copy's unique directory)."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if str(path).encode() in (d / "cmdline").read_bytes():
                    pids.append(int(d.name))
            except OSError:
                pass
    return pids


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> Path:
    return _copy_fixture(tmp_path_factory.mktemp("mcu") / "artifact")


def test_accuracy_matches_numpy_int8_reference_and_latency_is_deterministic(artifact):
    logs: list[str] = []
    m1 = run_mcu(artifact, MCU, on_log=logs.append, timeout_s=120)
    m2 = run_mcu(artifact, MCU, timeout_s=120)

    mm = _make_model_module(artifact)
    q = mm.load_model_h(artifact / "model.h")
    with np.load(artifact / "data" / "test.npz") as npz:
        x, y = npz["x"], npz["y"]
    ref_acc = float((mm.int8_predict(q, x) == y).mean())

    assert m1["accuracy"] == ref_acc
    assert 0.8 < ref_acc < 1.0
    assert m1["inferences"] == len(y)
    assert m1["flash_bytes"] > 0 and m1["ram_bytes"] > 0
    for key in ("latency_us_median", "latency_us_p90", "latency_icount_median", "latency_icount_p90"):
        assert m1[key] > 0, key
    assert m1["latency_us_median"] == pytest.approx(m1["latency_icount_median"] / 64.0)
    assert m1 == m2  # icount: same instructions, same timer readings
    assert any(line.startswith("qemu: ") and "-icount shift=3" in line for line in logs)
    assert not _qemu_processes_for(artifact / "build")


def test_firmware_logits_are_bit_exact(artifact):
    """Every test input's int8 logits (printed as q/128) equal the numpy reference."""
    if not (artifact / "build" / "firmware.elf").exists():
        subprocess.run(["make"], cwd=artifact, check=True, capture_output=True)
    mm = _make_model_module(artifact)
    q = mm.load_model_h(artifact / "model.h")
    with np.load(artifact / "data" / "test.npz") as npz:
        x = npz["x"][:60]
    ref = mm.int8_forward(q, x).astype(np.int64)
    with QemuDut("qemu-mps2-an386", artifact / "build" / "firmware.elf", 3, "qemu-system-arm", lambda _l: None) as port:
        assert _qemu_processes_for(artifact / "build")  # the check used elsewhere does see QEMU
        client = McuClient(port, timeout_s=5)
        client.wait_ready()
        assert client.name().startswith("dut-[")
        got = []
        for row in x:
            client.load(row.view(np.uint8).tobytes())
            got.append(client.infer(1, 0).scores)
        assert client.results() == got[-1]
    got_q = np.rint(np.array(got) * 128).astype(np.int64)
    np.testing.assert_array_equal(got_q, ref)


def test_firmware_that_never_answers_times_out_and_qemu_is_killed(tmp_path):
    work = _copy_fixture(tmp_path / "mute")
    with pytest.raises(McuTimeoutError, match=r"name%: no complete answer"):
        run_mcu(work, dict(MCU, build="make FAULT=MUTE"), timeout_s=60, command_timeout_s=1.0)
    assert not _qemu_processes_for(work / "build")


def test_overall_timeout_is_a_rig_timeout(tmp_path):
    work = _copy_fixture(tmp_path / "mute")
    subprocess.run(["make", "FAULT=MUTE"], cwd=work, check=True, capture_output=True)
    with pytest.raises(McuRigTimeout) as exc:
        run_mcu(work, dict(MCU, build=None), timeout_s=2.5, command_timeout_s=30)
    assert isinstance(exc.value, TimeoutError)
    assert not _qemu_processes_for(work / "build")


def test_garbage_answer_is_a_clear_error(tmp_path):
    work = _copy_fixture(tmp_path / "garbage")
    with pytest.raises(McuProtocolError, match=r"infer 1 0%: garbage from the DUT"):
        run_mcu(work, dict(MCU, build="make FAULT=GARBAGE"), timeout_s=60)
    assert not _qemu_processes_for(work / "build")


def test_truncated_answer_is_a_clear_error(tmp_path):
    work = _copy_fixture(tmp_path / "truncated")
    with pytest.raises(McuTimeoutError, match=r"partial line 'm-results-\[0.1'"):
        run_mcu(work, dict(MCU, build="make FAULT=TRUNCATED"), timeout_s=60, command_timeout_s=1.0)
    assert not _qemu_processes_for(work / "build")


def test_build_failure_and_bad_testset_are_rig_errors(tmp_path):
    work = _copy_fixture(tmp_path / "bad")
    with pytest.raises(McuRigError, match=r"build 'exit 3' failed with exit status 3"):
        run_mcu(work, dict(MCU, build="exit 3"), timeout_s=30)
    np.savez(work / "data" / "float.npz", x=np.zeros((3, 32), np.float32), y=np.zeros(3, np.int64))
    with pytest.raises(McuRigError, match="x must be uint8 or int8"):
        run_mcu(work, dict(MCU, testset="data/float.npz"), timeout_s=30)
    with pytest.raises(McuRigError, match="outside the artifact"):
        run_mcu(work, dict(MCU, testset="../../etc/passwd"), timeout_s=30)
    with pytest.raises(McuRigError, match="board"):
        run_mcu(work, dict(MCU, board="esp32"), timeout_s=30)
    with pytest.raises(McuRigError, match="serial port"):
        run_mcu(work, dict(MCU, board="nano33ble"), timeout_s=30)


def test_wrong_input_width_is_reported_by_the_dut(tmp_path):
    work = _copy_fixture(tmp_path / "width")
    np.savez(work / "data" / "wide.npz", x=np.zeros((2, 40), np.int8), y=np.zeros(2, np.int64))
    with pytest.raises(McuProtocolError, match=r"db load 40%: DUT reported e-\[db load: model takes 32 bytes\]"):
        run_mcu(work, dict(MCU, testset="data/wide.npz"), timeout_s=60)
    assert not _qemu_processes_for(work / "build")


def test_fixture_manifest_is_consistent():
    import tomllib

    manifest = tomllib.loads((FIXTURE / "reproduce.toml").read_text())
    assert manifest["artifact"]["rig"] == "mcu"
    assert {k: manifest["mcu"][k] for k in MCU} == dict(MCU, board="qemu-mps2-an386")
    claim = manifest["claim"][0]
    assert claim["experiment"] in {e["id"] for e in manifest["experiment"]}
    assert claim["metric"] == "accuracy"
    assert os.path.getsize(FIXTURE / "data" / "test.npz") < 20_000


def test_a_cancelled_measurement_stops_at_once_and_qemu_is_killed(artifact):
    """Cancelling a run reaches the measuring loop too (before, only the build step could be cancelled)."""
    import threading

    from runners.rigs.mcu import McuRigCancelled

    cancel = threading.Event()

    def log(line: str) -> None:
        if line.startswith("infer 1/"):
            cancel.set()

    with pytest.raises(McuRigCancelled, match="cancelled after 1 of"):
        run_mcu(artifact, MCU, on_log=log, timeout_s=120, cancel=cancel)
    assert not _qemu_processes_for(artifact / "build")
