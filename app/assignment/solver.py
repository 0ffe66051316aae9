"""Reviewer assignment as a min-cost flow: maximise summed affinity under k-per-submission and load bounds.

Graph (OR-Tools SimpleMinCostFlow, integer costs):

    submission i  (supply k - locked_i)
        └─ cap 1, cost -round(affinity * SCALE) [- stickiness bonus] ─► reviewer j
    reviewer j    (supply -L_j: the mandatory min-load part, a lower bound turned into a demand)
        └─ cap U_j - L_j, cost 0 (the optional part) ─► sink (supply -(rest))

with U_j = max_load - locked_j and L_j = max(min_load - locked_j, 0). Lower bounds become node demands
(the textbook transformation), so no "big M" bonus is needed and costs stay far from int64 limits.
Locked pairs are taken out of the graph and added back to the answer.

Large instances use a sparse candidate graph (each submission's top-m reviewers united with each
reviewer's top-m submissions). Its optimum is then priced out against the dense problem: node potentials
from the residual graph give every left-out pair a reduced cost, pairs that could improve the answer are
added and the flow solved again (column generation), so the sparse answer is certified equal to the dense
optimum. When the sparse graph is infeasible the solver widens it and finally falls back to the dense
graph, so sparsity never turns a feasible instance into an error.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from app.errors import DomainError

SCALE = 1_000_000  # affinity resolution 1e-6; |cost| <= 1e6 per unit keeps every sum far inside int64
STICKINESS = 0.02  # affinity bonus for keeping a previous pair: a re-solve moves a pair only for a real gain
PRICING_ROUNDS = 8  # column-generation rounds on a sparse graph before widening it
FAIR_ROUNDS = 30  # fair mode: at most this many weighted flow solves ...
FAIR_PATIENCE = 8  # ... stopping after this many in a row without a better (min total, total)
FAIR_STEP = 2.0  # multiplicative-weights step: the best-off submission's weight falls by up to e^-2 (÷ sqrt(round))
FAIR_MIN_WEIGHT = 1e-3  # floor on the relative weight, so scaled integer costs keep >= 1e3 resolution
OPTION_ONE_PER_GROUP = "at most one reviewer per group on a submission"
OPTION_NO_RECIPROCAL = "no reciprocal pairs between two groups"
DENSE_EDGE_LIMIT = 100_000  # above this many eligible pairs the automatic mode starts sparse (faster from ~300²)


class Infeasible(DomainError):
    """No assignment satisfies the constraints; the message says which constraint cannot be met."""

    status_code = 422
    code = "infeasible"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Solution:
    """An assignment: (submission, reviewer) index pairs, their summed affinity, and statistics."""

    pairs: list[tuple[int, int]]
    total: float
    mean_affinity: float = 0.0
    min_affinity: float = 0.0
    paper_totals: list[float] = field(default_factory=list)
    load_histogram: dict[int, int] = field(default_factory=dict)
    used_sparse: bool = False
    fell_back: bool = False
    edges: int = 0
    certified_optimal: bool = False  # the answer is the optimum of the dense problem (dense solve or priced-out sparse)
    # Dual prices of reviewer capacity (affinity units) from a priced-out sparse solve: what one more slot of
    # that reviewer would be worth; they also give an upper bound on the optimum (see benchmarks/assignment.py).
    reviewer_prices: list[float] | None = None
    threshold: float | None = None  # fair mode: the worst-off submission's total it reached (None otherwise)
    kept_previous: int = 0
    seconds: float = 0.0
    # "no reciprocal pairs": the directions it forbade, how many flow solves that took, and reciprocal group
    # pairs left because both directions hold locked pairs (the chair's own choice is never undone).
    reciprocal_bans: int = 0
    reciprocal_rounds: int = 0
    reciprocal_locked: int = 0

    @property
    def min_paper_total(self) -> float:
        return min(self.paper_totals) if self.paper_totals else 0.0


# ---- checks that give readable reasons ---------------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _check_inputs(aff: np.ndarray, k: int, min_load: int, max_load: int, conflicts: np.ndarray | None,
                  locked: list[tuple[int, int]]) -> np.ndarray:
    """Validate shapes and the counting conditions; returns the eligibility mask (not conflicted)."""
    if aff.ndim != 2:
        raise ValueError(f"affinity must be a 2-D papers x reviewers matrix, got shape {aff.shape}")
    n_papers, n_reviewers = aff.shape
    if not np.isfinite(aff).all():
        bad = np.argwhere(~np.isfinite(aff))[0]
        raise ValueError(f"affinity has a non-finite value at submission {bad[0]}, reviewer {bad[1]}")
    if k < 0 or min_load < 0 or max_load < 0:
        raise ValueError(f"k, min_load and max_load must be >= 0 (got k={k}, min_load={min_load}, max_load={max_load})")
    if conflicts is None:
        eligible = np.ones(aff.shape, dtype=bool)
    else:
        conflicts = np.asarray(conflicts, dtype=bool)
        if conflicts.shape != aff.shape:
            raise ValueError(f"conflicts shape {conflicts.shape} differs from affinity shape {aff.shape}")
        eligible = ~conflicts
    for i, j in locked:
        if not (0 <= i < n_papers and 0 <= j < n_reviewers):
            raise ValueError(f"locked pair ({i}, {j}) is out of range for {n_papers} x {n_reviewers}")
    if n_papers == 0 or k == 0:
        if locked and k == 0:
            raise Infeasible(f"k=0 reviewers per submission, but {_plural(len(locked), 'pair')} are locked")
        if min_load > 0 and n_reviewers > 0:
            raise Infeasible(f"min load too high: {_plural(n_reviewers, 'reviewer')} × min {min_load} = "
                             f"{n_reviewers * min_load} > 0 slots (nothing to review)")
        return eligible
    if max_load < min_load:
        raise Infeasible(f"max load {max_load} is below min load {min_load}")
    if n_reviewers == 0:
        raise Infeasible(f"{_plural(n_papers, 'submission')} need {k} reviewers each but there are no reviewers")
    if max_load == 0:
        raise Infeasible("max load 0: no reviewer may take any submission")
    if k > n_reviewers:
        raise Infeasible(f"k={k} reviewers per submission but only {_plural(n_reviewers, 'reviewer')} exist")
    need, have = n_papers * k, n_reviewers * max_load
    if need > have:
        raise Infeasible(f"{_plural(n_papers, 'submission')} need {k} reviewers each = {need} slots but only "
                         f"{have} reviewer slots exist ({_plural(n_reviewers, 'reviewer')} × max load {max_load})")
    if n_reviewers * min_load > need:
        raise Infeasible(f"min load too high: {_plural(n_reviewers, 'reviewer')} × min {min_load} = "
                         f"{n_reviewers * min_load} > {need} slots ({_plural(n_papers, 'submission')} × {k})")
    per_paper = eligible.sum(axis=1)
    for i in np.flatnonzero(per_paper < k):
        n = int(per_paper[i])
        if n == 0:
            raise Infeasible(f"all reviewers are conflicted with submission {i}; it needs {k}")
        raise Infeasible(f"submission {i} has only {n} non-conflicted reviewer{'' if n == 1 else 's'}, needs {k}")
    if min_load > 0:
        per_reviewer = eligible.sum(axis=0)
        for j in np.flatnonzero(per_reviewer < min_load):
            raise Infeasible(f"reviewer {j} may review only {int(per_reviewer[j])} submission(s) (the rest are "
                             f"conflicted) but min load is {min_load}")
    lock_paper, lock_reviewer = Counter(), Counter()
    for i, j in locked:
        if not eligible[i, j]:
            raise Infeasible(f"locked pair (submission {i}, reviewer {j}) is a conflict")
        lock_paper[i] += 1
        lock_reviewer[j] += 1
    for i, n in lock_paper.items():
        if n > k:
            raise Infeasible(f"submission {i} has {n} locked reviewers but k={k}")
    for j, n in lock_reviewer.items():
        if n > max_load:
            raise Infeasible(f"reviewer {j} has {n} locked submissions but max load is {max_load}")
    return eligible


def _explain_flow_failure(eligible: np.ndarray, paper_need: np.ndarray, upper: np.ndarray,
                          lower: np.ndarray) -> str:
    """A Hall-type reason from a minimum cut: a set of submissions whose eligible reviewers cannot cover them."""
    from ortools.graph.python import max_flow

    n_papers, n_reviewers = eligible.shape
    src, sink = n_papers + n_reviewers, n_papers + n_reviewers + 1
    ii, jj = np.nonzero(eligible)

    def cut(caps_left: np.ndarray, caps_right: np.ndarray, left_is_paper: bool) -> tuple[int, list[int], list[int]]:
        mf = max_flow.SimpleMaxFlow()
        n_left = n_papers if left_is_paper else n_reviewers
        left, right = (ii, jj) if left_is_paper else (jj, ii)
        tails = np.concatenate([np.full(n_left, src), left, n_left + np.arange(len(caps_right))])
        heads = np.concatenate([np.arange(n_left), n_left + right, np.full(len(caps_right), sink)])
        caps = np.concatenate([caps_left, np.ones(len(left), dtype=np.int64), caps_right]).astype(np.int64)
        mf.add_arcs_with_capacity(tails.astype(np.int32), heads.astype(np.int32), caps)
        if mf.solve(int(src), int(sink)) != mf.OPTIMAL:
            return -1, [], []
        side = set(mf.get_source_side_min_cut())
        return int(mf.optimal_flow()), [x for x in range(n_left) if x in side], \
            [x - n_left for x in range(n_left, n_left + len(caps_right)) if x in side]

    need = int(paper_need.sum())
    flow, papers, reviewers = cut(paper_need, upper, left_is_paper=True)
    if 0 <= flow < need and papers:
        want = int(paper_need[papers].sum())
        inside = set(reviewers)
        outside_edges = int(sum(1 for i in papers for j in np.flatnonzero(eligible[i]) if j not in inside))
        cap = int(upper[reviewers].sum()) + outside_edges
        shown = ", ".join(str(i) for i in papers[:12]) + (" …" if len(papers) > 12 else "")
        return (f"submissions {shown} need {want} reviews in total, but with conflicts, locks and max load the "
                f"reviewers eligible for them can give at most {cap} (Hall's condition fails)")
    want_min = int(lower.sum())
    if want_min:
        flow, revs, _papers = cut(lower, paper_need, left_is_paper=False)
        if 0 <= flow < want_min and revs:
            shown = ", ".join(str(j) for j in revs[:12]) + (" …" if len(revs) > 12 else "")
            return (f"reviewers {shown} must review {int(lower[revs].sum())} submissions in total to reach the min "
                    f"load, but the submissions eligible for them have too few open slots")
    return "the min and max loads cannot be met together with the conflicts and locks"


def _check_groups(free: np.ndarray, groups: np.ndarray, locked: list[tuple[int, int]],
                  paper_need: np.ndarray) -> np.ndarray:
    """"At most one reviewer per group": a locked reviewer uses up their group's place on that submission (the
    group's other members leave its free pairs, in place), two locked reviewers of one group are an error, and a
    submission needs free reviewers from enough different groups (a reviewer without a group counts alone)."""
    g = np.asarray(groups, dtype=np.int64)
    if g.shape != (free.shape[1],):
        raise ValueError(f"reviewer_groups has shape {g.shape}, expected ({free.shape[1]},)")
    seen: dict[tuple[int, int], int] = {}
    for i, j in locked:
        if g[j] < 0:
            continue
        if (i, int(g[j])) in seen:
            raise Infeasible(f'"{OPTION_ONE_PER_GROUP}": submission {i} has two locked reviewers of one group '
                             f"(reviewers {seen[(i, int(g[j]))]}, {j}); unlock one or turn the option off")
        seen[(i, int(g[j]))] = j
        free[i, g == g[j]] = False
    for i in np.flatnonzero(paper_need > 0):
        cols = np.flatnonzero(free[i])
        distinct = len(set(g[cols][g[cols] >= 0].tolist())) + int((g[cols] < 0).sum())
        if distinct < paper_need[i]:
            raise Infeasible(f'"{OPTION_ONE_PER_GROUP}" makes this impossible: submission {i} needs '
                             f"{int(paper_need[i])} more reviewer(s) but its eligible reviewers come from only "
                             f"{distinct} different group(s) (lower k or turn the option off)")
    return g


# ---- graph building --------------------------------------------------------------------------------------


def _top_m_edges(aff: np.ndarray, eligible: np.ndarray, m: int, extra: np.ndarray) -> np.ndarray:
    """Flat indices (i * R + j) of the union of each submission's and each reviewer's top-m eligible pairs."""
    n_papers, n_reviewers = aff.shape
    parts = [extra]
    block = max(1, 4_000_000 // max(n_reviewers, 1))
    m_row = min(m, n_reviewers)
    for start in range(0, n_papers, block):
        sub = np.where(eligible[start:start + block], aff[start:start + block], -np.inf)
        idx = np.argpartition(-sub, m_row - 1, axis=1)[:, :m_row] if m_row < n_reviewers else \
            np.broadcast_to(np.arange(n_reviewers), sub.shape)
        rows = np.arange(start, start + sub.shape[0])[:, None]
        ok = np.isfinite(np.take_along_axis(sub, idx, axis=1))
        parts.append((rows * n_reviewers + idx)[ok].astype(np.int64))
    m_col = min(m, n_papers)
    block = max(1, 4_000_000 // max(n_papers, 1))
    for start in range(0, n_reviewers, block):
        # transpose the column block so the partition runs over contiguous memory
        sub = np.ascontiguousarray(np.where(eligible[:, start:start + block], aff[:, start:start + block], -np.inf).T)
        idx = np.argpartition(-sub, m_col - 1, axis=1)[:, :m_col] if m_col < n_papers else \
            np.broadcast_to(np.arange(n_papers), sub.shape)
        cols = np.arange(start, start + sub.shape[0])[:, None]
        ok = np.isfinite(np.take_along_axis(sub, idx, axis=1))
        parts.append((idx.astype(np.int64) * n_reviewers + cols)[ok])
    return np.unique(np.concatenate(parts))


@dataclass
class _FlowResult:
    chosen: np.ndarray  # flat indices of the pairs with flow
    flat: np.ndarray
    gain: np.ndarray
    used: np.ndarray
    reviewer_flow: np.ndarray


def _flow(aff: np.ndarray, flat: np.ndarray, bonus: np.ndarray | None, paper_need: np.ndarray, upper: np.ndarray,
          lower: np.ndarray, weights: np.ndarray | None = None,
          reviewer_groups: np.ndarray | None = None) -> _FlowResult | None:
    """Solve the flow on the candidate pairs `flat`; None if infeasible.

    weights: optional per-submission multipliers in (0, 1] (fair mode); pair (i, j) then gains w_i·a_ij.
    reviewer_groups: the group of each reviewer (-1: none) for "at most one reviewer per group on a
    submission": the pairs of submission i with group g's reviewers then leave i through one node (i, g) whose
    single in-arc has capacity 1, so the constraint is exact in the flow (no penalty, no repair).
    """
    from ortools.graph.python import min_cost_flow

    n_papers, n_reviewers = aff.shape
    sink = n_papers + n_reviewers
    tails = flat // n_reviewers
    heads = flat % n_reviewers
    value = aff.reshape(-1)[flat].astype(np.float64)
    if weights is not None:
        value = value * weights[tails]
    gain = np.rint(value * SCALE).astype(np.int64)
    if bonus is not None:
        gain += bonus
    smcf = min_cost_flow.SimpleMinCostFlow()
    starts = tails.astype(np.int64)
    if reviewer_groups is not None and len(flat):
        g = np.asarray(reviewer_groups, dtype=np.int64)[heads]
        grouped = g >= 0
        if grouped.any():
            combo = tails[grouped] * (int(g.max()) + 1) + g[grouped]
            uniq, inverse = np.unique(combo, return_inverse=True)
            group_nodes = sink + 1 + np.arange(len(uniq))  # after the sink: supplies stay 0
            starts = starts.copy()
            starts[grouped] = group_nodes[inverse]
            smcf.add_arcs_with_capacity_and_unit_cost(
                (uniq // (int(g.max()) + 1)).astype(np.int32), group_nodes.astype(np.int32),
                np.ones(len(uniq), dtype=np.int64), np.zeros(len(uniq), dtype=np.int64))
    arcs = smcf.add_arcs_with_capacity_and_unit_cost(
        starts.astype(np.int32), (n_papers + heads).astype(np.int32), np.ones(len(flat), dtype=np.int64), -gain)
    reviewer_arcs = smcf.add_arcs_with_capacity_and_unit_cost(
        (n_papers + np.arange(n_reviewers)).astype(np.int32), np.full(n_reviewers, sink, dtype=np.int32),
        (upper - lower).astype(np.int64), np.zeros(n_reviewers, dtype=np.int64))
    supplies = np.concatenate([paper_need, -lower, [-(paper_need.sum() - lower.sum())]]).astype(np.int64)
    smcf.set_nodes_supplies(np.arange(sink + 1, dtype=np.int32), supplies)
    status = smcf.solve()
    if status == smcf.INFEASIBLE:
        return None
    if status != smcf.OPTIMAL:  # reading flows after anything but OPTIMAL is unsafe (may crash)
        raise RuntimeError(f"min-cost flow failed with status {status}")
    used = smcf.flows(arcs) > 0
    return _FlowResult(flat[used], flat, gain, used, np.asarray(smcf.flows(reviewer_arcs)))


def _potentials(n_papers: int, n_reviewers: int, res: _FlowResult, spare: np.ndarray) -> np.ndarray | None:
    """Shortest-path node potentials in the residual graph of an optimal flow (vectorised Bellman-Ford).

    With them every residual arc has a non-negative reduced cost; an arc left out of the sparse graph whose
    reduced cost is also non-negative cannot improve the solution (LP duality), which is the certificate.
    """
    tails, heads = res.flat // n_reviewers, n_papers + res.flat % n_reviewers
    sink, root = n_papers + n_reviewers, n_papers + n_reviewers + 1
    reviewers = n_papers + np.arange(n_reviewers)
    fwd, back = res.reviewer_flow < spare, res.reviewer_flow > 0
    src = np.concatenate([tails[~res.used], heads[res.used], reviewers[fwd], np.full(back.sum(), sink),
                          np.full(root, root)])
    dst = np.concatenate([heads[~res.used], tails[res.used], np.full(fwd.sum(), sink), reviewers[back],
                          np.arange(root)])
    w = np.concatenate([-res.gain[~res.used], res.gain[res.used], np.zeros(fwd.sum() + back.sum() + root)])
    w = w.astype(np.float64)
    dist = np.full(root + 1, np.inf)
    dist[root] = 0.0
    for _ in range(root + 2):
        new = dist.copy()
        np.minimum.at(new, dst, dist[src] + w)
        if np.array_equal(new, dist):
            return dist[:root]
        dist = new
    return None  # a negative cycle: the flow was not optimal, so there is no certificate


def _violations(aff: np.ndarray, usable: np.ndarray, dist: np.ndarray, in_graph: np.ndarray) -> np.ndarray:
    """Flat indices of usable pairs outside the graph whose reduced cost is negative (they could improve it)."""
    n_papers, n_reviewers = aff.shape
    d_paper, d_reviewer = dist[:n_papers], dist[n_papers:n_papers + n_reviewers]
    block = max(1, 4_000_000 // max(n_reviewers, 1))
    found = []
    for start in range(0, n_papers, block):
        stop = min(start + block, n_papers)
        gain = np.rint(aff[start:stop].astype(np.float64) * SCALE)
        reduced = -gain + d_paper[start:stop, None] - d_reviewer[None, :]
        ii, jj = np.nonzero((reduced < -0.5) & usable[start:stop])
        found.append((ii + start).astype(np.int64) * n_reviewers + jj)
    cand = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
    return np.setdiff1d(cand, in_graph, assume_unique=False)


def _fair_key(totals: np.ndarray) -> tuple[float, float]:
    return float(totals.min()), float(totals.sum())


def _better(a: tuple[float, float], b: tuple[float, float], tol: float = 1e-9) -> bool:
    """Lexicographic (min submission total, total) comparison with a float tolerance."""
    if a[0] > b[0] + tol:
        return True
    return a[0] >= b[0] - tol and a[1] > b[1] + tol


def _fair_search(aff: np.ndarray, flat: np.ndarray, bonus: np.ndarray | None, paper_need: np.ndarray,
                 upper: np.ndarray, lower: np.ndarray, lock_total: np.ndarray, start: np.ndarray,
                 reviewer_groups: np.ndarray | None = None) -> np.ndarray:
    """Max-min over submission totals by multiplicative weights on its Lagrangian (see `solve`).

    max t s.t. T_p(x) >= t for every submission p has the Lagrangian dual min over λ in the simplex of
    max_x Σ_p λ_p·T_p(x), and each inner max is the ordinary flow with per-submission weights λ_p. The dual is
    minimised by exponentiated subgradient steps (λ_p shrinks by exp(-η·T_p)), i.e. submissions whose totals
    came out low gain weight. Every round's assignment is a feasible candidate; the best by
    (min total, total) is kept, starting from `start` (plain mode's answer), so the result is never worse.
    """
    n_papers, n_reviewers = aff.shape
    flat_aff = aff.reshape(-1)

    def totals_of(chosen: np.ndarray) -> np.ndarray:
        return lock_total + np.bincount(chosen // n_reviewers, flat_aff[chosen], minlength=n_papers)

    totals = totals_of(start)
    best, best_key = start, _fair_key(totals)
    log_w = np.zeros(n_papers)
    stale = 0
    for r in range(FAIR_ROUNDS):
        gap = totals - totals.min()
        log_w -= FAIR_STEP / np.sqrt(r + 1) * gap / max(float(gap.max()), 1e-9)  # normalised subgradient step
        log_w = np.maximum(log_w - log_w.max(), np.log(FAIR_MIN_WEIGHT))  # weights in [FAIR_MIN_WEIGHT, 1]
        res = _flow(aff, flat, bonus, paper_need, upper, lower, np.exp(log_w), reviewer_groups)
        if res is None:  # cannot happen on a graph holding a feasible answer; be safe
            break
        totals = totals_of(res.chosen)
        key = _fair_key(totals)
        if _better(key, best_key):
            best, best_key, stale = res.chosen, key, 0
        else:
            stale += 1
            if stale >= FAIR_PATIENCE:
                break
    return best


def _auto_top_m(k: int, max_load: int) -> int:
    # Enough spare candidates that competition for popular reviewers rarely needs an edge outside the set.
    return max(24, 6 * k, 4 * max_load)


# ---- the solver ------------------------------------------------------------------------------------------


def _solve_once(affinity: np.ndarray, k: int, min_load: int, max_load: int, conflicts: np.ndarray | None = None,
                locked: list[tuple[int, int]] | None = None, *, fair: bool = False,
                previous: list[tuple[int, int]] | None = None, top_m: int | None = None,
                stickiness: float = STICKINESS, groups: np.ndarray | None = None) -> Solution:
    """One solve (see `solve`; groups: each reviewer's group for the group nodes, or None).

    Assign exactly k reviewers per submission with loads in [min_load, max_load], maximising total affinity.

    conflicts: boolean papers × reviewers mask of forbidden pairs. locked: pairs that must stay.
    previous: the current assignment; each kept pair earns `stickiness` so a re-solve changes little.
    top_m: None = automatic (dense graph when small, sparse top-m graph when large); an int forces the
    sparse graph with that m (m >= max(papers, reviewers) means dense). A sparse optimum is priced out
    against the dense problem (Solution.certified_optimal), and the graph is widened, finally made dense,
    when it is infeasible.

    fair=True maximises the worst-off submission's total affinity (locked pairs included) first, then the
    total among assignments reaching it. That max-min over per-submission sums is NP-hard in general, so it is
    a heuristic built from flow solves, and Solution.threshold is the min submission total it reached. The
    candidates are plain mode's answer, the bottleneck answer (largest t such that the free pairs >= t admit an
    assignment; binary search) and the rounds of a Lagrangian / multiplicative-weights method: the dual
    min over λ of max_x Σ_p λ_p·T_p(x) is an ordinary flow with per-submission weights, and low totals raise
    their weight (at most FAIR_ROUNDS flows, stopping after FAIR_PATIENCE rounds without gain; run on all
    free pairs and on the bottleneck's pairs). The best candidate by (min total, total) wins, so fair mode is
    never worse than plain mode on the min total. Large instances run the rounds on the top-m graph.
    """
    started = time.perf_counter()
    aff = np.asarray(affinity)
    if not np.issubdtype(aff.dtype, np.floating):
        aff = aff.astype(np.float64)  # float32 input stays float32: a 20000² matrix is 1.6 GB, not 3.2
    locked_set = list(dict.fromkeys((int(i), int(j)) for i, j in (locked or [])))
    eligible = _check_inputs(aff, k, min_load, max_load, conflicts, locked_set)
    n_papers, n_reviewers = aff.shape
    if n_papers == 0 or k == 0:
        return _finish(aff, [], k, n_reviewers, started, previous)

    lock_paper = np.bincount([i for i, _ in locked_set], minlength=n_papers).astype(np.int64)
    lock_reviewer = np.bincount([j for _, j in locked_set], minlength=n_reviewers).astype(np.int64)
    paper_need = k - lock_paper
    upper = max_load - lock_reviewer
    lower = np.maximum(min_load - lock_reviewer, 0)
    free = eligible.copy()
    for i, j in locked_set:
        free[i, j] = False
    if groups is not None:
        groups = _check_groups(free, groups, locked_set, paper_need)
    if lower.sum() > paper_need.sum():
        raise Infeasible(f"min load too high: reviewers still need {int(lower.sum())} submissions to reach min load "
                         f"{min_load} but only {int(paper_need.sum())} slots are left after locks")

    prev_flat = np.array(sorted({int(i) * n_reviewers + int(j) for i, j in (previous or [])
                                 if 0 <= i < n_papers and 0 <= j < n_reviewers and free[i, j]}), dtype=np.int64)

    def bonus_for(flat: np.ndarray) -> np.ndarray | None:
        if not len(prev_flat) or stickiness <= 0:
            return None
        return np.where(np.isin(flat, prev_flat), int(round(stickiness * SCALE)), 0).astype(np.int64)

    n_free = int(free.sum())
    if groups is not None:
        m = None  # the pricing certificate knows no group nodes; course-sized instances are small anyway
    elif top_m is None:
        m = None if n_free <= DENSE_EDGE_LIMIT else _auto_top_m(k, max_load)
    else:
        m = top_m if top_m < max(n_papers, n_reviewers) else None
    dense_flat: np.ndarray | None = None

    def dense() -> np.ndarray:
        nonlocal dense_flat
        if dense_flat is None:
            dense_flat = np.flatnonzero(free.reshape(-1)).astype(np.int64)
        return dense_flat

    def run(mask_value: float | None) -> tuple[np.ndarray | None, bool, bool, int]:
        """Solve on the sparse graph (widening on failure) then dense; mask_value restricts to aff >= value.

        A sparse solution is priced out: pairs outside the graph that could still improve it (negative reduced
        cost under the flow's potentials) are added and the flow solved again, until none is left — so the
        sparse answer is the dense optimum, only cheaper. Without a certificate it widens like infeasibility.
        """
        nonlocal certified, prices
        usable = free if mask_value is None else (free & (aff >= mask_value))
        sparse_used = fell_back = False
        mm = m
        while mm is not None and mm < max(n_papers, n_reviewers):
            prev_usable = prev_flat[usable.reshape(-1)[prev_flat]] if len(prev_flat) else prev_flat
            flat = _top_m_edges(aff, usable, mm, prev_usable)
            sparse_used = True
            for _round in range(PRICING_ROUNDS):
                res = _flow(aff, flat, bonus_for(flat), paper_need, upper, lower, reviewer_groups=groups)
                if res is None:
                    break
                dist = _potentials(n_papers, n_reviewers, res, upper - lower)
                if dist is None:
                    break
                extra = _violations(aff, usable, dist, flat)
                if not len(extra):
                    certified = True
                    prices = np.maximum(0.0, dist[n_papers + n_reviewers] - dist[n_papers:n_papers + n_reviewers])
                    return res.chosen, sparse_used, fell_back, len(flat)
                flat = np.union1d(flat, extra)
            fell_back = True
            mm *= 4
        flat = dense() if mask_value is None else np.flatnonzero(usable.reshape(-1)).astype(np.int64)
        res = _flow(aff, flat, bonus_for(flat), paper_need, upper, lower, reviewer_groups=groups)
        certified = res is not None
        return (None if res is None else res.chosen), sparse_used, fell_back, len(flat)

    certified = False
    prices: np.ndarray | None = None
    chosen, sparse_used, fell_back, n_edges = run(None)
    if chosen is None:
        if groups is not None:
            raise Infeasible(f'"{OPTION_ONE_PER_GROUP}" makes this impossible: with at most one reviewer of each '
                             f"group on a submission, {_plural(n_papers, 'submission')} cannot get {k} reviewers "
                             f"each within max load {max_load} (raise the max load, lower k, or turn the option off)")
        raise Infeasible(_explain_flow_failure(free, paper_need, upper, lower))
    threshold = None
    if fair:
        flat_aff = aff.reshape(-1)
        lock_total = np.zeros(n_papers)
        for i, j in locked_set:
            lock_total[i] += aff[i, j]

        def key_of(ch: np.ndarray) -> tuple[float, float]:
            return _fair_key(lock_total + np.bincount(ch // n_reviewers, flat_aff[ch], minlength=n_papers))

        # Candidate 2: the bottleneck answer — the largest t such that the free pairs with affinity >= t still
        # admit an assignment (binary search over flows), then the best total on those pairs.
        values = np.unique(aff[free])
        lo, hi, bottleneck = 0, len(values) - 1, chosen  # values[0] keeps every free pair: the plain answer
        while lo < hi:
            mid = (lo + hi + 1) // 2
            got = run(float(values[mid]))[0]
            if got is None:
                hi = mid - 1
            else:
                lo, bottleneck = mid, got
        # The weighted rounds run on fixed graphs: all free pairs (dense when small, else the top-m graph
        # plus the candidates' pairs so every round is feasible), and the bottleneck's pairs >= t.
        if m is None:
            full = dense()
        else:
            full = np.union1d(_top_m_edges(aff, free, m, prev_flat), np.union1d(chosen, bottleneck))
        high = np.union1d(full[flat_aff[full] >= values[lo]], bottleneck)
        candidates = [chosen, bottleneck]
        warm = max(candidates, key=key_of)  # ties keep the first; key_of compares (min total, total)
        for start, flat in ((warm, full), (bottleneck, high)):
            candidates.append(_fair_search(aff, flat, bonus_for(flat), paper_need, upper, lower, lock_total, start,
                                           groups))
        chosen, best_key = candidates[0], key_of(candidates[0])
        for cand in candidates[1:]:
            if _better(key_of(cand), best_key):
                chosen, best_key = cand, key_of(cand)
        threshold = best_key[0]
        certified = False  # the answer maximises a different objective; no dense-optimum certificate

    pairs = sorted(locked_set + [(int(f // n_reviewers), int(f % n_reviewers)) for f in chosen])
    sol = _finish(aff, pairs, k, n_reviewers, started, previous)
    sol.used_sparse, sol.fell_back, sol.edges, sol.threshold = sparse_used, fell_back, n_edges, threshold
    sol.certified_optimal = certified
    if prices is not None and not fair:
        sol.reviewer_prices = [float(x) / SCALE for x in prices]
    return sol


def solve(affinity: np.ndarray, k: int, min_load: int, max_load: int, conflicts: np.ndarray | None = None,
          locked: list[tuple[int, int]] | None = None, *, fair: bool = False,
          previous: list[tuple[int, int]] | None = None, top_m: int | None = None,
          stickiness: float = STICKINESS, reviewer_groups: np.ndarray | None = None,
          paper_groups: np.ndarray | None = None, one_per_group: bool = False,
          no_reciprocal: bool = False) -> Solution:
    """Assign exactly k reviewers per submission with loads in [min_load, max_load], maximising total affinity.

    conflicts: boolean papers × reviewers mask of forbidden pairs. locked: pairs that must stay.
    previous: the current assignment; each kept pair earns `stickiness` so a re-solve changes little.
    top_m, fair: see `_solve_once`.

    Course options (reviewer_groups: each reviewer's group id, paper_groups: each submission's authors' group
    id; -1 for none):

    - one_per_group: at most one reviewer of a group on a submission. Exact, inside the flow: a node per
      (submission, group) with an in-arc of capacity 1 stands between the submission and that group's reviewers.
    - no_reciprocal: no two groups review each other (a member of A on B's submission while a member of B is on
      A's). ENFORCED, not penalised: in marked peer review a reciprocal pair is a channel for trading lenient
      reviews, and a penalty would still leave some wherever affinity outweighs it, so the chair could not tell
      students "no group reviews a group that reviews it". A pairwise rule has no exact min-cost-flow form (it
      is an integer program), so it is enforced lazily: solve, find the reciprocal group pairs, forbid for each
      the direction worth less affinity (all of A's members on B's submissions), solve again, until none is left.
      Every answer is an exact flow optimum under the bans; the bans themselves are a heuristic, so the total
      may be below the best reciprocal-free one. Pairs of groups whose both directions are locked stay
      (Solution.reciprocal_locked).

    Raises Infeasible with a readable reason; when an option is what makes the instance infeasible, the reason
    starts with the option's name in quotes.
    """
    n_papers, n_reviewers = np.asarray(affinity).shape if np.ndim(affinity) == 2 else (0, 0)
    rg = pg = None
    if one_per_group or no_reciprocal:
        if reviewer_groups is None:
            raise ValueError("the group options need reviewer_groups")
        rg = np.asarray(reviewer_groups, dtype=np.int64)
        if rg.shape != (n_reviewers,):
            raise ValueError(f"reviewer_groups has shape {rg.shape}, expected ({n_reviewers},)")
    if no_reciprocal:
        if paper_groups is None:
            raise ValueError("no_reciprocal needs paper_groups")
        pg = np.asarray(paper_groups, dtype=np.int64)
        if pg.shape != (n_papers,):
            raise ValueError(f"paper_groups has shape {pg.shape}, expected ({n_papers},)")
    started = time.perf_counter()
    opts = {"fair": fair, "previous": previous, "top_m": top_m, "stickiness": stickiness,
            "groups": rg if one_per_group else None}
    base = conflicts
    if no_reciprocal:  # the bans are added to the conflict mask
        base = np.zeros((n_papers, n_reviewers), dtype=bool) if conflicts is None else np.asarray(conflicts, bool)

    def once(mask: np.ndarray) -> Solution:
        return _solve_once(affinity, k, min_load, max_load, mask, locked, **opts)

    try:
        sol = once(base)
    except Infeasible:
        if not one_per_group:
            raise
        opts["groups"] = None
        once(base)  # infeasible without the option too: that reason is the one to give (raises it)
        raise
    if not no_reciprocal or rg is None or pg is None:
        return sol
    _count_reciprocal_room(k, pg, rg, one_per_group)
    aff = np.asarray(affinity, dtype=np.float64)
    locked_set = {(int(i), int(j)) for i, j in (locked or [])}
    mask = base.copy()
    bans = rounds = 0
    while True:
        found = _reciprocal_pairs(sol.pairs, pg, rg, aff, locked_set)
        todo = [d for d in found if d is not None]
        if not todo:
            sol.reciprocal_locked = len(found)
            break
        trial = mask.copy()
        for a, b in todo:
            trial[np.ix_(pg == b, rg == a)] = True
        # Also keep every other used direction one-way (A reviews B and B does not review A: B may not start),
        # so the re-solve cannot make new reciprocal pairs out of the old ones; this ends in 2-3 flows where
        # banning only the pairs found took ~10 on clustered course topics. If that is too strict, only the
        # pairs found are banned (below), then one at a time.
        used = _directions(sol.pairs, pg, rg)
        frozen = trial.copy()
        for a, b in used:
            if (b, a) not in used:
                frozen[np.ix_(pg == a, rg == b)] = True
        for attempt in (frozen, trial):
            rounds += 1
            try:
                sol = once(attempt)
                mask, bans = attempt, bans + len(todo)
                break
            except Infeasible:
                continue
        else:
            attempt = None
        if attempt is not None:
            continue
        # All bans at once were too many: forbid the first pair's cheaper direction alone, else its other one.
        a, b = todo[0]
        for x, y in ((a, b), (b, a)):
            trial = mask.copy()
            trial[np.ix_(pg == y, rg == x)] = True
            rounds += 1
            try:
                sol = once(trial)
                mask, bans = trial, bans + 1
                break
            except Infeasible:
                continue
        else:
            i_a, i_b = int(np.flatnonzero(pg == a)[0]), int(np.flatnonzero(pg == b)[0])
            raise Infeasible(f'"{OPTION_NO_RECIPROCAL}" makes this impossible: the groups of submissions {i_a}, '
                             f"{i_b} review each other's work, and forbidding either direction leaves no assignment "
                             "with these k, loads and conflicts (turn the option off, or change k or the loads)")
    sol.reciprocal_bans, sol.reciprocal_rounds = bans, rounds
    sol.seconds = time.perf_counter() - started
    return sol


def every_reviewer_min_load(n_papers: int, k: int, n_reviewers: int, max_load: int) -> tuple[int, str | None]:
    """"Every student reviews": the min load that gives each reviewer at least one submission, and None; or,
    when the slots (submissions × k) are fewer than the reviewers, 0 and a message suggesting the k that would
    make it possible (a min load the slots cannot fill would only make the solve infeasible)."""
    if n_reviewers == 0 or n_papers == 0:
        return 0, None
    slots = n_papers * k
    if slots >= n_reviewers:
        return 1, None
    need_k = math.ceil(n_reviewers / n_papers)
    load = math.ceil(n_papers * need_k / n_reviewers)
    hint = f" and max load {load}" if load > max_load else ""
    return 0, (f"Not every student can review: {_plural(n_papers, 'submission')} × k={k} = {slots} review slots for "
               f"{_plural(n_reviewers, 'reviewer')}, so {n_reviewers - slots} get nothing. With k={need_k}{hint} "
               f"({n_papers * need_k} slots) every student reviews.")


def _count_reciprocal_room(k: int, paper_groups: np.ndarray, reviewer_groups: np.ndarray, one_per_group: bool) -> None:
    """The counting reason no search is needed for: with one reviewer per group, each group's submission needs k
    reviewing groups, so G groups of authors need G·k directions between groups, and without reciprocal pairs G
    groups (plus the reviewing groups without a submission) offer at most one direction per pair of groups."""
    if not one_per_group or (reviewer_groups < 0).any():
        return  # a reviewer without a group is in no reciprocal pair: no simple bound
    authors = paper_groups[paper_groups >= 0]
    if len(np.unique(authors)) != len(authors):
        return  # a group with two submissions: no simple bound either
    n_groups = len(set(authors.tolist()) | set(reviewer_groups.tolist()))
    need, room = len(authors) * k, n_groups * (n_groups - 1) // 2
    if need > room:
        best = max((n_groups - 1) // 2, 0) if len(authors) == n_groups else None
        hint = f"k={best} at most" if best else "fewer reviewers per submission"
        raise Infeasible(f'"{OPTION_NO_RECIPROCAL}" makes this impossible: with at most one reviewer per group, '
                         f"{_plural(len(authors), 'submission')} × k={k} need {need} reviewing directions between "
                         f"groups, but {n_groups} groups have only {room} pairs, one direction each ({hint}, or turn "
                         "the option off)")


def _reciprocal_pairs(pairs: list[tuple[int, int]], paper_groups: np.ndarray, reviewer_groups: np.ndarray,
                      aff: np.ndarray, locked: set[tuple[int, int]]) -> list[tuple[int, int] | None]:
    """Each reciprocal group pair once: the direction (reviewing group, reviewed group) to forbid — the one with
    less assigned affinity among those without a locked pair — or None when both directions hold a locked pair."""
    value: dict[tuple[int, int], float] = {}
    has_lock: set[tuple[int, int]] = set()
    for i, j in pairs:
        a, b = int(reviewer_groups[j]), int(paper_groups[i])
        if a < 0 or b < 0 or a == b:
            continue
        value[(a, b)] = value.get((a, b), 0.0) + float(aff[i, j])
        if (i, j) in locked:
            has_lock.add((a, b))
    out: list[tuple[int, int] | None] = []
    for (a, b), v in sorted(value.items()):
        if a > b or (b, a) not in value:
            continue
        options = [d for d in ((a, b), (b, a)) if d not in has_lock]
        out.append(min(options, key=lambda d: value[d]) if options else None)
    return out


def _directions(pairs: list[tuple[int, int]], paper_groups: np.ndarray, reviewer_groups: np.ndarray
                ) -> set[tuple[int, int]]:
    """(reviewing group, reviewed group) of every pair between two different groups."""
    return {(int(reviewer_groups[j]), int(paper_groups[i])) for i, j in pairs
            if reviewer_groups[j] >= 0 and paper_groups[i] >= 0 and reviewer_groups[j] != paper_groups[i]}


def count_reciprocal(pairs: list[tuple[int, int]], paper_groups: np.ndarray, reviewer_groups: np.ndarray) -> int:
    """How many unordered pairs of groups review each other in `pairs` (for stats and tests)."""
    directions = _directions(pairs, paper_groups, reviewer_groups)
    return sum(1 for a, b in directions if a < b and (b, a) in directions)


def _finish(aff: np.ndarray, pairs: list[tuple[int, int]], k: int, n_reviewers: int, started: float,
            previous: list[tuple[int, int]] | None) -> Solution:
    n_papers = aff.shape[0]
    values = np.array([aff[i, j] for i, j in pairs], dtype=np.float64)
    paper_totals = np.zeros(n_papers)
    loads = np.zeros(n_reviewers, dtype=np.int64)
    for (i, j), v in zip(pairs, values, strict=True):
        paper_totals[i] += v
        loads[j] += 1
    prev = {(int(i), int(j)) for i, j in (previous or [])}
    return Solution(pairs=pairs, total=float(values.sum()),
                    mean_affinity=float(values.mean()) if len(values) else 0.0,
                    min_affinity=float(values.min()) if len(values) else 0.0,
                    paper_totals=[float(x) for x in paper_totals],
                    load_histogram={int(n): int(c) for n, c in sorted(Counter(loads.tolist()).items())},
                    kept_previous=sum(1 for p in pairs if p in prev),
                    seconds=time.perf_counter() - started)
