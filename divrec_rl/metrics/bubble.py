"""Filter-bubble metrics: a user's majority category and how much slates are dominated by it."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from divrec_rl.metrics.inputs import (
    FloatArray,
    IntArray,
    float_array,
    int_ids,
)


def majority_category(history_category_counts: ArrayLike) -> IntArray:
    """Each user's majority category: the one they consumed most in their history.

    ``m_u = argmax_c h_{u,c}``; ties go to the lowest category index.

    Args:
        history_category_counts: ``(n_users, C)`` non-negative consumption counts (or weights)
            per category. Every user needs a non-empty history.

    Returns:
        ``(n_users,)`` int64 category ids.
    """
    h = float_array(history_category_counts, "history_category_counts", ndim=2)
    if (h < 0).any():
        raise ValueError("history_category_counts must be non-negative")
    if h.shape[1] == 0:
        raise ValueError("history_category_counts needs at least one category column")
    empty = np.flatnonzero(h.sum(axis=1) == 0)
    if empty.size:
        raise ValueError(
            f"user(s) {empty[:5].tolist()} have an empty history: no majority category"
        )
    return np.argmax(h, axis=1).astype(np.int64)


def majority_category_domination(
    shown_categories: ArrayLike, history_category_counts: ArrayLike
) -> FloatArray:
    """Majority Category Domination (MCD): how much of a user's feed is their top category.

    Definition used here: for user u with majority category ``m_u`` (see
    :func:`majority_category`), over the m items shown to u,

    ``MCD_u = (1 / m) · Σ_{j=1}^{m} w_{u,j}[m_u]``

    where ``w_{u,j}`` is the category distribution of the j-th shown item. With one category
    per item this is exactly the fraction of shown items whose category is the user's
    majority category; a multi-category item counts fractionally. ``MCD_u ∈ [0, 1]``; higher
    means a stronger filter bubble.

    Args:
        shown_categories: either ``(n_users, m)`` integer category ids (one per shown item), or
            ``(n_users, m, C)`` non-negative category weights whose rows sum to 1.
        history_category_counts: ``(n_users, C)`` consumption counts per category.

    Returns:
        ``(n_users,)`` MCD per user (``np.mean`` of it is the slot-weighted share, as every user
        has m slots).

    Reference: the MCD filter-bubble indicator of Wang, Feng, Nie and Chua, "User-Controllable
    Recommendation Against Filter Bubbles", SIGIR 2022, as reported on KuaiRec by Gao et al.,
    SIGIR 2023; the per-user majority-from-history definition above is ours.
    """
    maj = majority_category(history_category_counts)
    n_users, n_cat = np.shape(history_category_counts)
    arr = np.asarray(shown_categories)
    if arr.dtype.kind in "iu":
        ids = int_ids(arr, "shown_categories", upper=n_cat)
        if ids.ndim != 2 or ids.shape[0] != n_users:
            raise ValueError(
                f"integer shown_categories must have shape ({n_users}, m), got {ids.shape}"
            )
        if ids.shape[1] == 0:
            raise ValueError("shown_categories has no shown items (m = 0)")
        return (ids == maj[:, None]).mean(axis=1).astype(np.float64)
    w = float_array(arr, "shown_categories", ndim=3)
    if w.shape[0] != n_users or w.shape[2] != n_cat:
        raise ValueError(
            f"weighted shown_categories must have shape ({n_users}, m, {n_cat}), got {w.shape}"
        )
    if w.shape[1] == 0:
        raise ValueError("shown_categories has no shown items (m = 0)")
    if (w < 0).any() or not np.allclose(w.sum(axis=2), 1.0, atol=1e-6):
        raise ValueError("weighted shown_categories rows must be non-negative and sum to 1")
    return w[np.arange(n_users), :, maj].mean(axis=1)
