"""Immutable artifact snapshots: a normalised, deterministic ``.tar.gz`` in the BlobStore.

A snapshot is built from a git repository at one commit (``snapshot_from_git``) or from an
uploaded zip / tar archive (``snapshot_from_archive``). Both go through the same checks
(safe paths, links that stay inside the tree, size, file count, expansion ratio) and the
same writer (sorted entries, mtime 0, uid/gid 0, no ``.git``), so the same tree always gives
the same blob id. Nothing is stored unless the whole input passed.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import posixpath
import re
import shutil
import signal
import stat
import subprocess
import tarfile
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, NamedTuple
from urllib.parse import urlsplit, urlunsplit

from app.errors import BadInput, NotFound, TooLarge
from app.storage import BlobStore, human_size

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_FILES",
    "DEFAULT_MAX_RATIO",
    "MANIFEST_NAME",
    "Snapshot",
    "SnapshotError",
    "SnapshotFile",
    "extract_snapshot",
    "list_files",
    "load_snapshot",
    "read_file",
    "snapshot_from_archive",
    "snapshot_from_git",
    "TreeBuilder",
    "clean_path",
    "scratch_dir",
    "iter_members",
]

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_FILES = 20_000
DEFAULT_MAX_RATIO = 200
MANIFEST_NAME = "reproduce.toml"
MANIFEST_MAX_BYTES = 1024 * 1024

_CHUNK = 256 * 1024
# Below this many expanded bytes the ratio is not checked: a small file of zeros is harmless.
_RATIO_FLOOR = 1024 * 1024
# Entries dropped from every snapshot: VCS metadata and macOS archive litter.
_DROPPED_DIRS = {".git", "__MACOSX"}
_DROPPED_FILES = {".DS_Store"}
_GIT_BIN = "git"


class SnapshotError(BadInput):
    """An artifact source that cannot become a snapshot; the message says why."""

    code = "snapshot"


class SnapshotFile(NamedTuple):
    """One regular file in a snapshot (a tuple, so ``for path, size in files`` works too)."""

    path: str
    size: int


@dataclass(frozen=True)
class Snapshot:
    """A stored snapshot: its blob id, its regular files, and its ``reproduce.toml`` if any."""

    sha: str
    files: tuple[SnapshotFile, ...]
    total_bytes: int
    file_count: int
    manifest_text: str | None
    commit: str | None = None
    history: str | None = None        # app.artifacts.history's JSON summary, when it was asked for and read
    history_note: str | None = None   # why there is no history (too large, too slow, unreadable), in words


# ---------------------------------------------------------------------------------------
# paths


_DRIVE_RE = re.compile(r"^[A-Za-z]:")


def clean_path(name: str, *, what: str = "archive", entry: str | None = None) -> str:
    """Normalise an entry name to a relative POSIX path inside the tree; '' means the root.

    Raises SnapshotError for absolute paths and paths that climb out with ``..``.
    """
    label = entry if entry is not None else name
    if "\x00" in name:
        raise SnapshotError(f"{what} entry {label!r} has a NUL byte in its name")
    if name.startswith("/") or _DRIVE_RE.match(name):
        raise SnapshotError(f"{what} entry {label!r} has an absolute path")
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise SnapshotError(f"{what} entry {label!r} points outside the archive (../)")
        parts.append(part)
    return "/".join(parts)


def _is_dropped(path: str) -> bool:
    parts = path.split("/")
    return any(p in _DROPPED_DIRS for p in parts) or parts[-1] in _DROPPED_FILES


# ---------------------------------------------------------------------------------------
# the tree builder shared by git, archives and the anonymised view


@dataclass
class _Entry:
    kind: str  # "file" | "dir" | "symlink"
    entry: str  # the original name, for messages
    executable: bool = False
    data: Path | None = None
    size: int = 0
    target: str = ""


class _Limit(Exception):
    """Raised from inside a read when a limit is crossed (mapped to SnapshotError by the caller)."""


class TreeBuilder:
    """Collects entries into a staging directory, checks them, and writes a normalised tarball."""

    def __init__(
        self,
        staging: Path,
        *,
        max_bytes: int,
        max_files: int,
        max_ratio: float | None = None,
        what: str = "archive",
        strip_top: bool = False,
    ) -> None:
        self.staging = staging
        self.strip_top = strip_top
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.max_ratio = max_ratio
        self.what = what
        self.entries: dict[str, _Entry] = {}
        self.total_bytes = 0
        self.file_count = 0
        self._n = 0

    # -- adding ------------------------------------------------------------------------

    def path_of(self, name: str) -> str | None:
        """The cleaned path of an entry, or None when the entry is dropped (root, .git, __MACOSX)."""
        path = clean_path(name, what=self.what)
        if not path or _is_dropped(path):
            return None
        return path


    def too_large(self, entry: str | None = None) -> SnapshotError:
        where = f" (at entry {entry!r})" if entry else ""
        if self.what == "repository":
            return SnapshotError(f"repository is larger than the {human_size(self.max_bytes)} limit{where}")
        return SnapshotError(f"{self.what} expands to more than the {human_size(self.max_bytes)} limit{where}")

    def add_dir(self, name: str) -> None:
        path = self.path_of(name)
        if path is None:
            return
        old = self.entries.get(path)
        if old is not None and old.kind != "dir":
            raise SnapshotError(f"{self.what} entry {name!r} is both a file and a directory")
        self.entries[path] = _Entry("dir", name)

    def add_file(
        self, name: str, src: BinaryIO | bytes, *, executable: bool = False, compressed_size: int | None = None
    ) -> None:
        """Copy one file's content into staging, counting bytes as they stream."""
        path = self.path_of(name)
        if path is None:
            return
        self._n += 1
        dest = self.staging / f"{self._n}"
        if isinstance(src, (bytes, bytearray)):
            src = io.BytesIO(src)
        written = 0
        with open(dest, "wb") as out:
            while True:
                chunk = src.read(_CHUNK)
                if not chunk:
                    break
                written += len(chunk)
                self.total_bytes += len(chunk)
                if self.total_bytes > self.max_bytes:
                    raise self.too_large(name)
                if (
                    self.max_ratio is not None
                    and compressed_size is not None
                    and written > _RATIO_FLOOR
                    and written > self.max_ratio * max(compressed_size, 1)
                ):
                    raise SnapshotError(
                        f"{self.what} entry {name!r} expands more than {self.max_ratio:g} times "
                        "(a zip bomb?)"
                    )
                out.write(chunk)
        self._put(path, _Entry("file", name, executable=executable, data=dest, size=written))

    def add_symlink(self, name: str, target: str) -> None:
        path = self.path_of(name)
        if path is None:
            return
        if not target or target.startswith("/") or _DRIVE_RE.match(target) or "\x00" in target:
            raise SnapshotError(f"{self.what} entry {name!r} is a symlink pointing outside the tree ({target})")
        self._put(path, _Entry("symlink", name, target=target))

    def add_hardlink(self, name: str, target: str) -> None:
        """A tar hard link becomes a copy of the (earlier) file it names."""
        path = self.path_of(name)
        if path is None:
            return
        try:
            target_path = clean_path(target, what=self.what, entry=name)
        except SnapshotError:
            raise SnapshotError(
                f"{self.what} entry {name!r} is a hard link pointing outside the tree ({target})"
            ) from None
        src = self.entries.get(target_path)
        if src is None or src.kind != "file":
            raise SnapshotError(f"{self.what} entry {name!r} is a hard link to a missing file ({target})")
        self.total_bytes += src.size
        if self.total_bytes > self.max_bytes:
            raise self.too_large(name)
        self._put(path, _Entry("file", name, executable=src.executable, data=src.data, size=src.size))

    def _put(self, path: str, entry: _Entry) -> None:
        old = self.entries.get(path)
        if old is not None and old.kind == "dir":
            raise SnapshotError(f"{self.what} entry {entry.entry!r} is both a file and a directory")
        if old is None:
            self.file_count += 1
            if self.file_count > self.max_files:
                raise SnapshotError(f"{self.what} has more than {self.max_files} files")
        self.entries[path] = entry

    # -- finishing ---------------------------------------------------------------------

    def finish(self) -> None:
        """Strip a single top-level directory, add missing parents, and check every symlink."""
        if self.strip_top:
            self._strip_single_top_dir()
        # A file and a directory may not share a name (a/b file plus a/b/c).
        for path in list(self.entries):
            parts = path.split("/")
            for i in range(1, len(parts)):
                parent = "/".join(parts[:i])
                e = self.entries.get(parent)
                if e is None:
                    self.entries[parent] = _Entry("dir", parent)
                elif e.kind != "dir":
                    raise SnapshotError(
                        f"{self.what} entry {self.entries[path].entry!r} is inside {e.entry!r}, "
                        "which is not a directory"
                    )
        for path, e in self.entries.items():
            if e.kind == "symlink":
                self._check_symlink(path, e)

    def _strip_single_top_dir(self) -> None:
        if not self.entries:
            return
        tops = {p.split("/", 1)[0] for p in self.entries}
        if len(tops) != 1:
            return
        top = tops.pop()
        e = self.entries.get(top)
        if e is not None and e.kind != "dir":
            return
        if not any("/" in p for p in self.entries):
            return
        self.entries = {p.split("/", 1)[1]: e for p, e in self.entries.items() if "/" in p}

    def _check_symlink(self, path: str, e: _Entry) -> None:
        """Resolve the target lexically; once it passes through another symlink, '..' is refused."""
        parts = path.split("/")[:-1]
        through_link = False
        for comp in e.target.split("/"):
            if comp in ("", "."):
                continue
            if comp == "..":
                if not parts or through_link:
                    raise SnapshotError(
                        f"{self.what} entry {e.entry!r} is a symlink pointing outside the tree ({e.target})"
                    )
                parts.pop()
                continue
            parts.append(comp)
            other = self.entries.get("/".join(parts))
            if other is not None and other.kind == "symlink":
                through_link = True

    # -- writing -----------------------------------------------------------------------

    def files(self) -> tuple[SnapshotFile, ...]:
        return tuple(SnapshotFile(p, e.size) for p, e in sorted(self.entries.items()) if e.kind == "file")

    def write_tarball(self, out: Path) -> None:
        """Write the entries as a deterministic tar.gz (sorted, mtime 0, uid/gid 0, fixed modes)."""
        with open(out, "wb") as raw, gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6
        ) as gz, tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for path, e in sorted(self.entries.items()):
                info = tarfile.TarInfo(path)
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if e.kind == "dir":
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    tar.addfile(info)
                elif e.kind == "symlink":
                    info.type = tarfile.SYMTYPE
                    info.mode = 0o777
                    info.linkname = e.target
                    tar.addfile(info)
                else:
                    info.type = tarfile.REGTYPE
                    info.mode = 0o755 if e.executable else 0o644
                    info.size = e.size
                    with open(e.data, "rb") as f:  # type: ignore[arg-type]
                        tar.addfile(info, f)

    def manifest_text(self) -> str | None:
        e = self.entries.get(MANIFEST_NAME)
        if e is None or e.kind != "file" or e.data is None:
            return None
        with open(e.data, "rb") as f:
            return f.read(MANIFEST_MAX_BYTES).decode("utf-8", errors="replace")

    def store(self, store: BlobStore, *, commit: str | None = None) -> Snapshot:
        """Finish, write the tarball and put it in the store (the only step that stores anything)."""
        self.finish()
        files = self.files()
        if not files:
            raise SnapshotError(f"{self.what} contains no files")
        out = self.staging / "snapshot.tar.gz"
        self.write_tarball(out)
        sha, _ = store.put_file(out)
        return Snapshot(
            sha=sha,
            files=files,
            total_bytes=sum(f.size for f in files),
            file_count=len(files),
            manifest_text=self.manifest_text(),
            commit=commit,
        )


