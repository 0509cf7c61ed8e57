"""Uncertainty: bootstrap confidence intervals and the paired PPO-vs-baseline test.

Units are users.  An agent is evaluated on S seeds × N users; a bootstrap replicate resamples the
N users of every seed with replacement (stratified by seed), recomputes each seed's metric from
the resampled users (:meth:`~divrec_rl.evaluation.summary.UserRecords.weighted`) and averages over
seeds — the same estimator as the point estimate.  Percentile intervals (Efron and Tibshirani,
*An Introduction to the Bootstrap*, 1993, ch. 13): the ``(1 − level)/2`` and ``(1 + level)/2``
quantiles of the replicates.  Catalogue coverage and the exposure Gini are properties of the whole
set of slates, which a resample with repeated users biases (fewer distinct users show fewer
items); their interval is a Student-t interval over the independent seeds,
``mean ± t_{(1+level)/2, S−1} · sd / √S``.

Bounded metrics stay inside their bounds (:data:`~divrec_rl.evaluation.summary.BOUNDS`).  A
t-interval is symmetric and knows nothing of them: a coverage of 0.98 ± 0.05 over two seeds
reached [0.93, 1.03].  Every interval is therefore intersected with its metric's range; the true
value lies in that range, so the intersection contains it whenever the raw interval does — the
same coverage, and never an impossible value.  (A percentile interval of a bounded statistic is
inside the range already; the intersection changes nothing there.)

Seed-level intervals.  When the S evaluation seeds are independent draws of something larger
than their users -- a PPO agent trained with several seeds plays seed s with the model of
training seed s mod k, so seeds differ by model *and* users -- the user-level interval above
misses the spread between seeds.  The seeds are then the independent units: each seed's mean
carries both its users' noise and its trained model's, and the interval is the Student-t
interval of the S per-seed values, ``mean ± t_{(1+level)/2, S−1} · sd / √S`` (the standard
analysis of a few clusters; e.g. Cameron and Miller, *J. Human Resources* 50(2), 2015, §VI),
with the one-sample t-test of the same values as its test.  :func:`bootstrap_metrics` uses it
for per-user metrics when asked for ``seed_level`` and S ≥ 2, :func:`seed_level_test` for the
paired difference.  When the S values do not differ at all (no spread to estimate) the interval
falls back to the user-level one.

Until 2026-12-03 the seed-level interval was a two-stage percentile bootstrap (seeds, then users
within each drawn seed).  A simulation with known truth showed it undercovers when the spread
between trained models dominates: with S = 5 seeds its 95% interval excluded a true zero
difference in 16 % of 300 data sets, the t-test in 4 % (``docs/evaluation.md``, "Seed-level
intervals, corrected").  The bootstrap resamples users inside each drawn seed, counting their
noise twice, shrinks the between-seed variance by (S − 1)/S, and a percentile interval over S
values has no small-sample correction.

Paired test: under common random numbers user u of seed s is the same user with the same random
streams for both agents, so the per-user differences ``d = x_A − x_B`` are paired observations.
Reported: mean difference, its paired-bootstrap 95% interval, the share of users better off,
Wilcoxon's signed-rank test and the paired t-test (``scipy.stats``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from divrec_rl.errors import EvaluationError
from divrec_rl.evaluation.summary import BOUNDS, METRICS, SET_LEVEL, UserRecords

__all__ = [
    "MetricCI",
    "PairedTest",
    "SeedLevelTest",
    "bootstrap_metrics",
    "paired_test",
    "percentile_interval",
    "resample_weights",
    "seed_interval",
    "seed_level_test",
    "t_interval",
    "within_bounds",
]


@dataclass(frozen=True)
class MetricCI:
    """Mean over seeds of one metric and its bootstrap percentile interval."""

    mean: float
    low: float
    high: float


def resample_weights(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_boot, n)`` resample counts: each row is a multinomial draw of n users out of n."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)


def bootstrap_metrics(
    per_seed: Sequence[UserRecords],
    weights: Sequence[np.ndarray],
    level: float = 0.95,
    seed_level: bool = False,
) -> dict[str, MetricCI]:
    """Mean over seeds of every metric with its interval.

    Per-user metrics: percentile interval of a seed-stratified bootstrap over users (without
    ``seed_level``).
    ``per_seed`` holds one agent's records, one entry per seed; ``weights`` the resample counts
    of each seed (``(B, N_s)``, :func:`resample_weights`; pass the same ones to every agent so
    all agents are resampled on the same users).

    ``seed_level`` (with S ≥ 2 seeds): per-user metrics get the Student-t interval of the S
    per-seed values instead (the seeds as units, module docstring).

    Set-level metrics (:data:`~divrec_rl.evaluation.summary.SET_LEVEL`): Student-t interval over
    the seeds, which are independent samples of N users (NaN with one seed).  Every interval is
    kept inside its metric's :data:`~divrec_rl.evaluation.summary.BOUNDS`.
    """
    if not per_seed or len(per_seed) != len(weights):
        raise ValueError("per_seed, weights: need one entry per seed, at least one")
    points = [records.point() for records in per_seed]
    pools: dict[str, list[np.ndarray]] = {}
    for records, w in zip(per_seed, weights, strict=True):
        for m, values in records.weighted(w).items():
            pools.setdefault(m, []).append(np.asarray(values, dtype=np.float64))
    replicates = {m: np.mean(p, axis=0) for m, p in pools.items()}
    if not 0.0 < level < 1.0:
        raise EvaluationError(f"level: must be in (0, 1), got {level!r}")
    out: dict[str, MetricCI] = {}
    for m in METRICS:
        values = np.array([p[m] for p in points])
        mean = float(np.mean(values)) if np.isfinite(values).all() else float("nan")
        if m in SET_LEVEL:
            ci = t_interval(values, level)
        elif seed_level:
            ci = seed_interval(values, replicates[m], level)
        else:
            ci = percentile_interval(mean, replicates[m], level)
        out[m] = within_bounds(ci, BOUNDS[m])
    return out


def seed_interval(values: np.ndarray, user_replicates: np.ndarray, level: float) -> MetricCI:
    """The seed-level interval of the mean of per-seed ``values``: their Student-t interval with
    S ≥ 2 seeds that differ; else (one seed, or S equal values: no spread between seeds to
    estimate) the user-level percentile interval of ``user_replicates``."""
    mean = float(np.mean(values)) if np.isfinite(values).all() else float("nan")
    finite = values[np.isfinite(values)]
    if len(finite) == len(values) >= 2 and np.ptp(finite) > 0:
        return t_interval(values, level)
    return percentile_interval(mean, user_replicates, level)


def percentile_interval(mean: float, replicates: np.ndarray, level: float) -> MetricCI:
    """``mean`` with the percentile interval of the finite ``replicates``: their
    ``(1 − level)/2`` and ``(1 + level)/2`` quantiles (NaN when there are none)."""
    reps = replicates[np.isfinite(replicates)]
    if len(reps) == 0:
        return MetricCI(mean, float("nan"), float("nan"))
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(reps, [alpha, 1.0 - alpha])
    return MetricCI(mean, float(low), float(high))


def t_interval(values: np.ndarray, level: float) -> MetricCI:
    """Student-t interval of the mean of independent ``values`` (one per seed):
    ``mean ± t_{(1+level)/2, S−1} · sd / √S``, with the sample sd (ddof 1); NaN bounds for S < 2."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return MetricCI(mean, float("nan"), float("nan"))
    half = sps.t.ppf(0.5 + level / 2.0, len(values) - 1) * np.std(values, ddof=1)
    half /= np.sqrt(len(values))
    return MetricCI(mean, mean - float(half), mean + float(half))


