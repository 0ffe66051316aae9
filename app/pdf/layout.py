"""Where the text of a PDF page sits: a small content-stream interpreter over pypdf objects.

pypdf's own extract_text re-parses fonts on every page and tokenises content streams slowly
(60-150 ms a page for a LaTeX paper); this interpreter follows only what places text (q/Q, cm,
BT/ET, Tf, Td/TD/Tm/T*, Tj/TJ/'/", Tc/Tw/Tz/TL, Do), caches fonts for the whole document, and
tokenises with one regular expression. pypdf still reads the file, the objects, the streams
(with its decompression limits) and the fonts' character maps.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

from pypdf import PageObject
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject
from pypdf.generic._font import Font

# Text shown rotated or skewed (arXiv side stamps, rotated axis labels) does not describe the
# text block, so runs whose matrix is not upright are left out.
_UPRIGHT_TOLERANCE = 0.05
MAX_FORM_DEPTH = 8
MAX_FORMS_PER_PAGE = 2_000
MAX_TOKENS_PER_PAGE = 500_000  # text tokens + q/Q/cm/Do outside them; a dense real page has ~20k
MAX_NESTING = 32  # arrays and dictionaries inside one another; real content nests two deep
MAX_TJ_BYTES = 1_000_000  # one TJ array; a line of text is under 2 KB
MAX_RUNS_PER_PAGE = 30_000  # text-showing operators; one per glyph on a full page is ~5k
_DEADLINE_CHECK_MASK = 4095  # look at the clock every 4096 tokens


class OutOfTime(Exception):
    """The time budget for reading the PDF ran out (a content stream built to exhaust the checker)."""


class TooComplex(Exception):
    """A page holds more operators than any real paper page (a parsing bomb)."""


@dataclass(slots=True)
class Run:
    """One text-showing operator: where its glyphs start and end on the page, and their text."""

    x0: float
    x1: float
    y: float
    size: float
    glyphs: int
    text: str


@dataclass(slots=True)
class Line:
    """Text on one baseline within one column: its extent, size and words."""

    x0: float
    x1: float
    y: float
    size: float
    glyphs: int
    text: str = ""


@dataclass
class PageLayout:
    """The measured text of one page; `lines` run top to bottom, left to right."""

    number: int
    width: float
    height: float
    runs: list[Run] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


def _mult(m: list[float], n: list[float]) -> list[float]:
    """Product of two PDF matrices [a b c d e f] (row-vector convention: m, then n)."""
    return [
        m[0] * n[0] + m[1] * n[2],
        m[0] * n[1] + m[1] * n[3],
        m[2] * n[0] + m[3] * n[2],
        m[2] * n[1] + m[3] * n[3],
        m[4] * n[0] + m[5] * n[2] + n[4],
        m[4] * n[1] + m[5] * n[3] + n[5],
    ]


class FontInfo:
    """What the interpreter needs of a font: code -> text, code -> advance width (1/1000 em)."""

    __slots__ = ("two_byte", "widths", "default", "scale", "encoding", "cmap", "_decoded")

    def __init__(self, font: DictionaryObject | None) -> None:
        self.two_byte = False
        self.widths: dict[int, float] = {}
        self.default = 500.0
        self.scale = 1.0
        self.encoding: str | dict[int, str] = "latin-1"
        self.cmap: dict[Any, Any] = {}
        self._decoded: dict[bytes, str] = {}
        if not isinstance(font, DictionaryObject):
            return
        try:
            parsed = Font.from_font_resource(font)
            self.encoding, self.cmap = parsed.encoding, parsed.character_map
        except Exception:  # noqa: BLE001 - an unreadable font only costs us its text, not its position
            parsed = None
        try:
            self._read_widths(font, parsed)
        except Exception:  # noqa: BLE001 - a malformed width table only makes extents approximate
            self.widths = {}

    def _read_widths(self, font: DictionaryObject, parsed: Font | None) -> None:
        subtype = font.get("/Subtype")
        if subtype == "/Type0":
            self.two_byte = True
            self.default = 1000.0
            descendants = font.get("/DescendantFonts")
            descendants = descendants.get_object() if descendants is not None else None
            if not isinstance(descendants, ArrayObject) or not descendants:
                return
            cid = descendants[0].get_object()
            if "/DW" in cid:
                self.default = float(cid["/DW"])
            w = cid.get("/W")
            w = w.get_object() if w is not None else None
            if not isinstance(w, ArrayObject):
                return
            i = 0
            while i < len(w) and len(self.widths) < 70_000:
                first = int(w[i])
                nxt = w[i + 1].get_object() if i + 1 < len(w) else None
                if isinstance(nxt, ArrayObject):
                    for k, width in enumerate(nxt[:70_000]):
                        self.widths[first + k] = float(width)
                    i += 2
                elif i + 2 < len(w):
                    last, width = int(nxt), float(w[i + 2])
                    for code in range(first, min(last, first + 70_000) + 1):
                        self.widths[code] = width
                    i += 3
                else:
                    break
            return
        first_char = int(font.get("/FirstChar", 0))
        widths = font.get("/Widths")
        widths = widths.get_object() if widths is not None else None
        if isinstance(widths, ArrayObject):
            for k, width in enumerate(widths[:256]):
                self.widths[first_char + k] = float(width)
        elif parsed is not None:
            # The 14 standard fonts carry no /Widths; pypdf knows their metrics.
            for char, width in parsed.character_widths.items():
                if len(char) == 1 and ord(char) < 256:
                    self.widths[ord(char)] = float(width)
        descriptor = font.get("/FontDescriptor")
        descriptor = descriptor.get_object() if descriptor is not None else None
        if isinstance(descriptor, DictionaryObject) and "/MissingWidth" in descriptor:
            self.default = float(descriptor["/MissingWidth"]) or 500.0
        if subtype == "/Type3":
            matrix = font.get("/FontMatrix")
            if isinstance(matrix, ArrayObject) and matrix:
                self.scale = float(matrix[0]) * 1000.0

    def decode(self, raw: bytes) -> str:
        """Unicode text for these character codes (as pypdf's extractor decodes them)."""
        text = self._decoded.get(raw)
        if text is not None:
            return text
        try:
            if isinstance(self.encoding, str):
                chars = raw.decode(self.encoding, "surrogatepass")
            else:
                chars = "".join(self.encoding.get(b, chr(b)) for b in raw)
        except (UnicodeDecodeError, LookupError):
            chars = raw.decode("latin-1")
        cmap = self.cmap
        text = "".join(str(cmap.get(c, c)) for c in chars) if cmap else chars
        if len(self._decoded) < 20_000:
            self._decoded[raw] = text
        return text

    def advance(self, raw: bytes, size: float, char_spacing: float, word_spacing: float) -> tuple[float, int]:
        """Horizontal advance in unscaled text space for these codes, and how many glyphs they are."""
        total = 0.0
        get, default = self.widths.get, self.default
        if self.two_byte:
            n = len(raw) // 2
            for i in range(0, n * 2, 2):
                total += get((raw[i] << 8) | raw[i + 1], default)
            return total * self.scale / 1000.0 * size + char_spacing * n, n
        for code in raw:
            total += get(code, default)
        return (total * self.scale / 1000.0 * size + char_spacing * len(raw) + word_spacing * raw.count(32),
                len(raw))


# One token per match: number | name | literal string (one nesting level) | << or >> | hex string
# | [ or ] | comment | keyword/operator | anything else.
_TOKEN = re.compile(
    rb"[\x00\t\n\x0c\r ]*(?:"
    rb"([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])"
    rb"|(/[^\x00\t\n\x0c\r ()<>\[\]{}/%]*)"
    rb"|(\((?:[^()\\]|\\.|\((?:[^()\\]|\\.)*\))*\))"
    rb"|(<<|>>)"
    rb"|<([0-9A-Fa-f\x00\t\n\x0c\r ]*)>"
    rb"|([\[\]])"
    rb"|(%[^\r\n]*)"
    rb"|([^\x00\t\n\x0c\r ()<>\[\]{}/%]+)"
    rb"|(.)"
    rb")",
    re.S,
)
_SEP = rb"[\x00\t\n\x0c\r ]"
_NUM = rb"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"  # unambiguous, so long digit runs cannot backtrack
_NAME = rb"/[^\x00\t\n\x0c\r ()<>\[\]{}/%]+"
# The operators that matter outside BT ... ET, each with its operands.
_OUTER = re.compile(
    rb"(?:(?<=[\x00\t\n\x0c\r \])>])|^)(?:"
    rb"(BT|q|Q|BI)"
    rb"|((?:" + _NUM + _SEP + rb"+){6})cm"
    rb"|(" + _NAME + rb")" + _SEP + rb"*Do"
    rb"|(" + _NAME + rb")" + _SEP + rb"+(" + _NUM + rb")" + _SEP + rb"+Tf"
    rb"|(" + _NUM + rb")" + _SEP + rb"+(Tc|Tw|Tz|TL)"
    rb")(?=[\x00\t\n\x0c\r /\[(<%]|$)",
)
# "[(W)80(ord)-333(another)]TJ" in one match, then its items with findall.
_TJ_ARRAY = re.compile(rb"\[((?:[^\[\]()<>\\]|<[0-9A-Fa-f\s]*>|\((?:[^()\\]|\\.)*\))*)\]" + _SEP + rb"*TJ", re.S)
_TJ_ITEM = re.compile(rb"\(((?:[^()\\]|\\.)*)\)|(" + _NUM + rb")|<([0-9A-Fa-f\s]*)>", re.S)
_IDENTITY = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
_ESCAPE = re.compile(rb"\\([nrtbf()\\]|[0-7]{1,3}|\r\n|\r|\n)")
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f", b"(": b"(", b")": b")", b"\\": b"\\"}
_SPACE_GAP = -180.0  # a TJ offset this negative (thousandths of an em) is a word space
_TEXT_OPS = frozenset((b"BT", b"ET", b"Tf", b"Td", b"TD", b"Tm", b"T*", b"Tj", b"TJ", b"'", b'"', b"Tc", b"Tw",
                       b"Tz", b"TL", b"q", b"Q", b"cm", b"Do", b"BI"))


def _unescape(body: bytes) -> bytes:
    if b"\\" not in body:
        return body

    def repl(m: re.Match[bytes]) -> bytes:
        code = m.group(1)
        if code in _ESCAPES:
            return _ESCAPES[code]
        if code[:1] in b"\r\n":
            return b""
        return bytes((int(code, 8) & 0xFF,))

    return _ESCAPE.sub(repl, body)


def _hex(body: bytes) -> bytes:
    digits = re.sub(rb"[^0-9A-Fa-f]", b"", body)
    return bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode())