@contextmanager
def scratch_dir(store: BlobStore) -> Iterator[Path]:
    """A private scratch dir in the store's tmp/ (same filesystem as the blobs), always removed."""
    path = store.staging_dir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# archives


class _Meter:
    """Counts compressed bytes in and expanded bytes out of a decompressing stream."""

    def __init__(self, max_out: int, max_ratio: float | None) -> None:
        self.compressed = 0
        self.expanded = 0
        self.max_out = max_out
        self.max_ratio = max_ratio
        self.current = ""


class _Counted(io.RawIOBase):
    """A raw stream over ``f`` that hands every read's byte count to ``on_read`` (which may raise _Limit)."""

    def __init__(self, f: BinaryIO, on_read: Callable[[int], None]) -> None:
        self.f, self.on_read = f, on_read

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # noqa: ANN001
        data = self.f.read(len(b))
        n = len(data)
        b[:n] = data
        self.on_read(n)
        return n


def _count_in(meter: _Meter) -> Callable[[int], None]:
    """The compressed side: counts bytes read from the upload."""
    def on_read(n: int) -> None:
        meter.compressed += n
    return on_read


def _count_out(meter: _Meter) -> Callable[[int], None]:
    """The expanded side: counts decompressed bytes and stops at the size or expansion-ratio limit."""
    def on_read(n: int) -> None:
        meter.expanded += n
        if meter.expanded > meter.max_out:
            raise _Limit("size")
        if meter.max_ratio is not None and meter.expanded > _RATIO_FLOOR and \
                meter.expanded > meter.max_ratio * max(meter.compressed, 1):
            raise _Limit("ratio")
    return on_read


