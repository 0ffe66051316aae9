"""Snapshots from git: a local bare repository built in each test, no network."""

import io
import json
import os
import socket
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import pytest

from app.artifacts import snapshot as snapshot_mod
from app.artifacts.snapshot import SnapshotError, list_files, read_file, snapshot_from_git
from app.storage import BlobStore

MANIFEST = '[artifact]\nrig = "local"\ntimeout = "5m"\n'


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    base = {
        "PATH": os.environ["PATH"],
        "HOME": str(cwd),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "Alice Example",
        "GIT_AUTHOR_EMAIL": "alice@uni.edu",
        "GIT_COMMITTER_NAME": "Alice Example",
        "GIT_COMMITTER_EMAIL": "alice@uni.edu",
        "LC_ALL": "C",
    }
    base.update(env or {})
    out = subprocess.run(["git", *args], cwd=cwd, env=base, check=True, capture_output=True, text=True)
    return out.stdout.strip()


class Repo:
    """A bare 'remote' plus a work tree that pushes to it."""

    def __init__(self, tmp_path: Path) -> None:
        self.bare = tmp_path / "remote.git"
        self.work = tmp_path / "work"
        self.bare.mkdir()
        self.work.mkdir()
        git(self.bare, "init", "--quiet", "--bare", "--initial-branch=main")
        git(self.work, "init", "--quiet", "--initial-branch=main")
        git(self.work, "remote", "add", "origin", str(self.bare))
        self.url = str(self.bare)

    def commit(self, files: dict[str, bytes | str], message: str = "work") -> str:
        for name, content in files.items():
            p = self.work / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(content.encode() if isinstance(content, str) else content)
        git(self.work, "add", "-A")
        git(self.work, "commit", "--quiet", "-m", message)
        git(self.work, "push", "--quiet", "origin", "main")
        return git(self.work, "rev-parse", "HEAD")


def blobs(store: BlobStore) -> list[str]:
    return list(store.iter_blobs())


def assert_nothing_stored(store: BlobStore) -> None:
    assert blobs(store) == []
    assert list(store.tmp_dir.iterdir()) == []


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path)


def test_snapshot_at_commit(repo: Repo, store: BlobStore) -> None:
    first = repo.commit(
        {"README.md": "# Fused kernels\n", "src/main.py": "print('hi')\n", "reproduce.toml": MANIFEST},
        "first",
    )
    (repo.work / "run.sh").write_text("#!/bin/sh\necho run\n")
    (repo.work / "run.sh").chmod(0o755)
    os.symlink("src/main.py", repo.work / "main-link.py")
    second = repo.commit({"src/later.py": "x = 1\n"}, "second")

    snap = snapshot_from_git(repo.url, first, store=store)
    assert snap.commit == first
    assert [f.path for f in snap.files] == ["README.md", "reproduce.toml", "src/main.py"]
    assert snap.file_count == 3
    assert snap.total_bytes == len("# Fused kernels\n") + len(MANIFEST) + len("print('hi')\n")
    assert snap.manifest_text == MANIFEST
    assert blobs(store) == [snap.sha]
    assert list(store.tmp_dir.iterdir()) == []

    with tarfile.open(store.path(snap.sha), "r:gz") as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names)
    assert not any(n == ".git" or n.startswith(".git/") or "/.git" in n for n in names)
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 and m.uname == "" for m in members)

    snap2 = snapshot_from_git(repo.url, second, store=store)
    paths2 = {f.path for f in snap2.files}
    assert {"src/later.py", "run.sh"} <= paths2
    assert snap2.sha != snap.sha
    with tarfile.open(store.path(snap2.sha), "r:gz") as tar:
        run = tar.getmember("run.sh")
        link = tar.getmember("main-link.py")
    assert run.mode == 0o755
    assert link.issym() and link.linkname == "src/main.py"
    assert read_file(store, snap2.sha, "main-link.py") == b"print('hi')\n"
    assert [f.path for f in list_files(store, snap.sha)] == [f.path for f in snap.files]


def test_snapshot_is_deterministic_and_accepts_branch_and_short_sha(repo: Repo, store: BlobStore) -> None:
    sha = repo.commit({"a.txt": "a\n", "b/c.txt": "c\n"})
    s1 = snapshot_from_git(repo.url, sha, store=store)
    s2 = snapshot_from_git(repo.url, "main", store=store)
    s3 = snapshot_from_git(repo.url, sha[:10], store=store)
    s4 = snapshot_from_git("file://" + repo.url, sha, store=store)
    assert s1.sha == s2.sha == s3.sha == s4.sha
    assert s1.commit == s2.commit == s3.commit == sha
    assert len(blobs(store)) == 1
    assert s1.manifest_text is None