def _inline_image_end(data: bytes, pos: int) -> int:
    """Index just past the EI that ends an inline image whose BI ends at pos."""
    white = b"\x00\t\n\x0c\r "
    start = data.find(b"ID", pos)
    if start == -1:
        return len(data)
    end = data.find(b"EI", start + 3)
    while end != -1 and not (data[end - 1:end] in white and (end + 2 == len(data) or data[end + 2:end + 3] in white)):
        end = data.find(b"EI", end + 2)
    return len(data) if end == -1 else end + 2


def _literal_end(data: bytes, pos: int) -> int:
    """Index just past the ')' closing the literal string that starts at data[pos] == '('."""
    depth = 0
    i = pos
    n = len(data)
    while i < n:
        ch = data[i]
        if ch == 0x5C:  # backslash
            i += 2
            continue
        if ch == 0x28:
            depth += 1
        elif ch == 0x29:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n


class _State:
    __slots__ = ("cm", "font", "size", "tc", "tw", "tz", "tl")

    def __init__(self) -> None:
        self.cm = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
        self.font = FontInfo(None)
        self.size = 0.0
        self.tc = 0.0
        self.tw = 0.0
        self.tz = 1.0
        self.tl = 0.0

    def copy(self) -> _State:
        other = _State.__new__(_State)
        other.cm, other.font, other.size = self.cm, self.font, self.size
        other.tc, other.tw, other.tz, other.tl = self.tc, self.tw, self.tz, self.tl
        return other


