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
``[Aᵀe_i, R_Aᵀe_i, e_i]`` into ``(N, k, 3d)`` and multiplies each user's rows by that user's
own vector ``[θ, ρ, g_A]`` ``(3d, 1)`` (likewise ``[Sᵀe_i, R_Sᵀe_i, e_i]`` with ``[θ, ρ, g_S]``;
a version-1 model without ρ-terms drops the ρ blocks) — a *stacked* matmul, one
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
    inputs:
        The checkpoint's identity (:meth:`inputs`), e.g. its directory and its tables'
        sha256; ``{}`` when unknown.
    """

    def __init__(
        self,
        tables: UserModelTables,
        catalog: Catalog,
        inputs: dict[str, str] | None = None,
    ) -> None:
        if catalog.n_items != tables.n_items or catalog.embedding_dim != tables.dim:
            raise ScenarioError(
                f"response.path: the user model scores {tables.n_items} items of dimension "
                f"{tables.dim}, the catalogue has {catalog.n_items} of dimension "
                f"{catalog.embedding_dim}"
            )
        self.tables = tables
        self.catalog = catalog
        self._inputs = dict(inputs or {})
        self.dim = tables.dim
        e = tables.item_vectors
        self._recency = tables.uses_recency
        attr = [tables.item_attr, tables.item_attr_recent] if self._recency else [tables.item_attr]
        sat = [tables.item_sat, tables.item_sat_recent] if self._recency else [tables.item_sat]
        self._rows_attr = np.ascontiguousarray(np.concatenate([*attr, e], axis=1), np.float32)
        self._rows_sat = np.ascontiguousarray(np.concatenate([*sat, e], axis=1), np.float32)
        self._features = np.stack([tables.user_attr, tables.user_sat], axis=1).astype(np.float32)
        self._bias = np.stack([tables.attr_bias, tables.sat_bias], axis=1).astype(np.float64)
        for arr in (self._rows_attr, self._rows_sat, self._features, self._bias):
            arr.setflags(write=False)

    def _user_vectors(self, state: UserState, col: int) -> np.ndarray:
        """``(N, 3d, 1)`` per-user vectors ``[θ, ρ, g]`` of head ``col`` (0 attraction, 1
        satisfaction); ``[θ, g]`` for a model without ρ-terms."""
        g = self._features[state.user_index, col]
        parts = (state.interest, state.history, g) if self._recency else (state.interest, g)
        return np.concatenate(parts, axis=1)[:, :, None]

    def scores(self, state: UserState, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Both logits ``(N, k)``: ``(attraction, satisfaction_logit)``."""
        a = np.matmul(self._rows_attr[items], self._user_vectors(state, 0))[..., 0]
        s = np.matmul(self._rows_sat[items], self._user_vectors(state, 1))[..., 0]
        bias = self._bias[items]
        return a.astype(np.float64) + bias[..., 0], s.astype(np.float64) + bias[..., 1]

    def inputs(self) -> dict[str, str]:
        """The checkpoint this model's tables were read from (see the constructor)."""
        return dict(self._inputs)

    def attraction(self, state: UserState, items: np.ndarray) -> np.ndarray:
        return self.scores(state, items)[0]

    def satisfaction_logit(self, state: UserState, items: np.ndarray) -> np.ndarray:
        return self.scores(state, items)[1]
