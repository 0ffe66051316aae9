"""Parse and validate an artifact's ``reproduce.toml`` (DESIGN.md) into dataclasses.

Every problem is reported at once, each with the line it is on: tomllib gives no
positions for values, so ``_LineIndex`` scans the source for table headers and keys.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = [
    "MANIFEST_NAME", "RIGS", "DIRECTIONS", "BOARDS", "Manifest", "ArtifactSection", "Setup", "Experiment",
    "Claim", "Tolerance", "Mcu", "ManifestIssue", "ManifestError", "parse_manifest", "load_manifest",
    "parse_duration", "parse_tolerance",
]

MANIFEST_NAME = "reproduce.toml"
RIGS = ("local", "gpu", "notebook", "mcu")  # the rig kinds: every other list of them derives from this one
DIRECTIONS = ("at_least", "at_most", "about")
BOARDS = ("nano33ble", "qemu-mps2-an386")
DEFAULT_TIMEOUT_S = 30 * 60.0

_SECTIONS = {
    "artifact": ("rig", "timeout"),
    "setup": ("commands", "network"),
    "experiment": ("id", "command", "metrics", "timeout", "gpus", "notebook", "parameters"),
    "claim": ("id", "text", "page", "experiment", "metric", "value", "direction", "tolerance"),
    "mcu": ("board", "build", "firmware", "testset", "harmless", "input_bytes", "energy", "upload"),
}
_ARRAYS = ("experiment", "claim")  # [[experiment]], [[claim]]; the rest are single tables
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")
_UNITS = {None: 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class ManifestIssue:
    line: int | None
    message: str

    def __str__(self) -> str:
        if not self.line or f"(line {self.line})" in self.message:
            return self.message
        return f"line {self.line}: {self.message}"


class ManifestError(ValueError):
    """A reproduce.toml that cannot be run; ``errors`` lists every problem with its line."""

    def __init__(self, errors: list[ManifestIssue]) -> None:
        self.errors = list(errors)
        super().__init__(str(self))

    def __str__(self) -> str:
        n = len(self.errors)
        head = f"{MANIFEST_NAME} has {n} problem{'s' if n != 1 else ''}:"
        return "\n".join([head, *(f"  {issue}" for issue in self.errors)])


@dataclass(frozen=True)
class Tolerance:
    """Relative ("10%" -> amount 0.10, relative) or absolute (0.02) slack around a claimed value."""

    amount: float = 0.0
    relative: bool = False

    def absolute_for(self, value: float) -> float:
        return abs(value) * self.amount if self.relative else self.amount

    def __str__(self) -> str:
        return f"{self.amount * 100:g}%" if self.relative else f"{self.amount:g}"


@dataclass(frozen=True)
class ArtifactSection:
    rig: str = "local"
    timeout_s: float = DEFAULT_TIMEOUT_S


@dataclass(frozen=True)
class Setup:
    commands: list[str] = field(default_factory=list)
    network: bool = False


@dataclass(frozen=True)
class Experiment:
    id: str
    command: str | None = None          # shell command; or:
    notebook: str | None = None         # an .ipynb run with nbclient, ``parameters`` injected
    parameters: dict[str, Any] = field(default_factory=dict)
    metrics: str = "metrics.json"       # JSON object name -> number, relative to the artifact root
    timeout_s: float | None = None      # None: whatever is left of the artifact's timeout
    gpus: int = 0
    line: int | None = None


@dataclass(frozen=True)
class Claim:
    id: str
    experiment: str
    metric: str
    value: float
    direction: str = "at_least"
    tolerance: Tolerance = field(default_factory=Tolerance)
    text: str = ""
    page: int | None = None
    line: int | None = None


@dataclass(frozen=True)
class Mcu:
    board: str
    firmware: str
    testset: str
    build: str | None = None
    harmless: tuple[str, ...] = ()  # regexes of unprefixed DUT lines that are not complaints
    input_bytes: int | None = None  # the model's input size: checked against the test set's row width
    energy: bool = False  # EEMBC energy mode, measured only where the rig has an energy monitor
    upload: str | None = None  # flash command for a real board ({firmware}, {port}); default bossac


@dataclass(frozen=True)
class Manifest:
    artifact: ArtifactSection
    setup: Setup
    experiments: list[Experiment]
    claims: list[Claim]
    mcu: Mcu | None = None

    def experiment(self, experiment_id: str) -> Experiment | None:
        return next((e for e in self.experiments if e.id == experiment_id), None)


def parse_duration(value: Any) -> float:
    """"30m", "10s", "2h", "90", 90 -> seconds; raises ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("not a duration")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ValueError("not a duration")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError("duration must be positive")
    return seconds


