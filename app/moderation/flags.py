"""Flags: the reasons a submission needs a moderator, each said in words, and the queue sorted by need.

Inputs are plain dataclasses a service fills from the database: a submission's reviews (scores, texts,
reviewer label, state), its checks (claim, passed) and the calibration's output for it.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# Base severities: how urgently a moderator should look (higher first). A flag's own magnitude adds < 10.
SEVERITY = {"abusive": 90, "reproduction": 70, "few-reviews": 60, "disagreement": 50, "contradiction": 40,
            "outlier": 30}


@dataclass(frozen=True)
class ReviewInput:
    """One review as flags see it: reviewer label (as chairs see it), overall score, texts, state."""

    reviewer: str
    score: float | None
    texts: Mapping[str, str] = field(default_factory=dict)  # field key -> text, e.g. strengths, weaknesses
    submitted: bool = True
    abusive: bool = False  # a moderator or an author report marked it abusive
    calls_reproducible: bool | None = None  # the reviewer's answer to "could you reproduce the results?"


@dataclass(frozen=True)
class CheckInput:
    """A claim checked against a run: None when the run has not measured it yet."""

    claim: str
    passed: bool | None


@dataclass(frozen=True)
class SubmissionInput:
    """Everything the flags look at for one submission."""

    submission: str  # e.g. "#17"
    reviews: tuple[ReviewInput, ...] | list[ReviewInput]
    low: float
    high: float
    checks: tuple[CheckInput, ...] | list[CheckInput] = ()
    calibrated: float | None = None
    calibrated_sd: float | None = None
    biases: Mapping[str, float] = field(default_factory=dict)  # reviewer label -> calibrated bias


@dataclass(frozen=True)
class FlagSettings:
    """Thresholds, as fractions of the scale's width where they are about scores."""

    min_reviews: int = 3
    disagreement: float = 0.4  # max - min of the scores above this share of the scale
    outlier: float = 0.3  # a score this far (share of the scale) from the others' median...
    outlier_spread: float = 3.0  # ...and this many robust sds of the others
    top: float = 0.8  # a score in the top 20 % of the scale counts as high
    bottom: float = 0.3  # ...in the bottom 30 % as low
    min_sentiment_words: int = 3


@dataclass(frozen=True)
class Flag:
    """A reason a submission needs moderation, in words; ``severity`` orders the queue."""

    code: str
    submission: str
    severity: float
    message: str
    reviewer: str | None = None


@dataclass(frozen=True)
class QueueItem:
    """One submission in the moderation queue with its flags, most urgent first."""

    submission: str
    need: float
    flags: list[Flag]


POSITIVE = frozenset("""clear clearly well good great excellent strong novel convincing thorough solid impressive
insightful rigorous clean nice interesting useful thoughtful careful detailed comprehensive elegant reproducible
reproduced robust valuable helpful correct sound compelling readable organised organized polished""".split())
NEGATIVE = frozenset("""unclear weak missing lacks lack lacking poor wrong incorrect fails failed failing confusing
limited insufficient unconvincing broken error errors crash crashes flawed problem problems issue issues cannot
unfortunately hard vague sloppy inconsistent misleading trivial incomplete unreadable superficial questionable
doubtful absent nothing bug bugs unreproducible irreproducible disappointing""".split())
NEGATORS = frozenset("not no never hardly barely isn't wasn't aren't doesn't don't didn't cannot can't".split())
_WORD = re.compile(r"[a-z']+")
_EMPTY = re.compile(r"^\s*(none|n/?a|nothing|-+|\.+|no strengths?|no weaknesses?)?\s*[.!]?\s*$", re.I)
STRENGTH_FIELDS = ("strengths", "strength", "pros")
WEAKNESS_FIELDS = ("weaknesses", "weakness", "cons", "concerns")


