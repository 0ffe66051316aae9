"""McuClient against a scripted fake serial port (no QEMU, no toolchain needed)."""

from __future__ import annotations

import time

import pytest

from runners.mcu_protocol import McuClient, McuDutComplaint, McuProtocolError, McuTimeoutError, parse_results


class FakePort:
    """pyserial-like port: each command written ("...%") queues the scripted reply."""

    def __init__(self, replies: dict[str, bytes | list[bytes]], banner: bytes = b"") -> None:
        self.replies = replies
        self.timeout = 1.0
        self.rx = bytearray(banner)
        self.written: list[str] = []
        self._pending = b""

    @property
    def in_waiting(self) -> int:
        return len(self.rx)

    def write(self, data: bytes) -> int:
        self._pending += data
        while b"%" in self._pending:
            cmd, _, self._pending = self._pending.partition(b"%")
            cmd_s = cmd.decode()
            self.written.append(cmd_s)
            key = cmd_s if cmd_s in self.replies else cmd_s.split(" ")[0]
            reply = self.replies.get(key, b"")
            if isinstance(reply, list):
                reply = reply.pop(0)
            self.rx.extend(reply)
        return len(data)

    def read(self, size: int = 1) -> bytes:
        if not self.rx:
            time.sleep(min(self.timeout, 0.05))
            return b""
        out = bytes(self.rx[:size])
        del self.rx[:size]
        return out


INFER_OK = (
    b"m-warmup-start-0\r\nm-warmup-done\r\nm-infer-start-1\r\n"
    b"m-lap-us-4294967290\r\nm-lap-ns-4294967000\r\nm-lap-us-5\r\nm-lap-ns-2000\r\n"
    b"m-infer-done\r\nm-results-[0.100,-0.500,0.900,0.900]\r\nm-ready\r\n"
)


def test_parse_results():
    assert parse_results("m-results-[0.1,0.9]") == [0.1, 0.9]
    assert parse_results("m-results-[-1.000, 2e-3]") == [-1.0, 0.002]
    for bad in ["m-results-[0.1,0.", "m-results-[]", "m-results-[a,b]", "m-results-0.1,0.2", "m-results-[0.1,,0.2]"]:
        with pytest.raises(McuProtocolError, match="malformed results"):
            parse_results(bad)


def test_infer_parses_scores_and_wrapping_laps():
    port = FakePort({"infer": INFER_OK})
    res = McuClient(port).infer(1, 0)
    assert port.written == ["infer 1 0"]
    assert res.scores == [0.1, -0.5, 0.9, 0.9]
    assert res.predicted == 2  # first maximum, like numpy.argmax
    assert res.elapsed_us == 11  # 4294967290 -> 5 wraps mod 2**32
    assert res.elapsed_ns == 2296
    assert res.latency_us == pytest.approx(2.296)


def test_load_sends_announce_and_hex_chunks():
    data = bytes(range(40))
    port = FakePort(
        {
            "db load 40": b"m-[Expecting 40 bytes]\r\nm-ready\r\n",
            "db": [b"m-ready\r\n", b"m-load-done\r\nm-ready\r\n"],
        }
    )
    McuClient(port, chunk_bytes=32).load(data)
    assert port.written == ["db load 40", "db " + data[:32].hex(), "db " + data[32:].hex()]
    assert all(len(c) + 1 <= 80 for c in port.written)


def test_load_without_load_done_is_an_error():
    port = FakePort({"db load 2": b"m-[Expecting 2 bytes]\r\nm-ready\r\n", "db": b"m-ready\r\n"})
    with pytest.raises(McuProtocolError, match="m-load-done"):
        McuClient(port).load(b"\x01\x02")


def test_dut_error_line_raises_with_message():
    port = FakePort({"db load 7": b"e-[db load: model takes 32 bytes]\r\nm-ready\r\n"})
    with pytest.raises(McuProtocolError, match=r"model takes 32 bytes"):
        McuClient(port).load(bytes(7))


def test_name_skips_boot_banner():
    port = FakePort(
        {"name": b"m-name-dut-[fake]\r\nm-ready\r\n"},
        banner=b"m-timestamp-mode-performance\r\nm-init-done\r\nm-ready\r\n",
    )
    assert McuClient(port).name() == "dut-[fake]"


def test_silent_dut_times_out_quickly():
    port = FakePort({})
    t = time.monotonic()
    with pytest.raises(McuTimeoutError, match=r"name%: no complete answer .*nothing received"):
        McuClient(port, timeout_s=0.3).name()
    assert time.monotonic() - t < 2


def test_truncated_answer_times_out_showing_partial_line():
    port = FakePort({"infer": b"m-infer-start-1\r\nm-results-[0.1"})
    with pytest.raises(McuTimeoutError, match=r"partial line 'm-results-\[0.1'"):
        McuClient(port, timeout_s=0.3).infer()
    assert isinstance(McuTimeoutError("x"), TimeoutError)


def test_garbage_bytes_are_rejected():
    port = FakePort({"infer": b"m-results-[0.12,0.\xff\xfe\x01zz\r\nm-ready\r\n"})
    with pytest.raises(McuProtocolError, match="garbage"):
        McuClient(port).infer()


def test_missing_or_duplicate_results_line():
    port = FakePort({"infer": [b"m-infer-done\r\nm-ready\r\n", b"m-results-[1]\r\nm-results-[2]\r\nm-ready\r\n"]})
    client = McuClient(port)
    with pytest.raises(McuProtocolError, match="expected one m-results- line, got 0"):
        client.infer()
    with pytest.raises(McuProtocolError, match="got 2"):
        client.infer()


def test_endless_line_is_cut_off():
    port = FakePort({"name": b"m-" + b"x" * 10000})
    with pytest.raises(McuProtocolError, match="longer than"):
        McuClient(port, timeout_s=2).name()


def test_harmless_debug_lines_go_to_log():
    seen: list[str] = []
    port = FakePort({"results": b"hello from printf\r\nm-results-[0.5]\r\nm-ready\r\n"})
    assert McuClient(port, on_log=seen.append, harmless=[r"^hello from"]).results() == [0.5]
    assert seen == ["dut: hello from printf"]


def test_unlisted_unprefixed_line_is_a_complaint_quoted():
    port = FakePort({"results": b"hello from printf\r\nm-results-[0.5]\r\nm-ready\r\n"})
    with pytest.raises(McuDutComplaint, match="'hello from printf'"):
        McuClient(port, harmless=[r"^unrelated"]).results()


def test_expecting_count_must_match_announced():
    port = FakePort({"db": b"m-[Expecting 71 bytes]\r\nm-ready\r\n"})
    with pytest.raises(McuProtocolError, match=r"announced 72 bytes but the DUT answered 'm-\[Expecting 71 bytes\]'"):
        McuClient(port).load(bytes(72))


def test_boot_banner_debug_lines_are_only_logged():
    seen: list[str] = []
    port = FakePort({"name": b"m-name-dut-[x]\r\nm-ready\r\n"}, banner=b"booting v1\r\nm-init-done\r\nm-ready\r\n")
    client = McuClient(port, on_log=seen.append)
    client.wait_ready()
    assert client.name() == "dut-[x]" and seen == ["dut: booting v1"]


def test_overall_deadline_caps_command_timeout():
    port = FakePort({})
    client = McuClient(port, timeout_s=30, deadline=time.monotonic() + 0.2)
    t = time.monotonic()
    with pytest.raises(McuTimeoutError):
        client.command("name")
    assert time.monotonic() - t < 2
