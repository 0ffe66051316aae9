"""Solver: optimality against independent exact methods, constraints, readable infeasibility, sparse fallback."""

import itertools
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from app.assignment.solver import Infeasible, Solution, _top_m_edges, count_reciprocal, every_reviewer_min_load, solve


def check_valid(sol: Solution, aff: np.ndarray, k: int, min_load: int, max_load: int,
                conflicts: np.ndarray | None = None, locked=()) -> None:  # noqa: ANN001
    n_papers, n_reviewers = aff.shape
    assert len(set(sol.pairs)) == len(sol.pairs), "a pair appears twice"
    per_paper = np.bincount([i for i, _ in sol.pairs], minlength=n_papers)
    loads = np.bincount([j for _, j in sol.pairs], minlength=n_reviewers)
    assert (per_paper == k).all()
    assert (loads >= min_load).all() and (loads <= max_load).all()
    if conflicts is not None:
        assert not any(conflicts[i, j] for i, j in sol.pairs)
    assert set(locked) <= set(sol.pairs)
    assert sol.total == pytest.approx(sum(aff[i, j] for i, j in sol.pairs), abs=1e-9)
    assert sol.paper_totals == pytest.approx([sum(aff[i, j] for i, j in sol.pairs if i == p) for p in range(n_papers)])
    assert sum(sol.load_histogram.values()) == n_reviewers


def _all_assignments(aff: np.ndarray, k: int, min_load: int, max_load: int, conflicts: np.ndarray | None = None,
                     locked=()):
    """Every feasible way to give each paper k reviewers, as its list of per-paper totals (tiny instances only)."""
    n_papers, n_reviewers = aff.shape
    options = []
    for i in range(n_papers):
        must = {j for p, j in locked if p == i}
        opts = [c for c in itertools.combinations(range(n_reviewers), k)
                if must <= set(c) and (conflicts is None or not conflicts[i, list(c)].any())]
        options.append(opts)
    for combo in itertools.product(*options):
        loads = np.zeros(n_reviewers, dtype=int)
        for c in combo:
            loads[list(c)] += 1
        if (loads < min_load).any() or (loads > max_load).any():
            continue
        yield [sum(aff[i, j] for j in c) for i, c in enumerate(combo)]


def brute_force(aff: np.ndarray, k: int, min_load: int, max_load: int, conflicts: np.ndarray | None = None,
                locked=()) -> float | None:  # noqa: ANN001
    """Best total over every way to give each paper k reviewers (tiny instances only); None if none exists."""
    return max((sum(t) for t in _all_assignments(aff, k, min_load, max_load, conflicts, locked)), default=None)


def brute_force_max_min(aff: np.ndarray, k: int, min_load: int, max_load: int, conflicts: np.ndarray | None = None,
                        locked=()) -> float | None:
    """Best achievable minimum paper total (tiny instances only); None if no assignment exists."""
    return max((min(t) for t in _all_assignments(aff, k, min_load, max_load, conflicts, locked)), default=None)