def test_nonexistent_commit(repo: Repo, store: BlobStore) -> None:
    repo.commit({"a.txt": "a\n"})
    missing = "abc123" + "0" * 34
    with pytest.raises(SnapshotError) as err:
        snapshot_from_git(repo.url, missing, store=store)
    assert str(err.value) == f"commit {missing} does not exist in {repo.url}"
    with pytest.raises(SnapshotError, match="commit abc123 does not exist in"):
        snapshot_from_git(repo.url, "abc123", store=store)
    assert_nothing_stored(store)


def test_not_a_git_repository(tmp_path: Path, store: BlobStore) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SnapshotError, match="not a git repository"):
        snapshot_from_git(str(empty), "0" * 40, store=store)
    with pytest.raises(SnapshotError, match="not a git repository"):
        snapshot_from_git(str(tmp_path / "missing"), "main", store=store)
    assert_nothing_stored(store)


def test_repository_over_size_limit(repo: Repo, store: BlobStore) -> None:
    sha = repo.commit({"data.bin": os.urandom(3 * 1024 * 1024), "README.md": "big\n"})
    with pytest.raises(SnapshotError) as err:
        snapshot_from_git(repo.url, sha, store=store, max_bytes=1024 * 1024)
    assert "repository is larger than the 1 MB limit" in str(err.value)
    assert_nothing_stored(store)
    # under a generous limit the same commit is fine
    assert snapshot_from_git(repo.url, sha, store=store, max_bytes=10 * 1024 * 1024).file_count == 2


def test_compressible_repository_over_limit_is_caught_while_archiving(repo: Repo, store: BlobStore) -> None:
    # 3 MB of zeros packs into a few KB, so only counting the archived bytes can catch it.
    sha = repo.commit({"zeros.bin": b"\0" * (3 * 1024 * 1024)})
    with pytest.raises(SnapshotError, match="repository is larger than the 1 MB limit"):
        snapshot_from_git(repo.url, sha, store=store, max_bytes=1024 * 1024)
    assert_nothing_stored(store)


def test_too_many_files(repo: Repo, store: BlobStore) -> None:
    sha = repo.commit({f"f{i}.txt": str(i) for i in range(12)})
    with pytest.raises(SnapshotError, match="more than 10 files"):
        snapshot_from_git(repo.url, sha, store=store, max_files=10)
    assert_nothing_stored(store)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("--upload-pack=touch {marker}", "may not start with '-'"),
        ("-uupload", "may not start with '-'"),
        ("ext::sh -c touch% {marker}", "transport is not allowed: ext::"),
        ("fd::17", "transport is not allowed: fd::"),
        ("ftp://example.org/repo.git", "scheme is not allowed: ftp://"),
        ("relative/path", "not a valid repository url"),
        ("", "repository url is empty"),
    ],
)
def test_dangerous_urls_rejected(tmp_path: Path, store: BlobStore, url: str, message: str) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(SnapshotError, match=message):
        snapshot_from_git(url.format(marker=marker), "0" * 40, store=store)
    assert not marker.exists()
    assert_nothing_stored(store)


def test_option_injection_through_commit_rejected(repo: Repo, tmp_path: Path, store: BlobStore) -> None:
    repo.commit({"a.txt": "a\n"})
    marker = tmp_path / "pwned"
    for commit in (f"--upload-pack=touch {marker}", "-h", "main..other", "a b"):
        with pytest.raises(SnapshotError, match="not a valid commit"):
            snapshot_from_git(repo.url, commit, store=store)
    assert not marker.exists()


def test_local_paths_can_be_refused(repo: Repo, store: BlobStore) -> None:
    sha = repo.commit({"a.txt": "a\n"})
    for url in (repo.url, "file://" + repo.url):
        with pytest.raises(SnapshotError, match="local repository paths are not allowed"):
            snapshot_from_git(url, sha, store=store, allow_local=False)


def test_symlink_out_of_repository_rejected(repo: Repo, store: BlobStore) -> None:
    os.symlink("../../etc", repo.work / "escape")
    sha = repo.commit({"a.txt": "a\n"})
    with pytest.raises(SnapshotError, match="'escape' is a symlink pointing outside"):
        snapshot_from_git(repo.url, sha, store=store)
    assert_nothing_stored(store)


def test_git_directory_inside_tree_dropped(repo: Repo, store: BlobStore) -> None:
    # A committed nested "vendor/.git" file must not reach the snapshot either.
    sha = repo.commit({"vendor/lib.py": "x\n", "vendor/.gitkeep": ""})
    snap = snapshot_from_git(repo.url, sha, store=store)
    assert [f.path for f in snap.files] == ["vendor/.gitkeep", "vendor/lib.py"]


