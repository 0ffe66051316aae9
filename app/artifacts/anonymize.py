"""Anonymised views of artifacts, and the one masker every text a reviewer reads from the authors goes through.

``Masker`` is built once per submission from an ``Identity`` (the members' names, present and past, their emails,
logins and student ID numbers, the group's names) and matches the forms people write them in: as words, joined by
underscores, dots or hyphens, run together, in CamelCase, as initial + surname, inside home paths. ``mask`` is
for text, ``path`` for file names, ``value`` for JSON-like values (keys too).

``anonymized_view`` writes a second snapshot (same normalised tarball format) in which every file is either
masked (UTF-8, UTF-16 and latin-1 text, decoded and re-encoded as it was) or, when it cannot be masked (a binary
or compressed file that names the authors or cannot be read through, a file too large to read), withheld: its
content replaced by a note starting with ``WITHHELD``. Nothing passes through unread. Same inputs give the same
blob id.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from app.artifacts.snapshot import DEFAULT_MAX_FILES, TreeBuilder, iter_members, scratch_dir
from app.storage import BlobStore

__all__ = ["MASK", "WITHHELD", "Identity", "Masker", "anonymize_text", "anonymize_path", "anonymized_view",
           "decode_text", "is_text", "mask_file", "withheld_reason"]

MASK = "[anonymized]"
WITHHELD = b"[withheld: could not be anonymized]"
TEXT_MAX_BYTES = 1024 * 1024  # a file the browser shows as text at most (browse.py); the masker reads more
MASK_MAX_BYTES = 16 * 1024 * 1024  # larger files are withheld from reviewers: too large to read through
_MIN_PART = 3  # a name part shorter than this is masked only with the rest of the name
_STRONG = 5  # in binary data only terms this long count (three letters occur in any large binary by chance)
_MIN_ID = 4  # student ID numbers and logins shorter than this are masked only in forge urls
# Name parts that are ordinary (or programming) words: masked within the full name, never alone.
_COMMON = frozenset("""
al bin da dal de del della den der di do dos du el la le van von ten ter ibn abu san st
will mark rose grant young king long white green brown black gray grey may june april august hall park wood
stone bell ward cook hill lane price rich bond case chase dean drew ford glass gold hunt frank max min sum set
map list test data main run ray key sun art page field fields mason miller walker baker carter cooper turner
hunter banks north south west east love little short new small big joy hope faith summer winter spring
""".split())

_BINARY_EXTENSIONS = {
    ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".webp", ".tif", ".tiff", ".pdf",
    ".zip", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".tar", ".whl", ".jar",
    ".npz", ".npy", ".pt", ".pth", ".ckpt", ".onnx", ".tflite", ".h5", ".pkl", ".pickle",
    ".safetensors", ".bin", ".elf", ".hex", ".o", ".a", ".so", ".dll", ".exe", ".pyc",
    ".mp3", ".wav", ".mp4", ".mov", ".ttf", ".otf", ".woff", ".woff2",
}
_LICENSE_RE = re.compile(r"^(licen[cs]e|copying|notice|authors)([.-].*)?$", re.IGNORECASE)
_COPYRIGHT_RE = re.compile(
    r"^(?P<lead>[\s#*/;%-]*(?:Copyright|\(c\)|©)(?:\s*(?:\(c\)|©))?"
    r"(?:\s*[0-9]{4}(?:\s*[-–,]\s*[0-9]{4})*,?)?)(?P<holder>\s+\S.*)$",
    re.IGNORECASE | re.MULTILINE,
)
# A word starts where no letter is before it, or at a CamelCase step (lower then upper case); it ends likewise.
# Underscores, digits, dots and hyphens are boundaries: "alice_example", "Alice2024", "AliceExample" all match.
_START = r"(?:(?<![^\W\d_])|(?-i:(?<=[a-z])(?=[A-Z])))"
_END = r"(?:(?![^\W\d_])|(?-i:(?<=[a-z])(?=[A-Z])))"
_SEP = r"[\s_.\-]*"  # between the words of a name: space, newline, underscore, dot, hyphen or nothing
# The account in a home directory is a person's login whoever it is: masked without knowing it.
_HOME_RE = r"(?:(?<=/home/)|(?<=/Users/)|(?<=\\Users\\)|(?<=~))[A-Za-z][\w.-]{1,31}(?=[/\\])"


@dataclass(frozen=True)
class Identity:
    """What identifies a submission's authors: gathered from the roster and the group's history
    (app/services/anonymization.py), masked wherever a reviewer reads the authors' text."""

    names: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    usernames: tuple[str, ...] = ()  # forge accounts, logins (an email's local part is one too)
    phrases: tuple[str, ...] = ()    # the group's names, now and before
    ids: tuple[str, ...] = ()        # student ID numbers

    @classmethod
    def of(cls, names: Iterable[str] = (), emails: Iterable[str] = (), usernames: Iterable[str] | None = (),
           phrases: Iterable[str] = (), ids: Iterable[str] = ()) -> Identity:
        def clean(xs: Iterable[str] | None) -> tuple[str, ...]:
            return tuple(dict.fromkeys(" ".join(str(x).split()) for x in (xs or ()) if x and str(x).strip()))
        return cls(clean(names), clean(emails), clean(usernames), clean(phrases), clean(ids))


