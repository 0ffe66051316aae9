"""Calibrated peer scores: each reviewer's bias and reliability fitted jointly with the true scores (PG1).

The model is PG1 of Piech et al., "Tuned Models of Peer Assessment in MOOCs" (EDM 2013):

    latent_rs = true_s + bias_r + noise,   noise ~ N(0, 1 / reliability_r)
    true_s ~ N(mu, var_true),  bias_r ~ N(0, var_bias),  reliability_r ~ Gamma(shape, rate)

and the score a reviewer gives is the latent one rounded to the scale's step and clipped to [low, high]. By
default rounding counts as noise (a reviewer's noise variance is at least step²/12) and estimates are clipped
to the scale; ``censor=True`` reads a score as its interval instead ("10/10" = "10 or better").

The fit is variational EM: q(true, bias) is the exact joint Gaussian given the expected reliabilities (so the
uncertainties keep the coupling between a submission's score and its reviewers' biases), q(reliability_r) is
a Gamma (each latent score a truncated normal when censoring), and the prior's scale parameters (mu, var_true, var_bias,
the reliability rate) are estimated from the venue itself (empirical Bayes) with weak hyper-priors tied to
the width of the scale, so a venue with one reviewer or one submission still has a proper posterior.
Calibration items (``known``) pin their true score, which is what lets a reviewer's bias be read directly.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg.lapack import dpotrf, dpotri
from scipy.special import log_ndtr

try:  # installed with scikit-learn; optional
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

Review = tuple[str, str, float]  # (reviewer, submission, score)


class CalibrationError(ValueError):
    """Reviews that cannot be calibrated: the message names the cause."""


@dataclass(frozen=True)
class Priors:
    """Prior guesses as fractions of the scale's width (high - low), and how many pseudo-observations each weighs.

    The defaults say: true scores spread over about half the scale, a reviewer is lenient or harsh by about a
    tenth of it and scatters by about a tenth; every guess weighs as little as two submissions or reviewers,
    so the venue's own data decide as soon as there is some. ``reliability_shape`` is how alike reviewers'
    reliabilities are a priori (large: everyone weighs the same; small: a few consistent reviewers dominate).
    """

    true_sd: float = 0.25
    bias_sd: float = 0.10
    noise_sd: float = 0.10
    pseudo_count: float = 2.0
    reliability_shape: float = 3.0
    mean_pseudo_count: float = 1.0  # pulls the mean true score towards the middle of the scale, weakly


@dataclass
class CalibrationFit:
    """The fitted model: per submission estimate ± sd, per reviewer bias ± sd and reliability, the hyper-parameters."""

    estimates: dict[str, float]  # on the scale, clipped to [low, high]
    sds: dict[str, float]  # posterior sd of each true score (0 for a calibration item)
    biases: dict[str, float]  # + lenient, - harsh, in score points
    bias_sds: dict[str, float]
    reliabilities: dict[str, float]  # expected precision 1 / noise variance
    noise_sds: dict[str, float]  # 1 / sqrt(reliability): how far the reviewer scatters, in score points
    iterations: int
    converged: bool
    step: float  # the scale's step that scores were read as rounded to (0 = continuous)
    mean_true: float
    sd_true: float
    sd_bias: float
    raw_estimates: dict[str, float] = field(default_factory=dict)  # before clipping to the scale


def _validate(reviews: Iterable[Review], low: float, high: float,
              known: Mapping[str, float] | None) -> tuple[list[Review], dict[str, float]]:
    try:
        low, high = float(low), float(high)
    except (TypeError, ValueError):
        raise CalibrationError(f"the scale's ends must be numbers, not {low!r} and {high!r}") from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise CalibrationError(f"the scale's ends must be finite, not [{low}, {high}]")
    if low >= high:
        raise CalibrationError(f"the scale's low end {low:g} must be below its high end {high:g}")
    rows: list[Review] = []
    seen: set[tuple[str, str]] = set()
    for n, item in enumerate(reviews, 1):
        try:
            reviewer, submission, score = item
        except (TypeError, ValueError):
            raise CalibrationError(f"review {n} must be a (reviewer, submission, score) triple, not {item!r}") from None
        try:
            value = float(score)
        except (TypeError, ValueError):
            raise CalibrationError(f"review {n} ({reviewer} on {submission}): score {score!r} is not a number") from None
        if math.isnan(value):
            raise CalibrationError(f"review {n} ({reviewer} on {submission}): score is NaN")
        if not low <= value <= high:
            raise CalibrationError(
                f"review {n} ({reviewer} on {submission}): score {value:g} is outside the scale [{low:g}, {high:g}]")
        if (reviewer, submission) in seen:
            raise CalibrationError(f"reviewer {reviewer} scored submission {submission} twice; pass one score per review")
        seen.add((reviewer, submission))
        rows.append((reviewer, submission, value))
    if not rows:
        raise CalibrationError("no reviews to calibrate: the list is empty")
    pinned: dict[str, float] = {}
    for submission, ref in (known or {}).items():
        try:
            value = float(ref)
        except (TypeError, ValueError):
            raise CalibrationError(f"calibration item {submission}: reference score {ref!r} is not a number") from None
        if math.isnan(value) or not low <= value <= high:
            raise CalibrationError(
                f"calibration item {submission}: reference score {value:g} is outside the scale [{low:g}, {high:g}]")
        pinned[submission] = value
    return rows, pinned


def scale_step(scores: np.ndarray, low: float) -> float:
    """The grid the scores sit on (1 for integer marks, 0.5 for halves), or 0 when they look continuous."""
    for step in (1.0, 0.5):
        if np.allclose((scores - low) / step, np.round((scores - low) / step), atol=1e-9):
            return step
    return 0.0


def _truncated_moments(mean: np.ndarray, sd: np.ndarray, lo: np.ndarray,
                       hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of N(mean, sd²) restricted to [lo, hi] (either end may be infinite), stably."""
    a = (lo - mean) / sd
    b = (hi - mean) / sd
    # Work in the upper tail where it is more accurate: flip intervals lying above the mean.
    flip = (a + b) > 0
    a2 = np.where(flip, -b, a)
    b2 = np.where(flip, -a, b)
    log_za, log_zb = log_ndtr(a2), log_ndtr(b2)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_z = log_zb + np.log1p(-np.exp(np.minimum(log_za - log_zb, 0.0)))
        pdf_a = np.where(np.isfinite(a2), np.exp(-0.5 * a2 ** 2 - 0.5 * np.log(2 * np.pi) - log_z), 0.0)
        pdf_b = np.where(np.isfinite(b2), np.exp(-0.5 * b2 ** 2 - 0.5 * np.log(2 * np.pi) - log_z), 0.0)
        ta = np.where(np.isfinite(a2), a2 * pdf_a, 0.0)
        tb = np.where(np.isfinite(b2), b2 * pdf_b, 0.0)
        shift = pdf_a - pdf_b
        var_factor = 1.0 + ta - tb - shift ** 2
    bad = ~np.isfinite(shift) | ~np.isfinite(var_factor) | (var_factor < 0)
    shift = np.where(flip, -shift, shift)
    m = mean + sd * shift
    v = sd ** 2 * np.clip(var_factor, 0.0, 1.0)
    if bad.any():  # an interval so far in the tail that the normal has no mass there: take its nearer end
        nearest = np.where(np.abs(lo - mean) < np.abs(hi - mean), lo, hi)
        m = np.where(bad, np.clip(nearest, lo, hi), m)
        v = np.where(bad, 0.0, v)
    return np.clip(m, lo, hi), v


