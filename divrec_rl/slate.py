"""Slate builders: turn an agent's action into k distinct valid items per user.

Both built-in builders have a policy output whose size does not grow with the catalogue:

* :class:`CandidateSlateBuilder` — each step a retrieval stage proposes ``n_candidates`` distinct
  items per user (in O(n_candidates), independent of catalogue size); the action is one score per
  candidate in [-1, 1] and the slate is the top-k candidates (ties → earlier candidate).
* :class:`QuerySlateBuilder` — the action is a query vector ``a ∈ [-1, 1]^d`` in item space; the
  slate is the top-k items by ``a·e_i`` over the whole catalogue (O(M·d) per step).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from math import gcd

import numpy as np
from gymnasium import spaces

from divrec_rl import kernels, rng
from divrec_rl.arrays import all_true, any_true, row_starts
from divrec_rl.catalog import Catalog
from divrec_rl.config import ScenarioError, SlateConfig
from divrec_rl.users.state import UserState


class SlateBuilder(ABC):
    """Maps actions to slates.  ``prepare`` runs for users whose next observation is needed."""

    def __init__(self, catalog: Catalog, config: SlateConfig) -> None:
        self.catalog = catalog
        self.config = config
        self.k = config.size

    @property
    @abstractmethod
    def action_space(self) -> spaces.Box:
        """Action space of one user."""

    def observation_spaces(self) -> dict[str, spaces.Box]:
        """Extra observation entries this builder contributes (per user)."""
        return {}

    def allocate(self, n_users: int) -> None:
        """Allocate per-user buffers for a batch of ``n_users``."""

    def prepare(self, state: UserState, rows: np.ndarray) -> None:
        """Refresh per-user inputs (e.g. candidates) of ``rows`` for their next action."""

    def observe(self, state: UserState) -> dict[str, np.ndarray]:
        """Extra observation arrays ``(N, …)``."""
        return {}

    @abstractmethod
    def build(self, actions: np.ndarray) -> np.ndarray:
        """Slates ``(N, k)`` of catalogue row indices from actions ``(N, …)``."""

    def candidate_rows(self) -> np.ndarray | None:
        """Each user's current candidates ``(N, n_candidates)`` as catalogue rows, in the order
        the action scores them; ``None`` when the action does not score a candidate set."""
        return None

    def candidate_feature_dim(self) -> int | None:
        """Features per candidate in the ``candidates`` observation; ``None`` without one."""
        return None


def top_k_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k largest scores per row, best first, ties → lower index.

    The scores are lifted to float64 and lowered by ``index·1e-12``, which makes every score
    distinct, so any sort gives the same answer: short rows are sorted outright, long ones
    partially partitioned first (O(n) per row instead of a full sort).  So scores less than
    ``(n−1)·1e-12`` apart count as tied and go to the lower index too: below float32's
    resolution for scores of magnitude ≳ 1e-4, and far below any difference a policy means
    (an exact lexicographic sort cost 2.3× more at 1,024 rows of 40).
    """
    n = scores.shape[1]
    # float64 − float32 promotes the scores to float64 exactly (no separate astype).
    neg_key = _tie_break(n) - scores  # ascending = best first
    if k >= n or n <= _FULL_SORT_MAX:
        return neg_key.argsort(axis=1)[:, :k]
    part = np.argpartition(neg_key, k - 1, axis=1)[:, :k]
    # Flat indices (row·width + column) gather with one ``take`` instead of 2-D fancy indexing.
    order = np.argsort(neg_key.take(part + row_starts(len(neg_key), n)[:, None]), axis=1)
    return part.take(order + row_starts(len(neg_key), k)[:, None])


# Up to this row length a full sort is cheaper than partition + sort of the top k.
_FULL_SORT_MAX = 64


_TIE_BREAKS: dict[int, np.ndarray] = {}


def _tie_break(n: int) -> np.ndarray:
    tie = _TIE_BREAKS.get(n)
    if tie is None:
        tie = _TIE_BREAKS[n] = np.arange(n, dtype=np.float64) * 1e-12
    return tie