def within_bounds(ci: MetricCI, bounds: tuple[float, float]) -> MetricCI:
    """``ci`` intersected with the metric's range ``bounds = (low, high)``; NaN stays NaN.

    The true value lies in the range, so the intersection contains it whenever ``ci`` does.
    """
    low, high = bounds
    return MetricCI(ci.mean, float(np.clip(ci.low, low, high)), float(np.clip(ci.high, low, high)))


@dataclass(frozen=True)
class PairedTest:
    """Paired comparison of agent A against agent B on the same users (A − B)."""

    metric: str
    n_pairs: int
    mean_a: float
    mean_b: float
    mean_diff: float
    ci_low: float
    ci_high: float
    share_a_better: float
    share_b_better: float
    wilcoxon_p: float
    ttest_p: float


def paired_test(
    metric: str,
    a: np.ndarray,
    b: np.ndarray,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> PairedTest:
    """Paired test of per-user values ``a`` and ``b`` (same users, same order)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 2:
        raise ValueError(f"a, b: need two 1-D arrays of equal length ≥ 2, got {a.shape}, {b.shape}")
    d = a - b
    rng = np.random.default_rng(seed)
    boots = resample_weights(len(d), n_boot, rng) @ d / len(d)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(boots, [alpha, 1.0 - alpha])
    if np.all(d == 0):
        wilcoxon_p = ttest_p = 1.0
    else:
        wilcoxon_p = float(sps.wilcoxon(a, b, zero_method="wilcox").pvalue)
        ttest_p = float(sps.ttest_rel(a, b).pvalue)
    return PairedTest(
        metric=metric,
        n_pairs=len(d),
        mean_a=float(a.mean()),
        mean_b=float(b.mean()),
        mean_diff=float(d.mean()),
        ci_low=float(low),
        ci_high=float(high),
        share_a_better=float((d > 0).mean()),
        share_b_better=float((d < 0).mean()),
        wilcoxon_p=wilcoxon_p,
        ttest_p=ttest_p,
    )


@dataclass(frozen=True)
class SeedLevelTest:
    """Paired difference A − B with the evaluation seeds as the units (module docstring)."""

    metric: str
    n_seeds: int
    seed_diffs: tuple[float, ...]
    mean_diff: float
    ci_low: float
    ci_high: float
    ttest_p: float
    seeds_a_better: int


def seed_level_test(
    metric: str,
    diffs_per_seed: Sequence[np.ndarray],
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> SeedLevelTest:
    """Seed-level paired test of per-user differences ``d = a − b``, one array per seed.

    Point estimate: the mean over seeds of the seeds' mean differences.  Interval
    (:func:`seed_interval`): the Student-t interval of the S seed means; with one seed, or S
    equal means, the percentile interval of ``n_boot`` user resamples of the pooled differences.
    Test: one-sample t-test of the S seed means against 0 (NaN for S < 2 or when all seed means
    are equal).
    """
    diffs = [np.asarray(d, dtype=np.float64) for d in diffs_per_seed]
    if not diffs or any(d.ndim != 1 or len(d) < 1 for d in diffs):
        raise ValueError("diffs_per_seed: need at least one non-empty 1-D array per seed")
    means = np.array([d.mean() for d in diffs])
    users = None
    if len(means) < 2 or np.ptp(means) == 0:  # only then is the user-level fallback needed
        rng = np.random.default_rng(seed)
        pooled = np.concatenate(diffs)
        users = resample_weights(len(pooled), n_boot, rng) @ pooled / len(pooled)
    ci = seed_interval(means, users if users is not None else means, level)
    low, high = ci.low, ci.high
    p = float("nan")
    if len(means) >= 2 and np.ptp(means) > 0:
        p = float(sps.ttest_1samp(means, 0.0).pvalue)
    return SeedLevelTest(
        metric=metric,
        n_seeds=len(diffs),
        seed_diffs=tuple(float(m) for m in means),
        mean_diff=float(means.mean()),
        ci_low=float(low),
        ci_high=float(high),
        ttest_p=p,
        seeds_a_better=int((means > 0).sum()),
    )
