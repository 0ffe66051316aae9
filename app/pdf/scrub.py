"""The reviewers' copy of a PDF: rebuilt from its pages' content, then checked for anything that names people.

Deleting known keys from a copy of the whole file misses what nobody listed (custom Info keys,
page-level XMP, annotation authors, attachments, scripts). So the copy is built the other way
round: a new document that receives only what renders a page (its boxes, rotation, resources and
content streams), with metadata stripped from every object copied, and links rebuilt from their
rectangle and target. Then `verify_reviewer_copy` walks every object of the result; if anything
named there remains, or the rebuild fails, reviewers get a one-page notice that the copy is
withheld instead of a leaky copy.

What is dropped: the Info dictionary (the new one holds only pypdf's /Producer), XMP `/Metadata`
on every object, `/PieceInfo`, pdfTeX's `/PTEX.*` keys of included figures (their file paths and
Info dictionaries), every annotation but links (notes, highlights, form fields, attachments, their
`/T` and `/Popup` authors), link actions other than URI and GoTo (which is rewritten to an explicit
page), the outline (bookmarks: the one thing a reviewer loses), named destinations, `/Names`
(embedded files, JavaScript), `/OpenAction`, `/AA`, `/AcroForm`, the structure tree, and
JPEG images' EXIF/XMP/IPTC segments and comments.
"""

from __future__ import annotations

import io
import logging
import textwrap
from typing import Any

from pypdf import PdfReader, PdfWriter, apply_configuration
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    EncodedStreamObject,
    FloatObject,
    IndirectObject,
    NameObject,
    NullObject,
    NumberObject,
    PdfObject,
    StreamObject,
    TextStringObject,
)

from app.pdf.check import MAX_STREAM_BYTES

_log = logging.getLogger(__name__)


class ScrubError(Exception):
    """The reviewers' copy could not be made, or still holds something that may name people."""


# What a rebuilt page keeps (all else, e.g. /Annots, /Metadata, /PieceInfo, /Thumb, /AA, is rebuilt or dropped).
_PAGE_KEYS = ("/MediaBox", "/CropBox", "/BleedBox", "/TrimBox", "/ArtBox", "/Rotate", "/UserUnit", "/Group")
# Removed from every dictionary copied (fonts, images, forms, graphics states ...).
_DROPPED_KEYS = frozenset({
    "/Metadata", "/PieceInfo", "/LastModified", "/AA", "/JS", "/JavaScript", "/OpenAction", "/EmbeddedFiles",
    "/EF", "/Annots", "/StructParent", "/StructParents", "/Thumb", "/Info", "/Ref", "/OPI", "/Names", "/Outlines",
    "/AcroForm", "/Threads",
})
_DROPPED_PREFIXES = ("/PTEX.",)  # pdfTeX: /PTEX.FileName (a path with the user's name), /PTEX.InfoDict
# Action types; only URI and GoTo survive, and only in rebuilt links.
_ACTIONS = frozenset({
    "/GoTo", "/GoToR", "/GoToE", "/Launch", "/Thread", "/URI", "/Sound", "/Movie", "/Hide", "/Named",
    "/SubmitForm", "/ResetForm", "/ImportData", "/JavaScript", "/SetOCGState", "/Rendition", "/Trans",
    "/GoTo3DView", "/RichMediaExecute", "/GoToDp",
})
_SAFE_ACTIONS = frozenset({"/GoTo", "/URI"})
_ANNOT_SUBTYPES = frozenset({
    "/Text", "/FreeText", "/Line", "/Square", "/Circle", "/Polygon", "/PolyLine", "/Highlight", "/Underline",
    "/Squiggly", "/StrikeOut", "/Stamp", "/Caret", "/Ink", "/Popup", "/FileAttachment", "/Sound", "/Movie",
    "/Widget", "/Screen", "/PrinterMark", "/TrapNet", "/Watermark", "/3D", "/Redact", "/RichMedia", "/Projection",
})
_LINK_KEYS = frozenset({"/Type", "/Subtype", "/Rect", "/Border", "/C", "/H", "/QuadPoints", "/F", "/A", "/Dest"})
_CATALOG_KEYS = frozenset({"/Type", "/Pages"})
_INFO_KEYS = frozenset({"/Producer"})
_MAX_DEPTH = 150  # levels of objects copied (forms inside forms ...); verification looks 64 deep inside one object
_MAX_VERIFY_DEPTH = 64
_MAX_ANNOTS = 5_000  # per page
# JPEG markers kept: APP0 (JFIF), APP2 (ICC profile), APP14 (Adobe: colour transform); others carry EXIF/XMP/IPTC.
_JPEG_KEPT_APPS = {0xE0, 0xE2, 0xEE}
_XMP_MARKERS = (b"<?xpacket", b"<x:xmpmeta", b"xmlns:dc=")