@dataclass(frozen=True)
class Sentiment:
    """Counts of positive and negative words (a negator flips the next word), with examples."""

    positive: int
    negative: int
    examples_pos: tuple[str, ...]
    examples_neg: tuple[str, ...]

    @property
    def net(self) -> float:
        n = self.positive + self.negative
        return 0.0 if n == 0 else (self.positive - self.negative) / n


def sentiment(text: str) -> Sentiment:
    """A small word-list sentiment: explainable, not clever (negation flips the following word)."""
    pos, neg, ex_p, ex_n = 0, 0, [], []
    negate = 0
    for word in _WORD.findall((text or "").lower()):
        if word in NEGATORS:
            negate = 2  # the next two words
            if word in NEGATIVE:
                neg += 1
                ex_n.append(word)
            continue
        hit_pos, hit_neg = word in POSITIVE, word in NEGATIVE
        if negate and (hit_pos or hit_neg):
            hit_pos, hit_neg = hit_neg, hit_pos
            word = f"not {word}"
        if hit_pos:
            pos += 1
            ex_p.append(word)
        elif hit_neg:
            neg += 1
            ex_n.append(word)
        negate = max(negate - 1, 0)
    return Sentiment(pos, neg, tuple(dict.fromkeys(ex_p))[:3], tuple(dict.fromkeys(ex_n))[:3])


def _field_text(texts: Mapping[str, str], names: Iterable[str]) -> str | None:
    found = [texts[k] for k in texts if k.lower() in names]
    return " ".join(found) if found else None


def _fmt(x: float) -> str:
    return f"{x:g}" if float(x).is_integer() else f"{x:.1f}"


def _contradiction(sub: SubmissionInput, r: ReviewInput, st: FlagSettings) -> Flag | None:
    width = sub.high - sub.low
    share = (r.score - sub.low) / width
    strengths = _field_text(r.texts, STRENGTH_FIELDS)
    weaknesses = _field_text(r.texts, WEAKNESS_FIELDS)
    all_text = " ".join(r.texts.values())
    s = sentiment(all_text)
    score = f"{_fmt(r.score)}/{_fmt(sub.high)}"
    if share >= st.top:
        if strengths is not None and _EMPTY.match(strengths) and weaknesses and not _EMPTY.match(weaknesses):
            return Flag("contradiction", sub.submission, SEVERITY["contradiction"] + 5 * share,
                        f"{r.reviewer} gave a high score ({score}) but listed no strengths, only weaknesses"
                        + (f" (e.g. {', '.join(s.examples_neg)})" if s.examples_neg else ""), r.reviewer)
        if s.positive + s.negative >= st.min_sentiment_words and s.net <= -0.5:
            return Flag("contradiction", sub.submission, SEVERITY["contradiction"] + 5 * share,
                        f"{r.reviewer} gave a high score ({score}) but the text is mostly negative: "
                        f"{s.negative} negative words (e.g. {', '.join(s.examples_neg)}) against {s.positive} positive",
                        r.reviewer)
    if share <= st.bottom:
        if weaknesses is not None and _EMPTY.match(weaknesses) and strengths and not _EMPTY.match(strengths):
            return Flag("contradiction", sub.submission, SEVERITY["contradiction"] + 5 * (1 - share),
                        f"{r.reviewer} gave a low score ({score}) but listed no weaknesses, only strengths"
                        + (f" (e.g. {', '.join(s.examples_pos)})" if s.examples_pos else ""), r.reviewer)
        if s.positive + s.negative >= st.min_sentiment_words and s.net >= 0.5:
            return Flag("contradiction", sub.submission, SEVERITY["contradiction"] + 5 * (1 - share),
                        f"{r.reviewer} gave a low score ({score}) but the text is mostly positive: "
                        f"{s.positive} positive words (e.g. {', '.join(s.examples_pos)}) against {s.negative} negative",
                        r.reviewer)
    return None