class _LineIndex:
    """Where each table and key is in the source text: good enough to point a student at a line."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_\-]+)\s*(\.\s*[A-Za-z0-9_\-"']+\s*)*=""")

    def __init__(self, text: str) -> None:
        self.headers: dict[tuple[str, int], int] = {}
        self.keys: dict[tuple[str, int, str], int] = {}
        counts: dict[str, int] = {}
        current = ("", 0)
        in_multiline = None
        for lineno, raw in enumerate(text.splitlines(), start=1):
            if in_multiline:  # skip the inside of multi-line strings
                if raw.count(in_multiline) % 2 == 1:
                    in_multiline = None
                continue
            header = self._HEADER.match(raw)
            if header and not raw.lstrip().startswith(("[\"", "['")):
                name = header.group(2).replace('"', "").replace("'", "").replace(" ", "")
                if header.group(1) == "[[":
                    counts[name] = counts.get(name, 0) + 1
                    current = (name, counts[name])
                else:
                    parent = name.split(".")[0]
                    # [experiment.parameters] belongs to the latest [[experiment]]
                    current = (name, counts.get(parent, 0) if "." in name else 1)
                self.headers.setdefault(current, lineno)
                continue
            key = self._KEY.match(raw)
            if key:
                k = key.group(1).strip("\"'")
                self.keys.setdefault((current[0], current[1], k), lineno)
                for quote in ('"""', "'''"):
                    if raw.count(quote) % 2 == 1:
                        in_multiline = quote

    def key(self, section: str, index: int, key: str) -> int | None:
        return self.keys.get((section, index, key)) or self.headers.get((section, index))

    def header(self, section: str, index: int = 1) -> int | None:
        return self.headers.get((section, index))


class _Validator:
    def __init__(self, text: str) -> None:
        self.lines = _LineIndex(text)
        self.errors: list[ManifestIssue] = []

    def error(self, line: int | None, message: str) -> None:
        self.errors.append(ManifestIssue(line, message))

    @staticmethod
    def where(section: str, index: int) -> str:
        return f"[[{section}]] #{index}" if section in _ARRAYS else f"[{section}]"

    def check_keys(self, section: str, index: int, table: dict) -> None:
        allowed = _SECTIONS[section]
        for key in table:
            if key in allowed:
                continue
            line = self.lines.key(section, index, key)
            hint = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            msg = f"unknown key '{key}' in {self.where(section, index)}"
            msg += f" (line {line})" if line else ""
            msg += f"; did you mean '{hint[0]}'?" if hint else f"; allowed: {', '.join(allowed)}"
            self.error(line, msg)

    def get(self, section: str, index: int, table: dict, key: str, kind: str, *, required: bool = False,
            default: Any = None) -> Any:
        """table[key] checked against ``kind``; records an error and returns ``default`` when wrong."""
        line = self.lines.key(section, index, key)
        where = f"'{key}' in {self.where(section, index)}"
        if key not in table:
            if required:
                self.error(self.lines.header(section, index), f"{where} is required")
            return default
        value = table[key]
        ok = {
            "str": isinstance(value, str),
            "nonempty": isinstance(value, str) and value.strip() != "",
            "int": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(float(value)),
            "bool": isinstance(value, bool),
            "table": isinstance(value, dict),
        }.get(kind)
        if kind == "duration":
            try:
                return parse_duration(value)
            except ValueError:
                self.error(line, f"{where} must be a duration such as \"30m\", \"10s\", \"2h\" or a number "
                                 f"of seconds, not {value!r}")
                return default
        if kind == "path":
            if not (isinstance(value, str) and value.strip()):
                self.error(line, f"{where} must be a path (a string), not {value!r}")
                return default
            p = PurePosixPath(value)
            if p.is_absolute() or ".." in p.parts or "\\" in value:
                self.error(line, f"{where} must be a relative path inside the artifact, not {value!r}")
                return default
            return value
        if not ok:
            names = {"str": "a string", "nonempty": "a non-empty string", "int": "an integer",
                     "number": "a number", "bool": "true or false", "table": "a table"}
            self.error(line, f"{where} must be {names[kind]}, not {_describe(value)}")
            return default
        return float(value) if kind == "number" else value


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"{type(value).__name__} {value!r}"


