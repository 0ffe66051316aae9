"""A suggested review-quality mark with a reason per rubric criterion, from signals a marker can check.

Signals: length and specificity (sections, figures, tables, numbers, files and lines of code), suggestions,
coverage of paper and code, what the review says about the runs against what they measured, agreement with
the calibrated consensus (Moodle Workshop's comparison with the best assessment), the authors' helpfulness
ratings, timeliness and accuracy on calibration items. It is only a suggestion: the marker confirms or changes
it, and the service stores a mark only then.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from app.moderation.flags import CheckInput
from app.moderation.scheme import DEFAULT_RUBRIC, Criterion, Level, Rubric

_PATTERNS = {
    "sections": re.compile(r"\b(?:sec(?:tion|\.)?|§)\s*\d+(?:\.\d+)*|\b(?:abstract|introduction|related work|"
                           r"conclusion|appendix)\b", re.I),
    "figures": re.compile(r"\b(?:fig(?:ure|\.)?)\s*\d+", re.I),
    "tables": re.compile(r"\b(?:tab(?:le|\.)?)\s*\d+", re.I),
    "numbers": re.compile(r"(?<![\w.])\d+(?:\.\d+)?\s*(?:%|x\b|×|ms\b|s\b|kb\b|mb\b|gb\b|fps\b)|(?<![\w.])\d+\.\d+"),
    "code": re.compile(r"\b[\w/-]+\.(?:py|ipynb|cu|cuh|cpp|cc|c|h|hpp|rs|toml|yaml|yml|json|sh|md|txt|ino)\b|"
                       r"\blines?\s+\d+|\bL\d+\b|`[^`]+`", re.I),
}
_SUGGEST = re.compile(r"\b(?:should|could|suggest\w*|recommend\w*|consider\w*|would (?:be|help)|try\w*|instead|"
                      r"please|add(?:ing)?|clarify|explain)\b", re.I)
_PAPER = re.compile(r"\b(?:paper|report|section|figure|table|abstract|writing|related work|experiment\w*|"
                    r"evaluation|results?)\b", re.I)
_CODE = re.compile(r"\b(?:code|repo(?:sitory)?|readme|script\w*|function\w*|implementation|install\w*|"
                   r"dependenc\w+|docs|documentation|notebook|kernel|reproduce\.toml|commit)\b|"
                   r"\.(?:py|ipynb|cu|cpp|c|h|toml)\b", re.I)
_RUNS = re.compile(r"\b(?:runs?|rig|reproduc\w*|re-?ran|measured|badge\w*|claim\w*)\b", re.I)


@dataclass(frozen=True)
class ReviewSignals:
    """What the suggestion is based on for one review; a service fills it from the review and its context."""

    texts: Mapping[str, str]
    score: float | None = None
    low: float = 1.0
    high: float = 10.0
    consensus: float | None = None  # the submission's calibrated estimate
    consensus_sd: float | None = None
    helpfulness: Sequence[float] = ()  # authors' ratings
    helpfulness_scale: tuple[float, float] = (1.0, 5.0)
    late: bool = False
    hours_late: float | None = None
    calibration: Sequence[tuple[float, float]] = ()  # (the reviewer's score, the reference) on calibration items
    checks: Sequence[CheckInput] = ()  # the submission's claims against its runs
    calls_reproducible: bool | None = None


@dataclass(frozen=True)
class CriterionSuggestion:
    """A suggested level for one criterion and why; ``level`` is None when no signal speaks to it."""

    key: str
    name: str
    level: Level | None
    quality: float | None  # 0..1, what the level was read from
    reasons: list[str]


@dataclass(frozen=True)
class QualitySuggestion:
    """A suggested rubric mark, never a mark: the marker confirms or changes it."""

    criteria: list[CriterionSuggestion]
    points: Decimal
    max_points: Decimal
    notes: list[str] = field(default_factory=list)  # signals outside the rubric: lateness, ratings, consensus
    complete: bool = True  # every criterion has a suggested level

    def rubric_points(self) -> dict[str, Decimal]:
        """The suggestion as criterion -> points, to prefill the marker's form."""
        return {c.key: c.level.points for c in self.criteria if c.level is not None}


def specificity(text: str) -> dict[str, int]:
    """How often a review points at concrete parts of the work, per kind."""
    return {kind: len(p.findall(text)) for kind, p in _PATTERNS.items()}


def _level(criterion: Criterion, quality: float) -> Level:
    """The level whose place on the criterion's ladder (lowest 0, highest 1) is nearest the quality."""
    levels = sorted(criterion.levels, key=lambda lv: lv.points)
    i = min(int(round(max(0.0, min(1.0, quality)) * (len(levels) - 1))), len(levels) - 1)
    return levels[i]


def _clip(x: float) -> float:
    return max(0.0, min(1.0, x))


def _specific(s: ReviewSignals, text: str, words: int) -> tuple[float, list[str]]:
    counts = specificity(text)
    kinds = [k for k, n in counts.items() if n]
    anchors = sum(counts.values())
    q = _clip(0.35 * min(words / 400, 1) + 0.35 * min(anchors / 6, 1) + 0.3 * min(len(kinds) / 3, 1))
    labels = {"code": "files or lines of code"}
    found = ", ".join(f"{counts[k]} {labels.get(k, k)}" for k in kinds) or "no sections, figures, tables, numbers or files"
    return q, [f"{words} words; points at {found}"]


