"""Anonymised views of artifacts: authors' names, emails and usernames replaced for reviewers.

``anonymized_view`` writes a second snapshot (same normalised tarball format) in which text
files, LICENSE copyright lines and file / directory names no longer carry the authors'
identities; binary files are copied unchanged. Same inputs give the same blob id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from app.artifacts.snapshot import DEFAULT_MAX_FILES, TreeBuilder, iter_members, scratch_dir
from app.storage import BlobStore

__all__ = ["MASK", "anonymize_text", "anonymize_path", "anonymized_view", "is_text"]

MASK = "[anonymized]"
TEXT_MAX_BYTES = 1024 * 1024
_MIN_PART = 3

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


def _name_parts(name: str) -> list[str]:
    """Words of a full name (and the halves of hyphenated ones) that are long enough to mask."""
    parts: list[str] = []
    for word in name.split():
        for p in [word, *word.split("-")]:
            p = p.strip(".,")
            if len(p) >= _MIN_PART and p not in parts:
                parts.append(p)
    return parts


def _build_pattern(names: Iterable[str], emails: Iterable[str], usernames: Iterable[str],
                   phrases: Iterable[str] = ()) -> re.Pattern[str] | None:
    alts: list[tuple[int, str]] = []
    for phrase in phrases:
        # A group's name, whole ("Zephyr Quokkas", "zephyr-quokkas", "Zephyr_Quokkas"); its words alone are
        # often ordinary words, so they are not masked on their own as a person's name parts are.
        words = phrase.split()
        if words:
            alts.append((len(phrase), r"(?<!\w)" + r"[\s_-]*".join(re.escape(w) for w in words) + r"(?!\w)"))
    for email in emails:
        email = email.strip()
        if email:
            alts.append((len(email), rf"(?<![\w.+-]){re.escape(email)}(?![\w-])"))
    for name in names:
        words = name.split()
        if not words:
            continue
        if len(words) > 1:
            full = r"\s+".join(re.escape(w) for w in words)
            alts.append((len(name), rf"\b{full}\b"))
            # "Example, Alice" as in bibliographies and author lists
            rev = re.escape(words[-1]) + r",\s*" + r"\s+".join(re.escape(w) for w in words[:-1])
            alts.append((len(name) + 1, rf"\b{rev}\b"))
        for part in _name_parts(name):
            alts.append((len(part), rf"(?<!\w){re.escape(part)}(?!\w)"))
    for user in usernames:
        user = user.strip().lstrip("@")
        if not user:
            continue
        # In a forge url any length counts; elsewhere only usernames long enough to be distinctive.
        alts.append((len(user) + 100, rf"(?<=github\.com/){re.escape(user)}(?![\w-])"))
        alts.append((len(user) + 100, rf"(?<=gitlab\.com/){re.escape(user)}(?![\w-])"))
        if len(user) >= _MIN_PART:
            alts.append((len(user), rf"(?<![\w-]){re.escape(user)}(?![\w-])"))
    if not alts:
        return None
    # Python's alternation takes the first branch that matches, so longer identities go first.
    alts.sort(key=lambda a: -a[0])
    return re.compile("|".join(f"(?:{a})" for _, a in alts), re.IGNORECASE)


def anonymize_text(
    text: str, names: list[str], emails: list[str], usernames: list[str] | None = None, phrases: list[str] = ()
) -> str:
    """Replace full names, name parts (>= 3 chars, whole words), emails, usernames and whole phrases (the group's
    name) with [anonymized]."""
    pattern = _build_pattern(names, emails, usernames or [], phrases)
    return pattern.sub(MASK, text) if pattern else text


def _mask_copyright(text: str) -> str:
    """In a LICENSE-like file, every copyright line keeps its years but loses its holder."""
    return _COPYRIGHT_RE.sub(lambda m: f"{m.group('lead')} {MASK}", text)


def is_text(path: str, data: bytes) -> bool:
    """Small, utf-8 decodable, NUL-free files that do not have a binary extension."""
    dot = path.rfind(".")
    ext = path[dot:].lower() if dot > path.rfind("/") else ""
    if ext in _BINARY_EXTENSIONS or len(data) >= TEXT_MAX_BYTES or b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def anonymize_path(path: str, pattern: re.Pattern[str] | None) -> str:
    """Mask identities in each path component (the mask has no '/', so the shape is kept)."""
    if pattern is None:
        return path
    return "/".join(pattern.sub(MASK, part) or MASK for part in path.split("/"))


def anonymized_view(
    store: BlobStore,
    sha: str,
    names: list[str],
    emails: list[str],
    usernames: list[str] | None = None,
    phrases: list[str] = (),
) -> str:
    """Write the anonymised copy of snapshot ``sha`` to the store and return its blob id."""
    pattern = _build_pattern(names, emails, usernames or [], phrases)
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
            new_path = anonymize_path(member.name, pattern)
            if member.isdir():
                tree.add_dir(new_path)
            elif member.issym():
                tree.add_symlink(unique(new_path), anonymize_path(member.linkname, pattern))
            elif member.isreg():
                f = tar.extractfile(member)
                assert f is not None
                if member.size < TEXT_MAX_BYTES:
                    data = f.read()
                    if is_text(member.name, data):
                        text = data.decode("utf-8")
                        if _LICENSE_RE.match(member.name.rsplit("/", 1)[-1]):
                            text = _mask_copyright(text)
                        if pattern is not None:
                            text = pattern.sub(MASK, text)
                        data = text.encode("utf-8")
                    tree.add_file(unique(new_path), data, executable=bool(member.mode & 0o111))
                else:
                    tree.add_file(unique(new_path), f, executable=bool(member.mode & 0o111))
        return tree.store(store).sha