def _open_input(data_or_path: bytes | bytearray | str | os.PathLike | BinaryIO) -> BinaryIO:
    """Bytes, a path, or a seekable binary file object."""
    if isinstance(data_or_path, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(data_or_path))
    if isinstance(data_or_path, (str, os.PathLike)):
        return open(data_or_path, "rb")  # noqa: SIM115 - closed by the caller
    return data_or_path


def _sniff(head: bytes) -> str | None:
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gz"
    if head.startswith(b"BZh"):
        return "bz2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    return None


def snapshot_from_archive(
    data_or_path: bytes | str | os.PathLike | BinaryIO,
    filename: str,
    *,
    store: BlobStore,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_files: int = DEFAULT_MAX_FILES,
    max_ratio: float = DEFAULT_MAX_RATIO,
) -> Snapshot:
    """Snapshot an uploaded .zip / .tar.gz / .tgz / .tar; rejects unsafe entries and bombs, storing nothing."""
    f = _open_input(data_or_path)
    try:
        head = f.read(512)
        f.seek(0)
        kind = _sniff(head)
        lower = filename.lower()
        if kind is None:
            if lower.endswith(".tar") and head.strip(b"\x00") == b"":
                kind = "tar"
            else:
                raise SnapshotError(
                    f"{filename!r} is not a supported archive: upload a .zip, .tar.gz, .tgz or .tar"
                )
        with scratch_dir(store) as staging:
            tree = TreeBuilder(
                staging, max_bytes=max_bytes, max_files=max_files, max_ratio=max_ratio, strip_top=True
            )
            if kind == "zip":
                _read_zip(f, tree, filename)
            else:
                _read_tar(f, tree, kind, filename)
            return tree.store(store)
    finally:
        if f is not data_or_path:
            f.close()