WITHHELD_MESSAGE = ("The reviewers' copy of this PDF is withheld: it could not be rebuilt without its authors' "
                    "metadata. The chairs can see the original.")


def scrub_metadata(data: bytes) -> bytes:
    """The reviewers' copy: rebuilt from the pages' content and verified; a withheld notice when that fails."""
    try:
        return reviewer_copy(data)
    except ScrubError as exc:
        _log.warning("reviewers' copy withheld: %s", exc)
        return withheld_notice()


def reviewer_copy(data: bytes) -> bytes:
    """Rebuild the PDF from its pages' content and verify the result; raises ScrubError when it cannot."""
    try:
        with apply_configuration(zlib_maximum_output_length=MAX_STREAM_BYTES):
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                raise ScrubError("the PDF is encrypted")
            out = _rebuild(reader)
            verify_reviewer_copy(out, pages=len(reader.pages))
            return out
    except ScrubError:
        raise
    except RecursionError as exc:
        raise ScrubError("the PDF's objects nest too deeply") from exc
    except Exception as exc:  # noqa: BLE001 - any failure inside pypdf means no copy can be vouched for
        raise ScrubError(f"the PDF could not be rebuilt ({type(exc).__name__}: {exc})") from exc


# --- rebuilding ----------------------------------------------------------------------------------


