"""Exposure fairness and popularity bias: exposure counts, Gini, long-tail share, novelty."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from divrec_rl.metrics.inputs import (
    FloatArray,
    IntArray,
    float_array,
    int_ids,
    positive_int,
    rows_for_per_row,
)


def exposure_counts(shown_item_ids: ArrayLike, n_items: int) -> IntArray:
    """Number of times each catalog item was shown: ``(n_items,)`` int64, 0 if never shown."""
    n = positive_int(n_items, "n_items")
    ids = int_ids(shown_item_ids, "shown_item_ids", upper=n)
    return np.bincount(ids.ravel(), minlength=n).astype(np.int64)


def gini_exposure(exposure: ArrayLike) -> float:
    """Gini coefficient of item exposure (0 = perfectly equal; lower = fairer).

    With exposures sorted ascending, ``x_(1) ≤ … ≤ x_(n)`` over *all* n catalog items
    (unexposed items count as 0 — use :func:`exposure_counts`):

    ``G = Σ_{i=1}^{n} (2i − n − 1) · x_(i) / (n · Σ_i x_i)``

    ``G ∈ [0, (n−1)/n] ⊂ [0, 1)``: 0 when every item got the same exposure, ``(n−1)/n`` when a
    single item got all of it. Invariant to permutations and to scaling the exposures. By
    convention G = 0 when nothing was exposed.

    Args:
        exposure: ``(n_items,)`` non-negative exposure per item (counts, or position-weighted
            exposure).

    Returns:
        The Gini coefficient.

    References: formula from Damgaard and Weiner, "Describing Inequality in Plant Size or
    Fecundity", Ecology 81(4), 2000; as a recommender concentration measure, Fleder and
    Hosanagar, "Blockbuster Culture's Next Rise or Fall", Management Science 2009 (Shani and
    Gunawardana, Recommender Systems Handbook 2011, use the (n−1)-normalised variant).
    """
    x = float_array(exposure, "exposure", ndim=1)
    if x.size == 0:
        raise ValueError("exposure is empty: the Gini coefficient needs at least one item")
    if (x < 0).any():
        raise ValueError("exposure must be non-negative")
    total = x.sum()
    if total == 0:
        return 0.0
    n = x.size
    xs = np.sort(x)
    ranks = np.arange(1, n + 1, dtype=np.float64)
    g = float(np.dot(2.0 * ranks - n - 1.0, xs) / (n * total))
    return min(max(g, 0.0), (n - 1) / n)


def tail_mask_from_popularity(popularity: ArrayLike, head_mass: float = 0.8) -> NDArray[np.bool_]:
    """Long-tail membership from item popularity (Pareto 80/20 split).

    Definition used throughout this project: sort items by popularity, descending; the *head*
    is the smallest prefix whose cumulative popularity reaches ``head_mass`` of the total
    (80% by default). Items tied in popularity with the last head item also join the head (a
    split inside a tie would be arbitrary). Every other item — including every item with zero
    popularity — is in the *long tail*.

    Args:
        popularity: ``(n_items,)`` non-negative popularity (interaction counts or probabilities).
        head_mass: share of total popularity carried by the head, in (0, 1].

    Returns:
        ``(n_items,)`` boolean mask, True for long-tail items. If all popularity is zero, every
        item is in the tail.

    Reference: the short-head / long-tail split of Abdollahpouri, Burke and Mobasher,
    "Controlling Popularity Bias in Learning-to-Rank Recommendation", RecSys 2017.
    """
    pop = float_array(popularity, "popularity", ndim=1)
    if (pop < 0).any():
        raise ValueError("popularity must be non-negative")
    if not 0.0 < head_mass <= 1.0:
        raise ValueError(f"head_mass must be in (0, 1], got {head_mass}")
    total = pop.sum()
    if total == 0:
        return np.ones(pop.shape, dtype=bool)
    order = np.argsort(-pop, kind="stable")
    cum = np.cumsum(pop[order]) / total
    # First position whose cumulative share reaches head_mass (tolerate rounding at 1.0).
    last = int(np.searchsorted(cum, head_mass - 1e-12, side="left"))
    last = min(last, pop.size - 1)
    threshold = pop[order[last]]
    head = (pop >= threshold) & (pop > 0)
    return ~head


def long_tail_share(
    shown_item_ids: ArrayLike, tail_mask: ArrayLike, per_row: bool = False
) -> float | FloatArray:
    """Share of recommendation slots filled by long-tail items (APLT).

    ``LT = (1 / |slots|) · Σ_{slots} [item ∈ tail]`` ∈ [0, 1]. Higher = less popularity bias.

    Args:
        shown_item_ids: integer ids of the shown items (any shape, e.g. ``(n_slates, k)``).
        tail_mask: ``(n_items,)`` boolean, True for long-tail items (see
            :func:`tail_mask_from_popularity`).
        per_row: with a 2-D ``(n_rows, m)`` input, return the share per row.

    Returns:
        A float, or ``(n_rows,)`` floats when ``per_row``.

    Reference: Average Percentage of Long Tail items (APLT), Abdollahpouri et al., RecSys 2017.
    """
    mask = np.asarray(tail_mask)
    if mask.dtype != bool or mask.ndim != 1:
        raise ValueError(f"tail_mask must be a 1-D boolean array, got {mask.dtype} {mask.shape}")
    ids = int_ids(shown_item_ids, "shown_item_ids", upper=mask.size)
    rows = rows_for_per_row(ids, "shown_item_ids", per_row)
    if rows.shape[1] == 0:
        raise ValueError("shown_item_ids is empty: long-tail share of zero slots is undefined")
    share = mask[rows].mean(axis=1)
    return share if per_row else float(share[0])


def novelty(
    shown_item_ids: ArrayLike, popularity_prob: ArrayLike, per_row: bool = False
) -> float | FloatArray:
    """Mean self-information of the shown items, in bits.

    ``Nov = (1 / |slots|) · Σ_{slots} −log2 p(i)``, where ``p(i)`` is the probability that a
    random user knows / has interacted with item i (Zhou et al.: ``p(i) = k_i / |U|``, the item
    degree over the number of users). Higher = more novel (less popular) recommendations.

    Args:
        shown_item_ids: integer ids of the shown items (any shape).
        popularity_prob: ``(n_items,)`` probabilities in [0, 1] (they need not sum to 1). Items
            that are shown must have ``p > 0``; smooth counts (e.g. ``(k_i + 1) / (|U| + 1)``)
            if some have none.
        per_row: with a 2-D ``(n_rows, m)`` input, return the novelty per row.

    Returns:
        A float (bits), or ``(n_rows,)`` floats when ``per_row``.

    Reference: Zhou, Kuscsik, Liu, Medo, Wakeling and Zhang, "Solving the Apparent
    Diversity-Accuracy Dilemma of Recommender Systems", PNAS 107(10), 2010.
    """
    p = float_array(popularity_prob, "popularity_prob", ndim=1)
    if ((p < 0) | (p > 1)).any():
        raise ValueError("popularity_prob must lie in [0, 1]")
    ids = int_ids(shown_item_ids, "shown_item_ids", upper=p.size)
    rows = rows_for_per_row(ids, "shown_item_ids", per_row)
    if rows.shape[1] == 0:
        raise ValueError("shown_item_ids is empty: novelty of zero slots is undefined")
    shown_p = p[rows]
    if (shown_p == 0).any():
        bad = int(rows[shown_p == 0][0])
        raise ValueError(
            f"item {bad} is shown but has popularity_prob 0 (infinite self-information); "
            "smooth the popularity estimate"
        )
    nov = (-np.log2(shown_p)).mean(axis=1)
    return nov if per_row else float(nov[0])