def fit(reviews: Iterable[Review], low: float, high: float, known: Mapping[str, float] | None = None, *,
        priors: Priors | None = None, censor: bool = False, max_iter: int = 500, tol: float = 1e-5) -> CalibrationFit:
    """Fit PG1 to (reviewer, submission, score) triples on [low, high]; ``known`` pins calibration items' true scores.

    ``censor`` reads each score as an interval (its rounding step, open-ended at the scale's ends) instead of a
    point. It is the exact likelihood, but off by default: under the mean-field fit each latent score is pulled
    towards the current estimate, which made reliabilities over-confident and the estimates worse in simulation
    (benchmarks/moderation.py); rounding is counted as noise instead (no reviewer is more precise than the step).
    """
    rows, pinned = _validate(reviews, low, high, known)
    # The dense blocks are at most a few hundred wide: one BLAS thread is fastest there, and threads fighting
    # over busy cores made a 900-review fit 20x slower.
    limit = threadpool_limits(1) if threadpool_limits is not None else contextlib.nullcontext()
    with limit:
        return _fit(rows, pinned, float(low), float(high), priors or Priors(), censor, max_iter, tol)


def _fit(rows: list[Review], pinned: dict[str, float], low: float, high: float, pr: Priors, censor: bool,
         max_iter: int, tol: float) -> CalibrationFit:
    """The variational EM loop on validated rows (see the module docstring for the model)."""
    width = high - low
    reviewers = sorted({r for r, _, _ in rows}, key=str)
    submissions = sorted({s for _, s, _ in rows}, key=str)
    r_index = {r: i for i, r in enumerate(reviewers)}
    free = [s for s in submissions if s not in pinned]
    t_index = {s: i for i, s in enumerate(free)}
    n_r, n_t = len(reviewers), len(free)

    scores = np.array([x for _, _, x in rows], dtype=np.float64)
    obs_r = np.array([r_index[r] for r, _, _ in rows], dtype=np.intp)
    coupled = np.array([s not in pinned for _, s, _ in rows], dtype=bool)
    obs_t = np.array([t_index.get(s, -1) for _, s, _ in rows], dtype=np.intp)
    ref = np.array([pinned.get(s, np.nan) for _, s, _ in rows], dtype=np.float64)
    known_values = np.array([pinned[s] for s in submissions if s in pinned], dtype=np.float64)

    step = scale_step(scores, low)
    if censor:
        lo_b = np.where(scores <= low, -np.inf, scores - step / 2)
        hi_b = np.where(scores >= high, np.inf, scores + step / 2)
    n_per_r = np.bincount(obs_r, minlength=n_r).astype(np.float64)

    # Hyper-priors, from the scale: guesses for the variances and the pseudo-observations they weigh.
    g_true, g_bias, g_noise = (pr.true_sd * width) ** 2, (pr.bias_sd * width) ** 2, (pr.noise_sd * width) ** 2
    nu, shape0 = pr.pseudo_count, pr.reliability_shape
    mid = (low + high) / 2
    mu, var_true, var_bias = float(np.mean(scores)), g_true, g_bias
    rate0 = shape0 * g_noise
    e_tau = np.full(n_r, 1.0 / g_noise)
    y, var_y = scores.copy(), np.zeros_like(scores)

    ct, cr = obs_t[coupled], obs_r[coupled]
    pin_r = obs_r[~coupled]
    m_t, m_b = np.full(n_t, mu), np.zeros(n_r)
    coupling = _Coupling.build(n_t, n_r, ct, cr)
    converged, it = False, 0
    for it in range(1, max_iter + 1):
        w = e_tau[obs_r]
        # q(true, bias): the joint Gaussian given the expected reliabilities.
        p_t = 1.0 / var_true + np.bincount(ct, w[coupled], minlength=n_t)
        r_t = mu / var_true + np.bincount(ct, (w * y)[coupled], minlength=n_t)
        p_b = 1.0 / var_bias + np.bincount(obs_r, w, minlength=n_r)
        r_b = np.bincount(cr, (w * y)[coupled], minlength=n_r) + \
            np.bincount(pin_r, (w * (y - ref))[~coupled], minlength=n_r)
        new_t, v_t, new_b, v_b, cov = _joint_gaussian(coupling, w[coupled], p_t, p_b, r_t, r_b)
        change = max(np.max(np.abs(new_t - m_t), initial=0.0), np.max(np.abs(new_b - m_b), initial=0.0))
        m_t, m_b = new_t, new_b

        # With censoring, each latent score: where in its rounding interval it most likely lies.
        pred = np.where(coupled, m_t[np.maximum(obs_t, 0)] if n_t else 0.0, np.nan_to_num(ref)) + m_b[obs_r]
        if censor:
            y, var_y = _truncated_moments(pred, 1.0 / np.sqrt(w), lo_b, hi_b)

        # q(reliability_r): Gamma, from each reviewer's expected squared residuals.
        resid2 = (y - pred) ** 2 + var_y + v_b[obs_r]
        if n_t:
            resid2[coupled] += v_t[ct] + 2.0 * cov
        rate = rate0 + 0.5 * np.bincount(obs_r, resid2, minlength=n_r)
        e_tau = (shape0 + 0.5 * n_per_r) / rate
        if step:  # scores rounded to the step carry at least its rounding noise (variance step²/12)
            e_tau = np.minimum(e_tau, 12.0 / step ** 2)

        # Empirical Bayes for the prior's scale, each with its weak hyper-prior.
        n_sub = n_t + len(known_values)
        mu = (m_t.sum() + known_values.sum() + pr.mean_pseudo_count * mid) / (n_sub + pr.mean_pseudo_count)
        ss_true = np.sum((m_t - mu) ** 2 + v_t) + np.sum((known_values - mu) ** 2)
        var_true = (ss_true + nu * g_true) / (n_sub + nu)
        var_bias = (np.sum(m_b ** 2 + v_b) + nu * g_bias) / (n_r + nu)
        rate0 = shape0 * (n_r + nu) / (e_tau.sum() + nu / g_noise)
        if change < tol and it > 1:
            converged = True
            break

    raw = {s: float(m_t[t_index[s]]) if s in t_index else pinned[s] for s in submissions}
    return CalibrationFit(
        estimates={s: float(min(max(v, low), high)) for s, v in raw.items()},
        sds={s: float(math.sqrt(v_t[t_index[s]])) if s in t_index else 0.0 for s in submissions},
        biases={r: float(m_b[i]) for r, i in r_index.items()},
        bias_sds={r: float(math.sqrt(v_b[i])) for r, i in r_index.items()},
        reliabilities={r: float(e_tau[i]) for r, i in r_index.items()},
        noise_sds={r: float(1.0 / math.sqrt(e_tau[i])) for r, i in r_index.items()},
        iterations=it, converged=converged, step=step, mean_true=float(mu), sd_true=float(math.sqrt(var_true)),
        sd_bias=float(math.sqrt(var_bias)), raw_estimates=raw)


