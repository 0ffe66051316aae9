"""check_pdf on generated NeurIPS-like PDFs: each rule fires on its fault and only there."""

import io
import json
import time

import pytest
from pypdf import PdfReader

from app.pdf import Finding, FormatReport, check_pdf
from app.pdf.layout import measure_page
from tests.unit.pdf_factory import A4, Paper, make_paper

MEMBERS = {"member_names": ["Ada Lovelace", "Alan Turing"], "member_emails": ["ada.lovelace@uni.example"]}


@pytest.fixture(scope="module")
def clean() -> bytes:
    return make_paper(Paper(content_pages=9))


def test_anonymous_neurips_paper_passes(clean: bytes) -> None:
    report = check_pdf(clean, **MEMBERS, repo_urls=["https://github.com/ada/fused-attention"])
    assert report.ok, report.findings
    assert report.findings == []
    data = report.to_dict()
    assert data == json.loads(json.dumps(data))  # plain JSON types only
    assert list(data) == ["ok", "pages_total", "pages_main", "references_page", "paper_size", "two_column",
                          "title", "findings"]
    assert data["ok"] is True and data["pages_total"] == 10 and data["pages_main"] == 9
    assert data["references_page"] == 10 and data["paper_size"] == "letter" and data["two_column"] is False
    assert data["title"] == "Fused Attention Kernels for Small Accelerators"


def test_ten_content_pages_exceed_the_limit() -> None:
    report = check_pdf(make_paper(Paper(content_pages=10)))
    assert report.errors == {"pages"} and not report.ok
    (finding,) = report.findings
    assert finding.page == 10 and finding.severity == "error"
    assert "page 10 is main text: the limit is 9 content pages" in finding.message.lower()
    assert report.pages_main == 10 and report.references_page == 11


def test_page_limit_is_a_parameter(clean: bytes) -> None:
    assert check_pdf(clean, page_limit=8).errors == {"pages"}
    assert check_pdf(clean, page_limit=9).errors == set()


def test_references_and_appendix_after_the_limit_do_not_count() -> None:
    report = check_pdf(make_paper(Paper(content_pages=9, appendix_pages=4)))
    assert report.ok, report.findings
    assert (report.pages_total, report.pages_main, report.references_page) == (14, 9, 10)


def test_supplementary_pages_before_the_references_do_not_count() -> None:
    report = check_pdf(make_paper(Paper(content_pages=9, appendix_before_references=3)))
    assert report.ok, report.findings
    assert (report.pages_total, report.pages_main, report.references_page) == (13, 9, 13)


def test_without_references_every_page_is_main_text() -> None:
    report = check_pdf(make_paper(Paper(content_pages=10, references=False)))
    assert report.pages_main == 10 and report.references_page is None
    assert report.errors == {"pages"}


def test_a4_paper() -> None:
    report = check_pdf(make_paper(Paper(pagesize=A4)))
    assert report.paper_size == "a4"
    assert report.errors == {"paper-size"}
    assert "US Letter" in report.findings[0].message


def test_one_inch_margins() -> None:
    report = check_pdf(make_paper(Paper(left=72, width=468)))
    assert report.errors == {"margins"}
    message = report.findings[0].message
    assert "72 pt from the left edge" in message and "468 pt wide" in message


@pytest.mark.parametrize(("left", "width", "bad"), [(108, 396, False), (104, 400, False), (112, 392, False),
                                                    (90, 396, True), (108, 420, True), (108, 370, True)])
def test_margin_tolerance(left: float, width: float, bad: bool) -> None:
    assert ("margins" in check_pdf(make_paper(Paper(left=left, width=width))).errors) is bad


def test_two_columns() -> None:
    report = check_pdf(make_paper(Paper(columns=2, left=54, width=504)))
    assert report.two_column is True
    assert report.errors == {"two-column", "margins"}
    # Two columns inside the NeurIPS block are still two columns.
    inside = check_pdf(make_paper(Paper(columns=2)))
    assert inside.two_column is True and inside.errors == {"two-column"}