# ---- optimality ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(40))
def test_k1_matches_linear_sum_assignment_on_load_slots(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_papers, n_reviewers, max_load = int(rng.integers(1, 12)), int(rng.integers(1, 8)), int(rng.integers(1, 4))
    if n_papers > n_reviewers * max_load:
        n_papers = n_reviewers * max_load
    aff = rng.random((n_papers, n_reviewers))
    sol = solve(aff, 1, 0, max_load)
    check_valid(sol, aff, 1, 0, max_load)
    slots = np.repeat(aff, max_load, axis=1)  # each reviewer becomes max_load interchangeable slots
    rows, cols = linear_sum_assignment(slots, maximize=True)
    assert sol.total == pytest.approx(slots[rows, cols].sum(), abs=1e-5)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_matches_brute_force_with_min_load_conflicts_and_locks(data: st.DataObject) -> None:
    n_papers = data.draw(st.integers(1, 3), label="papers")
    n_reviewers = data.draw(st.integers(2, 4), label="reviewers")
    k = data.draw(st.integers(1, min(2, n_reviewers)), label="k")
    max_load = data.draw(st.integers(1, 3), label="max_load")
    min_load = data.draw(st.integers(0, max_load), label="min_load")
    values = data.draw(st.lists(st.floats(0, 1, allow_nan=False), min_size=n_papers * n_reviewers,
                                max_size=n_papers * n_reviewers), label="aff")
    aff = np.array(values).reshape(n_papers, n_reviewers)
    flags = data.draw(st.lists(st.booleans(), min_size=n_papers * n_reviewers, max_size=n_papers * n_reviewers))
    conflicts = np.array(flags).reshape(n_papers, n_reviewers) & (np.array(values).reshape(aff.shape) < 0.25)
    cand = [(i, j) for i in range(n_papers) for j in range(n_reviewers)]
    locked = data.draw(st.lists(st.sampled_from(cand), max_size=2, unique=True), label="locked")
    expected = brute_force(aff, k, min_load, max_load, conflicts, locked)
    if expected is None:
        with pytest.raises(Infeasible):
            solve(aff, k, min_load, max_load, conflicts, locked)
        return
    sol = solve(aff, k, min_load, max_load, conflicts, locked)
    check_valid(sol, aff, k, min_load, max_load, conflicts, locked)
    assert sol.total == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("seed", range(5))
def test_sparse_graph_matches_dense_on_random_instances(seed: int) -> None:
    aff = np.random.default_rng(seed).random((150, 120))
    dense = solve(aff, 3, 1, 4, top_m=10**6)
    sparse = solve(aff, 3, 1, 4, top_m=12)
    assert sparse.used_sparse and not dense.used_sparse
    assert sparse.certified_optimal and dense.certified_optimal
    check_valid(sparse, aff, 3, 1, 4)
    assert sparse.total == pytest.approx(dense.total, rel=1e-9)


def test_pricing_adds_the_pairs_a_tiny_sparse_graph_misses() -> None:
    """With top-2 candidates the first sparse optimum is often worse; pricing must still reach the dense optimum."""
    grew = 0
    for seed in range(12):
        rng = np.random.default_rng(100 + seed)
        aff = rng.random((40, 30)) ** 2
        conflicts = rng.random(aff.shape) < 0.1
        dense = solve(aff, 2, 1, 4, conflicts, top_m=10**6)
        sparse = solve(aff, 2, 1, 4, conflicts, top_m=2)
        check_valid(sparse, aff, 2, 1, 4, conflicts)
        assert sparse.total == pytest.approx(dense.total, abs=1e-6)
        assert sparse.certified_optimal
        initial = _top_m_edges(aff, ~conflicts, 2, np.zeros(0, dtype=np.int64))
        grew += (sparse.used_sparse and not sparse.fell_back and sparse.edges > len(initial))
    assert grew > 0, "no instance exercised pricing; make the instances harder"


def test_sparse_infeasible_but_dense_feasible_falls_back() -> None:
    # Every paper's top-1 reviewer is reviewer 0 and every reviewer's top-1 paper is paper 0, so the
    # top-1 graph only offers reviewer 0 to papers 1..4 — infeasible with max load 1; the dense graph is not.
    n = 5
    aff = np.full((n, n), 0.1)
    aff[:, 0] = 0.9
    aff[0, :] = 0.8
    aff[0, 0] = 1.0
    sol = solve(aff, 1, 0, 1, top_m=1)
    assert sol.used_sparse and sol.fell_back
    check_valid(sol, aff, 1, 0, 1)
    rows, cols = linear_sum_assignment(aff, maximize=True)
    assert sol.total == pytest.approx(aff[rows, cols].sum())


# ---- constraints -----------------------------------------------------------------------------------------


def test_locks_and_conflicts_are_respected_even_against_affinity() -> None:
    rng = np.random.default_rng(7)
    aff = rng.random((30, 20))
    conflicts = np.zeros(aff.shape, dtype=bool)
    best = np.argsort(-aff, axis=1)[:, :2]
    for i in range(30):  # forbid each paper's two favourite reviewers
        conflicts[i, best[i]] = True
    worst = int(np.argmin(aff[3] + conflicts[3]))  # lock a poor, allowed pair
    locked = [(3, worst), (4, int(np.argmin(aff[4] + conflicts[4])))]
    sol = solve(aff, 3, 2, 6, conflicts, locked)
    check_valid(sol, aff, 3, 2, 6, conflicts, locked)


def test_min_load_forces_every_reviewer_to_get_work() -> None:
    aff = np.zeros((6, 4))
    aff[:, 0] = 1.0  # everybody wants reviewer 0
    sol = solve(aff, 2, 3, 3)
    check_valid(sol, aff, 2, 3, 3)
    assert sol.load_histogram == {3: 4}


def test_stats_and_duplicate_locks() -> None:
    aff = np.array([[0.9, 0.1], [0.2, 0.8]])
    sol = solve(aff, 1, 0, 1, locked=[(0, 0), (0, 0)])
    assert sol.pairs == [(0, 0), (1, 1)]
    assert sol.total == pytest.approx(1.7)
    assert sol.mean_affinity == pytest.approx(0.85) and sol.min_affinity == pytest.approx(0.8)
    assert sol.min_paper_total == pytest.approx(0.8)
    assert sol.load_histogram == {1: 2}


def test_empty_and_trivial_instances() -> None:
    assert solve(np.zeros((0, 3)), 2, 0, 2).pairs == []
    assert solve(np.zeros((4, 3)), 0, 0, 2).pairs == []


# ---- infeasible input gets the reason --------------------------------------------------------------------


@pytest.mark.parametrize(("shape", "k", "min_load", "max_load", "needle"), [
    ((12, 10), 3, 0, 3, "12 submissions need 3 reviewers each = 36 slots but only 30 reviewer slots"),
    ((12, 10), 3, 4, 5, "min load too high: 10 reviewers × min 4 = 40 > 36 slots"),
    ((4, 5), 2, 0, 0, "max load 0"),
    ((4, 2), 3, 0, 10, "k=3 reviewers per submission but only 2 reviewers exist"),
    ((4, 5), 2, 3, 2, "max load 2 is below min load 3"),
])
def test_counting_infeasibility_is_explained(shape, k, min_load, max_load, needle) -> None:  # noqa: ANN001
    with pytest.raises(Infeasible, match=needle):
        solve(np.random.default_rng(0).random(shape), k, min_load, max_load)


def test_too_few_non_conflicted_reviewers_names_the_submission() -> None:
    conflicts = np.zeros((6, 5), dtype=bool)
    conflicts[4, :3] = True
    with pytest.raises(Infeasible, match="submission 4 has only 2 non-conflicted reviewers, needs 3"):
        solve(np.ones((6, 5)), 3, 0, 5, conflicts)


def test_all_reviewers_conflicted_with_one_submission() -> None:
    conflicts = np.zeros((3, 4), dtype=bool)
    conflicts[1] = True
    with pytest.raises(Infeasible, match="all reviewers are conflicted with submission 1"):
        solve(np.ones((3, 4)), 1, 0, 3, conflicts)


def test_reviewer_with_too_few_allowed_submissions_for_min_load() -> None:
    conflicts = np.zeros((4, 4), dtype=bool)
    conflicts[:3, 2] = True
    with pytest.raises(Infeasible, match="reviewer 2 may review only 1 submission"):
        solve(np.ones((4, 4)), 2, 2, 2, conflicts)


@pytest.mark.parametrize(("locked", "needle"), [
    ([(0, 1)], r"locked pair \(submission 0, reviewer 1\) is a conflict"),
    ([(2, 0), (2, 2), (2, 3)], "submission 2 has 3 locked reviewers but k=2"),
    ([(0, 0), (1, 0), (2, 0)], "reviewer 0 has 3 locked submissions but max load is 2"),
])
def test_bad_locks(locked, needle) -> None:  # noqa: ANN001
    conflicts = np.zeros((4, 4), dtype=bool)
    conflicts[0, 1] = True
    with pytest.raises(Infeasible, match=needle):
        solve(np.ones((4, 4)), 2, 0, 2, conflicts, locked)


def test_hall_violation_found_by_the_flow_is_explained() -> None:
    # Each paper alone has 2 allowed reviewers (the counting checks pass) but all three share the same two,
    # who can take only 4 of the 6 reviews.
    conflicts = np.zeros((3, 4), dtype=bool)
    conflicts[:, 2:] = True
    with pytest.raises(Infeasible, match=r"submissions 0, 1, 2 need 6 reviews in total.*at most 4.*Hall"):
        solve(np.ones((3, 4)), 2, 0, 2, conflicts)


def test_bad_arguments_are_value_errors() -> None:
    with pytest.raises(ValueError, match="non-finite value at submission 1, reviewer 0"):
        solve(np.array([[0.5], [np.nan]]), 1, 0, 2)
    with pytest.raises(ValueError, match="conflicts shape"):
        solve(np.ones((2, 2)), 1, 0, 2, np.zeros((3, 2), dtype=bool))
    with pytest.raises(ValueError, match="out of range"):
        solve(np.ones((2, 2)), 1, 0, 2, locked=[(5, 0)])


# ---- incremental and fair --------------------------------------------------------------------------------


def test_incremental_resolve_changes_few_pairs() -> None:
    rng = np.random.default_rng(3)
    aff = rng.random((60, 40))
    first = solve(aff, 3, 0, 5)
    # A new reviewer arrives and a few scores move slightly (e.g. a profile was edited).
    aff2 = np.hstack([aff + rng.normal(0, 0.02, aff.shape), rng.random((60, 1))]).clip(0, 1)
    fresh = solve(aff2, 3, 0, 5)
    sticky = solve(aff2, 3, 0, 5, previous=first.pairs)
    check_valid(sticky, aff2, 3, 0, 5)
    moved_fresh = len(set(first.pairs) - set(fresh.pairs))
    moved_sticky = len(set(first.pairs) - set(sticky.pairs))
    assert moved_sticky < moved_fresh / 2
    assert sticky.kept_previous == len(first.pairs) - moved_sticky
    assert sticky.total >= fresh.total - 0.02 * moved_fresh  # the bonus only trades tiny gains


def test_previous_solution_is_kept_exactly_when_nothing_changed() -> None:
    aff = np.random.default_rng(4).random((40, 30))
    first = solve(aff, 2, 1, 4)
    again = solve(aff, 2, 1, 4, previous=first.pairs)
    assert again.pairs == first.pairs


def test_fair_mode_raises_the_worst_submission() -> None:
    # Plain max-total gives paper 0 its star reviewer and leaves paper 1 with nothing useful (1.0 + 0.0);
    # fair mode swaps (0.3 + 0.2): lower total, better worst-off paper.
    aff = np.array([[1.0, 0.3], [0.2, 0.0]])
    plain = solve(aff, 1, 0, 1)
    fair = solve(aff, 1, 0, 1, fair=True)
    assert plain.total == pytest.approx(1.0) and plain.min_paper_total == pytest.approx(0.0)
    assert fair.min_paper_total == pytest.approx(0.2) and fair.threshold == pytest.approx(0.2)


def test_fair_mode_maximises_the_worst_submission_total_not_the_worst_pair() -> None:
    # Audit counter-example: a pair bottleneck (every pair >= t) gives min paper total 0.69; plain gives 1.04,
    # which is the brute-force best, so fair mode must reach it.
    aff = np.array([[.51, .82, .22, .08], [.55, .19, .07, .77], [.82, .40, .29, .28]])
    plain = solve(aff, 2, 0, 2)
    fair = solve(aff, 2, 0, 2, fair=True)
    check_valid(fair, aff, 2, 0, 2)
    assert brute_force_max_min(aff, 2, 0, 2) == pytest.approx(1.04)
    assert plain.min_paper_total == pytest.approx(1.04)
    assert fair.min_paper_total == pytest.approx(1.04) and fair.threshold == pytest.approx(1.04)
    assert fair.total == pytest.approx(brute_force(aff, 2, 0, 2))  # ties on the minimum go to the larger total


def test_fair_mode_against_brute_force_on_small_instances() -> None:
    """Never below plain mode's minimum, always valid, and at the brute-force max-min almost always."""
    solved = hit = 0
    for seed in range(300):
        rng = np.random.default_rng(seed)
        n_papers, n_reviewers, k = int(rng.integers(2, 5)), int(rng.integers(3, 6)), int(rng.integers(1, 3))
        max_load = int(rng.integers(1, 4))
        min_load = int(rng.integers(0, 2)) if rng.random() < 0.3 else 0
        aff = np.round(rng.random((n_papers, n_reviewers)), 2)
        conflicts = rng.random(aff.shape) < 0.15
        i, j = int(rng.integers(n_papers)), int(rng.integers(n_reviewers))
        locked = [(i, j)] if rng.random() < 0.3 and not conflicts[i, j] else []
        best = brute_force_max_min(aff, k, min_load, max_load, conflicts, locked)
        if best is None:
            with pytest.raises(Infeasible):
                solve(aff, k, min_load, max_load, conflicts, locked, fair=True)
            continue
        plain = solve(aff, k, min_load, max_load, conflicts, locked)
        fair = solve(aff, k, min_load, max_load, conflicts, locked, fair=True)
        check_valid(fair, aff, k, min_load, max_load, conflicts, locked)
        assert fair.min_paper_total >= plain.min_paper_total - 1e-9, seed
        assert fair.min_paper_total <= best + 1e-9
        assert fair.threshold == pytest.approx(fair.min_paper_total)
        if fair.min_paper_total == pytest.approx(best, abs=1e-9):
            assert fair.total <= plain.total + 1e-9
            hit += 1
        solved += 1
    assert solved > 200
    assert hit / solved >= 0.95, f"fair mode reached the max-min on only {hit}/{solved}"


def test_fair_mode_on_a_larger_instance_keeps_constraints_and_improves_the_minimum() -> None:
    rng = np.random.default_rng(11)
    aff = rng.random((40, 30)) ** 3  # skewed: a few papers have few good matches
    conflicts = rng.random(aff.shape) < 0.2
    plain = solve(aff, 3, 1, 5, conflicts)
    fair = solve(aff, 3, 1, 5, conflicts, fair=True)
    check_valid(fair, aff, 3, 1, 5, conflicts)
    assert fair.min_paper_total > plain.min_paper_total
    assert fair.threshold == pytest.approx(fair.min_paper_total)
    assert fair.total <= plain.total + 1e-9
    assert plain.threshold is None


def test_fair_mode_on_a_sparse_graph_keeps_constraints_and_improves_the_minimum() -> None:
    rng = np.random.default_rng(12)
    aff = rng.random((120, 80)) * (rng.random(80) < 0.3)[None, :] + 0.2 * rng.random((120, 80))
    plain = solve(aff, 3, 1, 5, top_m=6)
    fair = solve(aff, 3, 1, 5, fair=True, top_m=6)
    assert fair.used_sparse
    check_valid(fair, aff, 3, 1, 5)
    assert fair.min_paper_total > plain.min_paper_total  # 0.578 vs 0.544 when written


def test_reviewer_prices_give_a_matching_upper_bound() -> None:
    """Relaxing loads with the solver's prices bounds every assignment; at the optimum the bound is tight."""
    rng = np.random.default_rng(21)
    aff = rng.random((120, 80)) * (rng.random(80) < 0.3)[None, :] + 0.2 * rng.random((120, 80))  # popular reviewers
    sol = solve(aff, 3, 0, 5, top_m=6)
    assert sol.used_sparse and sol.certified_optimal and sol.reviewer_prices is not None
    lam = np.array(sol.reviewer_prices)
    assert (lam >= 0).all() and (lam > 0).any()
    bound = np.sort(aff - lam[None, :], axis=1)[:, -3:].sum() + 5 * lam.sum()
    assert bound >= sol.total - 1e-6
    assert bound == pytest.approx(sol.total, abs=1e-3)
    assert sol.total == pytest.approx(solve(aff, 3, 0, 5, top_m=10**6).total, abs=1e-6)


# ---- course options: one reviewer per group, no reciprocal pairs, every student reviews ----------------------


def _course(data: st.DataObject, max_groups: int = 7):  # noqa: ANN202
    """A random course: groups of 1-3 students (some reviewers without a group), one submission per group,
    own-group conflicts, random affinities."""
    n_groups = data.draw(st.integers(3, max_groups), label="groups")
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=n_groups, max_size=n_groups), label="sizes")
    loners = data.draw(st.integers(0, 2), label="reviewers without a group")
    rg = np.array([g for g, n in enumerate(sizes) for _ in range(n)] + [-1] * loners)
    pg = np.arange(n_groups)
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    aff = np.random.default_rng(seed).random((n_groups, len(rg)))
    return aff, pg, rg, pg[:, None] == rg[None, :]