@dataclass(frozen=True)
class _Coupling:
    """Which block of the (true, bias) Gaussian is inverted and which eliminated, with the pairs that couple them.

    Observation i links a[i] (a row of the inverted, smaller block) to e[i] (an eliminated variable); ``p, q``
    list every ordered pair of observations sharing an eliminated variable, the only entries the Schur
    complement and the covariances need, so one sweep costs one Cholesky of the smaller block and no dense
    product with the larger one.
    """

    swap: bool  # True: reviewers' biases are inverted, submissions' true scores eliminated
    n_a: int
    n_e: int
    a: np.ndarray
    e: np.ndarray
    p: np.ndarray
    q: np.ndarray

    @classmethod
    def build(cls, n_t: int, n_r: int, ot: np.ndarray, orv: np.ndarray) -> _Coupling:
        swap = n_r < n_t
        a, e = (orv, ot) if swap else (ot, orv)
        order = np.argsort(e, kind="stable")
        bounds = np.flatnonzero(np.diff(e[order])) + 1
        ps, qs = [], []
        for group in np.split(order, bounds):
            if len(group):
                ps.append(np.repeat(group, len(group)))
                qs.append(np.tile(group, len(group)))
        cat = (lambda xs: np.concatenate(xs) if xs else np.zeros(0, dtype=np.intp))
        return cls(swap, n_r if swap else n_t, n_t if swap else n_r, a, e, cat(ps), cat(qs))


