"""Calibration (PG1): recovers biases on synthetic data, survives thin and degenerate data, refuses bad input."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.moderation import CalibrationError, calibrate, fit, mean_scores, median_scores


def synthetic(seed: int = 0, n_sub: int = 30, n_rev: int = 40, k: int = 4, lenient: float = 2.0):
    rng = np.random.default_rng(seed)
    true = rng.uniform(3, 8, n_sub)
    bias = rng.normal(0, 1, n_rev)
    bias[0] = lenient  # reviewer r0 is markedly lenient, r1 markedly harsh
    bias[1] = -lenient
    reviews = []
    for r in range(n_rev):
        for s in rng.choice(n_sub, k, replace=False):
            score = float(np.clip(np.round(true[s] + bias[r] + rng.normal(0, 0.5)), 1, 10))
            reviews.append((f"r{r}", f"s{s}", score))
    return reviews, true, bias


def test_recovers_biases_and_true_scores():
    reviews, true, bias = synthetic()
    f = fit(reviews, 1, 10)
    assert f.converged
    est_bias = np.array([f.biases[f"r{r}"] for r in range(len(bias))])
    assert np.corrcoef(est_bias, bias)[0, 1] > 0.8
    assert f.biases["r0"] > 0.8 and f.biases["r1"] < -0.8  # the lenient reviewer leans up, the harsh one down
    subs = sorted(f.estimates, key=lambda s: int(s[1:]))
    est = np.array([f.estimates[s] for s in subs])
    truth = np.array([true[int(s[1:])] for s in subs])
    assert np.corrcoef(est, truth)[0, 1] > 0.9
    mean = mean_scores(reviews)
    rmse_cal = math.sqrt(np.mean((est - truth) ** 2))
    rmse_mean = math.sqrt(np.mean([(mean[s] - true[int(s[1:])]) ** 2 for s in subs]))
    assert rmse_cal < rmse_mean
    assert all(sd > 0 and math.isfinite(sd) for sd in f.sds.values())
    assert all(sd > 0 and math.isfinite(sd) for sd in f.bias_sds.values())


def test_known_items_pin_their_score_and_the_bias():
    reviews = [("a", "cal", 9.0), ("b", "cal", 5.0), ("a", "x", 8.0), ("b", "x", 4.0)]
    f = fit(reviews, 1, 10, known={"cal": 7.0})
    assert f.estimates["cal"] == 7.0 and f.sds["cal"] == 0.0
    assert f.biases["a"] > 0.5 > -0.5 > f.biases["b"]
    assert 4.5 < f.estimates["x"] < 7.5  # the two reviewers' leans cancel around 6


def test_calibrate_signature_returns_only_reviewed_submissions_on_the_scale():
    out = calibrate([("a", "s1", 10.0), ("b", "s1", 10.0), ("a", "s2", 1.0)], 1, 10, known={"other": 5.0})
    assert set(out) == {"s1", "s2"}
    assert all(1 <= v <= 10 for v in out.values())


@pytest.mark.parametrize("reviews", [
    [("a", "s", 5.0)],  # one review in all
    [("a", "s", 5.0), ("b", "t", 6.0), ("c", "u", 7.0)],  # every reviewer and submission seen once
    [(f"r{i}", f"s{j}", 5.0) for i in range(5) for j in range(4)],  # constant scores
    [(f"r{i}", f"s{j}", float(1 + (i + j) % 2)) for i in range(4) for j in range(4)],  # ties everywhere
    [("a", "s", 1.0), ("b", "s", 10.0)],  # the two ends of the scale
])
def test_degenerate_data_gives_finite_sensible_results(reviews):
    f = fit(reviews, 1, 10)
    for d in (f.estimates, f.sds, f.biases, f.bias_sds, f.reliabilities):
        assert all(math.isfinite(v) for v in d.values())
    assert all(1 <= v <= 10 for v in f.estimates.values())
    assert all(0 < v < 10 for v in f.sds.values())
    assert all(0 < v < 10 for v in f.bias_sds.values())


def test_constant_scores_give_the_constant():
    reviews = [(f"r{i}", f"s{j}", 5.0) for i in range(6) for j in range(5)]
    assert all(abs(v - 5) < 0.05 for v in calibrate(reviews, 1, 10).values())


def test_one_review_submission_is_less_certain_than_a_well_reviewed_one():
    reviews, _, _ = synthetic(n_sub=10, n_rev=20, k=3)
    reviews.append(("r0", "lonely", 6.0))
    f = fit(reviews, 1, 10)
    assert f.sds["lonely"] > max(v for s, v in f.sds.items() if s != "lonely")


def test_mean_and_median():
    reviews = [("a", "s", 2.0), ("b", "s", 3.0), ("c", "s", 10.0)]
    assert mean_scores(reviews) == {"s": 5.0}
    assert median_scores(reviews) == {"s": 3.0}


@pytest.mark.parametrize(("args", "cause"), [
    (([], 1, 10), "empty"),
    (([("a", "s", 11.0)], 1, 10), "outside the scale"),
    (([("a", "s", float("nan"))], 1, 10), "NaN"),
    (([("a", "s", 5.0)], 10, 1), "must be below"),
    (([("a", "s", 5.0)], 5, 5), "must be below"),
    (([("a", "s", "x")], 1, 10), "not a number"),
    (([("a", "s")], 1, 10), "triple"),
    (([("a", "s", 5.0), ("a", "s", 6.0)], 1, 10), "twice"),
    (([("a", "s", 5.0)], 1, 10, {"s": 12.0}), "calibration item"),
    (([("a", "s", 5.0)], 1, float("inf")), "finite"),
])
def test_bad_input_names_the_cause(args, cause):
    with pytest.raises(CalibrationError, match=cause):
        calibrate(*args)
    assert issubclass(CalibrationError, ValueError)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(1, 5)), min_size=1, max_size=25,
                unique_by=lambda t: (t[0], t[1])))
def test_any_small_venue_fits_inside_the_scale(triples):
    reviews = [(f"r{r}", f"s{s}", float(x)) for r, s, x in triples]
    f = fit(reviews, 1, 5)
    assert set(f.estimates) == {s for _, s, _ in reviews}
    assert all(1 <= v <= 5 and math.isfinite(v) for v in f.estimates.values())
    assert all(math.isfinite(v) and v >= 0 for v in f.sds.values())


def test_censoring_option_also_fits():
    reviews, _, _ = synthetic(n_sub=10, n_rev=15, k=3)
    f = fit(reviews, 1, 10, censor=True)
    assert all(math.isfinite(v) for v in f.estimates.values())


def test_all_submissions_known():
    f = fit([("a", "c", 8.0), ("b", "c", 6.0)], 1, 10, {"c": 7.0})
    assert f.estimates == {"c": 7.0} and f.biases["a"] > 0 > f.biases["b"]
