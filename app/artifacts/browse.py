"""What the artifact browser shows: a snapshot's tree, and one file as text, rendered markdown or a download.

Only regular files are served, found by their exact normalised path: ``..``, absolute paths and
symbolic links (even ones that stay inside the tree) are answered with NotFound, so a request can
never reach anything but a member of the stored tarball. Markdown is rendered with raw HTML off and
then sanitised; images are never loaded from elsewhere (a remote image would tell its author who
reads the artifact, and when).
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field


from app.artifacts.anonymize import WITHHELD, decode_text, is_text, withheld_reason
from app.artifacts.snapshot import MANIFEST_NAME, SnapshotError, clean_path, iter_members
from app.errors import NotFound
from app.markdown import render_markdown
from app.storage import BlobStore, human_size

__all__ = ["DISPLAY_MAX_BYTES", "FileView", "TreeNode", "build_tree", "download_name", "file_view", "find_file",
           "iter_file", "list_entries", "render_markdown"]

DISPLAY_MAX_BYTES = 256 * 1024
_MARKDOWN_SUFFIXES = (".md", ".markdown")
_CHUNK = 256 * 1024


@dataclass
class TreeNode:
    """A directory (with children) or a file (with its size) or a symlink (with its target) in the tree."""

    name: str
    path: str
    kind: str = "dir"  # dir | file | symlink | withheld (a file the anonymized view could not mask)
    size: int = 0
    target: str = ""
    children: list[TreeNode] = field(default_factory=list)


@dataclass
class FileView:
    """One file as the page shows it."""

    path: str
    size: int
    kind: str  # text | markdown | binary | withheld
    lines: list[str] = field(default_factory=list)
    html: str = ""
    truncated: bool = False
    shown_bytes: int = 0
    issues: dict[int, list[str]] = field(default_factory=dict)  # reproduce.toml problems by line
    general_issues: list[str] = field(default_factory=list)  # reproduce.toml problems without a line
    withheld: str = ""  # why the anonymized view withheld this file

    @property
    def size_text(self) -> str:
        return human_size(self.size)


_WITHHELD_MAX = 1024  # a withheld file's note is short: longer files are never read for it


def list_entries(store: BlobStore, sha: str, *, anonymized: bool = False) -> list[tuple[str, str, int, str]]:
    """(path, kind, size, symlink target) of every file and symlink in a snapshot, in stored order; in an
    anonymized view, a file it withheld is kind "withheld" with the reason as its target."""
    out = []
    for m, tar in iter_members(store, sha):
        if m.isreg():
            if anonymized and len(WITHHELD) <= m.size <= _WITHHELD_MAX:
                f = tar.extractfile(m)
                reason = withheld_reason(f.read() if f is not None else b"")
                if reason is not None:
                    out.append((m.name, "withheld", 0, reason))
                    continue
            out.append((m.name, "file", m.size, ""))
        elif m.issym():
            out.append((m.name, "symlink", 0, m.linkname))
    return out


def build_tree(entries: list[tuple[str, str, int, str]]) -> list[TreeNode]:
    """Nest flat paths into directories; each level lists directories first, then files, by name."""
    root = TreeNode("", "")
    dirs: dict[str, TreeNode] = {"": root}
    for path, kind, size, target in entries:
        parent = root
        parts = path.split("/")
        for i, part in enumerate(parts[:-1]):
            sub = "/".join(parts[: i + 1])
            if sub not in dirs:
                dirs[sub] = TreeNode(part, sub)
                parent.children.append(dirs[sub])
            parent = dirs[sub]
        parent.children.append(TreeNode(parts[-1], path, kind=kind, size=size, target=target))

    def sort(node: TreeNode) -> None:
        node.children.sort(key=lambda n: (n.kind != "dir", n.name.lower(), n.name))
        for child in node.children:
            if child.kind == "dir":
                sort(child)
                child.size = sum(c.size for c in child.children)

    sort(root)
    return root.children


def _wanted(path: str) -> str:
    """The normalised path a request names; NotFound for anything that could leave the tree."""
    try:
        want = clean_path(path, what="request")
    except SnapshotError:
        raise NotFound(f"There is no file {path!r} in this artifact.") from None
    if not want or "\\" in path:
        raise NotFound(f"There is no file {path!r} in this artifact.")
    return want


def _read(store: BlobStore, sha: str, want: str) -> Iterator[tuple[tarfile.TarInfo, tarfile.TarFile]]:
    """Yield the regular member named exactly ``want`` (once); NotFound for symlinks, directories, missing paths."""
    for m, tar in iter_members(store, sha):
        if m.name == want:
            if m.issym():
                raise NotFound(f"{want} is a symbolic link (to {m.linkname}); links are not followed.")
            if m.isreg():
                yield m, tar
                return
            break
    raise NotFound(f"There is no file {want!r} in this artifact.")


def find_file(store: BlobStore, sha: str, path: str) -> tuple[str, int]:
    """The normalised path and size of a regular file (checked before a download starts streaming)."""
    want = _wanted(path)
    for m, _ in _read(store, sha, want):
        return want, m.size
    raise NotFound(f"There is no file {path!r} in this artifact.")  # pragma: no cover - _read raises first


def iter_file(store: BlobStore, sha: str, path: str) -> Iterator[bytes]:
    """A regular file's bytes in chunks (for downloads; never the whole file in memory)."""
    want = _wanted(path)
    for m, tar in _read(store, sha, want):
        f = tar.extractfile(m)
        assert f is not None
        while chunk := f.read(_CHUNK):
            yield chunk


