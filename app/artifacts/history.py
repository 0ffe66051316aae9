"""A git repository's history up to one commit, summarised for the team-contribution view (pure kernel).

Read once, when an artifact version is snapshotted and before its ``.git`` is dropped; what is kept is this
summary, never the ``.git`` itself. Staff and the group's own members read it: it names authors, so it never
reaches reviewers.

One ``git log`` (``--raw --numstat -w -M -z``, ``.mailmap`` honoured through ``%aN``/``%aE``) and one
``git cat-file --batch-check`` for blob sizes; notebooks are read from their blobs so that only the source of
their cells counts. Per commit: author and committer (name, email), dates, ``Co-authored-by:`` trailers, merge
or not, and per file the lines added and removed, or why the file does not count:

* ``binary`` -- git shows no line counts;
* ``generated or vendored`` -- under vendor/, node_modules/, third_party/, dist/, build/, a ``*.min.js``, a
  protobuf or other generated module (the pattern list below);
* ``lockfile`` -- package-lock.json, poetry.lock, uv.lock, Cargo.lock and the like;
* ``over the size limit`` -- the file is larger than ``max_file_bytes`` after (or, deleted, before) the commit;
* ``pure move or rename`` -- renamed without a changed line;
* ``whitespace only`` -- changed, but not outside whitespace (counts are taken with ``-w``);
* notebooks (``.ipynb``) count the lines of their cells' source, never outputs or metadata; one that cannot be
  parsed counts nothing, with the reason ``notebook not readable``.

Merges count as commits but add no lines (their changes are their parents'). A history longer than
``max_commits`` is cut at the newest ``max_commits`` (``truncated``); more than ``max_identities`` distinct
identities is refused (:class:`HistoryError`): the artifact is stored without a summary, with that reason.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Commit",
    "FileChange",
    "History",
    "HistoryError",
    "Identity",
    "exclusion_reason",
    "notebook_source_lines",
    "summarize",
]

MAX_COMMITS = 20_000
MAX_IDENTITIES = 2_000
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_NOTEBOOK_BYTES = 5 * 1024 * 1024

LOCKFILES = frozenset({
    "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock", "pipfile.lock",
    "uv.lock", "pdm.lock", "cargo.lock", "gemfile.lock", "composer.lock", "go.sum", "conda-lock.yml",
    "requirements.lock", "flake.lock", "mix.lock", "pubspec.lock", "podfile.lock",
})
_GENERATED = re.compile(
    r"(^|/)(vendor|vendored|third_party|thirdparty|node_modules|dist|build|site-packages|__pycache__|\.venv|venv|"
    r"\.ipynb_checkpoints|wandb|mlruns|lightning_logs)/"
    r"|\.min\.(js|css)$|\.map$|_pb2(_grpc)?\.pyi?$|\.pb\.(go|cc|h)$|\.generated\.\w+$|(^|/)generated/",
    re.IGNORECASE)
_CO_AUTHOR = re.compile(r"^\s*(?P<name>[^<]*?)\s*<(?P<email>[^>]+)>\s*$")
_NUMSTAT = re.compile(r"^(\d+|-)\t(\d+|-)\t(.*)$", re.DOTALL)
_SEP_COMMIT, _SEP_FIELD, _SEP_TRAILER = "\x1e", "\x1f", "\x1d"
_FORMAT = "%x1e%H%x1f%P%x1f%aN%x1f%aE%x1f%cN%x1f%cE%x1f%at%x1f%ct%x1f" \
          "%(trailers:key=Co-authored-by,valueonly,separator=%x1d)"


class HistoryError(RuntimeError):
    """The history could not be read or summarised; the message says why, in words."""


@dataclass(frozen=True)
class Identity:
    """One git identity as the history shows it (after .mailmap)."""

    name: str
    email: str

    @property
    def key(self) -> str:
        return f"{self.name} <{self.email.lower()}>"


@dataclass
class FileChange:
    path: str
    added: int = 0
    removed: int = 0
    excluded: str | None = None   # why it does not count, in words; None when it counts
    old_path: str | None = None   # a rename's old path


@dataclass
class Commit:
    sha: str
    author: int                    # index into History.identities
    committer: int
    co_authors: list[int]
    authored_at: int               # unix seconds
    committed_at: int
    merge: bool
    files: list[FileChange] = field(default_factory=list)

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files if f.excluded is None)

    @property
    def removed(self) -> int:
        return sum(f.removed for f in self.files if f.excluded is None)

    @property
    def credited(self) -> list[int]:
        """Everyone the commit's work counts for: its author and its co-authors (pair programming)."""
        return list(dict.fromkeys([self.author, *self.co_authors]))


