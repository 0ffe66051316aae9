"""NeurIPS format check: PDF bytes -> FormatReport, measured from text positions with pypdf alone.

Every rule reads the positions and sizes of the text (text matrix x CTM), never the LaTeX
source, so a hacked style file (wider block, names shown in submission mode) is caught.
Bad input never raises: it gives a report with one `unreadable` error.
"""

from __future__ import annotations

import io
import logging
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader, apply_configuration
from pypdf.errors import LimitReachedError
from pypdf.generic import ArrayObject, DictionaryObject

from app.pdf.layout import Line, OutOfTime, PageLayout, TooComplex, measure_page
from app.pdf.report import FormatReport, PaperSize, unreadable

# NeurIPS geometry (neurips_20XX.sty): US Letter, 5.5 in x 9 in text block, 1.5 in left margin.
LETTER = (612.0, 792.0)
A4 = (595.28, 841.89)
PAPER_TOLERANCE = 3.0
BLOCK_LEFT = 108.0
BLOCK_WIDTH = 396.0
BLOCK_MARGIN = 72.0  # top and bottom: the 9 in tall block sits between them
MARGIN_TOLERANCE = 9.0
BODY_SIZE = 10.0

# Bounds on the work one upload can cause (decompression bombs, endless content streams).
MAX_INPUT_BYTES = 100 * 1024 * 1024
MAX_STREAM_BYTES = 16 * 1024 * 1024  # decompressed bytes per stream
TIME_BUDGET_S = 10.0  # a real 60-page paper takes about 1.5 s
MAX_MEASURED_PAGES = 60  # pages after this are counted but not read

# A line has to be this long (in glyphs) to say where the text block is: page numbers, line
# numbers, figure labels and equation numbers are shorter.
LONG_LINE_GLYPHS = 20
# Margins: a line this long past the block is reported (a code line, a table row); shorter ones are labels.
OVERFLOW_GLYPHS = 10
MAX_OVERFLOW_WARNINGS = 5  # pages named one by one; the rest are listed in the last
# A running header or footer: at most two rows outside the block, this far from the text (headsep 25 pt,
# footskip 30 pt) where body lines are ~12 pt apart.
MAX_BAND_ROWS = 2
BAND_GAP = 18.0
FIRST_PAGE_EXTRA = 24.0  # NeurIPS's \enlargethispage{2\baselineskip} for the notice on page 1

_MAX_INFO_KEYS = 100  # document properties looked at (custom keys included)
_MAX_SCAN = 1000  # characters of one line or field that the e-mail pattern looks at