def parse_tolerance(raw: Any) -> Tolerance:
    """"10%" (relative) or a non-negative number / numeric string (absolute); raises ValueError otherwise."""
    if isinstance(raw, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*", raw)
        if m:
            return Tolerance(float(m.group(1)) / 100.0, relative=True)
        try:
            raw = float(raw)
        except ValueError:
            raise ValueError(f"a tolerance is a percentage such as \"10%\" or a non-negative number, "
                             f"not {raw!r}") from None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and math.isfinite(raw) and raw >= 0:
        return Tolerance(float(raw), relative=False)
    raise ValueError(f"a tolerance is a percentage such as \"10%\" or a non-negative number, not {raw!r}")


def _tolerance(v: _Validator, index: int, table: dict) -> Tolerance:
    if "tolerance" not in table:
        return Tolerance()
    raw = table["tolerance"]
    line = v.lines.key("claim", index, "tolerance")
    if isinstance(raw, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*", raw)
        if m:
            return Tolerance(float(m.group(1)) / 100.0, relative=True)
    elif isinstance(raw, (int, float)) and not isinstance(raw, bool) and math.isfinite(raw) and raw >= 0:
        return Tolerance(float(raw), relative=False)
    v.error(line, f"'tolerance' in [[claim]] #{index} must be a percentage such as \"10%\" or a non-negative "
                  f"number, not {_describe(raw)}")
    return Tolerance()


def _table_list(v: _Validator, data: dict, name: str) -> list[dict]:
    raw = data.get(name, [])
    if isinstance(raw, dict):
        v.error(v.lines.header(name), f"[{name}] must be written [[{name}]] (there can be several)")
        return []
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        v.error(v.lines.key("", 0, name), f"'{name}' must be a list of [[{name}]] tables")
        return []
    return raw


def parse_manifest(text: str) -> Manifest:
    """Parse reproduce.toml text; raises ManifestError listing every problem with its line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = int(m.group(1)) if m else None
        raise ManifestError([ManifestIssue(line, f"not valid TOML: {exc}")]) from None
    except RecursionError:  # tomllib recurses per nesting level: `x = [[[[…` thousands deep
        raise ManifestError([ManifestIssue(None, "not valid TOML: arrays or tables are nested too deeply")]) from None
    v = _Validator(text)

    for name, value in data.items():
        if name in _SECTIONS:
            if name not in _ARRAYS and not isinstance(value, dict):
                v.error(v.lines.key("", 0, name), f"'{name}' must be a table [{name}]")
            continue
        line = v.lines.header(name) or v.lines.header(name, 1) or v.lines.key("", 0, name)
        hint = difflib.get_close_matches(name, list(_SECTIONS), n=1, cutoff=0.6)
        msg = f"unknown table or key '{name}'" + (f" (line {line})" if line else "")
        if hint:
            h = hint[0]
            msg += f"; did you mean '[[{h}]]'?" if h in _ARRAYS else f"; did you mean '[{h}]'?"
        else:
            msg += f"; allowed: {', '.join(_SECTIONS)}"
        v.error(line, msg)

    art = data.get("artifact") if isinstance(data.get("artifact"), dict) else {}
    v.check_keys("artifact", 1, art)
    rig = v.get("artifact", 1, art, "rig", "str", default="local")
    if rig not in RIGS:
        v.error(v.lines.key("artifact", 1, "rig"), f"'rig' in [artifact] must be one of {', '.join(RIGS)}, "
                                                  f"not {rig!r}")
        rig = "local"
    artifact = ArtifactSection(rig=rig, timeout_s=v.get("artifact", 1, art, "timeout", "duration",
                                                        default=DEFAULT_TIMEOUT_S))

    st = data.get("setup") if isinstance(data.get("setup"), dict) else {}
    v.check_keys("setup", 1, st)
    commands = st.get("commands", [])
    if isinstance(commands, str):
        commands = [commands]
    if not isinstance(commands, list) or not all(isinstance(c, str) and c.strip() for c in commands):
        v.error(v.lines.key("setup", 1, "commands"), "'commands' in [setup] must be a list of non-empty strings")
        commands = []
    setup = Setup(commands=list(commands), network=v.get("setup", 1, st, "network", "bool", default=False))

    experiments: list[Experiment] = []
    seen: dict[str, int] = {}
    for i, t in enumerate(_table_list(v, data, "experiment"), start=1):
        v.check_keys("experiment", i, t)
        eid = v.get("experiment", i, t, "id", "nonempty", required=True, default=f"#{i}")
        if eid in seen:
            v.error(v.lines.key("experiment", i, "id"), f"experiment id '{eid}' is used twice "
                                                         f"(first in [[experiment]] #{seen[eid]})")
        seen.setdefault(eid, i)
        command = v.get("experiment", i, t, "command", "nonempty")
        notebook = v.get("experiment", i, t, "notebook", "path")
        typo = any(difflib.get_close_matches(k, ("command", "notebook"), n=1, cutoff=0.6)
                   for k in t if k not in _SECTIONS["experiment"])
        if command is None and notebook is None and "command" not in t and "notebook" not in t and not typo:
            v.error(v.lines.header("experiment", i), f"[[experiment]] #{i} needs a 'command'"
                                                     + (" or a 'notebook'" if rig == "notebook" else ""))
        if command is not None and notebook is not None:
            v.error(v.lines.key("experiment", i, "notebook"),
                    f"[[experiment]] #{i} has both 'command' and 'notebook': give one")
        if notebook is not None and not notebook.endswith(".ipynb"):
            v.error(v.lines.key("experiment", i, "notebook"), f"'notebook' in [[experiment]] #{i} must be an "
                                                              f".ipynb file, not {notebook!r}")
        if rig == "notebook" and notebook is None and "notebook" not in t:
            v.error(v.lines.header("experiment", i), f"[[experiment]] #{i}: the notebook rig needs 'notebook'")
        params = v.get("experiment", i, t, "parameters", "table", default={})
        if params and notebook is None:
            v.error(v.lines.key("experiment", i, "parameters"), f"'parameters' in [[experiment]] #{i} only "
                                                                f"applies to a 'notebook'")
        gpus = v.get("experiment", i, t, "gpus", "int", default=0)
        if gpus < 0:
            v.error(v.lines.key("experiment", i, "gpus"), f"'gpus' in [[experiment]] #{i} must be 0 or more")
            gpus = 0
        experiments.append(Experiment(
            id=eid, command=command, notebook=notebook, parameters=dict(params or {}),
            metrics=v.get("experiment", i, t, "metrics", "path", required=True, default="metrics.json"),
            timeout_s=v.get("experiment", i, t, "timeout", "duration"), gpus=gpus,
            line=v.lines.header("experiment", i)))
    if not experiments and "experiment" not in data:
        v.error(None, "no [[experiment]]: an artifact needs at least one experiment to run")

    claims: list[Claim] = []
    seen = {}
    for i, t in enumerate(_table_list(v, data, "claim"), start=1):
        v.check_keys("claim", i, t)
        cid = v.get("claim", i, t, "id", "nonempty", required=True, default=f"#{i}")
        if cid in seen:
            v.error(v.lines.key("claim", i, "id"), f"claim id '{cid}' is used twice (first in [[claim]] "
                                                   f"#{seen[cid]})")
        seen.setdefault(cid, i)
        exp = v.get("claim", i, t, "experiment", "nonempty", required=True, default="")
        if exp and experiments and not any(e.id == exp for e in experiments):
            known = [e.id for e in experiments]
            hint = difflib.get_close_matches(exp, known, n=1, cutoff=0.5)
            v.error(v.lines.key("claim", i, "experiment"),
                    f"claim '{cid}' names experiment '{exp}', which does not exist"
                    + (f"; did you mean '{hint[0]}'?" if hint else f" (experiments: {', '.join(known)})"))
        direction = v.get("claim", i, t, "direction", "str", default="at_least")
        if direction not in DIRECTIONS:
            hint = difflib.get_close_matches(direction, DIRECTIONS, n=1, cutoff=0.5)
            v.error(v.lines.key("claim", i, "direction"),
                    f"'direction' in [[claim]] #{i} must be one of {', '.join(DIRECTIONS)}, not {direction!r}"
                    + (f"; did you mean '{hint[0]}'?" if hint else ""))
            direction = "at_least"
        page = v.get("claim", i, t, "page", "int")
        if page is not None and page < 1:
            v.error(v.lines.key("claim", i, "page"), f"'page' in [[claim]] #{i} must be 1 or more")
        claims.append(Claim(
            id=cid, experiment=exp, metric=v.get("claim", i, t, "metric", "nonempty", required=True, default=""),
            value=v.get("claim", i, t, "value", "number", required=True, default=0.0), direction=direction,
            tolerance=_tolerance(v, i, t), text=v.get("claim", i, t, "text", "str", default=""), page=page,
            line=v.lines.header("claim", i)))

    mcu = None
    if isinstance(data.get("mcu"), dict):
        t = data["mcu"]
        v.check_keys("mcu", 1, t)
        board = v.get("mcu", 1, t, "board", "str", required=True, default="")
        if board and board not in BOARDS:
            v.error(v.lines.key("mcu", 1, "board"), f"'board' in [mcu] must be one of {', '.join(BOARDS)}, "
                                                    f"not {board!r}")
        harmless: list[str] = []
        raw = t.get("harmless", [])
        if not isinstance(raw, list) or not all(isinstance(h, str) for h in raw):
            v.error(v.lines.key("mcu", 1, "harmless"), "'harmless' in [mcu] must be a list of regular expressions "
                                                       f"(strings), not {_describe(raw)}")
        else:
            for h in raw:
                try:
                    re.compile(h)
                    harmless.append(h)
                except re.error as exc:
                    v.error(v.lines.key("mcu", 1, "harmless"), f"'harmless' in [mcu]: {h!r} is not a valid "
                                                               f"regular expression ({exc})")
        input_bytes = v.get("mcu", 1, t, "input_bytes", "int")
        if input_bytes is not None and input_bytes < 1:
            v.error(v.lines.key("mcu", 1, "input_bytes"), "'input_bytes' in [mcu] must be 1 or more")
            input_bytes = None
        mcu = Mcu(board=board, build=v.get("mcu", 1, t, "build", "nonempty"),
                  firmware=v.get("mcu", 1, t, "firmware", "path", required=True, default=""),
                  testset=v.get("mcu", 1, t, "testset", "path", required=True, default=""),
                  harmless=tuple(harmless), input_bytes=input_bytes,
                  energy=bool(v.get("mcu", 1, t, "energy", "bool", default=False)),
                  upload=v.get("mcu", 1, t, "upload", "nonempty"))
    elif rig == "mcu":
        v.error(v.lines.key("artifact", 1, "rig"), "rig \"mcu\" needs an [mcu] table (board, build, firmware, "
                                                   "testset)")

    if v.errors:
        v.errors.sort(key=lambda issue: (issue.line is None, issue.line or 0))
        raise ManifestError(v.errors)
    return Manifest(artifact=artifact, setup=setup, experiments=experiments, claims=claims, mcu=mcu)


def load_manifest(dir_or_path: str | Path) -> Manifest:
    """Read ``reproduce.toml`` from an artifact directory (or the file itself) and parse it."""
    path = Path(dir_or_path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError([ManifestIssue(None, f"no {MANIFEST_NAME} at {path.parent}")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError([ManifestIssue(None, f"cannot read {path}: {exc}")]) from None
    return parse_manifest(text)
