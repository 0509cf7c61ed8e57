"""Re-ranking: every bad input is one ``ValueError`` naming the argument (whole message
compared); zero vectors, masks and the λ = 0 / λ = 1 ends of MMR and the DPP."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from divrec_rl.agents import rerank as r

e3 = np.eye(3)
E = np.stack([np.eye(3), np.eye(3)])
R = np.array([[0.3, 0.2, 0.1], [0.1, 0.2, 0.3]])
TAIL = ": a slate cannot hold more distinct items than there are candidates"

CASES = [
    pytest.param(
        lambda: r.mmr(np.zeros((1, 3)), e3, 2, 0.5),
        "relevance must be 1-D, got shape (1, 3)",
        id="mmr_rel_2d",
    ),
    pytest.param(
        lambda: r.mmr(np.array(["a", "b", "c"]), e3, 2, 0.5),
        "relevance must be numeric, got dtype <U1",
        id="mmr_rel_str",
    ),
    pytest.param(
        lambda: r.mmr(np.array([0.1, np.nan, 0.2]), e3, 2, 0.5),
        "relevance contains NaN or infinite values",
        id="mmr_rel_nan",
    ),
    pytest.param(
        lambda: r.mmr(np.ones(3), np.ones(3), 2, 0.5),
        "similarity must be 2-D, got shape (3,)",
        id="mmr_sim_1d",
    ),
    pytest.param(
        lambda: r.mmr(np.ones(3), np.eye(2), 2, 0.5),
        "similarity must have shape (3, 3) to match relevance, got (2, 2)",
        id="mmr_sim_shape",
    ),
    pytest.param(
        lambda: r.mmr(np.ones(3), e3, 0, 0.5), "k must be a positive integer, got 0", id="mmr_k0"
    ),
    pytest.param(
        lambda: r.mmr(np.ones(3), e3, True, 0.5),
        "k must be a positive integer, got True",
        id="mmr_kbool",
    ),
    pytest.param(
        lambda: r.mmr(np.ones(3), e3, 2.0, 0.5),
        "k must be a positive integer, got 2.0",
        id="mmr_kfloat",
    ),
    pytest.param(
        lambda: r.mmr(np.ones(3), e3, 4, 0.5),
        "k=4 exceeds the number of candidates n=3" + TAIL,
        id="mmr_kbig",
    ),
    pytest.param(
        lambda: r.mmr(np.ones(3), e3, 2, 1.5),
        "diversity_weight must be in [0, 1], got 1.5",
        id="mmr_w",
    ),
    pytest.param(
        lambda: r.mmr(np.ones(3), e3, 2, -0.1),
        "diversity_weight must be in [0, 1], got -0.1",
        id="mmr_wneg",
    ),
    pytest.param(
        lambda: r.mmr(np.ones(3), e3, 2, float("nan")),
        "diversity_weight must be in [0, 1], got nan",
        id="mmr_wnan",
    ),
    pytest.param(
        lambda: r.cosine_similarity_matrix(np.ones(3)),
        "embeddings must be 2-D, got shape (3,)",
        id="cos_1d",
    ),
    pytest.param(
        lambda: r.cosine_similarity_matrix(np.array([[np.inf, 0.0]])),
        "embeddings contains NaN or infinite values",
        id="cos_inf",
    ),
    pytest.param(
        lambda: r.mmr_batch(np.ones(3), E, 2, 0.5),
        "relevance must be 2-D, got shape (3,)",
        id="mmrb_rel_1d",
    ),
    pytest.param(
        lambda: r.mmr_batch(R, np.ones((2, 3)), 2, 0.5),
        "embeddings must be 3-D, got shape (2, 3)",
        id="mmrb_emb_2d",
    ),
    pytest.param(
        lambda: r.mmr_batch(R, np.ones((2, 4, 3)), 2, 0.5),
        "embeddings must have shape (2, 3, d), got (2, 4, 3)",
        id="mmrb_emb_shape",
    ),
    pytest.param(
        lambda: r.mmr_batch(R, E, 4, 0.5),
        "k=4 exceeds the number of candidates n=3" + TAIL,
        id="mmrb_kbig",
    ),
    pytest.param(
        lambda: r.mmr_batch(R, E, 2, 0.5, valid=np.ones((2, 3), dtype=int)),
        "valid must be a boolean array of shape (2, 3), got int64 (2, 3)",
        id="mmrb_valid_int",
    ),
    pytest.param(
        lambda: r.mmr_batch(R, E, 2, 0.5, valid=np.ones((2, 4), dtype=bool)),
        "valid must be a boolean array of shape (2, 3), got bool (2, 4)",
        id="mmrb_valid_shape",
    ),
    pytest.param(
        lambda: r.mmr_batch(
            R, E, 2, 0.5, valid=np.array([[True, True, True], [True, False, False]])
        ),
        "rows [1] have fewer than k=2 valid candidates",
        id="mmrb_valid_short",
    ),
    pytest.param(
        lambda: r.mmr_batch(
            np.ones((8, 3)), np.ones((8, 3, 2)), 2, 0.5, valid=np.eye(8, 3, dtype=bool)
        ),
        "rows [0, 1, 2, 3, 4] have fewer than k=2 valid candidates",
        id="mmrb_valid_short7",
    ),
    pytest.param(
        lambda: r.dpp_greedy(np.ones((1, 3)), e3, 2, 0.5),
        "relevance must be 1-D, got shape (1, 3)",
        id="dpp_rel_2d",
    ),
    pytest.param(
        lambda: r.dpp_greedy(np.ones(3), np.ones(3), 2, 0.5),
        "embeddings must be 2-D, got shape (3,)",
        id="dpp_emb_1d",
    ),
    pytest.param(
        lambda: r.dpp_greedy(np.ones(3), np.ones((4, 2)), 2, 0.5),
        "embeddings must have shape (3, d) to match relevance, got (4, 2)",
        id="dpp_emb_shape",
    ),
    pytest.param(
        lambda: r.dpp_greedy(np.ones(3), e3, 5, 0.5),
        "k=5 exceeds the number of candidates n=3" + TAIL,
        id="dpp_kbig",
    ),
    pytest.param(
        lambda: r.dpp_greedy(np.ones(3), e3, 2, 2.0),
        "diversity_weight must be in [0, 1], got 2.0",
        id="dpp_w",
    ),
    pytest.param(
        lambda: r.dpp_greedy(np.ones(3), e3, 2, 0.5, jitter=0.0),
        "jitter must be a positive finite float, got 0.0",
        id="dpp_jitter0",
    ),
    pytest.param(
        lambda: r.dpp_greedy(np.ones(3), e3, 2, 0.5, jitter=float("inf")),
        "jitter must be a positive finite float, got inf",
        id="dpp_jitter_inf",
    ),
    pytest.param(
        lambda: r.dpp_greedy_batch(np.ones(3), E, 2, 0.5),
        "relevance must be 2-D, got shape (3,)",
        id="dppb_rel_1d",
    ),
    pytest.param(
        lambda: r.dpp_greedy_batch(R, np.ones((2, 3)), 2, 0.5),
        "embeddings must be 3-D, got shape (2, 3)",
        id="dppb_emb_2d",
    ),
    pytest.param(
        lambda: r.dpp_greedy_batch(R, np.ones((3, 3, 3)), 2, 0.5),
        "embeddings must have shape (2, 3, d), got (3, 3, 3)",
        id="dppb_emb_shape",
    ),
    pytest.param(
        lambda: r.dpp_greedy_batch(R, E, 0, 0.5),
        "k must be a positive integer, got 0",
        id="dppb_k0",
    ),
    pytest.param(
        lambda: r.dpp_greedy_batch(R, E, 2, 0.5, jitter=-1.0),
        "jitter must be a positive finite float, got -1.0",
        id="dppb_jitter",
    ),
    pytest.param(
        lambda: r.dpp_greedy_batch(R, E, 2, 0.5, valid=np.ones((3, 3), dtype=bool)),
        "valid must be a boolean array of shape (2, 3), got bool (3, 3)",
        id="dppb_valid_shape",
    ),
    pytest.param(
        lambda: r.dpp_greedy_batch(
            R, E, 3, 0.5, valid=np.array([[True, True, True], [True, True, False]])
        ),
        "rows [1] have fewer than k=3 valid candidates",
        id="dppb_valid_short",
    ),
    pytest.param(
        lambda: r.dpp_alpha(1.2), "diversity_weight must be in [0, 1], got 1.2", id="alpha_w"
    ),
]


@pytest.mark.parametrize(("call", "message"), CASES)
def test_bad_input_message(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message


def test_zero_vectors_have_cosine_zero_with_everything_itself_included() -> None:
    x = np.array([[3.0, 4.0], [0.0, 0.0], [-4.0, 3.0], [6.0, 8.0]])
    s = r.cosine_similarity_matrix(x)
    expected = np.array(
        [
            [1.0, 0.0, 0.0, 1.0],
            [0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0],
            [1.0, 0.0, 0.0, 1.0],
        ]
    )
    np.testing.assert_allclose(s, expected, atol=1e-15)
    assert np.diag(s).tolist() == [1.0, 0.0, 1.0, 1.0]  # exact


def test_mmr_batch_with_a_zero_vector_matches_the_matrix_version() -> None:
    # Item 1 is a zero vector: similarity 0 to everything, so MMR may pick it second.
    x = np.array([[[1.0, 0.0], [0.0, 0.0], [1.0, 0.1], [0.9, 0.1]]])
    rel = np.array([[1.0, 0.5, 0.9, 0.8]])
    for lam in (0.3, 0.5, 0.9):
        want = r.mmr(rel[0], r.cosine_similarity_matrix(x[0]), 3, lam)
        got = r.mmr_batch(rel, x, 3, lam)[0]
        assert got.tolist() == want.tolist(), lam
    assert r.mmr_batch(rel, x, 2, 0.9)[0].tolist() == [0, 1]


def test_zero_weight_ignores_masked_candidates() -> None:
    rel = np.array([[0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.4]])
    x = np.ones((2, 4, 2))
    valid = np.array([[False, True, True, True], [True, True, True, False]])
    for rerank in (r.mmr_batch, r.dpp_greedy_batch):
        assert rerank(rel, x, 2, 0.0, valid=valid).tolist() == [[1, 2], [2, 1]]


def test_dpp_at_weight_one_is_pure_diversity() -> None:
    # Items 0 and 1 are near-duplicates and the most relevant; 2 is orthogonal to them and the
    # least relevant.  λ = 1 drops relevance from the objective (it only breaks exact ties).
    x = np.array([[1.0, 0.0], [1.0, 0.05], [0.0, 1.0]])
    rel = np.array([1.0, 0.99, 0.0])
    assert r.dpp_greedy(rel, x, 2, 1.0).tolist() == [0, 2]
    assert r.dpp_greedy_batch(rel[None], x[None], 2, 1.0).tolist() == [[0, 2]]
    assert r.dpp_greedy(rel, x, 2, 0.01).tolist() == [0, 1]
    # After A the residual volumes are B (.6, .8): .64 and C e2: 1, i.e. log-gains −.446 and 0.
    # With relevance in the objective B would win (.9 − .446 > 0); at λ = 1 it is C.
    y = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    assert r.dpp_greedy(np.array([1.0, 0.9, 0.0]), y, 2, 1.0).tolist() == [0, 2]


def test_dpp_with_a_zero_vector_picks_it_last() -> None:
    # A zero vector adds only the jitter ε to the determinant: the worst pick for any λ > 0.
    x = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    rel = np.array([0.5, 1.0, 0.5, 0.5])
    for lam in (0.5, 0.9):
        picks = r.dpp_greedy(rel, x, 4, lam).tolist()
        assert picks[-1] == 1, (lam, picks)
        assert r.dpp_greedy_batch(rel[None], x[None], 4, lam)[0].tolist() == picks


def test_mmr_batch_penalises_the_closest_pick_not_the_last() -> None:
    # The worked example of test_rerank (A, B, C, D; sim(A,B) = .8, sim(A,D) = .6, C ⟂ all) at
    # λ = 1: after A and C, B's penalty is max(.8, 0) and D's max(.6, 0) → D; measured against
    # the last pick C alone both would be 0 and relevance would pick B.
    emb = np.array([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.0, 0.0, 1.0], [0.6, 0.8, 0.0]])
    rel = np.array([1.0, 0.9, 0.5, 0.6])
    a, b, c, d = 0, 1, 2, 3
    assert r.mmr(rel, r.cosine_similarity_matrix(emb), 4, 1.0).tolist() == [a, c, d, b]
    assert r.mmr_batch(rel[None], emb[None], 4, 1.0).tolist() == [[a, c, d, b]]


def test_dpp_third_pick_needs_the_projection_on_earlier_picks() -> None:
    # λ = 1 (volume only).  A = e1; B = (.6, .8, 0); X = (.8, −.6, 0) lies in span{A, B};
    # E = (.7, 0, √.51).  Residuals after A: B .64, X .36, E .51 → B.  After A and B the true
    # residuals are X ≈ ε (in the span) and E .51 (its e3 part) → E, then X.  Dropping the
    # projection on A would leave X at .36 and E at .51 − (.42/.8)² ≈ .23 → X third.
    x = np.array([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.8, -0.6, 0.0], [0.7, 0.0, np.sqrt(0.51)]])
    rel = np.array([0.4, 0.3, 0.2, 0.1])  # first pick: all volumes tie, relevance → A
    assert r.dpp_greedy(rel, x, 4, 1.0).tolist() == [0, 1, 3, 2]
    assert r.dpp_greedy_batch(rel[None], x[None], 3, 1.0).tolist() == [[0, 1, 3]]