@dataclass
class History:
    head: str | None
    commits: list[Commit]          # newest first, as git log gives them
    identities: list[Identity]
    shallow: bool = False
    truncated: bool = False

    def excluded_summary(self) -> dict[str, dict[str, int]]:
        """Per reason: how many file changes and lines (added + removed, where git counted them) were left out."""
        out: dict[str, dict[str, int]] = {}
        for c in self.commits:
            for f in c.files:
                if f.excluded:
                    row = out.setdefault(f.excluded, {"files": 0, "lines": 0})
                    row["files"] += 1
                    row["lines"] += f.added + f.removed
        return out

    def to_json(self) -> dict:
        """A compact JSON form: paths interned, one list per commit (what is stored with the artifact version)."""
        paths: dict[str, int] = {}

        def pid(p: str | None) -> int | None:
            return None if p is None else paths.setdefault(p, len(paths))

        commits = [[c.sha, c.author, c.committer, c.co_authors, c.authored_at, c.committed_at, int(c.merge),
                    [[pid(f.path), f.added, f.removed, f.excluded, pid(f.old_path)] for f in c.files]]
                   for c in self.commits]
        return {"version": 1, "head": self.head, "shallow": self.shallow, "truncated": self.truncated,
                "identities": [[i.name, i.email] for i in self.identities], "paths": list(paths),
                "commits": commits, "excluded": self.excluded_summary()}

    @classmethod
    def from_json(cls, data: dict) -> History:
        if data.get("version") != 1:
            raise HistoryError(f"unknown history summary version {data.get('version')!r}")
        paths = data["paths"]
        commits = [Commit(sha=sha, author=a, committer=cm, co_authors=list(co), authored_at=at, committed_at=ct,
                          merge=bool(merge),
                          files=[FileChange(paths[p], added, removed, excluded,
                                            paths[old] if old is not None else None)
                                 for p, added, removed, excluded, old in files])
                   for sha, a, cm, co, at, ct, merge, files in data["commits"]]
        return cls(head=data["head"], commits=commits, identities=[Identity(n, e) for n, e in data["identities"]],
                   shallow=data["shallow"], truncated=data["truncated"])

    def dumps(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"), ensure_ascii=False)


def exclusion_reason(path: str) -> str | None:
    """Why a path's lines never count, from its name alone (lockfiles, generated and vendored files)."""
    name = path.rsplit("/", 1)[-1].lower()
    if name in LOCKFILES:
        return "lockfile"
    if _GENERATED.search(path):
        return "generated or vendored"
    return None


def notebook_source_lines(data: bytes) -> list[str] | None:
    """The source lines of a notebook's cells (code and markdown), outputs and metadata left out; None when the
    bytes are not a notebook."""
    try:
        nb = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        return None
    lines: list[str] = []
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        src = cell.get("source", "")
        text = "".join(src) if isinstance(src, list) else src if isinstance(src, str) else ""
        lines.extend(text.splitlines())
    return lines


def _text(raw: bytes) -> str:
    """Git prints names as stored: UTF-8 almost always; latin-1 (every byte a character) when not."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class _Git:
    def __init__(self, repo: Path, git: str, timeout_s: float, env: dict[str, str] | None) -> None:
        self.repo, self.git, self.timeout_s = repo, git, timeout_s
        base = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TMPDIR")}
        self.env = {**base, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", "HOME": str(repo),
                    **(env or {})}

    def run(self, args: list[str], stdin: bytes | None = None) -> bytes:
        cmd = [self.git, "-C", str(self.repo), "-c", "core.quotepath=off", "-c", "log.showSignature=false",
               "-c", "safe.directory=*", *args]
        try:
            proc = subprocess.run(cmd, input=stdin, capture_output=True, timeout=self.timeout_s, env=self.env,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise HistoryError(f"reading the history took longer than {self.timeout_s:g} s") from None
        except OSError as exc:
            raise HistoryError(f"git could not be run: {exc}") from None
        if proc.returncode != 0:
            msg = _text(proc.stderr).strip().splitlines()
            raise HistoryError(f"git {args[0]} failed: {msg[-1] if msg else f'exit status {proc.returncode}'}")
        return proc.stdout


def _parse_log(out: bytes) -> Iterable[tuple[list[bytes], list[bytes]]]:
    """(header fields, body tokens) per commit of ``git log -z --raw --numstat --format=_FORMAT``."""
    for chunk in out.split(_SEP_COMMIT.encode())[1:]:
        header, _, body = chunk.partition(b"\0")
        yield header.split(_SEP_FIELD.encode()), [t for t in body.lstrip(b"\n").split(b"\0")]


def summarize(repo: Path, commit: str = "HEAD", *, git: str = "git", timeout_s: float = 120.0,
              max_commits: int = MAX_COMMITS, max_identities: int = MAX_IDENTITIES,
              max_file_bytes: int = MAX_FILE_BYTES, env: dict[str, str] | None = None) -> History:
    """The history of ``commit`` in the repository at ``repo`` (a work tree or a bare/``.git`` directory)."""
    g = _Git(Path(repo), git, timeout_s, env)
    try:
        head = _text(g.run(["rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"])).strip()
    except HistoryError:
        empty = not _text(g.run(["rev-parse", "--all"])).strip() if commit == "HEAD" else False
        if empty:
            return History(head=None, commits=[], identities=[])
        raise HistoryError(f"the commit {commit!r} is not in the repository") from None
    shallow = _text(g.run(["rev-parse", "--is-shallow-repository"])).strip() == "true"
    out = g.run(["log", "-z", "--raw", "--numstat", "--no-abbrev", "-w", "--find-renames", "--no-color",
                 "--use-mailmap", f"--max-count={max_commits + 1}", f"--format={_FORMAT}", head, "--"])
    ids: dict[str, int] = {}
    identities: list[Identity] = []

    def ident(name: bytes | str, email: bytes | str) -> int:
        i = Identity(_text(name).strip() if isinstance(name, bytes) else name.strip(),
                     _text(email).strip() if isinstance(email, bytes) else email.strip())
        if i.key not in ids:
            if len(identities) >= max_identities:
                raise HistoryError(f"the history has more than {max_identities} distinct author identities: "
                                   "it is not summarised (the artifact itself is stored)")
            ids[i.key] = len(identities)
            identities.append(i)
        return ids[i.key]

    commits: list[Commit] = []
    blobs: dict[str, tuple[str, str, str]] = {}  # (commit sha, path) key -> (status, src blob, dst blob)
    truncated = False
    for fields, tokens in _parse_log(out):
        if len(commits) >= max_commits:
            truncated = True
            break
        if len(fields) < 9:
            raise HistoryError("git log printed a commit this reader does not understand")
        sha, parents, an, ae, cn, ce, at, ct, trailers = fields[:9]
        co = []
        for t in _text(trailers).split(_SEP_TRAILER):
            m = _CO_AUTHOR.match(t)
            if m:
                co.append(ident(m["name"], m["email"]))
        c = Commit(sha=_text(sha), author=ident(an, ae), committer=ident(cn, ce),
                   co_authors=[i for i in dict.fromkeys(co)], authored_at=int(at or 0), committed_at=int(ct or 0),
                   merge=len(parents.split()) > 1)
        c.co_authors = [i for i in c.co_authors if i != c.author]
        raw: dict[str, tuple[str, str, str]] = {}
        it = iter(tokens)
        for tok in it:
            if not tok:
                continue
            s = _text(tok)
            if s.startswith(":"):
                parts = s[1:].split(" ")
                status = parts[4] if len(parts) > 4 else "M"
                path = _text(next(it, b""))
                if status[:1] in ("R", "C"):
                    path = _text(next(it, b""))
                raw[path] = (status, parts[2] if len(parts) > 2 else "", parts[3] if len(parts) > 3 else "")
                continue
            m = _NUMSTAT.match(s)
            if not m:
                continue
            added, removed, path = m.groups()
            old = None
            if path == "":  # a rename: the old and the new path follow
                old, path = _text(next(it, b"")), _text(next(it, b""))
            binary = added == "-"
            fc = FileChange(path=path, added=0 if binary else int(added), removed=0 if binary else int(removed),
                            old_path=old)
            status, src, dst = raw.get(path, ("M", "", ""))
            blobs[f"{c.sha}\0{path}"] = (status, src, dst)
            if binary:
                fc.excluded = "binary"
            elif (reason := exclusion_reason(path)) is not None:
                fc.excluded = reason
            elif status[:1] == "R" and fc.added == fc.removed == 0:
                fc.excluded = "pure move or rename"
            elif fc.added == fc.removed == 0 and status[:1] == "M":
                fc.excluded = "whitespace only"
            c.files.append(fc)
        counted = {f.path for f in c.files}
        for path, (status, src, dst) in raw.items():  # with -w, git leaves whitespace-only changes out of numstat
            if path not in counted:
                blobs[f"{c.sha}\0{path}"] = (status, src, dst)
                c.files.append(FileChange(path=path, excluded="whitespace only" if status[:1] == "M"
                                          else "pure move or rename" if status[:1] == "R" else "no line changed"))
        commits.append(c)
    _apply_sizes(g, commits, blobs, max_file_bytes)
    return History(head=head, commits=commits, identities=identities, shallow=shallow, truncated=truncated)


_NULL_BLOB = "0" * 40


def _apply_sizes(g: _Git, commits: list[Commit], blobs: dict[str, tuple[str, str, str]], max_file_bytes: int) -> None:
    """Files over the size limit stop counting; notebooks count their cells' source lines only."""
    wanted = sorted({b for _s, src, dst in blobs.values() for b in (src, dst) if b and b != _NULL_BLOB})
    sizes: dict[str, int] = {}
    if wanted:
        for line in _text(g.run(["cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)"],
                                stdin="\n".join(wanted).encode() + b"\n")).splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] == "blob":
                sizes[parts[0]] = int(parts[2])
    notebooks: list[tuple[FileChange, str, str]] = []
    for c in commits:
        for f in c.files:
            _status, src, dst = blobs.get(f"{c.sha}\0{f.path}", ("M", "", ""))
            size = max(sizes.get(dst, 0), sizes.get(src, 0) if dst in ("", _NULL_BLOB) else 0)
            if f.excluded in (None, "whitespace only") and size > max_file_bytes:
                f.excluded = "over the size limit"
            elif f.excluded is None and f.path.lower().endswith(".ipynb"):
                if max(sizes.get(src, 0), sizes.get(dst, 0)) > MAX_NOTEBOOK_BYTES:
                    f.excluded = "over the size limit"
                else:
                    notebooks.append((f, src, dst))
    if not notebooks:
        return
    needed = sorted({b for _f, src, dst in notebooks for b in (src, dst) if b and b != _NULL_BLOB})
    contents = _read_blobs(g, needed)
    for f, src, dst in notebooks:
        before = [] if src in ("", _NULL_BLOB) else notebook_source_lines(contents.get(src, b""))
        after = [] if dst in ("", _NULL_BLOB) else notebook_source_lines(contents.get(dst, b""))
        if before is None or after is None:
            f.added = f.removed = 0
            f.excluded = "notebook not readable"
            continue
        added = removed = 0
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
            if op in ("replace", "delete"):
                removed += i2 - i1
            if op in ("replace", "insert"):
                added += j2 - j1
        f.added, f.removed = added, removed
        if added == removed == 0:
            f.excluded = "notebook outputs or metadata only"