class _Copier:
    """Copies objects from the reader into the writer, stripping metadata from every dictionary on the way."""

    def __init__(self, reader: PdfReader, writer: PdfWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.memo: dict[tuple[int, int], PdfObject] = {}
        self.page_refs: dict[tuple[int, int], IndirectObject] = {}  # original page -> new page

    def copy(self, obj: Any, depth: int = 0) -> PdfObject:
        if depth > _MAX_DEPTH:
            raise ScrubError("the PDF's objects nest too deeply")
        if isinstance(obj, IndirectObject):
            key = (obj.idnum, obj.generation)
            if key in self.page_refs:
                return self.page_refs[key]
            if key in self.memo:
                return self.memo[key]
            target = obj.get_object()
            if isinstance(target, DictionaryObject) and target.get("/Type") in ("/Page", "/Pages", "/Catalog"):
                return NullObject()  # never pull the original document in through a back reference
            if isinstance(target, (DictionaryObject, ArrayObject)):
                shell: PdfObject = _empty_like(target)
                ref = self.writer._add_object(shell)  # noqa: SLF001 - reserve the number first: cycles
                self.memo[key] = ref
                self._fill(shell, target, depth)
                return ref
            value = self.copy(target, depth + 1)
            self.memo[key] = value
            return value
        if isinstance(obj, (DictionaryObject, ArrayObject)):
            shell = _empty_like(obj)
            self._fill(shell, obj, depth)
            return shell
        if obj is None:
            return NullObject()
        return obj  # names, numbers, strings, booleans, null: immutable

    def _fill(self, shell: PdfObject, source: PdfObject, depth: int) -> None:
        if isinstance(source, ArrayObject):
            shell.extend(self.copy(item, depth + 1) for item in source)  # type: ignore[attr-defined]
            return
        assert isinstance(shell, DictionaryObject) and isinstance(source, DictionaryObject)
        if _is_action(source) or source.get("/Type") in ("/Filespec", "/EmbeddedFile", "/Annot", "/Metadata"):
            return  # emptied: an action, attachment or annotation reached from a resource
        for key, value in source.items():
            if key in _DROPPED_KEYS or key.startswith(_DROPPED_PREFIXES):
                continue
            shell[NameObject(key)] = self.copy(source.raw_get(key), depth + 1)
        if isinstance(source, StreamObject):
            raw = source._data  # noqa: SLF001 - the encoded bytes, copied without decoding (no bombs)
            if _is_jpeg(source):
                raw = strip_jpeg_metadata(raw)
            shell._data = raw  # noqa: SLF001


def _empty_like(obj: PdfObject) -> PdfObject:
    if isinstance(obj, EncodedStreamObject):
        return EncodedStreamObject()
    if isinstance(obj, StreamObject):
        return DecodedStreamObject()
    if isinstance(obj, ArrayObject):
        return ArrayObject()
    return DictionaryObject()


def _is_action(obj: DictionaryObject) -> bool:
    return obj.get("/Type") == "/Action" or obj.get("/S") in _ACTIONS


def _is_jpeg(stream: StreamObject) -> bool:
    filters = stream.get("/Filter")
    filters = filters.get_object() if filters is not None else None
    names = list(filters) if isinstance(filters, ArrayObject) else [filters]
    return names == ["/DCTDecode"]


def strip_jpeg_metadata(raw: bytes) -> bytes:
    """A JPEG without its APPn segments other than JFIF, ICC and Adobe, and without comments (EXIF, XMP, IPTC)."""
    if not raw.startswith(b"\xff\xd8"):
        return raw
    out = bytearray(raw[:2])
    pos = 2
    while pos + 4 <= len(raw) and raw[pos] == 0xFF:
        marker = raw[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA or not (0xC0 <= marker <= 0xFE):  # start of scan: the rest is image data
            break
        length = int.from_bytes(raw[pos + 2:pos + 4], "big")
        end = pos + 2 + length
        if length < 2 or end > len(raw):
            return raw  # not a JPEG we understand: leave it as it is
        drop = (0xE0 <= marker <= 0xEF and marker not in _JPEG_KEPT_APPS) or marker == 0xFE
        if not drop:
            out += raw[pos:end]
        pos = end
    out += raw[pos:]
    return bytes(out)


def _rebuild(reader: PdfReader) -> bytes:
    writer = PdfWriter()
    copier = _Copier(reader, writer)
    originals = list(reader.pages)
    new_pages = []
    page_index: dict[tuple[int, int], int] = {}
    for index, page in enumerate(originals):
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        new = writer.add_blank_page(width=abs(width) or 612, height=abs(height) or 792)
        new_pages.append(new)
        if page.indirect_reference is not None:
            key = (page.indirect_reference.idnum, page.indirect_reference.generation)
            copier.page_refs[key] = new.indirect_reference
            page_index[key] = index
    named = _NamedDestinations(reader)
    for page, new in zip(originals, new_pages, strict=True):
        for key in _PAGE_KEYS:
            if key in page:
                new[NameObject(key)] = copier.copy(page.raw_get(key))
        resources = page.get("/Resources")
        new[NameObject("/Resources")] = copier.copy(page.raw_get("/Resources")) if resources is not None \
            else DictionaryObject()
        if "/Contents" in page:
            new[NameObject("/Contents")] = copier.copy(page.raw_get("/Contents"))
        links = _links(page, copier, new_pages, page_index, named)
        if links:
            new[NameObject("/Annots")] = ArrayObject(links)
    # A fresh writer has a fresh catalog and an Info dictionary with only /Producer.
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


class _NamedDestinations:
    """The document's named destinations, read the first time a link needs one."""

    def __init__(self, reader: PdfReader) -> None:
        self.reader = reader
        self.found: dict[str, Any] | None = None

    def get(self, name: str) -> Any:
        if self.found is None:
            try:
                self.found = dict(self.reader.named_destinations)
            except Exception:  # noqa: BLE001 - a broken name tree only costs internal links their target
                self.found = {}
        return self.found.get(name)


def _links(page: Any, copier: _Copier, new_pages: list[Any], page_index: dict[tuple[int, int], int],
           named: _NamedDestinations) -> list[IndirectObject]:
    """The page's link annotations, rebuilt from rectangle and target (URI or a page of this document)."""
    annots = page.get("/Annots")
    annots = annots.get_object() if annots is not None else None
    if not isinstance(annots, ArrayObject):
        return []
    links = []
    for item in list(annots)[:_MAX_ANNOTS]:
        annot = item.get_object() if item is not None else None
        if not isinstance(annot, DictionaryObject) or annot.get("/Subtype") != "/Link":
            continue
        rect = annot.get("/Rect")
        rect = rect.get_object() if rect is not None else None
        if not isinstance(rect, ArrayObject) or len(rect) != 4:
            continue
        target = _link_target(annot, page_index, new_pages, named)
        if target is None:
            continue
        link = DictionaryObject({
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Link"),
            NameObject("/Rect"): ArrayObject(FloatObject(float(v)) for v in rect),
            NameObject("/Border"): ArrayObject([NumberObject(0), NumberObject(0), NumberObject(0)]),
        })
        link.update(target)
        links.append(copier.writer._add_object(link))  # noqa: SLF001
    return links


def _link_target(annot: DictionaryObject, page_index: dict[tuple[int, int], int], new_pages: list[Any],
                 named: _NamedDestinations) -> dict[NameObject, PdfObject] | None:
    action = annot.get("/A")
    action = action.get_object() if action is not None else None
    dest = annot.get("/Dest")
    if isinstance(action, DictionaryObject):
        kind = action.get("/S")
        if kind == "/URI":
            uri = action.get("/URI")
            uri = uri.get_object() if uri is not None else None
            if not isinstance(uri, (str, bytes)):
                return None
            text = uri.decode("latin-1") if isinstance(uri, bytes) else str(uri)
            return {NameObject("/A"): DictionaryObject({NameObject("/S"): NameObject("/URI"),
                                                        NameObject("/URI"): TextStringObject(text[:2000])})}
        if kind != "/GoTo":
            return None  # JavaScript, Launch, GoToR, SubmitForm ...: the link goes
        dest = action.get("/D")
    explicit = _explicit_destination(dest, page_index, new_pages, named)
    return {NameObject("/Dest"): explicit} if explicit is not None else None


def _explicit_destination(dest: Any, page_index: dict[tuple[int, int], int], new_pages: list[Any],
                          named: _NamedDestinations) -> ArrayObject | None:
    dest = dest.get_object() if dest is not None else None
    if isinstance(dest, (str, bytes, NameObject)):
        name = dest.decode("latin-1") if isinstance(dest, bytes) else str(dest)
        found = named.get(name) or named.get(name.lstrip("/"))
        if found is None:
            return None
        dest = found.dest_array if hasattr(found, "dest_array") else found
    if isinstance(dest, DictionaryObject):  # << /D [...] >> in a /Dests dictionary
        dest = dest.get("/D")
        dest = dest.get_object() if dest is not None else None
    if not isinstance(dest, (ArrayObject, list)) or not dest:
        return None
    page = dest[0]
    index: int | None = None
    if isinstance(page, IndirectObject):
        index = page_index.get((page.idnum, page.generation))
    elif isinstance(page, int) and not isinstance(page, bool) and 0 <= page < len(new_pages):
        index = int(page)
    if index is None:
        return None
    out = ArrayObject([new_pages[index].indirect_reference])
    kind = dest[1] if len(dest) > 1 else NameObject("/Fit")
    out.append(NameObject(str(kind)) if isinstance(kind, NameObject) else NameObject("/Fit"))
    for value in list(dest[2:6]):
        value = value.get_object() if isinstance(value, IndirectObject) else value
        out.append(FloatObject(float(value)) if isinstance(value, (int, float)) and not isinstance(value, bool)
                   else NullObject())
    return out


# --- verifying -----------------------------------------------------------------------------------


def verify_reviewer_copy(data: bytes, pages: int | None = None) -> None:
    """Walk every object of a reviewers' copy; raise ScrubError if anything there may name people or run code."""
    for marker in _XMP_MARKERS:
        if marker in data:
            raise ScrubError(f"an XMP packet remains ({marker!r})")
    reader = PdfReader(io.BytesIO(data), strict=False)
    if pages is not None and len(reader.pages) != pages:
        raise ScrubError(f"the copy has {len(reader.pages)} pages, the original {pages}")
    trailer = reader.trailer
    extra = set(trailer.keys()) - {"/Root", "/Info", "/ID", "/Size", "/Prev", "/XRefStm"}
    if extra:
        raise ScrubError(f"the trailer holds {sorted(extra)}")
    info = trailer.get("/Info")
    info = info.get_object() if info is not None else None
    if isinstance(info, DictionaryObject) and set(info.keys()) - _INFO_KEYS:
        raise ScrubError(f"the Info dictionary holds {sorted(set(info.keys()) - _INFO_KEYS)}")
    root = trailer["/Root"].get_object()
    if set(root.keys()) - _CATALOG_KEYS:
        raise ScrubError(f"the catalog holds {sorted(set(root.keys()) - _CATALOG_KEYS)}")
    size = int(trailer.get("/Size", 0))
    for idnum in range(1, size):
        try:
            obj = reader.get_object(idnum)
        except Exception:  # noqa: BLE001 - a free number
            continue
        if obj is None or isinstance(obj, NullObject):
            continue
        _verify_object(obj, idnum, 0)


def _verify_object(obj: Any, idnum: int, depth: int) -> None:
    if depth > _MAX_VERIFY_DEPTH:
        raise ScrubError(f"object {idnum} nests too deeply")
    if isinstance(obj, ArrayObject):
        for item in obj:
            if not isinstance(item, IndirectObject):
                _verify_object(item, idnum, depth + 1)
        return
    if not isinstance(obj, DictionaryObject):
        return
    where = f"object {idnum}"
    for key in obj:
        if key in _DROPPED_KEYS and not (key == "/Annots" and obj.get("/Type") == "/Page"):
            raise ScrubError(f"{where} holds {key}")
        if key.startswith(_DROPPED_PREFIXES):
            raise ScrubError(f"{where} holds {key}")
    kind, subtype = obj.get("/Type"), obj.get("/Subtype")
    if kind in ("/Metadata", "/Filespec", "/EmbeddedFile", "/Action") or subtype == "/XML":
        raise ScrubError(f"{where} is a {kind or subtype} object")
    if subtype in _ANNOT_SUBTYPES:
        raise ScrubError(f"{where} is a {subtype} annotation")
    if subtype == "/Link" or kind == "/Annot":
        if subtype != "/Link" or set(obj.keys()) - _LINK_KEYS:
            raise ScrubError(f"{where} is an annotation with {sorted(set(obj.keys()) - _LINK_KEYS)}")
    if obj.get("/S") in _ACTIONS and obj.get("/S") not in _SAFE_ACTIONS:
        raise ScrubError(f"{where} is a {obj.get('/S')} action")
    if obj.get("/S") == "/URI" and set(obj.keys()) - {"/S", "/URI", "/Type"}:
        raise ScrubError(f"{where} is a URI action with {sorted(set(obj.keys()) - {'/S', '/URI', '/Type'})}")
    for key, value in obj.items():
        raw = obj.raw_get(key)
        if not isinstance(raw, IndirectObject):
            _verify_object(value, idnum, depth + 1)


def withheld_notice() -> bytes:
    """A one-page PDF that says the reviewers' copy is withheld (built from nothing the authors sent)."""
    writer = PdfWriter()
    page = writer.add_blank_page(width=612, height=792)
    font = writer._add_object(DictionaryObject({  # noqa: SLF001
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica")}))
    page[NameObject("/Resources")] = DictionaryObject({
        NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})})
    lines = textwrap.wrap(WITHHELD_MESSAGE, 60)
    ops = ["BT", "/F1 14 Tf", "72 700 Td", "18 TL"]
    for line in lines:
        ops.append("(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") '")
    ops.append("ET")
    content = DecodedStreamObject()
    content.set_data("\n".join(ops).encode("latin-1"))
    page[NameObject("/Contents")] = writer._add_object(content)  # noqa: SLF001
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
