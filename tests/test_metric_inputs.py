"""Every metric refuses bad input with one ``ValueError`` whose whole message names the
argument and what is allowed (the full text is compared, so a message naming the wrong argument,
or none, fails)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from divrec_rl import metrics as m

f, z = np.ones, np.zeros
ok_w = np.full((2, 3, 2), 0.5)

CASES = [
    pytest.param(
        lambda: m.cumulative_engagement([1.0, 2.0], [[0, 1]]),
        "user_ids must have shape (2,) to match engagement, got (1, 2)",
        id="cum_eng_2d_ids",
    ),
    pytest.param(
        lambda: m.cumulative_engagement(["a"], [0]),
        "engagement must be numeric, got dtype <U1",
        id="cum_eng_str",
    ),
    pytest.param(
        lambda: m.cumulative_engagement(z((1, 1, 1)), [0]),
        "engagement must be 1-D or 2-D, got shape (1, 1, 1)",
        id="cum_eng_3d",
    ),
    pytest.param(
        lambda: m.cumulative_engagement([np.nan], [0]),
        "engagement contains NaN or infinite values",
        id="cum_eng_nan",
    ),
    pytest.param(
        lambda: m.cumulative_engagement([1.0], [0.0]),
        "user_ids must hold integer ids, got dtype float64",
        id="cum_eng_float_ids",
    ),
    pytest.param(
        lambda: m.cumulative_engagement([1.0], [-1]),
        "user_ids must be non-negative, found -1",
        id="cum_eng_neg_ids",
    ),
    pytest.param(
        lambda: m.cumulative_engagement([1.0, 2.0], [0]),
        "user_ids must have shape (2,) to match engagement, got (1,)",
        id="cum_eng_len",
    ),
    pytest.param(
        lambda: m.cumulative_engagement([1.0], [0], n_users=0),
        "n_users must be a positive integer, got 0",
        id="cum_eng_n_users",
    ),
    pytest.param(
        lambda: m.cumulative_engagement([1.0], [0], n_users=True),
        "n_users must be a positive integer, got True",
        id="cum_eng_n_users_bool",
    ),
    pytest.param(
        lambda: m.cumulative_engagement([1.0], [3], n_users=2),
        "user_ids must be < n_users=2, found 3",
        id="cum_eng_ids_big",
    ),
    pytest.param(
        lambda: m.session_ids_from_dones([[True]]),
        "dones must be 1-D (n_steps,), got shape (1, 1)",
        id="dones_2d",
    ),
    pytest.param(
        lambda: m.session_ids_from_dones([0, 2]),
        "dones must be boolean or 0/1 flags",
        id="dones_flags",
    ),
    pytest.param(
        lambda: m.session_ids_from_dones([0.0, 1.0]),
        "dones must be boolean or 0/1 flags",
        id="dones_float",
    ),
    pytest.param(
        lambda: m.session_length([[0]]),
        "session_ids must be 1-D (n_steps,), got shape (1, 1)",
        id="sess_2d",
    ),
    pytest.param(
        lambda: m.session_length([0.5]),
        "session_ids must hold integer ids, got dtype float64",
        id="sess_float",
    ),
    pytest.param(
        lambda: m.session_length([0], n_sessions=0),
        "n_sessions must be a positive integer, got 0",
        id="sess_n",
    ),
    pytest.param(
        lambda: m.session_length([0, 3], n_sessions=2),
        "session_ids must be < n_sessions=2, found 3",
        id="sess_big",
    ),
    pytest.param(
        lambda: m.ctr(z((1, 1, 1))),
        "clicked must be 1-D (n_slates,) or 2-D (n_slates, k), got (1, 1, 1)",
        id="ctr_3d",
    ),
    pytest.param(
        lambda: m.ctr([]), "clicked is empty: CTR of zero slates is undefined", id="ctr_empty"
    ),
    pytest.param(lambda: m.ctr([2]), "clicked must be boolean or 0/1 flags", id="ctr_flags"),
    pytest.param(
        lambda: m.ctr([1, 0], per="item"),
        "per='item' needs clicked of shape (n_slates, k)",
        id="ctr_item_1d",
    ),
    pytest.param(
        lambda: m.ctr([1, 0], per="user"), "per must be 'slate' or 'item', got 'user'", id="ctr_per"
    ),
    pytest.param(
        lambda: m.intra_list_diversity(z((2, 3))),
        "embeddings must be 3-D, got shape (2, 3)",
        id="ild_2d",
    ),
    pytest.param(
        lambda: m.intra_list_diversity(f((2, 1, 3))),
        "ILD needs at least 2 items per slate, got k=1",
        id="ild_k1",
    ),
    pytest.param(
        lambda: m.intra_list_diversity(z((2, 2, 0))),
        "embeddings need d ≥ 1 features, got shape (2, 2, 0)",
        id="ild_d0",
    ),
    pytest.param(
        lambda: m.intra_list_diversity(np.array([[["a"]]])),
        "embeddings must be numeric, got dtype <U1",
        id="ild_str",
    ),
    pytest.param(
        lambda: m.intra_list_diversity(np.full((1, 2, 2), np.nan)),
        "embeddings contains NaN or infinite values",
        id="ild_nan",
    ),
    pytest.param(
        lambda: m.category_ild(z((2, 3))),
        "category_weights must be 3-D, got shape (2, 3)",
        id="cild_2d",
    ),
    pytest.param(
        lambda: m.category_ild(f((2, 1, 3))),
        "category ILD needs at least 2 items per slate, got k=1",
        id="cild_k1",
    ),
    pytest.param(
        lambda: m.category_ild(-ok_w), "category_weights must be non-negative", id="cild_neg"
    ),
    pytest.param(
        lambda: m.category_ild(z((1, 2, 3)), normalize=True),
        "every item needs at least one category to normalise its weights",
        id="cild_norm0",
    ),
    pytest.param(
        lambda: m.category_ild(f((1, 2, 2))),
        "each item's category_weights row must sum to 1 (pass normalize=True for multi-hot)",
        id="cild_sum",
    ),
    pytest.param(
        lambda: m.catalog_coverage([0], 0),
        "n_items must be a positive integer, got 0",
        id="catcov_n0",
    ),
    pytest.param(
        lambda: m.catalog_coverage([0.0], 3),
        "shown_item_ids must hold integer ids, got dtype float64",
        id="catcov_float",
    ),
    pytest.param(
        lambda: m.catalog_coverage([3], 3), "shown_item_ids must be < 3, found 3", id="catcov_big"
    ),
    pytest.param(
        lambda: m.catalog_coverage([-1], 3),
        "shown_item_ids must be non-negative, found -1",
        id="catcov_neg",
    ),
    pytest.param(
        lambda: m.catalog_coverage([0, 1], 3, per_row=True),
        "per_row=True needs a 2-D shown_item_ids (n_rows, m), got shape (2,)",
        id="catcov_perrow_1d",
    ),
    pytest.param(
        lambda: m.category_coverage([0], 0),
        "n_categories must be a positive integer, got 0",
        id="catgcov_n0",
    ),
    pytest.param(
        lambda: m.category_coverage([4], 3),
        "shown_categories must be < 3, found 4",
        id="catgcov_big",
    ),
    pytest.param(
        lambda: m.category_coverage([0.5, 0.5, 0.0], 3),
        "shown_categories must hold integer ids, got dtype float64",
        id="catgcov_float",
    ),
    pytest.param(
        lambda: m.category_coverage(np.ones((2, 4), bool), 3),
        "multi-hot shown_categories must have last axis n_categories=3, got shape (2, 4)",
        id="catgcov_hot_last",
    ),
    pytest.param(
        lambda: m.category_coverage(np.array(True), 3),
        "multi-hot shown_categories must have last axis n_categories=3, got shape ()",
        id="catgcov_hot_0d",
    ),
    pytest.param(
        lambda: m.category_coverage(np.ones((2, 3), bool), 3, per_row=True),
        "per_row=True needs multi-hot shape (n_rows, m, C), got (2, 3)",
        id="catgcov_hot_perrow_2d",
    ),
    pytest.param(
        lambda: m.category_coverage(np.ones((1, 1, 2, 3), bool), 3, per_row=True),
        "per_row=True needs multi-hot shape (n_rows, m, C), got (1, 1, 2, 3)",
        id="catgcov_hot_perrow_4d",
    ),
    pytest.param(
        lambda: m.category_coverage([0, 1], 3, per_row=True),
        "per_row=True needs a 2-D shown_categories (n_rows, m), got shape (2,)",
        id="catgcov_perrow_1d",
    ),
    pytest.param(
        lambda: m.exposure_counts([0], 0), "n_items must be a positive integer, got 0", id="expc_n0"
    ),
    pytest.param(
        lambda: m.exposure_counts([5], 3), "shown_item_ids must be < 3, found 5", id="expc_big"
    ),
    pytest.param(
        lambda: m.gini_exposure(z((2, 2))), "exposure must be 1-D, got shape (2, 2)", id="gini_2d"
    ),
    pytest.param(
        lambda: m.gini_exposure([]),
        "exposure is empty: the Gini coefficient needs at least one item",
        id="gini_empty",
    ),
    pytest.param(
        lambda: m.gini_exposure([-1.0, 2.0]), "exposure must be non-negative", id="gini_neg"
    ),
    pytest.param(
        lambda: m.gini_exposure([np.nan]), "exposure contains NaN or infinite values", id="gini_nan"
    ),
    pytest.param(
        lambda: m.tail_mask_from_popularity(z((2, 2))),
        "popularity must be 1-D, got shape (2, 2)",
        id="tail_2d",
    ),
    pytest.param(
        lambda: m.tail_mask_from_popularity([-1.0]),
        "popularity must be non-negative",
        id="tail_neg",
    ),
    pytest.param(
        lambda: m.tail_mask_from_popularity([1.0], head_mass=0.0),
        "head_mass must be in (0, 1], got 0.0",
        id="tail_mass0",
    ),
    pytest.param(
        lambda: m.tail_mask_from_popularity([1.0], head_mass=1.5),
        "head_mass must be in (0, 1], got 1.5",
        id="tail_mass2",
    ),
    pytest.param(
        lambda: m.long_tail_share([0], [1, 0]),
        "tail_mask must be a 1-D boolean array, got int64 (2,)",
        id="lts_mask_int",
    ),
    pytest.param(
        lambda: m.long_tail_share([0], [[True]]),
        "tail_mask must be a 1-D boolean array, got bool (1, 1)",
        id="lts_mask_2d",
    ),
    pytest.param(
        lambda: m.long_tail_share([2], [True, False]),
        "shown_item_ids must be < 2, found 2",
        id="lts_big",
    ),
    pytest.param(
        lambda: m.long_tail_share(np.array([], dtype=int), [True]),
        "shown_item_ids is empty: long-tail share of zero slots is undefined",
        id="lts_empty",
    ),
    pytest.param(
        lambda: m.long_tail_share([0], [True], per_row=True),
        "per_row=True needs a 2-D shown_item_ids (n_rows, m), got shape (1,)",
        id="lts_perrow_1d",
    ),
    pytest.param(
        lambda: m.long_tail_share([0.0], [True]),
        "shown_item_ids must hold integer ids, got dtype float64",
        id="lts_float",
    ),
    pytest.param(
        lambda: m.novelty([0], [[0.5]]),
        "popularity_prob must be 1-D, got shape (1, 1)",
        id="nov_2d",
    ),
    pytest.param(lambda: m.novelty([0], [1.5]), "popularity_prob must lie in [0, 1]", id="nov_p"),
    pytest.param(
        lambda: m.novelty([0], [-0.5]), "popularity_prob must lie in [0, 1]", id="nov_pneg"
    ),
    pytest.param(
        lambda: m.novelty([1], [0.5]), "shown_item_ids must be < 1, found 1", id="nov_big"
    ),
    pytest.param(
        lambda: m.novelty(np.array([], dtype=int), [0.5]),
        "shown_item_ids is empty: novelty of zero slots is undefined",
        id="nov_empty",
    ),
    pytest.param(
        lambda: m.novelty([0, 1], [0.5, 0.0]),
        "item 1 is shown but has popularity_prob 0 (infinite self-information); "
        "smooth the popularity estimate",
        id="nov_zero",
    ),
    pytest.param(
        lambda: m.novelty([0], [0.5], per_row=True),
        "per_row=True needs a 2-D shown_item_ids (n_rows, m), got shape (1,)",
        id="nov_perrow_1d",
    ),
    pytest.param(
        lambda: m.majority_category([1.0]),
        "history_category_counts must be 2-D, got shape (1,)",
        id="maj_1d",
    ),
    pytest.param(
        lambda: m.majority_category([[-1.0, 2.0]]),
        "history_category_counts must be non-negative",
        id="maj_neg",
    ),
    pytest.param(
        lambda: m.majority_category(z((2, 0))),
        "history_category_counts needs at least one category column",
        id="maj_c0",
    ),
    pytest.param(
        lambda: m.majority_category([[0.0, 0.0], [1.0, 0.0]]),
        "user(s) [0] have an empty history: no majority category",
        id="maj_empty",
    ),
    pytest.param(
        lambda: m.majority_category_domination([[0]], [1.0, 0.0]),
        "history_category_counts must be 2-D, got shape (2,)",
        id="dom_hist_1d",
    ),
    pytest.param(
        lambda: m.majority_category_domination([[2]], [[1.0, 0.0]]),
        "shown_categories must be < 2, found 2",
        id="dom_ids_big",
    ),
    pytest.param(
        lambda: m.majority_category_domination([[0], [1]], [[1.0, 0.0]]),
        "integer shown_categories must have shape (1, m), got (2, 1)",
        id="dom_ids_shape",
    ),
    pytest.param(
        lambda: m.majority_category_domination(np.zeros((1, 0), dtype=int), [[1.0, 0.0]]),
        "shown_categories has no shown items (m = 0)",
        id="dom_ids_m0",
    ),
    pytest.param(
        lambda: m.majority_category_domination(f((1, 2, 3)) / 3, [[1.0, 0.0]]),
        "weighted shown_categories must have shape (1, m, 2), got (1, 2, 3)",
        id="dom_w_shape",
    ),
    pytest.param(
        lambda: m.majority_category_domination(z((1, 0, 2)), [[1.0, 0.0]]),
        "shown_categories has no shown items (m = 0)",
        id="dom_w_m0",
    ),
    pytest.param(
        lambda: m.majority_category_domination(f((1, 2, 2)), [[1.0, 0.0]]),
        "weighted shown_categories rows must be non-negative and sum to 1",
        id="dom_w_sum",
    ),
    pytest.param(
        lambda: m.majority_category_domination(np.array([[[1.5, -0.5]]]), [[1.0, 0.0]]),
        "weighted shown_categories rows must be non-negative and sum to 1",
        id="dom_w_neg",
    ),
    pytest.param(
        lambda: m.majority_category_domination(f((1, 2)) / 2, [[1.0, 0.0]]),
        "shown_categories must be 3-D, got shape (1, 2)",
        id="dom_w_2d",
    ),
    pytest.param(
        lambda: m.ndcg_at_k(z((1, 3)), z((1, 3)), 0),
        "k must be a positive integer, got 0",
        id="ndcg_k0",
    ),
    pytest.param(
        lambda: m.ndcg_at_k(z((1, 3)), z(3), 2),
        "relevant must be 2-D (n_users, n_items), got shape (3,)",
        id="ndcg_rel_1d",
    ),
    pytest.param(
        lambda: m.ndcg_at_k(z((1, 3)), np.full((1, 3), 2), 2),
        "relevant must be boolean or 0/1 (binary relevance)",
        id="ndcg_rel_2",
    ),
    pytest.param(
        lambda: m.ndcg_at_k(z((2, 3)), z((1, 3)), 2),
        "scores shape (2, 3) must equal relevant shape (1, 3)",
        id="ndcg_shape",
    ),
    pytest.param(
        lambda: m.ndcg_at_k(z(3), z((1, 3)), 2),
        "scores must be 2-D, got shape (3,)",
        id="ndcg_scores_1d",
    ),
    pytest.param(
        lambda: m.ndcg_at_k(z((1, 2)), z((1, 3)), 2, ranked=True),
        "ranked must hold integer ids, got dtype float64",
        id="ndcg_ranked_float",
    ),
    pytest.param(
        lambda: m.ndcg_at_k(np.array([[0, 3]]), z((1, 3)), 2, ranked=True),
        "ranked must be < 3, found 3",
        id="ndcg_ranked_big",
    ),
    pytest.param(
        lambda: m.ndcg_at_k(np.array([[0, 1]]), z((2, 3)), 2, ranked=True),
        "ranked must have shape (2, L), got (1, 2)",
        id="ndcg_ranked_shape",
    ),
    pytest.param(
        lambda: m.ndcg_at_k(np.array([0, 1]), z((1, 3)), 2, ranked=True),
        "ranked must have shape (1, L), got (2,)",
        id="ndcg_ranked_1d",
    ),
    pytest.param(
        lambda: m.ndcg_at_k(np.array([[1, 1]]), z((1, 3)), 2, ranked=True),
        "ranked lists must not contain duplicate item ids",
        id="ndcg_ranked_dup",
    ),
    pytest.param(
        lambda: m.hit_rate_at_k(z((1, 3)), z((1, 3)), 0),
        "k must be a positive integer, got 0",
        id="hr_k0",
    ),
    pytest.param(
        lambda: m.hit_rate_at_k(z((1, 3)), np.full((1, 3), 2), 2),
        "relevant must be boolean or 0/1 (binary relevance)",
        id="hr_rel_2",
    ),
]


@pytest.mark.parametrize(("call", "message"), CASES)
def test_bad_input_message(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message
