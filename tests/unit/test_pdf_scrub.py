"""scrub_metadata: the reviewers' copy is rebuilt from the pages, keeps the text and links, and names nobody."""

import io
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    NameObject,
    NumberObject,
    StreamObject,
    TextStringObject,
)

from app.pdf import check_pdf, scrub_metadata
from app.pdf.scrub import ScrubError, reviewer_copy, strip_jpeg_metadata, verify_reviewer_copy, withheld_notice
from tests.unit.pdf_factory import Paper, make_paper

NAME = "Ada Lovelace"
PLANTED = (b"Ada Lovelace", b"Lovelace", b"ada.lovelace", b"app.example", b"/JavaScript", b"/OpenAction")
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


def _n(name: str) -> NameObject:
    return NameObject(name)


def _stream(data: bytes, **entries: object) -> DecodedStreamObject:
    stream = DecodedStreamObject()
    stream.set_data(data)
    for key, value in entries.items():
        stream[_n("/" + key)] = value  # type: ignore[assignment]
    return stream


def _xmp() -> DecodedStreamObject:
    return _stream(b'<?xpacket begin=""?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
                   b'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>Ada Lovelace</dc:creator>'
                   b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>',
                   Type=_n("/Metadata"), Subtype=_n("/XML"))


def _js(code: str) -> DictionaryObject:
    return DictionaryObject({_n("/S"): _n("/JavaScript"), _n("/JS"): TextStringObject(code)})


def _with_identity() -> bytes:
    """A paper with its authors planted everywhere a PDF can hold them outside the page text."""
    base = make_paper(Paper(content_pages=3, link="https://anonymous.4open.science/r/fused"))
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(base)))
    add = writer._add_object  # noqa: SLF001
    writer.add_metadata({"/Title": "Fused kernels - Ada Lovelace and Alan Turing", "/Author": NAME,
                         "/Creator": "Ada Lovelace's laptop", "/Subject": "Ada Lovelace, Alan Turing",
                         "/Keywords": "attention", "/StudentEmail": "ada.lovelace@uni.example"})
    root = writer._root_object  # noqa: SLF001
    root[_n("/Metadata")] = add(_xmp())
    root[_n("/OpenAction")] = add(_js("app.launchURL('https://tracker.app.example/?opened=1');"))
    root[_n("/AA")] = DictionaryObject({_n("/WC"): add(_js("app.alert('Ada Lovelace');"))})
    attachment = DictionaryObject({
        _n("/Type"): _n("/Filespec"), _n("/F"): TextStringObject("ada_lovelace_notes.txt"),
        _n("/EF"): DictionaryObject({_n("/F"): add(_stream(b"notes by Ada Lovelace", Type=_n("/EmbeddedFile")))})})
    attachment_ref = add(attachment)
    root[_n("/Names")] = DictionaryObject({
        _n("/EmbeddedFiles"): DictionaryObject({
            _n("/Names"): ArrayObject([TextStringObject("notes"), attachment_ref])}),
        _n("/JavaScript"): DictionaryObject({_n("/Names"): ArrayObject([
            TextStringObject("init"), add(_js("this.submitForm('https://app.example/ada.lovelace');"))])})})
    root[_n("/AcroForm")] = DictionaryObject({_n("/Fields"): ArrayObject()})

    page = writer.pages[0]
    page[_n("/Metadata")] = add(_xmp())  # page-level XMP
    page[_n("/AA")] = DictionaryObject({_n("/O"): add(_js("app.alert(1)"))})
    page[_n("/PieceInfo")] = DictionaryObject({_n("/Word"): DictionaryObject({
        _n("/Private"): TextStringObject("Ada Lovelace")})})
    rect = ArrayObject([FloatObject(v) for v in (400, 700, 420, 720)])
    popup = add(DictionaryObject({_n("/Type"): _n("/Annot"), _n("/Subtype"): _n("/Popup"),
                                  _n("/T"): TextStringObject(NAME), _n("/Rect"): rect}))
    note = DictionaryObject({_n("/Type"): _n("/Annot"), _n("/Subtype"): _n("/Text"), _n("/Rect"): rect,
                             _n("/T"): TextStringObject(NAME), _n("/Contents"): TextStringObject("fix this"),
                             _n("/Popup"): popup})
    attach = DictionaryObject({_n("/Type"): _n("/Annot"), _n("/Subtype"): _n("/FileAttachment"), _n("/Rect"): rect,
                               _n("/FS"): attachment_ref, _n("/T"): TextStringObject(NAME)})
    script_link = DictionaryObject({_n("/Type"): _n("/Annot"), _n("/Subtype"): _n("/Link"), _n("/Rect"): rect,
                                    _n("/A"): add(_js("app.launchURL('https://app.example')"))})
    annots = page["/Annots"].get_object()
    link = annots[0].get_object()
    link[_n("/T")] = TextStringObject(NAME)  # a link's author field
    link[_n("/AA")] = DictionaryObject({_n("/E"): add(_js("app.alert(2)"))})
    internal = DictionaryObject({_n("/Type"): _n("/Annot"), _n("/Subtype"): _n("/Link"),
                                 _n("/Rect"): ArrayObject([FloatObject(v) for v in (108, 100, 200, 112)]),
                                 _n("/Dest"): ArrayObject([writer.pages[2].indirect_reference, _n("/XYZ"),
                                                           NumberObject(108), NumberObject(700), NumberObject(0)])})
    for annot in (note, popup, attach, script_link, internal):
        annots.append(add(annot) if isinstance(annot, DictionaryObject) else annot)
    # A figure included by pdfTeX: a form XObject with its own XMP, Info dictionary and file path.
    figure = _stream(b"q 0 0 1 rg 0 0 10 10 re f Q", Type=_n("/XObject"), Subtype=_n("/Form"),
                     BBox=ArrayObject([NumberObject(0), NumberObject(0), NumberObject(10), NumberObject(10)]))
    figure[_n("/Metadata")] = add(_xmp())
    figure[_n("/PTEX.FileName")] = TextStringObject("/home/ada.lovelace/figs/plot.pdf")
    figure[_n("/PTEX.InfoDict")] = add(DictionaryObject({_n("/Author"): TextStringObject(NAME)}))
    resources = page["/Resources"].get_object()
    resources[_n("/XObject")] = DictionaryObject({_n("/Fig1"): add(figure)})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _strings(data: bytes) -> str:
    """Every string value and every non-content stream of every object, decoded: what a reader could dig out."""
    reader = PdfReader(io.BytesIO(data))
    contents = {c.idnum for p in reader.pages for c in _content_refs(p)}
    found: list[str] = [str(reader.trailer.get("/Info", {}).get_object() if "/Info" in reader.trailer else {})]

    def walk(obj: object, depth: int = 0) -> None:
        if depth > 30:
            return
        if isinstance(obj, dict):
            for key, value in obj.items():
                found.append(str(key))
                if not hasattr(value, "idnum"):
                    walk(value, depth + 1)
        elif isinstance(obj, list):
            for value in obj:
                if not hasattr(value, "idnum"):
                    walk(value, depth + 1)
        elif isinstance(obj, (str, bytes)):
            found.append(obj if isinstance(obj, str) else obj.decode("latin-1"))

    for idnum in range(1, int(reader.trailer["/Size"])):
        obj = reader.get_object(idnum)
        walk(obj)
        if isinstance(obj, StreamObject) and idnum not in contents and obj.get("/Subtype") != "/Image":
            found.append(obj.get_data().decode("latin-1"))
    return "\n".join(found)