def _words(text: str) -> list[str]:
    """A name's words, hyphenated ones split ("Marchetti-Oyelaran" -> Marchetti, Oyelaran); quotes and dots go."""
    return [w for w in re.split(r"[\s\-_.,'\"“”‘’()]+", text) if w]


def _name_parts(name: str) -> list[str]:
    """Words of a full name (and the halves of hyphenated ones) that are distinctive enough to mask alone."""
    parts: list[str] = []
    for p in _words(name):
        if len(p) >= _MIN_PART and p.lower() not in _COMMON and p not in parts:
            parts.append(p)
    return parts


_RUN_TOGETHER_MIN = 10  # shorter names run together are often words ("Stu Dent" -> "student"): CamelCase only


def _joined(words: list[str]) -> str:
    sep = _SEP if sum(map(len, words)) >= _RUN_TOGETHER_MIN else r"(?:[\s_.\-]+|(?-i:(?<=[a-z])(?=[A-Z])))"
    return _START + sep.join(re.escape(w) for w in words) + _END


@dataclass(frozen=True)
class _Alt:
    """One form of identity: its regex, its priority (longer first), whether it counts in binary data, and a
    literal every match holds (lower case) with where a match starts relative to it (to find candidates fast)."""

    priority: int
    regex: str
    strong: bool
    anchor: str
    starts: tuple[int, ...] = (0,)  # a match starts this many characters before the anchor


def _alternatives(identity: Identity) -> list[_Alt]:
    """Every form of the identity; strong ones are also looked for in binary data."""
    alts: list[_Alt] = []

    def add(length: int, regex: str, strong: bool | None = None, *, anchor: str,
            starts: tuple[int, ...] = (0,)) -> None:
        alts.append(_Alt(length, regex, length >= _STRONG if strong is None else strong, anchor.lower(), starts))

    for phrase in identity.phrases:
        # A group's name, whole ("Zephyr Quokkas", "zephyr-quokkas", "ZephyrQuokkas"); its words alone are often
        # ordinary words, so they are not masked on their own as a person's name parts are.
        words = _words(phrase)
        if words:
            add(len(phrase), _joined(words), anchor=words[0])
    for email in identity.emails:
        local, _, domain = email.partition("@")
        if not domain:
            continue
        at = r"\s*(?:@|%40|\(at\)|\[at\]|\sat\s)\s*"
        dom = r"\s*(?:\.|\(dot\)|\[dot\]|\sdot\s)\s*".join(re.escape(d) for d in domain.split("."))
        add(len(email) + 200, rf"(?<![\w.+-]){re.escape(local)}{at}{dom}(?![\w-])", True, anchor=local)
        identity_login = re.sub(r"\+.*", "", local)
        if len(identity_login) >= _MIN_ID:
            add(len(identity_login) + 50, rf"(?<![^\W_]){re.escape(identity_login)}(?![^\W_])",
                anchor=identity_login)
    for name in identity.names:
        words = _words(name)
        if not words:
            continue
        if len(words) > 1:
            add(len(name) + 100, _joined(words), True, anchor=words[0])
            # two or more neighbouring words of a longer name ("dmitri_valdespino" of Dmitri Valdespino-Achterberg)
            for i in range(len(words)):
                for j in range(i + 2, len(words) + (i > 0)):
                    add(sum(map(len, words[i:j])) + 99, _joined(words[i:j]), True, anchor=words[i])
            # "Example, Alice" as in bibliographies and author lists
            rev = re.escape(words[-1]) + r",?\s*" + r"\s+".join(re.escape(w) for w in words[:-1])
            add(len(name) + 101, _START + rev + _END, True, anchor=words[-1])
            # logins and run-together forms: initial + surname ("amarchetti", "a.marchetti"), surname + initial
            for last in words[1:]:
                if len(last) >= 4:
                    add(len(last) + 1, _START + re.escape(words[0][0]) + r"[._-]?" + re.escape(last) + _END,
                        anchor=last, starts=(1, 2))
                    add(len(last) + 1, _START + re.escape(last) + r"[._-]?" + re.escape(words[0][0]) + _END,
                        anchor=last)
        for part in _name_parts(name):
            add(len(part), _START + re.escape(part) + _END, anchor=part)
    for user in identity.usernames:
        user = user.strip().lstrip("@")
        if not user:
            continue
        # In a forge url any length counts; elsewhere only usernames long enough to be distinctive.
        for forge in ("github", "gitlab"):
            add(len(user) + 100, rf"(?<={forge}\.com/){re.escape(user)}(?![\w-])", len(user) >= _MIN_ID,
                anchor=user)
        if len(user) >= _MIN_PART:
            add(len(user), rf"(?<![^\W_]){re.escape(user)}(?![^\W_])", anchor=user)
    for sid in identity.ids:
        if len(sid) >= _MIN_ID:
            # a number stands alone among digits ("s2012345" holds "2012345"); other ids among letters and digits
            left, right = (r"(?<!\d)", r"(?!\d)") if sid.isdigit() else (r"(?<![^\W_])", r"(?![^\W_])")
            add(len(sid) + 50, left + re.escape(sid) + right, True, anchor=sid)
    return alts


