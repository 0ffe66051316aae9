"""How well affinities order papers by a reviewer's own expertise: the loss of Stelmakh et al. (2023).

"A Gold Standard Dataset for the Reviewer Assignment Problem" (arXiv 2303.16750) scores a similarity
algorithm against expertise that reviewers reported themselves (1-5). For each reviewer and each pair of
papers they rated, a pair whose predicted order disagrees with the reported order costs the gap between
the two expertise values; a pair that the prediction ties costs half the gap; pairs the reviewer rated
equally cost nothing and weigh nothing. The loss is the total cost over the total of the gaps, pooled
over reviewers (not averaged per reviewer): 0 for a perfect order, 0.5 for a random one, 1 for the
reverse. Only the order of the predictions matters.

It lives in the product rather than in benchmarks/ because it needs nothing but numpy and works for any
venue that collects an expertise answer in its review form: the same function can say how well this
venue's affinities agreed with what its reviewers later reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairCost:
    """One reviewer's share of the loss: cost of the disagreements and the most it could have been."""

    cost: float
    weight: float


def reviewer_cost(predicted: Sequence[float], expertise: Sequence[float]) -> PairCost:
    """Cost and weight over all pairs of one reviewer's rated papers (both sequences in the same order)."""
    pred = np.asarray(predicted, dtype=np.float64)
    true = np.asarray(expertise, dtype=np.float64)
    if pred.shape != true.shape or pred.ndim != 1:
        raise ValueError(f"predicted {pred.shape} and expertise {true.shape} must be equal-length vectors")
    if np.isnan(pred).any() or np.isnan(true).any():
        raise ValueError("predictions and expertise must not contain NaN")
    i, j = np.triu_indices(len(true), k=1)
    gap = np.abs(true[i] - true[j])
    agreement = np.sign(pred[i] - pred[j]) * np.sign(true[i] - true[j])
    # agreement is +1 (same order), 0 (the prediction ties; or the expertise does, where gap is 0), -1 (reversed)
    cost = gap * (agreement < 0) + 0.5 * gap * (agreement == 0)
    return PairCost(float(cost.sum()), float(gap.sum()))


def reviewer_costs(predicted: Mapping[str, Mapping[str, float]],
                   expertise: Mapping[str, Mapping[str, float]]) -> dict[str, PairCost]:
    """Per reviewer of `expertise`: the cost of `predicted` over the papers that reviewer rated.

    Every (reviewer, rated paper) must have a prediction: a missing one is a KeyError rather than a silent
    skip, because skipping would flatter the algorithm on exactly the pairs it could not score.
    """
    out = {}
    for reviewer, rated in expertise.items():
        papers = list(rated)
        out[reviewer] = reviewer_cost([predicted[reviewer][p] for p in papers], [rated[p] for p in papers])
    return out


def pooled_loss(costs: Mapping[str, PairCost], reviewers: Iterable[str] | None = None) -> float:
    """Total cost over total weight for `reviewers` (default: all; repeats count again, as in a bootstrap)."""
    chosen = list(costs) if reviewers is None else list(reviewers)
    weight = sum(costs[r].weight for r in chosen)
    if weight == 0:
        raise ValueError("no reviewer has two papers with different expertise: the loss is undefined")
    return sum(costs[r].cost for r in chosen) / weight


def loss(predicted: Mapping[str, Mapping[str, float]], expertise: Mapping[str, Mapping[str, float]]) -> float:
    """The gold-standard loss of `predicted` similarities against reported `expertise` ({reviewer: {paper: x}})."""
    return pooled_loss(reviewer_costs(predicted, expertise))


def bootstrap_losses(costs: Sequence[Mapping[str, PairCost]], n: int = 1000, seed: int = 0) -> np.ndarray:
    """Loss on n reviewer pools drawn with replacement, averaged over the given runs (e.g. profile draws).

    All runs share each pool, as in the paper's evaluation, so that the interval reflects the reviewers
    sampled and not the noise between runs; comparing two methods on the same seed gives paired draws.
    """
    if not costs:
        raise ValueError("no runs to bootstrap")
    reviewers = sorted(costs[0])
    cost = np.array([[c[r].cost for r in reviewers] for c in costs])
    weight = np.array([[c[r].weight for r in reviewers] for c in costs])
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(reviewers), size=(n, len(reviewers)))
    counts = np.stack([np.bincount(d, minlength=len(reviewers)) for d in draws])  # n × reviewers
    per_run = (counts @ cost.T) / (counts @ weight.T)  # n × runs
    return per_run.mean(axis=1)
