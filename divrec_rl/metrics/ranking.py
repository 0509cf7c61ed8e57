"""Offline ranking quality with binary relevance: NDCG@k, hit rate@k, precision@k, recall@k."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from divrec_rl.metrics.inputs import (
    FloatArray,
    IntArray,
    float_array,
    int_ids,
    positive_int,
)


def _ranked_hits(
    scores_or_ranked: ArrayLike, relevant: ArrayLike, k: int, ranked: bool
) -> tuple[NDArray[np.bool_], IntArray, int]:
    """Return (hits in the top-k, number of relevant items per user, effective k)."""
    k = positive_int(k, "k")
    rel = np.asarray(relevant)
    if rel.ndim != 2:
        raise ValueError(f"relevant must be 2-D (n_users, n_items), got shape {rel.shape}")
    if rel.dtype != bool:
        if rel.dtype.kind not in "iuf" or not np.isin(rel, (0, 1)).all():
            raise ValueError("relevant must be boolean or 0/1 (binary relevance)")
        rel = rel.astype(bool)
    n_users, n_items = rel.shape
    if ranked:
        top = int_ids(scores_or_ranked, "ranked", upper=n_items)
        if top.ndim != 2 or top.shape[0] != n_users:
            raise ValueError(f"ranked must have shape ({n_users}, L), got {top.shape}")
        top = top[:, :k]
        # A repeated item must not be credited twice.
        srt = np.sort(top, axis=1)
        if (srt[:, 1:] == srt[:, :-1]).any():
            raise ValueError("ranked lists must not contain duplicate item ids")
    else:
        s = float_array(scores_or_ranked, "scores", ndim=2)
        if s.shape != rel.shape:
            raise ValueError(f"scores shape {s.shape} must equal relevant shape {rel.shape}")
        # Stable sort on -score: ties go to the lower item index, deterministically.
        top = np.argsort(-s, axis=1, kind="stable")[:, :k]
    hits = np.take_along_axis(rel, top, axis=1)
    return hits, rel.sum(axis=1).astype(np.int64), min(k, n_items)


def ndcg_at_k(
    scores_or_ranked: ArrayLike, relevant: ArrayLike, k: int, *, ranked: bool = False
) -> FloatArray:
    """Binary-relevance NDCG@k per user.

    ``DCG@k = Σ_{r=1}^{k} rel_r / log2(r + 1)``,
    ``IDCG@k = Σ_{r=1}^{min(k, |R_u|)} 1 / log2(r + 1)``, ``NDCG@k = DCG@k / IDCG@k ∈ [0, 1]``,
    where ``rel_r ∈ {0, 1}`` says whether the item at rank r is relevant and ``R_u`` is the
    user's relevant set.

    Args:
        scores_or_ranked: ``(n_users, n_items)`` predicted scores (higher = better; ties ranked
            by lower item index), or — with ``ranked=True`` — ``(n_users, L)`` integer item ids
            already ordered best-first (only the first k are used).
        relevant: ``(n_users, n_items)`` boolean / 0-1 ground-truth relevance.
        k: cut-off (≥ 1; larger than the number of items behaves like ``n_items``).
        ranked: interpret the first argument as ranked item ids.

    Returns:
        ``(n_users,)`` NDCG@k; NaN for users without any relevant item (undefined — aggregate
        with ``np.nanmean``).

    Reference: Järvelin and Kekäläinen, "Cumulated Gain-Based Evaluation of IR Techniques",
    ACM TOIS 20(4), 2002.
    """
    hits, n_rel, k_eff = _ranked_hits(scores_or_ranked, relevant, k, ranked)
    discounts = 1.0 / np.log2(np.arange(2, k_eff + 2, dtype=np.float64))
    dcg = hits.astype(np.float64) @ discounts[: hits.shape[1]]
    ideal_cum = np.concatenate([[0.0], np.cumsum(discounts)])
    idcg = ideal_cum[np.minimum(n_rel, k_eff)]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(n_rel > 0, dcg / np.where(idcg > 0, idcg, 1.0), np.nan)
    return np.clip(out, 0.0, 1.0)


def hit_rate_at_k(
    scores_or_ranked: ArrayLike, relevant: ArrayLike, k: int, *, ranked: bool = False
) -> FloatArray:
    """Hit rate (HR@k) per user: 1 if any relevant item is in the top k, else 0.

    ``HR@k = [ |top_k ∩ R_u| > 0 ]``. Always ``HR@k ≥ NDCG@k`` for binary relevance.

    Args: as :func:`ndcg_at_k`.

    Returns:
        ``(n_users,)`` floats in {0, 1}; NaN for users without any relevant item.

    Reference: e.g. He, Liao, Zhang, Nie, Hu and Chua, "Neural Collaborative Filtering",
    WWW 2017.
    """
    hits, n_rel, _ = _ranked_hits(scores_or_ranked, relevant, k, ranked)
    return np.where(n_rel > 0, hits.any(axis=1).astype(np.float64), np.nan)


def precision_at_k(
    scores_or_ranked: ArrayLike, relevant: ArrayLike, k: int, *, ranked: bool = False
) -> FloatArray:
    """Precision@k per user: the share of the top k that is relevant.

    ``P@k = |top_k ∩ R_u| / k_eff`` with ``k_eff = min(k, n_items)`` (the top list is always
    full: every item is ranked).  A user with fewer than k relevant items cannot reach 1.

    Args: as :func:`ndcg_at_k`.

    Returns:
        ``(n_users,)`` values in [0, 1]; NaN for users without any relevant item (so every
        ranking metric here averages over the same users).

    Reference: Manning, Raghavan and Schütze, "Introduction to Information Retrieval", 2008, §8.3.
    """
    hits, n_rel, k_eff = _ranked_hits(scores_or_ranked, relevant, k, ranked)
    return np.where(n_rel > 0, hits.sum(axis=1) / k_eff, np.nan)


def recall_at_k(
    scores_or_ranked: ArrayLike, relevant: ArrayLike, k: int, *, ranked: bool = False
) -> FloatArray:
    """Recall@k per user: the share of the user's relevant items found in the top k.

    ``R@k = |top_k ∩ R_u| / |R_u|``; at most ``min(k, |R_u|) / |R_u|``, so a user with more
    than k relevant items cannot reach 1.

    Args: as :func:`ndcg_at_k`.

    Returns:
        ``(n_users,)`` values in [0, 1]; NaN for users without any relevant item.

    Reference: Manning, Raghavan and Schütze, "Introduction to Information Retrieval", 2008, §8.3.
    """
    hits, n_rel, _ = _ranked_hits(scores_or_ranked, relevant, k, ranked)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_rel > 0, hits.sum(axis=1) / np.maximum(n_rel, 1), np.nan)
