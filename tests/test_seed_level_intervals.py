"""Seed-level uncertainty: the two-stage bootstrap (seeds, then users within each drawn seed)
and the seed-level paired test, against hand computations and SciPy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from divrec_rl.evaluation.stats import (
    bootstrap_metrics,
    resample_weights,
    seed_level_test,
    two_stage,
)
from tests.test_interval_reference import _records


def test_two_stage_replicates_average_random_seeds_random_user_replicates() -> None:
    pools = [np.arange(4.0), 10.0 + np.arange(4.0), 100.0 + np.arange(4.0)]
    reps = two_stage(pools, seed=3)
    rng = np.random.default_rng(3)
    which, index = rng.integers(0, 3, (4, 3)), rng.integers(0, 4, (4, 3))
    by_hand = [np.mean([pools[which[b, j]][index[b, j]] for j in range(3)]) for b in range(4)]
    np.testing.assert_allclose(reps, by_hand)
    assert np.array_equal(two_stage(pools, seed=3), reps)  # same seed, same draws


def test_seeds_far_apart_widen_the_interval_beyond_the_user_level_one() -> None:
    # Two seeds whose users agree closely within a seed but whose means differ by 10:
    # the user-level interval is narrow, the seed-level one spans most of the gap.
    rng = np.random.default_rng(0)
    e = [rng.normal(0.0, 0.1, 50), rng.normal(10.0, 0.1, 50)]
    weights = [resample_weights(50, 2000, rng) for _ in e]
    per_seed = [_records(x, 6, 3) for x in e]
    users = bootstrap_metrics(per_seed, weights)["engagement"]
    seeds = bootstrap_metrics(per_seed, weights, two_stage_seed=1)["engagement"]
    assert users.mean == seeds.mean == pytest.approx(np.mean([x.mean() for x in e]))
    assert users.high - users.low < 0.1
    assert seeds.low < 1.0 and seeds.high > 9.0
    # one seed: nothing to resample at the seed level, the user-level interval stays
    one = bootstrap_metrics(per_seed[:1], weights[:1], two_stage_seed=1)["engagement"]
    assert one == bootstrap_metrics(per_seed[:1], weights[:1])["engagement"]


def test_seed_level_test_against_scipy() -> None:
    rng = np.random.default_rng(4)
    diffs = [rng.normal(mu, 1.0, 80) for mu in (0.5, 0.2, 0.9, 0.4, 0.6)]
    t = seed_level_test("return", diffs, n_boot=3000, seed=2)
    means = np.array([d.mean() for d in diffs])
    assert t.n_seeds == 5 and t.seed_diffs == pytest.approx(tuple(means))
    assert t.mean_diff == pytest.approx(means.mean())
    assert t.ttest_p == pytest.approx(sps.ttest_1samp(means, 0.0).pvalue)
    assert t.seeds_a_better == 5
    assert t.ci_low < t.mean_diff < t.ci_high
    # the interval is at least as wide as the spread of a mean of 5 seed means allows
    assert t.ci_high - t.ci_low > 2 * 1.0 * means.std(ddof=1) / math.sqrt(5)


def test_seed_level_test_of_one_seed_and_of_identical_seeds() -> None:
    d = np.array([1.0, -1.0, 2.0, 2.0])
    one = seed_level_test("return", [d], n_boot=500)
    assert one.n_seeds == 1 and one.mean_diff == 1.0 and math.isnan(one.ttest_p)
    same = seed_level_test("return", [d, d], n_boot=500)
    assert same.mean_diff == 1.0 and math.isnan(same.ttest_p)  # no spread between seeds
    with pytest.raises(ValueError, match="diffs_per_seed"):
        seed_level_test("return", [])


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.lists(st.floats(-5, 5), min_size=2, max_size=12), min_size=2, max_size=5),
    st.integers(0, 2**16),
)
def test_seed_level_interval_lies_within_the_range_of_user_differences(
    seeds: list[list[float]], seed: int
) -> None:
    diffs = [np.array(s) for s in seeds]
    t = seed_level_test("return", diffs, n_boot=200, seed=seed)
    lo, hi = min(d.min() for d in diffs), max(d.max() for d in diffs)
    assert lo - 1e-9 <= t.ci_low <= t.ci_high <= hi + 1e-9


def test_the_report_gives_the_seed_level_table_and_bases_its_verdict_on_it() -> None:
    from types import SimpleNamespace

    from divrec_rl.evaluation.report_paired import paired_section
    from divrec_rl.evaluation.results import Comparison
    from divrec_rl.evaluation.stats import paired_test

    rng = np.random.default_rng(9)
    # every user a little better under "ppo" within a seed, but the seeds disagree in sign:
    # the user-level interval excludes 0, the seed-level one must not
    per_seed = [rng.normal(mu, 0.05, 200) for mu in (1.0, -0.8, 0.9, -0.7, 0.2)]
    b = [rng.normal(10.0, 1.0, 200) for _ in per_seed]
    a = [x + d for x, d in zip(b, per_seed, strict=True)]
    user = paired_test("return", np.concatenate(a), np.concatenate(b), seed=0)
    seed = seed_level_test("return", per_seed, seed=0)
    assert user.ci_low > 0 and seed.ci_low < 0 < seed.ci_high
    comp = Comparison("ppo", "baseline", [user], [seed])
    text = "\n".join(paired_section(SimpleNamespace(paired={"primary": [comp]}), "primary"))
    assert "Seed level (5 evaluation seeds as units" in text
    per_seed = ", ".join(f"{d:.3f}" for d in seed.seed_diffs)
    assert [round(d, 1) for d in seed.seed_diffs] == [1.0, -0.8, 0.9, -0.7, 0.2]
    assert f"| return | {seed.mean_diff:.3f} [" in text and f"{per_seed} | 3/5 |" in text
    assert "No detectable difference in return between ppo and baseline (the seed-level" in text
    # without seed-level tests (one seed) the verdict is the user-level one
    text = "\n".join(paired_section(SimpleNamespace(paired={"primary": [
        Comparison("ppo", "baseline", [user])]}), "primary"))  # fmt: skip
    assert "Seed level" not in text and "ppo earns a higher return than baseline" in text


def test_a_verdict_from_few_seeds_says_the_interval_is_optimistic() -> None:
    """Two or three seeds make a cluster bootstrap undercover: a verdict of a difference keeps
    its interval but names the seed-level t-test beside it; five seeds read as before."""
    from divrec_rl.evaluation.report_paired import _verdict
    from divrec_rl.evaluation.results import Comparison
    from divrec_rl.evaluation.stats import PairedTest, SeedLevelTest

    user = PairedTest("return", 50, 2.0, 1.0, 1.0, 0.5, 1.5, 0.6, 0.3, 0.01, 0.01)

    def verdict(n_seeds: int) -> str:
        seed = SeedLevelTest("return", n_seeds, (1.0,) * n_seeds, 1.0, 0.4, 1.6, 0.057, n_seeds)
        return _verdict(Comparison("ppo", "baseline", [user], [seed]))

    assert verdict(2) == (
        "ppo earns a higher return than baseline (the seed-level 95% interval excludes 0; with "
        "only 2 evaluation seeds the bootstrap interval is optimistic, the seed-level t-test "
        "gives p = 0.0570)."
    )
    assert verdict(5) == (
        "ppo earns a higher return than baseline (the seed-level 95% interval excludes 0)."
    )
