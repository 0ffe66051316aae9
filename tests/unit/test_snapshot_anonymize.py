"""Anonymised views of snapshots: identities out of text, names and licenses; binaries untouched."""

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from app.artifacts.anonymize import MASK, anonymize_text, anonymized_view
from app.artifacts.snapshot import list_files, read_file, snapshot_from_archive
from app.storage import BlobStore

NAMES = ["Alice Example", "Bob Li"]
EMAILS = ["alice@uni.edu", "bob.li@uni.edu"]
USERS = ["aliceex"]


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def test_anonymize_text_replaces_identities() -> None:
    text = (
        "# Fast kernels by Alice Example and Bob Li\n"
        "Contact: alice@uni.edu, BOB.LI@uni.edu.\n"
        "Code: https://github.com/aliceex/kernels and gitlab.com/aliceex\n"
        "Cite: Example, Alice (2024). ALICE wrote the CUDA part; alice_example.py by @aliceex.\n"
        "Alice  Example wrapped over\nlines: Alice\nExample\n"
    )
    out = anonymize_text(text, NAMES, EMAILS, USERS)
    for leak in ("Alice", "alice", "ALICE", "Example,", "uni.edu", "aliceex", "Bob", "BOB"):
        assert leak not in out, (leak, out)
    assert "https://github.com/[anonymized]/kernels" in out
    assert f"Contact: {MASK}, {MASK}." in out
    assert f"by {MASK} and {MASK}" in out
    # a name joined by an underscore is the name (issue 18: it used to pass as one identifier)
    assert f"{MASK}.py by @{MASK}" in out


def test_anonymize_text_respects_word_boundaries_and_short_parts() -> None:
    names = ["Al Ng", "Ann-Marie Lee"]
    text = "Al Ng and Ann-Marie Lee. Algebra, Angular, Leeds, Marie, Ann, Lee, Al, Ng, annealing."
    out = anonymize_text(text, names, [])
    assert out == (
        f"{MASK} and {MASK}. Algebra, Angular, Leeds, {MASK}, {MASK}, {MASK}, Al, Ng, annealing."
    )


def test_anonymize_text_without_identities_is_identity() -> None:
    assert anonymize_text("nothing to hide", [], []) == "nothing to hide"


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


BINARY = b"\x89PNG\r\n\x1a\n" + b"Alice Example alice@uni.edu" + bytes(range(256))
NPZ_LIKE = b"PK Alice Example alice@uni.edu"  # valid utf-8, but binary by its extension


@pytest.fixture
def project(store: BlobStore) -> str:
    entries = {
        "proj/README.md": (
            b"# Kernels\nBy Alice Example (alice@uni.edu), see github.com/aliceex/kernels.\n"
        ),
        "proj/LICENSE": (
            b"MIT License\n\nCopyright (c) 2024 Alice Example and the Kernel Group\n\n"
            b"Permission is hereby granted, free of charge, to any person obtaining a copy\n"
            b"The above copyright notice and this permission notice shall be included\n"
        ),
        "proj/src/bench.py": b"# author: Bob Li <bob.li@uni.edu>\nprint(3.1)\n",
        "proj/alice-notes/todo.txt": b"ask Bob\n",
        "proj/figures/plot.png": BINARY,
        "proj/data/test.npz": NPZ_LIKE,
        "proj/reproduce.toml": b'[artifact]\nrig = "local"\n',
    }
    return snapshot_from_archive(_zip(entries), "proj.zip", store=store).sha


def test_anonymized_view(store: BlobStore, project: str) -> None:
    view = anonymized_view(store, project, NAMES, EMAILS, USERS)
    assert view != project
    paths = [f.path for f in list_files(store, view)]
    assert paths == [
        "LICENSE",
        "README.md",
        "[anonymized]-notes/todo.txt",
        "data/test.npz",
        "figures/plot.png",
        "reproduce.toml",
        "src/bench.py",
    ]
    readme = read_file(store, view, "README.md").decode()
    assert readme == f"# Kernels\nBy {MASK} ({MASK}), see github.com/{MASK}/kernels.\n"
    license_text = read_file(store, view, "LICENSE").decode()
    assert f"Copyright (c) 2024 {MASK}\n" in license_text
    assert "Kernel Group" not in license_text
    assert "The above copyright notice and this permission notice shall be included" in license_text
    assert read_file(store, view, "src/bench.py") == f"# author: {MASK} <{MASK}>\nprint(3.1)\n".encode()
    assert read_file(store, view, "[anonymized]-notes/todo.txt") == f"ask {MASK}\n".encode()
    # binary files that name the authors cannot be masked: withheld, with the reason
    for path in ("figures/plot.png", "data/test.npz"):
        assert read_file(store, view, path).startswith(b"[withheld: could not be anonymized]: it is a binary file")
    # the original snapshot is unchanged
    assert read_file(store, project, "README.md").startswith(b"# Kernels\nBy Alice Example")
    with tarfile.open(store.path(view), "r:gz") as tar:
        assert all(m.mtime == 0 and m.uid == 0 for m in tar.getmembers())


def test_anonymized_view_is_deterministic(store: BlobStore, project: str) -> None:
    a = anonymized_view(store, project, NAMES, EMAILS, USERS)
    b = anonymized_view(store, project, list(NAMES), list(EMAILS), list(USERS))
    assert a == b
    assert len(list(store.iter_blobs())) == 2  # the snapshot and its one view
    assert list(store.tmp_dir.iterdir()) == []


def test_anonymized_view_keeps_colliding_names(store: BlobStore) -> None:
    sha = snapshot_from_archive(_zip({"alice.md": b"1", "Alice.md": b"2", "x.txt": b"x"}), "p.zip", store=store).sha
    view = anonymized_view(store, sha, ["Alice Example"], [], [])
    assert sorted(f.path for f in list_files(store, view)) == ["[anonymized].md", "[anonymized].md-2", "x.txt"]