def _per_group_counts(pairs, rg) -> Counter:  # noqa: ANN001
    return Counter((i, int(rg[j])) for i, j in pairs if rg[j] >= 0)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_one_reviewer_per_group_holds_and_is_optimal(data: st.DataObject) -> None:
    aff, pg, rg, conflicts = _course(data, max_groups=4)
    n_papers, n_reviewers = aff.shape
    k = data.draw(st.integers(1, 2), label="k")
    max_load = data.draw(st.integers(1, 3), label="max_load")
    if n_reviewers > 7:  # brute force stays small
        return
    best = None
    for totals, combo in _all_assignments_with_combos(aff, k, 0, max_load, conflicts):
        if all(len({rg[j] for j in c if rg[j] >= 0}) == sum(1 for j in c if rg[j] >= 0) for c in combo):
            best = sum(totals) if best is None else max(best, sum(totals))
    if best is None:
        with pytest.raises(Infeasible):
            solve(aff, k, 0, max_load, conflicts, reviewer_groups=rg, one_per_group=True)
        return
    sol = solve(aff, k, 0, max_load, conflicts, reviewer_groups=rg, one_per_group=True)
    check_valid(sol, aff, k, 0, max_load, conflicts)
    assert max(_per_group_counts(sol.pairs, rg).values(), default=0) <= 1
    assert sol.total == pytest.approx(best, abs=1e-5)  # exact: the group nodes lose nothing