class CandidateSlateBuilder(SlateBuilder):
    """Personalised retrieval of distinct candidates, then top-k of the agent's scores.

    Retrieval share per category: ``p_c = (1−ε)·π_u + ε/C`` capped at what the category's pool
    can supply (the excess redistributed to categories with room), where π_u is the user's observed
    category history (the catalogue's category shares when empty) and ε the ``explore_fraction``;
    systematic sampling turns the shares into ⌊n·p_c⌋ or ⌈n·p_c⌉ slots per category.  Within
    category c, items are taken along an arithmetic progression
    ``(r + j·s) mod |pool_c|`` over a fixed random permutation of the pool, with random start r
    and random stride s coprime to |pool_c|: distinct by construction, O(1) per candidate.
    Candidates come grouped by category (ascending category index); ties in the agent's scores
    go to the earlier candidate.

    Candidate features (per user, per candidate): item vector, standardised log-popularity, the
    user's observed history share and recent exposure share of the item's category, and with
    ``timed_consumption`` its per-step consumption average (``users.timed_consumption``).
    """

    def __init__(
        self, catalog: Catalog, config: SlateConfig, timed_consumption: bool = False
    ) -> None:
        super().__init__(catalog, config)
        self.timed_consumption = timed_consumption
        if config.n_candidates > catalog.n_items:
            raise ScenarioError(
                f"field 'slate.n_candidates': must be ≤ the catalogue size ({catalog.n_items}), "
                f"got {config.n_candidates}"
            )
        if config.size > catalog.n_items:
            raise ScenarioError(
                f"field 'slate.size': must be ≤ the catalogue size ({catalog.n_items}), "
                f"got {config.size}"
            )
        self.n_candidates = config.n_candidates
        perm_rng = np.random.default_rng(0xC0FFEE)
        pools = [perm_rng.permutation(p) for p in catalog.category_pools()]
        self.pool_size = np.array([len(p) for p in pools], dtype=np.int64)
        self.pool_offset = np.concatenate([[0], np.cumsum(self.pool_size)[:-1]]).astype(np.int64)
        self.pool_items = np.concatenate(pools).astype(np.int64)
        strides = [
            [s for s in range(1, max(2, n)) if gcd(s, n) == 1] or [1] for n in self.pool_size
        ]
        width = max(len(s) for s in strides)
        self.stride_table = np.array([s + [1] * (width - len(s)) for s in strides], dtype=np.int64)
        self.stride_count = np.array([len(s) for s in strides], dtype=np.int64)
        share = catalog.category_weights.sum(axis=0) + 1e-9
        self.prior = share / share.sum()
        self.candidates = np.zeros((0, self.n_candidates), dtype=np.int64)
        d = catalog.embedding_dim
        self.feature_dim = d + 3 + (1 if timed_consumption else 0)
        self._no_timed = np.zeros((0, 0), dtype=np.float32)
        self._cat_index = np.arange(catalog.n_categories)
        self._n_cat, self._dim = catalog.n_categories, catalog.embedding_dim  # per-step reads
        # ⌈n·p_c⌉ ≤ |pool_c| whenever p_c ≤ (|pool_c| − 1)/n, so capping shares there keeps every
        # category's draws distinct; the caps must leave room for all n candidates.
        self._share_cap = np.maximum(self.pool_size - 1, 0) / self.n_candidates
        eps = config.explore_fraction
        self._personal_weight, self._explore_share = 1.0 - eps, eps / self._n_cat
        if self._share_cap.sum() < 1.0:
            most = int(np.maximum(self.pool_size - 1, 0).sum())
            if most < config.size:
                raise ScenarioError(
                    f"field 'slate.n_candidates': this catalogue ({catalog.n_items} items in "
                    f"{catalog.n_categories} categories) can retrieve at most {most} distinct "
                    "candidates (each category's items but one), fewer than slate.size "
                    f"({config.size}); use a larger catalogue or fewer categories"
                )
            raise ScenarioError(
                f"field 'slate.n_candidates': must be ≤ {most} for this catalogue (each "
                f"category's items but one), got {self.n_candidates}"
            )
        # The per-item columns of the candidate features (the last two are the user's, filled
        # in by observe()).
        self._item_features = np.concatenate(
            [catalog.embeddings, catalog.log_popularity_z[:, None]], axis=1
        ).astype(np.float32)

    @property
    def action_space(self) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, shape=(self.n_candidates,), dtype=np.float32)

    def observation_spaces(self) -> dict[str, spaces.Box]:
        """``candidates``: ``n_candidates × feature_dim`` features, flattened row-major (SB3 wants
        1-D vectors); reshape to ``(n_candidates, feature_dim)`` to score candidates jointly."""
        d = self.catalog.embedding_dim
        low = np.zeros(self.feature_dim, dtype=np.float32)
        high = np.ones(self.feature_dim, dtype=np.float32)
        low[:d] = -1.0
        low[d] = float(self.catalog.log_popularity_z.min())
        high[d] = float(self.catalog.log_popularity_z.max())
        n = self.n_candidates
        return {"candidates": spaces.Box(np.tile(low, n), np.tile(high, n), dtype=np.float32)}

    def allocate(self, n_users: int) -> None:
        self.candidates = np.zeros((n_users, self.n_candidates), dtype=np.int64)

    def category_shares(self, category_history: np.ndarray) -> np.ndarray:
        """Retrieval share per category ``(N, C)``: ``(1−ε)·π_u + ε/C``, capped so no category
        asks for more items than its pool holds (the excess goes to categories with room)."""
        hist = category_history.astype(np.float64)
        mass = np.add.reduce(hist, axis=1, keepdims=True)
        if all_true(mass):  # the usual case (mass ≥ 0); users without history get the prior
            personal = hist / mass
        else:
            personal = np.where(mass > 0, hist / np.where(mass > 0, mass, 1.0), self.prior)
        p = self._personal_weight * personal + self._explore_share
        if any_true(p > self._share_cap):  # rare: a category asks for more than its pool holds
            excess = p - self._share_cap
            p = np.minimum(p, self._share_cap)
            room = self._share_cap - p
            p += (
                np.maximum(excess, 0).sum(axis=1, keepdims=True)
                * room
                / room.sum(axis=1, keepdims=True)
            )
        return p

    def prepare(self, state: UserState, rows: np.ndarray) -> None:
        if len(rows) == 0:
            return
        p = self.category_shares(state.category_history[rows])
        u = rng.uniforms(state.key[rows], state.t[rows], rng.STREAM_CANDIDATES, 1 + 2 * self._n_cat)
        # Systematic sampling of the slots' categories, then an arithmetic walk per category
        # (class docstring), one compiled pass per row: the same integers as the array form.
        items = np.empty((len(rows), self.n_candidates), dtype=np.int64)
        kernels.walk_candidates(
            p,
            u,
            self.pool_size,
            self.pool_offset,
            self.pool_items,
            self.stride_table,
            self.stride_count,
            items,
        )
        self.candidates[rows] = items

    def observe(self, state: UserState) -> dict[str, np.ndarray]:
        cand = self.candidates
        feats = np.empty((len(cand), self.n_candidates * self.feature_dim), dtype=np.float32)
        kernels.candidate_features(
            self._item_features,
            cand,
            self.catalog.primary_category,
            state.category_history,
            state.exposure,
            state.timed_consumption if self.timed_consumption else self._no_timed,
            feats,
        )
        return {"candidates": feats}

    def candidate_rows(self) -> np.ndarray:
        return self.candidates

    def candidate_feature_dim(self) -> int:
        return self.feature_dim

    def build(self, actions: np.ndarray) -> np.ndarray:
        # Read at the action space's dtype: a float64 action is rounded to float32 first.
        scores = np.asarray(actions, dtype=np.float32).reshape(
            len(self.candidates), self.n_candidates
        )
        top = top_k_rows(scores, self.k)
        return self.candidates.take(top + row_starts(len(top), self.n_candidates)[:, None])


