"""ACM artifact badges (v1.1) earned by one run: available, functional, reproduced (the rules only).

A submission's badges (earned by its runs, confirmed or overridden by a chair) are app.services.badges."""

from __future__ import annotations

from collections.abc import Sequence

from app.artifacts.checks import Check

__all__ = ["AVAILABLE", "FUNCTIONAL", "REPRODUCED", "BADGES", "LABELS", "award_badges"]

AVAILABLE = "available"
FUNCTIONAL = "functional"
REPRODUCED = "reproduced"
BADGES = (AVAILABLE, FUNCTIONAL, REPRODUCED)


def award_badges(*, snapshot_stored: bool, experiments_functional: bool, checks: Sequence[Check]) -> list[str]:
    """Badges in canonical order.

    available: the code snapshot is stored; functional: every experiment exited 0 and wrote
    its metrics; reproduced: functional and every claim (at least one) within tolerance.
    """
    badges = []
    if snapshot_stored:
        badges.append(AVAILABLE)
    if experiments_functional:
        badges.append(FUNCTIONAL)
        if checks and all(c.passed for c in checks):
            badges.append(REPRODUCED)
    return badges


LABELS = {AVAILABLE: "Artifacts Available", FUNCTIONAL: "Artifacts Evaluated — Functional",
          REPRODUCED: "Results Reproduced"}
