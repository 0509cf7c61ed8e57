"""User populations: who a new episode's user is (initial interest, warm-start history)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from divrec_rl import rng
from divrec_rl.arrays import arange_cached
from divrec_rl.catalog import Catalog, normalise_rows
from divrec_rl.config import UsersConfig
from divrec_rl.users.heldout import HeldOutItems
from divrec_rl.users.state import UserState

SPLITS = ("train", "val", "eval")


def stream_keys(keys: np.ndarray, split: str) -> np.ndarray:
    """The keys of ``split``'s per-step random streams (retrieval, choice, return, plug-in
    streams) for users started from episode ``keys``: the simulator stores them in
    ``UserState.key``.

    ``train`` keeps the episode keys; ``val`` and ``eval`` salt them
    (:func:`divrec_rl.rng.salted_keys` with salt 1 and 2), so the three splits share no
    click, retrieval or choice noise even for the same seed and user row — an agent trained on
    row r never met the dice of evaluation user r.
    """
    if split not in SPLITS:
        raise ValueError(f"split: must be one of {', '.join(SPLITS)}, got {split!r}")
    return rng.salted_keys(np.asarray(keys, dtype=np.uint64), SPLITS.index(split))


class UserPopulation(ABC):
    """Draws initial user states from per-user random keys.

    ``split`` separates the users agents train on (``train``), the users baselines are tuned on
    (``val``) and the held-out users everything is evaluated on (``eval``).  The simulator then
    replaces ``state.key`` by the split's stream key (:func:`stream_keys`), so every per-step
    stream is salted by split whatever the population does with the key.
    """

    n_features: int = 0
    held_out: HeldOutItems | None = None
    """The real users' held-out interactions (after the period a user starts from), when the
    population is built from logged users; ``None`` (the default, synthetic users) means there
    is nothing to score slates against offline (:mod:`divrec_rl.evaluation.offline`)."""

    def feature_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of the ``n_features`` static user features."""
        return np.zeros(self.n_features, dtype=np.float32), np.ones(
            self.n_features, dtype=np.float32
        )

    @abstractmethod
    def initial_state(self, keys: np.ndarray, split: str) -> UserState:
        """State of ``len(keys)`` new users (``active`` True, patience not yet set)."""


def consume_history(state: UserState, catalog: Catalog, items: np.ndarray, decay: float) -> None:
    """Fold a warm-start history ``items (N, L)`` (oldest first) into the observed EMAs.

    The rule of the episode, ``h ← decay·h + (1−decay)·e_item``, applied over the sequence from
    ``h = 0``, written out as one weighted sum ``h = Σ_j (1−decay)·decay^(L−1−j)·e_j`` (a sum
    over each row's own items, so a row never depends on the batch).
    """
    n_hist = items.shape[1]
    weights = ((1.0 - decay) * decay ** np.arange(n_hist - 1, -1, -1, dtype=np.float64)).astype(
        np.float32
    )[None, :, None]
    state.history[:] = np.add.reduce(weights * catalog.embeddings.take(items, axis=0), axis=1)
    state.category_history[:] = np.add.reduce(
        weights * catalog.category_weights.take(items, axis=0), axis=1
    )


class SyntheticPopulation(UserPopulation):
    """Generated users: interest is a mixture of 1..K favourite categories plus noise.

    ``θ = normalise(Σ_c w_c·μ_c + σ·ε)`` with ``μ_c`` the normalised mean vector of category c,
    favourites drawn without replacement with probability ∝ category popularity share, weights
    ``w`` uniform-random and normalised, ``ε ~ N(0, I/d)``.  The warm-start history is
    ``history_length`` items, each from a favourite category drawn ∝ ``w`` and, within it, an item
    drawn ∝ popularity (O(L·log M) per user, so resets stay cheap for large catalogues).
    The split enters each user's key, so train, val and eval users never coincide.
    """

    def __init__(self, catalog: Catalog, config: UsersConfig) -> None:
        if config.min_favourite_categories > catalog.n_categories:
            # max_favourite_categories is capped at C (so its default of 3 suits a catalogue of
            # 2 categories); a minimum above C cannot be met.
            raise ValueError(
                "users.min_favourite_categories: must be ≤ the catalogue's categories "
                f"({catalog.n_categories}), got {config.min_favourite_categories}"
            )
        self.catalog = catalog
        self.config = config
        w = catalog.category_weights
        self.centroids = normalise_rows(w.T @ catalog.embeddings).astype(np.float32)
        share = (w * catalog.popularity[:, None]).sum(axis=0) + 1.0
        self.log_category_share = np.log(share / share.sum())
        # Items sorted by primary category; within category c the normalised cumulative popularity
        # is shifted by c, so one searchsorted of ``c + u`` draws an item of c ∝ popularity.
        order = np.argsort(catalog.primary_category, kind="stable")
        self._items_by_category = order
        cat_sorted = catalog.primary_category[order]
        pop = catalog.popularity[order] + 1.0
        totals = np.bincount(cat_sorted, weights=pop, minlength=catalog.n_categories)
        cum = np.cumsum(pop) - np.concatenate([[0.0], np.cumsum(totals)])[cat_sorted]
        self._cum_popularity = cat_sorted + cum / totals[cat_sorted]
        self._has_items = totals > 0

    def initial_state(self, keys: np.ndarray, split: str) -> UserState:
        cat, cfg = self.catalog, self.config
        n, c, d = len(keys), cat.n_categories, cat.embedding_dim
        salted = keys ^ np.uint64(0x5F3759DF * (SPLITS.index(split) + 1))
        zeros = np.zeros(n, dtype=np.uint64)
        u = rng.uniforms(salted, zeros, rng.STREAM_INIT, 2 * c + 1)
        n_fav_max = min(cfg.max_favourite_categories, c)
        n_fav_min = min(cfg.min_favourite_categories, n_fav_max)
        n_fav = n_fav_min + np.floor(u[:, 0] * (n_fav_max - n_fav_min + 1)).astype(int)
        ranked = rng.gumbel_top_k(self.log_category_share[None, :], c, u[:, 1 : c + 1])
        weights = np.zeros((n, c))
        raw = u[:, c + 1 : 2 * c + 1] + 0.2
        rank_mask = arange_cached(c)[None, :] < n_fav[:, None]
        weights[arange_cached(n)[:, None], ranked] = np.where(rank_mask, raw, 0.0)
        weights /= weights.sum(axis=1, keepdims=True)
        noise = rng.normals(salted, zeros, rng.STREAM_INIT + 64, d) / np.sqrt(d)
        # Sum over categories written out (not a matmul) so a row never depends on the batch size.
        mix = (weights[:, :, None] * self.centroids[None, :, :]).sum(axis=1)
        interest = normalise_rows(mix + cfg.interest_noise * noise)

        state = UserState.empty(n, d, c)
        state.key[:] = keys
        state.interest[:] = interest
        state.active[:] = True
        if cfg.history_length > 0:
            L = cfg.history_length
            uh = rng.uniforms(salted, zeros, rng.STREAM_HISTORY, 2 * L)
            w = np.where(self._has_items, weights, 0.0)
            cdf = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
            slot_cat = (uh[:, :L, None] > cdf[:, None, :]).sum(axis=2).clip(max=c - 1)
            pick = np.searchsorted(self._cum_popularity, slot_cat + uh[:, L:])
            items = self._items_by_category[np.minimum(pick, cat.n_items - 1)]
            consume_history(state, cat, items, cfg.history_decay)
        return state
