"""Reward mixing: what one step of one user is worth to the agent.

Per user and step::

    diversity  = ILD(slate)                  by the scenario's ``reward.diversity`` kind
    reward     = engagement + λ · diversity

``engagement`` is the value of the consumed item in [0, 1] (0 without a click, see
:mod:`divrec_rl.users.behaviour`); ``λ`` is ``reward.diversity_weight`` in [0, 100], or the
``diversity_weight`` given to an environment; ``ILD`` is the intra-list diversity of the slate
(:mod:`divrec_rl.diversity`): ``ild_embedding`` = ``1 − mean_{i<j} cos(e_i, e_j)`` of the item
vectors, range [0, 2]; ``ild_category`` = ``1 − mean_{i<j} w_i·w_j`` of the items' category
distributions, range [0, 1].
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from divrec_rl.diversity import ild_category, ild_embedding

__all__ = [
    "DIVERSITY_KINDS",
    "MAX_DIVERSITY_WEIGHT",
    "check_diversity_weight",
    "mix_reward",
    "slate_diversity",
]

#: The slate-diversity measures a scenario's ``reward.diversity`` may name.
DIVERSITY_KINDS = ("ild_embedding", "ild_category")
#: Upper bound of λ (the scenario model enforces the same bound on ``reward.diversity_weight``).
MAX_DIVERSITY_WEIGHT = 100.0


def slate_diversity(
    kind: str, item_vectors: np.ndarray, category_weights: np.ndarray
) -> np.ndarray:
    """Diversity ``(N,)`` of N slates: ``item_vectors`` ``(N, k, d)`` unit rows,
    ``category_weights`` ``(N, k, C)``; ``kind`` one of :data:`DIVERSITY_KINDS`."""
    if kind == "ild_category":
        return ild_category(category_weights)
    if kind == "ild_embedding":
        return ild_embedding(item_vectors)
    raise ValueError(f"reward.diversity: must be one of {', '.join(DIVERSITY_KINDS)}, got {kind!r}")


def mix_reward(
    engagement: np.ndarray, diversity: np.ndarray, diversity_weight: float | np.ndarray
) -> np.ndarray:
    """``reward = engagement + λ · diversity``, elementwise (``λ = diversity_weight``, a number
    or a 0-d float64 array)."""
    return engagement + diversity_weight * diversity


def check_diversity_weight(value: object) -> float | None:
    """λ as given to an environment or simulator: ``None`` (the scenario's value) or a real number
    in ``[0, 100]``.  Returns it as a float (or ``None``).

    Raises ``TypeError`` for a non-number (booleans included) and ``ValueError`` for a number
    outside the range (NaN included); both messages name ``diversity_weight``.
    """
    if value is None:
        return None
    allowed = f"a number in [0, {MAX_DIVERSITY_WEIGHT:g}] or None"
    if isinstance(value, bool | np.bool_) or not isinstance(value, Real):
        raise TypeError(f"diversity_weight: must be {allowed}, got {value!r}")
    weight = float(value)
    if math.isnan(weight) or not 0.0 <= weight <= MAX_DIVERSITY_WEIGHT:
        raise ValueError(f"diversity_weight: must be {allowed}, got {value!r}")
    return weight
