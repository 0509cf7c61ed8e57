"""Metric values at the edges the worked examples miss: empty inputs, one item or one column,
multi-hot categories, ties, tolerances, and the return types (a float unless ``per_row``)."""

from __future__ import annotations

import numpy as np
import pytest

from divrec_rl import metrics as m


def test_empty_inputs_give_empty_results_of_the_documented_dtype() -> None:
    eng = m.cumulative_engagement(np.array([]), np.array([], dtype=np.int64))
    assert eng.shape == (0,) and eng.dtype == np.float64
    sid = m.session_ids_from_dones(np.array([], dtype=bool))
    assert sid.shape == (0,) and sid.dtype == np.int64
    lengths = m.session_length(np.array([], dtype=np.int64))
    assert lengths.shape == (0,) and lengths.dtype == np.int64


def test_counts_are_integers() -> None:
    assert m.session_length([0, 0, 1]).dtype == np.int64
    assert m.session_length([0, 0, 1]).tolist() == [2, 1]
    assert m.exposure_counts([[0, 2], [2, 2]], 4).dtype == np.int64
    assert m.exposure_counts([[0, 2], [2, 2]], 4).tolist() == [1, 0, 3, 0]


def test_session_ids_equal_to_n_sessions_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^session_ids must be < n_sessions=2, found 2$"):
        m.session_length([0, 2], n_sessions=2)
    assert m.session_length([0, 1], n_sessions=2).tolist() == [1, 1]


def test_reductions_return_a_float_unless_per_row() -> None:
    ids, rows = [0, 1, 1], [[0, 1], [1, 1]]
    mask, prob = np.array([False, True, True]), np.array([0.5, 0.25, 0.25])
    for value in (
        m.catalog_coverage(ids, 3),
        m.category_coverage(ids, 3),
        m.long_tail_share(ids, mask),
        m.novelty(ids, prob),
    ):
        assert type(value) is float
    assert m.catalog_coverage(rows, 3, per_row=True).tolist() == [2 / 3, 1 / 3]
    assert m.long_tail_share(rows, mask, per_row=True).tolist() == [0.5, 1.0]
    assert m.novelty(rows, prob, per_row=True).tolist() == [1.5, 2.0]


def test_multi_hot_category_coverage() -> None:
    # Two users, two shown items each, C = 3 categories; item rows are multi-hot.
    hot = np.array(
        [
            [[True, False, False], [True, True, False]],  # categories {0, 1}
            [[False, False, True], [False, False, True]],  # category {2}
        ]
    )
    assert m.category_coverage(hot, 3, per_row=True).tolist() == [2 / 3, 1 / 3]
    assert m.category_coverage(hot, 3) == 1.0
    assert m.category_coverage(np.array([True, False, True]), 3) == pytest.approx(2 / 3)
    assert m.category_coverage(hot[0], 3) == pytest.approx(2 / 3)


def test_category_weights_must_sum_to_one_within_rounding() -> None:
    w = np.array([[[0.5, 0.5 + 5e-7], [1.0, 0.0]]])
    assert m.category_ild(w)[0] == pytest.approx(1.0 - 0.5, abs=1e-6)
    for bad in ([[[1.5, 1.5], [1.0, 0.0]]], [[[0.5, 0.5 + 1e-4], [1.0, 0.0]]]):
        with pytest.raises(ValueError, match="must sum to 1"):
            m.category_ild(np.array(bad))


def test_tail_mask_when_popularity_sums_to_one_or_zero() -> None:
    # cumulative shares 0.7, 0.9, 1.0: the head (80%) is the first two items.
    assert m.tail_mask_from_popularity([0.7, 0.2, 0.1]).tolist() == [False, False, True]
    assert m.tail_mask_from_popularity([0.0, 0.0]).tolist() == [True, True]
    assert m.tail_mask_from_popularity([0.2, 0.1, 0.7], head_mass=1.0).tolist() == [False] * 3


def test_one_slot_long_tail_share_and_novelty() -> None:
    mask = np.array([False, True])
    assert m.long_tail_share([[0], [1]], mask, per_row=True).tolist() == [0.0, 1.0]
    assert m.novelty([[0], [1]], [1.0, 0.5], per_row=True).tolist() == [0.0, 1.0]
    assert m.novelty([0], [1.0]) == 0.0  # a certain item carries no information


def test_one_category_and_one_item_bubble() -> None:
    assert m.majority_category([[3.0], [1.0]]).tolist() == [0, 0]
    hist = [[1.0, 2.0], [5.0, 0.0]]  # majorities 1 and 0
    assert m.majority_category_domination([[1], [1]], hist).tolist() == [1.0, 0.0]
    w = np.array([[[0.25, 0.75]], [[0.5 + 5e-7, 0.5]]])
    assert m.majority_category_domination(w, hist) == pytest.approx([0.75, 0.5], abs=1e-6)


def test_empty_history_message_lists_at_most_five_users() -> None:
    hist = np.zeros((8, 2))
    with pytest.raises(ValueError, match=r"^user\(s\) \[0, 1, 2, 3, 4\] have an empty history"):
        m.majority_category(hist)


def test_score_ties_go_to_the_lower_item_index() -> None:
    # Many ties: the ranking must be Python's stable sort on −score, for any array size.
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 3, (4, 200)).astype(np.float64)
    relevant = rng.random((4, 200)) < 0.1
    relevant[:, 0] = True
    for k in (1, 5, 40):
        want = []
        for s, r in zip(scores, relevant, strict=True):
            top = sorted(range(200), key=lambda i, s=s: -s[i])[:k]
            want.append(float(r[top].any()))
        assert m.hit_rate_at_k(scores, relevant, k).tolist() == want
        ranked = np.argsort(-scores, axis=1, kind="stable")
        np.testing.assert_array_equal(
            m.ndcg_at_k(scores, relevant, k), m.ndcg_at_k(ranked, relevant, k, ranked=True)
        )


def test_ranked_lists() -> None:
    relevant = np.array([[False, True, False], [False, False, False]])
    ranked = np.array([[0, 1], [2, 1]])
    hr = m.hit_rate_at_k(ranked, relevant, 2, ranked=True)
    assert hr[0] == 1.0 and np.isnan(hr[1])  # no relevant item: undefined, not a miss
    assert m.hit_rate_at_k(ranked, relevant, 1, ranked=True)[0] == 0.0
    with pytest.raises(ValueError, match=r"^ranked must have shape \(2, L\), got \(2,\)$"):
        m.ndcg_at_k(np.array([0, 1]), relevant, 2, ranked=True)
    with pytest.raises(ValueError, match=r"^ranked lists must not contain duplicate item ids$"):
        m.ndcg_at_k(np.array([[0, 1, 1], [0, 1, 2]]), relevant, 3, ranked=True)


def test_ndcg_of_a_perfect_ranking_is_exactly_one() -> None:
    # The dot product (DCG) and the cumulative sum (IDCG) round differently: for 536 of the
    # (n, |R|) pairs below n = 80 the raw ratio is 1 + 2⁻⁵²; the result is kept in [0, 1].
    rel = np.zeros((1, 79), dtype=bool)
    rel[0, :57] = True
    scores = -np.arange(79, dtype=np.float64)[None]
    assert m.ndcg_at_k(scores, rel, 79)[0] == 1.0
    assert m.ndcg_at_k(scores, rel, 10)[0] == 1.0
