"""Claims against measurements, and the badges a run earns."""

from __future__ import annotations

import math

import pytest

from app.artifacts.badges import award_badges
from app.artifacts.checks import check_claim
from app.artifacts.manifest import Claim, Tolerance


def claim(value, direction, tol=Tolerance()):
    return Claim(id="C1", experiment="E1", metric="m", value=value, direction=direction, tolerance=tol)


REL10 = Tolerance(0.10, relative=True)


@pytest.mark.parametrize("direction, tol, measured, passed", [
    ("at_least", REL10, 3.1, True),
    ("at_least", REL10, 2.79, True),      # 3.1 - 10% exactly, despite float noise
    ("at_least", REL10, 2.78, False),
    ("at_least", REL10, 100.0, True),
    ("at_most", Tolerance(0.02), 0.52, True),
    ("at_most", Tolerance(0.02), 0.5201, False),
    ("at_most", Tolerance(0.02), -3.0, True),
    ("about", REL10, 3.4, True),
    ("about", REL10, 3.42, False),
    ("about", REL10, 2.8, True),
    ("about", REL10, 2.7, False),
    ("about", Tolerance(), 3.1, True),
])
def test_directions_and_tolerances(direction, tol, measured, passed):
    value = 0.5 if direction == "at_most" else 3.1
    c = check_claim(claim(value, direction, tol), measured)
    assert c.passed is passed
    assert c.claimed == value and c.measured == measured


def test_bounds_and_missing_measurement():
    c = check_claim(claim(3.1, "about", REL10), None)
    assert not c.passed and c.measured is None and "not measured" in c.reason
    assert c.bounds == pytest.approx((2.79, 3.41))
    assert check_claim(claim(1.0, "at_least", Tolerance(0.1)), 0.0).bounds == (0.9, None)
    assert check_claim(claim(1.0, "at_most"), 0.0).bounds == (None, 1.0)
    assert not check_claim(claim(1.0, "at_most"), math.nan).passed
    assert check_claim(claim(-2.0, "at_least", REL10), -2.2).passed  # relative slack uses |value|


def test_check_json_shape():
    assert check_claim(claim(1.0, "at_least"), 2).as_json() == {
        "claim": "C1", "metric": "m", "claimed": 1.0, "measured": 2.0, "passed": True}


def test_badges():
    ok = [check_claim(claim(1.0, "at_least"), 2.0)]
    bad = ok + [check_claim(claim(1.0, "at_least"), 0.5)]
    assert award_badges(snapshot_stored=True, experiments_functional=True, checks=ok) == [
        "available", "functional", "reproduced"]
    assert award_badges(snapshot_stored=True, experiments_functional=True, checks=bad) == ["available", "functional"]
    assert award_badges(snapshot_stored=True, experiments_functional=False, checks=ok) == ["available"]
    assert award_badges(snapshot_stored=False, experiments_functional=True, checks=[]) == ["functional"]