def _content_refs(page) -> list:  # noqa: ANN001
    raw = page.raw_get("/Contents")
    if hasattr(raw, "idnum"):
        target = raw.get_object()
        return [raw] if not isinstance(target, list) else list(target)
    return list(raw) if isinstance(raw, list) else []


def test_planted_identities_survive_nowhere() -> None:
    original = _with_identity()
    before = bytes(original)
    assert all(marker in original for marker in (b"Ada Lovelace", b"/OpenAction", b"/EmbeddedFiles"))
    copy = scrub_metadata(original)
    assert original == before  # the input is untouched
    assert copy != withheld_notice()
    for marker in PLANTED + (b"xmpmeta", b"dc:creator", b"/EmbeddedFiles", b"/EF", b"/AA", b"/JS", b"/PTEX",
                             b"/PieceInfo", b"/Popup", b"/AcroForm", b"/Names", b"/Metadata", b"/T (",
                             b"/Subtype /Text"):
        assert marker not in copy, marker
    dug = _strings(copy)
    for text in ("Lovelace", "lovelace", "JavaScript", "xmpmeta", "ada_lovelace", "fix this", "Turing"):
        assert text not in dug, text
    reader = PdfReader(io.BytesIO(copy))
    assert set(reader.trailer["/Root"].keys()) == {"/Type", "/Pages"}
    assert dict(reader.metadata or {}) == {"/Producer": "pypdf"}
    verify_reviewer_copy(copy, pages=4)


