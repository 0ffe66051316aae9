"""The ``mcu`` rig: build an MCU artifact, run its test set through the DUT protocol, measure.

``run_mcu`` reads the manifest's ``[mcu]`` table (DESIGN.md): ``board``, ``build``,
``firmware``, ``testset``. Steps:

1. run ``build`` in the artifact directory (as given; the caller sandboxes it, or passes
   ``run_build`` to run it its own way);
   The test set's row width is checked against ``[mcu] input_bytes`` (when given) before
   anything is built or sent; without it the firmware's own check on the first inference
   decides (its unprefixed complaint fails the run, see runners/mcu_protocol.py);
2. ``flash_bytes`` / ``ram_bytes`` from ``arm-none-eabi-size`` (Berkeley: text+data /
   data+bss, where bss includes NOLOAD sections such as a reserved stack);
3. start the DUT:
   * ``qemu-mps2-an386``: ``qemu-system-arm -M mps2-an386 -kernel firmware.elf -icount
     shift=N``, UART0 on a Unix socket this process listens on (no TCP port to race for; no
     NIC, no monitor). QEMU is killed at the end, on error and on timeout, always;
   * ``nano33ble``: runs ``flash_command`` (rig configuration, e.g. ``arduino-cli upload -p
     {port} ...``) and talks to ``port`` (e.g. /dev/ttyACM0) with pyserial. Thin and untested
     here (no board on CI);
4. ``name%``, then for each test-set row: ``db load N%``, hex chunks, ``infer 1 0%``; the
   arg-max of ``m-results-[...]`` is the prediction;
5. metrics: ``accuracy``, ``latency_us_median``, ``latency_us_p90``, ``flash_bytes``,
   ``ram_bytes``, ``inferences``; on QEMU also ``latency_icount_median`` /
   ``latency_icount_p90``.

Latency on QEMU is an instruction-count proxy. With ``-icount shift=N`` QEMU's virtual clock
advances exactly 2**N ns per guest instruction, and the firmware timestamps inference with a
25 MHz board timer (CMSDK TIMER0; the fixture prints ``m-lap-ns-``), so
``instructions = elapsed_ns / 2**N`` up to one timer tick (40 ns = 40 instructions at N=0,
5 at N=3). ``latency_us_*`` on QEMU is that instruction count divided by ``proxy_mhz``
(default 64, the Nano 33 BLE's nRF52840 clock), i.e. "µs on a 64 MHz core at one instruction
per cycle" -- a deterministic proxy, not a measurement of any real chip. On the real board
``latency_us_*`` are the firmware's own ``m-lap-us-`` (or ``m-lap-ns-``) differences.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from runners.mcu_protocol import McuClient, McuProtocolError, McuTimeoutError, SocketPort

__all__ = ["BOARDS", "McuRigError", "McuRigTimeout", "QemuDut", "run_mcu", "elf_sizes"]

BOARDS = ("qemu-mps2-an386", "nano33ble")
QEMU_MACHINE = {"qemu-mps2-an386": "mps2-an386"}
DEFAULT_ICOUNT_SHIFT = 3


class McuRigError(RuntimeError):
    """The artifact could not be built, booted or measured (bad config, build failure, ...)."""


class McuRigCancelled(McuRigError):
    """The run was cancelled while the board or QEMU was measuring; QEMU is stopped."""


class McuRigTimeout(McuRigError, TimeoutError):
    """The whole run went past ``timeout_s``."""


def _get(mcu: Any, key: str, default: Any = None) -> Any:
    if isinstance(mcu, dict):
        return mcu.get(key, default)
    return getattr(mcu, key, default)


def _inside(workdir: Path, rel: str, what: str) -> Path:
    p = (workdir / rel).resolve()
    if not p.is_relative_to(workdir.resolve()):
        raise McuRigError(f"[mcu] {what} = {rel!r} points outside the artifact directory")
    return p


def _kill_group(proc: subprocess.Popen, grace_s: float = 2.0) -> None:
    """Terminate ``proc`` and its process group; escalate to SIGKILL; reap it."""
    if proc.poll() is None:
        for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                try:
                    proc.send_signal(sig)
                except ProcessLookupError:
                    pass
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
    else:
        try:  # leader gone; make sure nothing it spawned lingers
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _run_command(cmd: str | list[str], cwd: Path, timeout_s: float, on_log: Callable[[str], None], what: str) -> None:
    if timeout_s <= 0:
        raise McuRigTimeout(f"{what}: no time left")
    shell = isinstance(cmd, str)
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        shell=shell,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        raise McuRigTimeout(f"{what} {cmd!r} did not finish within {timeout_s:.0f} s") from None
    finally:
        _kill_group(proc)
    text = out.decode("utf-8", errors="replace")
    lines = text.splitlines()
    for line in lines[-200:]:
        on_log(f"{what}: {line}")
    if proc.returncode != 0:
        tail = "\n".join(lines[-15:])
        raise McuRigError(f"{what} {cmd!r} failed with exit status {proc.returncode}:\n{tail}")


def elf_sizes(elf: Path, size_binary: str = "arm-none-eabi-size") -> tuple[int, int]:
    """(flash_bytes, ram_bytes) = (text+data, data+bss) from ``size`` (Berkeley format)."""
    exe = shutil.which(size_binary)
    if exe is None:
        raise McuRigError(f"{size_binary} not found (install gcc-arm-none-eabi / binutils-arm-none-eabi)")
    res = subprocess.run([exe, "-B", "-d", str(elf)], capture_output=True, text=True, timeout=30)
    if res.returncode != 0:
        raise McuRigError(f"{size_binary} could not read {elf.name}: {res.stderr.strip()}")
    rows = [ln.split() for ln in res.stdout.splitlines()[1:] if ln.strip()]
    try:
        text_b, data_b, bss_b = (int(v) for v in rows[0][:3])
    except (IndexError, ValueError):
        raise McuRigError(f"unexpected {size_binary} output: {res.stdout!r}") from None
    return text_b + data_b, data_b + bss_b


def _load_testset(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "x" not in npz or "y" not in npz:
                raise McuRigError(f"test set {path.name}: needs arrays 'x' and 'y', has {sorted(npz.files)}")
            x, y = npz["x"], npz["y"]
    except McuRigError:
        raise
    except Exception as exc:
        raise McuRigError(f"test set {path.name} is not a readable .npz: {exc}") from exc
    if x.dtype not in (np.uint8, np.int8):
        raise McuRigError(f"test set {path.name}: x must be uint8 or int8, is {x.dtype}")
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise McuRigError(f"test set {path.name}: x must be N x input-length, is {x.shape}")
    if y.ndim != 1 or y.shape[0] != x.shape[0] or not np.issubdtype(y.dtype, np.integer):
        raise McuRigError(f"test set {path.name}: y must be {x.shape[0]} integer labels, is {y.dtype}{y.shape}")
    return np.ascontiguousarray(x).view(np.uint8), y.astype(np.int64)


class QemuDut:
    """qemu-system-arm with UART0 connected to a Unix socket we listen on.

    ``with QemuDut(board, elf, shift, "qemu-system-arm", log) as port: McuClient(port)...``
    -- or ``start(deadline)`` / ``stop()``; ``stop`` always kills QEMU's process group.
    """

    def __init__(self, board: str, elf: Path, icount_shift: int | None, qemu_binary: str, on_log) -> None:
        self.exe = shutil.which(qemu_binary)
        if self.exe is None:
            raise McuRigError(f"{qemu_binary} not found (install qemu-system-arm)")
        self.board, self.elf, self.icount_shift, self.on_log = board, elf, icount_shift, on_log
        self.tmp = Path(tempfile.mkdtemp(prefix="rr-mcu-"))
        self.proc: subprocess.Popen | None = None
        self.listener: socket.socket | None = None
        self.port: SocketPort | None = None

    def start(self, deadline: float) -> SocketPort:
        sock_path = self.tmp / "uart0.sock"
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(sock_path))
        self.listener.listen(1)
        self.listener.settimeout(0.1)
        argv = [
            self.exe, "-M", QEMU_MACHINE[self.board], "-display", "none", "-monitor", "none",
            "-nic", "none", "-serial", f"unix:{sock_path}", "-kernel", str(self.elf),
        ]  # fmt: skip
        if self.icount_shift is not None:
            argv += ["-icount", f"shift={self.icount_shift}"]
        self.on_log("qemu: " + " ".join(argv))
        self.stderr = open(self.tmp / "qemu.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self.stderr, stderr=subprocess.STDOUT, start_new_session=True
        )
        while True:
            try:
                conn, _ = self.listener.accept()
                break
            except TimeoutError:
                if self.proc.poll() is not None:
                    raise McuRigError(f"QEMU exited with status {self.proc.returncode}: {self.log_tail()}") from None
                if time.monotonic() > deadline:
                    raise McuRigTimeout("QEMU did not connect its UART in time") from None
        conn.setblocking(True)
        self.port = SocketPort(conn)
        return self.port

    def __enter__(self) -> SocketPort:
        try:
            return self.start(time.monotonic() + 30)
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    def log_tail(self) -> str:
        try:
            return (self.tmp / "qemu.log").read_text(errors="replace")[-1000:].strip()
        except OSError:
            return ""

    def stop(self) -> None:
        if self.port is not None:
            self.port.close()
            self.port = None
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        if self.proc is not None:
            _kill_group(self.proc)
            tail = self.log_tail()
            if tail:
                self.on_log("qemu: " + tail)
            self.stderr.close()
            self.proc = None
        shutil.rmtree(self.tmp, ignore_errors=True)


def run_mcu(
    workdir: Path,
    mcu: dict | Any,
    testset_path: Path | str | None = None,
    *,
    on_log: Callable[[str], None] | None = None,
    timeout_s: float = 1800.0,
    icount_shift: int = DEFAULT_ICOUNT_SHIFT,
    command_timeout_s: float = 10.0,
    proxy_mhz: float = 64.0,
    port: str | None = None,
    baudrate: int = 115200,
    flash_command: str | list[str] | None = None,
    run_build: Callable[[str | list[str], Path, float], None] | None = None,
    qemu_binary: str = "qemu-system-arm",
    cancel: threading.Event | None = None,
    size_binary: str = "arm-none-eabi-size",
) -> dict[str, float]:
    """Build, boot and measure one MCU artifact; returns metric name -> value.

    ``mcu`` is the manifest's ``[mcu]`` table as a dict or an object with those attributes.
    ``testset_path`` overrides ``mcu.testset`` (which is resolved inside ``workdir``).
    ``port`` / ``baudrate`` / ``flash_command`` are rig configuration for ``nano33ble``;
    ``flash_command`` may use ``{firmware}`` and ``{port}``. ``run_build(cmd, cwd, timeout_s)``
    replaces the plain subprocess used for ``build`` and ``flash_command`` (raise on failure).

    Raises McuRigTimeout (a TimeoutError) when ``timeout_s`` runs out, McuTimeoutError (also a
    TimeoutError) when the DUT stops answering within ``command_timeout_s``, McuProtocolError
    for a malformed or error answer, McuRigError for everything else. QEMU never outlives it.
    """
    log = on_log or (lambda _line: None)
    workdir = Path(workdir)
    t_start = time.monotonic()
    deadline = t_start + timeout_s

    def remaining() -> float:
        return deadline - time.monotonic()

    board = _get(mcu, "board")
    if board not in BOARDS:
        raise McuRigError(f"[mcu] board = {board!r}: must be one of {', '.join(BOARDS)}")
    firmware_rel = _get(mcu, "firmware")
    if not isinstance(firmware_rel, str) or not firmware_rel:
        raise McuRigError("[mcu] firmware is required (path of the built ELF)")
    if testset_path is None:
        rel = _get(mcu, "testset")
        if not isinstance(rel, str) or not rel:
            raise McuRigError("[mcu] testset is required")
        testset_path = _inside(workdir, rel, "testset")
    x, y = _load_testset(Path(testset_path))
    input_bytes = _get(mcu, "input_bytes")
    if input_bytes is not None and x.shape[1] != int(input_bytes):
        raise McuRigError(f"test set rows are {x.shape[1]} bytes wide but [mcu] input_bytes = {input_bytes} "
                          "(the model's input): nothing was sent to the board")
    if input_bytes is None:
        log(f"[mcu] input_bytes not given: the row width ({x.shape[1]} B) is checked by the firmware itself on the "
            "first inference (an unprefixed complaint such as 'Input db has N elemented' fails the run)")
    harmless = tuple(_get(mcu, "harmless", ()) or ())

    build = _get(mcu, "build")
    runner = run_build or (lambda cmd, cwd, t: _run_command(cmd, cwd, t, log, "build"))
    if build:
        log(f"build: {build}")
        runner(build, workdir, remaining())
    if remaining() <= 0:
        raise McuRigTimeout(f"run took longer than {timeout_s:.0f} s (during the build)")
    elf = _inside(workdir, firmware_rel, "firmware")
    if not elf.is_file():
        raise McuRigError(f"[mcu] firmware {firmware_rel!r} does not exist after the build")
    flash_bytes, ram_bytes = elf_sizes(elf, size_binary)
    log(f"size: flash {flash_bytes} B, ram {ram_bytes} B")

    qemu: QemuDut | None = None
    serial_port = None
    try:
        if board in QEMU_MACHINE:
            qemu = QemuDut(board, elf, icount_shift, qemu_binary, log)
            dut_port = qemu.start(deadline)
        else:
            if not port:
                raise McuRigError("board nano33ble needs the rig's serial port (e.g. /dev/ttyACM0)")
            if flash_command:
                cmd = (
                    flash_command.format(firmware=elf, port=port)
                    if isinstance(flash_command, str)
                    else [a.format(firmware=elf, port=port) for a in flash_command]
                )
                (run_build or (lambda c, cwd, t: _run_command(c, cwd, t, log, "flash")))(cmd, workdir, remaining())
            serial_port = dut_port = _open_serial(port, baudrate, deadline)
        client = McuClient(dut_port, timeout_s=command_timeout_s, on_log=log, deadline=deadline, harmless=harmless)
        if qemu is not None:
            # EEMBC firmware prints "m-init-done", "m-ready" after reset. Waiting for it keeps
            # "name%" from reaching a UART that is not enabled yet (QEMU's CMSDK UART then
            # stalls its input). A firmware without a banner costs two seconds here.
            try:
                client.wait_ready(timeout_s=min(2.0, command_timeout_s))
            except McuTimeoutError:
                log("dut: no boot banner (m-ready) within 2 s; sending name% anyway")
        name = client.name()
        log(f"dut: {name}")
        preds = np.empty(len(y), dtype=np.int64)
        lat_us = np.full(len(y), np.nan)
        lat_icount = np.full(len(y), np.nan)
        t_loop = time.monotonic()
        for i in range(len(y)):
            if cancel is not None and cancel.is_set():
                raise McuRigCancelled(f"cancelled after {i} of {len(y)} inferences")
            client.load(x[i].tobytes())
            res = client.infer(1, 0)
            preds[i] = res.predicted
            if res.elapsed_ns is not None or res.elapsed_us is not None:
                ns = res.elapsed_ns if res.elapsed_ns is not None else res.elapsed_us * 1000
                if qemu is not None:
                    lat_icount[i] = ns / float(1 << icount_shift)
                    lat_us[i] = lat_icount[i] / proxy_mhz
                else:
                    lat_us[i] = ns / 1000.0
            if i % 100 == 0 or i == len(y) - 1:
                log(f"infer {i + 1}/{len(y)}: scores {res.scores} -> {preds[i]} (label {y[i]})")
        wall = time.monotonic() - t_loop
    except McuTimeoutError as exc:
        if remaining() <= 0:
            raise McuRigTimeout(f"run took longer than {timeout_s:.0f} s: {exc}") from exc
        raise
    except (McuProtocolError, McuRigError):
        raise
    except TimeoutError as exc:
        raise McuRigTimeout(str(exc)) from exc
    finally:
        if serial_port is not None:
            serial_port.close()
        if qemu is not None:
            qemu.stop()

    metrics: dict[str, float] = {
        "accuracy": float((preds == y).mean()),
        "flash_bytes": float(flash_bytes),
        "ram_bytes": float(ram_bytes),
        "inferences": float(len(y)),
    }
    if not np.isnan(lat_us).any():
        metrics["latency_us_median"] = float(np.median(lat_us))
        metrics["latency_us_p90"] = float(np.percentile(lat_us, 90))
    else:
        log("dut printed no m-lap-us-/m-lap-ns- timestamps: no latency metrics")
    if qemu is not None and not np.isnan(lat_icount).any():
        metrics["latency_icount_median"] = float(np.median(lat_icount))
        metrics["latency_icount_p90"] = float(np.percentile(lat_icount, 90))
    log(f"{len(y)} inferences in {wall:.2f} s wall ({len(y) / max(wall, 1e-9):.0f}/s incl. transfers); {metrics}")
    return metrics


def _open_serial(port: str, baudrate: int, deadline: float):
    """Open the board's USB serial port, retrying while it re-enumerates after flashing."""
    import serial  # pyserial

    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            s = serial.Serial(port, baudrate, timeout=0.25)
            time.sleep(0.5)  # let the sketch print its banner
            s.reset_input_buffer()
            return s
        except serial.SerialException as exc:
            last = exc
            time.sleep(0.5)
    raise McuRigTimeout(f"could not open serial port {port}: {last}")
