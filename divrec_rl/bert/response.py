"""``BertResponseModel``: the fine-tuned two-tower user model as a per-step numpy runtime.

Per step and user, with θ the user's current hidden interest (``state.interest``, moved by the
behaviour's drift), ρ the user's recency summary (``state.history``, the EMA
``ρ ← δ·ρ + (1−δ)·e`` the behaviour applies per consumed item: the user tower's O(d) update),
``u`` the user's dataset row (``state.user_index``; −1 = no row, the mean-feature user) and
``e_i`` the cached item vector:

    attraction   a = θ·(Aᵀe_i) + ρ·(R_Aᵀe_i) + g_A(x_u)·e_i + b_A(i)
    satisfaction s = θ·(Sᵀe_i) + ρ·(R_Sᵀe_i) + g_S(x_u)·e_i + b_S(i)

Every factor is a row of a table computed once after training
(:class:`~divrec_rl.bert.checkpoint.UserModelTables`).  A step gathers the slate's item rows
``r_i = [Aᵀe_i, R_Aᵀe_i, e_i, Sᵀe_i, R_Sᵀe_i, e_i]`` into ``(N, k, 6d)`` and multiplies each
user's rows by that user's own ``(6d, 2)`` matrix ``[[θ, 0], [ρ, 0], [g_A, 0], [0, θ], [0, ρ],
[0, g_S]]`` (a version-1 model without ρ-terms keeps the ``4d`` layout) — a *stacked* matmul, one
small product per user with the same shapes whatever N is, so a batch of N users gives
bit-identical rows to N single users (unlike one matmul with the batch as its row dimension).
No transformer runs per step.
"""

from __future__ import annotations

import numpy as np

from divrec_rl.bert.checkpoint import UserModelTables
from divrec_rl.catalog import Catalog
from divrec_rl.config import ScenarioError
from divrec_rl.response import ResponseModel
from divrec_rl.users.state import UserState


class BertResponseModel(ResponseModel):
    """Attraction and satisfaction logits of a trained two-tower user model.

    Parameters
    ----------
    tables:
        The runtime tables of the checkpoint (``response.path``).
    catalog:
        The scenario's catalogue; its embeddings must be the tables' item vectors (the
        ``movielens-*`` catalogue sources guarantee it).
    """

    def __init__(self, tables: UserModelTables, catalog: Catalog) -> None:
        if catalog.n_items != tables.n_items or catalog.embedding_dim != tables.dim:
            raise ScenarioError(
                f"response.path: the user model scores {tables.n_items} items of dimension "
                f"{tables.dim}, the catalogue has {catalog.n_items} of dimension "
                f"{catalog.embedding_dim}"
            )
        self.tables = tables
        self.catalog = catalog
        self.dim = tables.dim
        e = tables.item_vectors
        self._recency = tables.uses_recency
        blocks = (
            [tables.item_attr, tables.item_attr_recent, e, tables.item_sat, tables.item_sat_recent]
            if self._recency
            else [tables.item_attr, e, tables.item_sat]
        )
        self._rows = np.ascontiguousarray(np.concatenate([*blocks, e], axis=1), dtype=np.float32)
        self._features = np.stack([tables.user_attr, tables.user_sat], axis=1).astype(np.float32)
        self._bias = np.stack([tables.attr_bias, tables.sat_bias], axis=1).astype(np.float64)
        for arr in (self._rows, self._features, self._bias):
            arr.setflags(write=False)

    def _user_matrices(self, state: UserState) -> np.ndarray:
        d = self.dim
        g = self._features[state.user_index]
        parts = (state.interest, state.history) if self._recency else (state.interest,)
        n_blocks = len(parts) + 1
        v = np.zeros((state.n, 2 * n_blocks * d, 2), dtype=np.float32)
        for col in (0, 1):
            base = col * n_blocks * d
            for j, part in enumerate((*parts, g[:, col])):
                v[:, base + j * d : base + (j + 1) * d, col] = part
        return v

    def scores(self, state: UserState, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Both logits ``(N, k)`` with one gather: ``(attraction, satisfaction_logit)``."""
        s = np.matmul(self._rows[items], self._user_matrices(state)).astype(np.float64)
        s += self._bias[items]
        return s[..., 0], s[..., 1]

    def attraction(self, state: UserState, items: np.ndarray) -> np.ndarray:
        return self.scores(state, items)[0]

    def satisfaction_logit(self, state: UserState, items: np.ndarray) -> np.ndarray:
        return self.scores(state, items)[1]