class QuerySlateBuilder(SlateBuilder):
    """Action = query vector in item space; slate = top-k of ``a·e_i`` over the catalogue."""

    def __init__(self, catalog: Catalog, config: SlateConfig) -> None:
        super().__init__(catalog, config)
        self._embeddings_t = np.ascontiguousarray(catalog.embeddings.T, dtype=np.float64)

    @property
    def action_space(self) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, shape=(self.catalog.embedding_dim,), dtype=np.float32)

    def build(self, actions: np.ndarray) -> np.ndarray:
        q = np.asarray(actions, dtype=np.float64).reshape(-1, self.catalog.embedding_dim)
        scores = q @ self._embeddings_t
        return top_k_rows(scores, self.k)


class ActionCheck:
    """Checks batches of actions ``(n_users, *space.shape)`` for one simulator (all faces).

    Rejected with a one-line ``ValueError`` naming ``action``: a wrong shape, a non-numeric
    dtype, a NaN or ±inf entry (the first one is named by user row and entry), an entry outside
    the action box ``[space.low, space.high]``.  Cost on a valid batch of a box with the same
    finite bounds for every entry (both built-in builders): one compiled pass
    (:func:`divrec_rl.kernels.in_box`: a NaN lies in no interval and ±inf outside finite
    bounds, so finiteness needs no pass of its own); the details are computed only on failure.
    """

    def __init__(self, space: spaces.Box, n_users: int) -> None:
        self.space = space
        self.shape = (n_users, *space.shape)
        self.low = np.broadcast_to(space.low, space.shape)
        self.high = np.broadcast_to(space.high, space.shape)
        lo, hi = float(self.low.min()), float(self.high.max())
        # A uniform finite box reduces the check to two scalar comparisons.
        self._scalar = (
            (lo, hi)
            if np.all(self.low == lo) and np.all(self.high == hi) and np.isfinite([lo, hi]).all()
            else None
        )

    def __call__(self, actions: object) -> np.ndarray:
        """``actions`` as an array, or ``ValueError`` (see the class docstring)."""
        a = np.asarray(actions)
        if a.shape != self.shape:
            detail = f" (one row of shape {self.space.shape} per user)"
            raise ValueError(action_shape_error(self.shape, a.shape, detail))
        if a.dtype.kind not in "biuf":
            raise ValueError(f"action: must be a numeric array, got dtype {a.dtype}")
        if a.dtype.kind == "f" and a.dtype not in (np.float32, np.float64):
            # float16 and long double: exact or nearest in float64, the widest type the
            # compiled check and the slate builders take.
            a = a.astype(np.float64)
        if a.size == 0:
            return a
        if self._scalar is not None:
            lo, hi = self._scalar
            if kernels.in_box(a, lo, hi):  # one compiled pass over the batch
                return a
        elif np.isfinite(a).all() and (a >= self.low).all() and (a <= self.high).all():
            return a
        raise ValueError(self._diagnose(a))

    def _diagnose(self, a: np.ndarray) -> str:
        """The message naming the first bad entry (failure path only)."""
        bad = ~np.isfinite(a)
        if bad.any():
            where = np.argwhere(bad)[0]
            return (
                f"action: every entry must be finite; user {where[0]}, entry "
                f"{_entry(where)} is {a[tuple(where)]}"
            )
        where = np.argwhere((a < self.low) | (a > self.high))[0]
        return (
            f"action: every entry must lie in the action box [{_bound(self.low)}, "
            f"{_bound(self.high)}]; user {where[0]}, entry {_entry(where)} is {a[tuple(where)]}"
        )


