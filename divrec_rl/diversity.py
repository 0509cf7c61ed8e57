"""Slate diversity used in the per-step reward (no validation: inputs come from the catalogue).

The evaluation metrics with full input checks live in :mod:`divrec_rl.metrics`; these reward-side
versions use the same pair-sum identity (:func:`divrec_rl.metrics.mean_pairwise_dot`) and a test
checks that both agree.
"""

from __future__ import annotations

import functools

import numpy as np

from divrec_rl.arrays import constant
from divrec_rl.metrics import mean_pairwise_dot


def ild_embedding(unit_vectors: np.ndarray) -> np.ndarray:
    """Intra-list diversity ``1 − mean_{i<j} cos(e_i, e_j)`` of unit item vectors ``(N, k, d)``.

    Ziegler et al., WWW 2005.  Range [0, 2]; a slate of one item has diversity 0.
    """
    k = unit_vectors.shape[1]
    if k < 2:
        return np.zeros(unit_vectors.shape[0])
    # For unit vectors Σ_i |e_i|² = k, so the pair sum needs only |Σ_i e_i|² (see
    # mean_pairwise_dot): 1 − (|Σe|² − k) / (k(k−1)).  Reductions take axis and dtype by
    # position and the scalars come as 0-d arrays: a slate's reward is computed every step,
    # where call overhead outweighs the arithmetic (divrec_rl.arrays).
    total = np.add.reduce(unit_vectors, 1, np.float64)
    k_items, pairs = _slate_constants(k)
    return _ONE - (np.add.reduce(total * total, 1) - k_items) / pairs


_ONE = constant(1.0)


@functools.cache
def _slate_constants(k: int) -> tuple[np.ndarray, np.ndarray]:
    """``k`` and ``k(k−1)`` as 0-d float64 arrays (the values of the Python numbers)."""
    return constant(k), constant(k * (k - 1))


def ild_category(category_weights: np.ndarray) -> np.ndarray:
    """Category intra-list diversity ``1 − mean_{i<j} w_i·w_j`` of category distributions.

    For single-category items: the share of item pairs from different categories, in [0, 1].
    """
    if category_weights.shape[1] < 2:
        return np.zeros(category_weights.shape[0])
    return 1.0 - mean_pairwise_dot(category_weights.astype(np.float64))
