"""BlobStore: content addressing, atomic writes, limits, crash safety."""

import hashlib
import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.errors import TooLarge
from app.storage import BlobNotFound, BlobStore, InvalidBlobId

ROOT = Path(__file__).resolve().parents[2]


def blob_files(root: Path) -> list[Path]:
    return [p for p in root.glob("??/??/*") if p.is_file()]


def tmp_files(root: Path) -> list[Path]:
    return list((root / "tmp").iterdir())


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def test_same_content_same_sha_one_file(store: BlobStore) -> None:
    data = b"hello reproreview\n"
    sha1 = store.put_bytes(data)
    sha2 = store.put_bytes(data)
    sha3, size = store.put_stream(io.BytesIO(data), max_bytes=100)
    assert sha1 == sha2 == sha3 == hashlib.sha256(data).hexdigest()
    assert size == len(data)
    assert blob_files(store.root) == [store.root / sha1[:2] / sha1[2:4] / sha1]
    assert store.path(sha1).read_bytes() == data
    assert store.exists(sha1) and store.size(sha1) == len(data)
    with store.open(sha1) as f:
        assert f.read() == data
    assert tmp_files(store.root) == []


def test_different_content_different_blobs(store: BlobStore) -> None:
    a = store.put_bytes(b"a")
    b = store.put_bytes(b"b")
    assert a != b
    assert len(blob_files(store.root)) == 2


def test_existing_blob_is_not_rewritten(store: BlobStore) -> None:
    sha = store.put_bytes(b"x" * 1000)
    before = os.stat(store.path(sha))
    store.put_stream(io.BytesIO(b"x" * 1000))
    after = os.stat(store.path(sha))
    assert before.st_ino == after.st_ino and store.read_bytes(sha) == b"x" * 1000
    # Its time is renewed (not its bytes): `reproreview gc` treats a blob stored again as young.
    assert after.st_mtime_ns >= before.st_mtime_ns
    assert tmp_files(store.root) == []


def test_concurrent_puts_of_same_content(store: BlobStore) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    results: list[tuple[str, int]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(12)

    def worker() -> None:
        try:
            barrier.wait()
            results.append(store.put_stream(io.BytesIO(data), max_bytes=len(data)))
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {r for r in results} == {(hashlib.sha256(data).hexdigest(), len(data))}
    assert len(blob_files(store.root)) == 1
    assert store.path(results[0][0]).read_bytes() == data
    assert tmp_files(store.root) == []


def test_too_large_leaves_nothing(store: BlobStore) -> None:
    with pytest.raises(TooLarge) as err:
        store.put_stream(io.BytesIO(b"y" * 5000), max_bytes=4999)
    assert "limit" in str(err.value)
    assert tmp_files(store.root) == []
    assert blob_files(store.root) == []
    # exactly at the limit is fine
    sha, size = store.put_stream(io.BytesIO(b"y" * 4999), max_bytes=4999)
    assert size == 4999 and store.exists(sha)


def test_failing_stream_leaves_no_temp_file(store: BlobStore) -> None:
    class Broken(io.RawIOBase):
        def __init__(self) -> None:
            self.n = 0

        def read(self, size: int = -1) -> bytes:
            self.n += 1
            if self.n > 3:
                raise OSError("connection reset")
            return b"z" * 1024

    with pytest.raises(OSError, match="connection reset"):
        store.put_stream(Broken())
    assert tmp_files(store.root) == []
    assert blob_files(store.root) == []


@pytest.mark.parametrize(
    "bad",
    ["../../etc/passwd", "ab", "A" * 64, "g" * 64, "0" * 63, "0" * 65, "../" + "0" * 61, "0" * 64 + "\n", 7],
)
def test_invalid_ids_are_rejected(store: BlobStore, bad: object) -> None:
    with pytest.raises(InvalidBlobId):
        store.path(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidBlobId):
        store.exists(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidBlobId):
        store.open(bad)  # type: ignore[arg-type]


def test_missing_blob(store: BlobStore) -> None:
    sha = "0" * 64
    assert not store.exists(sha)
    with pytest.raises(BlobNotFound):
        store.open(sha)
    with pytest.raises(BlobNotFound):
        store.size(sha)


def test_cleanup_temp_removes_only_old_leftovers(store: BlobStore) -> None:
    old = store.tmp_dir / ".tmp-old"
    new = store.tmp_dir / ".tmp-new"
    old_dir = store.tmp_dir / ".tmp-dir-old"
    old.write_bytes(b"half")
    new.write_bytes(b"half")
    old_dir.mkdir()
    (old_dir / "x").write_bytes(b"x")
    past = time.time() - 7200
    os.utime(old, (past, past))
    os.utime(old_dir, (past, past))
    sha = store.put_bytes(b"kept")
    assert store.cleanup_temp(3600) == 2
    assert not old.exists() and not old_dir.exists() and new.exists()
    assert store.exists(sha)


CRASH_SCRIPT = r"""
import sys, time
from app.storage import BlobStore

class Slow:
    def __init__(self):
        self.n = 0
    def read(self, size=-1):
        self.n += 1
        if self.n == 3:
            print("writing", flush=True)
        if self.n > 3:
            time.sleep(0.05)
        return b"s" * 65536

BlobStore(sys.argv[1]).put_stream(Slow(), max_bytes=10**12)
print("finished", flush=True)
"""


def test_killed_writer_leaves_no_blob_under_final_name(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASH_SCRIPT, str(root)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "writing"
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert blob_files(root) == []
    leftovers = tmp_files(root)
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".tmp-")
    assert leftovers[0].stat().st_size > 0
    store = BlobStore(root)
    assert store.cleanup_temp(0) == 1
    assert tmp_files(root) == []