class _Interpreter:
    """Runs one page's content (and its form XObjects), appending a Run per text-showing operator."""

    def __init__(self, layout: PageLayout, deadline: float, fonts: dict[int, FontInfo]) -> None:
        self.layout = layout
        self.deadline = deadline
        self.fonts = fonts
        self.tokens = 0
        self.forms = 0

    def font(self, resources: DictionaryObject | None, name: str) -> FontInfo:
        fonts = _dict(resources.get("/Font")) if resources is not None else None
        ref = fonts.raw_get(name) if fonts is not None and name in fonts else None
        if ref is None:
            return FontInfo(None)
        key = ref.idnum if isinstance(ref, IndirectObject) else id(ref)
        info = self.fonts.get(key)
        if info is None:
            info = FontInfo(ref.get_object())
            self.fonts[key] = info
        return info

    def run(self, data: bytes, resources: DictionaryObject | None, state: _State, depth: int) -> None:
        """Outside text objects only q/Q/cm/Do/BT/BI and text-state operators matter; find them with one
        search instead of tokenising the paths of every plot."""
        stack: list[_State] = []
        pos = 0
        search = _OUTER.search
        while True:
            m = search(data, pos)
            if m is None:
                return
            pos = m.end()
            self.tokens += 1
            if not self.tokens & 255:
                if time.perf_counter() > self.deadline:
                    raise OutOfTime
                if self.tokens > MAX_TOKENS_PER_PAGE:
                    raise TooComplex
            word = m.group(1)
            if word is not None:
                if word == b"BT":
                    pos, state = self.text_object(data, pos, resources, state, stack, depth)
                elif word == b"q":
                    if len(stack) < 1000:
                        stack.append(state)
                        state = state.copy()
                elif word == b"Q":
                    if stack:
                        state = stack.pop()
                else:  # BI: skip the inline image's binary data
                    pos = _inline_image_end(data, pos)
            elif m.group(2) is not None:
                numbers = m.group(2).split()
                self.operator(b"cm", [float(v) for v in numbers], resources, state, stack, _IDENTITY, _IDENTITY,
                              depth)
            elif m.group(3) is not None:
                self.form(m.group(3)[1:].decode("latin-1"), resources, state, depth)
            elif m.group(4) is not None:
                self.operator(b"Tf", [m.group(4)[1:].decode("latin-1"), float(m.group(5))], resources, state,
                              stack, _IDENTITY, _IDENTITY, depth)
            else:
                self.operator(m.group(7), [float(m.group(6))], resources, state, stack, _IDENTITY, _IDENTITY,
                              depth)

    def text_object(self, data: bytes, pos: int, resources: DictionaryObject | None, state: _State,
                    stack: list[_State], depth: int) -> tuple[int, _State]:
        """Tokenise and run one BT ... ET text object; returns the position after ET."""
        tm = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
        tlm = tm
        operands: list[Any] = []
        nests: list[list[Any]] = []
        n = len(data)
        match = _TOKEN.match
        while pos < n:
            m = match(data, pos)
            if m is None:
                break
            pos = m.end()
            self.tokens += 1
            if not self.tokens & _DEADLINE_CHECK_MASK:
                if time.perf_counter() > self.deadline:
                    raise OutOfTime
                if self.tokens > MAX_TOKENS_PER_PAGE:
                    raise TooComplex
            kind = m.lastindex
            target = nests[-1] if nests else operands
            if kind == 1:
                target.append(float(m.group(1)))
            elif kind == 8:
                op = m.group(8)
                if nests:
                    target.append(None)  # true/false/null inside an array or dictionary
                    continue
                if op == b"ET":
                    return pos, state
                if op in _TEXT_OPS:
                    if op == b"BI":
                        pos = _inline_image_end(data, pos)
                    else:
                        tm, tlm, state = self.operator(op, operands, resources, state, stack, tm, tlm, depth)
                operands = []
            elif kind == 3:
                target.append(_unescape(m.group(3)[1:-1]))
            elif kind == 6:
                if m.group(6) == b"[":
                    whole = _TJ_ARRAY.match(data, pos - 1) if not nests else None
                    if whole is not None:  # the common case, a line of text: parse it in C
                        if whole.end() - pos > MAX_TJ_BYTES:
                            raise TooComplex
                        pos = whole.end()
                        items = [_unescape(it.group(1)) if it.lastindex == 1 else float(it.group(2))
                                 if it.lastindex == 2 else _hex(it.group(3))
                                 for it in _TJ_ITEM.finditer(whole.group(1))]
                        self.tokens += len(items)
                        if self.tokens > MAX_TOKENS_PER_PAGE:
                            raise TooComplex
                        tm, tlm, state = self.operator(b"TJ", [items], resources, state, stack, tm, tlm, depth)
                        operands = []
                        continue
                    if len(nests) >= MAX_NESTING:
                        raise TooComplex
                    nests.append([])
                elif nests:
                    done = nests.pop()
                    (nests[-1] if nests else operands).append(done)
            elif kind == 2:
                target.append(m.group(2).decode("latin-1"))
            elif kind == 5:
                target.append(_hex(m.group(5)))
            elif kind == 4:
                if m.group(4) == b"<<":
                    if len(nests) >= MAX_NESTING:
                        raise TooComplex
                    nests.append([])
                elif nests:
                    nests.pop()
                    (nests[-1] if nests else operands).append(None)
            elif kind == 9 and m.group(9) == b"(":
                # A literal string nested deeper than the pattern follows: scan it by hand.
                end = _literal_end(data, pos - 1)
                target.append(_unescape(data[pos:end - 1]))
                pos = end
        return pos, state

    def operator(self, op: bytes, args: list[Any], resources: DictionaryObject | None, state: _State,
                 stack: list[_State], tm: list[float], tlm: list[float], depth: int
                 ) -> tuple[list[float], list[float], _State]:
        try:
            if op == b"TJ" or op == b"Tj" or op == b"'" or op == b'"':
                if op == b'"' and len(args) >= 3:
                    state.tw, state.tc = _num(args[0]), _num(args[1])
                    args = args[2:]
                if op in (b"'", b'"'):
                    tlm = _mult([1.0, 0.0, 0.0, 1.0, 0.0, -state.tl], tlm)
                    tm = tlm
                if args:
                    tm = self.show(args[0] if op == b"TJ" else [args[0]], state, tm)
            elif op == b"Td" or op == b"TD":
                tx, ty = _num(args[0]), _num(args[1])
                if op == b"TD":
                    state.tl = -ty
                tlm = _mult([1.0, 0.0, 0.0, 1.0, tx, ty], tlm)
                tm = tlm
            elif op == b"T*":
                tlm = _mult([1.0, 0.0, 0.0, 1.0, 0.0, -state.tl], tlm)
                tm = tlm
            elif op == b"Tm":
                tlm = tm = [_num(a) for a in args[:6]]
            elif op == b"BT":
                tlm = tm = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
            elif op == b"Tf":
                state.font = self.font(resources, args[0] if isinstance(args[0], str) else "")
                state.size = _num(args[1])
            elif op == b"cm":
                state.cm = _mult([_num(a) for a in args[:6]], state.cm)
            elif op == b"q":
                if len(stack) < 1000:
                    stack.append(state)
                    state = state.copy()
            elif op == b"Q":
                if stack:
                    state = stack.pop()
            elif op == b"Tc":
                state.tc = _num(args[0])
            elif op == b"Tw":
                state.tw = _num(args[0])
            elif op == b"Tz":
                state.tz = _num(args[0]) / 100.0
            elif op == b"TL":
                state.tl = _num(args[0])
            elif op == b"Do":
                self.form(args[0], resources, state, depth)
        except (IndexError, ValueError, TypeError, AttributeError, ZeroDivisionError):
            pass  # an operator with missing or odd operands is skipped, as viewers do
        return tm, tlm, state

    def show(self, items: list[Any], state: _State, tm: list[float]) -> list[float]:
        font, size = state.font, state.size
        advance = 0.0
        glyphs = 0
        parts: list[str] = []
        for item in items:
            if isinstance(item, bytes):
                dx, count = font.advance(item, size, state.tc, state.tw)
                advance += dx * state.tz
                glyphs += count
                parts.append(font.decode(item))
            elif isinstance(item, float):
                offset = item
                advance -= offset / 1000.0 * size * state.tz
                if offset < _SPACE_GAP and parts and not parts[-1].endswith(" "):
                    parts.append(" ")
        start = _mult(tm, state.cm)
        new_tm = [tm[0], tm[1], tm[2], tm[3], tm[4] + advance * tm[0], tm[5] + advance * tm[1]]
        if not glyphs:
            return new_tm
        a, b, c, d = start[0], start[1], start[2], start[3]
        if a <= 0 or abs(b) > _UPRIGHT_TOLERANCE * a or abs(c) > _UPRIGHT_TOLERANCE * abs(d) or d == 0:
            return new_tm
        text = "".join(parts)
        if len(self.layout.runs) >= MAX_RUNS_PER_PAGE:
            raise TooComplex
        if text.strip():
            x0 = start[4]
            self.layout.runs.append(Run(x0, x0 + advance * a, start[5], size * font.scale * math.hypot(c, d),
                                        glyphs, text))
        return new_tm

    def form(self, name: Any, resources: DictionaryObject | None, state: _State, depth: int) -> None:
        if depth >= MAX_FORM_DEPTH or not isinstance(name, str):
            return
        xobjects = _dict(resources.get("/XObject")) if resources is not None else None
        key = name
        if xobjects is None or key not in xobjects:
            return
        form = xobjects[key].get_object()
        if not isinstance(form, StreamObject) or form.get("/Subtype") != "/Form":
            return
        self.forms += 1
        if self.forms > MAX_FORMS_PER_PAGE:
            return
        inner = state.copy()
        matrix = form.get("/Matrix")
        if isinstance(matrix, ArrayObject) and len(matrix) == 6:
            inner.cm = _mult([float(v) for v in matrix], state.cm)
        form_resources = _dict(form.get("/Resources")) or resources
        self.run(form.get_data(), form_resources, inner, depth + 1)


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _dict(value: Any) -> DictionaryObject | None:
    value = value.get_object() if value is not None else None
    return value if isinstance(value, DictionaryObject) else None


