"""Tests for divrec_rl.agents.rerank: MMR and greedy DPP MAP re-ranking."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from divrec_rl.agents.rerank import (
    DEFAULT_JITTER,
    cosine_similarity_matrix,
    dpp_alpha,
    dpp_greedy,
    dpp_greedy_batch,
    mmr,
    mmr_batch,
)

FAST = settings(max_examples=50, deadline=None)

# Worked example used by the hand-computed tests (unit vectors):
#   A=(1,0,0)  B=(.8,.6,0)  C=(0,0,1)  D=(.6,.8,0)
#   cos: AB=.8  AC=0  AD=.6  BC=0  BD=.96  CD=0
EMB = np.array([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0], [0.0, 0.0, 1.0], [0.6, 0.8, 0.0]])
REL = np.array([1.0, 0.9, 0.5, 0.6])
A, B, C, D = 0, 1, 2, 3


def _naive_mmr(rel: np.ndarray, sim: np.ndarray, k: int, lam: float) -> list[int]:
    """Straight transcription of the MMR definition (tie → higher relevance → lower index)."""
    picked: list[int] = []
    for _ in range(k):
        best, best_key = -1, None
        for i in range(rel.size):
            if i in picked:
                continue
            penalty = max((sim[i, j] for j in picked), default=0.0)
            key = ((1 - lam) * rel[i] - lam * penalty, rel[i], -i)
            if best_key is None or key > best_key:
                best, best_key = i, key
        picked.append(best)
    return picked


def _logdet_kernel(rel: np.ndarray, emb: np.ndarray, lam: float) -> np.ndarray:
    """L = Diag(q) (S + εI) Diag(q), q = exp(α rel), built explicitly (small n only)."""
    alpha = dpp_alpha(lam)
    q = np.exp(alpha * (rel - rel.max()))  # a common scale factor does not change argmax
    s = cosine_similarity_matrix(emb) + DEFAULT_JITTER * np.eye(rel.size)
    return q[:, None] * s * q[None, :]


def _greedy_gaps(picks: np.ndarray, kernel: np.ndarray) -> list[float]:
    """For each step, max_i log det(L_{Y∪i}) − log det(L_{Y∪pick}) (0 = a greedy choice)."""
    gaps = []
    chosen: list[int] = []
    for p in picks:
        vals = {}
        for i in range(kernel.shape[0]):
            if i in chosen:
                continue
            idx = [*chosen, i]
            sign, ld = np.linalg.slogdet(kernel[np.ix_(idx, idx)])
            vals[i] = ld if sign > 0 else -np.inf
        gaps.append(max(vals.values()) - vals[int(p)])
        chosen.append(int(p))
    return gaps


# --------------------------------------------------------------------------------------------
# hand-computed worked examples
# --------------------------------------------------------------------------------------------


def test_mmr_worked_example() -> None:
    sim = cosine_similarity_matrix(EMB)
    # λ = ½:  step 1 scores ½·rel → A.
    #   step 2: B ½·.9 − ½·.8 = .05,  C ½·.5 − 0 = .25,  D ½·.6 − ½·.6 = 0     → C
    #   step 3: max-sims unchanged (C ⟂ all): B .05, D 0                        → B, then D
    np.testing.assert_array_equal(mmr(REL, sim, 4, 0.5), [A, C, B, D])
    # λ = 0: relevance order 1, .9, .6, .5
    np.testing.assert_array_equal(mmr(REL, sim, 4, 0.0), [A, B, D, C])
    # λ = 1: step 1 all scores 0 → tie → highest relevance A;
    #   step 2: −max-sim: B −.8, C 0, D −.6 → C;  step 3: B −.8, D −.6 → D, then B
    np.testing.assert_array_equal(mmr(REL, sim, 4, 1.0), [A, C, D, B])
    # batched version on the same data
    np.testing.assert_array_equal(mmr_batch(REL[None], EMB[None], 4, 0.5), [[A, C, B, D]])


def test_dpp_worked_example() -> None:
    # λ = ½ → α = ½/(2·½) = ½ → q_i² = e^{rel_i}; det L_Y = Π e^{rel_i} · det S_Y.
    #   step 1: det = e^{rel} → A
    #   step 2: {A,B}: e^{1.9}·(1−.8²) = 6.686·.36 = 2.407
    #           {A,C}: e^{1.5}·1        = 4.482
    #           {A,D}: e^{1.6}·(1−.6²) = 4.953·.64 = 3.170               → C
    #   step 3: {A,C,B}: e^{2.4}·.36 = 3.968;  {A,C,D}: e^{2.1}·.64 = 5.226 → D, then B
    assert dpp_alpha(0.5) == pytest.approx(0.5)
    np.testing.assert_array_equal(dpp_greedy(REL, EMB, 4, 0.5), [A, C, D, B])
    # λ = ¼ → α = ¾/(2·¼) = 1.5 → q_i² = e^{3 rel_i}
    #   step 2: {A,B}: e^{5.7}·.36 = 107.0;  {A,C}: e^{4.5} = 90.0;  {A,D}: e^{4.8}·.64 = 77.7 → B
    #   step 3: D lies in span{A,B} (residual ≈ ε) while C is orthogonal → C, then D
    np.testing.assert_array_equal(dpp_greedy(REL, EMB, 4, 0.25), [A, B, C, D])
    # λ = 0 → pure relevance
    np.testing.assert_array_equal(dpp_greedy(REL, EMB, 4, 0.0), [A, B, D, C])
    # MMR (λ=½) and DPP (λ=½) disagree at step 3 on this example: MMR only looks at the
    # closest selected item (B: .8 vs D: .6 → penalties cancel relevance), DPP at the volume.
    np.testing.assert_array_equal(
        dpp_greedy_batch(np.stack([REL, REL]), np.stack([EMB, EMB]), 3, 0.5),
        [[A, C, D], [A, C, D]],
    )


def test_dpp_matches_bruteforce_on_worked_example() -> None:
    for lam in (0.1, 0.25, 0.5, 0.75, 1.0):
        picks = dpp_greedy(REL, EMB, 4, lam)
        gaps = _greedy_gaps(picks, _logdet_kernel(REL, EMB, lam))
        assert max(gaps) <= 1e-9, (lam, picks, gaps)


def test_rank_exhaustion_falls_back_to_relevance() -> None:
    # 6 candidates in 2-D: after two picks the plane is spanned and every remaining residual
    # equals ε, so the remaining picks follow relevance exactly.
    rng = np.random.default_rng(3)
    emb = rng.normal(size=(6, 2))
    rel = np.array([0.1, 0.9, 0.3, 0.7, 0.5, 0.2])
    picks = dpp_greedy(rel, emb, 6, 0.5)
    rest = picks[2:]
    np.testing.assert_array_equal(rest, sorted(rest, key=lambda i: -rel[i]))


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------


def test_errors() -> None:
    sim = cosine_similarity_matrix(EMB)
    with pytest.raises(ValueError, match=r"k=5 exceeds the number of candidates n=4"):
        mmr(REL, sim, 5, 0.5)
    with pytest.raises(ValueError, match=r"k=5 exceeds the number of candidates n=4"):
        dpp_greedy(REL, EMB, 5, 0.5)
    with pytest.raises(ValueError, match=r"k=5 exceeds"):
        mmr_batch(REL[None], EMB[None], 5, 0.5)
    with pytest.raises(ValueError, match="positive integer"):
        mmr(REL, sim, 0, 0.5)
    with pytest.raises(ValueError, match=r"diversity_weight must be in \[0, 1\]"):
        dpp_greedy(REL, EMB, 2, 1.5)
    with pytest.raises(ValueError, match=r"diversity_weight must be in \[0, 1\]"):
        mmr(REL, sim, 2, float("nan"))
    with pytest.raises(ValueError, match=r"similarity must have shape \(4, 4\)"):
        mmr(REL, sim[:3, :3], 2, 0.5)
    with pytest.raises(ValueError, match=r"embeddings must have shape \(4, d\)"):
        dpp_greedy(REL, EMB[:3], 2, 0.5)
    with pytest.raises(ValueError, match=r"embeddings must have shape \(1, 4, d\)"):
        dpp_greedy_batch(REL[None], EMB[None, :3], 2, 0.5)
    with pytest.raises(ValueError, match="3-D"):
        mmr_batch(REL[None], EMB, 2, 0.5)
    with pytest.raises(ValueError, match="NaN"):
        mmr(np.array([np.nan, 1.0]), np.eye(2), 1, 0.5)
    with pytest.raises(ValueError, match="jitter"):
        dpp_greedy(REL, EMB, 2, 0.5, jitter=0.0)
    with pytest.raises(ValueError, match="fewer than k=3 valid"):
        mmr_batch(REL[None], EMB[None], 3, 0.5, valid=np.array([[True, True, False, False]]))


def test_valid_mask_respected() -> None:
    valid = np.array([[True, False, True, True]])
    for fn in (mmr_batch, dpp_greedy_batch):
        out = fn(REL[None], EMB[None], 3, 0.5, valid=valid)
        assert B not in out[0]
        assert sorted(out[0].tolist()) == [A, C, D]


# --------------------------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------------------------


@st.composite
def candidate_sets(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int, float]:
    n = draw(st.integers(1, 9))
    d = draw(st.integers(1, 4))
    vals = st.floats(-5, 5, allow_nan=False, allow_subnormal=False)
    rel = draw(arrays(np.float64, n, elements=vals))
    emb = draw(arrays(np.float64, (n, d), elements=vals))
    k = draw(st.integers(1, n))
    lam = draw(st.sampled_from([0.0, 0.2, 0.5, 0.8, 1.0]) | st.floats(0, 1))
    return rel, emb, k, lam


@FAST
@given(candidate_sets())
def test_exactly_k_distinct(case: tuple[np.ndarray, np.ndarray, int, float]) -> None:
    rel, emb, k, lam = case
    for picks in (
        mmr(rel, cosine_similarity_matrix(emb), k, lam),
        dpp_greedy(rel, emb, k, lam),
        mmr_batch(rel[None], emb[None], k, lam)[0],
    ):
        assert picks.shape == (k,)
        assert picks.dtype == np.int64
        assert len(set(picks.tolist())) == k
        assert picks.min() >= 0 and picks.max() < rel.size


@FAST
@given(candidate_sets())
def test_zero_weight_is_relevance_order(case: tuple[np.ndarray, np.ndarray, int, float]) -> None:
    rel, emb, k, _ = case
    expected = np.argsort(-rel, kind="stable")[:k]  # ties → lower index
    np.testing.assert_array_equal(mmr(rel, cosine_similarity_matrix(emb), k, 0.0), expected)
    np.testing.assert_array_equal(mmr_batch(rel[None], emb[None], k, 0.0)[0], expected)
    np.testing.assert_array_equal(dpp_greedy(rel, emb, k, 0.0), expected)


@FAST
@given(candidate_sets())
def test_mmr_matches_naive_definition(case: tuple[np.ndarray, np.ndarray, int, float]) -> None:
    rel, emb, k, lam = case
    sim = cosine_similarity_matrix(emb)
    assert mmr(rel, sim, k, lam).tolist() == _naive_mmr(rel, sim, k, lam)


@FAST
@given(st.integers(0, 2**32 - 1), st.integers(2, 9), st.integers(1, 4), st.floats(0.05, 1.0))
def test_dpp_is_greedy_logdet(seed: int, n: int, d: int, lam: float) -> None:
    # Every pick maximises log det(L_{Y∪i}) up to rounding, also past the embedding rank.
    rng = np.random.default_rng(seed)
    rel = rng.uniform(0, 1, size=n)
    emb = rng.normal(size=(n, d))
    picks = dpp_greedy(rel, emb, n, lam)
    gaps = _greedy_gaps(picks, _logdet_kernel(rel, emb, lam))
    assert max(gaps) <= 1e-6, (picks, gaps)


@FAST
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 5),
    st.integers(1, 10),
    st.integers(1, 6),
    st.floats(0, 1),
    st.data(),
)
def test_batched_equals_single(
    seed: int, b: int, n: int, d: int, lam: float, data: st.DataObject
) -> None:
    k = data.draw(st.integers(1, n))
    rng = np.random.default_rng(seed)
    rel = rng.normal(size=(b, n))
    emb = rng.normal(size=(b, n, d))
    got_mmr = mmr_batch(rel, emb, k, lam)
    got_dpp = dpp_greedy_batch(rel, emb, k, lam)
    assert got_mmr.shape == got_dpp.shape == (b, k)
    for i in range(b):
        np.testing.assert_array_equal(
            got_mmr[i], mmr(rel[i], cosine_similarity_matrix(emb[i]), k, lam)
        )
        np.testing.assert_array_equal(got_dpp[i], dpp_greedy(rel[i], emb[i], k, lam))


def test_diversity_increases_ild() -> None:
    # Sanity check of the trade-off: more diversity weight → no lower mean ILD of the slates.
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 8))
    emb = centres[rng.integers(0, 4, size=(32, 40))] + 0.1 * rng.normal(size=(32, 40, 8))
    rel = rng.uniform(size=(32, 40))

    def mean_ild(slates: np.ndarray) -> float:
        u = emb / np.linalg.norm(emb, axis=2, keepdims=True)
        s = u[np.arange(32)[:, None], slates]
        tot = s.sum(axis=1)
        k = slates.shape[1]
        return float(np.mean(1 - ((tot * tot).sum(1) - k) / (k * (k - 1))))

    for fn in (mmr_batch, dpp_greedy_batch):
        ilds = [mean_ild(fn(rel, emb, 6, lam)) for lam in (0.0, 0.5, 0.9)]
        assert ilds[0] < ilds[1] <= ilds[2] + 1e-9, (fn.__name__, ilds)


def test_tiny_weight_and_huge_scores_are_stable() -> None:
    # α = (1−λ)/(2λ) overflows for subnormal λ; the scaled objective must not produce NaN.
    # (no exact relevance ties: for any λ > 0 those are broken by diversity, not by index)
    rel = np.array([0.5, 3.0, 0.0, 1.0, 2.0])
    emb = np.random.default_rng(1).normal(size=(5, 2))
    for lam in (5e-324, 1e-300, 1e-12):
        np.testing.assert_array_equal(dpp_greedy(rel, emb, 5, lam), [1, 4, 3, 0, 2])
    big = np.array([1e300, -1e300, 5e299])
    for picks in (dpp_greedy(big, emb[:3], 3, 0.5), mmr_batch(big[None], emb[None, :3], 3, 0.5)[0]):
        assert sorted(picks.tolist()) == [0, 1, 2]


def test_alpha_mapping() -> None:
    # α = θ / (2(1−θ)) with θ = 1 − λ
    assert dpp_alpha(0.25) == pytest.approx(0.75 / 0.5)
    assert dpp_alpha(1.0) == 0.0
    assert math.isinf(dpp_alpha(0.0))
