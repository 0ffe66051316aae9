"""The format check against real course PDFs whose verdicts were measured with poppler (shared/corpus/INDEX.md)."""

import re
from pathlib import Path

import pytest

from app.pdf import check_pdf, check_pdf_file

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
# INDEX.md's verdict words -> finding codes.
VERDICT_CODES = {"not-anonymous": "not-anonymous", "margins": "margins", "paper!=letter": "paper-size",
                 "two-column": "two-column", "font": "font-size", "pages": "pages"}


def _index() -> list[dict[str, str]]:
    if not (CORPUS / "INDEX.md").is_file():
        return []
    rows = [line for line in (CORPUS / "INDEX.md").read_text().splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    return [dict(zip(header, (cell.strip() for cell in row.strip("|").split("|")), strict=False))
            for row in rows[1:] if not set(row) <= set("|- ")]


ROWS = _index()
pytestmark = pytest.mark.skipif(not ROWS, reason=f"the shared PDF corpus is not here ({CORPUS})")


def _codes(verdict: str) -> set[str]:
    words = [w.strip() for w in verdict.split(";") if w.strip() and w.strip() != "ok"]
    return {VERDICT_CODES[w] for w in words}


@pytest.mark.parametrize("row", ROWS, ids=[row["#"] for row in ROWS])
@pytest.mark.parametrize("anonymous", [True, False], ids=["double-blind", "format-only"])
def test_corpus_verdict(row: dict[str, str], anonymous: bool) -> None:
    report = check_pdf_file(CORPUS / row["file"], anonymous=anonymous)
    expected = _codes(row["expected"] if anonymous else row["expected_format_only"])
    assert report.errors == expected, [f.message for f in report.findings]
    assert report.ok is (not expected)
    data = report.to_dict()
    assert data["ok"] is report.ok
    assert data["pages_total"] == int(row["pages"])
    refs = re.match(r"\d+", row["refs_p"])
    assert data["references_page"] == (int(refs.group()) if refs else None)
    assert data["pages_main"] <= data["references_page"]
    assert data["paper_size"] == ("a4" if "A4" in row["paper"] else "letter")
    assert data["two_column"] is ("two-column" in row["expected"])
    assert data["title"] and len(data["title"]) > 5
    if not anonymous:
        assert not any(f.code in {"not-anonymous", "metadata"} for f in report.findings)


def test_corpus_measures_the_text_block() -> None:
    """12's edited style gives a 482 pt block at 65 pt: the message says so in numbers."""
    row = next(r for r in ROWS if r["#"] == "12")
    report = check_pdf_file(CORPUS / row["file"], anonymous=False)
    (margins,) = [f for f in report.findings if f.code == "margins"]
    left, width = map(int, re.findall(r"(\d+) pt", margins.message)[:3:2])
    assert abs(left - 64) <= 3 and abs(width - 484) <= 6, margins.message


def test_corpus_titles() -> None:
    titles = {row["#"]: check_pdf_file(CORPUS / row["file"], anonymous=False).title for row in ROWS}
    assert titles["04"] == "Relative Fair Federated Learning"
    assert titles["07"] == "CS271 Project Final Report: Sokoban Solver"
    assert titles["17"].startswith("Advancing Homepage2Vec with LLM-Annotated Datasets")


# The two format-only reports of issue 18 that were refused for margins with an unmodified style file
# are held out of the shared corpus; these rebuild their faults on a real NeurIPS report (07, format ok).
CODE_LINE = "    solver = SokobanSolver(board, heuristic=manhattan_with_deadlocks, max_depth=400, timeout_s=60.0)  # A"
RUNNING_HEADER = "CS271 Project Final Report: Sokoban Solver, Winter 2023"


def _report_07(drawings: dict) -> object:
    from tests.unit.pdf_factory import overlay

    row = next(r for r in ROWS if r["#"] == "07")
    return check_pdf(overlay((CORPUS / row["file"]).read_bytes(), drawings), anonymous=False)


@pytest.mark.parametrize("lines", [1, 10], ids=["one-code-line", "overfull-listing"])
def test_code_past_the_right_edge_of_one_page_is_a_warning(lines: int) -> None:
    """10 overfull lines on page 3 were a margins error before (they moved the document's 97th percentile)."""
    report = _report_07({3: [(108, 300 - 11 * i, CODE_LINE, "Courier", 9) for i in range(lines)]})
    assert report.ok, [f.message for f in report.findings]
    (finding,) = report.findings
    assert (finding.code, finding.severity, finding.page) == ("margins", "warning", 3)
    assert "solver = SokobanSolver(board" in finding.message and "right margin" in finding.message


def test_a_running_header_in_the_top_margin_is_a_warning() -> None:
    report = _report_07({n: [(200, 745, RUNNING_HEADER, "Times-Italic", 9)] for n in range(2, 8)})
    assert report.ok, [f.message for f in report.findings]
    (finding,) = report.findings
    assert (finding.code, finding.severity, finding.page) == ("margins", "warning", 2)
    assert RUNNING_HEADER in finding.message and "pages 2–7" in finding.message


def test_unmodified_neurips_reports_get_no_margin_warnings() -> None:
    """The NeurIPS notice on page 1, line numbers and page numbers are the style's own: nothing to say."""
    for row in ROWS:
        if row["expected_format_only"] == "ok":
            report = check_pdf_file(CORPUS / row["file"], anonymous=False)
            assert not [f for f in report.findings if f.code == "margins"], (row["#"], report.findings)
