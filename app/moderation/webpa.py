"""WebPA peer assessment of group work (pure): each member's share of the group's effort from the team's ratings.

The algorithm of WebPA (Loughborough University's open-source peer assessment; Loddington et al. 2009):

1. Each rater ``i`` rates every member ``j`` of the team (themselves too, when self-assessment is on) on the
   criteria, e.g. 1-5 each; ``t_ij`` is the sum over the criteria.
2. Each rater's marks are normalised to sum to 1 across the team: ``f_ij = t_ij / sum_k t_ik``. So every rater
   hands out the same total, however generous they are.
3. A member's WebPA score is the sum of what they received: ``S_j = sum_i f_ij``. With everyone rating, the
   scores average 1: 1 is "a fair share", 1.2 "a fifth more than a fair share".
4. Non-submitters: when only ``m`` of the team's ``n`` members rated, every score is multiplied by ``n / m``
   (WebPA's "fudge factor"), so the average stays 1. A member who did not rate still receives the others'
   ratings. A rater whose marks are all zero gave nothing to normalise and counts as not having rated.

The individual mark (WebPA's "PA weighting" ``w``): ``mark = group × (1 − w) + group × w × S_j``, so with
``w = 0.5`` half the group mark is shared equally and half by effort; an optional ``cap`` bounds the factor
applied, and the scale's top bounds the mark. Nobody rated at all: every score is 1 and the mark is the group
mark, with that said.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

__all__ = ["PeerRatingError", "WebPAResult", "individual_mark", "webpa_scores"]


class PeerRatingError(ValueError):
    """Ratings that cannot be used as given; the message names the cause."""


@dataclass(frozen=True)
class WebPAResult:
    scores: dict[str, float]            # member -> WebPA score (1 = a fair share)
    raters: list[str]                   # members whose ratings counted
    non_raters: list[str]               # members who did not rate (or rated everyone 0)
    fudge: float                        # n / m applied for non-raters (1.0 when everyone rated)
    received: dict[str, dict[str, float]] = field(default_factory=dict)  # ratee -> rater -> normalised share

    def explain(self, member: str) -> str:
        parts = " + ".join(f"{v:.3f}" for _r, v in sorted(self.received.get(member, {}).items()))
        base = f"WebPA score {self.scores[member]:.3f}"
        if not self.raters:
            return f"{base}: nobody in the team rated, so everyone counts a fair share (1)"
        fudge = f" × {self.fudge:.3f} ({len(self.non_raters)} member(s) did not rate)" if self.fudge != 1 else ""
        return f"{base} = ({parts or '0'}){fudge}"


def webpa_scores(members: Sequence[str], ratings: Mapping[str, Mapping[str, Mapping[str, float]]], *,
                 low: float = 1, high: float = 5, self_assessment: bool = True) -> WebPAResult:
    """``ratings[rater][ratee][criterion]`` on [low, high]. Raises PeerRatingError naming the cause for a rater or
    ratee outside the team, a rating out of range, or a rater who left out a teammate."""
    team = list(dict.fromkeys(members))
    if not team:
        raise PeerRatingError("the team has no members")
    inside = set(team)
    totals: dict[str, dict[str, float]] = {}
    for rater, given in ratings.items():
        if rater not in inside:
            raise PeerRatingError(f"{rater} is not a member of this team and cannot rate it")
        expected = inside if self_assessment else inside - {rater}
        stray = sorted(set(given) - inside)
        if stray:
            raise PeerRatingError(f"{rater} rated {', '.join(stray)}, who is not in this team")
        if not self_assessment and rater in given:
            raise PeerRatingError(f"{rater} rated themselves, but this assessment has no self-assessment")
        missing = sorted(expected - set(given))
        if missing:
            raise PeerRatingError(f"{rater} did not rate {', '.join(missing)}: rate every member or none")
        row = {}
        for ratee, criteria in given.items():
            for criterion, value in criteria.items():
                if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                    raise PeerRatingError(f"{rater}'s rating of {ratee} on {criterion!r} is {value!r}, "
                                          f"not a number from {low:g} to {high:g}")
            row[ratee] = float(sum(criteria.values()))
        totals[rater] = row
    raters = [r for r in team if r in totals and sum(totals[r].values()) > 0]
    non_raters = [m for m in team if m not in raters]
    if not raters:
        return WebPAResult({m: 1.0 for m in team}, [], non_raters, 1.0, {})
    received: dict[str, dict[str, float]] = {m: {} for m in team}
    for r in raters:
        total = sum(totals[r].values())
        for ratee, t in totals[r].items():
            received[ratee][r] = t / total
    fudge = len(team) / len(raters)
    scores = {m: sum(received[m].values()) * fudge for m in team}
    return WebPAResult(scores, raters, non_raters, fudge, received)


def individual_mark(group_mark: Decimal, score: float, *, weighting: Decimal = Decimal("0.5"),
                    cap: Decimal | None = None, high: Decimal | None = None) -> tuple[Decimal, str]:
    """The member's share of the group mark and how it came about; not rounded (the scheme rounds once)."""
    if not Decimal(0) <= weighting <= Decimal(1):
        raise PeerRatingError(f"the peer-assessment weighting is {weighting}, not between 0 and 1")
    factor = Decimal(repr(score))
    capped = ""
    if cap is not None and factor > cap:
        factor, capped = cap, f" (capped at {cap})"
    mark = group_mark * (1 - weighting) + group_mark * weighting * factor
    why = (f"group {group_mark} × {1 - weighting} + group {group_mark} × {weighting} × WebPA {factor:.3f}"
           f"{capped} = {mark:.3f}")
    if high is not None and mark > high:
        mark, why = high, why + f", bounded by the scale's top {high}"
    return mark, why
