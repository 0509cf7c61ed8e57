"""Real held-out interactions of a population's users, for offline accuracy.

A population built from logged users (MovieLens) knows what each real user did *after* the
period its simulated user starts from: the interactions of the temporal ``test`` period
(:func:`divrec_rl.data.temporal_split`).  :class:`HeldOutItems` holds them per dataset user;
:mod:`divrec_rl.evaluation.offline` scores the agents' slates against them.  Synthetic
populations have none (``UserPopulation.held_out is None``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pandas only for the annotation: the core imports this module (population)
    import pandas as pd

__all__ = ["HeldOutItems"]


@dataclass(frozen=True)
class HeldOutItems:
    """Each dataset user's held-out items, CSR over dataset user ids.

    ``items[indptr[u] : indptr[u + 1]]`` are the distinct catalogue rows user ``u`` interacted
    with in the held-out period (the rows ``UserState.user_index`` and slates use).
    ``relevance`` says in words which interactions count (written into the report);
    ``split_sizes`` maps each split (``train``/``val``/``eval``) to its number of distinct users,
    so an offline pass can meet each of them once.
    """

    indptr: np.ndarray
    items: np.ndarray
    n_items: int
    relevance: str
    split_sizes: dict[str, int]

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        n_users: int,
        n_items: int,
        relevance: str,
        split_sizes: dict[str, int],
    ) -> HeldOutItems:
        """From a frame with ``user_id`` and ``item_id`` columns (one row per interaction;
        repeats of a (user, item) pair count once)."""
        pairs = np.unique(
            np.stack(
                [frame["user_id"].to_numpy(np.int64), frame["item_id"].to_numpy(np.int64)], axis=1
            ).reshape(-1, 2),
            axis=0,
        )
        users, items = pairs[:, 0], pairs[:, 1]
        if len(users) and (users.min() < 0 or users.max() >= n_users):
            raise ValueError(f"held-out user ids must be in [0, {n_users - 1}]")
        if len(items) and (items.min() < 0 or items.max() >= n_items):
            raise ValueError(f"held-out item ids must be in [0, {n_items - 1}]")
        indptr = np.concatenate([[0], np.cumsum(np.bincount(users, minlength=n_users))])
        return cls(indptr.astype(np.int64), items, n_items, relevance, dict(split_sizes))

    def counts(self, users: np.ndarray) -> np.ndarray:
        """``(N,)`` number of held-out items of each dataset user in ``users``."""
        users = np.asarray(users, dtype=np.int64)
        return (self.indptr[users + 1] - self.indptr[users]).astype(np.int64)

    def relevance_matrix(self, users: np.ndarray) -> np.ndarray:
        """``(N, n_items)`` boolean: row r marks the held-out items of dataset user ``users[r]``
        (the ground truth of :mod:`divrec_rl.metrics.ranking`)."""
        users = np.asarray(users, dtype=np.int64)
        out = np.zeros((len(users), self.n_items), dtype=bool)
        lengths = self.counts(users)
        rows = np.repeat(np.arange(len(users)), lengths)
        starts = np.repeat(self.indptr[users], lengths)
        offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        out[rows, self.items[starts + offsets]] = True
        return out