def action_shape_error(expected: tuple[int, ...], got: tuple[int, ...], detail: str = "") -> str:
    """The one-line message for an action of the wrong shape."""
    return f"action: expected shape {expected}{detail}, got {got}"


def _entry(where: np.ndarray) -> str:
    """The entry part of an ``argwhere`` row (the user row dropped): ``5`` or ``(2, 3)``."""
    entry = tuple(int(i) for i in where[1:])
    return str(entry[0]) if len(entry) == 1 else str(entry)


def _bound(b: np.ndarray) -> str:
    """A box bound for messages: the scalar when uniform, else the range of its entries."""
    lo, hi = float(np.min(b)), float(np.max(b))
    return f"{lo:g}" if lo == hi else f"{lo:g}..{hi:g} (per entry)"


def validate_slates(slates: np.ndarray, n_items: int, k: int) -> np.ndarray:
    """Check agent-given slates ``(N, k)``: integer catalogue rows, in range, distinct per row."""
    s = np.asarray(slates)
    if s.ndim != 2 or s.shape[1] != k:
        raise ValueError(f"slates: expected shape (n_users, {k}), got {s.shape}")
    if not np.issubdtype(s.dtype, np.integer):
        raise ValueError(f"slates: expected integer item rows, got dtype {s.dtype}")
    if s.size and (s.min() < 0 or s.max() >= n_items):
        raise ValueError(f"slates: item rows must be in [0, {n_items - 1}]")
    srt = np.sort(s, axis=1)
    if k > 1 and np.any(srt[:, 1:] == srt[:, :-1]):
        raise ValueError("slates: items within a slate must be distinct")
    return s.astype(np.int64)