def test_small_body_font_is_an_error_and_large_a_warning() -> None:
    small = check_pdf(make_paper(Paper(font_size=9)))
    assert small.errors == {"font-size"} and "9 pt" in small.findings[0].message
    large = check_pdf(make_paper(Paper(font_size=11, content_pages=6)))
    assert large.ok and [(f.code, f.severity) for f in large.findings] == [("font-size", "warning")]


def test_author_in_metadata() -> None:
    data = make_paper(Paper(meta_author="Ada Lovelace"))
    report = check_pdf(data, **MEMBERS)
    assert [(f.code, f.severity) for f in report.findings] == [("metadata", "warning")]
    assert "Ada Lovelace" in report.findings[0].message
    assert check_pdf(data, anonymous=False).findings == []


def test_metadata_title_wins_when_sensible() -> None:
    assert check_pdf(make_paper(Paper(meta_title="Kernels, Fused"))).title == "Kernels, Fused"
    from_page = check_pdf(make_paper(Paper(meta_title="paper.dvi"))).title
    assert from_page == "Fused Attention Kernels for Small Accelerators"


def test_member_name_on_page_five() -> None:
    data = make_paper(Paper(extra={5: "As Ada  Lovelace noted in her 1843 notes, the engine weaves patterns."}))
    report = check_pdf(data, **MEMBERS)
    assert report.errors == {"not-anonymous"}
    (finding,) = report.findings
    assert finding.page == 5 and "Ada Lovelace" in finding.message
    assert check_pdf(data).ok  # nobody's name given: it is just text
    assert check_pdf(data, anonymous=False, **MEMBERS).ok


def test_names_emails_and_affiliations_on_page_one() -> None:
    for authors in (["Grace Hopper, Edsger Dijkstra"], ["Anonymous Author(s)", "University of Edinburgh"],
                    ["Anonymous Author(s)", "grace@navy.example"]):
        report = check_pdf(make_paper(Paper(authors=authors)))
        assert report.errors == {"not-anonymous"}, authors
        assert report.findings[0].page == 1


def test_member_email_user_name_anywhere() -> None:
    data = make_paper(Paper(extra={3: "Code by ada.lovelace is on request."}))
    assert check_pdf(data, **MEMBERS).errors == {"not-anonymous"}


def test_acknowledgements_section() -> None:
    report = check_pdf(make_paper(Paper(acknowledgements=True)))
    assert report.errors == {"not-anonymous"} and "Acknowledgements" in report.findings[0].message


def test_links_to_the_groups_repository_or_a_github_profile() -> None:
    repo = make_paper(Paper(link="https://github.com/ada/fused-attention"))
    assert check_pdf(repo, repo_urls=["https://github.com/ada/fused-attention.git"]).errors == {"not-anonymous"}
    # Someone else's repository is only a warning: it may be a cited baseline.
    other = check_pdf(repo)
    assert other.ok and [(f.code, f.severity) for f in other.findings] == [("not-anonymous", "warning")]
    profile = check_pdf(make_paper(Paper(link="https://github.com/grace-h")))
    assert profile.errors == {"not-anonymous"} and "github.com/grace-h" in profile.findings[0].message
    anonymised = check_pdf(make_paper(Paper(link="https://anonymous.4open.science/r/fused-attention")))
    assert anonymised.ok and anonymised.findings == []


def test_report_types() -> None:
    report = check_pdf(make_paper(Paper(content_pages=10, pagesize=A4)))
    assert isinstance(report, FormatReport) and all(isinstance(f, Finding) for f in report.findings)
    assert report.ok is False and report.to_dict()["ok"] is False
    for finding in report.to_dict()["findings"]:
        assert set(finding) == {"code", "severity", "page", "message"}
        assert finding["severity"] in {"error", "warning"}


@pytest.mark.parametrize("paper", [Paper(font="Vera"), Paper(justify=True), Paper(font="Vera", left=72, width=468)],
                         ids=["truetype", "justified", "truetype-wide"])
