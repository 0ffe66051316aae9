"""Moderation benchmarks: how much calibration beats the plain mean on simulated peer review, and fit speed.

    .venv/bin/python benchmarks/moderation.py [--out FILE] [--seeds N] [--first-seed S]

(a) The issue's simulation: 20 submissions, 60 reviewers with 3 reviews each (a balanced random design: every
    submission gets 9), reviewer
    bias ~ N(0, 1), noise sd ~ U[0.3, 1.5], true scores ~ U[3, 9], scores rounded to integers and clipped to
    1-10. Per seed, RMSE against the true scores divided by the plain mean's RMSE, for: plain mean, median,
    alternating-least-squares bias correction, app.moderation.calibrate, an oracle that knows every bias, and
    one that also knows every reviewer's noise (the ceiling for any reliability weighting).
    The median over seeds is reported. Run without and with calibration items (3 items with known true
    scores; every reviewer additionally reviews one of them; RMSE only over the 20 real submissions).
(b) Fit time for a 300-student venue: 100 groups, 300 reviewers with 3 reviews each (900 reviews), and for
    300 groups reviewed by 300 students (900 reviews), with and without calibration items.

Seeds 0..19 are the reported ones; the model's priors were chosen from its assumptions and compared on seeds
1000..1029 (``--first-seed 1000 --seeds 30``), never tuned on the reported seeds. What was compared there
(median ratio without / with calibration items; all but the Gibbs figures on an earlier draw of the same balanced
design): reliability prior shape 1, 2, 3, 5, 10, 1000 gave
0.876/0.821, 0.855/0.788, 0.838/0.774, 0.838/0.787, 0.844/0.791, 0.861/0.815 (3 kept: between "every reviewer
alike" and "a few consistent reviewers dominate"); reading scores as rounding intervals (censor=True) 0.865/0.801,
only the scale's ends as censored 0.859/0.798, so rounding counts as noise instead; a Gibbs sampler's posterior
mean with the same model 0.810/0.748 against the variational fit's 0.821/0.748, not worth 50x the time; with the
true reliabilities given, the same fit reaches 0.751/0.668, so what is left is estimating a reviewer's
reliability from 3-4 reviews.

Two Bayes bounds (``bayes_posterior``, Gibbs-sampled; ``--no-bounds`` skips them) say how far any calibration
can go on this simulation: the posterior mean of the true scores under the simulation's own priors (true ~
U[3, 9], bias ~ N(0, 1), noise sd ~ U[0.3, 1.5]) is the least-squared-error estimate there is; with true ~ N(6, 3)
instead, the normal prior PG1 uses (here with its parameters given, not estimated). Measured on seeds 0..19
(2026-12-07): 0.79 / 0.71 with the simulation's priors, 0.85 / 0.75 with the normal one, against PG1's 0.86 /
0.75. So the issue's goals (0.80 / 0.70) sit at or below what the Bayes-optimal estimator reaches, and only with
the knowledge that true scores are uniform on [3, 9]; PG1 is within about 0.01 of the best estimator that
uses its own prior family.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.moderation import calibrate, median_scores  # noqa: E402

LOW, HIGH = 1.0, 10.0


def simulate(seed: int, *, n_sub: int = 20, n_rev: int = 60, k: int = 3, n_items: int = 0) -> dict:
    """One simulated venue: reviews as (reviewer, submission, score), true scores, biases, calibration items."""
    rng = np.random.default_rng(seed)
    true = rng.uniform(3, 9, n_sub)
    bias = rng.normal(0, 1, n_rev)
    noise_sd = rng.uniform(0.3, 1.5, n_rev)
    # A balanced random design: each reviewer k distinct submissions, every submission about n_rev*k/n_sub times.
    slots = rng.permutation(np.repeat(np.arange(n_sub), -(-n_rev * k // n_sub)))[:n_rev * k].reshape(n_rev, k)
    for r in range(n_rev):  # repair duplicates by swapping with a random slot of another reviewer
        while len(set(slots[r])) < k:
            i = next(i for i in range(k) if list(slots[r]).count(slots[r][i]) > 1)
            q, j = int(rng.integers(n_rev)), int(rng.integers(k))
            if q != r and slots[q][j] not in slots[r] and slots[r][i] not in slots[q]:
                slots[r][i], slots[q][j] = slots[q][j], slots[r][i]
    reviews = []

    def score(value: float, r: int) -> float:
        return float(np.clip(np.round(value + bias[r] + rng.normal(0, noise_sd[r])), LOW, HIGH))

    for r in range(n_rev):
        for s in slots[r]:
            reviews.append((f"r{r}", f"s{s}", score(true[s], r)))
    item_true = rng.uniform(3, 9, n_items)
    known = {f"c{j}": float(item_true[j]) for j in range(n_items)}
    for r in range(n_rev if n_items else 0):
        j = r % n_items
        reviews.append((f"r{r}", f"c{j}", score(item_true[j], r)))
    return {"reviews": reviews, "true": {f"s{s}": float(true[s]) for s in range(n_sub)},
            "bias": {f"r{r}": float(bias[r]) for r in range(n_rev)}, "known": known,
            "noise_sd": {f"r{r}": float(noise_sd[r]) for r in range(n_rev)}}


def plain_mean(reviews: list, known: dict) -> dict[str, float]:
    """Each submission's mean score (calibration reviews only touch their own item)."""
    by_sub: dict[str, list[float]] = {}
    for _, s, x in reviews:
        by_sub.setdefault(s, []).append(x)
    return {s: float(np.mean(v)) for s, v in by_sub.items()}


