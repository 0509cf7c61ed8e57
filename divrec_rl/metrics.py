"""Recommendation metrics: engagement, beyond-accuracy (diversity, coverage, fairness, novelty,
filter-bubble) and offline ranking quality.

Every function is pure numpy, validates its inputs (raising ``ValueError`` with the offending
shape / value) and documents its formula and a literature reference.

Conventions
-----------
* A *slate* is the ordered list of ``k`` items shown at one step; batched slate inputs have a
  leading ``n_slates`` (or ``n_users``) axis.
* Item ids / category ids are non-negative integers ``< n_items`` / ``< n_categories``.
* Functions that reduce over a set of shown items (coverage, novelty, long-tail share) return a
  scalar by default; with ``per_row=True`` a 2-D input ``(n_rows, m)`` yields one value per row
  (e.g. per user or per session).
* Per-slate / per-user metrics (ILD, MCD, NDCG, hit rate) return one value per row; aggregate
  with ``np.mean`` (or ``np.nanmean`` for the ranking metrics, see there).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "catalog_coverage",
    "category_coverage",
    "category_ild",
    "ctr",
    "cumulative_engagement",
    "exposure_counts",
    "gini_exposure",
    "hit_rate_at_k",
    "intra_list_diversity",
    "long_tail_share",
    "majority_category",
    "majority_category_domination",
    "ndcg_at_k",
    "novelty",
    "session_ids_from_dones",
    "session_length",
    "tail_mask_from_popularity",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------


def _float_array(x: ArrayLike, name: str, ndim: int | tuple[int, ...] | None = None) -> FloatArray:
    """Convert to float64 and check dimensionality and finiteness."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be {want}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _int_ids(x: ArrayLike, name: str, upper: int | None = None) -> IntArray:
    """Convert to int64 ids, checking integer dtype and the range ``[0, upper)``."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        # Floats silently truncated to ids are a classic source of wrong metrics: refuse them.
        raise ValueError(f"{name} must hold integer ids, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0:
            raise ValueError(f"{name} must be non-negative, found {lo}")
        if upper is not None and hi >= upper:
            raise ValueError(f"{name} must be < {upper}, found {hi}")
    return arr


def _positive_int(x: int, name: str) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or int(x) < 1:
        raise ValueError(f"{name} must be a positive integer, got {x!r}")
    return int(x)


def _rows_for_per_row(arr: NDArray, name: str, per_row: bool) -> NDArray:
    """Shape ids as ``(n_rows, m)``: one row when ``per_row`` is False, else require 2-D."""
    if per_row:
        if arr.ndim != 2:
            raise ValueError(f"per_row=True needs a 2-D {name} (n_rows, m), got shape {arr.shape}")
        return arr
    return arr.reshape(1, -1)


# --------------------------------------------------------------------------------------------
# engagement
# --------------------------------------------------------------------------------------------


def cumulative_engagement(
    engagement: ArrayLike, user_ids: ArrayLike, n_users: int | None = None
) -> FloatArray:
    """Total engagement per user (or per session): the undiscounted return of RL recommenders.

    ``E_u = Σ_t engagement_t · [user_t = u]``

    Args:
        engagement: ``(n_steps,)`` engagement per step (e.g. watch time in seconds, or clicks), or
            ``(n_steps, k)`` engagement per slot, summed over the slate.
        user_ids: ``(n_steps,)`` non-negative integer group id of each step — a user id, or a
            session id from :func:`session_ids_from_dones` for per-session returns.
        n_users: length of the output; defaults to ``max(user_ids) + 1``. Users without steps
            get 0.

    Returns:
        ``(n_users,)`` float array, in the units of ``engagement``.

    Reference: the cumulative engagement / return objective of Ie et al., "SlateQ: A Tractable
    Decomposition for Reinforcement Learning with Recommendation Sets", IJCAI 2019.
    """
    eng = _float_array(engagement, "engagement", ndim=(1, 2))
    if eng.ndim == 2:
        eng = eng.sum(axis=1)
    ids = _int_ids(user_ids, "user_ids")
    if ids.ndim != 1 or ids.shape[0] != eng.shape[0]:
        raise ValueError(
            f"user_ids must have shape ({eng.shape[0]},) to match engagement, got {ids.shape}"
        )
    minlength = 0
    if n_users is not None:
        minlength = _positive_int(n_users, "n_users")
        if ids.size and int(ids.max()) >= minlength:
            raise ValueError(f"user_ids must be < n_users={minlength}, found {int(ids.max())}")
    return np.bincount(ids, weights=eng, minlength=minlength).astype(np.float64)


def session_ids_from_dones(dones: ArrayLike) -> IntArray:
    """Session id of every step of a flat rollout, from its episode-end flags.

    ``id_t = Σ_{s<t} done_s`` — a step belongs to the session that started after the last
    ``done`` before it (``done`` = terminated or truncated).

    Args:
        dones: ``(n_steps,)`` boolean (or 0/1) episode-end flags.

    Returns:
        ``(n_steps,)`` int64 session ids starting at 0.
    """
    d = np.asarray(dones)
    if d.ndim != 1:
        raise ValueError(f"dones must be 1-D (n_steps,), got shape {d.shape}")
    if d.dtype.kind not in "biu" or (d.size and not np.isin(d, (0, 1)).all()):
        raise ValueError("dones must be boolean or 0/1 flags")
    d = d.astype(np.int64)
    return np.concatenate([[0], np.cumsum(d[:-1])]).astype(np.int64) if d.size else d


def session_length(session_ids: ArrayLike, n_sessions: int | None = None) -> IntArray:
    """Number of slates served in each session before the user left (or was truncated).

    ``L_s = Σ_t [session_t = s]``, in steps (slates).

    Args:
        session_ids: ``(n_steps,)`` non-negative session id per step (see
            :func:`session_ids_from_dones`).
        n_sessions: output length; defaults to ``max(session_ids) + 1``.

    Returns:
        ``(n_sessions,)`` int64 lengths.

    Reference: the interaction-length ("Length") metric used for simulated users that may quit,
    e.g. Gao et al., "Alleviating Matthew Effect of Offline Reinforcement Learning in
    Interactive Recommendation", SIGIR 2023.
    """
    ids = _int_ids(session_ids, "session_ids")
    if ids.ndim != 1:
        raise ValueError(f"session_ids must be 1-D (n_steps,), got shape {ids.shape}")
    minlength = 0
    if n_sessions is not None:
        minlength = _positive_int(n_sessions, "n_sessions")
        if ids.size and int(ids.max()) >= minlength:
            raise ValueError(
                f"session_ids must be < n_sessions={minlength}, found {int(ids.max())}"
            )
    return np.bincount(ids, minlength=minlength).astype(np.int64)


def ctr(clicked: ArrayLike, per: Literal["slate", "item"] = "slate") -> float:
    """Click-through rate.

    * ``per="slate"``: ``CTR = #clicks / #slates shown`` (clicks per slate impression; for a
      single-choice user model this is the fraction of slates that got a click).
    * ``per="item"``: ``CTR = #clicks / (#slates · k)`` (clicks per item impression).

    Args:
        clicked: ``(n_slates,)`` one flag per slate (clicked anything?) or ``(n_slates, k)`` one
            flag per slot; boolean or 0/1.
        per: denominator, see above; ``"item"`` needs the 2-D form.

    Returns:
        CTR as a float (≥ 0; ≤ 1 for ``per="item"`` or a 1-D input).

    Reference: Richardson, Dominowska and Ragno, "Predicting Clicks: Estimating the
    Click-Through Rate for New Ads", WWW 2007.
    """
    c = np.asarray(clicked)
    if c.ndim not in (1, 2):
        raise ValueError(f"clicked must be 1-D (n_slates,) or 2-D (n_slates, k), got {c.shape}")
    if c.shape[0] == 0:
        raise ValueError("clicked is empty: CTR of zero slates is undefined")
    if c.dtype.kind not in "biuf" or not np.isin(c, (0, 1)).all():
        raise ValueError("clicked must be boolean or 0/1 flags")
    total = float(c.sum())
    if per == "slate":
        return total / c.shape[0]
    if per == "item":
        if c.ndim != 2:
            raise ValueError("per='item' needs clicked of shape (n_slates, k)")
        return total / c.size
    raise ValueError(f"per must be 'slate' or 'item', got {per!r}")


# --------------------------------------------------------------------------------------------
# intra-list diversity
# --------------------------------------------------------------------------------------------


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
    x = _float_array(embeddings, "embeddings", ndim=3)
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
    w = _float_array(category_weights, "category_weights", ndim=3)
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


# --------------------------------------------------------------------------------------------
# coverage, exposure fairness, long tail, novelty
# --------------------------------------------------------------------------------------------


def _coverage(ids: IntArray, n: int, per_row: bool, name: str) -> float | FloatArray:
    rows = _rows_for_per_row(ids, name, per_row)
    seen = np.zeros((rows.shape[0], n), dtype=bool)
    seen[np.arange(rows.shape[0])[:, None], rows] = True
    cov = seen.mean(axis=1)
    return cov if per_row else float(cov[0])


def category_coverage(
    shown_categories: ArrayLike, n_categories: int, per_row: bool = False
) -> float | FloatArray:
    """Fraction of all categories that appear at least once among the shown items.

    ``Cov_cat = |{c : c shown}| / C`` ∈ [0, 1] (subtopic recall).

    Args:
        shown_categories: either integer category ids of the shown items (any shape; an item
            with several categories contributes each of them), or a boolean multi-hot array
            ``(..., C)`` with one row per shown item.
        n_categories: total number of categories C.
        per_row: with a 2-D id array ``(n_rows, m)`` (or a 3-D multi-hot array
            ``(n_rows, m, C)``), return the coverage of each row (e.g. per user).

    Returns:
        A float, or ``(n_rows,)`` floats when ``per_row``.

    Reference: subtopic recall, Zhai, Cohen and Lafferty, "Beyond Independent Relevance",
    SIGIR 2003.
    """
    n = _positive_int(n_categories, "n_categories")
    arr = np.asarray(shown_categories)
    if arr.dtype == bool:
        if arr.ndim < 1 or arr.shape[-1] != n:
            raise ValueError(
                f"multi-hot shown_categories must have last axis n_categories={n}, "
                f"got shape {arr.shape}"
            )
        if per_row:
            if arr.ndim != 3:
                raise ValueError(
                    f"per_row=True needs multi-hot shape (n_rows, m, C), got {arr.shape}"
                )
            return arr.any(axis=1).mean(axis=1).astype(np.float64)
        return float(arr.reshape(-1, n).any(axis=0).mean())
    ids = _int_ids(arr, "shown_categories", upper=n)
    return _coverage(ids, n, per_row, "shown_categories")


def catalog_coverage(
    shown_item_ids: ArrayLike, n_items: int, per_row: bool = False
) -> float | FloatArray:
    """Catalog (prediction) coverage: fraction of the catalog that was ever recommended.

    ``Cov = |{i : i shown}| / n_items`` ∈ [0, 1].

    Args:
        shown_item_ids: integer ids of every shown item (any shape).
        n_items: catalog size.
        per_row: with a 2-D ``(n_rows, m)`` input, return the coverage of each row.

    Returns:
        A float, or ``(n_rows,)`` floats when ``per_row``.

    Reference: Ge, Delgado-Battenfeld and Jannach, "Beyond Accuracy: Evaluating Recommender
    Systems by Coverage and Serendipity", RecSys 2010.
    """
    n = _positive_int(n_items, "n_items")
    ids = _int_ids(shown_item_ids, "shown_item_ids", upper=n)
    return _coverage(ids, n, per_row, "shown_item_ids")


def exposure_counts(shown_item_ids: ArrayLike, n_items: int) -> IntArray:
    """Number of times each catalog item was shown: ``(n_items,)`` int64, 0 if never shown."""
    n = _positive_int(n_items, "n_items")
    ids = _int_ids(shown_item_ids, "shown_item_ids", upper=n)
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
    x = _float_array(exposure, "exposure", ndim=1)
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
    pop = _float_array(popularity, "popularity", ndim=1)
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
    ids = _int_ids(shown_item_ids, "shown_item_ids", upper=mask.size)
    rows = _rows_for_per_row(ids, "shown_item_ids", per_row)
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
    p = _float_array(popularity_prob, "popularity_prob", ndim=1)
    if ((p < 0) | (p > 1)).any():
        raise ValueError("popularity_prob must lie in [0, 1]")
    ids = _int_ids(shown_item_ids, "shown_item_ids", upper=p.size)
    rows = _rows_for_per_row(ids, "shown_item_ids", per_row)
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


# --------------------------------------------------------------------------------------------
# filter bubble
# --------------------------------------------------------------------------------------------


def majority_category(history_category_counts: ArrayLike) -> IntArray:
    """Each user's majority category: the one they consumed most in their history.

    ``m_u = argmax_c h_{u,c}``; ties go to the lowest category index.

    Args:
        history_category_counts: ``(n_users, C)`` non-negative consumption counts (or weights)
            per category. Every user needs a non-empty history.

    Returns:
        ``(n_users,)`` int64 category ids.
    """
    h = _float_array(history_category_counts, "history_category_counts", ndim=2)
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
        ids = _int_ids(arr, "shown_categories", upper=n_cat)
        if ids.ndim != 2 or ids.shape[0] != n_users:
            raise ValueError(
                f"integer shown_categories must have shape ({n_users}, m), got {ids.shape}"
            )
        if ids.shape[1] == 0:
            raise ValueError("shown_categories has no shown items (m = 0)")
        return (ids == maj[:, None]).mean(axis=1).astype(np.float64)
    w = _float_array(arr, "shown_categories", ndim=3)
    if w.shape[0] != n_users or w.shape[2] != n_cat:
        raise ValueError(
            f"weighted shown_categories must have shape ({n_users}, m, {n_cat}), got {w.shape}"
        )
    if w.shape[1] == 0:
        raise ValueError("shown_categories has no shown items (m = 0)")
    if (w < 0).any() or not np.allclose(w.sum(axis=2), 1.0, atol=1e-6):
        raise ValueError("weighted shown_categories rows must be non-negative and sum to 1")
    return w[np.arange(n_users), :, maj].mean(axis=1)


# --------------------------------------------------------------------------------------------
# offline ranking metrics (binary relevance)
# --------------------------------------------------------------------------------------------


def _ranked_hits(
    scores_or_ranked: ArrayLike, relevant: ArrayLike, k: int, ranked: bool
) -> tuple[NDArray[np.bool_], IntArray, int]:
    """Return (hits in the top-k, number of relevant items per user, effective k)."""
    k = _positive_int(k, "k")
    rel = np.asarray(relevant)
    if rel.ndim != 2:
        raise ValueError(f"relevant must be 2-D (n_users, n_items), got shape {rel.shape}")
    if rel.dtype != bool:
        if rel.dtype.kind not in "iuf" or not np.isin(rel, (0, 1)).all():
            raise ValueError("relevant must be boolean or 0/1 (binary relevance)")
        rel = rel.astype(bool)
    n_users, n_items = rel.shape
    if ranked:
        top = _int_ids(scores_or_ranked, "ranked", upper=n_items)
        if top.ndim != 2 or top.shape[0] != n_users:
            raise ValueError(f"ranked must have shape ({n_users}, L), got {top.shape}")
        top = top[:, :k]
        # A repeated item must not be credited twice.
        srt = np.sort(top, axis=1)
        if (srt[:, 1:] == srt[:, :-1]).any():
            raise ValueError("ranked lists must not contain duplicate item ids")
    else:
        s = _float_array(scores_or_ranked, "scores", ndim=2)
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