def test_timeout_on_hanging_server(store: BlobStore) -> None:
    """A git:// server that accepts the connection and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(server.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        start = time.monotonic()
        with pytest.raises(SnapshotError) as err:
            snapshot_from_git(f"git://127.0.0.1:{port}/repo.git", "0" * 40, store=store, timeout_s=1.5)
        elapsed = time.monotonic() - start
    finally:
        stop.set()
        t.join()
        for c in conns:
            c.close()
        server.close()
    assert str(err.value) == "git timed out after 1.5 s"
    assert elapsed < 10
    assert_nothing_stored(store)


def test_timeout_kills_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, store: BlobStore) -> None:
    """Whatever git is doing, the deadline kills it (and its children)."""
    fake = tmp_path / "fake-git"
    pidfile = tmp_path / "child.pid"
    fake.write_text(f"#!/bin/sh\nsleep 30 &\necho $! > {pidfile}\nwait\n")
    fake.chmod(0o755)
    monkeypatch.setattr(snapshot_mod, "_GIT_BIN", str(fake))
    start = time.monotonic()
    with pytest.raises(SnapshotError, match="git timed out after 1 s"):
        snapshot_from_git("https://example.org/repo.git", "0" * 40, store=store, timeout_s=1)
    assert time.monotonic() - start < 10
    child = int(pidfile.read_text())
    time.sleep(0.2)
    assert not is_running(child)
    assert_nothing_stored(store)


def is_running(pid: int) -> bool:
    """Alive and not a zombie (a container's init may not reap orphans at once)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_credentials_do_not_reach_messages(store: BlobStore) -> None:
    assert snapshot_mod._display_url("https://bob:s3cret@example.org/r.git") == "https://example.org/r.git"
    with pytest.raises(SnapshotError) as err:
        snapshot_from_git("https://bob:s3cret@127.0.0.1:1/r.git", "0" * 40, store=store, timeout_s=20)
    assert "s3cret" not in str(err.value)


def test_read_file_is_path_safe(repo: Repo, store: BlobStore) -> None:
    sha = repo.commit({"docs/a.md": "A\n", "big.txt": "x" * 100})
    snap = snapshot_from_git(repo.url, sha, store=store)
    assert read_file(store, snap.sha, "docs/a.md") == b"A\n"
    assert read_file(store, snap.sha, "./docs//a.md") == b"A\n"
    from app.errors import NotFound, TooLarge

    for bad in ("../docs/a.md", "/docs/a.md", "docs", "nope.md"):
        with pytest.raises(NotFound):
            read_file(store, snap.sha, bad)
    with pytest.raises(TooLarge):
        read_file(store, snap.sha, "big.txt", max_bytes=10)
    assert io.BytesIO(read_file(store, snap.sha, "big.txt")).read() == b"x" * 100


def test_falls_back_when_server_refuses_fetch_by_sha(
    monkeypatch: pytest.MonkeyPatch, repo: Repo, store: BlobStore
) -> None:
    # Protocol v0 servers refuse a request for an unadvertised (non-tip) commit.
    first = repo.commit({"a.txt": "first\n"})
    repo.commit({"a.txt": "second\n"})
    config = snapshot_mod._git_config
    monkeypatch.setattr(snapshot_mod, "_git_config", lambda allow: [*config(allow), "-c", "protocol.version=0"])
    snap = snapshot_from_git(repo.url, first, store=store)
    assert snap.commit == first
    assert read_file(store, snap.sha, "a.txt") == b"first\n"


# --- the history, read before .git is dropped (team contributions) ------------------------------------------------


def test_history_is_read_up_to_the_commit_when_asked(tmp_path: Path) -> None:
    from app.artifacts.history import History

    repo = Repo(tmp_path)
    repo.commit({"reproduce.toml": MANIFEST, "a.py": "a\n"}, "first")
    middle = repo.commit({"a.py": "a\nb\n"}, "second\n\nCo-authored-by: Bob Example <bob@uni.edu>")
    repo.commit({"a.py": "a\nb\nc\n"}, "after the submitted commit")
    st = BlobStore(tmp_path / "blobs")
    plain = snapshot_from_git(repo.url, middle, store=st)
    assert plain.history is None and plain.history_note is None
    snap = snapshot_from_git(repo.url, middle, store=st, with_history=True)
    assert snap.sha == plain.sha and snap.commit == middle  # the same snapshot, with its history beside it
    h = History.from_json(json.loads(snap.history))
    assert [c.sha for c in h.commits][0] == middle and len(h.commits) == 2
    assert sorted(i.name for i in h.identities) == ["Alice Example", "Bob Example"]
    assert not list((tmp_path / "blobs").rglob("*.git"))


def test_history_too_large_keeps_the_snapshot_with_a_reason(tmp_path: Path) -> None:
    repo = Repo(tmp_path)
    for n in range(5):
        repo.commit({"reproduce.toml": MANIFEST, "data.bin": os.urandom(200_000)}, f"c{n}")
    st = BlobStore(tmp_path / "blobs")
    snap = snapshot_from_git(repo.url, "main", store=st, with_history=True, history_max_bytes=300_000)
    assert snap.history is None and "larger than" in snap.history_note
    assert {f.path for f in list_files(st, snap.sha)} >= {"reproduce.toml", "data.bin"}