def als(reviews: list, known: dict, iterations: int = 50) -> dict[str, float]:
    """Alternating least squares: true = mean(score - bias), bias = mean(score - true), biases centred on 0."""
    subs = sorted({s for _, s, _ in reviews})
    revs = sorted({r for r, _, _ in reviews})
    si = {s: i for i, s in enumerate(subs)}
    ri = {r: i for i, r in enumerate(revs)}
    s_idx = np.array([si[s] for _, s, _ in reviews])
    r_idx = np.array([ri[r] for r, _, _ in reviews])
    x = np.array([v for _, _, v in reviews])
    pinned = np.array([s in known for s in subs])
    ref = np.array([known.get(s, 0.0) for s in subs])
    n_s, n_r = np.bincount(s_idx, minlength=len(subs)), np.bincount(r_idx, minlength=len(revs))
    b = np.zeros(len(revs))
    for _ in range(iterations):
        t = np.bincount(s_idx, x - b[r_idx], minlength=len(subs)) / n_s
        t = np.where(pinned, ref, t)
        b = np.bincount(r_idx, x - t[s_idx], minlength=len(revs)) / n_r
        if not known:  # without references the overall level is not identified: biases average zero
            b -= b.mean()
    return {s: float(t[i]) for s, i in si.items()}


def oracle(reviews: list, bias: dict) -> dict[str, float]:
    """The mean of (score - the reviewer's true bias): what knowing every bias exactly would give."""
    return plain_mean([(r, s, x - bias[r]) for r, s, x in reviews], {})


def oracle_weighted(reviews: list, bias: dict, noise_sd: dict) -> dict[str, float]:
    """Knowing every bias and every reviewer's noise too: the precision-weighted mean of (score - bias)."""
    num: dict[str, float] = {}
    den: dict[str, float] = {}
    for r, s, x in reviews:
        w = 1.0 / (noise_sd[r] ** 2 + 1 / 12)  # rounding to integers adds variance 1/12
        num[s] = num.get(s, 0.0) + w * (x - bias[r])
        den[s] = den.get(s, 0.0) + w
    return {s: num[s] / den[s] for s in num}


def bayes_posterior(reviews: list, known: dict, seed: int, *, truth: str = "uniform", iterations: int = 800,
                    burn: int = 200) -> dict[str, float]:
    """The posterior mean of every true score under the simulation's own generative model, by Gibbs sampling:
    the Bayes-optimal estimate (least expected squared error) for an estimator that knows the priors the data
    were drawn from, i.e. a bound on what any calibration can reach here. bias ~ N(0, 1), noise sd ~ U[0.3, 1.5]
    (sampled on a grid), rounding as variance 1/12; true scores ~ U[3, 9] (``truth="uniform"``, the simulation's
    own prior) or ~ N(6, 3), a normal with the uniform's mean and variance (``truth="normal"``, the family PG1
    uses, with its parameters known instead of estimated). Benchmark code: not used by the product."""
    from scipy.stats import truncnorm

    rng = np.random.default_rng(seed)
    subs = sorted({s for _, s, _ in reviews})
    revs = sorted({r for r, _, _ in reviews})
    si = {s: i for i, s in enumerate(subs)}
    ri = {r: i for i, r in enumerate(revs)}
    s_idx = np.array([si[s] for _, s, _ in reviews])
    r_idx = np.array([ri[r] for r, _, _ in reviews])
    x = np.array([v for _, _, v in reviews])
    n_s, n_r = len(subs), len(revs)
    pinned = np.array([s in known for s in subs])
    ref = np.array([known.get(s, 0.0) for s in subs])
    t = np.bincount(s_idx, x, n_s) / np.bincount(s_idx, minlength=n_s)
    b, sd = np.zeros(n_r), np.full(n_r, 0.9)
    grid = np.linspace(0.3, 1.5, 49)
    counts = np.bincount(r_idx, minlength=n_r)
    total, kept = np.zeros(n_s), 0
    for it in range(iterations):
        w = (1 / (sd ** 2 + 1 / 12))[r_idx]
        precision = np.bincount(s_idx, w, n_s)
        weighted = np.bincount(s_idx, w * (x - b[r_idx]), n_s)
        if truth == "normal":
            precision, weighted = precision + 1 / 3, weighted + 6 / 3
        mean, spread = weighted / precision, 1 / np.sqrt(precision)
        if truth == "uniform":
            t = truncnorm.rvs((3 - mean) / spread, (9 - mean) / spread, loc=mean, scale=spread, random_state=rng)
        else:
            t = mean + spread * rng.standard_normal(n_s)
        t = np.where(pinned, ref, t)
        precision_b = np.bincount(r_idx, w, n_r) + 1.0
        b = np.bincount(r_idx, w * (x - t[s_idx]), n_r) / precision_b + rng.standard_normal(n_r) / np.sqrt(precision_b)
        squares = np.bincount(r_idx, (x - t[s_idx] - b[r_idx]) ** 2, n_r)
        var = grid[None, :] ** 2 + 1 / 12
        loglik = -0.5 * counts[:, None] * np.log(var) - 0.5 * squares[:, None] / var
        p = np.exp(loglik - loglik.max(axis=1, keepdims=True))
        cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
        sd = grid[np.minimum((cdf < rng.random(n_r)[:, None]).sum(axis=1), len(grid) - 1)]
        if it >= burn:
            total, kept = total + t, kept + 1
    return {s: float(total[i] / kept) for s, i in si.items()}


