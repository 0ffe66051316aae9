"""The gold-standard loss (Stelmakh et al.) on hand-computed cases, and its pooling and bootstrap."""

from itertools import combinations

import numpy as np
import pytest

from app.assignment.evaluation import (PairCost, bootstrap_losses, loss, pooled_loss, reviewer_cost,
                                       reviewer_costs)


def as_dicts(pred: list[float], true: list[float], reviewer: str = "r") -> tuple[dict, dict]:
    papers = [f"p{i}" for i in range(len(true))]
    return {reviewer: dict(zip(papers, pred, strict=True))}, {reviewer: dict(zip(papers, true, strict=True))}


def loop_loss(pred: dict, true: dict) -> float:
    """The paper's definition written as a plain loop over reviewers and pairs, to compare against."""
    cost = weight = 0.0
    for r, rated in true.items():
        for a, b in combinations(rated, 2):
            gap = abs(rated[a] - rated[b])
            weight += gap
            d = (pred[r][a] - pred[r][b]) * (rated[a] - rated[b])
            cost += gap if d < 0 else gap / 2 if d == 0 else 0
    return cost / weight


def test_perfect_order_is_zero_and_reverse_is_one() -> None:
    true = [5, 4, 2.5, 1]
    assert loss(*as_dicts([0.9, 0.7, 0.3, 0.1], true)) == 0
    assert loss(*as_dicts([0.1, 0.3, 0.7, 0.9], true)) == 1
    # only the order counts, not the values
    assert loss(*as_dicts([100, 3, 2, -7], true)) == 0


def test_hand_computed_case_weights_mistakes_by_the_expertise_gap() -> None:
    # pairs (5,3) gap 2 right, (5,1) gap 4 right, (3,1) gap 2 reversed: 2 / (2 + 4 + 2)
    assert loss(*as_dicts([0.9, 0.1, 0.5], [5, 3, 1])) == pytest.approx(0.25)
    # reversing the pair with the big gap costs more than reversing a small one
    assert loss(*as_dicts([0.1, 0.9, 0.5], [5, 3, 1])) == pytest.approx((2 + 4) / 8)


def test_predicted_ties_cost_half_and_tied_expertise_weighs_nothing() -> None:
    # (3,1) tied in the prediction: half its gap of 2
    assert loss(*as_dicts([0.9, 0.5, 0.5], [5, 3, 1])) == pytest.approx(1 / 8)
    # a constant predictor ties everything: exactly 0.5
    assert loss(*as_dicts([0.3] * 4, [5, 4, 2, 1])) == 0.5
    # the pair the reviewer rated equally (4, 4) neither costs nor weighs, whatever its predicted order
    assert reviewer_cost([0.6, 0.9, 0.5], [4, 4, 1]) == PairCost(cost=0.0, weight=6.0)
    assert reviewer_cost([0.9, 0.6, 0.5], [4, 4, 1]) == PairCost(cost=0.0, weight=6.0)
    assert reviewer_cost([0.9, 0.1, 0.5], [4, 4, 1]) == PairCost(cost=3.0, weight=6.0)  # (4, 1) reversed


def test_losses_are_pooled_over_reviewers_not_averaged() -> None:
    pred = {"a": {"x": 0.9, "y": 0.1, "z": 0.5}, "b": {"x": 0.1, "y": 0.2}}
    true = {"a": {"x": 5, "y": 3, "z": 1}, "b": {"x": 2, "y": 1}}
    costs = reviewer_costs(pred, true)
    assert costs == {"a": PairCost(2.0, 8.0), "b": PairCost(1.0, 1.0)}
    assert loss(pred, true) == pytest.approx(3 / 9)  # not (0.25 + 1) / 2
    assert pooled_loss(costs, ["b", "b", "a"]) == pytest.approx(4 / 10)  # a bootstrap pool repeats reviewers


def test_random_predictions_score_about_one_half() -> None:
    rng = np.random.default_rng(1)
    true = {f"r{i}": {f"p{j}": float(rng.integers(1, 6)) for j in range(8)} for i in range(2000)}
    pred = {r: {p: float(rng.random()) for p in rated} for r, rated in true.items()}
    assert loss(pred, true) == pytest.approx(0.5, abs=0.01)


def test_matches_the_plain_loop_on_random_data_with_ties() -> None:
    rng = np.random.default_rng(2)
    for _ in range(50):
        true = {f"r{i}": {f"p{j}": float(rng.integers(1, 6)) for j in range(rng.integers(2, 11))} for i in range(5)}
        pred = {r: {p: float(rng.integers(0, 3)) for p in rated} for r, rated in true.items()}  # many ties
        if sum(reviewer_cost([0] * len(v), list(v.values())).weight for v in true.values()) == 0:
            continue
        assert loss(pred, true) == pytest.approx(loop_loss(pred, true), abs=1e-12)


def test_bad_input_is_an_error_not_a_silent_skip() -> None:
    with pytest.raises(KeyError):
        loss({"r": {"p0": 0.1}}, {"r": {"p0": 5, "p1": 1}})
    with pytest.raises(ValueError, match="NaN"):
        reviewer_cost([0.1, float("nan")], [5, 1])
    with pytest.raises(ValueError, match="undefined"):
        loss(*as_dicts([0.1, 0.2], [3, 3]))
    with pytest.raises(ValueError, match="equal-length"):
        reviewer_cost([0.1], [3, 3])


def test_bootstrap_is_paired_and_averages_runs() -> None:
    run1 = {"a": PairCost(2.0, 8.0), "b": PairCost(1.0, 1.0)}
    run2 = {"a": PairCost(0.0, 8.0), "b": PairCost(0.0, 1.0)}
    boot = bootstrap_losses([run1, run2], n=200, seed=3)
    assert boot.shape == (200,)
    # each pool's loss is the mean over the runs: run2 is always 0, so half of run1's pooled loss
    assert boot.max() <= 0.5 + 1e-12 and boot.min() >= 0.25 / 2 - 1e-12
    np.testing.assert_array_equal(boot, bootstrap_losses([run1, run2], n=200, seed=3))
    # a single reviewer: every pool is that reviewer, every draw is the loss
    np.testing.assert_allclose(bootstrap_losses([{"a": PairCost(2.0, 8.0)}], n=10), 0.25)
    with pytest.raises(ValueError):
        bootstrap_losses([])