def flag_submission(sub: SubmissionInput, settings: FlagSettings | None = None) -> list[Flag]:
    """Every flag for one submission, most severe first."""
    st = settings or FlagSettings()
    width = sub.high - sub.low
    if width <= 0:
        raise ValueError(f"{sub.submission}: the scale's low end {sub.low:g} must be below its high end {sub.high:g}")
    flags: list[Flag] = []
    submitted = [r for r in sub.reviews if r.submitted]
    scored = [r for r in submitted if r.score is not None]

    for r in sub.reviews:
        if r.abusive:
            flags.append(Flag("abusive", sub.submission, SEVERITY["abusive"],
                              f"{r.reviewer}'s review was marked abusive: hide it from the authors and decide "
                              "whether it counts", r.reviewer))

    if len(submitted) < st.min_reviews:
        drafts = [r.reviewer for r in sub.reviews if not r.submitted]
        missing = st.min_reviews - len(submitted)
        flags.append(Flag("few-reviews", sub.submission, SEVERITY["few-reviews"] + min(missing, 9),
                          f"{len(submitted)} of {st.min_reviews} required reviews submitted"
                          + (f" ({', '.join(drafts)} still in draft)" if drafts else "")))

    failed = [c.claim for c in sub.checks if c.passed is False]
    believers = [r.reviewer for r in submitted if r.calls_reproducible]
    if failed and believers:
        flags.append(Flag("reproduction", sub.submission, SEVERITY["reproduction"] + min(len(failed), 9),
                          f"claim{'s' if len(failed) > 1 else ''} {', '.join(failed)} failed reproduction on the rig, "
                          f"yet {', '.join(believers)} called the code reproducible"))

    if len(scored) >= 2:
        lo_r = min(scored, key=lambda r: r.score)
        hi_r = max(scored, key=lambda r: r.score)
        spread = hi_r.score - lo_r.score
        if spread > st.disagreement * width:
            flags.append(Flag("disagreement", sub.submission, SEVERITY["disagreement"] + 9 * min(spread / width, 1),
                              f"reviewers disagree: scores range from {_fmt(lo_r.score)} ({lo_r.reviewer}) to "
                              f"{_fmt(hi_r.score)} ({hi_r.reviewer}), {_fmt(spread)} points apart, above the "
                              f"threshold of {_fmt(st.disagreement * width)}"))

    if len(scored) >= 3:
        for r in scored:
            others = [o.score for o in scored if o is not r]
            med = statistics.median(others)
            mad = statistics.median(abs(x - med) for x in others) * 1.4826
            dev = r.score - med
            if abs(dev) >= st.outlier * width and abs(dev) >= st.outlier_spread * max(mad, 0.05 * width):
                where = f"; calibrated estimate {sub.calibrated:.1f}" if sub.calibrated is not None else ""
                bias = sub.biases.get(r.reviewer)
                lean = f", and {r.reviewer} is usually {'lenient' if bias > 0 else 'harsh'} by {abs(bias):.1f}" \
                    if bias is not None and abs(bias) >= 0.05 * width else ""
                flags.append(Flag("outlier", sub.submission, SEVERITY["outlier"] + 9 * min(abs(dev) / width, 1),
                                  f"{r.reviewer}'s score {_fmt(r.score)} is {_fmt(abs(dev))} points "
                                  f"{'above' if dev > 0 else 'below'} the other reviewers' median {_fmt(med)}"
                                  f"{where}{lean}", r.reviewer))

    for r in scored:
        f = _contradiction(sub, r, st)
        if f:
            flags.append(f)
    return sorted(flags, key=lambda f: (-f.severity, f.code, f.reviewer or ""))


def moderation_queue(subs: Iterable[SubmissionInput], settings: FlagSettings | None = None) -> list[QueueItem]:
    """Flagged submissions sorted by need: the most severe flag first, then how many flags, then the label."""
    items = []
    for sub in subs:
        flags = flag_submission(sub, settings)
        if flags:
            items.append(QueueItem(sub.submission, flags[0].severity + 0.5 * (len(flags) - 1), flags))
    return sorted(items, key=lambda q: (-q.need, q.submission))
