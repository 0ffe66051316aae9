"""scrub_metadata: the reviewers' copy loses author fields and XMP, keeps the text, leaves the input alone."""

import io

from pypdf import PdfReader, PdfWriter

from app.pdf import check_pdf, scrub_metadata
from tests.unit.pdf_factory import Paper, make_paper


def _with_identity() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_paper(Paper(content_pages=3, meta_title="Fused")))))
    writer.add_metadata({"/Author": "Ada Lovelace", "/Creator": "Ada's laptop", "/Producer": "pdfTeX-1.40.25",
                         "/Subject": "Ada Lovelace, Alan Turing", "/Keywords": "attention, kernels"})
    writer.xmp_metadata = None
    writer._root_object[__import__("pypdf").generic.NameObject("/Metadata")] = writer._add_object(  # noqa: SLF001
        _xmp_stream())
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _xmp_stream():  # noqa: ANN202
    from pypdf.generic import DecodedStreamObject, NameObject

    stream = DecodedStreamObject()
    stream.set_data(b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:creator>Ada Lovelace</dc:creator></x:xmpmeta>')
    stream[NameObject("/Type")] = NameObject("/Metadata")
    stream[NameObject("/Subtype")] = NameObject("/XML")
    return stream


def test_scrub_removes_author_fields_and_xmp() -> None:
    original = _with_identity()
    before = bytes(original)
    assert b"Ada Lovelace" in original
    scrubbed = scrub_metadata(original)
    assert original == before  # the input is untouched
    reader = PdfReader(io.BytesIO(scrubbed))
    info = reader.metadata or {}
    for key in ("/Author", "/Creator", "/Producer", "/Subject"):
        assert key not in info, key
    assert info.get("/Keywords") == "attention, kernels"  # no names: kept for reviewers
    assert info.get("/Title") == "Fused"
    assert "/Metadata" not in reader.trailer["/Root"]
    assert b"Ada Lovelace" not in scrubbed


def test_scrub_keeps_the_text_and_pages() -> None:
    original = _with_identity()
    scrubbed = scrub_metadata(original)
    a, b = PdfReader(io.BytesIO(original)), PdfReader(io.BytesIO(scrubbed))
    assert len(a.pages) == len(b.pages) == 4
    assert [p.extract_text() for p in a.pages] == [p.extract_text() for p in b.pages]
    assert [p.mediabox for p in a.pages] == [p.mediabox for p in b.pages]


def test_scrubbed_copy_passes_the_metadata_check() -> None:
    original = _with_identity()
    assert "metadata" in {f.code for f in check_pdf(original).findings}
    assert "metadata" not in {f.code for f in check_pdf(scrub_metadata(original)).findings}
