"""Host side of the EEMBC EnergyRunner / MLPerf Tiny DUT protocol (performance mode).

The device under test (DUT) reads ASCII commands terminated by ``%`` and answers with lines
(``\\r\\n``) that start with ``m-`` (message) or ``e-`` (error); every answer ends with the
line ``m-ready``. The subset used here, as in the MLPerf Tiny reference firmware
(``api/internally_implemented.c``)::

    name%               m-name-dut-[<name>]
    profile%            m-profile-[<firmware>], m-model-[<model>]
    timestamp%          m-lap-us-<u32>
    db load N%          m-[Expecting N bytes]         (announce N input bytes)
    db <hex>%           (m-load-done once N bytes arrived) -- hex chunks, <= 32 bytes each here
    infer N W%          m-warmup-start-W, m-warmup-done, m-infer-start-N,
                        m-lap-us-<t0>, m-lap-us-<t1>, m-infer-done, m-results-[f,f,...]
    results%            m-results-[f,f,...]           (of the last inference)

Timing: the EEMBC ``m-lap-us-<u32>`` timestamps are microseconds of board time (mod 2^32); the
host takes the difference of the first and last lap in an ``infer`` answer and divides by N.
Extension: a DUT may also print ``m-lap-ns-<u32>`` (nanoseconds, mod 2^32) next to each
``m-lap-us-``; when present it is used for sub-microsecond resolution (the QEMU fixture does,
since under ``-icount`` one instruction is 2**shift ns of board time).

No silent wrong answers: the official firmware reports some mistakes in lines with neither the
``m-`` nor the ``e-`` prefix (``th_load_tensor``: ``Input db has 71 elemented, expected 72``;
``db load 30000%``: ``Supplied buffer size 30000 exceeds maximum of 27648``) and still ends
with ``m-ready``. So an unprefixed line between a command and its ``m-ready`` fails the command
with :class:`McuDutComplaint`, quoting the line, unless it matches one of the ``harmless``
regular expressions (the manifest's ``[mcu] harmless``); harmless lines go to ``on_log``.
Lines before the boot banner's ``m-ready`` (``wait_ready``) are only logged. Any ``e-`` line
makes the command fail with :class:`McuProtocolError` once the answer is complete. No answer
in time raises :class:`McuTimeoutError`. Every protocol error quotes the line(s) it did not
understand.

``port`` is anything with the pyserial interface used here: ``write(bytes)``, ``read(n)``
(blocks up to ``port.timeout`` seconds, returns what arrived), ``in_waiting`` and a settable
``timeout`` -- e.g. ``serial.Serial("/dev/ttyACM0", 115200)`` or :class:`SocketPort`.
"""

from __future__ import annotations

import fcntl
import re
import select
import socket
import struct
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "InferResult",
    "McuDutComplaint",
    "McuProtocolError",
    "McuTimeoutError",
    "McuClient",
    "SocketPort",
    "parse_results",
]

DEFAULT_CHUNK_BYTES = 32  # 64 hex chars + "db " + "%" stays under the EEMBC 80-char command buffer
MAX_LINE = 4096
MAX_ANSWER_BYTES = 256 * 1024