def _all_assignments_with_combos(aff, k, min_load, max_load, conflicts):  # noqa: ANN001, ANN202
    n_papers, n_reviewers = aff.shape
    options = [[c for c in itertools.combinations(range(n_reviewers), k) if not conflicts[i, list(c)].any()]
               for i in range(n_papers)]
    for combo in itertools.product(*options):
        loads = np.bincount([j for c in combo for j in c], minlength=n_reviewers)
        if (loads >= min_load).all() and (loads <= max_load).all():
            yield [sum(aff[i, j] for j in c) for i, c in enumerate(combo)], combo


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_no_reciprocal_pairs_and_one_per_group_hold_together(data: st.DataObject) -> None:
    aff, pg, rg, conflicts = _course(data)
    n_groups = len(pg)
    k = data.draw(st.integers(1, max(1, (n_groups - 1) // 2)), label="k")
    max_load = data.draw(st.integers(1, 4), label="max_load")
    kw = {"reviewer_groups": rg, "paper_groups": pg, "one_per_group": True, "no_reciprocal": True}
    try:
        sol = solve(aff, k, 0, max_load, conflicts, **kw)
    except Infeasible as exc:
        if exc.reason.startswith('"no reciprocal'):  # named: then it is the option, the rest is feasible
            solve(aff, k, 0, max_load, conflicts, reviewer_groups=rg, one_per_group=True)
        return
    check_valid(sol, aff, k, 0, max_load, conflicts)
    assert count_reciprocal(sol.pairs, pg, rg) == 0
    assert max(_per_group_counts(sol.pairs, rg).values(), default=0) <= 1
    plain = solve(aff, k, 0, max_load, conflicts, reviewer_groups=rg, one_per_group=True)
    assert sol.total <= plain.total + 1e-9  # a constraint can only cost affinity


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_student_reviews_when_the_slots_allow(data: st.DataObject) -> None:
    aff, pg, rg, conflicts = _course(data, max_groups=8)
    n_papers, n_reviewers = aff.shape
    k = data.draw(st.integers(1, 3), label="k")
    max_load = max(2, -(-n_papers * k // n_reviewers) + 1)
    min_load, message = every_reviewer_min_load(n_papers, k, n_reviewers, max_load)
    if n_papers * k < n_reviewers:
        assert min_load == 0 and f"k={-(-n_reviewers // n_papers)}" in message
        return
    assert (min_load, message) == (1, None)
    try:
        sol = solve(aff, k, min_load, max_load, conflicts)
    except Infeasible as exc:  # the slots allow it but own-group conflicts may not: a reason naming submissions
        assert "non-conflicted" in exc.reason or "Hall" in exc.reason, exc.reason
        return
    assert (np.bincount([j for _, j in sol.pairs], minlength=n_reviewers) >= 1).all()


def test_every_student_reviews_suggests_the_k_that_would_do_it() -> None:
    assert every_reviewer_min_load(20, 3, 60, 4) == (1, None)
    min_load, msg = every_reviewer_min_load(10, 3, 60, 4)
    assert min_load == 0
    assert "10 submissions × k=3 = 30 review slots for 60 reviewers, so 30 get nothing" in msg
    assert "With k=6 (60 slots) every student reviews" in msg
    assert "max load" not in msg  # 60 slots over 60 reviewers: one each, within max load 4
    assert "With k=5 and max load 2 (35 slots)" in every_reviewer_min_load(7, 3, 30, 1)[1]


def test_infeasible_because_of_one_per_group_names_the_option() -> None:
    aff = np.random.default_rng(1).random((2, 4))
    rg = np.array([0, 0, 0, 1])  # group 1 wrote submission 0: its only other reviewers are all of group 0
    conflicts = np.array([[False, False, False, True], [False, False, False, False]])
    with pytest.raises(Infeasible, match=r'^"at most one reviewer per group on a submission" makes this impossible'):
        solve(aff, 2, 0, 2, conflicts, reviewer_groups=rg, one_per_group=True)
    solve(aff, 1, 0, 2, conflicts, reviewer_groups=rg, one_per_group=True)  # k=1 is fine
    with pytest.raises(Infeasible, match="min load too high"):  # not the option's fault: the plain reason
        solve(aff, 2, 3, 3, conflicts, reviewer_groups=rg, one_per_group=True)
    with pytest.raises(Infeasible, match="two locked reviewers of one group"):
        solve(aff, 2, 0, 2, conflicts, locked=[(1, 0), (1, 1)], reviewer_groups=rg, one_per_group=True)


def test_infeasible_because_of_no_reciprocal_names_the_option() -> None:
    # Two groups of two: each paper can only be reviewed by the other group, so they must review each other.
    aff = np.random.default_rng(2).random((2, 4))
    rg, pg = np.array([0, 0, 1, 1]), np.array([0, 1])
    conflicts = pg[:, None] == rg[None, :]
    kw = {"reviewer_groups": rg, "paper_groups": pg}
    plain = solve(aff, 1, 0, 1, conflicts, **kw)
    assert count_reciprocal(plain.pairs, pg, rg) == 1
    with pytest.raises(Infeasible, match=r'^"no reciprocal pairs between two groups" makes this impossible'):
        solve(aff, 1, 0, 1, conflicts, no_reciprocal=True, **kw)


def test_locked_reciprocal_pairs_stay() -> None:
    aff = np.random.default_rng(3).random((3, 6))
    rg, pg = np.repeat(np.arange(3), 2), np.arange(3)
    conflicts = pg[:, None] == rg[None, :]
    sol = solve(aff, 1, 0, 2, conflicts, locked=[(0, 2), (1, 0)], reviewer_groups=rg, paper_groups=pg,
                no_reciprocal=True)
    assert {(0, 2), (1, 0)} <= set(sol.pairs) and sol.reciprocal_locked == 1
