"""app.artifacts.history: a repository's history summarised per commit, with every exclusion rule on a crafted repo."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from app.artifacts.history import History, HistoryError, exclusion_reason, notebook_source_lines, summarize


class Repo:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.t = 1_700_000_000

    def git(self, *args: str, env: dict | None = None) -> str:
        full = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(self.path), **(env or {})}
        return subprocess.run(["git", "-C", str(self.path), *args], check=True, capture_output=True, env=full).stdout.decode()

    def write(self, rel: str, data: str | bytes) -> None:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)

    def commit(self, message: str, name: str = "Ada Lovelace", email: str = "ada@uni.example") -> str:
        self.t += 3600
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
               "GIT_COMMITTER_EMAIL": email, "GIT_AUTHOR_DATE": f"{self.t} +0000", "GIT_COMMITTER_DATE": f"{self.t} +0000"}
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message, env=env)
        return self.git("rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


def files_of(h: History, sha: str) -> dict:
    c = next(c for c in h.commits if c.sha == sha)
    return {f.path: (f.added, f.removed, f.excluded) for f in c.files}


def who(h: History, i: int) -> str:
    return h.identities[i].name


def test_counts_authors_dates_and_coauthors(repo: Repo) -> None:
    repo.write("train.py", "a\nb\nc\n")
    first = repo.commit("start")
    repo.write("train.py", "a\nB\nc\nd\n")
    second = repo.commit("pair work\n\nCo-authored-by: Grace Hopper <grace@uni.example>\n"
                         "Co-authored-by: Ada Lovelace <ADA@uni.example>", name="Alan Turing", email="alan@uni.example")
    h = summarize(repo.path)
    assert h.head == second and [c.sha for c in h.commits] == [second, first]
    assert files_of(h, first) == {"train.py": (3, 0, None)}
    assert files_of(h, second) == {"train.py": (2, 1, None)}
    c = h.commits[0]
    assert who(h, c.author) == "Alan Turing" and c.authored_at == repo.t
    # co-authors credited; the same person in another case of email is one identity
    assert sorted(who(h, i) for i in c.credited) == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    assert len({i.key for i in h.identities}) == len(h.identities) == 3


def test_mailmap_merges_identities(repo: Repo) -> None:
    repo.write("a.py", "x\n")
    repo.commit("one", name="ada", email="ada@laptop.local")
    repo.write("a.py", "x\ny\n")
    repo.commit("two")
    repo.write(".mailmap", "Ada Lovelace <ada@uni.example> ada <ada@laptop.local>\n")
    repo.commit("mailmap")
    h = summarize(repo.path)
    assert [(i.name, i.email) for i in h.identities] == [("Ada Lovelace", "ada@uni.example")]


def test_exclusions_each_with_its_reason(repo: Repo) -> None:
    repo.write("src/model.py", "def f():\n    return 1\n")
    repo.write("package-lock.json", "{\n}\n")
    repo.write("vendor/lib.py", "x = 1\n")
    repo.write("static/app.min.js", "var a=1;\n")
    repo.write("proto/msg_pb2.py", "# generated\n")
    repo.write("weights.bin", bytes(range(256)) * 4)
    repo.write("data/big.csv", "1,2\n" * 2000)
    base = repo.commit("everything")
    h = summarize(repo.path, max_file_bytes=4000)
    assert files_of(h, base) == {
        "src/model.py": (2, 0, None),
        "package-lock.json": (2, 0, "lockfile"),
        "vendor/lib.py": (1, 0, "generated or vendored"),
        "static/app.min.js": (1, 0, "generated or vendored"),
        "proto/msg_pb2.py": (1, 0, "generated or vendored"),
        "weights.bin": (0, 0, "binary"),
        "data/big.csv": (2000, 0, "over the size limit"),
    }
    assert h.commits[0].added == 2
    summary = h.excluded_summary()
    assert summary["over the size limit"] == {"files": 1, "lines": 2000}
    assert summary["binary"]["files"] == 1


def test_renames_and_whitespace_only_changes_do_not_count(repo: Repo) -> None:
    body = "".join(f"# line {n}\n" for n in range(10))
    repo.write("old.py", body + "def f(x):\n    return x\n")
    repo.commit("start")
    repo.git("mv", "old.py", "new.py")
    moved = repo.commit("move")
    repo.write("new.py", body + "def f(x):\n        return x\n")
    spaces = repo.commit("reindent")
    repo.git("mv", "new.py", "renamed.py")
    body = "".join(f"# line {n}\n" for n in range(10))  # similar enough for git to see a rename
    repo.write("renamed.py", body + "def f(x):\n        return x + 1\n")
    edited = repo.commit("move and edit")
    h = summarize(repo.path)
    assert files_of(h, moved) == {"new.py": (0, 0, "pure move or rename")}
    assert files_of(h, spaces) == {"new.py": (0, 0, "whitespace only")}
    assert files_of(h, edited) == {"renamed.py": (1, 1, None)}
    assert next(c for c in h.commits if c.sha == edited).files[0].old_path == "new.py"


def _notebook(sources: list[str], outputs: list[str]) -> str:
    cells = [{"cell_type": "code", "source": s, "metadata": {}, "execution_count": n,
              "outputs": [{"output_type": "stream", "name": "stdout", "text": o}]}
             for n, (s, o) in enumerate(zip(sources, outputs, strict=True))]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1)


def test_notebooks_count_source_cells_only(repo: Repo) -> None:
    repo.write("lab.ipynb", _notebook(["import torch\nx = 1", "print(x)"], ["", "1\n"]))
    first = repo.commit("notebook")
    repo.write("lab.ipynb", _notebook(["import torch\nx = 1", "print(x)"], ["", "1\n" * 500]))
    rerun = repo.commit("re-ran it")
    repo.write("lab.ipynb", _notebook(["import torch\nx = 2", "print(x)", "y = x * 2"], ["", "2\n", ""]))
    edited = repo.commit("edited")
    repo.write("broken.ipynb", "{not json")
    broken = repo.commit("broken")
    h = summarize(repo.path)
    assert files_of(h, first) == {"lab.ipynb": (3, 0, None)}
    assert files_of(h, rerun) == {"lab.ipynb": (0, 0, "notebook outputs or metadata only")}
    assert files_of(h, edited) == {"lab.ipynb": (2, 1, None)}
    assert files_of(h, broken) == {"broken.ipynb": (0, 0, "notebook not readable")}
    assert notebook_source_lines(b"[1, 2]") is None


def test_merges_count_as_commits_without_lines(repo: Repo) -> None:
    repo.write("a.py", "a\n")
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("b.py", "b\nb\n")
    repo.commit("feature", name="Grace Hopper", email="grace@uni.example")
    repo.git("checkout", "-q", "main")
    repo.write("c.py", "c\n")
    repo.commit("main work")
    repo.git("merge", "-q", "--no-edit", "feature", env={"GIT_AUTHOR_NAME": "Ada Lovelace",
             "GIT_AUTHOR_EMAIL": "ada@uni.example", "GIT_COMMITTER_NAME": "Ada Lovelace",
             "GIT_COMMITTER_EMAIL": "ada@uni.example"})
    h = summarize(repo.path)
    merge = h.commits[0]
    assert merge.merge and merge.files == [] and merge.added == 0
    assert sum(c.added for c in h.commits) == 4 and len(h.commits) == 4


def test_history_up_to_the_submitted_commit_only(repo: Repo) -> None:
    repo.write("a.py", "a\n")
    submitted = repo.commit("submitted")
    repo.write("a.py", "a\nlater\n")
    repo.commit("after the deadline")
    h = summarize(repo.path, submitted)
    assert h.head == submitted and len(h.commits) == 1


def test_empty_history_and_unknown_commit(repo: Repo) -> None:
    h = summarize(repo.path)
    assert h.head is None and h.commits == [] and h.identities == []
    repo.write("a.py", "a\n")
    repo.commit("one")
    with pytest.raises(HistoryError, match="not in the repository"):
        summarize(repo.path, "0123456789abcdef0123456789abcdef01234567")


def test_shallow_clone_is_marked(repo: Repo, tmp_path: Path) -> None:
    for n in range(3):
        repo.write("a.py", "a\n" * (n + 1))
        repo.commit(f"c{n}")
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo.path}", str(clone)], check=True)
    h = summarize(clone)
    assert h.shallow and len(h.commits) == 1
    assert not summarize(repo.path).shallow


def test_non_utf8_author_names_are_kept_readable(repo: Repo) -> None:
    repo.write("a.py", "a\n")
    repo.git("add", "-A")
    env = {"GIT_AUTHOR_NAME": "Jos\xe9".encode("latin-1").decode("latin-1"), "GIT_AUTHOR_EMAIL": "jose@uni.example",
           "GIT_COMMITTER_NAME": "x", "GIT_COMMITTER_EMAIL": "x@uni.example"}
    # a commit object whose author bytes are latin-1, as an old tool would have written it
    tree = repo.git("write-tree").strip()
    raw = (f"tree {tree}\nauthor ".encode() + "José".encode("latin-1")
           + b" <jose@uni.example> 1700000000 +0000\ncommitter x <x@uni.example> 1700000000 +0000\n\nlatin-1\n")
    sha = subprocess.run(["git", "-C", str(repo.path), "hash-object", "-t", "commit", "-w", "--stdin"], input=raw,
                         check=True, capture_output=True, env={**os.environ, **env}).stdout.decode().strip()
    h = summarize(repo.path, sha)
    assert h.identities[h.commits[0].author].name == "José"


def test_too_many_identities_is_refused_with_a_reason(repo: Repo) -> None:
    for n in range(6):
        repo.write("a.py", f"{n}\n")
        repo.commit(f"c{n}", name=f"Person {n}", email=f"p{n}@uni.example")
    with pytest.raises(HistoryError, match="more than 5 distinct author identities"):
        summarize(repo.path, max_identities=5)


def test_long_history_is_cut_and_marked(repo: Repo) -> None:
    for n in range(5):
        repo.write("a.py", f"{n}\n")
        repo.commit(f"c{n}")
    h = summarize(repo.path, max_commits=3)
    assert h.truncated and len(h.commits) == 3


def test_odd_file_names_and_json_round_trip(repo: Repo) -> None:
    repo.write("dir with space/tab\there.py", "a\n")
    repo.write("ünïcode.py", "b\nc\n")
    sha = repo.commit("odd names")
    h = summarize(repo.path)
    assert files_of(h, sha) == {"dir with space/tab\there.py": (1, 0, None), "ünïcode.py": (2, 0, None)}
    again = History.from_json(json.loads(h.dumps()))
    assert again.to_json() == h.to_json()
    assert files_of(again, sha) == files_of(h, sha)


def test_exclusion_reason_by_name() -> None:
    assert exclusion_reason("poetry.lock") == "lockfile"
    assert exclusion_reason("web/node_modules/x/index.js") == "generated or vendored"
    assert exclusion_reason("src/build_model.py") is None
    assert exclusion_reason("src/rebuild/x.py") is None
    assert exclusion_reason("build/lib/x.py") == "generated or vendored"


def test_activity_per_person_by_hand(repo: Repo) -> None:
    """Ada writes 3 lines, pairs with Grace on 2 more (credited to both), Grace adds 4 in the last 48 h, an
    unclaimed laptop identity adds 1; the lockfile counts for nobody."""
    from app.artifacts.history import activity

    repo.write("src/a.py", "1\n2\n3\n")
    repo.commit("ada")
    repo.t += 5 * 24 * 3600  # a week of nothing: the rest is the last-minute rush
    repo.write("src/a.py", "1\n2\n3\n4\n5\n")
    repo.write("poetry.lock", "x\n" * 50)
    repo.commit("pair\n\nCo-authored-by: Grace Hopper <grace@uni.example>")
    repo.write("report/main.tex", "a\nb\nc\nd\n")
    last = repo.commit("late", name="Grace Hopper", email="grace@uni.example")
    repo.write("README.md", "hi\n")
    repo.commit("laptop", name="gh", email="gh@laptop.local")
    h = summarize(repo.path)
    owners = {"Ada Lovelace <ada@uni.example>": "Ada", "Grace Hopper <grace@uni.example>": "Grace"}
    deadline = next(c.authored_at for c in h.commits if c.sha == last) + 3600
    rows = {p.label: p for p in activity(h, owners=owners, deadline=deadline)}
    assert set(rows) == {"Ada", "Grace", "gh <gh@laptop.local>"}
    ada, grace, laptop = rows["Ada"], rows["Grace"], rows["gh <gh@laptop.local>"]
    assert (ada.commits, ada.co_authored, ada.added, ada.files, ada.areas) == (2, 0, 5, {"src/a.py"}, {"src": 5})
    assert (grace.commits, grace.co_authored, grace.added) == (2, 1, 6)
    assert grace.areas == {"src": 2, "report": 4}
    # the last 48 h before the deadline: Grace's 4 lines, and Ada's pair commit 2 h earlier (2 lines)
    assert grace.last_hours_lines == 6 and grace.last_hours_share == 1.0
    assert ada.last_hours_lines == 2 and abs(ada.last_hours_share - 0.4) < 1e-9
    assert (laptop.commits, laptop.added) == (1, 1)
    assert sum(ada.weekly.values()) == ada.lines
    assert rows["Ada"].to_json()["files"] == 1