def _read_blobs(g: _Git, shas: list[str]) -> dict[str, bytes]:
    out = g.run(["cat-file", "--batch"], stdin="\n".join(shas).encode() + b"\n")
    blobs: dict[str, bytes] = {}
    pos = 0
    while pos < len(out):
        nl = out.index(b"\n", pos)
        header = out[pos:nl].split()
        pos = nl + 1
        if len(header) < 3 or header[1] == b"missing":
            continue
        size = int(header[2])
        blobs[header[0].decode()] = out[pos:pos + size]
        pos += size + 1
    return blobs


# --- who did what: per person, from the summary ---------------------------------------------------------------------

WEEK = 7 * 24 * 3600
LAST_HOURS = 48


@dataclass
class PersonActivity:
    """One person's share of a history: a group member (several identities claimed) or an unclaimed identity."""

    label: str
    identities: list[str]
    commits: int = 0            # authored or co-authored, merges included
    co_authored: int = 0        # of those, commits credited through a Co-authored-by trailer
    merges: int = 0
    added: int = 0              # counted lines (after the exclusions), co-authored commits credited in full to each
    removed: int = 0
    files: set[str] = field(default_factory=set)
    areas: dict[str, int] = field(default_factory=dict)   # top-level directory (or "(root)") -> lines changed
    first: int | None = None
    last: int | None = None
    weekly: dict[int, int] = field(default_factory=dict)  # week start (unix, Monday 00:00 UTC) -> lines changed
    last_hours_lines: int = 0   # lines changed in the LAST_HOURS before the deadline

    @property
    def lines(self) -> int:
        return self.added + self.removed

    @property
    def last_hours_share(self) -> float | None:
        return self.last_hours_lines / self.lines if self.lines else None

    def to_json(self) -> dict:
        return {"label": self.label, "identities": self.identities, "commits": self.commits,
                "co_authored": self.co_authored, "merges": self.merges, "added": self.added,
                "removed": self.removed, "files": len(self.files), "areas": dict(sorted(self.areas.items())),
                "first": self.first, "last": self.last, "weekly": {str(k): v for k, v in sorted(self.weekly.items())},
                "last_hours_lines": self.last_hours_lines, "last_hours_share": self.last_hours_share}


