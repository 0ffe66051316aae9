"""A copy of a PDF for reviewers, without the document properties that name its authors."""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader, PdfWriter, apply_configuration
from pypdf.generic import IndirectObject, NameObject, NullObject

from app.pdf.check import _EMAIL, _MAX_SCAN, MAX_STREAM_BYTES, looks_like_names

_log = logging.getLogger(__name__)

# Always removed: who wrote the file and with what (a Creator such as "Ada's MacBook Word").
_ALWAYS = ("/Author", "/Creator", "/Producer", "/Company", "/Manager", "/LastModifiedBy", "/AuthorEmail",
           "/AuthorEmailDisplayName")
# Removed when they look like they hold names or e-mail addresses; otherwise they help reviewers.
_IF_NAMED = ("/Subject", "/Keywords")


def scrub_metadata(data: bytes) -> bytes:
    """Return a copy with author fields and XMP metadata removed; unreadable input comes back unchanged."""
    try:
        with apply_configuration(zlib_maximum_output_length=MAX_STREAM_BYTES):
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                return data
            writer = PdfWriter(clone_from=reader)
            info = writer._info.get_object() if writer._info is not None else None  # noqa: SLF001
            if info is not None:
                for key in list(info.keys()):
                    value = info[key]
                    head = value[:_MAX_SCAN] if isinstance(value, str) else ""
                    named = looks_like_names(head) or _EMAIL.search(head) is not None
                    if key in _ALWAYS or (key in _IF_NAMED and named):
                        del info[key]
            root = writer._root_object  # noqa: SLF001
            if NameObject("/Metadata") in root:
                ref = root.raw_get(NameObject("/Metadata"))
                del root[NameObject("/Metadata")]
                # The writer writes every object it holds, linked or not: blank the XMP stream itself.
                objects = writer._objects  # noqa: SLF001
                if isinstance(ref, IndirectObject) and ref.pdf is writer and 0 < ref.idnum <= len(objects):
                    objects[ref.idnum - 1] = NullObject()
            out = io.BytesIO()
            writer.write(out)
            return out.getvalue()
    except Exception as exc:  # noqa: BLE001 - the check reports unreadable files; never fail an upload here
        _log.info("could not scrub PDF metadata: %r", exc)
        return data