def test_measures_embedded_truetype_and_justified_text(paper: Paper) -> None:
    """Extents come from the fonts' widths (embedded TrueType subsets, Tw word spacing), not guesses."""
    report = check_pdf(make_paper(paper))
    wide = paper.left != 108
    assert report.errors == ({"margins"} if wide else set()), report.findings
    assert report.title == "Fused Attention Kernels for Small Accelerators"
    assert report.references_page == 9


def test_run_extents_match_the_drawn_lines() -> None:
    """Justified lines end exactly at the right margin: the measured right edge is within 1 pt."""
    reader = PdfReader(io.BytesIO(make_paper(Paper(justify=True))))
    layout = measure_page(reader.pages[1], 2, time.perf_counter() + 10, {})
    full = [line for line in layout.lines if line.glyphs > 40 and not line.text.endswith(".")]
    assert len(full) > 20
    assert all(abs(line.x0 - 108) < 0.5 and abs(line.x1 - 504) < 1.0 for line in full), \
        [(line.x0, line.x1) for line in full if abs(line.x1 - 504) >= 1.0][:5]


def test_subtitles_and_dates_between_title_and_abstract_are_not_names_but_not_the_template() -> None:
    """Not called names, but the NeurIPS position rule: only the template stands between title and abstract."""
    paper = Paper(authors=["Anonymous Author(s)", "Machine Learning Project 2", "December 21, 2023"])
    report = check_pdf(make_paper(paper))
    assert report.errors == {"not-anonymous"}
    message = report.findings[0].message
    assert "author block between the title and the abstract" in message and "look like author names" not in message
    assert "Machine Learning Project 2" in message
    assert check_pdf(make_paper(paper), anonymous=False).ok
    many = Paper(authors=["Grace Hopper, Edsger Dijkstra, Barbara Liskov, Donald Knuth, Frances Allen"])
    assert check_pdf(make_paper(many)).errors == {"not-anonymous"}


def test_mailto_link_is_an_email() -> None:
    report = check_pdf(make_paper(Paper(link="mailto:someone@uni.example")))
    assert report.errors == {"not-anonymous"} and "someone@uni.example" in report.findings[0].message


def test_half_inch_top_and_bottom_margins() -> None:
    report = check_pdf(make_paper(Paper(vmargin=30, content_pages=6)))
    assert report.errors == {"margins"}, report.findings
    message = report.findings[0].message
    assert "from the top edge" in message and "from the bottom edge" in message
    assert "left edge" not in message and "wide" not in message


@pytest.mark.parametrize("authors", [
    ["Anonymous Author(s)", "Affiliation", "Address", "email"],
    ["Anonymous Authors", "Affiliation", "Address", "e-mail"],
], ids=["neurips-template", "variant"])
def test_the_anonymous_template_block_passes(authors: list[str]) -> None:
    report = check_pdf(make_paper(Paper(authors=authors)), **MEMBERS)
    assert report.ok and report.findings == [], report.findings


@pytest.mark.parametrize("authors", [
    ['Ada "Countess" Lovelace'],  # the real single-author report the name heuristics passed
    ["Ada “Countess” Lovelace"],
    ["Lovelace"],
    ["Anonymous Author(s)", "s1234567"],
], ids=["nickname", "curly-nickname", "surname", "student-number"])
def test_a_line_under_the_title_is_an_author_block(authors: list[str]) -> None:
    """No e-mail, no affiliation, not reading like a list of names: its position under the title tells."""
    report = check_pdf(make_paper(Paper(authors=authors)))
    assert report.errors == {"not-anonymous"}, report.findings
    (finding,) = report.findings
    assert finding.page == 1 and "between the title and the abstract" in finding.message
    assert authors[-1] in finding.message
    assert check_pdf(make_paper(Paper(authors=authors)), anonymous=False).ok


def test_a_name_with_an_email_under_the_title() -> None:
    report = check_pdf(make_paper(Paper(authors=['Ada "Countess" Lovelace', "ada@uni.example"])))
    assert report.errors == {"not-anonymous"}
    assert "ada@uni.example" in report.findings[0].message


