"""``MovieLensPopulation``: simulated users who start as real MovieLens users.

Users are partitioned once with :func:`divrec_rl.data.user_split` (seed :data:`USER_SPLIT_SEED`,
:data:`EVAL_FRAC` of the users held out for ``eval``, :data:`VAL_FRAC` for ``val``, the rest
``train``); only users with ratings in the user model's fit period take part.  An episode key
maps to a user of the requested split deterministically, ``users[key mod n_split]``, so the same
key is the same person in every run and in any batch.  A new user starts from their real history
of the period the user model was fitted on (``fit_period``: train, or train + validation; never
the test period):

* hidden interest θ = the normalised mean of their history's item vectors — exactly the user
  state the user model was trained to read;
* observed history EMAs folded in from their last ``users.history_length`` items (oldest
  first, ``h ← decay·h + (1−decay)·e``, as :func:`~divrec_rl.users.population.consume_history`)
  -- the history EMA is the user model's recency summary ρ;
* static features: one-hot gender, one-hot occupation and scaled age, all in [0, 1].

Everything is tabulated per user at construction; :meth:`initial_state` only gathers rows.
"""

from __future__ import annotations

import numpy as np

from divrec_rl.bert.prepare import mean_history_vectors, recency_history_vectors
from divrec_rl.catalog import Catalog
from divrec_rl.config import UsersConfig
from divrec_rl.data import user_split
from divrec_rl.users.population import SPLITS, UserPopulation
from divrec_rl.users.state import UserState

USER_SPLIT_SEED = 0
EVAL_FRAC = 0.2
VAL_FRAC = 0.1


class MovieLensPopulation(UserPopulation):
    """Real users of a ratings dataset as initial states.

    Parameters
    ----------
    catalog:
        The catalogue (item rows = dataset item ids, embeddings = the user model's item vectors).
    config:
        ``users`` section (``history_length``, ``history_decay``).
    hist_indptr, hist_items:
        Each user's fit-period items in time order (CSR over dataset user ids).
    features:
        ``(U, F)`` static user features in [0, 1].
    """

    def __init__(
        self,
        catalog: Catalog,
        config: UsersConfig,
        hist_indptr: np.ndarray,
        hist_items: np.ndarray,
        features: np.ndarray,
    ) -> None:
        self.catalog = catalog
        self.config = config
        n_users = len(hist_indptr) - 1
        if features.shape[0] != n_users:
            raise ValueError(
                f"features: expected {n_users} rows (one per user), got {features.shape[0]}"
            )
        self.features = np.asarray(features, dtype=np.float32)
        self.n_features = int(features.shape[1])
        lengths = np.diff(hist_indptr)
        active = np.flatnonzero(lengths > 0)
        self.splits = user_split(active, EVAL_FRAC, VAL_FRAC, USER_SPLIT_SEED)
        self.interest = mean_history_vectors(catalog.embeddings, hist_indptr, hist_items)
        self.history, self.category_history = self._history_emas(hist_indptr, hist_items)

    def _history_emas(self, indptr: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The observed history EMAs ``h ← decay·h + (1−decay)·x`` over each user's last
        ``history_length`` items (x = item vector, resp. genre weights), in their batch form --
        the recency summary ρ the user model was trained to read."""
        cat, decay, length = self.catalog, self.config.history_decay, self.config.history_length
        h = recency_history_vectors(cat.embeddings, indptr, items, decay, length)
        c = recency_history_vectors(cat.category_weights, indptr, items, decay, length)
        return h, c

    def split_users(self, split: str) -> np.ndarray:
        """Dataset user ids of ``split`` (sorted)."""
        if split not in SPLITS:
            raise ValueError(f"split: must be one of {', '.join(SPLITS)}, got {split!r}")
        return self.splits[split]

    def initial_state(self, keys: np.ndarray, split: str) -> UserState:
        users_of_split = self.split_users(split)
        if len(users_of_split) == 0:
            raise ValueError(f"split {split!r}: the dataset has no users in this split")
        keys = np.asarray(keys, dtype=np.uint64)
        users = users_of_split[(keys % np.uint64(len(users_of_split))).astype(np.int64)]
        cat = self.catalog
        state = UserState.empty(len(keys), cat.embedding_dim, cat.n_categories, self.n_features)
        state.key[:] = keys
        state.interest[:] = self.interest[users]
        state.history[:] = self.history[users]
        state.category_history[:] = self.category_history[users]
        state.features[:] = self.features[users]
        state.user_index[:] = users
        state.active[:] = True
        return state