def _joint_gaussian(cp: _Coupling, w: np.ndarray, p_t: np.ndarray, p_b: np.ndarray, r_t: np.ndarray,
                    r_b: np.ndarray):  # noqa: ANN202
    """Means, variances and the true-bias covariance at each observed pair of the Gaussian over (true, bias).

    The precision is [[diag(p_t), C], [Cᵀ, diag(p_b)]] with C[s, r] = the pair's reliability; the smaller block
    is inverted densely after eliminating the other (both diagonal), so a 300-group venue costs a 300×300
    Cholesky per sweep.
    """
    if p_t.size == 0:
        return np.zeros(0), np.zeros(0), r_b / p_b, 1.0 / p_b, np.zeros(0)
    if cp.swap:
        p_a, p_e, r_a, r_e = p_b, p_t, r_b, r_t
    else:
        p_a, p_e, r_a, r_e = p_t, p_b, r_t, r_b
    a, e, p, q = cp.a, cp.e, cp.p, cp.q
    g = w / p_e[e]  # C diag(1/p_e), per observation
    schur = np.bincount(a[p] * cp.n_a + a[q], w[p] * g[q], minlength=cp.n_a * cp.n_a).reshape(cp.n_a, cp.n_a)
    schur = np.diag(p_a) - schur
    chol, info = dpotrf(schur, lower=1, clean=1)
    if info != 0:
        raise CalibrationError("the calibration model became singular; this is a bug, please report the reviews")
    sigma, info = dpotri(chol, lower=1)
    sigma = np.tril(sigma) + np.tril(sigma, -1).T
    m_a = sigma @ (r_a - np.bincount(a, g * r_e[e], minlength=cp.n_a))
    m_e = (r_e - np.bincount(e, w * m_a[a], minlength=cp.n_e)) / p_e
    v_a = np.diag(sigma).copy()
    sg = np.bincount(p, sigma[a[p], a[q]] * g[q], minlength=len(a))  # (Σ_a G) at each observation's pair
    v_e = 1.0 / p_e + np.bincount(e, g * sg, minlength=cp.n_e)
    cov = -sg  # Cov(a, e) = -Σ_a G
    if cp.swap:
        return m_e, v_e, m_a, v_a, cov
    return m_a, v_a, m_e, v_e, cov


def calibrate(reviews: list[Review], low: float, high: float, known: dict[str, float] | None = None) -> dict[str, float]:
    """Each reviewed submission's calibrated score on [low, high], correcting reviewers' bias and noise."""
    return fit(reviews, low, high, known).estimates


def mean_scores(reviews: Iterable[Review]) -> dict[str, float]:
    """The plain mean score of each submission."""
    sums: dict[str, list[float]] = {}
    for _, submission, score in reviews:
        sums.setdefault(submission, []).append(float(score))
    return {s: float(np.mean(v)) for s, v in sums.items()}


def median_scores(reviews: Iterable[Review]) -> dict[str, float]:
    """The median score of each submission (robust to one outlying review)."""
    sums: dict[str, list[float]] = {}
    for _, submission, score in reviews:
        sums.setdefault(submission, []).append(float(score))
    return {s: float(np.median(v)) for s, v in sums.items()}
