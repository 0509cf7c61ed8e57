"""Intra-list diversity of slates, over item embeddings or category weights."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from divrec_rl.metrics.inputs import (
    FloatArray,
    float_array,
)


def mean_pairwise_dot(x: FloatArray) -> FloatArray:
    """Mean over pairs i<j of x_i·x_j for x of shape (n, k, d), in O(n k d).

    Uses Σ_{i<j} x_i·x_j = (|Σ_i x_i|² − Σ_i |x_i|²) / 2, avoiding the (k, k) Gram matrix.
    """
    k = x.shape[1]
    total = x.sum(axis=1)  # (n, d)
    pair_sum = 0.5 * (np.einsum("nd,nd->n", total, total) - np.einsum("nkd,nkd->n", x, x))
    return pair_sum / (k * (k - 1) / 2)


def intra_list_diversity(embeddings: ArrayLike, eps: float = 1e-12) -> FloatArray:
    """Intra-list diversity (ILD): mean pairwise cosine distance within each slate.

    ``ILD(L) = 2 / (k (k−1)) · Σ_{i<j} (1 − cos(x_i, x_j))``, with
    ``cos(a, b) = a·b / (|a| |b|)``. Computed in O(k d) per slate via
    ``Σ_{i<j} x̂_i·x̂_j = (|Σ_i x̂_i|² − Σ_i |x̂_i|²) / 2`` on unit vectors ``x̂``.

    Range ``[0, 2]``: 0 = all items point the same way, 1 = mutually orthogonal on average,
    2 = only reachable for k = 2 opposite vectors. A zero vector (norm ≤ ``eps``) has cosine 0
    with everything (the scikit-learn convention), i.e. distance 1.

    Args:
        embeddings: ``(n_slates, k, d)`` item embeddings per slate, ``k ≥ 2``. For a single
            slate pass ``embeddings[None]``.
        eps: norm below which a vector is treated as zero.

    Returns:
        ``(n_slates,)`` ILD per slate.

    References: Smyth and McClave, "Similarity vs. Diversity", ICCBR 2001; Ziegler, McNee,
    Konstan and Lausen, "Improving Recommendation Lists Through Topic Diversification",
    WWW 2005.
    """
    x = float_array(embeddings, "embeddings", ndim=3)
    if x.shape[1] < 2:
        raise ValueError(f"ILD needs at least 2 items per slate, got k={x.shape[1]}")
    if x.shape[2] < 1:
        raise ValueError(f"embeddings need d ≥ 1 features, got shape {x.shape}")
    norms = np.linalg.norm(x, axis=2, keepdims=True)
    unit = np.where(norms > eps, x / np.where(norms > eps, norms, 1.0), 0.0)
    ild = 1.0 - mean_pairwise_dot(unit)
    # Rounding can push the mean cosine a hair outside [-1, 1].
    return np.clip(ild, 0.0, 2.0)


def category_ild(category_weights: ArrayLike, normalize: bool = False) -> FloatArray:
    """Category intra-list diversity: 1 − mean pairwise category overlap within each slate.

    Each item's row ``w_i`` is a distribution over C categories (a multi-hot vector divided by
    its number of categories). ``sim(i, j) = w_i·w_j ∈ [0, 1]`` (1 only for two items with the
    same single category) and ``ILD_cat = 1 − 2 / (k (k−1)) · Σ_{i<j} w_i·w_j ∈ [0, 1]``.
    Computed in O(k C) per slate with the same sum-of-vectors identity as
    :func:`intra_list_diversity`.

    Args:
        category_weights: ``(n_slates, k, C)`` non-negative rows summing to 1, ``k ≥ 2``.
        normalize: if True, divide each row by its sum first (pass raw multi-hot vectors);
            every item must then have at least one category.

    Returns:
        ``(n_slates,)`` category ILD per slate.

    Reference: topic-based ILD of Ziegler et al., WWW 2005 (with category overlap as the
    similarity).
    """
    w = float_array(category_weights, "category_weights", ndim=3)
    if w.shape[1] < 2:
        raise ValueError(f"category ILD needs at least 2 items per slate, got k={w.shape[1]}")
    if (w < 0).any():
        raise ValueError("category_weights must be non-negative")
    sums = w.sum(axis=2, keepdims=True)
    if normalize:
        if (sums <= 0).any():
            raise ValueError("every item needs at least one category to normalise its weights")
        w = w / sums
    elif not np.allclose(sums, 1.0, atol=1e-6):
        raise ValueError(
            "each item's category_weights row must sum to 1 (pass normalize=True for multi-hot)"
        )
    return np.clip(1.0 - mean_pairwise_dot(w), 0.0, 1.0)
