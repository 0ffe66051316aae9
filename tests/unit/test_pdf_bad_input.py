"""Bad uploads give an `unreadable` report, quickly and without raising."""

import time
import zlib

import pytest

from app.pdf import check_pdf, check_pdf_file, scrub_metadata
from app.pdf import check as check_module
from app.pdf.scrub import withheld_notice
from tests.unit.pdf_factory import (Paper, one_page_pdf, docx_like, encrypted, endless_operators, flate_bomb,
                                    make_paper)


@pytest.fixture(scope="module")
def good() -> bytes:
    return make_paper(Paper(content_pages=3))


def _assert_unreadable(data: bytes, words: str, seconds: float = 5.0, parses: bool = False) -> None:
    started = time.perf_counter()
    report = check_pdf(data)
    assert time.perf_counter() - started < seconds
    out = report.to_dict()
    assert out["ok"] is False and out["pages_total"] == 0 and out["pages_main"] == 0
    assert [(f["code"], f["severity"]) for f in out["findings"]] == [("unreadable", "error")]
    assert words.lower() in out["findings"][0]["message"].lower(), out["findings"][0]["message"]
    started = time.perf_counter()
    scrubbed = scrub_metadata(data)
    assert time.perf_counter() - started < seconds
    if parses:  # the file structure is sound (the scrub copies streams without decoding them)
        assert scrubbed.startswith(b"%PDF-") and scrubbed != withheld_notice()
    else:  # what cannot be read cannot be vouched for: reviewers get the notice, never the input
        assert scrubbed == withheld_notice()


def test_empty_file() -> None:
    _assert_unreadable(b"", "empty")


def test_renamed_docx() -> None:
    _assert_unreadable(docx_like(), "not a PDF")


def test_plain_text() -> None:
    _assert_unreadable(b"\\documentclass{article}\n\\begin{document}\n", "not a PDF")


def test_encrypted(good: bytes) -> None:
    _assert_unreadable(encrypted(good), "encrypted")


@pytest.mark.parametrize("keep", [0.5, 0.1])
def test_truncated(good: bytes, keep: float) -> None:
    _assert_unreadable(good[: int(len(good) * keep)], "damaged")


def test_garbage_after_the_header() -> None:
    _assert_unreadable(b"%PDF-1.7\n" + bytes(range(256)) * 64, "damaged")


def test_flate_bomb_of_one_gigabyte() -> None:
    bomb = flate_bomb(1 << 30)
    assert len(bomb) < 2_000_000
    _assert_unreadable(bomb, "decompressed", seconds=3.0, parses=True)


def test_millions_of_operators() -> None:
    _assert_unreadable(endless_operators(1_000_000), "too many operators", seconds=5.0, parses=True)


@pytest.mark.parametrize("content", [
    b"BT /F1 10 Tf [" + b"(a)-100" * 400_000 + b"] TJ ET",  # one 2.8 MB line: text rules must stay linear
    b"q " * 1_500_000,  # graphics-state pushes outside text objects
    b"BT " + b"[" * 2_000_000,  # unclosed arrays
    b"BT " + b"(" * 2_000_000,  # unclosed strings
    b"1" * 4_000_000,  # one endless number
], ids=["huge-TJ", "q-flood", "arrays", "strings", "digits"])
def test_hostile_content_streams_are_bounded(content: bytes) -> None:
    started = time.perf_counter()
    report = check_pdf(one_page_pdf(zlib.compress(content), b"/Filter /FlateDecode "))
    assert time.perf_counter() - started < 5.0
    assert report.pages_total in (0, 1)  # read (a page of nonsense) or refused as unreadable


def test_time_budget(good: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(check_module, "TIME_BUDGET_S", 0.0)
    # A document with enough operators to cross the per-256-operator deadline check.
    _assert_unreadable(good, "longer than", parses=True)


def test_missing_file(tmp_path) -> None:  # noqa: ANN001
    report = check_pdf_file(tmp_path / "nope.pdf")
    assert report.errors == {"unreadable"} and report.pages_total == 0