def _read_zip(f: BinaryIO, tree: TreeBuilder, filename: str) -> None:
    try:
        zf = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise SnapshotError(f"{filename!r} is not a valid zip archive ({e})") from None
    with zf:
        infos = zf.infolist()
        if sum(1 for i in infos if not i.is_dir()) > tree.max_files:
            raise SnapshotError(f"archive has more than {tree.max_files} files")
        # Headers can lie, so this is only a fast path; the real check counts bytes as they stream.
        if sum(i.file_size for i in infos) > tree.max_bytes * 4 + _RATIO_FLOOR:
            raise tree.too_large()
        for info in infos:
            name = info.filename.replace("\\", "/")
            mode = info.external_attr >> 16
            ftype = stat.S_IFMT(mode) if info.create_system == 3 else 0
            if info.flag_bits & 0x1:
                raise SnapshotError(f"archive entry {name!r} is encrypted")
            try:
                if info.is_dir() or ftype == stat.S_IFDIR:
                    tree.add_dir(name)
                elif ftype == stat.S_IFLNK:
                    with zf.open(info) as src:
                        target = src.read(4097)
                    if len(target) > 4096:
                        raise SnapshotError(f"archive entry {name!r} is a symlink with an overlong target")
                    tree.add_symlink(name, target.decode("utf-8", errors="replace"))
                elif ftype in (0, stat.S_IFREG):
                    # clean_path raises on unsafe names before any byte is read
                    if tree.path_of(name) is None:
                        continue
                    with zf.open(info) as src:
                        tree.add_file(
                            name, src, executable=bool(mode & 0o111) and ftype != 0,
                            compressed_size=info.compress_size,
                        )
                else:
                    raise SnapshotError(f"archive entry {name!r} is a device or special file")
            except SnapshotError:
                raise
            # zipfile raises NotImplementedError for a compression method it lacks (e.g. 99, WinZip AES) and
            # RuntimeError for an encrypted entry (refused above already; kept in case a flag lies): both are
            # the archive's fault, so the author gets the entry's name, not a server error.
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as e:
                raise SnapshotError(f"archive entry {name!r} cannot be read ({e})") from None


