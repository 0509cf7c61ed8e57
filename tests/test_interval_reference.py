"""Interval statistics against independent references: SciPy's t quantiles and tests, and the
paired bootstrap recomputed by hand from the same resample counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from divrec_rl.errors import EvaluationError
from divrec_rl.evaluation.stats import (
    MetricCI,
    bootstrap_metrics,
    paired_test,
    percentile_interval,
    resample_weights,
    t_interval,
    within_bounds,
)
from divrec_rl.evaluation.summary import METRICS, SET_LEVEL, UserRecords


@pytest.mark.parametrize("level", [0.5, 0.9, 0.95, 0.99])
@pytest.mark.parametrize("n", [2, 3, 7])
def test_t_interval_is_scipys(level: float, n: int) -> None:
    values = np.random.default_rng(n).normal(3.0, 2.0, n)
    low, high = sps.t.interval(level, n - 1, loc=values.mean(), scale=sps.sem(values))
    ci = t_interval(values, level)
    assert ci.mean == pytest.approx(values.mean(), rel=1e-12)
    assert (ci.low, ci.high) == pytest.approx((low, high), rel=1e-10)


def test_t_interval_of_one_value_has_nan_bounds_and_of_equal_values_zero_width() -> None:
    one = t_interval(np.array([0.4]), 0.95)
    assert one.mean == 0.4 and math.isnan(one.low) and math.isnan(one.high)
    assert t_interval(np.array([0.5, 0.5, 0.5]), 0.95) == MetricCI(0.5, 0.5, 0.5)


def test_percentile_interval_drops_non_finite_replicates() -> None:
    reps = np.array([np.nan, 0.0, 1.0, 2.0, 3.0, 4.0, np.inf])
    ci = percentile_interval(7.0, reps, 0.5)  # quantiles 0.25 and 0.75 of 0..4: 1 and 3
    assert ci == MetricCI(7.0, 1.0, 3.0)


def test_resample_weights_are_multinomial_counts_of_n() -> None:
    w = resample_weights(6, 1000, np.random.default_rng(0))
    assert w.shape == (1000, 6) and w.dtype == np.float64
    assert (w.sum(axis=1) == 6).all() and (w >= 0).all() and (w == np.round(w)).all()
    # every user equally likely: each column's mean count is 1 (sd of the mean ≈ 0.03)
    np.testing.assert_allclose(w.mean(axis=0), 1.0, atol=0.15)


def _records(engagement: np.ndarray, n_items: int, shown: int) -> UserRecords:
    n = len(engagement)
    exposure = np.zeros((n, n_items), dtype=np.int32)
    exposure[:, :shown] = 1
    ones = np.ones(n)
    columns = {
        "one": ones,
        "engagement": engagement,
        "return": engagement,
        "steps": ones,
        "sessions": ones,
        "slots": 2 * ones,
        "clicks": ones,
        "ild": 0.5 * ones,
        "category_ild": 0.5 * ones,
        "category_coverage": 0.5 * ones,
        "tail": ones,
        "information": ones,
        "mcd": 0.25 * ones,
        "has_history": ones,
    }
    return UserRecords(columns, exposure)


def test_bootstrap_averages_the_seeds_replicate_by_replicate() -> None:
    # Two seeds: replicate b is the mean over seeds of each seed's resampled mean engagement,
    # the point estimate the mean of the seeds' means; set-level metrics a t-interval over seeds.
    rng = np.random.default_rng(5)
    e0, e1 = rng.uniform(0, 1, 30), rng.uniform(0, 0.5, 30)
    w0, w1 = resample_weights(30, 400, rng), resample_weights(30, 400, rng)
    ci = bootstrap_metrics([_records(e0, 10, 10), _records(e1, 10, 5)], [w0, w1], level=0.9)
    reps = (w0 @ e0 / 30 + w1 @ e1 / 30) / 2
    low, high = np.quantile(reps, [0.05, 0.95])
    assert ci["engagement"] == MetricCI(
        pytest.approx((e0.mean() + e1.mean()) / 2), pytest.approx(low), pytest.approx(high)
    )
    cov = t_interval(np.array([1.0, 0.5]), 0.9)
    assert ci["catalog_coverage"].mean == pytest.approx(0.75)
    assert ci["catalog_coverage"].low == pytest.approx(max(cov.low, 0.0))
    assert set(ci) == set(METRICS) and set(SET_LEVEL) <= set(ci)


def test_bootstrap_needs_one_weight_array_per_seed() -> None:
    rec = _records(np.ones(3), 4, 2)
    w = resample_weights(3, 5, np.random.default_rng(0))
    for per_seed, weights in (([rec, rec], [w]), ([], [])):
        with pytest.raises(ValueError) as err:
            bootstrap_metrics(per_seed, weights)
        assert str(err.value) == "per_seed, weights: need one entry per seed, at least one"


@pytest.mark.parametrize("level", [0.9, 0.95])
def test_paired_test_against_a_reference(level: float) -> None:
    rng = np.random.default_rng(11)
    b = rng.normal(5.0, 1.0, 60)
    a = b + rng.normal(0.1, 0.5, 60)
    a[:3] = b[:3]  # ties: neither better off
    t = paired_test("engagement", a, b, n_boot=3000, seed=4, level=level)
    d = a - b
    # the same resample counts the function draws from its seed
    boots = resample_weights(60, 3000, np.random.default_rng(4)) @ d / 60
    alpha = (1 - level) / 2
    low, high = np.quantile(boots, [alpha, 1 - alpha])
    assert (t.ci_low, t.ci_high) == pytest.approx((low, high))
    assert t.metric == "engagement" and t.n_pairs == 60
    assert (t.mean_a, t.mean_b, t.mean_diff) == pytest.approx((a.mean(), b.mean(), d.mean()))
    assert t.share_a_better == pytest.approx(np.mean(d > 0))
    assert t.share_b_better == pytest.approx(np.mean(d < 0))
    assert t.share_a_better + t.share_b_better == pytest.approx(57 / 60)
    assert t.wilcoxon_p == pytest.approx(sps.wilcoxon(d, zero_method="wilcox").pvalue)
    assert t.ttest_p == pytest.approx(sps.ttest_1samp(d, 0.0).pvalue)


def test_paired_test_hand_case() -> None:
    # d = (1, −1, 2, 2): mean 1, two of four users better off under A, one under B.
    a, b = np.array([2.0, 0.0, 3.0, 4.0]), np.array([1.0, 1.0, 1.0, 2.0])
    t = paired_test("return", a, b, n_boot=500, seed=0)
    assert (t.mean_a, t.mean_b, t.mean_diff) == (2.25, 1.25, 1.0)
    assert (t.share_a_better, t.share_b_better) == (0.75, 0.25)
    assert -1.0 <= t.ci_low < 1.0 < t.ci_high <= 2.0


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (np.ones(1), np.ones(1)),
        (np.ones(3), np.ones(4)),
        (np.ones((2, 2)), np.ones((2, 2))),
    ],
)
def test_paired_test_refuses_bad_shapes(a: np.ndarray, b: np.ndarray) -> None:
    with pytest.raises(ValueError, match="a, b: need two 1-D arrays of equal length ≥ 2"):
        paired_test("x", a, b)


def test_paired_test_defaults_and_identical_samples() -> None:
    rng = np.random.default_rng(2)
    b = rng.normal(0, 1, 50)
    a = b + rng.normal(0.2, 1, 50)
    t = paired_test("x", a, b)
    assert t == paired_test("x", a, b, n_boot=2000, seed=0, level=0.95)
    boots = resample_weights(50, 2000, np.random.default_rng(0)) @ (a - b) / 50
    assert (t.ci_low, t.ci_high) == pytest.approx(tuple(np.quantile(boots, [0.025, 0.975])))
    same = paired_test("x", b, b)
    assert (same.wilcoxon_p, same.ttest_p) == (1.0, 1.0)
    assert (same.ci_low, same.ci_high, same.share_a_better, same.share_b_better) == (0, 0, 0, 0)
    two = paired_test("x", np.array([1.0, 2.0]), np.array([0.0, 0.0]))  # two pairs suffice
    assert two.n_pairs == 2 and two.mean_diff == 1.5


def test_within_bounds_of_an_interval_outside_the_range() -> None:
    assert within_bounds(MetricCI(1.5, 1.2, 1.4), (0.0, 1.0)) == MetricCI(1.5, 1.0, 1.0)
    assert within_bounds(MetricCI(-0.5, -0.4, -0.2), (0.0, 1.0)) == MetricCI(-0.5, 0.0, 0.0)


def test_percentile_interval_without_finite_replicates_keeps_the_mean() -> None:
    ci = percentile_interval(0.25, np.array([np.nan, np.inf]), 0.9)
    assert ci.mean == 0.25 and math.isnan(ci.low) and math.isnan(ci.high)


@pytest.mark.parametrize("level", [0.0, 1.0, -0.5, 1.5])
def test_level_must_be_strictly_between_zero_and_one(level: float) -> None:
    rec = _records(np.ones(3), 4, 2)
    w = resample_weights(3, 5, np.random.default_rng(0))
    with pytest.raises(EvaluationError) as err:
        bootstrap_metrics([rec], [w], level=level)
    assert str(err.value) == f"level: must be in (0, 1), got {level!r}"


def test_a_metric_undefined_on_a_seed_has_an_undefined_mean() -> None:
    # Seed 1's users never clicked: engagement per click is 0/0 there, so the mean over seeds
    # (and its interval) is NaN rather than the mean of the other seed.
    rec0 = _records(np.full(4, 0.5), 4, 2)
    rec1 = _records(np.zeros(4), 4, 2)
    rec1.columns["clicks"][:] = 0.0
    w = [resample_weights(4, 20, np.random.default_rng(s)) for s in (0, 1)]
    ci = bootstrap_metrics([rec0, rec1], w)
    undefined = [m for m in METRICS if math.isnan(ci[m].mean)]
    assert undefined, "expected a metric with clicks in its denominator"