def _week(ts: int) -> int:
    monday = 4 * 24 * 3600  # 1970-01-05 was a Monday
    return ts - (ts - monday) % WEEK


def activity(history: History, *, owners: dict[str, str] | None = None, deadline: int | None = None) -> list[PersonActivity]:
    """Per person: ``owners`` maps an identity's key (``Identity.key``) to the person it belongs to (e.g. a
    member's name); identities nobody claimed stay their own rows. A commit counts for its author and each
    co-author once, even when several of them are the same person. Sorted by lines changed, most first."""
    owners = owners or {}
    people: dict[str, PersonActivity] = {}
    for ident in history.identities:
        label = owners.get(ident.key, ident.key)
        people.setdefault(label, PersonActivity(label=label, identities=[])).identities.append(ident.key)
    for c in history.commits:
        credited = list(dict.fromkeys(owners.get(history.identities[i].key, history.identities[i].key)
                                      for i in c.credited))
        author = owners.get(history.identities[c.author].key, history.identities[c.author].key)
        lines = c.added + c.removed
        for label in credited:
            p = people[label]
            p.commits += 1
            p.co_authored += label != author
            p.merges += c.merge
            p.added += c.added
            p.removed += c.removed
            for f in c.files:
                if f.excluded is None:
                    p.files.add(f.path)
                    area = f.path.split("/", 1)[0] if "/" in f.path else "(root)"
                    p.areas[area] = p.areas.get(area, 0) + f.added + f.removed
            p.first = c.authored_at if p.first is None else min(p.first, c.authored_at)
            p.last = c.authored_at if p.last is None else max(p.last, c.authored_at)
            if lines:
                week = _week(c.authored_at)
                p.weekly[week] = p.weekly.get(week, 0) + lines
            if deadline is not None and deadline - LAST_HOURS * 3600 <= c.authored_at <= deadline:
                p.last_hours_lines += lines
    return sorted(people.values(), key=lambda p: (-p.lines, -p.commits, p.label))
