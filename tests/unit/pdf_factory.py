"""Generated NeurIPS-like PDFs (reportlab) for the format-check tests and benchmark."""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass, field

from reportlab.lib.pagesizes import A4, letter
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen import canvas

WORDS = ("we measure the throughput of the fused attention kernel on a single accelerator and compare it "
         "against the baseline implementation across sequence lengths batch sizes and precisions the "
         "results show consistent speedups while the accuracy of the model stays within noise of the "
         "reference our analysis attributes the gain to fewer memory round trips and better occupancy").split()


def paragraph(seed: int, words: int = 90) -> str:
    """Deterministic filler text."""
    return " ".join(WORDS[(seed * 7 + i * 3) % len(WORDS)] for i in range(words)).capitalize() + "."


@dataclass
class Paper:
    """What to draw: a NeurIPS-like paper by default (Letter, 1.5 in margins, 5.5 in wide, 10 pt Times)."""

    content_pages: int = 8
    references: bool = True
    appendix_pages: int = 0  # after the references
    appendix_before_references: int = 0  # supplementary pages before the references
    pagesize: tuple[float, float] = letter
    left: float = 108.0
    width: float = 396.0
    vmargin: float = 72.0  # top and bottom
    columns: int = 1
    font_size: float = 10.0
    title: str = "Fused Attention Kernels for Small Accelerators"
    authors: list[str] = field(default_factory=lambda: ["Anonymous Author(s)", "Affiliation", "Address", "email"])
    meta_author: str | None = None
    meta_title: str | None = None
    extra: dict[int, str] = field(default_factory=dict)  # page -> a sentence to add
    acknowledgements: bool = False
    link: str | None = None  # a URL annotation on page 1
    font: str = "Times-Roman"  # or "Vera": reportlab's bundled TrueType font, embedded as a subset
    justify: bool = False  # stretch word spaces (Tw) so every full line ends at the right margin
    code: dict[int, list[str]] = field(default_factory=dict)  # page -> listing lines (9 pt Courier) atop its text
    header: str | None = None  # a running header in the top margin of pages 2 on (fancyhdr-style)
    footer: str | None = None  # a running footer in the bottom margin of every page


