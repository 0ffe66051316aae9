"""The one masker (issue 18): every form of identity authors write, sane about ordinary words, and a decision for
every file (masked in its own encoding, or withheld with the reason; never passed through unread)."""

import io
import pickle
import struct
import zipfile
import zlib

import pytest

from app.artifacts.anonymize import MASK, MASK_MAX_BYTES, WITHHELD, Identity, Masker, mask_file, withheld_reason

ME = Identity.of(names=["Alessandra Marchetti-Oyelaran", "Bob Li", "Ian Long"],
                 emails=["a.marchetti-oyelaran@students.lakeside.example", "bob.li@uni.edu"],
                 usernames=["aliceex"], phrases=["Zephyr Quokkas"], ids=["2012345", "ab12cd"])
M = Masker(ME)


@pytest.mark.parametrize("text", [
    "alessandra_marchetti", "AlessandraMarchetti", "alessandramarchettioyelaran", "MarchettiLab", "marchetti2024",
    "marchetti_oyelaran.py", "amarchetti", "a.marchetti", "marchettia", "A.MARCHETTI-OYELARAN@STUDENTS.LAKESIDE.EXAMPLE",
    "a.marchetti-oyelaran at students dot lakeside dot example", "a.marchetti-oyelaran%40students.lakeside.example",
    "/home/amarchetti", "/home/zz9", "C:\\Users\\xyz42", "~qq7", "s2012345", "AB12CD", "ZephyrQuokkas",
    "zephyr_quokkas_v2", "Bob_Li", "BobLi", "bob.li", "ian_notes", "Ian", "github.com/aliceex",
    "Marchetti-Oyelaran, Alessandra",
])
def test_every_form_is_masked(text: str) -> None:
    out = M.mask(f"x {text}/y")
    for word in ("marchetti", "oyelaran", "alessandra", "2012345", "ab12cd", "zephyr", "quokkas", "aliceex", "zz9",
                 "xyz42", "qq7"):
        assert word not in out.lower(), (text, out)
    assert MASK in out


def test_ordinary_words_and_short_parts_are_left_alone() -> None:
    text = ("unsigned long x; Gaussian median; Li li bli; long_term; Longitude; student; 20123456; 1201234567; "
            "the bin size; github.com/alice; Zephyr winds; quokkas are marsupials")
    assert M.mask(text) == text
    # a short name run together is a word ("Stu Dent" -> student); written apart, or CamelCase, it is the name
    stu = Masker(Identity.of(names=["Stu Dent"]))
    assert stu.mask("student, STUDENT, studentship") == "student, STUDENT, studentship"
    assert stu.mask("Stu Dent, stu_dent, StuDent") == f"{MASK}, {MASK}, {MASK}"


def test_values_and_paths_are_masked_keys_included() -> None:
    assert M.value({"marchetti_acc": ["Bob Li", 3], "n": 1.5}) == {f"{MASK}_acc": [MASK, 3], "n": 1.5}
    assert M.path("AlessandraMarchettiExperiments/notes/a.marchetti.md") == f"{MASK}Experiments/notes/{MASK}.md"


def test_no_identity_masks_nothing() -> None:
    assert Masker(Identity()).mask("Alessandra Marchetti") == "Alessandra Marchetti"


def _png(text: bytes, kind: bytes = b"tEXt") -> bytes:
    def chunk(k: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + k + body + struct.pack(">I", zlib.crc32(k + body))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", b"\x00" * 13) + chunk(kind, text) + chunk(b"IEND", b"")


def _zip(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize(("path", "data", "codec"), [
    ("notes.txt", "Grüße von Alessandra Marchetti".encode("latin-1"), "latin-1"),
    ("notes.txt", "Grüße von Alessandra Marchetti €".encode("cp1252"), "cp1252"),
    ("notes.txt", "Notes by Alessandra Marchetti".encode("utf-16"), "utf-16"),
    ("notes.txt", "Notes by Alessandra Marchetti".encode("utf-16-le"), "utf-16-le"),
    ("notes.txt", b"written by Alessandra Marchetti\x00 end\n", "utf-8"),
])
def test_text_that_is_not_plain_utf8_is_masked_in_its_own_encoding(path: str, data: bytes, codec: str) -> None:
    out = mask_file(path, data, len(data), M)
    assert not out.startswith(WITHHELD)
    text = out.decode(codec)
    assert "Alessandra" not in text and "Marchetti" not in text and MASK in text


@pytest.mark.parametrize(("path", "data", "why"), [
    ("model.pkl", pickle.dumps({"author": "Alessandra Marchetti-Oyelaran"}), "contains the authors' names"),
    ("model.pkl", "Alessandra Marchetti".encode("utf-16-le") + b"\x01\x02" * 50, "contains the authors' names"),
    ("fig.png", _png(b"Author\x00Alessandra Marchetti"), "contains the authors' names"),
    ("fig.png", _png(b"Author\x00\x00" + zlib.compress(b"by amarchetti"), b"zTXt"), "compressed content"),
    ("w.npz", _zip("alessandra_marchetti/w.npy", b"\x93NUMPY" + bytes(200)), "contains the authors' names"),
    ("w.npz", _zip("w.txt", b"trained by amarchetti on the lab machine, " * 4), "compressed content"),
    ("w.npz", b"PK\x03\x04 not really a zip" + bytes(100), "could not be read"),
    ("data.gz", b"\x1f\x8b\x08\x00" + bytes(40), "could not be read"),
])
def test_binaries_that_name_the_authors_or_cannot_be_read_are_withheld(path: str, data: bytes, why: str) -> None:
    out = mask_file(path, data, len(data), M)
    reason = withheld_reason(out)
    assert reason is not None and why in reason, out


def test_a_pdf_with_the_name_in_a_compressed_stream_is_withheld() -> None:
    stream = zlib.compress(b"BT (Alessandra Marchetti) Tj ET")
    pdf = b"%PDF-1.4\n1 0 obj <</Filter /FlateDecode>>\nstream\n" + stream + b"\nendstream\nendobj\n%%EOF\n"
    assert "compressed content" in withheld_reason(mask_file("paper.pdf", pdf, len(pdf), M))


def test_binaries_read_through_and_free_of_names_pass_unchanged() -> None:
    for path, data in [("w.bin", bytes(range(256)) * 64), ("w.npz", _zip("w.npy", b"\x93NUMPY" + bytes(300))),
                       ("fig.png", _png(b"Software\x00matplotlib"))]:
        assert mask_file(path, data, len(data), M) == data, path


def test_a_file_above_the_size_the_masker_reads_is_withheld() -> None:
    out = mask_file("big.log", None, MASK_MAX_BYTES + 1, M)
    assert "larger than" in withheld_reason(out)
