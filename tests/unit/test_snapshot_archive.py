"""Snapshots from uploaded zip / tar archives: stripping, unsafe entries, bombs, determinism."""

import io
import os
import stat
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from app.artifacts.snapshot import (
    SnapshotError,
    extract_snapshot,
    list_files,
    load_snapshot,
    read_file,
    snapshot_from_archive,
)
from app.storage import BlobStore

MB = 1024 * 1024
MANIFEST = '[artifact]\nrig = "gpu"\n'


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def assert_nothing_stored(store: BlobStore) -> None:
    assert list(store.iter_blobs()) == []
    assert list(store.tmp_dir.iterdir()) == []


def make_zip(entries: list[tuple], *, mtime: tuple = (2024, 5, 1, 12, 0, 0)) -> bytes:
    """entries: (name, bytes) files, (name, None) dirs, (name, target, "symlink") zip symlinks."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for e in entries:
            name, content = e[0], e[1]
            info = zipfile.ZipInfo(name, date_time=mtime)
            info.create_system = 3
            if len(e) == 3 and e[2] == "symlink":
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                zf.writestr(info, content)
            elif content is None:
                info.external_attr = (stat.S_IFDIR | 0o755) << 16 | 0x10
                zf.writestr(info, b"")
            else:
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, content)
    return buf.getvalue()


def make_tar(
    entries: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w:gz", mtime: int = 1_700_000_000
) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for e in entries:
            if isinstance(e, tarfile.TarInfo):
                tar.addfile(e)
            else:
                name, data = e
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mtime = mtime
                info.mode = 0o644
                info.uname = "alice"
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def tinfo(name: str, type_: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = type_
    info.linkname = linkname
    return info


PROJECT = [
    ("proj/README.md", b"# Kernels\n"),
    ("proj/reproduce.toml", MANIFEST.encode()),
    ("proj/src/bench.py", b"print(3.1)\n"),
]


def test_zip_single_top_dir_stripped(store: BlobStore) -> None:
    data = make_zip([("proj/", None), ("proj/src/", None), *PROJECT])
    snap = snapshot_from_archive(data, "proj.zip", store=store)
    assert [f.path for f in snap.files] == ["README.md", "reproduce.toml", "src/bench.py"]
    assert snap.manifest_text == MANIFEST
    assert snap.file_count == 3 and snap.total_bytes == sum(len(c) for _, c in PROJECT)
    assert list(store.iter_blobs()) == [snap.sha]
    assert list(store.tmp_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("mode", "filename"), [("w:gz", "proj.tar.gz"), ("w:gz", "proj.tgz"), ("w", "proj.tar"), ("w:xz", "p.tar.xz")]
)
def test_tar_single_top_dir_stripped(store: BlobStore, mode: str, filename: str) -> None:
    snap = snapshot_from_archive(make_tar(PROJECT, mode=mode), filename, store=store)
    assert [f.path for f in snap.files] == ["README.md", "reproduce.toml", "src/bench.py"]
    assert snap.manifest_text == MANIFEST


def test_same_tree_same_sha_whatever_the_container(store: BlobStore, tmp_path: Path) -> None:
    """Order, timestamps, owners and archive format do not change the snapshot id."""
    a = snapshot_from_archive(make_zip(PROJECT), "a.zip", store=store)
    b = snapshot_from_archive(make_zip(list(reversed(PROJECT)), mtime=(2020, 1, 1, 0, 0, 0)), "b.zip", store=store)
    c = snapshot_from_archive(make_tar(PROJECT, mtime=1), "c.tar.gz", store=store)
    path = tmp_path / "d.tgz"
    path.write_bytes(make_tar(list(reversed(PROJECT))))
    d = snapshot_from_archive(path, "d.tgz", store=store)
    assert a.sha == b.sha == c.sha == d.sha
    assert len(list(store.iter_blobs())) == 1
    with tarfile.open(store.path(a.sha), "r:gz") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["README.md", "reproduce.toml", "src", "src/bench.py"]
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 and m.uname == "" and m.gname == "" for m in members)


def test_two_top_level_entries_not_stripped(store: BlobStore) -> None:
    snap = snapshot_from_archive(make_zip([("a/x.txt", b"x"), ("b/y.txt", b"y")]), "t.zip", store=store)
    assert [f.path for f in snap.files] == ["a/x.txt", "b/y.txt"]
    single = snapshot_from_archive(make_zip([("only.txt", b"x")]), "t.zip", store=store)
    assert [f.path for f in single.files] == ["only.txt"]


def test_git_and_macos_litter_dropped(store: BlobStore) -> None:
    data = make_zip([
        *PROJECT,
        ("proj/.git/config", b"[core]\n"),
        ("proj/.git/HEAD", b"ref: refs/heads/main\n"),
        ("__MACOSX/proj/._README.md", b"junk"),
        ("proj/.DS_Store", b"junk"),
    ])
    snap = snapshot_from_archive(data, "p.zip", store=store)
    assert [f.path for f in snap.files] == ["README.md", "reproduce.toml", "src/bench.py"]


@pytest.mark.parametrize("name", ["../evil", "proj/../../evil", "/etc/passwd", "C:/Windows/evil", "..\\evil"])
def test_zip_unsafe_paths_rejected(store: BlobStore, name: str) -> None:
    data = make_zip([*PROJECT, (name, b"pwned")])
    with pytest.raises(SnapshotError) as err:
        snapshot_from_archive(data, "p.zip", store=store)
    assert repr(name.replace("\\", "/")) in str(err.value)
    assert_nothing_stored(store)


@pytest.mark.parametrize("name", ["../evil", "proj/../../evil", "/etc/passwd"])
def test_tar_unsafe_paths_rejected(store: BlobStore, name: str) -> None:
    with pytest.raises(SnapshotError) as err:
        snapshot_from_archive(make_tar([*PROJECT, (name, b"pwned")]), "p.tar.gz", store=store)
    assert repr(name) in str(err.value)
    assert_nothing_stored(store)


@pytest.mark.parametrize("target", ["/etc", "../../", "../outside", "src/../../x"])
def test_tar_symlink_outside_rejected(store: BlobStore, target: str) -> None:
    data = make_tar([*PROJECT, tinfo("proj/link", tarfile.SYMTYPE, target)])
    with pytest.raises(SnapshotError) as err:
        snapshot_from_archive(data, "p.tgz", store=store)
    assert "'proj/link' is a symlink pointing outside" in str(err.value)
    assert_nothing_stored(store)


def test_zip_symlink_outside_rejected(store: BlobStore) -> None:
    data = make_zip([*PROJECT, ("proj/etc", "/etc", "symlink")])
    with pytest.raises(SnapshotError, match="'proj/etc' is a symlink pointing outside"):
        snapshot_from_archive(data, "p.zip", store=store)
    assert_nothing_stored(store)


def test_symlink_chain_escape_rejected(store: BlobStore) -> None:
    """Each link looks inside on its own; following a/b/s (= the root) then '..' leaves the tree."""
    data = make_tar([
        ("a/b/file.txt", b"x"),
        tinfo("a/b/s", tarfile.SYMTYPE, "../.."),
        tinfo("a/b/t", tarfile.SYMTYPE, "s/.."),
        ("z.txt", b"z"),
    ])
    with pytest.raises(SnapshotError, match="'a/b/t' is a symlink pointing outside"):
        snapshot_from_archive(data, "p.tgz", store=store)
    assert_nothing_stored(store)


def test_symlinks_and_hardlinks_inside_kept(store: BlobStore, tmp_path: Path) -> None:
    data = make_tar([
        *PROJECT,
        tinfo("proj/docs/readme-link.md", tarfile.SYMTYPE, "../README.md"),
        tinfo("proj/copy.py", tarfile.LNKTYPE, "proj/src/bench.py"),
    ])
    snap = snapshot_from_archive(data, "p.tgz", store=store)
    assert [f.path for f in snap.files] == ["README.md", "copy.py", "reproduce.toml", "src/bench.py"]
    assert read_file(store, snap.sha, "copy.py") == b"print(3.1)\n"
    assert read_file(store, snap.sha, "docs/readme-link.md") == b"# Kernels\n"
    out = extract_snapshot(store, snap.sha, tmp_path / "out")
    assert (out / "src/bench.py").read_bytes() == b"print(3.1)\n"
    assert os.readlink(out / "docs/readme-link.md") == "../README.md"
    assert (out / "docs/readme-link.md").read_bytes() == b"# Kernels\n"
    assert [f.path for f in list_files(store, snap.sha)] == [f.path for f in snap.files]
    assert load_snapshot(store, snap.sha) == snap


@pytest.mark.parametrize("target", ["../../etc/passwd", "/etc/passwd", "proj/missing.txt"])
def test_hardlink_outside_rejected(store: BlobStore, target: str) -> None:
    data = make_tar([*PROJECT, tinfo("proj/passwd", tarfile.LNKTYPE, target)])
    with pytest.raises(SnapshotError, match="'proj/passwd' is a hard link"):
        snapshot_from_archive(data, "p.tgz", store=store)
    assert_nothing_stored(store)


@pytest.mark.parametrize("type_", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_device_files_rejected(store: BlobStore, type_: bytes) -> None:
    data = make_tar([*PROJECT, tinfo("proj/dev-null", type_)])
    with pytest.raises(SnapshotError, match="'proj/dev-null' is a device or special file"):
        snapshot_from_archive(data, "p.tgz", store=store)
    assert_nothing_stored(store)


def test_too_many_files(store: BlobStore) -> None:
    entries = [(f"p/f{i}.txt", b"x") for i in range(11)]
    with pytest.raises(SnapshotError, match="more than 10 files"):
        snapshot_from_archive(make_zip(entries), "p.zip", store=store, max_files=10)
    with pytest.raises(SnapshotError, match="more than 10 files"):
        snapshot_from_archive(make_tar(entries), "p.tgz", store=store, max_files=10)
    assert_nothing_stored(store)
    assert snapshot_from_archive(make_zip(entries[:10]), "p.zip", store=store, max_files=10).file_count == 10


def test_over_size_limit(store: BlobStore) -> None:
    entries = [("p/a.bin", os.urandom(700_000)), ("p/b.bin", os.urandom(700_000))]
    for data, name in ((make_zip(entries), "p.zip"), (make_tar(entries), "p.tgz")):
        with pytest.raises(SnapshotError, match="expands to more than the 1 MB limit"):
            snapshot_from_archive(data, name, store=store, max_bytes=MB)
    assert_nothing_stored(store)


ZEROS = 200 * MB


@pytest.fixture(scope="module")
def zip_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("bomb/README.md", b"totally normal\n")
        with zf.open("bomb/zeros.bin", "w", force_zip64=True) as f:
            chunk = b"\0" * MB
            for _ in range(ZEROS // MB):
                f.write(chunk)
    data = buf.getvalue()
    assert len(data) < MB
    return data


@pytest.fixture(scope="module")
def tar_bomb() -> bytes:
    class Zeros(io.RawIOBase):
        def __init__(self) -> None:
            self.left = ZEROS

        def readable(self) -> bool:
            return True

        def readinto(self, b) -> int:  # noqa: ANN001
            n = min(len(b), self.left)
            b[:n] = bytes(n)
            self.left -= n
            return n

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=9) as tar:
        info = tarfile.TarInfo("bomb/zeros.bin")
        info.size = ZEROS
        tar.addfile(info, io.BufferedReader(Zeros()))
    data = buf.getvalue()
    assert len(data) < MB
    return data


def test_zip_bomb_rejected_by_ratio(store: BlobStore, zip_bomb: bytes) -> None:
    start = time.monotonic()
    with pytest.raises(SnapshotError) as err:
        snapshot_from_archive(zip_bomb, "bomb.zip", store=store, max_bytes=50 * MB)
    assert "'bomb/zeros.bin'" in str(err.value)
    assert "expands more than 200 times" in str(err.value)
    assert time.monotonic() - start < 20
    assert_nothing_stored(store)


def test_zip_bomb_rejected_by_size_while_streaming(store: BlobStore, zip_bomb: bytes) -> None:
    with pytest.raises(SnapshotError, match="expands to more than the 50 MB limit.*'bomb/zeros.bin'"):
        snapshot_from_archive(zip_bomb, "bomb.zip", store=store, max_bytes=50 * MB, max_ratio=10**9)
    assert_nothing_stored(store)


def test_zip_bomb_with_lying_headers_rejected(store: BlobStore, zip_bomb: bytes) -> None:
    """Central directory patched to claim 1 KB: the header is not trusted, the entry is still refused."""
    data = bytearray(zip_bomb)
    idx = 0
    while (idx := data.find(b"PK\x01\x02", idx)) != -1:
        name_len = int.from_bytes(data[idx + 28 : idx + 30], "little")
        if bytes(data[idx + 46 : idx + 46 + name_len]) == b"bomb/zeros.bin":
            data[idx + 24 : idx + 28] = (1024).to_bytes(4, "little")
        idx += 4
    assert [i.file_size for i in zipfile.ZipFile(io.BytesIO(bytes(data))).infolist()] == [15, 1024]
    with pytest.raises(SnapshotError, match="'bomb/zeros.bin'"):
        snapshot_from_archive(bytes(data), "bomb.zip", store=store, max_bytes=50 * MB, max_ratio=10**9)
    assert_nothing_stored(store)


def test_tar_bomb_rejected(store: BlobStore, tar_bomb: bytes) -> None:
    with pytest.raises(SnapshotError) as err:
        snapshot_from_archive(tar_bomb, "bomb.tar.gz", store=store, max_bytes=50 * MB)
    assert "'bomb/zeros.bin'" in str(err.value) and "expands more than 200 times" in str(err.value)
    with pytest.raises(SnapshotError, match="expands to more than the 50 MB limit.*'bomb/zeros.bin'"):
        snapshot_from_archive(tar_bomb, "bomb.tar.gz", store=store, max_bytes=50 * MB, max_ratio=10**9)
    assert_nothing_stored(store)


def test_small_compressible_files_are_fine(store: BlobStore) -> None:
    """Ratio checks start after 1 MB, so a small file of zeros is accepted."""
    entries = [("p/zeros.bin", bytes(500_000)), ("p/a.txt", b"a")]
    assert snapshot_from_archive(make_zip(entries), "p.zip", store=store).file_count == 2
    assert snapshot_from_archive(make_tar(entries), "p.tgz", store=store).file_count == 2


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"Rar!\x1a\x07\x00junk", "p.rar", "not a supported archive"),
        (b"PK\x03\x04" + b"\0" * 100, "p.zip", "not a valid zip archive"),
        (b"\x1f\x8b\x08\x00" + b"\0" * 50, "p.tgz", "not a valid tar archive"),
    ],
)
def test_corrupt_or_unsupported(store: BlobStore, data: bytes, filename: str, message: str) -> None:
    with pytest.raises(SnapshotError, match=message):
        snapshot_from_archive(data, filename, store=store)
    assert_nothing_stored(store)


def _patch_zip_headers(data: bytes, *, method: int | None = None, flags: int | None = None) -> bytes:
    """Set the compression method and/or general-purpose flags of every entry, local and central headers."""
    out = bytearray(data)
    for sig, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        idx = 0
        while (idx := out.find(sig, idx)) != -1:
            if flags is not None:
                out[idx + flag_at : idx + flag_at + 2] = flags.to_bytes(2, "little")
            if method is not None:
                out[idx + method_at : idx + method_at + 2] = method.to_bytes(2, "little")
            idx += 4
    return bytes(out)


@pytest.mark.parametrize(
    ("patch", "why"),
    [({"method": 99}, r"cannot be read \(.*compression method"),  # AES (WinZip): zipfile's NotImplementedError
     ({"flags": 0x1}, "is encrypted")],  # checked before zipfile would raise RuntimeError (password required)
)
def test_zip_entry_zipfile_cannot_read_is_refused_by_name(store: BlobStore, patch: dict, why: str) -> None:
    data = _patch_zip_headers(make_zip([("p/a.py", b"print(1)\n" * 50), ("p/b.txt", b"b")]), **patch)
    with pytest.raises(SnapshotError, match=r"archive entry 'p/a.py' " + why):
        snapshot_from_archive(data, "p.zip", store=store)
    assert_nothing_stored(store)


def test_empty_archive(store: BlobStore) -> None:
    with pytest.raises(SnapshotError, match="contains no files"):
        snapshot_from_archive(make_zip([("p/", None)]), "p.zip", store=store)
    assert_nothing_stored(store)


def test_file_and_directory_with_same_name_rejected(store: BlobStore) -> None:
    data = make_tar([("p/a", b"file"), ("p/a/b.txt", b"x"), ("p/c.txt", b"c")])
    with pytest.raises(SnapshotError, match="not a directory"):
        snapshot_from_archive(data, "p.tgz", store=store)
    assert_nothing_stored(store)


def test_extract_snapshot_roundtrip(store: BlobStore, tmp_path: Path) -> None:
    snap = snapshot_from_archive(make_zip(PROJECT), "p.zip", store=store)
    out = extract_snapshot(store, snap.sha, tmp_path / "x")
    got = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert got == ["README.md", "reproduce.toml", "src/bench.py"]
    assert (out / "reproduce.toml").read_text() == MANIFEST


def test_file_entries_unpack_as_path_and_size(store: BlobStore) -> None:
    snap = snapshot_from_archive(make_zip(PROJECT), "p.zip", store=store)
    assert [(p, s) for p, s in list_files(store, snap.sha)] == [
        ("README.md", 10), ("reproduce.toml", len(MANIFEST)), ("src/bench.py", 11)
    ]
