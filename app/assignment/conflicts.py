"""Conflict masks: which (submission, reviewer) pairs may never be assigned."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def conflict_mask(n_papers: int, n_reviewers: int, *pair_lists: Iterable[tuple[int, int]]) -> np.ndarray:
    """Boolean papers × reviewers matrix, True where any of the (paper, reviewer) pair lists names the pair."""
    if n_papers < 0 or n_reviewers < 0:
        raise ValueError(f"sizes must be >= 0, got {n_papers} x {n_reviewers}")
    mask = np.zeros((n_papers, n_reviewers), dtype=bool)
    for pairs in pair_lists:
        for i, j in pairs:
            if not (0 <= i < n_papers and 0 <= j < n_reviewers):
                raise ValueError(f"conflict ({i}, {j}) is out of range for {n_papers} submissions x "
                                 f"{n_reviewers} reviewers")
            mask[i, j] = True
    return mask


def own_group_pairs(paper_groups: Sequence[object], reviewer_groups: Sequence[object | None]) -> list[tuple[int, int]]:
    """Pairs where the reviewer belongs to the group that wrote the submission (None = no group)."""
    by_group: dict[object, list[int]] = {}
    for i, g in enumerate(paper_groups):
        by_group.setdefault(g, []).append(i)
    return [(i, j) for j, g in enumerate(reviewer_groups) if g is not None for i in by_group.get(g, [])]
