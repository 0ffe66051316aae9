"""The format check against real course PDFs whose verdicts were measured with poppler (shared/corpus/INDEX.md)."""

import re
from pathlib import Path

import pytest

from app.pdf import check_pdf_file

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
