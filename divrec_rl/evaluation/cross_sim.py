"""A second user model for the cross-simulator check: a low-rank factor ("MF") response model.

A ranking of agents that holds only inside the simulator the agents were tuned and trained in
says more about that simulator than about the agents.  The check swaps the response model — what
a user finds attractive and satisfying — and evaluates the *same* trained agents again: same
catalogue, population, behaviour dynamics and users; no agent is retrained or re-tuned.

``mf`` (declared in :data:`divrec_rl.parts.BUILTIN_PARTS`, factory :func:`mf_response`) scores
with rank-r factors, as a matrix-factorisation model of the logs would::

    p_u = normalise(P θ_u)                                   user factor from the hidden interest
    q_i = normalise(normalise(P e_i) + σ·z_i)                item factor with idiosyncratic part
    attraction = w_m·p_u·q_i + w_p·z(log(1+pop_i)) + w_q·b_i + bias
    satisfaction_logit = s_m·p_u·q_i + s_q·quality_i + s_b

with P a fixed random ``(r, d)`` projection, ``z_i ~ N(0, I/r)`` item noise (σ = 0.5) and ``b_i``
an item appeal bias drawn independently of the catalogue's quality (standard normal), all seeded by
the catalogue seed.  Compared with the default ``embedding`` model, users' tastes live in a
smaller space, items have appeal the item vectors do not explain, and attraction is decoupled
from quality — so the agents meet preferences they never saw.  Weights come from the scenario's
``response`` and ``behaviour.satisfaction`` sections.
"""

from __future__ import annotations

import numpy as np

from divrec_rl.catalog import Catalog, normalise_rows
from divrec_rl.config import ResponseConfig, SatisfactionConfig, ScenarioConfig
from divrec_rl.evaluation.settings import CROSS_MODEL
from divrec_rl.response import ResponseModel
from divrec_rl.users.state import UserState

__all__ = ["CROSS_MODEL", "FactorResponseModel", "mf_response"]


class FactorResponseModel(ResponseModel):
    """Rank-r factor response model (module docstring).

    Parameters
    ----------
    catalog, config, satisfaction:
        Catalogue and the weights of the scenario's ``response`` / ``behaviour.satisfaction``.
    rank:
        Factor dimension r (capped at the item-vector dimension).
    item_noise:
        σ, scale of the item factors' idiosyncratic part.
    seed:
        Seed of the projection, item noise and item biases.
    """

    def __init__(
        self,
        catalog: Catalog,
        config: ResponseConfig,
        satisfaction: SatisfactionConfig,
        rank: int = 16,
        item_noise: float = 0.5,
        seed: int = 0,
    ) -> None:
        self.catalog = catalog
        self.config = config
        self.satisfaction = satisfaction
        d = catalog.embedding_dim
        r = max(1, min(rank, d))
        gen = np.random.default_rng([seed, 0x4D46])  # "MF"
        self.projection = gen.normal(size=(d, r)) / np.sqrt(r)
        base = normalise_rows(catalog.embeddings.astype(np.float64) @ self.projection)
        noise = gen.normal(size=(catalog.n_items, r)) / np.sqrt(r)
        self.item_factors = normalise_rows(base + item_noise * noise)
        appeal = gen.normal(size=catalog.n_items)
        self._item_bias = (
            config.popularity_weight * catalog.log_popularity_z
            + config.quality_weight * appeal
            + config.bias
        )
        self._sat_bias = satisfaction.quality_weight * catalog.quality + satisfaction.bias

    def _affinity(self, state: UserState, items: np.ndarray) -> np.ndarray:
        # Sums over the last axis (no matmul over the batch): a row does not depend on the batch.
        user = (state.interest.astype(np.float64)[:, :, None] * self.projection[None]).sum(axis=1)
        user = normalise_rows(user)
        return (self.item_factors[items] * user[:, None, :]).sum(axis=-1)

    def attraction(self, state: UserState, items: np.ndarray) -> np.ndarray:
        return self.config.match_weight * self._affinity(state, items) + self._item_bias[items]

    def satisfaction_logit(self, state: UserState, items: np.ndarray) -> np.ndarray:
        match = self.satisfaction.match_weight * self._affinity(state, items)
        return match + self._sat_bias[items]

    def scores(self, state: UserState, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Both logits with one affinity computation."""
        a = self._affinity(state, items)
        return (
            self.config.match_weight * a + self._item_bias[items],
            self.satisfaction.match_weight * a + self._sat_bias[items],
        )


def mf_response(catalog: Catalog, config: ScenarioConfig) -> FactorResponseModel:
    """``response.model: mf``: the factor response model seeded by the catalogue seed."""
    return FactorResponseModel(
        catalog, config.response, config.behaviour.satisfaction, seed=config.catalog.seed
    )