def _head(store: BlobStore, sha: str, want: str, limit: int) -> tuple[bytes, int]:
    for m, tar in _read(store, sha, want):
        f = tar.extractfile(m)
        assert f is not None
        return f.read(limit), m.size
    raise NotFound(f"There is no file {want!r} in this artifact.")  # pragma: no cover - _read raises first


def _decode(path: str, data: bytes, truncated: bool) -> str | None:
    """The text of a file's shown part, or None when it is binary (a cut may split a UTF-8 sequence); latin-1
    and UTF-16 text is shown decoded, as the anonymized view masked it."""
    for cut in range(4 if truncated else 1):
        part = data[: len(data) - cut]
        if is_text(path, part):
            return part.decode("utf-8")
    decoded = decode_text(path, data) if not truncated else None
    return decoded[0] if decoded is not None else None


def _manifest_issues(text: str) -> tuple[dict[int, list[str]], list[str]]:
    from app.artifacts.manifest import ManifestError, parse_manifest

    try:
        parse_manifest(text)
    except ManifestError as exc:
        by_line: dict[int, list[str]] = {}
        general: list[str] = []
        for issue in exc.errors:
            if issue.line:
                by_line.setdefault(issue.line, []).append(issue.message)
            else:
                general.append(issue.message)
        return by_line, general
    return {}, []


def file_view(store: BlobStore, sha: str, path: str, *, source: bool = False,
              limit: int = DISPLAY_MAX_BYTES, link_query: str = "", anonymized: bool = False) -> FileView:
    """One file for the page: text lines (reproduce.toml with its problems), rendered markdown, binary, or (in an
    anonymized view) the note that it was withheld from reviewers."""
    want = _wanted(path)
    data, size = _head(store, sha, want, limit)
    reason = withheld_reason(data) if anonymized and size <= _WITHHELD_MAX else None
    if reason is not None:
        return FileView(path=want, size=0, kind="withheld", withheld=reason)
    truncated = size > len(data)
    if truncated and b"\n" in data:
        data = data[: data.rfind(b"\n") + 1]  # whole lines only
    text = _decode(want, data, truncated)
    view = FileView(path=want, size=size, kind="binary" if text is None else "text", truncated=truncated,
                    shown_bytes=len(data))
    if text is None:
        return view
    view.lines = text.splitlines() or [""]
    if want.lower().endswith(_MARKDOWN_SUFFIXES) and not source:
        view.kind = "markdown"
        view.html = render_markdown(text, link_query)
    if want == MANIFEST_NAME:
        view.issues, view.general_issues = _manifest_issues(text)
    return view


def download_name(path: str) -> str:
    """The file name a download is saved under."""
    return posixpath.basename(path) or "file"