def _read_tar(f: BinaryIO, tree: TreeBuilder, kind: str, filename: str) -> None:
    # Tar members have headers and padding; allow for them on top of the content limit.
    meter = _Meter(max_out=2 * tree.max_bytes + 16 * 1024 * 1024, max_ratio=tree.max_ratio)
    raw = io.BufferedReader(_Counted(f, _count_in(meter)), buffer_size=_CHUNK)
    if kind == "gz":
        dec: BinaryIO = gzip.GzipFile(fileobj=raw, mode="rb")
    elif kind == "bz2":
        dec = bz2.BZ2File(raw, mode="rb")
    elif kind == "xz":
        dec = lzma.LZMAFile(raw, mode="rb")
    else:
        dec = raw
        meter.max_ratio = None
    stream = io.BufferedReader(_Counted(dec, _count_out(meter)), buffer_size=_CHUNK)
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                name = member.name
                meter.current = name
                if member.isdir():
                    tree.add_dir(name)
                elif member.issym():
                    tree.add_symlink(name, member.linkname)
                elif member.islnk():
                    tree.add_hardlink(name, member.linkname)
                elif member.isreg():
                    if tree.path_of(name) is None:
                        continue
                    src = tar.extractfile(member)
                    assert src is not None
                    tree.add_file(name, src, executable=bool(member.mode & 0o111))
                elif member.ischr() or member.isblk() or member.isfifo():
                    raise SnapshotError(f"archive entry {name!r} is a device or special file")
                else:
                    raise SnapshotError(f"archive entry {name!r} has an unsupported type")
    except _Limit as e:
        where = f" (at entry {meter.current!r})" if meter.current else ""
        if str(e) == "ratio":
            raise SnapshotError(
                f"archive expands more than {tree.max_ratio:g} times{where} (a compression bomb?)"
            ) from None
        raise tree.too_large(meter.current or None) from None
    except SnapshotError:
        raise
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError, ValueError) as e:
        raise SnapshotError(f"{filename!r} is not a valid tar archive ({e})") from None


# ---------------------------------------------------------------------------------------
# git


_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_ALLOWED_SCHEMES = {"https", "http", "ssh", "git", "git+ssh", "ssh+git"}
_REF_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")


def _display_url(url: str) -> str:
    """The url without user info (a token in https://user:token@host must not reach a message)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme and "@" in parts.netloc:
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return url


def _check_url(url: str, allow_local: bool) -> bool:
    """Reject option injection and dangerous transports; return True for a local path / file:// url."""
    if not isinstance(url, str) or not url.strip():
        raise SnapshotError("repository url is empty")
    if url != url.strip() or any(c in url for c in "\x00\n\r"):
        raise SnapshotError("repository url has stray whitespace or control characters")
    if url.startswith("-"):
        raise SnapshotError("not a valid repository url: it may not start with '-'")
    if "::" in url.split("/", 1)[0] or re.match(r"^[A-Za-z0-9+.-]+::", url):
        raise SnapshotError(f"repository url transport is not allowed: {url.split('::', 1)[0]}::")
    m = _SCHEME_RE.match(url)
    if m:
        scheme = m.group(1).lower()
        if scheme == "file":
            local = True
        elif scheme in _ALLOWED_SCHEMES:
            local = False
        else:
            raise SnapshotError(f"repository url scheme is not allowed: {scheme}://")
    elif re.match(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:", url):
        local = False  # scp-like ssh: git@github.com:group/repo.git
    elif url.startswith("/"):
        local = True
    else:
        raise SnapshotError(f"not a valid repository url: {url!r}")
    if local and not allow_local:
        raise SnapshotError("local repository paths are not allowed; give an https:// or ssh url")
    return local


def _git_env(home: Path) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LC_ALL": "C",
        "LANG": "C",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "/bin/false",
        "SSH_ASKPASS": "/bin/false",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_PROTOCOL_FROM_USER": "0",
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new",
        "GIT_LFS_SKIP_SMUDGE": "1",
    }
    for key in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "SSL_CERT_FILE"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def _git_config(allow_local: bool) -> list[str]:
    file_allow = "always" if allow_local else "never"
    opts = [
        "protocol.allow=never",
        "protocol.https.allow=always",
        "protocol.http.allow=always",
        "protocol.ssh.allow=always",
        "protocol.git.allow=always",
        f"protocol.file.allow={file_allow}",
        "protocol.ext.allow=never",
        "core.hooksPath=/dev/null",
        "core.symlinks=false",
        "core.fsmonitor=false",
        "submodule.recurse=false",
        "fetch.recurseSubmodules=false",
        "credential.helper=",
    ]
    out: list[str] = []
    for o in opts:
        out += ["-c", o]
    return out


