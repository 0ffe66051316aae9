"""Checks: a claim (a number the paper states) against a run's measurement."""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.artifacts.manifest import Claim

__all__ = ["Check", "check_claim"]

# Slack for float noise at the boundary: 3.1 with "10%" must accept a measured 2.79.
_EPS = 1e-9


@dataclass(frozen=True)
class Check:
    claim: str
    metric: str
    claimed: float
    measured: float | None
    passed: bool
    bounds: tuple[float | None, float | None]  # accepted interval, None = unbounded
    direction: str = "at_least"
    reason: str | None = None                   # why it failed, for people

    def as_json(self) -> dict:
        """The DESIGN.md ``checks[]`` entry."""
        return {"claim": self.claim, "metric": self.metric, "claimed": self.claimed, "measured": self.measured,
                "passed": self.passed}


def check_claim(claim: Claim, measured: float | None) -> Check:
    """Is ``measured`` within the claim's tolerance in the claim's direction?"""
    value = float(claim.value)
    slack = claim.tolerance.absolute_for(value)
    lo: float | None = value - slack if claim.direction in ("at_least", "about") else None
    hi: float | None = value + slack if claim.direction in ("at_most", "about") else None
    common = dict(claim=claim.id, metric=claim.metric, claimed=value, bounds=(lo, hi), direction=claim.direction)
    if measured is None:
        return Check(measured=None, passed=False, reason=f"metric '{claim.metric}' was not measured", **common)
    measured = float(measured)
    if not math.isfinite(measured):
        return Check(measured=measured, passed=False, reason=f"'{claim.metric}' is {measured}", **common)
    eps = _EPS * max(1.0, abs(value))
    passed = (lo is None or measured >= lo - eps) and (hi is None or measured <= hi + eps)
    reason = None
    if not passed:
        if lo is not None and hi is not None:
            want = f"in [{lo:g}, {hi:g}]"
        else:
            want = f">= {lo:g}" if lo is not None else f"<= {hi:g}"
        reason = f"measured {measured:g}, claim needs {want}"
    return Check(measured=measured, passed=passed, reason=reason, **common)
