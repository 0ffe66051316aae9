"""One pure function that computes a member's mark from its inputs and says how ("70 % × 68.4 + 30 % × 81.0 = 72.2").

Arithmetic is in Decimal and exact until the very end: the final mark (and each component shown beside it) is
rounded half-up to the scheme's decimals once, so 72.25 becomes 72.3 and no intermediate rounding shifts a
mark across a letter boundary. A moderated value (``Override``) replaces the computed one, which is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from app.moderation.scheme import HUNDRED, GroupRule, MarkingScheme, MarkScale, Rubric, check_scheme, to_decimal


class MarkError(ValueError):
    """Inputs a mark cannot be computed from: the message names the cause."""


@dataclass(frozen=True)
class Override:
    """A moderated value with the moderator's reason; the computed value is kept beside it."""

    value: Any
    reason: str


@dataclass(frozen=True)
class GroupInputs:
    """What a group mark is computed from: per score field the peer aggregate and the lecturer's score, and badges."""

    peer: Mapping[str, Any]  # field key -> calibrated (or mean/median) peer score on the field's scale
    lecturer: Mapping[str, Any] | None = None  # field key -> the lecturer's own score, when they reviewed
    badges: frozenset[str] | set[str] | tuple[str, ...] = ()


@dataclass(frozen=True)
class MarkInputs:
    """Everything one member's mark depends on; each component takes one of: a value, group inputs, rubric points."""

    values: Mapping[str, Any] = field(default_factory=dict)  # component key -> value on the mark scale
    group: GroupInputs | None = None  # for the component of kind "group"
    rubric_points: Mapping[str, Any] | None = None  # criterion key -> points, for the "individual" component
    overrides: Mapping[str, Override] = field(default_factory=dict)  # component key -> moderated value
    total_override: Override | None = None


@dataclass(frozen=True)
class ComponentMark:
    """One component: its exact and rounded value, the computed value kept beside a moderated one, and how."""

    key: str
    name: str
    weight: Decimal
    exact: Decimal
    value: Decimal  # rounded once, for display
    computed: Decimal  # rounded; differs from value when moderated
    overridden: bool
    reason: str | None
    explanation: list[str]


@dataclass(frozen=True)
class MarkResult:
    """The final mark (rounded once), its letter, the computed mark kept beside a moderated one, and the explanation."""

    value: Decimal
    letter: str | None
    computed: Decimal
    exact: Decimal
    overridden: bool
    reason: str | None
    components: list[ComponentMark]
    explanation: list[str]  # one line per step; the last is the total

    @property
    def text(self) -> str:
        return "\n".join(self.explanation)


def round_half_up(value: Decimal, decimals: int) -> Decimal:
    """Round half away from zero (72.25 → 72.3 at one decimal), the way marks are conventionally rounded."""
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def _show(value: Decimal, decimals: int) -> str:
    return format(round_half_up(value, decimals), "f")


def _num(value: Decimal) -> str:
    """A score as a reader writes it: 7, 6.5, 6.58 (display only; the computation keeps every digit)."""
    shown = round_half_up(value, 2).normalize()
    return format(shown if shown != shown.to_integral_value() else shown.to_integral_value(), "f")


def _pct(weight: Decimal) -> str:
    w = round_half_up(weight, 1)
    return f"{int(w) if w == w.to_integral_value() else format(w, 'f')} %"


def _on_scale(value: Any, scale: MarkScale, what: str) -> Decimal:
    d = to_decimal(value, what)
    if not scale.low <= d <= scale.high:
        raise MarkError(f"{what} {format(d, 'f')} is outside the scale {format(scale.low, 'f')}–{format(scale.high, 'f')}")
    return d


def group_mark(rule: GroupRule, inputs: GroupInputs, scale: MarkScale) -> tuple[Decimal, list[str]]:
    """The exact group mark on the scale from the review form's fields, the lecturer's review and badges, with how."""
    dec = scale.decimals + 1
    span = scale.high - scale.low
    total_w = sum((f.weight for f in rule.fields), Decimal(0))

    def part(scores: Mapping[str, Any], who: str) -> tuple[Decimal, str]:
        acc, terms = Decimal(0), []
        for f in rule.fields:
            if f.key not in scores or scores[f.key] is None:
                raise MarkError(f"the {who} score for '{f.name}' is missing")
            x = to_decimal(scores[f.key], f"the {who} score for '{f.name}'")
            if not f.low <= x <= f.high:
                raise MarkError(f"the {who} score for '{f.name}', {format(x, 'f')}, is outside its scale "
                                f"{format(f.low, 'f')}–{format(f.high, 'f')}")
            mapped = scale.low + (x - f.low) / (f.high - f.low) * span
            acc += f.weight / total_w * mapped
            term = f"{f.name} {_num(x)}/{_num(f.high)} → {_show(mapped, dec)}"
            terms.append(term if len(rule.fields) == 1 else f"{_pct(f.weight / total_w * HUNDRED)} × {term}")
        return acc, " + ".join(terms)

    peer, peer_terms = part(inputs.peer, "peer")
    lines = [f"peer ({rule.peer_estimate}): {peer_terms} = {_show(peer, dec)}"]
    mark = peer
    if inputs.lecturer and rule.peer_weight < HUNDRED:
        lect, lect_terms = part(inputs.lecturer, "lecturer's")
        lines.append(f"lecturer: {lect_terms} = {_show(lect, dec)}")
        lw = HUNDRED - rule.peer_weight
        mark = (rule.peer_weight * peer + lw * lect) / HUNDRED
        lines.append(f"{_pct(rule.peer_weight)} × peer {_show(peer, dec)} + {_pct(lw)} × lecturer {_show(lect, dec)} "
                     f"= {_show(mark, dec)}")
    elif rule.peer_weight < HUNDRED:
        lines.append("no lecturer review: the peer part counts in full")
    badges = set(inputs.badges)
    for b in rule.badges:
        if b.kind == "bonus" and b.badge in badges:
            new = min(mark + b.points, scale.high)
            lines.append(f"+ {format(b.points, 'f')} for the '{b.badge}' badge = {_show(new, dec)}"
                         + (" (capped at the scale's top)" if new < mark + b.points else ""))
            mark = new
        elif b.kind == "required" and b.badge not in badges and mark > b.points:
            lines.append(f"no '{b.badge}' badge: capped at {format(b.points, 'f')}")
            mark = b.points
    return mark, lines