class _GitRunner:
    """Runs git commands under one overall deadline, killing the whole process group on timeout."""

    def __init__(self, repo: Path, env: dict[str, str], config: list[str], timeout_s: float) -> None:
        self.repo, self.env, self.config = repo, env, config
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s

    def timed_out(self) -> SnapshotError:
        return SnapshotError(f"git timed out after {self.timeout_s:g} s")

    def popen(self, args: list[str], **kw) -> subprocess.Popen:  # noqa: ANN003
        return subprocess.Popen(
            [_GIT_BIN, *self.config, *args],
            cwd=self.repo,
            env=self.env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            **kw,
        )

    def run(
        self, args: list[str], *, watch_dir: Path | None = None, watch_limit: int | None = None
    ) -> tuple[int, str, str]:
        """Run to completion; returns (rc, stdout, stderr). Kills on timeout or when watch_dir grows too big."""
        proc = self.popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out: dict[str, bytes] = {}

        def drain(name: str, stream) -> None:  # noqa: ANN001
            out[name] = stream.read(4 * 1024 * 1024)
            while stream.read(_CHUNK):  # discard the rest so git never blocks on a full pipe
                pass

        threads = [
            threading.Thread(target=drain, args=("out", proc.stdout), daemon=True),
            threading.Thread(target=drain, args=("err", proc.stderr), daemon=True),
        ]
        for t in threads:
            t.start()
        too_big = False
        while proc.poll() is None:
            if time.monotonic() > self.deadline:
                _kill(proc)
                raise self.timed_out()
            if watch_dir is not None and watch_limit is not None and _du(watch_dir) > watch_limit:
                too_big = True
                _kill(proc)
                break
            try:
                proc.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                pass
        for t in threads:
            t.join(timeout=5)
        if too_big:
            raise _Limit("size")
        return (
            proc.returncode,
            out.get("out", b"").decode("utf-8", "replace"),
            out.get("err", b"").decode("utf-8", "replace"),
        )


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _du(path: Path) -> int:
    total = 0
    for dirpath, _, filenames in os.walk(path):
        for fn in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, fn)).st_size
            except OSError:
                pass
    return total


def _not_a_repo(stderr: str) -> bool:
    s = stderr.lower()
    return (
        "does not appear to be a git repository" in s
        or "not a git repository" in s
        or "repository not found" in s
        or "could not read from remote repository" in s
        and "not found" in s
    )


def _fetch_error(stderr: str, url: str) -> SnapshotError:
    if _not_a_repo(stderr):
        return SnapshotError(f"not a git repository: {url}")
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else "unknown error"
    last = last.removeprefix("fatal: ").removeprefix("error: ")
    return SnapshotError(f"could not fetch {url}: {last}")


