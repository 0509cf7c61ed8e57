"""Diversity re-ranking at serving time: Maximal Marginal Relevance and greedy DPP MAP.

Both re-rankers take a candidate set with relevance scores and pick an ordered slate of ``k``
distinct items, trading relevance for diversity with one knob, ``diversity_weight`` λ ∈ [0, 1]:
λ = 0 returns exactly the top-k by relevance, λ = 1 ignores relevance except to break ties.

Tie-breaking (both algorithms, single and batched): among candidates with exactly equal
objective, the one with higher relevance wins, then the lower index — so λ = 0 reproduces a
stable descending sort of the relevance.

The batched versions are vectorised over the batch (users) and loop only over the k picks;
they never build a (B, n, n) similarity tensor (memory O(B n k), time O(B n k (d + k))).

The third-party package ``pyversity`` (0.2.0) is deliberately not used as a backend: its MMR
and DPP greedy steps are correct, but it has no batched API, returns fewer than k items when
k > n instead of failing, clips negative cosine similarities to 0 in MMR, computes in float32
and, once k exceeds the rank of the embeddings, picks the remaining items from rounding noise
(ignoring relevance), whereas the jittered kernel below falls back to relevance order.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "cosine_similarity_matrix",
    "dpp_alpha",
    "dpp_greedy",
    "dpp_greedy_batch",
    "mmr",
    "mmr_batch",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Default diagonal jitter ε added to the cosine kernel S (keeps S + εI positive definite).
DEFAULT_JITTER = 1e-6


# --------------------------------------------------------------------------------------------
# validation / shared helpers
# --------------------------------------------------------------------------------------------


def _finite(x: ArrayLike, name: str, ndim: int) -> FloatArray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_k(k: int, n: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or int(k) < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if int(k) > n:
        raise ValueError(
            f"k={int(k)} exceeds the number of candidates n={n}: a slate cannot hold more "
            "distinct items than there are candidates"
        )
    return int(k)


def _check_weight(diversity_weight: float) -> float:
    lam = float(diversity_weight)
    if not 0.0 <= lam <= 1.0:  # also rejects NaN
        raise ValueError(f"diversity_weight must be in [0, 1], got {diversity_weight!r}")
    return lam


def _check_valid(valid: ArrayLike | None, shape: tuple[int, int], k: int) -> NDArray[np.bool_]:
    if valid is None:
        return np.ones(shape, dtype=bool)
    v = np.asarray(valid)
    if v.dtype != bool or v.shape != shape:
        raise ValueError(f"valid must be a boolean array of shape {shape}, got {v.dtype} {v.shape}")
    short = np.flatnonzero(v.sum(axis=1) < k)
    if short.size:
        raise ValueError(f"rows {short[:5].tolist()} have fewer than k={k} valid candidates")
    return v


def _unit_rows(x: FloatArray, eps: float = 1e-12) -> FloatArray:
    """Normalise the last axis to unit length; (near-)zero vectors stay zero (cosine 0)."""
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.where(norms > eps, x / np.where(norms > eps, norms, 1.0), 0.0)


def cosine_similarity_matrix(embeddings: ArrayLike) -> FloatArray:
    """Pairwise cosine similarity ``S_ij = x_i·x_j / (|x_i| |x_j|)`` of ``(n, d)`` embeddings.

    Returns ``(n, n)`` in [-1, 1] with a unit diagonal; a zero vector has similarity 0 with
    every item, itself included.
    """
    x = _finite(embeddings, "embeddings", 2)
    u = _unit_rows(x)
    s = np.clip(u @ u.T, -1.0, 1.0)
    # Exact 1.0 on the diagonal (rounding gives 1 ± ulp) so equal-norm ties stay exact ties.
    np.fill_diagonal(s, (np.linalg.norm(u, axis=1) > 0).astype(np.float64))
    return s


def _pick(score: FloatArray, relevance: FloatArray, taken: NDArray[np.bool_]) -> IntArray:
    """Row-wise argmax of ``score`` over untaken items; exact ties → higher relevance → lower index.

    All arrays are (B, n); returns (B,) indices.
    """
    s = np.where(taken, -np.inf, score)
    best = s.max(axis=1, keepdims=True)
    tied = (s == best) & ~taken
    return np.argmax(np.where(tied, relevance, -np.inf), axis=1)


def _topk_relevance(relevance: FloatArray, valid: NDArray[np.bool_], k: int) -> IntArray:
    """Top-k by relevance (stable: ties → lower index), invalid candidates excluded."""
    keyed = np.where(valid, relevance, -np.inf)
    return np.argsort(-keyed, axis=1, kind="stable")[:, :k].astype(np.int64)


# --------------------------------------------------------------------------------------------
# MMR
# --------------------------------------------------------------------------------------------


def mmr(relevance: ArrayLike, similarity: ArrayLike, k: int, diversity_weight: float) -> IntArray:
    """Maximal Marginal Relevance re-ranking of one candidate list.

    Greedily, for t = 1..k, with S the items already picked::

        i_t = argmax_{i ∉ S} (1 − λ) · rel_i − λ · max_{j ∈ S} sim_ij      (max over ∅ := 0)

    so the first pick is the most relevant item. ``rel`` and ``sim`` are combined linearly:
    keep them on comparable scales (e.g. relevance in [0, 1], cosine similarity in [-1, 1]).

    Args:
        relevance: ``(n,)`` relevance scores (higher = better).
        similarity: ``(n, n)`` item-item similarity; ``sim[i, j]`` is the similarity of
            candidate i to selected item j (need not be symmetric).
        k: slate size, ``1 ≤ k ≤ n``.
        diversity_weight: λ ∈ [0, 1]; 0 = pure relevance order.

    Returns:
        ``(k,)`` int64 distinct candidate indices in pick order.

    Reference: Carbonell and Goldstein, "The Use of MMR, Diversity-Based Reranking for
    Reordering Documents and Producing Summaries", SIGIR 1998 (their λ weights relevance; ours
    weights diversity, λ_ours = 1 − λ_theirs).
    """
    rel = _finite(relevance, "relevance", 1)
    sim = _finite(similarity, "similarity", 2)
    n = rel.shape[0]
    if sim.shape != (n, n):
        raise ValueError(
            f"similarity must have shape ({n}, {n}) to match relevance, got {sim.shape}"
        )
    k = _check_k(k, n)
    lam = _check_weight(diversity_weight)

    rel_b = rel[None, :]
    taken = np.zeros((1, n), dtype=bool)
    max_sim = np.zeros((1, n))
    out = np.empty(k, dtype=np.int64)
    for t in range(k):
        score = (1.0 - lam) * rel_b - lam * max_sim
        j = int(_pick(score, rel_b, taken)[0])
        out[t] = j
        taken[0, j] = True
        # Running max_{j∈S} sim_ij; initialise from the first pick (max over ∅ is 0 only for
        # the first step's penalty, later picks use the true maximum even if negative).
        max_sim[0] = sim[:, j] if t == 0 else np.maximum(max_sim[0], sim[:, j])
    return out


def mmr_batch(
    relevance: ArrayLike,
    embeddings: ArrayLike,
    k: int,
    diversity_weight: float,
    *,
    valid: ArrayLike | None = None,
) -> IntArray:
    """Batched MMR with cosine similarity of the embeddings, vectorised over users.

    Same objective and tie-breaking as :func:`mmr` with ``sim = cos(x_i, x_j)``; row b of the
    result equals ``mmr(relevance[b], cosine_similarity_matrix(embeddings[b]), k, λ)``.
    Similarities to the newest pick are computed on the fly, so no (B, n, n) tensor is built.

    Args:
        relevance: ``(B, n)`` relevance scores.
        embeddings: ``(B, n, d)`` candidate embeddings (per-user candidate sets).
        k: slate size, ``1 ≤ k ≤ n``.
        diversity_weight: λ ∈ [0, 1].
        valid: optional ``(B, n)`` boolean mask of pickable candidates (padding / already
            consumed items False); each row needs at least k valid entries.

    Returns:
        ``(B, k)`` int64 candidate indices.
    """
    rel = _finite(relevance, "relevance", 2)
    x = _finite(embeddings, "embeddings", 3)
    b, n = rel.shape
    if x.shape[:2] != (b, n):
        raise ValueError(f"embeddings must have shape ({b}, {n}, d), got {x.shape}")
    k = _check_k(k, n)
    lam = _check_weight(diversity_weight)
    ok = _check_valid(valid, (b, n), k)

    u = _unit_rows(x)
    nonzero = np.linalg.norm(u, axis=2) > 0
    rows = np.arange(b)
    taken = ~ok
    max_sim = np.zeros((b, n))
    out = np.empty((b, k), dtype=np.int64)
    for t in range(k):
        score = (1.0 - lam) * rel - lam * max_sim
        j = _pick(score, rel, taken)
        out[:, t] = j
        taken[rows, j] = True
        sim_j = np.clip(np.einsum("bnd,bd->bn", u, u[rows, j]), -1.0, 1.0)
        sim_j[rows, j] = nonzero[rows, j]  # exact unit self-similarity, as in the matrix version
        max_sim = sim_j if t == 0 else np.maximum(max_sim, sim_j)
    return out


# --------------------------------------------------------------------------------------------
# DPP greedy MAP (Chen, Zhang and Zhou, NeurIPS 2018)
# --------------------------------------------------------------------------------------------


def dpp_alpha(diversity_weight: float) -> float:
    """Quality exponent α of the relevance-diversity DPP kernel for a diversity weight λ.

    Chen et al. maximise ``θ · Σ_{i∈Y} r_i + (1 − θ) · log det(S_Y)`` with θ the relevance
    weight, which equals ``log det(L_Y)`` (up to the factor 1 − θ) for
    ``L = Diag(q) · S · Diag(q)``, ``q_i = exp(α r_i)`` and ``α = θ / (2 (1 − θ))``.
    With θ = 1 − λ this is ``α = (1 − λ) / (2 λ)``; λ = 0 gives α = ∞ (pure relevance).
    """
    lam = _check_weight(diversity_weight)
    return np.inf if lam == 0.0 else (1.0 - lam) / (2.0 * lam)


def dpp_greedy(
    relevance: ArrayLike,
    embeddings: ArrayLike,
    k: int,
    diversity_weight: float,
    *,
    jitter: float = DEFAULT_JITTER,
) -> IntArray:
    """Greedy MAP inference of a DPP over one candidate list (fast incremental Cholesky).

    Kernel ``L = Diag(q) · (S + εI) · Diag(q)`` with ``S`` the cosine similarity of the
    embeddings, ``ε = jitter`` and ``q_i = exp(α rel_i)``, ``α`` from :func:`dpp_alpha`.
    Greedy MAP adds, at each step, ``j = argmax_{i ∉ Y} log det(L_{Y∪{i}})``.

    Algorithm 1 of Chen et al. keeps, for every candidate, the Cholesky row ``c_i`` and the
    residual ``d_i² = L_ii − |c_i|²`` (the Schur complement, i.e. the gain
    ``det(L_{Y∪{i}}) / det(L_Y)``) and updates them in O(n·|Y|) per pick::

        e_i = (L_ji − ⟨c_j, c_i⟩) / d_j,   c_i ← [c_i, e_i],   d_i² ← d_i² − e_i².

    Because L = Q(S + εI)Q, ``d_i²(L) = q_i² · d_i²(S + εI)``, so we run the same updates on the
    well-conditioned ``S + εI`` (entries ≤ 1 + ε) and select
    ``argmax 2α·rel_i + log d_i²(S + εI)``, evaluated divided by 2α > 0 as
    ``argmax rel_i + (λ / (1 − λ))·log d_i²(S + εI)`` (just ``log d_i²`` for λ = 1) —
    identical picks without overflowing ``exp(α rel)`` or α itself for small λ. The jitter
    keeps every residual ≥ ε, so exactly k distinct items are returned even when k exceeds the
    rank of the embeddings; items whose direction is already spanned then compete on
    relevance alone. λ = 0 returns the top-k by relevance (the α → ∞ limit).

    Args:
        relevance: ``(n,)`` relevance scores (log-quality units: ``q_i = exp(α rel_i)``).
        embeddings: ``(n, d)`` candidate embeddings.
        k: slate size, ``1 ≤ k ≤ n``.
        diversity_weight: λ ∈ [0, 1] (= 1 − θ in the paper).
        jitter: ε > 0 added to the diagonal of S.

    Returns:
        ``(k,)`` int64 distinct candidate indices in pick order.

    Reference: Chen, Zhang and Zhou, "Fast Greedy MAP Inference for Determinantal Point
    Process to Improve Recommendation Diversity", NeurIPS 2018 (Algorithm 1, Eq. for the
    relevance-diversity kernel).
    """
    rel = _finite(relevance, "relevance", 1)
    x = _finite(embeddings, "embeddings", 2)
    if x.shape[0] != rel.shape[0]:
        raise ValueError(
            f"embeddings must have shape ({rel.shape[0]}, d) to match relevance, got {x.shape}"
        )
    return dpp_greedy_batch(rel[None], x[None], k, diversity_weight, jitter=jitter)[0]


def dpp_greedy_batch(
    relevance: ArrayLike,
    embeddings: ArrayLike,
    k: int,
    diversity_weight: float,
    *,
    jitter: float = DEFAULT_JITTER,
    valid: ArrayLike | None = None,
) -> IntArray:
    """Batched greedy DPP MAP (see :func:`dpp_greedy`), vectorised over users.

    Args:
        relevance: ``(B, n)`` relevance scores.
        embeddings: ``(B, n, d)`` candidate embeddings.
        k: slate size, ``1 ≤ k ≤ n``.
        diversity_weight: λ ∈ [0, 1].
        jitter: ε > 0 added to the diagonal of the cosine kernel.
        valid: optional ``(B, n)`` boolean mask of pickable candidates; each row needs at
            least k valid entries.

    Returns:
        ``(B, k)`` int64 candidate indices in pick order; row b equals
        ``dpp_greedy(relevance[b], embeddings[b], k, λ)`` when ``valid`` is None.
    """
    rel = _finite(relevance, "relevance", 2)
    x = _finite(embeddings, "embeddings", 3)
    b, n = rel.shape
    if x.shape[:2] != (b, n):
        raise ValueError(f"embeddings must have shape ({b}, {n}, d), got {x.shape}")
    k = _check_k(k, n)
    eps = float(jitter)
    if not (np.isfinite(eps) and eps > 0.0):
        raise ValueError(f"jitter must be a positive finite float, got {jitter!r}")
    ok = _check_valid(valid, (b, n), k)
    lam = _check_weight(diversity_weight)
    if lam == 0.0:
        return _topk_relevance(rel, ok, k)
    # Objective scaled by 1/(2α): rel_i + (1/(2α))·log d_i². 1/(2α) = λ/(1−λ) is finite and
    # small for small λ, where α itself may overflow. λ = 1 (α = 0): relevance only breaks ties.
    if lam == 1.0:
        rel_weight, logdet_weight = 0.0, 1.0
    else:
        rel_weight, logdet_weight = 1.0, lam / (1.0 - lam)

    u = _unit_rows(x)
    rows = np.arange(b)
    # Diagonal of S + εI: 1 + ε for real vectors, ε for zero vectors (cosine 0 with all).
    self_sim = (np.linalg.norm(u, axis=2) > 0).astype(np.float64) + eps
    d2 = self_sim.copy()
    chol = np.zeros((b, n, k))  # c_i, one Cholesky row per candidate
    quality = rel_weight * rel
    taken = ~ok
    out = np.empty((b, k), dtype=np.int64)
    for t in range(k):
        # d2 ≥ ε in exact arithmetic; the floor only guards log() against rounding.
        score = quality + logdet_weight * np.log(np.maximum(d2, eps * 1e-3))
        j = _pick(score, rel, taken)
        out[:, t] = j
        taken[rows, j] = True
        if t == k - 1:
            break
        s_j = np.einsum("bnd,bd->bn", u, u[rows, j])  # column j of S + εI
        s_j[rows, j] = self_sim[rows, j]
        proj = np.einsum("bnt,bt->bn", chol[:, :, :t], chol[rows, j, :t])
        e = (s_j - proj) / np.sqrt(np.maximum(d2[rows, j], eps * 1e-3))[:, None]
        chol[:, :, t] = e
        d2 = d2 - e * e
    return out
