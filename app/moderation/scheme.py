"""A venue's marking scheme: components and weights, how the group mark comes from the review form, scale, rounding.

Plain frozen dataclasses, so a service can store a scheme as JSON (``scheme_to_dict`` / ``parse_scheme``) and
hand it to ``app.moderation.marks.compute_mark``. ``validate_scheme`` lists every problem, each naming its
cause; ``parse_scheme`` raises ``SchemeError`` with that list.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

HUNDRED = Decimal(100)


class SchemeError(ValueError):
    """A marking scheme or rubric that cannot be used; ``problems`` names each cause."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return f"marking scheme: {self.problems[0]}"
        return "marking scheme has {} problems:\n{}".format(len(self.problems),
                                                           "\n".join(f"  {p}" for p in self.problems))


def to_decimal(value: Any, what: str = "value") -> Decimal:
    """A Decimal from an int, float (its shortest repr, so 0.1 stays 0.1), str or Decimal; finite or raise."""
    try:
        d = value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise SchemeError([f"{what} {value!r} is not a number"]) from None
    if not d.is_finite():
        raise SchemeError([f"{what} {value!r} is not a finite number"])
    return d


@dataclass(frozen=True)
class Band:
    """A letter band: marks in [low, high) get this letter (the top band includes the scale's high end)."""

    letter: str
    low: Decimal
    high: Decimal


@dataclass(frozen=True)
class MarkScale:
    """The scale marks are given on, its letter bands, and how many decimals the final mark keeps."""

    low: Decimal = Decimal(0)
    high: Decimal = HUNDRED
    bands: tuple[Band, ...] = ()
    decimals: int = 1

    def letter(self, mark: Decimal) -> str | None:
        """The band letter for an (already rounded) mark, or None when the scale has no bands."""
        for band in self.bands:
            if band.low <= mark < band.high or (mark == band.high == self.high):
                return band.letter
        return None


DEFAULT_BANDS = (Band("A", Decimal(70), HUNDRED), Band("B", Decimal(60), Decimal(70)),
                 Band("C", Decimal(50), Decimal(60)), Band("D", Decimal(40), Decimal(50)),
                 Band("E", Decimal(30), Decimal(40)), Band("F", Decimal(0), Decimal(30)))


@dataclass(frozen=True)
class Component:
    """One part of the final mark: ``kind`` group (from reviews), individual (review quality), or other."""

    key: str
    name: str
    weight: Decimal  # percent of the final mark
    kind: str = "other"


@dataclass(frozen=True)
class ScoreField:
    """A score field of the review form that counts towards the group mark, with its own scale and weight."""

    key: str
    name: str
    weight: Decimal  # relative; the fields' weights are normalised to their sum
    low: Decimal = Decimal(1)
    high: Decimal = Decimal(10)


@dataclass(frozen=True)
class BadgeRule:
    """How an artifact badge counts: ``bonus`` adds ``points`` to the group mark; ``required`` caps it at ``points`` without."""

    badge: str
    kind: str  # "bonus" | "required"
    points: Decimal


@dataclass(frozen=True)
class GroupRule:
    """How the group mark comes from the review form: fields, the peer vs lecturer split, and badges."""

    fields: tuple[ScoreField, ...] = (ScoreField("overall", "Overall", Decimal(1)),)
    peer_weight: Decimal = HUNDRED  # percent; the lecturer's own review, when there is one, weighs the rest
    badges: tuple[BadgeRule, ...] = ()
    peer_estimate: str = "calibrated"  # which aggregate of peer scores the service passes: calibrated | mean | median


@dataclass(frozen=True)
class Level:
    """One level of a rubric criterion and the points it gives."""

    name: str
    points: Decimal
    description: str = ""


@dataclass(frozen=True)
class Criterion:
    """A rubric criterion with its levels (lowest first)."""

    key: str
    name: str
    levels: tuple[Level, ...]

    @property
    def max_points(self) -> Decimal:
        return max((lv.points for lv in self.levels), default=Decimal(0))


@dataclass(frozen=True)
class Rubric:
    """Criteria and levels for marking a review (or a lab)."""

    criteria: tuple[Criterion, ...]

    @property
    def max_points(self) -> Decimal:
        return sum((c.max_points for c in self.criteria), Decimal(0))


def _levels(*names_points: tuple[str, int, str]) -> tuple[Level, ...]:
    return tuple(Level(n, Decimal(p), d) for n, p, d in names_points)