def snapshot_from_git(
    url: str,
    commit: str,
    *,
    store: BlobStore,
    timeout_s: float = 60,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_files: int = DEFAULT_MAX_FILES,
    allow_local: bool = True,
    with_history: bool = False,
    history_max_bytes: int | None = None,
) -> Snapshot:
    """Snapshot a git repository at one commit (full sha, short sha, branch or tag), storing nothing on error.

    Local paths and file:// urls are allowed only with ``allow_local`` (pass False for urls typed by users).
    With ``with_history`` the history up to that commit is fetched too (bounded by ``history_max_bytes``,
    default 8 × ``max_bytes``, and the same deadline) and summarised (app.artifacts.history) before ``.git`` is
    dropped; when it cannot be, the snapshot is still made and ``history_note`` says why.
    """
    shown = _display_url(url)
    _check_url(url, allow_local)
    if not isinstance(commit, str) or not _REF_RE.match(commit) or ".." in commit:
        raise SnapshotError(f"not a valid commit: {commit!r}")
    is_full_sha = bool(re.fullmatch(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}", commit))
    with scratch_dir(store) as staging:
        repo = staging / "repo.git"
        home = staging / "home"
        home.mkdir()
        git = _GitRunner(staging, _git_env(home), _git_config(allow_local), timeout_s)
        try:
            rc, _, err = git.run(["init", "--quiet", "--bare", str(repo)])
            if rc != 0:
                raise SnapshotError(f"could not prepare a git repository: {err.strip()}")
            git.repo = repo
            # A shallow pack of one commit is about the size of its compressed tree.
            shallow_limit = max_bytes + max_bytes // 10 + 1024 * 1024
            rc, _, err = git.run(
                ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--depth", "1", "--", url,
                 f"{commit}:refs/snapshot/target"] if not is_full_sha else
                ["fetch", "--quiet", "--no-tags", "--depth", "1", "--", url, commit],
                watch_dir=repo, watch_limit=shallow_limit,
            )
            if rc != 0:
                if _not_a_repo(err):
                    raise SnapshotError(f"not a git repository: {shown}")
                # The server may refuse fetching by sha (or the name is a short sha): fetch all
                # branches and tags instead, with a looser limit since history is included.
                rc, _, err = git.run(
                    ["fetch", "--quiet", "--no-tags", "--", url,
                     "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"],
                    watch_dir=repo, watch_limit=8 * max_bytes + 16 * 1024 * 1024,
                )
                if rc != 0:
                    raise _fetch_error(err, shown)
                candidates = [commit, f"refs/remotes/origin/{commit}", f"refs/tags/{commit}"]
            elif is_full_sha:
                candidates = [commit]
            else:
                candidates = ["refs/snapshot/target"]
            sha = None
            for cand in candidates:
                rc, out, _ = git.run(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{cand}^{{commit}}"])
                if rc == 0 and out.strip():
                    sha = out.strip()
                    break
            if sha is None:
                raise SnapshotError(f"commit {commit} does not exist in {shown}")
            tree = TreeBuilder(staging / "files", max_bytes=max_bytes, max_files=max_files, what="repository")
            tree.staging.mkdir()
            _archive_into(git, sha, tree)
            history, note = (_read_history(git, repo, url, sha, history_max_bytes or 8 * max_bytes + 16 * 1024 * 1024)
                             if with_history else (None, None))
            snap = tree.store(store, commit=sha)
            return replace(snap, history=history, history_note=note)
        except _Limit:
            raise SnapshotError(f"repository is larger than the {human_size(max_bytes)} limit") from None


def _read_history(git: _GitRunner, repo: Path, url: str, sha: str, limit: int) -> tuple[str | None, str | None]:
    """Deepen the one-commit fetch to the commit's whole history and summarise it; (json, None) or (None, why)."""
    from app.artifacts import history

    if (repo / "shallow").exists():
        try:
            rc, _, err = git.run(["fetch", "--quiet", "--no-tags", "--unshallow", "--", url, sha],
                                 watch_dir=repo, watch_limit=limit)
            if rc != 0:
                rc, _, err = git.run(["fetch", "--quiet", "--no-tags", "--unshallow", "--", url],
                                     watch_dir=repo, watch_limit=limit)
        except _Limit:
            return None, f"the history is larger than {human_size(limit)}: not summarised"
        except SnapshotError as exc:  # the deadline: the snapshot itself is kept
            return None, f"the history was not fetched in time ({exc})"
        if rc != 0:
            return None, f"the history could not be fetched ({(err.strip().splitlines() or ['no reason'])[-1]})"
        if _du(repo) > limit:  # the watcher polls: a fast fetch can finish between two looks
            return None, f"the history is larger than {human_size(limit)}: not summarised"
    remaining = git.deadline - time.monotonic()
    if remaining <= 1:
        return None, "no time was left to summarise the history"
    try:
        summary = history.summarize(repo, sha, timeout_s=remaining)
    except history.HistoryError as exc:
        return None, f"the history was not summarised: {exc}"
    note = "shallow history: only part of it was available" if summary.shallow else None
    return summary.dumps(), note


def _archive_into(git: _GitRunner, sha: str, tree: TreeBuilder) -> None:
    """Stream ``git archive`` (an uncompressed tar) into the tree builder, under the deadline."""
    proc = git.popen(["archive", "--format=tar", sha], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    expired = threading.Event()

    def on_deadline() -> None:
        expired.set()
        _kill(proc)

    timer = threading.Timer(max(git.deadline - time.monotonic(), 0.0), on_deadline)
    timer.daemon = True
    timer.start()
    err_box: list[bytes] = []
    stderr = proc.stderr
    assert stderr is not None
    err_thread = threading.Thread(target=lambda: err_box.append(stderr.read()), daemon=True)
    err_thread.start()
    try:
        _read_tar(proc.stdout, tree, "tar", "git archive")  # type: ignore[arg-type]
        proc.wait(timeout=max(git.deadline - time.monotonic(), 0.1))
    except SnapshotError:
        _kill(proc)
        if expired.is_set():
            raise git.timed_out() from None
        raise
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise git.timed_out() from None
    finally:
        timer.cancel()
        if proc.stdout:
            proc.stdout.close()
        err_thread.join(timeout=5)
    if expired.is_set():
        raise git.timed_out()
    if proc.returncode != 0:
        msg = (err_box[0] if err_box else b"").decode("utf-8", "replace").strip()
        raise SnapshotError(f"git archive failed: {msg or proc.returncode}")


# ---------------------------------------------------------------------------------------
# reading a stored snapshot


@contextmanager
def _open_tar(store: BlobStore, sha: str) -> Iterator[tarfile.TarFile]:
    if not store.exists(sha):
        raise NotFound(f"snapshot {sha} not found")
    with store.open(sha) as raw, tarfile.open(fileobj=raw, mode="r:gz") as tar:
        yield tar


def iter_members(store: BlobStore, sha: str) -> Iterator[tuple[tarfile.TarInfo, tarfile.TarFile]]:
    """Yield (member, tar) in stored order; read member data with ``tar.extractfile`` before advancing."""
    with _open_tar(store, sha) as tar:
        for m in tar:
            yield m, tar


def list_files(store: BlobStore, sha: str) -> list[SnapshotFile]:
    """The regular files of a snapshot, sorted by path."""
    return [SnapshotFile(m.name, m.size) for m, _ in iter_members(store, sha) if m.isreg()]


def load_snapshot(store: BlobStore, sha: str) -> Snapshot:
    """Rebuild a Snapshot's metadata from its stored blob."""
    files: list[SnapshotFile] = []
    manifest = None
    for m, tar in iter_members(store, sha):
        if m.isreg():
            files.append(SnapshotFile(m.name, m.size))
            if m.name == MANIFEST_NAME:
                f = tar.extractfile(m)
                assert f is not None
                manifest = f.read(MANIFEST_MAX_BYTES).decode("utf-8", errors="replace")
    return Snapshot(
        sha=sha, files=tuple(files), total_bytes=sum(f.size for f in files),
        file_count=len(files), manifest_text=manifest,
    )


def read_file(store: BlobStore, sha: str, path: str, max_bytes: int = 1024 * 1024) -> bytes:
    """One file's bytes, found by a normalised relative path; follows symlinks inside the tree."""
    try:
        want = clean_path(path, what="snapshot")
    except SnapshotError:
        raise NotFound(f"no file {path!r} in this snapshot") from None
    with _open_tar(store, sha) as tar:
        members = {m.name: m for m in tar.getmembers()}
        for _ in range(16):
            m = members.get(want)
            if m is None:
                break
            if m.issym():
                target = posixpath.normpath(posixpath.join(posixpath.dirname(want), m.linkname))
                if target.startswith("/") or target == ".." or target.startswith("../"):
                    break
                want = target
                continue
            if not m.isreg():
                break
            if m.size > max_bytes:
                raise TooLarge(f"{path} is larger than {human_size(max_bytes)}")
            f = tar.extractfile(m)
            assert f is not None
            return f.read()
    raise NotFound(f"no file {path!r} in this snapshot")


def extract_snapshot(store: BlobStore, sha: str, dest_dir: Path | str) -> Path:
    """Unpack a snapshot into ``dest_dir`` (created if needed) with tarfile's 'data' filter."""
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    with _open_tar(store, sha) as tar:
        tar.extractall(dest, filter="data")
    return dest