_HOME_ANCHORS = (("/home/", -6), ("/users/", -7), ("\\users\\", -7), ("~", -1))


class _Matcher:
    """One regex of every form (longer forms first) and the anchors that find where a match can start.

    Python's regex engine tries each of ~100 alternatives at every position (a second per 100 KB); instead, the
    anchors are looked for with str.find in the lower-cased text (C speed), and the regex is tried only there.
    Every alternative starts at a known distance from its anchor, so no match is missed."""

    def __init__(self, alts: list[_Alt], *, home: bool = False) -> None:
        ordered = [a.regex for a in sorted(alts, key=lambda a: (-a.priority, a.regex))]
        if home:
            ordered.append(_HOME_RE)
        self.pattern = re.compile("|".join(f"(?:{a})" for a in dict.fromkeys(ordered)), re.IGNORECASE)
        anchors: dict[str, set[int]] = {}
        for a in alts:
            anchors.setdefault(a.anchor, set()).update(a.starts)
        if home:
            for anchor, start in _HOME_ANCHORS:
                anchors.setdefault(anchor, set()).add(start)
        self.anchors = [(k, sorted(v)) for k, v in anchors.items() if k]

    def _starts(self, text: str) -> list[int] | None:
        low = text.lower()
        if len(low) != len(text):
            return None  # a character whose lower case is longer ('İ'): positions would shift, use the regex
        starts: set[int] = set()
        for anchor, offsets in self.anchors:
            i = low.find(anchor)
            while i != -1:
                starts.update(i - o for o in offsets if i - o >= 0)
                i = low.find(anchor, i + 1)
        return sorted(starts)

    def spans(self, text: str) -> list[tuple[int, int]]:
        starts = self._starts(text)
        if starts is None:
            return [m.span() for m in self.pattern.finditer(text)]
        out, end = [], 0
        for p in starts:
            if p < end:
                continue
            m = self.pattern.match(text, p)
            if m is not None and m.end() > m.start():
                out.append(m.span())
                end = m.end()
        return out

    def sub(self, text: str) -> str:
        spans = self.spans(text)
        if not spans:
            return text
        parts, last = [], 0
        for a, b in spans:
            parts += [text[last:a], MASK]
            last = b
        parts.append(text[last:])
        return "".join(parts)

    def search(self, text: str) -> bool:
        return bool(self.spans(text))


def _compile(alts: list[_Alt], *, home: bool = False) -> _Matcher | None:
    return _Matcher(alts, home=home) if alts else None


