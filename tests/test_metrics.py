"""Tests for divrec_rl.metrics: hand-computed cases, properties and input validation."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from divrec_rl.metrics import (
    catalog_coverage,
    category_coverage,
    category_ild,
    ctr,
    cumulative_engagement,
    exposure_counts,
    gini_exposure,
    hit_rate_at_k,
    intra_list_diversity,
    long_tail_share,
    majority_category,
    majority_category_domination,
    ndcg_at_k,
    novelty,
    session_ids_from_dones,
    session_length,
    tail_mask_from_popularity,
)

FAST = settings(max_examples=60, deadline=None)
finite = st.floats(-100, 100, allow_nan=False, allow_infinity=False, allow_subnormal=False)


# --------------------------------------------------------------------------------------------
# engagement
# --------------------------------------------------------------------------------------------


def test_cumulative_engagement_hand() -> None:
    # user 0: 1 + 3 = 4; user 1: 2; user 2: 4; user 3 (n_users=4): nothing → 0
    out = cumulative_engagement([1.0, 2.0, 3.0, 4.0], [0, 1, 0, 2], n_users=4)
    np.testing.assert_allclose(out, [4.0, 2.0, 4.0, 0.0])
    # per-slot engagement is summed over the slate: user 1 gets (1 + 1) + (0 + 2) = 4
    np.testing.assert_allclose(cumulative_engagement([[1, 1], [0, 2]], [1, 1]), [0.0, 4.0])


def test_cumulative_engagement_errors() -> None:
    with pytest.raises(ValueError, match="user_ids must have shape"):
        cumulative_engagement([1.0, 2.0], [0])
    with pytest.raises(ValueError, match="integer ids"):
        cumulative_engagement([1.0], [0.0])
    with pytest.raises(ValueError, match="< n_users=2"):
        cumulative_engagement([1.0], [2], n_users=2)
    with pytest.raises(ValueError, match="NaN"):
        cumulative_engagement([np.nan], [0])


def test_sessions_hand() -> None:
    # done after steps 2 and 4 → sessions [0,0,0], [1,1], [2] → lengths 3, 2, 1
    ids = session_ids_from_dones([False, False, True, False, True, False])
    np.testing.assert_array_equal(ids, [0, 0, 0, 1, 1, 2])
    np.testing.assert_array_equal(session_length(ids), [3, 2, 1])
    np.testing.assert_array_equal(session_length([0, 0], n_sessions=3), [2, 0, 0])
    with pytest.raises(ValueError, match="0/1"):
        session_ids_from_dones([0, 2])
    with pytest.raises(ValueError, match="1-D"):
        session_length([[0, 1]])


def test_ctr_hand() -> None:
    clicked = np.array([[1, 0, 0], [0, 0, 0], [1, 1, 0], [0, 0, 1]], dtype=bool)
    assert ctr(clicked) == pytest.approx(4 / 4)  # 4 clicks over 4 slates
    assert ctr(clicked, per="item") == pytest.approx(4 / 12)  # 4 clicks over 12 impressions
    assert ctr([1, 0, 0, 1]) == pytest.approx(0.5)  # 2 of 4 slates clicked
    with pytest.raises(ValueError, match="0/1"):
        ctr([2, 0])
    with pytest.raises(ValueError, match="empty"):
        ctr(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="per='item'"):
        ctr([1, 0], per="item")
    with pytest.raises(ValueError, match="per must be"):
        ctr([1, 0], per="user")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# intra-list diversity
# --------------------------------------------------------------------------------------------


def _naive_ild(slate: np.ndarray) -> float:
    k = slate.shape[0]
    dists = []
    for i, j in itertools.combinations(range(k), 2):
        a, b = slate[i], slate[j]
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        cos = 0.0 if na <= 1e-12 or nb <= 1e-12 else float(a @ b / (na * nb))
        dists.append(1.0 - cos)
    return float(np.mean(dists))


def test_ild_hand() -> None:
    # A=(1,0), B=(0,1), C=(3,3): cos AB = 0, cos AC = cos BC = 1/√2
    # mean cos = (0 + 2/√2) / 3 = 0.471405 → ILD = 0.528595 (norm of C does not matter)
    slate = np.array([[[1.0, 0.0], [0.0, 1.0], [3.0, 3.0]]])
    expected = 1.0 - (2.0 / math.sqrt(2.0)) / 3.0
    np.testing.assert_allclose(intra_list_diversity(slate), [expected])
    # Identical directions → 0; two opposite vectors → 2.
    same = np.array([[[1.0, 2.0], [2.0, 4.0]], [[1.0, 0.0], [-1.0, 0.0]]])
    np.testing.assert_allclose(intra_list_diversity(same), [0.0, 2.0], atol=1e-12)


def test_category_ild_hand() -> None:
    # items: {0}, {0,1} → (½,½,0), {2}. sims: ½, 0, 0 → mean ⅙ → ILD ⅚
    multi_hot = np.array([[[1, 0, 0], [1, 1, 0], [0, 0, 1]]], dtype=float)
    np.testing.assert_allclose(category_ild(multi_hot, normalize=True), [5 / 6])
    # All items in the same single category → 0
    np.testing.assert_allclose(category_ild(np.array([[[0, 1.0], [0, 1.0]]])), [0.0])


def test_ild_errors() -> None:
    with pytest.raises(ValueError, match=r"\(n_slates|3-D"):
        intra_list_diversity(np.ones((3, 2)))
    with pytest.raises(ValueError, match="at least 2 items"):
        intra_list_diversity(np.ones((2, 1, 3)))
    with pytest.raises(ValueError, match="sum to 1"):
        category_ild(np.ones((1, 2, 3)))
    with pytest.raises(ValueError, match="non-negative"):
        category_ild(-np.ones((1, 2, 3)))
    with pytest.raises(ValueError, match="at least one category"):
        category_ild(np.zeros((1, 2, 3)), normalize=True)


@FAST
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 4), st.integers(2, 6), st.integers(1, 5)),
        elements=finite,
    )
)
def test_ild_property_range_and_naive(x: np.ndarray) -> None:
    ild = intra_list_diversity(x)
    assert ild.shape == (x.shape[0],)
    assert np.all((ild >= 0.0) & (ild <= 2.0))
    naive = [_naive_ild(s) for s in x]
    np.testing.assert_allclose(ild, np.clip(naive, 0, 2), atol=1e-9)


@FAST
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 4), st.integers(2, 6), st.integers(1, 5)),
        elements=st.floats(0, 10, allow_subnormal=False),
    )
)
def test_category_ild_property(raw: np.ndarray) -> None:
    raw = raw + 1e-3  # every item has some category mass
    w = raw / raw.sum(axis=2, keepdims=True)
    ild = category_ild(w)
    assert np.all((ild >= 0.0) & (ild <= 1.0))
    naive = [
        1.0 - np.mean([s[i] @ s[j] for i, j in itertools.combinations(range(s.shape[0]), 2)])
        for s in w
    ]
    np.testing.assert_allclose(ild, naive, atol=1e-9)


# --------------------------------------------------------------------------------------------
# coverage / exposure / long tail / novelty
# --------------------------------------------------------------------------------------------


def test_coverage_hand() -> None:
    assert category_coverage([0, 2, 2, 5], 6) == pytest.approx(3 / 6)  # {0,2,5} of 6
    np.testing.assert_allclose(category_coverage([[0, 1], [1, 1]], 4, per_row=True), [2 / 4, 1 / 4])
    multi_hot = np.array([[True, False, False], [True, True, False]])  # categories {0,1} of 3
    assert category_coverage(multi_hot, 3) == pytest.approx(2 / 3)
    assert catalog_coverage([[3, 1], [1, 7]], 10) == pytest.approx(3 / 10)  # {1,3,7}
    np.testing.assert_allclose(catalog_coverage([[3, 1], [1, 1]], 10, per_row=True), [0.2, 0.1])
    assert catalog_coverage(np.array([], dtype=int), 5) == 0.0


def test_coverage_errors() -> None:
    with pytest.raises(ValueError, match="< 6"):
        category_coverage([6], 6)
    with pytest.raises(ValueError, match="per_row=True needs a 2-D"):
        catalog_coverage([1, 2], 5, per_row=True)
    with pytest.raises(ValueError, match="positive integer"):
        catalog_coverage([1], 0)
    with pytest.raises(ValueError, match="last axis"):
        category_coverage(np.ones((2, 4), dtype=bool), 3)


@FAST
@given(st.lists(st.integers(0, 19), max_size=30), st.lists(st.integers(0, 19), max_size=10))
def test_coverage_monotone(ids: list[int], extra: list[int]) -> None:
    before = catalog_coverage(np.array(ids, dtype=int), 20)
    after = catalog_coverage(np.array(ids + extra, dtype=int), 20)
    assert 0.0 <= before <= after <= 1.0


def test_gini_hand() -> None:
    # sorted (0,0,0,4): Σ(2i−n−1)x = 3·4 = 12, n·Σx = 16 → 0.75 = (n−1)/n, the maximum
    assert gini_exposure([4, 0, 0, 0]) == pytest.approx(0.75)
    # (1,2,3,4): coefficients (−3,−1,1,3) → −3−2+3+12 = 10; n·Σx = 40 → 0.25
    # cross-check: Σ_i Σ_j |x_i−x_j| / (2 n² μ) = 20 / (2·16·2.5) = 0.25
    assert gini_exposure([3, 1, 4, 2]) == pytest.approx(0.25)
    assert gini_exposure([5, 5, 5]) == 0.0
    assert gini_exposure([0, 0]) == 0.0  # nothing exposed: equal by convention
    # unexposed items count: exposure_counts pads the catalog with zeros
    counts = exposure_counts([[0, 0], [1, 0]], 4)  # item 0 ×3, item 1 ×1, items 2, 3 ×0
    np.testing.assert_array_equal(counts, [3, 1, 0, 0])
    # sorted (0,0,1,3): coefficients (−3,−1,1,3) → 1 + 9 = 10; n·Σx = 16 → 0.625
    assert gini_exposure(counts) == pytest.approx(0.625)


def test_gini_errors() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        gini_exposure([1, -1])
    with pytest.raises(ValueError, match="1-D"):
        gini_exposure([[1, 2]])
    with pytest.raises(ValueError, match="empty"):
        gini_exposure([])


@FAST
@given(
    arrays(np.float64, st.integers(1, 30), elements=st.floats(0, 1e3, allow_subnormal=False)),
    st.randoms(use_true_random=False),
)
def test_gini_properties(x: np.ndarray, rnd: random.Random) -> None:
    g = gini_exposure(x)
    assert 0.0 <= g < 1.0
    perm = x.copy()
    rnd.shuffle(perm)
    assert gini_exposure(perm) == pytest.approx(g, abs=1e-12)
    if x.sum() > 0:
        # mean absolute difference definition
        mad = np.abs(x[:, None] - x[None, :]).sum() / (2 * x.size**2 * x.mean())
        assert g == pytest.approx(mad, abs=1e-9)


@FAST
@given(st.integers(1, 30), st.floats(0.1, 100, allow_subnormal=False))
def test_gini_equal_is_zero(n: int, value: float) -> None:
    assert gini_exposure(np.full(n, value)) == pytest.approx(0.0, abs=1e-12)


def test_tail_mask_hand() -> None:
    # total 100; cumulative shares 0.5, 0.8 → head = items 0, 1 (80% reached at the 2nd item)
    np.testing.assert_array_equal(
        tail_mask_from_popularity([50, 30, 10, 5, 5, 0]), [False, False, True, True, True, True]
    )
    # cum 0.5, 0.7, 0.9 → 80% reached at the 3rd item (popularity 20) → head {0,1,2}
    np.testing.assert_array_equal(
        tail_mask_from_popularity([50, 20, 20, 10]), [False, False, False, True]
    )
    # cum 0.6, 0.8 → reached at item 1 (popularity 20); item 2 ties with it → also head
    np.testing.assert_array_equal(tail_mask_from_popularity([60, 20, 20]), [False] * 3)
    np.testing.assert_array_equal(tail_mask_from_popularity([0, 0]), [True, True])
    with pytest.raises(ValueError, match="head_mass"):
        tail_mask_from_popularity([1, 2], head_mass=0.0)


@FAST
@given(
    arrays(np.float64, st.integers(1, 25), elements=st.floats(0, 100, allow_subnormal=False)),
    st.floats(0.05, 1.0),
)
def test_tail_mask_property(pop: np.ndarray, head_mass: float) -> None:
    tail = tail_mask_from_popularity(pop, head_mass)
    if pop.sum() == 0:
        assert tail.all()
        return
    # the head carries at least head_mass of the popularity, and every head item is at least
    # as popular as every tail item
    assert pop[~tail].sum() >= head_mass * pop.sum() - 1e-9
    if tail.any() and (~tail).any():
        assert pop[~tail].min() > pop[tail].max()


def test_long_tail_share_hand() -> None:
    tail = np.array([False, False, True, True, True, True])
    # row 0: items 0 (head), 2 (tail) → ½; row 1: 3, 3 (tail) → 1; overall 3/4
    ids = np.array([[0, 2], [3, 3]])
    assert long_tail_share(ids, tail) == pytest.approx(0.75)
    np.testing.assert_allclose(long_tail_share(ids, tail, per_row=True), [0.5, 1.0])
    with pytest.raises(ValueError, match="boolean"):
        long_tail_share(ids, np.array([0, 1, 1, 1, 1, 1]))
    with pytest.raises(ValueError, match="< 6"):
        long_tail_share([6], tail)


def test_novelty_hand() -> None:
    p = np.array([0.5, 0.25, 0.125])
    # −log2: 1, 2, 3, 3 bits → mean 9/4
    assert novelty([0, 1, 2, 2], p) == pytest.approx(2.25)
    np.testing.assert_allclose(novelty([[0, 0], [1, 2]], p, per_row=True), [1.0, 2.5])
    with pytest.raises(ValueError, match="infinite self-information"):
        novelty([1], np.array([0.5, 0.0]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        novelty([0], np.array([1.5]))
    with pytest.raises(ValueError, match="empty"):
        novelty(np.array([], dtype=int), p)


# --------------------------------------------------------------------------------------------
# majority category domination
# --------------------------------------------------------------------------------------------


def test_mcd_hand() -> None:
    history = np.array([[5, 1, 0], [0, 2, 3]])  # majority categories: 0 and 2
    np.testing.assert_array_equal(majority_category(history), [0, 2])
    shown = np.array([[0, 0, 1, 2], [2, 1, 1, 1]])
    # user 0: 2 of 4 shown items in category 0 → ½; user 1: 1 of 4 in category 2 → ¼
    np.testing.assert_allclose(majority_category_domination(shown, history), [0.5, 0.25])
    # weighted form: user 0 sees (1,0,0) and (½,½,0) → (1 + ½) / 2 = ¾ ;
    # user 1 sees (0,0,1) and (0,1,0) → (1 + 0) / 2 = ½
    w = np.array([[[1, 0, 0], [0.5, 0.5, 0]], [[0, 0, 1], [0, 1, 0]]], dtype=float)
    np.testing.assert_allclose(majority_category_domination(w, history), [0.75, 0.5])


def test_mcd_errors() -> None:
    with pytest.raises(ValueError, match="empty history"):
        majority_category(np.array([[1, 0], [0, 0]]))
    with pytest.raises(ValueError, match=r"shape \(2, m\)"):
        majority_category_domination(np.array([[0, 1]]), np.array([[1, 0], [0, 1]]))
    with pytest.raises(ValueError, match="sum to 1"):
        majority_category_domination(np.ones((1, 2, 2)), np.array([[1, 0]]))


# --------------------------------------------------------------------------------------------
# ranking metrics
# --------------------------------------------------------------------------------------------


def test_ndcg_hit_rate_hand() -> None:
    scores = np.array([[0.9, 0.1, 0.5, 0.3]])
    relevant = np.array([[0, 1, 1, 0]], dtype=bool)
    # ranking 0, 2, 3 → hits (0, 1, 0): DCG = 1/log2(3) = 0.63093
    # IDCG (2 relevant) = 1 + 1/log2(3) = 1.63093 → NDCG@3 = 0.38685
    expected = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    np.testing.assert_allclose(ndcg_at_k(scores, relevant, 3), [expected])
    np.testing.assert_allclose(hit_rate_at_k(scores, relevant, 3), [1.0])
    np.testing.assert_allclose(ndcg_at_k(scores, relevant, 1), [0.0])  # top-1 is item 0
    np.testing.assert_allclose(hit_rate_at_k(scores, relevant, 1), [0.0])
    # the same ranking passed as item ids
    ranked = np.array([[0, 2, 3]])
    np.testing.assert_allclose(ndcg_at_k(ranked, relevant, 3, ranked=True), [expected])
    # k beyond the catalog behaves like k = n: ranking 0,2,3,1 → DCG = 1/log2 3 + 1/log2 5
    full = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    np.testing.assert_allclose(ndcg_at_k(scores, relevant, 10), [full])
    # a user without relevant items is undefined (NaN)
    out = ndcg_at_k(np.zeros((2, 3)), np.array([[1, 0, 0], [0, 0, 0]]), 2)
    assert out[0] == pytest.approx(1.0)  # ties → lower index first → item 0 on top
    assert np.isnan(out[1])


def test_ranking_errors() -> None:
    rel = np.array([[1, 0, 0]], dtype=bool)
    with pytest.raises(ValueError, match="must equal relevant shape"):
        ndcg_at_k(np.zeros((1, 4)), rel, 2)
    with pytest.raises(ValueError, match="positive integer"):
        ndcg_at_k(np.zeros((1, 3)), rel, 0)
    with pytest.raises(ValueError, match="binary"):
        hit_rate_at_k(np.zeros((1, 3)), np.array([[2, 0, 0]]), 1)
    with pytest.raises(ValueError, match="duplicate"):
        ndcg_at_k(np.array([[0, 0]]), rel, 2, ranked=True)
    with pytest.raises(ValueError, match="NaN"):
        ndcg_at_k(np.array([[np.nan, 0, 0]]), rel, 2)


@FAST
@given(
    st.integers(1, 5),
    st.integers(1, 12),
    st.integers(1, 14),
    st.integers(0, 2**32 - 1),
)
def test_ranking_properties(n_users: int, n_items: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    relevant = rng.random((n_users, n_items)) < 0.3
    relevant[:, 0] = True  # every user has at least one relevant item
    scores = rng.normal(size=(n_users, n_items))
    nd = ndcg_at_k(scores, relevant, k)
    hr = hit_rate_at_k(scores, relevant, k)
    assert np.all((nd >= 0) & (nd <= 1))
    assert np.all(hr >= nd - 1e-12)  # NDCG ≤ HR for binary relevance
    np.testing.assert_array_equal(hr == 0, nd == 0)
    # the ideal ranking (relevant items first) scores exactly 1
    np.testing.assert_allclose(ndcg_at_k(relevant.astype(float), relevant, k), 1.0)
    np.testing.assert_allclose(hit_rate_at_k(relevant.astype(float), relevant, k), 1.0)
    # hit rate is monotone in k
    assert np.all(hit_rate_at_k(scores, relevant, k + 1) >= hr)