def page_size(page: PageObject) -> tuple[float, float]:
    """Width and height in pt as displayed (MediaBox, with /Rotate applied)."""
    box = page.mediabox
    width, height = abs(float(box.width)), abs(float(box.height))
    try:
        if int(page.get("/Rotate", 0)) % 180 == 90:
            width, height = height, width
    except (TypeError, ValueError):
        pass
    return width, height


def _page_content(page: PageObject) -> bytes:
    contents = page.get("/Contents")
    contents = contents.get_object() if contents is not None else None
    if isinstance(contents, StreamObject):
        return contents.get_data()
    if isinstance(contents, ArrayObject):
        return b"\n".join(part.get_object().get_data() for part in contents
                          if isinstance(part.get_object(), StreamObject))
    return b""


def _segments(runs: list[Run]) -> list[Line]:
    """Join runs on one baseline into column segments, split where a gap looks like a gutter."""
    out: list[Line] = []
    rows: list[list[Run]] = []
    for run in sorted(runs, key=lambda r: -r.y):
        if rows and abs(rows[-1][0].y - run.y) <= 1.5:
            rows[-1].append(run)
        else:
            rows.append([run])
    for row in rows:
        row.sort(key=lambda r: r.x0)
        current: Line | None = None
        for run in row:
            if current is not None:
                gap = run.x0 - current.x1
                small, big = sorted((run.size, current.size))
                # Line numbers (6 pt beside 10 pt text) sit close to the text but are not part of it.
                same_size = small >= 0.75 * big or gap <= 2.0
                if same_size and gap <= max(0.8 * big, 4.0):
                    joiner = " " if gap > 0.15 * big and not current.text.endswith(" ") else ""
                    current.text += joiner + run.text
                    current.x1 = max(current.x1, run.x1)
                    current.glyphs += run.glyphs
                    if run.glyphs > current.glyphs - run.glyphs:
                        current.size = run.size
                    continue
            current = Line(run.x0, run.x1, run.y, run.size, run.glyphs, run.text)
            out.append(current)
    for line in out:
        line.text = " ".join(line.text.split())
    out.sort(key=lambda line: (-round(line.y), line.x0))
    return [line for line in out if line.text]


def measure_page(page: PageObject, number: int, deadline: float, fonts: dict[int, FontInfo]) -> PageLayout:
    """The runs and lines of one page; raises OutOfTime past the deadline, TooComplex on a parsing bomb."""
    if time.perf_counter() > deadline:
        raise OutOfTime
    width, height = page_size(page)
    layout = PageLayout(number, width, height)
    interpreter = _Interpreter(layout, deadline, fonts)
    state = _State()
    box = page.mediabox
    if box.left or box.bottom:  # measure from the page's lower-left corner
        state.cm = [1.0, 0.0, 0.0, 1.0, -float(box.left), -float(box.bottom)]
    interpreter.run(_page_content(page), _dict(page.get("/Resources")), state, 0)
    layout.lines = _segments(layout.runs)
    return layout