def make_paper(paper: Paper | None = None) -> bytes:
    """Draw the paper and return the PDF bytes."""
    p = paper or Paper()
    if p.font == "Vera":
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFont

        pdfmetrics.registerFont(TTFont("Vera", "Vera.ttf"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=p.pagesize, invariant=1)
    c.setAuthor(p.meta_author or "")
    c.setTitle(p.meta_title or "")
    page_w, page_h = p.pagesize
    top = page_h - p.vmargin
    bottom = p.vmargin
    leading = p.font_size * 1.2
    gutter = 18.0
    col_w = (p.width - gutter * (p.columns - 1)) / p.columns
    seed = 0

    def body(page_no: int, y: float, heading: str | None = None) -> None:
        nonlocal seed
        col = 0
        if heading:
            c.setFont("Times-Bold", 12)
            c.drawString(p.left, y, heading)
            y -= 20
        for code_line in p.code.get(page_no, []):
            c.setFont("Courier", 9)
            c.drawString(p.left, y, code_line)
            y -= 11
        if p.header and page_no > 1:
            c.setFont("Times-Italic", 9)
            c.drawCentredString(p.left + p.width / 2, page_h - p.vmargin + 25, p.header)
        if p.footer:
            c.setFont("Times-Italic", 9)
            c.drawString(p.left, p.vmargin - 30, p.footer)
        c.setFont(p.font, p.font_size)
        lines: list[str] = []
        if page_no in p.extra:
            lines += simpleSplit(p.extra[page_no], p.font, p.font_size, col_w)
        while len(lines) < 200:
            seed += 1
            lines += simpleSplit(paragraph(seed), p.font, p.font_size, col_w)
        start_y = y
        for line in lines:
            if y < bottom:
                col += 1
                if col >= p.columns:
                    break
                y = start_y
            x = p.left + col * (col_w + gutter)
            if p.justify and line.count(" ") and not line.endswith("."):
                text = c.beginText(x, y)
                text.setFont(p.font, p.font_size)
                text.setWordSpace((col_w - c.stringWidth(line, p.font, p.font_size)) / line.count(" "))
                text.textLine(line)
                c.drawText(text)
            else:
                c.drawString(x, y, line)
            y -= leading
        c.setFont("Times-Roman", 10)
        c.drawCentredString(page_w / 2, 40, str(page_no))

    page_no = 1
    # Page 1: title, author block, abstract.
    c.setFont("Times-Bold", 17)
    c.drawCentredString(p.left + p.width / 2, top - 20, p.title)
    y = top - 60
    c.setFont("Times-Roman", 10)
    for line in p.authors:
        c.drawCentredString(p.left + p.width / 2, y, line)
        y -= 12
    c.setFont("Times-Bold", 12)
    c.drawCentredString(p.left + p.width / 2, y - 20, "Abstract")
    if p.link:  # the abstract's first line (not in the author block)
        c.setFont("Times-Roman", 10)
        c.drawString(p.left, y - 36, p.link)
        c.linkURL(p.link, (p.left, y - 40, p.left + 200, y - 26), relative=0)
        y -= 14
    body(page_no, y - 40)
    for page_no in range(2, p.content_pages + 1):
        c.showPage()
        heading = "5 Acknowledgements" if p.acknowledgements and page_no == p.content_pages else None
        body(page_no, top - 10, heading=f"{page_no} Section" if heading is None else heading)
    for _ in range(p.appendix_before_references):
        page_no += 1
        c.showPage()
        body(page_no, top - 10, heading="A Supplementary Material" if _ == 0 else None)
    if p.references:
        page_no += 1
        c.showPage()
        body(page_no, top - 10, heading="References")
    for i in range(p.appendix_pages):
        page_no += 1
        c.showPage()
        body(page_no, top - 10, heading="A Appendix" if i == 0 else None)
    c.showPage()
    c.save()
    return buf.getvalue()


def overlay(data: bytes, drawings: dict[int, list[tuple[float, float, str, str, float]]]) -> bytes:
    """The PDF with text stamped onto pages: page number (1-based) -> [(x, y, text, font, size)]."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    for number, items in drawings.items():
        page = writer.pages[number - 1]
        buf = io.BytesIO()
        c = canvas.Canvas(buf, pagesize=(float(page.mediabox.width), float(page.mediabox.height)), invariant=1)
        for x, y, text, font, size in items:
            c.setFont(font, size)
            c.drawString(x, y, text)
        c.showPage()
        c.save()
        page.merge_page(PdfReader(buf).pages[0])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def flate_bomb(decompressed_bytes: int = 1 << 30) -> bytes:
    """A one-page PDF whose content stream inflates to `decompressed_bytes` of spaces (valid, endless content)."""
    return one_page_pdf(deflate_repeated(b" " * (1 << 20), decompressed_bytes >> 20), b"/Filter /FlateDecode ")


def deflate_repeated(chunk: bytes, times: int) -> bytes:
    """zlib data for `chunk` repeated `times` times, built in milliseconds.

    After a full flush the compressor forgets its history, so every chunk compresses to the
    same block and the block is compressed once; the checksum is computed over the whole.
    """
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    again = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    assert again == block
    final = comp.flush(zlib.Z_FINISH)
    checksum = 1
    for _ in range(times):
        checksum = zlib.adler32(chunk, checksum)
    return b"\x78\xda" + block * times + final + checksum.to_bytes(4, "big")


def endless_operators(count: int = 3_000_000) -> bytes:
    """A PDF whose small compressed content stream holds millions of text operators."""
    content = b"BT /F1 10 Tf 100 700 Td " + b"(x) Tj " * count + b"ET"
    return one_page_pdf(zlib.compress(content, 9), b"/Filter /FlateDecode ")


def one_page_pdf(stream: bytes, filters: bytes) -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< " + filters + b"/Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Times-Roman >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def encrypted(data: bytes, password: str = "secret") -> bytes:
    """The same PDF, encrypted with a user password (RC4, no extra dependency)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=password, owner_password=password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_like() -> bytes:
    """A ZIP file the way a renamed .docx looks."""
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


__all__ = ["A4", "Paper", "docx_like", "encrypted", "endless_operators", "flate_bomb", "letter", "make_paper",
           "one_page_pdf", "overlay"]