def rmse(estimate: dict[str, float], true: dict[str, float]) -> float:
    return float(np.sqrt(np.mean([(estimate[s] - t) ** 2 for s, t in true.items()])))


def section_a(seeds: list[int], n_items: int, bounds: bool = True) -> dict:
    methods = {"plain mean": [], "median": [], "ALS bias correction": [], "calibrate (PG1)": [], "oracle biases": [],
               "oracle biases+noise": [],
               "Bayes bound, normal truth prior": [], "Bayes bound, the simulation's priors": []}
    for seed in seeds:
        v = simulate(seed, n_items=n_items)
        reviews, known, true = v["reviews"], v["known"], v["true"]
        base = rmse(plain_mean(reviews, known), true)
        methods["plain mean"].append(1.0)
        methods["median"].append(rmse(median_scores(reviews), true) / base)
        methods["ALS bias correction"].append(rmse(als(reviews, known), true) / base)
        methods["calibrate (PG1)"].append(rmse(calibrate(reviews, LOW, HIGH, known or None), true) / base)
        methods["oracle biases"].append(rmse(oracle(reviews, v["bias"]), true) / base)
        methods["oracle biases+noise"].append(rmse(oracle_weighted(reviews, v["bias"], v["noise_sd"]), true) / base)
        if bounds:
            methods["Bayes bound, normal truth prior"].append(
                rmse(bayes_posterior(reviews, known, seed, truth="normal"), true) / base)
            methods["Bayes bound, the simulation's priors"].append(
                rmse(bayes_posterior(reviews, known, seed, truth="uniform"), true) / base)
    return {name: {"median_ratio": round(float(np.median(r)), 3), "q25": round(float(np.quantile(r, 0.25)), 3),
                   "q75": round(float(np.quantile(r, 0.75)), 3)} for name, r in methods.items() if r}


def section_b() -> dict:
    from app.moderation.calibrate import fit

    out = {}
    for name, n_sub, n_items in [("100 groups, 300 reviewers, 900 reviews", 100, 0),
                                 ("300 submissions, 300 reviewers, 900 reviews", 300, 0),
                                 ("100 groups + 5 calibration items, 1200 reviews", 100, 5)]:
        v = simulate(7, n_sub=n_sub, n_rev=300, k=3, n_items=n_items)
        fit(v["reviews"][:50], LOW, HIGH)  # warm imports
        times = []
        for _ in range(3):
            t = time.perf_counter()
            result = fit(v["reviews"], LOW, HIGH, v["known"] or None)
            times.append(time.perf_counter() - t)
        out[name] = {"seconds_best_of_3": round(min(times), 3), "iterations": result.iterations,
                     "converged": result.converged}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "moderation.json"))
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--no-bounds", action="store_true", help="skip the Gibbs-sampled Bayes bounds (about a minute)")
    args = ap.parse_args()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    results = {"seeds": [seeds[0], seeds[-1]]}
    for label, n_items in [("(a) no calibration items", 0), ("(a) one calibration item per reviewer", 3)]:
        results[label] = section_a(seeds, n_items, bounds=not args.no_bounds)
        print(label, flush=True)
        for name, row in results[label].items():
            print(f"  {name:36s} {row['median_ratio']:.3f}  (IQR {row['q25']:.3f}-{row['q75']:.3f})", flush=True)
    results["(b) fit time"] = section_b()
    print(f"(b) {json.dumps(results['(b) fit time'], indent=2)}", flush=True)
    without = results["(a) no calibration items"]["calibrate (PG1)"]["median_ratio"]
    with_items = results["(a) one calibration item per reviewer"]["calibrate (PG1)"]["median_ratio"]
    seconds = results["(b) fit time"]["100 groups, 300 reviewers, 900 reviews"]["seconds_best_of_3"]
    results["goals"] = {"no items <= 0.80": without <= 0.80, "with items <= 0.70": with_items <= 0.70,
                        "900-review fit <= 1 s": seconds <= 1.0}
    print("goals:", ", ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in results["goals"].items()), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