_RESULTS_RE = re.compile(r"^m-results-\[(.*)\]$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_LAP_RE = re.compile(r"^m-lap-(us|ns)-(\d+)$")


class McuProtocolError(RuntimeError):
    """The DUT answered something the protocol does not allow, reported an error, or hung up."""


class McuDutComplaint(McuProtocolError):
    """The DUT printed an unprefixed line (not listed as harmless) inside a command's answer."""

    def __init__(self, what: str, lines: list[str]) -> None:
        self.lines = lines
        quoted = "; ".join(repr(ln) for ln in lines[:5])
        super().__init__(f"{what}: the DUT complained (a line without m-/e- prefix, not listed as harmless in "
                         f"[mcu] harmless): {quoted}")


_EXPECTING_RE = re.compile(r"^m-\[Expecting (\d+) bytes\]$")


class McuTimeoutError(McuProtocolError, TimeoutError):
    """The DUT did not finish its answer (no ``m-ready``) in time."""


def parse_results(line: str) -> list[float]:
    """``m-results-[0.1,0.9]`` -> ``[0.1, 0.9]``; anything else raises McuProtocolError."""
    m = _RESULTS_RE.match(line.strip())
    if not m:
        raise McuProtocolError(f"malformed results line {line!r} (expected m-results-[f,f,...])")
    parts = [p.strip() for p in m.group(1).split(",")]
    if not parts or any(not _FLOAT_RE.match(p) for p in parts):
        raise McuProtocolError(f"malformed results line {line!r} (not a list of numbers)")
    return [float(p) for p in parts]


@dataclass
class InferResult:
    scores: list[float]
    iterations: int
    elapsed_us: int | None = None  # last lap - first lap, m-lap-us (mod 2^32), all iterations
    elapsed_ns: int | None = None  # same from m-lap-ns when the DUT prints it
    lines: list[str] = field(default_factory=list)

    @property
    def latency_us(self) -> float | None:
        """Per-inference latency in µs of board time (ns-resolution when available)."""
        if self.elapsed_ns is not None:
            return self.elapsed_ns / 1000.0 / self.iterations
        if self.elapsed_us is not None:
            return self.elapsed_us / self.iterations
        return None

    @property
    def predicted(self) -> int:
        return max(range(len(self.scores)), key=lambda i: self.scores[i])  # first max, like argmax


def _lap_delta(laps: list[int]) -> int | None:
    if len(laps) < 2:
        return None
    return (laps[-1] - laps[0]) % (1 << 32)


class McuClient:
    """Synchronous client for one DUT. ``timeout_s`` bounds each command's whole answer."""

    def __init__(
        self,
        port,
        *,
        timeout_s: float = 5.0,
        on_log: Callable[[str], None] | None = None,
        deadline: float | None = None,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        harmless: list[str] | tuple[str, ...] = (),
    ) -> None:
        self.port = port
        self.timeout_s = timeout_s
        self.on_log = on_log or (lambda _line: None)
        self.deadline = deadline  # time.monotonic() value no command may run past (overall budget)
        self.chunk_bytes = chunk_bytes
        self._buf = bytearray()
        self.harmless = [re.compile(h) for h in harmless]

    # -- low level -------------------------------------------------------------------------

    def _deadline_for(self, timeout_s: float | None) -> float:
        d = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        return min(d, self.deadline) if self.deadline is not None else d

    def _read_line(self, deadline: float, what: str) -> str:
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                raw = bytes(self._buf[:nl])
                del self._buf[: nl + 1]
                return raw.rstrip(b"\r").decode("ascii", errors="replace")
            if len(self._buf) > MAX_LINE:
                raise McuProtocolError(f"{what}: DUT sent a line longer than {MAX_LINE} bytes")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                partial = bytes(self._buf[:200]).decode("ascii", errors="replace")
                raise McuTimeoutError(
                    f"{what}: no complete answer from the DUT in time"
                    + (f" (partial line {partial!r})" if partial else " (nothing received)")
                )
            t = min(remaining, 0.25)
            if self.port.timeout != t:
                self.port.timeout = t
            try:
                data = self.port.read(max(1, min(self.port.in_waiting, 65536)))
            except McuProtocolError:
                raise
            except Exception as exc:  # serial.SerialException, OSError, ...
                raise McuProtocolError(f"{what}: reading from the DUT failed: {exc}") from exc
            self._buf.extend(data)

    def read_until_ready(self, what: str = "answer", timeout_s: float | None = None, *,
                         strict: bool = True) -> list[str]:
        """Lines up to (not including) ``m-ready``. Raises on ``e-`` lines after the full answer, and
        (``strict``) on unprefixed lines that no ``harmless`` pattern matches."""
        deadline = self._deadline_for(timeout_s)
        lines: list[str] = []
        errors: list[str] = []
        complaints: list[str] = []
        total = 0
        while True:
            line = self._read_line(deadline, what)
            total += len(line) + 1
            if total > MAX_ANSWER_BYTES:
                raise McuProtocolError(f"{what}: answer longer than {MAX_ANSWER_BYTES} bytes")
            s = line.strip()
            if s == "m-ready":
                break
            if not s:
                continue
            if "\ufffd" in s or any(ord(ch) < 32 for ch in s):
                raise McuProtocolError(f"{what}: garbage from the DUT: {s[:120]!r}")
            if s.startswith("e-"):
                errors.append(s)
            elif s.startswith("m-"):
                lines.append(s)
            elif not strict or any(h.search(s) for h in self.harmless):
                self.on_log(f"dut: {s}")
            else:
                self.on_log(f"dut (complaint?): {s}")
                complaints.append(s)
        if errors:
            raise McuProtocolError(f"{what}: DUT reported {'; '.join(errors)}")
        if complaints:
            raise McuDutComplaint(what, complaints)
        return lines

    def drain(self, quiet_s: float = 0.05) -> None:
        """Discard whatever the DUT already sent (e.g. its boot banner)."""
        self._buf.clear()
        end = time.monotonic() + 1.0
        self.port.timeout = quiet_s
        while time.monotonic() < end:
            try:
                data = self.port.read(max(1, self.port.in_waiting))
            except Exception as exc:
                raise McuProtocolError(f"reading from the DUT failed: {exc}") from exc
            if not data:
                break

    def command(self, cmd: str, timeout_s: float | None = None) -> list[str]:
        """Send ``cmd%`` and return the answer's ``m-`` lines (``m-ready`` excluded)."""
        if "%" in cmd or len(cmd) > 80:
            raise ValueError(f"bad command {cmd!r}")
        try:
            self.port.write(cmd.encode("ascii") + b"%")
        except McuProtocolError:
            raise
        except Exception as exc:
            raise McuProtocolError(f"{cmd}%: writing to the DUT failed: {exc}") from exc
        return self.read_until_ready(f"{cmd}%", timeout_s)

    # -- protocol --------------------------------------------------------------------------

    def wait_ready(self, timeout_s: float | None = None) -> list[str]:
        """Wait for the boot banner's ``m-ready`` (only for DUTs that print one after reset)."""
        return self.read_until_ready("boot", timeout_s, strict=False)

    def name(self, timeout_s: float | None = None) -> str:
        """``name%`` -> e.g. ``dut-[my-board]``. Tolerates a boot banner (``m-init-done``,
        ``m-ready``) still queued before the answer: reads up to three answers."""
        try:
            self.port.write(b"name%")
        except McuProtocolError:
            raise
        except Exception as exc:
            raise McuProtocolError(f"name%: writing to the DUT failed: {exc}") from exc
        seen: list[str] = []
        for _ in range(3):
            answer = self.read_until_ready("name%", timeout_s, strict=False)  # a banner may precede it
            seen += answer
            for line in answer:
                m = re.match(r"^m-name-(.*)$", line)
                if m:
                    return m.group(1)
        raise McuProtocolError(f"name%: no m-name- line in the DUT's answer {seen!r}")

    def profile(self) -> list[str]:
        return self.command("profile")

    def load(self, data: bytes) -> None:
        """``db load N%`` then hex chunks; checks the DUT's acknowledgements: the byte count it
        says it expects must be the one announced, and it must confirm with ``m-load-done``."""
        n = len(data)
        ack = self.command(f"db load {n}")
        expecting = [m for m in (_EXPECTING_RE.match(ln) for ln in ack) if m]
        if not expecting:
            raise McuProtocolError(f"db load {n}%: no m-[Expecting {n} bytes] in the answer {ack!r}")
        if int(expecting[0].group(1)) != n:
            raise McuProtocolError(f"db load {n}%: the rig announced {n} bytes but the DUT answered "
                                   f"{expecting[0].group(0)!r}")
        done = False
        last: list[str] = []
        for i in range(0, n, self.chunk_bytes):
            last = self.command("db " + data[i : i + self.chunk_bytes].hex())
            done = done or "m-load-done" in last
        if not done:
            raise McuProtocolError(f"db: the DUT never confirmed loading {n} bytes (no m-load-done; "
                                   f"last answer {last!r})")

    def infer(self, iterations: int = 1, warmup: int = 0, timeout_s: float | None = None) -> InferResult:
        lines = self.command(f"infer {iterations} {warmup}", timeout_s)
        results = [ln for ln in lines if ln.startswith("m-results-")]
        if len(results) != 1:
            raise McuProtocolError(
                f"infer {iterations} {warmup}%: expected one m-results- line, got {len(results)}: {lines!r}"
            )
        scores = parse_results(results[0])
        us: list[int] = []
        ns: list[int] = []
        for ln in lines:
            m = _LAP_RE.match(ln)
            if m:
                (us if m.group(1) == "us" else ns).append(int(m.group(2)))
        return InferResult(
            scores=scores,
            iterations=iterations,
            elapsed_us=_lap_delta(us),
            elapsed_ns=_lap_delta(ns),
            lines=lines,
        )

    def results(self) -> list[float]:
        lines = [ln for ln in self.command("results") if ln.startswith("m-results-")]
        if len(lines) != 1:
            raise McuProtocolError(f"results%: expected one m-results- line, got {lines!r}")
        return parse_results(lines[0])


class SocketPort:
    """pyserial-like wrapper around a connected stream socket (QEMU's ``-serial unix:``)."""

    def __init__(self, sock: socket.socket, timeout: float = 1.0) -> None:
        self.sock = sock
        self.timeout = timeout

    @property
    def in_waiting(self) -> int:
        buf = fcntl.ioctl(self.sock.fileno(), termios.FIONREAD, struct.pack("i", 0))
        return struct.unpack("i", buf)[0]

    def read(self, size: int = 1) -> bytes:
        out = bytearray()
        end = time.monotonic() + (self.timeout or 0)
        while len(out) < size:
            remaining = end - time.monotonic()
            r, _, _ = select.select([self.sock], [], [], max(0.0, remaining))
            if not r:
                break
            chunk = self.sock.recv(size - len(out))
            if not chunk:
                raise McuProtocolError("the DUT closed the connection (emulator exited?)")
            out.extend(chunk)
        return bytes(out)

    def write(self, data: bytes) -> int:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise McuProtocolError(f"writing to the DUT failed: {exc}") from exc
        return len(data)

    def close(self) -> None:
        self.sock.close()