def test_links_survive_without_their_authors_or_scripts() -> None:
    reader = PdfReader(io.BytesIO(scrub_metadata(_with_identity())))
    annots = [a.get_object() for a in reader.pages[0]["/Annots"]]
    assert [a["/Subtype"] for a in annots] == ["/Link", "/Link"]  # the note, popup, attachment and script link go
    uri, internal = annots
    assert uri["/A"]["/URI"] == "https://anonymous.4open.science/r/fused" and "/T" not in uri and "/AA" not in uri
    assert internal["/Dest"][0] == reader.pages[2].indirect_reference  # rewritten to the copy's own page


def test_scrub_keeps_the_text_pages_and_figures() -> None:
    original = _with_identity()
    copy = scrub_metadata(original)
    a, b = PdfReader(io.BytesIO(original)), PdfReader(io.BytesIO(copy))
    assert len(a.pages) == len(b.pages) == 4
    assert [p.extract_text() for p in a.pages] == [p.extract_text() for p in b.pages]
    assert [p.mediabox for p in a.pages] == [p.mediabox for p in b.pages]
    figure = b.pages[0]["/Resources"]["/XObject"]["/Fig1"].get_object()
    assert figure.get_data() == b"q 0 0 1 rg 0 0 10 10 re f Q" and "/BBox" in figure
    assert check_pdf(copy, anonymous=False).errors == check_pdf(original, anonymous=False).errors


def test_scrubbed_copy_passes_the_metadata_check() -> None:
    original = _with_identity()
    assert "metadata" in {f.code for f in check_pdf(original, member_names=[NAME]).findings}
    assert "metadata" not in {f.code for f in check_pdf(scrub_metadata(original), member_names=[NAME]).findings}


def test_verify_refuses_a_copy_that_still_names_people() -> None:
    with pytest.raises(ScrubError):
        verify_reviewer_copy(_with_identity())
    # Deleting known keys (the old scrub) is not enough: a custom Info key or an annotation author remains.
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_paper(Paper(content_pages=2)))))
    writer.add_metadata({"/StudentName": NAME})
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(ScrubError, match="Info"):
        verify_reviewer_copy(out.getvalue())


def test_unreadable_or_encrypted_input_gets_the_withheld_notice() -> None:
    from tests.unit.pdf_factory import encrypted

    notice = withheld_notice()
    assert "withheld" in PdfReader(io.BytesIO(notice)).pages[0].extract_text()
    for data in (b"%PDF-1.7\n garbage", encrypted(make_paper(Paper(content_pages=1)))):
        with pytest.raises(ScrubError):
            reviewer_copy(data)
        assert scrub_metadata(data) == notice


def test_jpeg_loses_exif_and_comments_but_keeps_its_image_data() -> None:
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    exif = b"\xff\xe1" + (len(b"Exif\x00\x00Ada Lovelace") + 2).to_bytes(2, "big") + b"Exif\x00\x00Ada Lovelace"
    comment = b"\xff\xfe" + (len(b"by Ada") + 2).to_bytes(2, "big") + b"by Ada"
    adobe = b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00\x01"
    scan = b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + b"\x12\x34\xff\x00\x56" + b"\xff\xd9"
    jpeg = b"\xff\xd8" + app0 + exif + comment + adobe + scan
    assert strip_jpeg_metadata(jpeg) == b"\xff\xd8" + app0 + adobe + scan
    assert strip_jpeg_metadata(b"not a jpeg") == b"not a jpeg"


@pytest.mark.skipif(not (CORPUS / "INDEX.md").is_file(), reason="the shared PDF corpus is not here")
@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*.pdf")) if CORPUS.is_dir() else [])
def test_real_papers_keep_their_text_and_links(name: str) -> None:
    data = (CORPUS / name).read_bytes()
    copy = reviewer_copy(data)
    a, b = PdfReader(io.BytesIO(data)), PdfReader(io.BytesIO(copy))
    assert len(a.pages) == len(b.pages)
    assert [p.extract_text() for p in a.pages] == [p.extract_text() for p in b.pages]
    assert b"/PTEX" not in copy

    def links(reader: PdfReader) -> int:
        return sum(len(p["/Annots"].get_object()) for p in reader.pages if "/Annots" in p)

    assert links(b) == links(a)  # pdfTeX papers hold only links: every one survives


def test_inherited_page_attributes_are_kept() -> None:
    """Resources, MediaBox and Rotate set on the page tree (not the page) still reach the rebuilt page."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 612 792] /Rotate 90 "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>",
        b"<< /Length 44 >>\nstream\nBT /F1 10 Tf 100 700 Td (Inherited text) Tj ET\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Times-Roman >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    out.write(b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets))
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    page = PdfReader(io.BytesIO(reviewer_copy(out.getvalue()))).pages[0]
    assert page.extract_text() == "Inherited text"
    assert page.get("/Rotate") == 90 and list(page.mediabox) == [0, 0, 612, 792]