_log = logging.getLogger(__name__)

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# "{liang558, clue, scen1}@umd.edu": the grouped form LaTeX papers use.
_GROUPED_EMAIL = re.compile(r"\{[^{}]{1,200}\}\s*@\s*[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_GITHUB = re.compile(r"github\.com/([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))(/[A-Za-z0-9._-]+)?", re.IGNORECASE)
_NUMBERING = re.compile(r"^(?:(?:\d+|[A-Z]|[IVXLC]+)(?:\.\d+)*\.?|§)\s+")
_UNIVERSITY = re.compile(
    r"\b(universit\w*|institut\w*|college|school of|department|dept\.|faculty|laborator\w*|lab|polytechni\w*|"
    r"ecole|école|hochschule|academy|inc\.|ltd|gmbh|corporation|research center|centre)\b",
    re.IGNORECASE,
)
_PLACEHOLDERS = {"anonymous", "author", "authors", "author(s)", "affiliation", "address", "email", "e-mail",
                 "submission", "paper", "id"}
_NAME_PARTICLES = {"and", "de", "da", "del", "der", "van", "von", "la", "le", "di", "du", "bin", "al", "&"}
# Capitalised words that appear in subtitles and dates, not in names ("Machine Learning Project 2").
_NOT_NAME_WORDS = {
    "project", "report", "final", "course", "machine", "learning", "deep", "neural", "network", "networks", "lab",
    "assignment", "homework", "milestone", "proposal", "paper", "submission", "draft", "version", "class",
    "spring", "summer", "fall", "autumn", "winter", "semester", "term", "the", "of", "for", "with", "in", "on",
    "a", "an", "to", "via", "using", "towards", "code", "data", "model", "models", "systems", "system", "gpu",
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "group", "team", "cs", "ece", "ml", "ai", "conference", "workshop", "neurips",
    "preprint", "under", "review", "do", "not", "distribute",
}
# NeurIPS's submission mode prints exactly this author block: "Anonymous Author(s) / Affiliation / Address / email".
_TEMPLATE_WORDS = {"anonymous", "author", "authors", "author(s)", "affiliation", "address", "email", "e-mail"}
_HEADING_WORDS_END = {"abstract", "introduction", "overview", "motivation", "background", "summary"}


def check_pdf(data: bytes, *, page_limit: int = 9, anonymous: bool = True, member_names: Sequence[str] = (),
              member_emails: Sequence[str] = (), repo_urls: Sequence[str] = ()) -> FormatReport:
    """Check a submission PDF against the NeurIPS format; never raises on bad input."""
    if not data:
        return unreadable("The file is empty (0 bytes).")
    if len(data) > MAX_INPUT_BYTES:
        return unreadable(f"The file is larger than {MAX_INPUT_BYTES // (1024 * 1024)} MB.")
    if data.startswith(b"PK\x03\x04"):
        return unreadable("This is not a PDF but a ZIP archive (a .docx, .odt or .zip renamed?). "
                          "Export your report as PDF.")
    if b"%PDF-" not in data[:1024]:
        return unreadable("This is not a PDF (it does not start with %PDF-). Export your report as PDF.")
    deadline = time.perf_counter() + TIME_BUDGET_S
    try:
        with apply_configuration(
            zlib_maximum_output_length=MAX_STREAM_BYTES,
            lzw_maximum_output_length=MAX_STREAM_BYTES,
            run_length_maximum_output_length=MAX_STREAM_BYTES,
            array_based_stream_maximum_output_length=MAX_STREAM_BYTES,
            stream_decoding_work_maximum_length=4 * MAX_STREAM_BYTES,
        ):
            return _check(data, deadline, page_limit, anonymous, member_names, member_emails, repo_urls)
    except OutOfTime:
        return unreadable(f"Reading this PDF took longer than {TIME_BUDGET_S:.0f} s, so it was not checked. "
                          "Re-export it (e.g. print to PDF) and upload again.")
    except TooComplex:
        return unreadable("The PDF has too many operators to read safely (a page with millions of drawing "
                          "commands?). Re-export it, or rasterise the heaviest figure.")
    except _Unreadable as exc:
        return unreadable(str(exc))
    except LimitReachedError as exc:
        if "decompress" in str(exc).lower() or "length" in str(exc).lower():
            return unreadable(f"The PDF expands to more than {MAX_STREAM_BYTES // (1024 * 1024)} MB per page or "
                              "object when decompressed (a compression bomb?), so it was not read. "
                              "Re-export it from your editor.")
        return unreadable("The PDF has too many operators or objects to read safely (a page with millions of "
                          "drawing commands?). Re-export it, or rasterise the heaviest figure.")
    except Exception as exc:  # noqa: BLE001 - any failure inside pypdf means the file cannot be read
        _log.info("unreadable PDF: %r", exc)
        return unreadable(f"The PDF is damaged or uses features that cannot be read ({type(exc).__name__}). "
                          "Re-export it from your editor and upload again.")


def check_pdf_file(path: str | Path, **options) -> FormatReport:  # noqa: ANN003
    """check_pdf on a file; a file that cannot be opened is reported as unreadable."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return unreadable(f"Cannot open {path}: {exc.strerror or exc}.")
    return check_pdf(data, **options)


class _Unreadable(Exception):
    pass


def _check(data: bytes, deadline: float, page_limit: int, anonymous: bool, member_names: Sequence[str],
           member_emails: Sequence[str], repo_urls: Sequence[str]) -> FormatReport:
    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        raise _Unreadable("The PDF is encrypted (password-protected). Export it again without a password.")
    pages_total = len(reader.pages)
    if pages_total == 0:
        raise _Unreadable("The PDF has no pages.")
    font_cache: dict = {}
    layouts: list[PageLayout] = []
    for number, page in enumerate(reader.pages, start=1):
        if number > MAX_MEASURED_PAGES:
            break
        layouts.append(measure_page(page, number, deadline, font_cache))
    if not any(layout.runs for layout in layouts):
        raise _Unreadable("The PDF has no text that can be read (scanned pages or text turned into outlines?). "
                          "Export it from your editor so that its text can be selected.")

    report = FormatReport(pages_total=pages_total)
    body = _body_size(layouts)
    report.references_page, boundary = _find_end_of_main(layouts, body)
    report.pages_main = pages_total if boundary is None else boundary
    main = [layout for layout in layouts if layout.number <= report.pages_main] or layouts[:1]

    _check_pages(report, page_limit)
    _check_paper(report, layouts)
    _check_block(report, main)
    _check_font_size(report, main)
    report.title = _title(reader, layouts[0])
    if anonymous:
        _check_anonymity(report, reader, layouts, body, member_names, member_emails, repo_urls)
    return report


# --- where the main text ends ------------------------------------------------------------------


def _heading_key(text: str) -> str:
    """'7 References', 'A.1. Acknowledgements', 'R EFERENCES' -> 'references', 'acknowledgements'."""
    text = text.strip()
    for _ in range(3):
        stripped = _NUMBERING.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    text = text.rstrip(" .:")
    compact = text.replace(" ", "")
    return compact.lower() if compact.isalpha() else text.lower()


_REFERENCES = {"references", "bibliography", "referencesandnotes", "literaturecited", "workscited"}
_APPENDIX = ("appendix", "appendices", "supplementarymaterial", "supplementalmaterial", "supplementary material",
             "supplemental material")


def _is_appendix_heading(line: Line, body: float) -> bool:
    key = _heading_key(line.text)
    words = line.text.split()
    if len(words) > 8 or line.text.rstrip().endswith((".", ",")) and key not in _APPENDIX:
        return False
    if key in _APPENDIX or key in {"supplementarymaterials", "supplementary materials"}:
        return True
    # "Appendix A: Proofs" is a heading when set larger than the body text.
    return key.startswith(("appendix", "supplementary material", "supplemental material")) and line.size >= body + 0.9


def _find_end_of_main(layouts: list[PageLayout], body: float) -> tuple[int | None, int | None]:
    """(first references page, last page of main text or None when the whole PDF is main text)."""
    references: tuple[int, Line] | None = None
    appendix: tuple[int, Line] | None = None
    for layout in layouts:
        for line in layout.lines:
            if len(line.text) > 40:
                continue
            if references is None and _heading_key(line.text) in _REFERENCES:
                references = (layout.number, line)
            elif appendix is None and references is None and _is_appendix_heading(line, body):
                appendix = (layout.number, line)
        if references is not None:
            break
    ends = [found for found in (appendix, references) if found is not None]
    if not ends:
        return None, None
    number, heading = min(ends, key=lambda found: (found[0], -found[1].y))
    layout = layouts[number - 1]
    # The heading's page counts as main text when body lines stand above the heading.
    above = [seg for seg in layout.lines
             if seg.glyphs >= LONG_LINE_GLYPHS and seg.y > heading.y + 2 and abs(seg.size - body) <= 1.0
             and seg.y < layout.height - BLOCK_MARGIN + MARGIN_TOLERANCE]
    last_main = number if len(above) >= 2 else number - 1
    return (references[0] if references else None), last_main


# --- the rules ---------------------------------------------------------------------------------


def _check_pages(report: FormatReport, page_limit: int) -> None:
    if report.pages_main > page_limit:
        report.add("pages", "error",
                   f"Page {page_limit + 1} is main text: the limit is {page_limit} content pages, and your main "
                   f"text runs to page {report.pages_main}. References and appendices after them do not count; "
                   f"everything before the References heading does.", page=page_limit + 1)


def _paper_name(width: float, height: float) -> PaperSize:
    for name, (w, h) in (("letter", LETTER), ("a4", A4)):
        if abs(width - w) <= PAPER_TOLERANCE and abs(height - h) <= PAPER_TOLERANCE:
            return name  # type: ignore[return-value]
    return "other"


def _check_paper(report: FormatReport, layouts: list[PageLayout]) -> None:
    first = layouts[0]
    report.paper_size = _paper_name(first.width, first.height)
    if report.paper_size != "letter":
        shown = "A4" if report.paper_size == "a4" else f"{first.width:.0f} x {first.height:.0f} pt"
        report.add("paper-size", "error",
                   f"The paper size is {shown}; NeurIPS requires US Letter (8.5 x 11 in, 612 x 792 pt). "
                   f"Use the NeurIPS style file unchanged (it sets letterpaper).", page=1)
        return
    for layout in layouts[1:]:
        if _paper_name(layout.width, layout.height) != "letter":
            report.add("paper-size", "error",
                       f"Page {layout.number} is {layout.width:.0f} x {layout.height:.0f} pt, not US Letter "
                       f"(612 x 792 pt): every page must be Letter, portrait.", page=layout.number)
            return


def _percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), without numpy."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class _PageBlock:
    """One page's text block as measured: its body lines and the header/footer lines outside it."""

    layout: PageLayout
    body: list[Line]  # long lines, headers and footers left out
    bands: dict[str, list[Line]]  # "header" / "footer" -> their lines
    bottom_limit: float  # the lowest baseline NeurIPS allows on this page

    @property
    def measurable(self) -> bool:
        return len(self.body) >= 5

    @property
    def left(self) -> float:
        return _percentile([line.x0 for line in self.body], 10)

    @property
    def right(self) -> float:
        return _percentile([line.x1 for line in self.body], 90)

    @property
    def top(self) -> float:
        return max(line.y for line in self.body)

    @property
    def bottom(self) -> float:
        return min(line.y for line in self.body)

    def is_off_horizontally(self) -> bool:
        return (abs(self.left - BLOCK_LEFT) > MARGIN_TOLERANCE
                or abs((self.right - self.left) - BLOCK_WIDTH) > MARGIN_TOLERANCE)

    def is_off_top(self) -> bool:
        return self.top > self.layout.height - BLOCK_MARGIN + MARGIN_TOLERANCE

    def is_off_bottom(self) -> bool:
        return self.bottom < self.bottom_limit


def _is_ink(line: Line) -> bool:
    """Text that could be a header or body line (not a page or line number)."""
    return any(ch.isalpha() for ch in line.text)


def _band(rows: list[list[Line]], outside: Callable[[float], bool]) -> list[Line]:
    """The header (rows top-down) or footer (rows bottom-up) band: at most two rows outside the block,
    set apart from the next row by more than the body's line spacing (headsep, footskip)."""
    band: list[list[Line]] = []
    for row in rows:
        if outside(row[0].y) and len(band) < MAX_BAND_ROWS:
            band.append(row)
            continue
        if band and abs(band[-1][0].y - row[0].y) >= BAND_GAP:
            return [line for r in band for line in r]
        return []
    return []  # nothing but the band on the page: it is the page's text, not a header


def _page_block(layout: PageLayout) -> _PageBlock:
    height = layout.height
    # NeurIPS enlarges page 1 by two lines for its "Submitted to" / conference notice.
    bottom_limit = BLOCK_MARGIN - MARGIN_TOLERANCE - (FIRST_PAGE_EXTRA if layout.number == 1 else 0.0)
    rows: list[list[Line]] = []
    for line in sorted((line for line in layout.lines if _is_ink(line)), key=lambda line: -line.y):
        if rows and abs(rows[-1][0].y - line.y) <= 1.5:
            rows[-1].append(line)
        else:
            rows.append([line])
    header = _band(rows, lambda y: y > height - BLOCK_MARGIN + MARGIN_TOLERANCE)
    footer = _band(rows[::-1], lambda y: y < bottom_limit)
    banded = {id(line) for line in header + footer}
    body = [line for line in layout.lines if line.glyphs >= LONG_LINE_GLYPHS and id(line) not in banded]
    return _PageBlock(layout, body, {"header": header, "footer": footer}, bottom_limit)


def _page_list(numbers: list[int]) -> str:
    """[2, 3, 4, 7] -> '2–4, 7'."""
    spans: list[list[int]] = []
    for number in sorted(set(numbers)):
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ", ".join(f"{a}" if a == b else f"{a}–{b}" for a, b in spans)


def _check_block(report: FormatReport, main: list[PageLayout]) -> None:
    """Margins: a modified geometry (the block differs on most pages) is an error; a few lines or a float
    past the margin, and running headers or footers outside the block, are warnings naming the page."""
    first = main[0]
    blocks = [_page_block(layout) for layout in main
              if abs(layout.width - first.width) < 1 and abs(layout.height - first.height) < 1]
    segments = [(block.layout.number, line) for block in blocks for line in block.body]
    if len(segments) < 10:
        return  # too little text to measure (a poster-like or image-only paper)
    width = first.width
    x0 = [seg.x0 for _, seg in segments]
    x1 = [seg.x1 for _, seg in segments]
    # Two columns: many long lines start right of the middle of the page.
    right_share = sum(x > 0.45 * width for x in x0) / len(x0)
    report.two_column = right_share > 0.25 and len(segments) >= 20
    if report.two_column:
        report.add("two-column", "error",
                   f"The paper is set in two columns ({right_share:.0%} of the text lines start in the right half "
                   f"of the page); NeurIPS uses a single column 5.5 in (396 pt) wide.", page=1)
    if _check_geometry(report, blocks, x0, x1):
        return
    _report_overflow(report, blocks)
    _report_bands(report, blocks)


def _check_geometry(report: FormatReport, blocks: list[_PageBlock], x0: list[float], x1: list[float]) -> bool:
    """The error for a text block that differs from NeurIPS's on most pages; whether there was one."""
    measurable = [block for block in blocks if block.measurable]
    if not measurable:
        return False
    most = len(measurable) / 2

    def off(test: Callable[[_PageBlock], bool]) -> list[int]:
        return [block.layout.number for block in measurable if test(block)]

    horizontal, top_off, bottom_off = (off(_PageBlock.is_off_horizontally), off(_PageBlock.is_off_top),
                                       off(_PageBlock.is_off_bottom))
    problems = []
    if len(horizontal) > most:
        # Robust percentiles over the whole document: a few wide equations or tables do not move them.
        left, right = _percentile(x0, 3), _percentile(x1, 97)
        if abs(left - BLOCK_LEFT) > MARGIN_TOLERANCE:
            problems.append(f"the text starts {left:.0f} pt from the left edge "
                            f"(NeurIPS: {BLOCK_LEFT:.0f} pt = 1.5 in)")
        if abs((right - left) - BLOCK_WIDTH) > MARGIN_TOLERANCE or not problems:
            problems.append(f"the text block is {right - left:.0f} pt wide (NeurIPS: {BLOCK_WIDTH:.0f} pt = 5.5 in)")
    height = blocks[0].layout.height
    if len(top_off) > most:
        top = _percentile([block.top for block in measurable], 50)
        problems.append(f"text reaches {height - top:.0f} pt from the top edge "
                        f"(NeurIPS: a {BLOCK_MARGIN:.0f} pt = 1 in top margin)")
    if len(bottom_off) > most:
        bottom = _percentile([block.bottom for block in measurable], 50)
        problems.append(f"text reaches {bottom:.0f} pt from the bottom edge "
                        f"(NeurIPS: a {BLOCK_MARGIN:.0f} pt = 1 in bottom margin)")
    if not problems:
        return False
    pages = sorted(set(horizontal if len(horizontal) > most else [])
                   | set(top_off if len(top_off) > most else []) | set(bottom_off if len(bottom_off) > most else []))
    report.add("margins", "error",
               "The margins are not NeurIPS's: " + "; ".join(problems)
               + f" (the text block differs on {len(pages)} of {len(measurable)} pages). Use the unmodified "
                 "NeurIPS style file and do not change \\textwidth, \\oddsidemargin, \\textheight or the geometry "
                 "package settings.", page=pages[0])
    return True


def _report_overflow(report: FormatReport, blocks: list[_PageBlock]) -> None:
    """A warning per page (up to a few) whose lines run past the NeurIPS block: a code line, a wide table."""
    right_edge = BLOCK_LEFT + BLOCK_WIDTH
    overflowing = []
    for block in blocks:
        banded = {id(line) for lines in block.bands.values() for line in lines}
        height = block.layout.height
        lines = [line for line in block.layout.lines
                 if line.glyphs >= OVERFLOW_GLYPHS and _is_ink(line) and id(line) not in banded]
        past = {
            "right": [line for line in lines if line.x1 > right_edge + MARGIN_TOLERANCE],
            "left": [line for line in lines if line.x0 < BLOCK_LEFT - MARGIN_TOLERANCE],
            "top": [line for line in lines if line.y > height - BLOCK_MARGIN + MARGIN_TOLERANCE],
            "bottom": [line for line in lines if line.y < block.bottom_limit],
        }
        if any(past.values()):
            overflowing.append((block.layout.number, past))
    named, rest = overflowing[:MAX_OVERFLOW_WARNINGS], overflowing[MAX_OVERFLOW_WARNINGS:]
    for index, (number, past) in enumerate(named):
        parts = []
        for side, lines in past.items():
            if not lines:
                continue
            if side == "right":
                reach = f"to {max(line.x1 for line in lines):.0f} pt; the block ends at {right_edge:.0f} pt"
            elif side == "left":
                reach = f"from {min(line.x0 for line in lines):.0f} pt; the block starts at {BLOCK_LEFT:.0f} pt"
            else:
                reach = "into the 1 in margin"
            count = "1 line runs" if len(lines) == 1 else f"{len(lines)} lines run"
            parts.append(f"{count} past the {side} margin ({reach}), “{lines[0].text[:70]}”")
        tail = f" Pages {_page_list([n for n, _ in rest])} too." if rest and index == len(named) - 1 else ""
        report.add("margins", "warning",
                   f"Page {number}: " + "; ".join(parts) + ". The text block itself is NeurIPS's; break the long "
                   "line or scale the table or figure to \\linewidth." + tail, page=number)


def _report_bands(report: FormatReport, blocks: list[_PageBlock]) -> None:
    """One warning per kind for running headers or footers set outside the text block."""
    for kind, margin in (("header", "top"), ("footer", "bottom")):
        # A short page number ("iii", "Page 3") in a footer is not worth a warning; a running title is.
        pages = [(block.layout.number, lines) for block in blocks
                 if (lines := [line for line in block.bands[kind] if line.glyphs >= OVERFLOW_GLYPHS])]
        if not pages:
            continue
        numbers = [number for number, _ in pages]
        label = "page" if len(numbers) == 1 else "pages"
        report.add("margins", "warning",
                   f"A running {kind} sits in the {margin} margin on {label} {_page_list(numbers)} "
                   f"(“{pages[0][1][0].text[:70]}”). NeurIPS's style prints no {kind} there but the page "
                   f"number; remove it (e.g. fancyhdr settings) for the submission.", page=numbers[0])


def _size_counts(layouts: list[PageLayout]) -> Counter:
    counts: Counter = Counter()
    for layout in layouts:
        for run in layout.runs:
            counts[round(run.size * 2) / 2] += run.glyphs
    return counts


def _body_size(layouts: list[PageLayout]) -> float:
    counts = _size_counts(layouts)
    return counts.most_common(1)[0][0] if counts else BODY_SIZE


def _check_font_size(report: FormatReport, main: list[PageLayout]) -> None:
    counts = _size_counts(main)
    if not counts:
        return
    body = counts.most_common(1)[0][0]
    # Smaller body text fits more into the page limit, so it is an error; larger text only costs
    # its authors space, so it is a warning.
    if body < BODY_SIZE - 0.5:
        report.add("font-size", "error",
                   f"The body text is {body:g} pt; NeurIPS requires 10 pt. Do not shrink the font to fit the page "
                   f"limit.")
    elif body > BODY_SIZE + 0.5:
        report.add("font-size", "warning",
                   f"The body text is {body:g} pt; NeurIPS uses 10 pt (Times). Use the NeurIPS style file.")


# --- title -------------------------------------------------------------------------------------


def _sensible_title(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    lowered = text.lower()
    if len(text) < 4 or sum(ch.isalpha() for ch in text) < 4 or lowered in {"untitled", "title", "paper", "report"}:
        return None
    if lowered.endswith((".dvi", ".tex", ".doc", ".docx", ".pdf")) or lowered.startswith("microsoft word"):
        return None
    return text[:300]


def _title_lines(first: PageLayout) -> list[Line]:
    """The lines set in the largest font near the top of page 1."""
    lines = [line for line in first.lines if line.y > first.height * 0.35 and any(ch.isalpha() for ch in line.text)]
    if not lines:
        return []
    biggest = max(line.size for line in lines)
    title: list[Line] = []
    for line in lines:  # top to bottom
        if line.size >= biggest - 0.5:
            if title and title[-1].y - line.y > 3.0 * biggest:
                break
            title.append(line)
        elif title:
            break
    return title


def _title(reader: PdfReader, first: PageLayout) -> str | None:
    try:
        metadata = reader.metadata
        from_metadata = _sensible_title(metadata.get("/Title") if metadata else None)
    except Exception:  # noqa: BLE001 - a broken /Info dictionary only costs us the metadata title
        from_metadata = None
    if from_metadata:
        return from_metadata
    return _sensible_title(" ".join(line.text for line in _title_lines(first)))


# --- anonymity ---------------------------------------------------------------------------------


def _fold(text: str) -> str:
    """Lower case, accents removed, whitespace collapsed: for matching names."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(text.lower().split())


def looks_like_names(text: str) -> bool:
    """Whether a short line reads like a list of person names ('Ada Lovelace, Alan Turing')."""
    words = [w.strip(".:*†‡§¶∗") for w in re.split(r"[\s,;<>()\[\]{}]+", text)]
    # Tokens with digits are student numbers or dates, not names.
    words = [w for w in words if w and any(ch.isalpha() for ch in w) and not any(ch.isdigit() for ch in w)]
    words = [w for w in words if w.lower() not in _NAME_PARTICLES]
    if not words or len(words) > 16:
        return False
    if all(w.lower() in _PLACEHOLDERS for w in words):
        return False
    capitalised = [w for w in words if w[0].isupper() and w.lower() not in _PLACEHOLDERS
                   and w.lower() not in _NOT_NAME_WORDS]
    return len(capitalised) >= 2 and len(capitalised) >= 0.7 * len(words)


def _author_block(first: PageLayout, body: float) -> tuple[list[Line], bool]:
    """Lines between the title and the abstract (or first heading / first paragraph) on page 1, and whether
    the block is the NeurIPS one: a title above it and an "Abstract" heading below."""
    title = _title_lines(first)
    start_y = title[-1].y if title else first.height
    block: list[Line] = []
    for line in first.lines:
        if line.y >= start_y - 0.5 or line in title:
            continue
        key = _heading_key(line.text)
        if key in _HEADING_WORDS_END or key.startswith("abstract"):
            return block, bool(title) and key.startswith("abstract")
        if len(line.text) >= 60 and abs(line.size - body) <= 1.0 and not looks_like_names(line.text):
            break  # the body text has begun
        block.append(line)
    return block, False


def _is_template_line(line: Line) -> bool:
    """A line of the anonymous template's author block ("Anonymous Author(s)", "Affiliation", "Address",
    "email"), or a mark that cannot name anyone (a line number in the margin, a footnote symbol)."""
    words = [w.strip(".,;:()[]") for w in line.text.lower().replace("(s)", "s").split()]
    words = [w for w in words if w]
    if not any(ch.isalnum() for ch in line.text):
        return True
    if line.text.isdigit() and len(line.text) <= 4 and (line.x1 < BLOCK_LEFT or line.x0 > BLOCK_LEFT + BLOCK_WIDTH):
        return True  # lineno's numbers beside the block
    return bool(words) and all(w in _TEMPLATE_WORDS for w in words)


def _member_name_pattern(name: str) -> re.Pattern[str] | None:
    parts = _fold(name).replace(",", " ").split()
    if not parts or (len(parts) == 1 and len(parts[0]) < 4):
        return None
    return re.compile(r"(?<![a-z])" + r"[\s\-]*".join(re.escape(p) for p in parts) + r"(?![a-z])")


def _normalise_url(url: str) -> str:
    url = url.strip().lower()
    url = re.sub(r"^[a-z+]+://", "", url)
    url = url.removeprefix("www.").removesuffix("/").removesuffix(".git").removesuffix("/")
    return url


def _link_uris(reader: PdfReader, limit_pages: int) -> list[tuple[int, str]]:
    uris: list[tuple[int, str]] = []
    for number, page in enumerate(reader.pages, start=1):
        if number > limit_pages:
            break
        annots = page.get("/Annots")
        annots = annots.get_object() if annots is not None else None
        if not isinstance(annots, ArrayObject):
            continue
        for annot in annots[:2000]:
            annot = annot.get_object()
            action = annot.get("/A") if isinstance(annot, DictionaryObject) else None
            action = action.get_object() if action is not None else None
            if isinstance(action, DictionaryObject) and isinstance(action.get("/URI"), str):
                uris.append((number, str(action["/URI"])))
    return uris


def _check_anonymity(report: FormatReport, reader: PdfReader, layouts: list[PageLayout], body: float,
                     member_names: Sequence[str], member_emails: Sequence[str], repo_urls: Sequence[str]) -> None:
    first = layouts[0]
    leaks: list[tuple[int, str]] = []  # (page, what) for the not-anonymous error

    # Page 1: e-mail addresses, and names or affiliations between the title and the abstract.
    # Only lines with an @, cut short: an e-mail pattern run over a 1 MB line of letters is quadratic.
    at_lines = [line.text[:_MAX_SCAN] for line in first.lines if "@" in line.text]
    emails = [e for text in at_lines for e in _EMAIL.findall(text) + _GROUPED_EMAIL.findall(text)]
    if emails:
        leaks.append((1, f"page 1 shows e-mail addresses ({', '.join(emails[:3])})"))
    block, is_neurips_block = _author_block(first, body)
    named = False
    for line in block:
        if _UNIVERSITY.search(line.text):
            leaks.append((1, f"page 1 names an affiliation (“{line.text[:80]}”)"))
            named = True
            break
        if looks_like_names(line.text):
            leaks.append((1, f"page 1 shows what look like author names (“{line.text[:80]}”)"))
            named = True
            break
    # The position rule: in the NeurIPS layout, whatever stands between the title and "Abstract" in
    # place of the anonymous template is an author block, whether or not it reads like names
    # (`Ada "Countess" Lovelace`, a single surname, a student number, a group name).
    other = [line for line in block if not _is_template_line(line)] if is_neurips_block else []
    if other and not named and not emails:
        shown = " / ".join(line.text[:60] for line in other[:3])
        leaks.append((1, f"page 1 has an author block between the title and the abstract (“{shown}”) where the "
                         f"anonymous template prints only “Anonymous Author(s) / Affiliation / Address / email”"))

    # Group members anywhere in the text.
    folded = [(layout.number, _fold(layout.text)) for layout in layouts]
    for name in member_names:
        pattern = _member_name_pattern(name)
        if pattern is None:
            continue
        for number, text in folded:
            if pattern.search(text):
                leaks.append((number, f"page {number} names a member of your group ({name})"))
                break
    for email in member_emails:
        email = _fold(email)
        local = email.split("@", 1)[0]
        local_pattern = re.compile(r"(?<![a-z0-9])" + re.escape(local) + r"(?![a-z0-9])") if len(local) >= 5 else None
        for number, text in folded:
            if email and email in text or local_pattern and local_pattern.search(text):
                leaks.append((number, f"page {number} shows the e-mail address or user name of a member ({email})"))
                break

    # Acknowledgements reveal who helped (and often who the authors are).
    for layout in layouts:
        if any(_heading_key(line.text) in {"acknowledgements", "acknowledgments", "acknowledgement",
                                           "acknowledgment"} for line in layout.lines if len(line.text) <= 40):
            leaks.append((layout.number, f"page {layout.number} has an Acknowledgements section: leave it out of "
                                         f"the anonymous submission"))
            break

    # Links: the group's own repository, or a GitHub profile.
    repos = [_normalise_url(url) for url in repo_urls if url.strip()]
    uris = _link_uris(reader, len(layouts))
    for number, uri in uris:
        if uri.lower().startswith("mailto:"):
            leaks.append((number, f"page {number} has an e-mail link ({uri[7:67]})"))
            break
    places = [(number, text) for number, text in folded] + [(n, _fold(u)) for n, u in uris]
    compact = [(number, re.sub(r"\s+", "", text)) for number, text in places]
    for repo in repos:
        for number, text in compact:
            if repo in text:
                leaks.append((number, f"page {number} links to your repository ({repo}); use an anonymised "
                                      f"link (e.g. anonymous.4open.science) for the review"))
                break
    profile_reported = other_reported = False
    for number, text in places:
        for match in _GITHUB.finditer(text):
            user, rest = match.group(1), (match.group(2) or "").rstrip(".") or None
            if rest is None and text[match.end():match.end() + 1] != "/" and not profile_reported:
                profile_reported = True
                leaks.append((number, f"page {number} links to a GitHub account (github.com/{user})"))
            elif rest is not None and not other_reported and not any(_normalise_url(match.group(0)) in r
                                                                     for r in repos):
                other_reported = True
                report.add("not-anonymous", "warning",
                           f"Page {number} links to github.com/{user}{rest}: if this is your own code, "
                           f"replace the link with an anonymised one for the review.", page=number)

    if leaks:
        pages = sorted({number for number, _ in leaks})
        what = "; ".join(dict.fromkeys(text for _, text in leaks))
        report.add("not-anonymous", "error",
                   f"The submission is not anonymous: {what}. Reviewing is double-blind: use the NeurIPS style "
                   f"without [final] (“Anonymous Author(s)”), and remove names, e-mails, affiliations, "
                   f"acknowledgements and links that identify you.", page=pages[0])

    _check_metadata(report, reader, member_names, member_emails)


def _check_metadata(report: FormatReport, reader: PdfReader, member_names: Sequence[str],
                    member_emails: Sequence[str]) -> None:
    try:
        info = reader.metadata or {}
    except Exception:  # noqa: BLE001 - unreadable /Info: nothing to report
        return
    patterns = [p for p in (_member_name_pattern(n) for n in member_names) if p]
    found: list[str] = []
    known = ["/Author", "/Creator", "/Producer", "/Subject", "/Keywords", "/Title", "/Company", "/Manager",
             "/LastModifiedBy", "/AuthorEmail"]
    custom = [key for key in list(info.keys())[:_MAX_INFO_KEYS] if key not in known]  # "/StudentName", ...
    for key in known + custom:
        value = info.get(key)
        if not isinstance(value, str) or not value.strip():
            continue
        folded = _fold(value)
        named = any(p.search(folded) for p in patterns) or any(_fold(e) in folded for e in member_emails if e)
        # Any Author but "Anonymous" names someone; other fields ("Microsoft Word", "LaTeX with
        # hyperref") only count when they hold a member's name or an e-mail address.
        if (key == "/Author" and "anonymous" not in folded) or named or _EMAIL.search(value[:_MAX_SCAN]):
            found.append(f"{key[1:]} = “{value.strip()[:60]}”")
    # A warning, not an error: ReproReview removes these fields from the copy reviewers download
    # (scrub_metadata), but the author should know that the file they share elsewhere carries them.
    if found:
        report.add("metadata", "warning",
                   "The PDF's document properties name people: " + "; ".join(found)
                   + ". Reviewers get a copy without them, but clear them yourself "
                     "(e.g. \\hypersetup{pdfauthor={}}).")