DEFAULT_RUBRIC = Rubric((
    Criterion("specific", "Specific", _levels(
        ("generic", 0, "could be about any paper"), ("some detail", 1, "points at a few parts of the work"),
        ("specific", 2, "names sections, figures, tables, numbers or files"),
        ("precise", 3, "every point is anchored in the paper or the code"))),
    Criterion("constructive", "Constructive", _levels(
        ("none", 0, "criticism without a way forward, or praise only"), ("some", 1, "a few suggestions"),
        ("constructive", 2, "weaknesses come with concrete suggestions"),
        ("excellent", 3, "strengths and weaknesses balanced, each with what to do"))),
    Criterion("coverage", "Covers paper and code", _levels(
        ("one side", 0, "only the paper or only the code"), ("both, briefly", 1, "both, one of them in passing"),
        ("both", 2, "paper and code/documentation both assessed"))),
    Criterion("accuracy", "Accurate about the runs", _levels(
        ("wrong", 0, "contradicts what the runs measured"), ("unchecked", 1, "does not refer to the runs"),
        ("accurate", 2, "what it says about reproduction agrees with the runs"))),
))


@dataclass(frozen=True)
class MarkingScheme:
    """Components with weights summing to 100 %, the group rule, the individual rubric, the scale and rounding."""

    components: tuple[Component, ...] = (
        Component("group", "Group work", Decimal(70), "group"),
        Component("individual", "Individual work", Decimal(30), "individual"))
    group: GroupRule = field(default_factory=GroupRule)
    rubric: Rubric = DEFAULT_RUBRIC
    scale: MarkScale = field(default_factory=lambda: MarkScale(bands=DEFAULT_BANDS))

    def component(self, key: str) -> Component:
        for c in self.components:
            if c.key == key:
                return c
        raise KeyError(key)


def default_scheme() -> MarkingScheme:
    """Group work 70 %, individual work (review quality) 30 %, 0–100 with letters A–F, one decimal."""
    return MarkingScheme()


def _fmt(d: Decimal) -> str:
    return format(d.normalize(), "f") if d == d.to_integral_value() else format(d, "f")


def validate_rubric(rubric: Rubric) -> list[str]:
    """Every problem with a rubric, each naming its cause."""
    problems = []
    if not rubric.criteria:
        problems.append("the rubric has no criteria")
    keys = [c.key for c in rubric.criteria]
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        problems.append(f"rubric criterion '{key}' appears more than once")
    for c in rubric.criteria:
        if not c.levels:
            problems.append(f"rubric criterion '{c.name}' has no levels")
            continue
        if any(lv.points < 0 for lv in c.levels):
            problems.append(f"rubric criterion '{c.name}' has a level with negative points")
        if c.max_points <= 0:
            problems.append(f"rubric criterion '{c.name}' gives no points at any level")
    return problems


def validate_scale(scale: MarkScale) -> list[str]:
    """Every problem with a scale and its band table (gaps, overlaps, bands outside the scale)."""
    problems = []
    if scale.low >= scale.high:
        problems.append(f"the scale's low end {_fmt(scale.low)} must be below its high end {_fmt(scale.high)}")
        return problems
    if not 0 <= scale.decimals <= 6:
        problems.append(f"rounding to {scale.decimals} decimals: choose between 0 and 6")
    if not scale.bands:
        return problems
    bands = sorted(scale.bands, key=lambda b: (b.low, b.high))
    for b in bands:
        if b.low >= b.high:
            problems.append(f"band {b.letter} ({_fmt(b.low)}–{_fmt(b.high)}) is empty: its low end must be below its high end")
        if b.low < scale.low or b.high > scale.high:
            problems.append(f"band {b.letter} ({_fmt(b.low)}–{_fmt(b.high)}) lies outside the scale "
                            f"{_fmt(scale.low)}–{_fmt(scale.high)}")
    if bands[0].low > scale.low:
        problems.append(f"no band covers marks from {_fmt(scale.low)} to {_fmt(bands[0].low)}")
    if bands[-1].high < scale.high:
        problems.append(f"no band covers marks from {_fmt(bands[-1].high)} to {_fmt(scale.high)}")
    for a, b in zip(bands, bands[1:]):
        if a.high < b.low:
            problems.append(f"bands {a.letter} and {b.letter} leave a gap from {_fmt(a.high)} to {_fmt(b.low)}")
        elif a.high > b.low:
            problems.append(f"bands {a.letter} ({_fmt(a.low)}–{_fmt(a.high)}) and {b.letter} "
                            f"({_fmt(b.low)}–{_fmt(b.high)}) overlap")
    letters = [b.letter for b in bands]
    for letter in sorted({x for x in letters if letters.count(x) > 1}):
        problems.append(f"letter {letter} is used by more than one band")
    return problems


