"""Content-addressed blob store on local disk: a blob's id is the sha256 of its bytes.

Writes go to a temp file under ``root/tmp`` (same filesystem), are fsynced, then
``os.replace``d into ``root/ab/cd/<sha>``; so a process killed mid-write leaves at most a
``.tmp-*`` file, never a half blob under its final name. Existing blobs are never rewritten.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from app.errors import BadInput, NotFound, TooLarge

__all__ = ["BlobStore", "TooLarge", "InvalidBlobId", "BlobNotFound", "is_valid_sha", "human_size"]

_SHA_RE = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1024 * 1024
_TMP_PREFIX = ".tmp-"


class InvalidBlobId(BadInput):
    """A blob id that is not 64 lowercase hex digits (never used as a path)."""


class BlobNotFound(NotFound):
    """No blob with this id in the store."""


def is_valid_sha(sha: object) -> bool:
    """True for a 64-char lowercase hex sha256 id."""
    return isinstance(sha, str) and _SHA_RE.fullmatch(sha) is not None


def _fsync_dir(path: Path) -> None:
    """Persist a rename in ``path``; ignored where directories cannot be opened (Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class BlobStore:
    """Immutable blobs addressed by sha256, stored as ``root/ab/cd/<sha>``."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.tmp_dir = self.root / "tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    # -- lookup -----------------------------------------------------------------------

    def path(self, sha: str) -> Path:
        """Final path of a blob (whether or not it exists); rejects anything but a sha256 hex id."""
        if not is_valid_sha(sha):
            raise InvalidBlobId(f"invalid blob id {sha!r}")
        return self.root / sha[:2] / sha[2:4] / sha

    def exists(self, sha: str) -> bool:
        """True when the blob is stored."""
        return self.path(sha).is_file()

    def size(self, sha: str) -> int:
        """Size of a stored blob in bytes."""
        try:
            return self.path(sha).stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(f"blob {sha} not found") from None

    def open(self, sha: str) -> BinaryIO:
        """Open a stored blob for binary reading."""
        try:
            return open(self.path(sha), "rb")  # noqa: SIM115 - caller closes
        except FileNotFoundError:
            raise BlobNotFound(f"blob {sha} not found") from None

    def read_bytes(self, sha: str) -> bytes:
        """Whole content of a (small) blob."""
        with self.open(sha) as f:
            return f.read()

    def iter_blobs(self) -> Iterator[str]:
        """Yield the ids of all stored blobs (for tests and maintenance)."""
        for p in self.root.glob("??/??/*"):
            if p.is_file() and is_valid_sha(p.name):
                yield p.name

    # -- writing ----------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; return its sha256 hex id."""
        sha = hashlib.sha256(data).hexdigest()
        if self._reuse(sha):
            return sha
        fd, tmp = self._mkstemp()
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            self._commit(tmp, sha)
        except BaseException:
            _unlink_quiet(tmp)
            raise
        return sha

    def put_stream(self, fileobj: BinaryIO, *, max_bytes: int | None = None) -> tuple[str, int]:
        """Stream ``fileobj`` into the store, hashing as it goes; return (sha, size).

        Raises TooLarge as soon as more than ``max_bytes`` have been read; no temp file remains.
        """
        h = hashlib.sha256()
        size = 0
        fd, tmp = self._mkstemp()
        try:
            with os.fdopen(fd, "wb") as f:
                while True:
                    chunk = fileobj.read(_CHUNK)
                    if not chunk:
                        break
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise TooLarge(f"upload is larger than the {human_size(max_bytes)} limit")
                    h.update(chunk)
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            sha = h.hexdigest()
            self._commit(tmp, sha)
        except BaseException:
            _unlink_quiet(tmp)
            raise
        return sha, size

    def put_file(self, path: Path | str, *, max_bytes: int | None = None) -> tuple[str, int]:
        """Store a file from disk; return (sha, size)."""
        with open(path, "rb") as f:
            return self.put_stream(f, max_bytes=max_bytes)

    def cleanup_temp(self, older_than_s: float = 3600.0) -> int:
        """Remove temp files (and staging dirs) left by crashed writers, older than ``older_than_s``."""
        cutoff = time.time() - older_than_s
        removed = 0
        for p in self.tmp_dir.glob(_TMP_PREFIX + "*"):
            try:
                if p.lstat().st_mtime > cutoff:
                    continue
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink()
                removed += 1
            except FileNotFoundError:
                continue
        return removed

    def staging_dir(self) -> Path:
        """A fresh private scratch directory under ``tmp/`` (removed by the caller, or by cleanup_temp)."""
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=_TMP_PREFIX + "dir-", dir=self.tmp_dir))

    def blob_mtime(self, sha: str) -> float:
        """When a blob was last stored (written, or written again by a later upload of the same bytes)."""
        return self.path(sha).stat().st_mtime

    def remove_if_older(self, sha: str, cutoff: float) -> bool:
        """Remove a blob last stored before ``cutoff`` (a time.time()); False when it is younger or gone.

        Safe beside writers of the same bytes: the blob is first renamed away, then its time is read again. A
        writer that stored it again before the rename made it young (it is put back); one that comes after the
        rename finds no blob and writes it anew (see ``_reuse``)."""
        final = self.path(sha)
        try:
            if final.stat().st_mtime >= cutoff:
                return False
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
            doomed = self.tmp_dir / f"{_TMP_PREFIX}gc-{sha}-{os.getpid()}"
            os.replace(final, doomed)
        except FileNotFoundError:
            return False
        if doomed.stat().st_mtime >= cutoff:  # stored again just before the rename: keep it
            try:
                os.link(doomed, final)
            except FileExistsError:
                pass
            _unlink_quiet(doomed)
            return False
        _unlink_quiet(doomed)
        return True

    # -- internals --------------------------------------------------------------------

    def _reuse(self, sha: str) -> bool:
        """True when the blob is already stored; its time is renewed, so a collector (``reproreview gc``)
        running now treats it as young while the row that will reference it is being written."""
        try:
            os.utime(self.path(sha))
        except FileNotFoundError:
            return False
        except PermissionError:  # a read-only blob owned by someone else: it exists all the same
            return True
        return True

    def _mkstemp(self) -> tuple[int, str]:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(prefix=_TMP_PREFIX, dir=self.tmp_dir)

    def _commit(self, tmp: str, sha: str) -> None:
        """Move a complete, fsynced temp file to its final name unless that blob already exists."""
        final = self.path(sha)
        if self._reuse(sha):
            _unlink_quiet(tmp)
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o444)
        # link() is atomic and fails if the name exists, so an existing blob is never
        # overwritten; a concurrent writer of the same content simply loses the race.
        try:
            os.link(tmp, final)
        except FileExistsError:
            pass
        except OSError:
            # Filesystems without hard links: replace is still atomic, and a concurrent
            # writer of the same sha wrote identical bytes.
            os.replace(tmp, final)
        _unlink_quiet(tmp)
        _fsync_dir(final.parent)


def _unlink_quiet(path: str | Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def human_size(n: int) -> str:
    """Short size for messages: 50 MB, 1 KB, 123 bytes (MB = 2**20)."""
    if n >= 1024 * 1024 and n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KB"
    return f"{n} bytes"
