"""Bootstrap and t intervals: the right level and formula, and never outside a metric's range."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from divrec_rl.errors import EvaluationError
from divrec_rl.evaluation.stats import (
    MetricCI,
    bootstrap_metrics,
    percentile_interval,
    resample_weights,
    t_interval,
    within_bounds,
)
from divrec_rl.evaluation.summary import BOUNDS, METRICS, SET_LEVEL, UserRecords


def records(
    engagement: np.ndarray,
    clicks: np.ndarray,
    steps: np.ndarray,
    n_items: int,
    shown_items: int,
    tail: np.ndarray | None = None,
) -> UserRecords:
    """Hand-made per-user records of N users: every user is shown ``shown_items`` of the
    ``n_items`` items once per slot of ``k = 2``; other columns are simple and valid."""
    n = len(engagement)
    k = 2
    exposure = np.zeros((n, n_items), dtype=np.int32)
    exposure[:, :shown_items] = 1
    slots = steps * k
    columns = {
        "one": np.ones(n),
        "engagement": engagement.astype(np.float64),
        "return": engagement.astype(np.float64),
        "steps": steps.astype(np.float64),
        "sessions": np.ones(n),
        "slots": slots.astype(np.float64),
        "clicks": clicks.astype(np.float64),
        "ild": 0.5 * steps,
        "category_ild": 0.5 * steps,
        "category_coverage": np.full(n, 0.5),
        "tail": (slots if tail is None else tail).astype(np.float64),
        "information": 3.0 * slots,
        "mcd": np.full(n, 0.25),
        "has_history": np.ones(n),
    }
    return UserRecords(columns, exposure)


def test_every_metric_declares_its_range() -> None:
    assert set(BOUNDS) == set(METRICS)
    for m, (low, high) in BOUNDS.items():
        assert low < high, m
    for m in ("ctr", "category_coverage", "catalog_coverage", "gini", "tail_share", "mcd"):
        assert BOUNDS[m] == (0.0, 1.0), m


def test_t_interval_hand_case() -> None:
    # mean 2, sd 1, S = 3: half width t_{0.975, 2} / √3 = 4.302653 / 1.732051 = 2.484138.
    ci = t_interval(np.array([1.0, 2.0, 3.0]), 0.95)
    assert ci.mean == 2.0
    assert ci.low == pytest.approx(2.0 - 2.484138, abs=1e-6)
    assert ci.high == pytest.approx(2.0 + 2.484138, abs=1e-6)
    narrower = t_interval(np.array([1.0, 2.0, 3.0]), 0.80)  # t_{0.9, 2} = 1.885618
    assert narrower.high - narrower.mean == pytest.approx(1.885618 / math.sqrt(3), abs=1e-6)


def test_within_bounds_clips_and_keeps_nan() -> None:
    assert within_bounds(MetricCI(0.98, 0.93, 1.03), (0.0, 1.0)) == MetricCI(0.98, 0.93, 1.0)
    assert within_bounds(MetricCI(0.01, -0.2, 0.2), (0.0, 1.0)) == MetricCI(0.01, 0.0, 0.2)
    same = within_bounds(MetricCI(5.0, -3.0, 13.0), (-math.inf, math.inf))
    assert same == MetricCI(5.0, -3.0, 13.0)
    nan = within_bounds(MetricCI(0.5, float("nan"), float("nan")), (0.0, 1.0))
    assert math.isnan(nan.low) and math.isnan(nan.high)


def test_coverage_near_one_over_two_seeds_stays_inside_zero_one() -> None:
    # Seed 0 shows all 100 items, seed 1 shows 96: coverage 1.00 and 0.96.  The raw t-interval,
    # 0.98 ± 12.706 · 0.028284 / √2 = 0.98 ± 0.254, reaches 1.234; the reported one stops at 1.
    n = 50
    ones = np.ones(n)
    per_seed = [
        records(ones, ones, ones, n_items=100, shown_items=100),
        records(ones, ones, ones, n_items=100, shown_items=96),
    ]
    raw = t_interval(np.array([1.0, 0.96]), 0.95)
    assert raw.high == pytest.approx(0.98 + 0.254, abs=1e-3)
    rng = np.random.default_rng(0)
    ci = bootstrap_metrics(per_seed, [resample_weights(n, 200, rng) for _ in per_seed])
    cov = ci["catalog_coverage"]
    assert cov.mean == pytest.approx(0.98)
    assert cov.low == pytest.approx(raw.low) and cov.high == 1.0
    # Every user clicks on every slate and every slot is long-tail: both rates are exactly 1.
    assert ci["ctr"] == MetricCI(1.0, 1.0, 1.0)
    assert ci["tail_share"] == MetricCI(1.0, 1.0, 1.0)
    for m in METRICS:
        low, high = BOUNDS[m]
        assert low <= ci[m].low <= ci[m].mean <= ci[m].high <= high, m


def test_percentile_interval_is_the_quantiles_of_the_replicates() -> None:
    rng = np.random.default_rng(1)
    n, n_boot = 40, 500
    engagement = rng.uniform(0.0, 1.0, n)
    per_seed = [records(engagement, np.ones(n), np.ones(n), 20, 10)]
    weights = resample_weights(n, n_boot, rng)
    for level in (0.95, 0.8):
        ci = bootstrap_metrics(per_seed, [weights], level=level)["engagement"]
        replicates = weights @ engagement / weights.sum(axis=1)  # hand-computed mean per resample
        alpha = (1.0 - level) / 2.0
        assert ci.mean == pytest.approx(engagement.mean())
        expected = np.quantile(replicates, [alpha, 1 - alpha])
        assert (ci.low, ci.high) == pytest.approx(tuple(expected))
    assert math.isnan(percentile_interval(0.5, np.array([np.nan]), 0.95).low)


def test_percentile_interval_agrees_with_scipy() -> None:
    # One seed, 300 users whose click rates sit close to 1: our seed-stratified bootstrap and
    # scipy's percentile bootstrap estimate the same quantiles (Monte Carlo error ≈ 1e-4 here).
    rng = np.random.default_rng(2)
    n, n_boot, level = 300, 20_000, 0.9
    steps = rng.integers(1, 20, n).astype(np.float64)
    clicks = np.minimum(steps, rng.binomial(steps.astype(int), 0.97)).astype(np.float64)
    engagement = rng.beta(20.0, 1.0, n)
    per_seed = [records(engagement, clicks, steps, 20, 10)]
    ci = bootstrap_metrics(per_seed, [resample_weights(n, n_boot, rng)], level=level)

    def ratio(c: np.ndarray, s: np.ndarray, axis: int = -1) -> np.ndarray:
        return c.sum(axis=axis) / s.sum(axis=axis)

    expected = {
        "engagement": sps.bootstrap(
            (engagement,), np.mean, confidence_level=level, n_resamples=n_boot,
            method="percentile", random_state=np.random.default_rng(3),
        ).confidence_interval,
        "ctr": sps.bootstrap(
            (clicks, steps), ratio, paired=True, confidence_level=level, n_resamples=n_boot,
            method="percentile", random_state=np.random.default_rng(4),
        ).confidence_interval,
    }  # fmt: skip
    for m, interval in expected.items():
        assert ci[m].low == pytest.approx(interval.low, abs=1.5e-3), m
        assert ci[m].high == pytest.approx(interval.high, abs=1.5e-3), m
        assert ci[m].high <= 1.0


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 12),
    n_seeds=st.integers(1, 4),
    level=st.sampled_from([0.5, 0.9, 0.95, 0.99]),
    seed=st.integers(0, 2**32 - 1),
)
def test_intervals_never_leave_the_metric_range(
    n: int, n_seeds: int, level: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    per_seed = []
    for _ in range(n_seeds):
        steps = rng.integers(1, 6, n).astype(np.float64)
        clicks = np.floor(steps * rng.choice([0.0, 1.0, rng.random()], n))
        tail = np.floor(2 * steps * rng.choice([0.0, 1.0, rng.random()], n))
        shown = int(rng.integers(1, 9))
        per_seed.append(records(clicks / steps, clicks, steps, 8, shown, tail))
    weights = [resample_weights(n, 50, rng) for _ in per_seed]
    ci = bootstrap_metrics(per_seed, weights, level=level)
    for m in METRICS:
        low, high = BOUNDS[m]
        c = ci[m]
        if m in SET_LEVEL and n_seeds == 1:
            assert math.isnan(c.low) and math.isnan(c.high)
            continue
        # (A percentile interval need not contain the point estimate on a tiny skewed sample.)
        assert low <= c.low <= c.high <= high, (m, c)
        assert low <= c.mean <= high, (m, c)


def test_level_outside_zero_one_is_refused() -> None:
    ones = np.ones(3)
    per_seed = [records(ones, ones, ones, 4, 2)]
    with pytest.raises(EvaluationError, match=r"level: must be in \(0, 1\), got 1.5"):
        bootstrap_metrics(per_seed, [resample_weights(3, 5, np.random.default_rng(0))], level=1.5)