class Masker:
    """The one masking function: every form of the authors' identity replaced with [anonymized]."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        alts = _alternatives(identity)
        self.pattern = _compile(alts, home=True)
        self.strong = _compile([a for a in alts if a.strong])

    def mask(self, text: str) -> str:
        return self.pattern.sub(text) if self.pattern is not None and text else text

    __call__ = mask

    def finds(self, text: str, *, strong: bool = False) -> bool:
        pattern = self.strong if strong else self.pattern
        return pattern is not None and bool(text) and pattern.search(text)

    def path(self, path: str) -> str:
        """Mask identities in each path component (the mask has no '/', so the shape is kept)."""
        if self.pattern is None:
            return path
        return "/".join(self.mask(part) or MASK for part in path.split("/"))

    def value(self, value):  # noqa: ANN001, ANN201
        """A JSON-like value with every string in it masked, dictionary keys (metric names) included."""
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            return {self.mask(k) if isinstance(k, str) else k: self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        return value


def _identity(names: list[str], emails: list[str], usernames: list[str] | None, phrases: Iterable[str]) -> Identity:
    return Identity.of(names, emails, usernames, phrases)


def anonymize_text(
    text: str, names: list[str], emails: list[str], usernames: list[str] | None = None, phrases: list[str] = ()
) -> str:
    """Replace every form of the names, emails, usernames and whole phrases (the group's name) with [anonymized]."""
    return Masker(_identity(names, emails, usernames, phrases)).mask(text)


def anonymize_path(path: str, pattern: re.Pattern[str] | Masker | None) -> str:
    """Mask identities in each path component (the mask has no '/', so the shape is kept)."""
    if pattern is None:
        return path
    if isinstance(pattern, Masker):
        return pattern.path(path)
    return "/".join(pattern.sub(MASK, part) or MASK for part in path.split("/"))


def _mask_copyright(text: str) -> str:
    """In a LICENSE-like file, every copyright line keeps its years but loses its holder."""
    return _COPYRIGHT_RE.sub(lambda m: f"{m.group('lead')} {MASK}", text)


def _extension(path: str) -> str:
    dot = path.rfind(".")
    return path[dot:].lower() if dot > path.rfind("/") else ""


def is_text(path: str, data: bytes) -> bool:
    """Small, utf-8 decodable, NUL-free files that do not have a binary extension."""
    if _extension(path) in _BINARY_EXTENSIONS or len(data) >= TEXT_MAX_BYTES or b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# ---- one file: mask it, or withhold it ------------------------------------------------------------------------


def decode_text(path: str, data: bytes) -> tuple[str, str] | None:
    """(text, codec) when the bytes are text: UTF-8, UTF-16 (with a BOM, or plainly ASCII-heavy UTF-16LE/BE),
    or single-byte latin-1 / cp1252; None for binary data (and for any file with a binary extension)."""
    if _extension(path) in _BINARY_EXTENSIONS:
        return None
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        codec = "utf-16"
    elif len(data) >= 4 and len(data) % 2 == 0 and data[1::2].count(0) > 0.9 * (len(data) // 2):
        codec = "utf-16-le"
    elif len(data) >= 4 and len(data) % 2 == 0 and data[0::2].count(0) > 0.9 * (len(data) // 2):
        codec = "utf-16-be"
    else:
        codec = "utf-8"
    for attempt in ([codec] if codec != "utf-8" else ["utf-8", "cp1252", "latin-1"]):
        try:
            text = data.decode(attempt)
        except UnicodeDecodeError:
            continue
        # a stray NUL or control character is still text (masked as such); many of them make it binary
        controls = sum(1 for c in text if ord(c) < 32 and c not in "\t\n\r\f\v\x1b")
        if controls <= max(1, len(text) // 100):
            return text, attempt
        return None
    return None


def _inflated(data: bytes, budget: int) -> Iterable[bytes] | None:
    """The compressed parts of a zip, gzip, PDF or PNG file, inflated (None: they could not all be read)."""
    out: list[bytes] = []
    try:
        if data[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for info in z.infolist():
                    out.append(info.filename.encode("utf-8", "replace"))
                    if info.file_size > budget:
                        return None
                    budget -= info.file_size
                    out.append(z.read(info))
        elif data[:2] == b"\x1f\x8b":
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out.append(d.decompress(data, budget))
            if d.unconsumed_tail:
                return None
        elif data[:5] == b"%PDF-":
            view = memoryview(data)
            for m in re.finditer(rb"(?<!end)stream\r?\n", data):
                if budget <= 0:
                    return None
                d = zlib.decompressobj()
                try:
                    chunk = d.decompress(view[m.end():], budget)
                except zlib.error:
                    continue  # not deflated (an image, or the stream is stored plain and scanned as it is)
                if d.unconsumed_tail:
                    return None
                budget -= len(chunk)
                out.append(chunk)
        elif data[:8] == b"\x89PNG\r\n\x1a\n":
            pos = 8
            while pos + 8 <= len(data):
                length, kind = struct.unpack(">I4s", data[pos:pos + 8])
                body = data[pos + 8:pos + 8 + length]
                if kind == b"zTXt":
                    key, _, rest = body.partition(b"\x00")
                    out += [key, zlib.decompress(rest[1:])]
                elif kind == b"iTXt":
                    key, _, rest = body.partition(b"\x00")
                    fields = rest[2:].split(b"\x00", 2)
                    out += [key, *fields[:2], zlib.decompress(fields[2]) if rest[:1] == b"\x01" else fields[2]]
                pos += 12 + length
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, struct.error, IndexError, RuntimeError):
        return None
    return out


def withheld_reason(data: bytes) -> str | None:
    """Why a file of an anonymized view was withheld, or None when it is the file itself."""
    if not data.startswith(WITHHELD):
        return None
    return data[len(WITHHELD):].decode("utf-8", "replace").strip(" :\n") or "it could not be anonymized"


def _withheld(reason: str) -> bytes:
    return WITHHELD + f": {reason}\n".encode()


def _binary_names(masker: Masker, data: bytes) -> bool:
    """Whether binary data holds a distinctive form of the identity (as ASCII/latin-1, UTF-8 or UTF-16)."""
    views = [data.decode("latin-1"), data.decode("utf-8", "ignore")]
    if b"\x00" in data:
        views += [data.decode("utf-16-le", "ignore"), data[1:].decode("utf-16-le", "ignore")]
    return any(masker.finds(v, strong=True) for v in views)


def mask_file(path: str, data: bytes | None, size: int, masker: Masker | None, *, license: bool = False) -> bytes:
    """A file's content as reviewers get it: masked text (in its own encoding), a binary read through and found
    free of names, or a WITHHELD note saying why not. `data` is None when the file was too large to read."""
    if data is None or size > MASK_MAX_BYTES:
        return _withheld(f"the file is larger than {MASK_MAX_BYTES // (1024 * 1024)} MB, too large to check for "
                         "the authors' names")
    decoded = decode_text(path, data)
    if decoded is not None:
        text, codec = decoded
        masked = _mask_copyright(text) if license else text
        masked = masker.mask(masked) if masker is not None else masked
        return data if masked == text else masked.encode(codec)
    if masker is None:
        return data
    if _binary_names(masker, data):
        return _withheld("it is a binary file that contains the authors' names, which cannot be masked in it")
    inner = _inflated(data, MASK_MAX_BYTES)
    if inner is None:
        return _withheld("it holds compressed data that could not be read through to check for names")
    if any(_binary_names(masker, part) for part in inner):
        return _withheld("its compressed content contains the authors' names, which cannot be masked in it")
    return data


def _masker_of(names: list[str] | Masker, emails: list[str], usernames: list[str] | None,
               phrases: Iterable[str]) -> Masker:
    return names if isinstance(names, Masker) else Masker(_identity(names, emails, usernames, phrases))


def anonymized_view(
    store: BlobStore,
    sha: str,
    names: list[str] | Masker,
    emails: list[str] = (),
    usernames: list[str] | None = None,
    phrases: list[str] = (),
) -> str:
    """Write the anonymised copy of snapshot ``sha`` to the store and return its blob id (``names`` may be the
    submission's Masker itself)."""
    masker = _masker_of(names, list(emails), usernames, phrases)
    has_terms = masker.pattern is not None
    with scratch_dir(store) as staging:
        # The source is already a checked snapshot, so its limits only need to admit it again.
        tree = TreeBuilder(
            staging, max_bytes=2**62, max_files=10 * DEFAULT_MAX_FILES, what="snapshot", strip_top=False
        )
        taken: set[str] = set()

        def unique(path: str) -> str:
            # Two names may mask to the same string ("alice.md", "Alice.md"); keep both files.
            candidate, n = path, 1
            while candidate in taken:
                n += 1
                candidate = f"{path}-{n}"
            taken.add(candidate)
            return candidate

        for member, tar in iter_members(store, sha):
            new_path = masker.path(member.name)
            if member.isdir():
                tree.add_dir(new_path)
            elif member.issym():
                tree.add_symlink(unique(new_path), masker.path(member.linkname))
            elif member.isreg():
                f = tar.extractfile(member)
                assert f is not None
                data = f.read() if member.size <= MASK_MAX_BYTES else None
                license = bool(_LICENSE_RE.match(member.name.rsplit("/", 1)[-1]))
                out = mask_file(member.name, data, member.size, masker if has_terms else None, license=license)
                tree.add_file(unique(new_path), out, executable=bool(member.mode & 0o111))
        return tree.store(store).sha