def rubric_mark(rubric: Rubric, points: Mapping[str, Any], scale: MarkScale) -> tuple[Decimal, list[str]]:
    """A rubric's points mapped onto the mark scale (all levels at their best = the scale's top), with how."""
    total = Decimal(0)
    terms = []
    for c in rubric.criteria:
        if c.key not in points or points[c.key] is None:
            raise MarkError(f"rubric criterion '{c.name}' has not been marked")
        p = to_decimal(points[c.key], f"points for '{c.name}'")
        if p not in {lv.points for lv in c.levels}:
            allowed = ", ".join(format(lv.points, "f") for lv in c.levels)
            raise MarkError(f"{format(p, 'f')} points is not a level of '{c.name}' (levels: {allowed})")
        total += p
        terms.append(f"{c.name} {format(p, 'f')}/{format(c.max_points, 'f')}")
    unknown = sorted(set(points) - {c.key for c in rubric.criteria})
    if unknown:
        raise MarkError(f"points for criteria the rubric does not have: {', '.join(unknown)}")
    mark = scale.low + total / rubric.max_points * (scale.high - scale.low)
    return mark, [f"rubric: {' + '.join(terms)} = {format(total, 'f')}/{format(rubric.max_points, 'f')} "
                  f"→ {_show(mark, scale.decimals + 1)}"]


@lru_cache(maxsize=64)
def _checked(scheme: MarkingScheme) -> MarkingScheme:
    """check_scheme once per scheme (schemes are frozen and hashable): a venue's 300 marks share one."""
    return check_scheme(scheme)


def compute_mark(scheme: MarkingScheme, inputs: MarkInputs) -> MarkResult:
    """Every mark from its inputs: each component, the weighted total rounded once, overrides, and the explanation."""
    try:
        _checked(scheme)
    except TypeError:  # a scheme built by hand with a list inside is not hashable: check it every time
        check_scheme(scheme)
    scale = scheme.scale
    n = scale.decimals
    components: list[ComponentMark] = []
    lines: list[str] = []
    unknown = sorted((set(inputs.values) | set(inputs.overrides)) - {c.key for c in scheme.components})
    if unknown:
        raise MarkError(f"values for components the scheme does not have: {', '.join(unknown)}")
    for c in scheme.components:
        how: list[str]
        if c.key in inputs.values and inputs.values[c.key] is not None:
            exact = _on_scale(inputs.values[c.key], scale, f"the {c.name} mark")
            how = []
        elif c.kind == "group" and inputs.group is not None:
            exact, how = group_mark(scheme.group, inputs.group, scale)
        elif c.kind == "individual" and inputs.rubric_points is not None:
            exact, how = rubric_mark(scheme.rubric, inputs.rubric_points, scale)
        elif c.key in inputs.overrides:
            exact, how = None, ["nothing computed"]
        else:
            raise MarkError(f"no input for the {c.name} component (weight {_pct(c.weight)})")
        computed = round_half_up(exact, n) if exact is not None else None
        ov = inputs.overrides.get(c.key)
        if ov is not None:
            if not str(ov.reason or "").strip():
                raise MarkError(f"moderating the {c.name} mark needs a reason")
            moderated = _on_scale(ov.value, scale, f"the moderated {c.name} mark")
            how = how + [f"moderated to {_show(moderated, n)}"
                         + (f" (computed {format(computed, 'f')})" if computed is not None else "") + f": {ov.reason.strip()}"]
            components.append(ComponentMark(c.key, c.name, c.weight, moderated, round_half_up(moderated, n),
                                            computed if computed is not None else round_half_up(moderated, n),
                                            True, ov.reason.strip(), how))
        else:
            components.append(ComponentMark(c.key, c.name, c.weight, exact, computed, computed, False, None, how))
        lines.extend(f"{c.name}: {h}" for h in how)

    exact_total = sum((cm.weight * cm.exact for cm in components), Decimal(0)) / HUNDRED
    computed_total = round_half_up(exact_total, n)
    terms = " + ".join(f"{_pct(cm.weight)} × {format(round_half_up(cm.exact, n), 'f')}" for cm in components)
    lines.append(f"{terms} = {format(computed_total, 'f')}")
    value, overridden, reason = computed_total, False, None
    if inputs.total_override is not None:
        if not str(inputs.total_override.reason or "").strip():
            raise MarkError("moderating the final mark needs a reason")
        moderated = _on_scale(inputs.total_override.value, scale, "the moderated final mark")
        value, overridden, reason = round_half_up(moderated, n), True, inputs.total_override.reason.strip()
        exact_total = moderated
        lines.append(f"moderated to {format(value, 'f')} (computed {format(computed_total, 'f')}): {reason}")
    letter = scale.letter(value)
    if letter:
        lines[-1] += f" ({letter})"
    return MarkResult(value, letter, computed_total, exact_total, overridden, reason, components, lines)