def _constructive(s: ReviewSignals, text: str) -> tuple[float, list[str]]:
    n = len(_SUGGEST.findall(text))
    strengths = any(k.lower() in ("strengths", "strength", "pros") and v.strip() for k, v in s.texts.items())
    weaknesses = any(k.lower() in ("weaknesses", "weakness", "cons", "concerns") and v.strip() for k, v in s.texts.items())
    q = 0.6 * min(n / 5, 1) + 0.2 * strengths + 0.2 * weaknesses
    reasons = [f"{n} suggestion{'s' if n != 1 else ''} (should, could, consider …)"]
    if strengths or weaknesses:
        reasons.append("names strengths and weaknesses" if strengths and weaknesses else
                       "names only strengths" if strengths else "names only weaknesses")
    if s.helpfulness:
        lo, hi = s.helpfulness_scale
        mean = sum(s.helpfulness) / len(s.helpfulness)
        rated = _clip((mean - lo) / (hi - lo))
        q = 0.6 * q + 0.4 * rated  # the authors read it: their view of its helpfulness counts
        reasons.append(f"authors rated it {mean:.1f} of {hi:g} for helpfulness ({len(s.helpfulness)} rating"
                       f"{'s' if len(s.helpfulness) != 1 else ''})")
    return _clip(q), reasons


def _coverage(text: str) -> tuple[float, list[str]]:
    paper, code = len(_PAPER.findall(text)), len(_CODE.findall(text))
    if paper and code:
        q = 1.0 if min(paper, code) >= 2 else 0.5
        return q, [f"discusses the paper ({paper} mentions) and the code ({code} mentions)"]
    if paper or code:
        return 0.0, [f"discusses only the {'paper' if paper else 'code'}"]
    return 0.0, ["mentions neither the paper's parts nor the code"]


def _accuracy(s: ReviewSignals, text: str) -> tuple[float | None, list[str]]:
    reasons: list[str] = []
    parts: list[float] = []
    decided = [c for c in s.checks if c.passed is not None]
    if decided and s.calls_reproducible is not None:
        all_passed = all(c.passed for c in decided)
        failed = [c.claim for c in decided if not c.passed]
        agrees = s.calls_reproducible == all_passed
        parts.append(1.0 if agrees else 0.0)
        said = "reproducible" if s.calls_reproducible else "not reproducible"
        ran = "every checked claim passed" if all_passed else f"{', '.join(failed)} failed on the rig"
        reasons.append(f"called the code {said}; {ran}" + ("" if agrees else ": contradicts the runs"))
    elif decided:
        mentions = len(_RUNS.findall(text))
        parts.append(0.5 if mentions else 0.3)
        reasons.append("refers to the runs" if mentions else "does not refer to the runs the rig measured")
    if s.score is not None and s.consensus is not None:
        width = s.high - s.low
        gap = abs(s.score - s.consensus)
        parts.append(_clip(1 - gap / (0.3 * width)))
        reasons.append(f"score {s.score:g} vs calibrated consensus {s.consensus:.1f}: {gap:.1f} apart")
    if s.calibration:
        width = s.high - s.low
        err = sum(abs(x - ref) for x, ref in s.calibration) / len(s.calibration)
        parts.append(_clip(1 - err / (0.3 * width)))
        reasons.append(f"on {len(s.calibration)} calibration item{'s' if len(s.calibration) != 1 else ''} "
                       f"off the reference by {err:.1f} on average")
    if not parts:
        return None, ["no runs, consensus or calibration items to compare with"]
    return sum(parts) / len(parts), reasons


def suggest(signals: ReviewSignals, rubric: Rubric = DEFAULT_RUBRIC) -> QualitySuggestion:
    """Suggested level and reasons per criterion of ``rubric`` (criteria it has no signal for stay open)."""
    text = "\n".join(t for t in signals.texts.values() if t)
    words = len(text.split())
    readers = {
        "specific": lambda: _specific(signals, text, words),
        "constructive": lambda: _constructive(signals, text),
        "coverage": lambda: _coverage(text),
        "accuracy": lambda: _accuracy(signals, text),
    }
    out: list[CriterionSuggestion] = []
    for c in rubric.criteria:
        if c.key not in readers or not c.levels:
            out.append(CriterionSuggestion(c.key, c.name, None, None, ["no automatic signal: the marker decides"]))
            continue
        q, reasons = readers[c.key]()
        if q is None:
            out.append(CriterionSuggestion(c.key, c.name, None, None, reasons + ["the marker decides"]))
            continue
        lv = _level(c, q)
        out.append(CriterionSuggestion(c.key, c.name, lv, round(q, 2), reasons))
    notes = []
    if signals.late:
        notes.append("submitted late" + (f" ({signals.hours_late:.0f} h after the deadline)"
                                         if signals.hours_late is not None else "") + ": the marker decides any penalty")
    if words < 50:
        notes.append(f"very short ({words} words)")
    points = sum((c.level.points for c in out if c.level is not None), Decimal(0))
    return QualitySuggestion(out, points, rubric.max_points, notes, all(c.level is not None for c in out))
