"""Response models: how attractive (click logit) and how satisfying an item is to a user.

The simulator asks a response model for ``(N, k)`` logits of the slate items only; item vectors are
computed once and cached, so a step never runs a language model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from divrec_rl.catalog import Catalog
from divrec_rl.config import ResponseConfig, SatisfactionConfig
from divrec_rl.users.state import UserState


class ResponseModel(ABC):
    """Scores items for users.  ``items`` is ``(N, k)`` catalogue row indices.

    The contract: :meth:`attraction` and :meth:`satisfaction_logit`, and :meth:`scores`, both at
    once — the one the simulator calls every step.  Its default makes the two calls; override it
    when one pass is cheaper (a shared gather or product), returning exactly the same values.
    """

    @abstractmethod
    def attraction(self, state: UserState, items: np.ndarray) -> np.ndarray:
        """Click logits ``(N, k)`` before boredom and position effects."""

    @abstractmethod
    def satisfaction_logit(self, state: UserState, items: np.ndarray) -> np.ndarray:
        """Satisfaction logits ``(N, k)``; engagement of a consumed item is σ(logit − boredom)."""

    def scores(self, state: UserState, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(attraction, satisfaction_logit)``, each ``(N, k)`` (the simulator's one call)."""
        return self.attraction(state, items), self.satisfaction_logit(state, items)

    def inputs(self) -> dict[str, str]:
        """The files outside the package this model's values come from, by identity: entries
        named ``…sha256`` or ``…fingerprint`` are content digests (compared by
        :func:`divrec_rl.provenance.input_mismatches`), others say where the files were.
        Training runs and evaluation reports record it; ``{}`` for a model built from the
        scenario's settings alone."""
        return {}


class EmbeddingResponseModel(ResponseModel):
    """Fast response model on the catalogue's item vectors.

    ``attraction = w_m·cos(θ_u, e_i) + w_p·z(log(1+pop_i)) + w_q·q_i + b`` and
    ``satisfaction_logit = s_m·cos(θ_u, e_i) + s_q·q_i + s_b``, with θ_u the user's hidden
    interest (unit norm), e_i the unit item vector, z a standardisation over the catalogue and q_i
    the latent item quality.
    """

    def __init__(
        self, catalog: Catalog, config: ResponseConfig, satisfaction: SatisfactionConfig
    ) -> None:
        self.catalog = catalog
        self.config = config
        self.satisfaction = satisfaction
        self._item_bias = (
            config.popularity_weight * catalog.log_popularity_z
            + config.quality_weight * catalog.quality
            + config.bias
        ).astype(np.float64)
        self._sat_bias = (satisfaction.quality_weight * catalog.quality + satisfaction.bias).astype(
            np.float64
        )
        # Both logits as the two columns of one (…, 2) array: one product and one gather per
        # step instead of two each (the same arithmetic, so the same values).
        self._match_weights = np.array([config.match_weight, satisfaction.match_weight])
        self._biases = np.stack([self._item_bias, self._sat_bias], axis=1)

    def _cosine(self, state: UserState, items: np.ndarray) -> np.ndarray:
        # Elementwise product and a last-axis sum (not a matmul): each row is computed the same way
        # whatever the batch size, so N batched users reproduce N single-user runs exactly.
        return np.add.reduce(
            self.catalog.embeddings.take(items, axis=0) * state.interest[:, None, :],
            axis=-1,
            dtype=np.float64,
        )

    def attraction(self, state: UserState, items: np.ndarray) -> np.ndarray:
        return self.config.match_weight * self._cosine(state, items) + self._item_bias[items]

    def satisfaction_logit(self, state: UserState, items: np.ndarray) -> np.ndarray:
        return self.satisfaction.match_weight * self._cosine(state, items) + self._sat_bias[items]

    def scores(self, state: UserState, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Both logits from one gather of the item vectors (one cosine for both) and one gather
        of the two item biases; the logits are the two columns of one ``(N, k, 2)`` array."""
        logits = self._cosine(state, items)[..., None] * self._match_weights
        logits += self._biases.take(items, axis=0)
        return logits[..., 0], logits[..., 1]