def test_a_camera_ready_author_block() -> None:
    authors = ["Ada Lovelace\u2217                              Alan Turing",
               "Department of Computer Science          Department of Mathematics",
               "University of Edinburgh                   University of Cambridge",
               "ada@ed.example                              turing@cam.example"]
    report = check_pdf(make_paper(Paper(authors=authors)))
    assert report.errors == {"not-anonymous"}
    message = report.findings[0].message
    assert "e-mail addresses" in message and ("author names" in message or "affiliation" in message)


LONG_CODE = "    out = fused_attention_forward(query_states, key_states, value_states, mask=mask, dropout_p=0.0)"


def _margin_findings(report: FormatReport) -> list[Finding]:
    return [f for f in report.findings if f.code == "margins"]


def test_one_code_line_past_the_right_edge_is_a_warning_naming_page_and_line() -> None:
    report = check_pdf(make_paper(Paper(content_pages=6, code={3: [LONG_CODE]})))
    assert report.ok, report.findings
    (finding,) = report.findings
    assert (finding.code, finding.severity, finding.page) == ("margins", "warning", 3)
    assert "Page 3: 1 line runs past the right margin" in finding.message
    assert "out = fused_attention_forward(query_states" in finding.message


def test_a_listing_past_the_margin_on_a_short_paper_is_local_overflow() -> None:
    """Eight overfull lines on one page of three moved the old document-wide percentile: a margins error."""
    report = check_pdf(make_paper(Paper(content_pages=3, code={2: [LONG_CODE] * 8})))
    assert report.ok, report.findings
    assert [(f.severity, f.page) for f in _margin_findings(report)] == [("warning", 2)]
    assert "8 lines run past the right margin" in report.findings[0].message


def test_overflow_warnings_name_each_page_up_to_a_limit() -> None:
    pages = {n: [LONG_CODE] for n in (2, 3, 4, 5, 6, 7, 8)}
    report = check_pdf(make_paper(Paper(content_pages=9, code=pages)))
    assert report.ok, report.findings
    warnings = _margin_findings(report)
    assert [f.page for f in warnings] == [2, 3, 4, 5, 6]
    assert "Pages 7–8 too" in warnings[-1].message


def test_wide_lines_on_most_pages_are_a_modified_geometry() -> None:
    pages = {n: [LONG_CODE] * 12 for n in range(1, 10)}
    report = check_pdf(make_paper(Paper(content_pages=9, code=pages)))
    assert report.errors == {"margins"}
    assert [f.severity for f in _margin_findings(report)] == ["error"]


def test_a_running_header_is_a_warning_not_a_geometry() -> None:
    report = check_pdf(make_paper(Paper(content_pages=8, header="CS 271 Final Report: Fused Attention Kernels, Fall")))
    assert report.ok, report.findings
    (finding,) = report.findings
    assert (finding.code, finding.severity, finding.page) == ("margins", "warning", 2)
    assert "running header sits in the top margin on pages 2–8" in finding.message
    assert "CS 271 Final Report" in finding.message


def test_a_running_footer_is_a_warning() -> None:
    report = check_pdf(make_paper(Paper(content_pages=8, footer="Fused Attention Kernels, course project report")))
    assert report.ok, report.findings
    assert [(f.severity, "running footer" in f.message) for f in report.findings] == [("warning", True)]


def test_a_header_with_a_modified_block_is_still_an_error() -> None:
    report = check_pdf(make_paper(Paper(left=72, width=468, header="CS 271 Final Report: Fused Attention Kernels")))
    assert report.errors == {"margins"}
    assert "72 pt from the left edge" in _margin_findings(report)[0].message


def test_custom_document_properties_that_name_a_member() -> None:
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_paper(Paper(content_pages=3)))))
    writer.add_metadata({"/StudentName": "Ada Lovelace", "/Course": "CS 271"})
    out = io.BytesIO()
    writer.write(out)
    report = check_pdf(out.getvalue(), **MEMBERS)
    assert [(f.code, f.severity) for f in report.findings] == [("metadata", "warning")]
    assert "StudentName" in report.findings[0].message and "Course" not in report.findings[0].message