def validate_scheme(scheme: MarkingScheme) -> list[str]:
    """Every problem with a scheme, each naming its cause; empty when it can be used."""
    problems = []
    if not scheme.components:
        problems.append("the scheme has no components")
    total = sum((c.weight for c in scheme.components), Decimal(0))
    if scheme.components and total != HUNDRED:
        parts = " + ".join(f"{c.name} {_fmt(c.weight)} %" for c in scheme.components)
        problems.append(f"component weights must sum to 100 %, not {_fmt(total)} % ({parts})")
    for c in scheme.components:
        if c.weight < 0:
            problems.append(f"component '{c.name}' has a negative weight ({_fmt(c.weight)} %)")
        if c.kind not in ("group", "individual", "other"):
            problems.append(f"component '{c.name}' has kind '{c.kind}': choose group, individual or other")
    keys = [c.key for c in scheme.components]
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        problems.append(f"component '{key}' appears more than once")
    rule = scheme.group
    if any(c.kind == "group" for c in scheme.components):
        if not rule.fields:
            problems.append("the group mark uses no score fields of the review form")
        if rule.fields and sum((f.weight for f in rule.fields), Decimal(0)) <= 0:
            problems.append("the group mark's score fields have no positive weight")
        for f in rule.fields:
            if f.weight < 0:
                problems.append(f"score field '{f.name}' has a negative weight")
            if f.low >= f.high:
                problems.append(f"score field '{f.name}': its scale {_fmt(f.low)}–{_fmt(f.high)} is empty")
        if not 0 <= rule.peer_weight <= HUNDRED:
            problems.append(f"the peer weight must be between 0 and 100 %, not {_fmt(rule.peer_weight)} %")
        if rule.peer_estimate not in ("calibrated", "mean", "median"):
            problems.append(f"peer estimate '{rule.peer_estimate}': choose calibrated, mean or median")
        for b in rule.badges:
            if b.kind not in ("bonus", "required"):
                problems.append(f"badge '{b.badge}' counts as '{b.kind}': choose bonus or required")
            elif b.kind == "required" and not scheme.scale.low <= b.points <= scheme.scale.high:
                problems.append(f"badge '{b.badge}': the cap without it, {_fmt(b.points)}, is outside the scale "
                                f"{_fmt(scheme.scale.low)}–{_fmt(scheme.scale.high)}")
            elif b.kind == "bonus" and b.points < 0:
                problems.append(f"badge '{b.badge}': a bonus cannot be negative ({_fmt(b.points)})")
    if any(c.kind == "individual" for c in scheme.components):
        problems.extend(validate_rubric(scheme.rubric))
    problems.extend(validate_scale(scheme.scale))
    return problems


def check_scheme(scheme: MarkingScheme) -> MarkingScheme:
    """The scheme itself when valid; else SchemeError listing every problem."""
    problems = validate_scheme(scheme)
    if problems:
        raise SchemeError(problems)
    return scheme


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _fmt(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def scheme_to_dict(scheme: MarkingScheme) -> dict:
    """The scheme as JSON-ready data (Decimals as strings, so nothing is lost in storage)."""
    return _jsonable(asdict(scheme))


def parse_scheme(data: dict) -> MarkingScheme:
    """A scheme from stored or submitted data (missing parts take the defaults); SchemeError listing every problem."""
    d = default_scheme()
    problems: list[str] = []

    def num(v: Any, what: str) -> Decimal:
        try:
            return to_decimal(v, what)
        except SchemeError as exc:
            problems.extend(exc.problems)
            return Decimal(0)

    try:
        components = tuple(Component(str(c["key"]), str(c.get("name", c["key"])), num(c["weight"], f"weight of {c['key']}"),
                                     str(c.get("kind", "other"))) for c in data["components"]) \
            if "components" in data else d.components
        g = data.get("group") or {}
        fields = tuple(ScoreField(str(f["key"]), str(f.get("name", f["key"])), num(f.get("weight", 1), f"weight of {f['key']}"),
                                  num(f.get("low", 1), f"low end of {f['key']}"), num(f.get("high", 10), f"high end of {f['key']}"))
                       for f in g["fields"]) if "fields" in g else d.group.fields
        badges = tuple(BadgeRule(str(b["badge"]), str(b["kind"]), num(b["points"], f"points of badge {b['badge']}"))
                       for b in g.get("badges", ()))
        group = GroupRule(fields, num(g.get("peer_weight", d.group.peer_weight), "peer weight"), badges,
                          str(g.get("peer_estimate", d.group.peer_estimate)))
        r = data.get("rubric")
        rubric = Rubric(tuple(Criterion(str(c["key"]), str(c.get("name", c["key"])), tuple(
            Level(str(lv["name"]), num(lv["points"], f"points of {c['key']}/{lv['name']}"), str(lv.get("description", "")))
            for lv in c.get("levels", ())))
            for c in r["criteria"])) if r else d.rubric
        s = data.get("scale") or {}
        bands = tuple(Band(str(b["letter"]), num(b["low"], f"low end of band {b['letter']}"),
                           num(b["high"], f"high end of band {b['letter']}"))
                      for b in s["bands"]) if "bands" in s else d.scale.bands
        scale = MarkScale(num(s.get("low", 0), "the scale's low end"), num(s.get("high", 100), "the scale's high end"),
                          bands, int(s.get("decimals", d.scale.decimals)))
    except (KeyError, TypeError, ValueError) as exc:
        raise SchemeError([f"malformed scheme data: {exc!r} is missing or wrong"]) from None
    if problems:
        raise SchemeError(problems)
    return check_scheme(MarkingScheme(components, group, rubric, scale))
