"""User behaviour: how users choose, what consumption is worth, how state evolves, when they leave.

The contract (:class:`UserBehaviour`) is batched over users and split into the RecSim pieces:
response to a slate (choice + engagement), next state, and done.  :class:`StandardBehaviour`
combines swappable parts configured by :class:`~divrec_rl.config.BehaviourConfig`:

* choice — multinomial logit with a no-click option (optional position bias) or cascade;
* boredom — fatigue per category
  ``F_c ← decay·F_c + w_exp·(slots of the slate in c) + w_cons·[consumed c]``
  lowers click logits by ``attraction_penalty·F`` and satisfaction logits by
  ``satisfaction_penalty·F`` (diminishing returns of repetition);
* engagement — a consumed item is worth ``s = σ(satisfaction_logit − satisfaction_penalty·F)``;
* drift — ``θ ← normalise((1−ρ)·θ + ρ·e_consumed)``: interest moves toward what is consumed;
* patience — ``p ← min(p_max, p − step_cost − no_click_cost·[no click] + refill·s)``, the user
  leaves when ``p ≤ 0``: a myopic policy that exhausts one category loses the user;
* return — optionally the user comes back for another session with probability
  ``σ(base + w·s̄)``, ``s̄`` the mean satisfaction per step of the session just ended.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from divrec_rl import kernels, rng
from divrec_rl.arrays import constant
from divrec_rl.config import BehaviourConfig
from divrec_rl.users.choice import cascade_probabilities, mnl_probabilities
from divrec_rl.users.state import UserState

_ONE = constant(1.0)
_ZERO_F64 = constant(0.0)
_TINY = constant(1e-12, np.float32)  # floor of an interest vector's norm


@dataclass
class SlateResponse:
    """What N users did with their slates this step.

    ``position``: slot clicked (0..k−1) or −1; ``item``: row index of the consumed item or −1;
    ``engagement``: value of the consumption in [0, 1] (0 without a click); ``probabilities``:
    ``(N, k+1)`` choice probabilities, last column no click.
    """

    position: np.ndarray
    item: np.ndarray
    engagement: np.ndarray
    probabilities: np.ndarray


class UserBehaviour(ABC):
    """Batched user-behaviour contract.  Implementations must be pure functions of the state and
    the per-user random streams (``divrec_rl.rng``) so that batches reproduce single users.

    A behaviour implements only its own state change and response: :meth:`respond`,
    :meth:`update`, :meth:`leaves`, optionally :meth:`returns` and :meth:`start_session`.  The
    simulator owns the bookkeeping fields of :class:`~divrec_rl.users.state.UserState` (``key``,
    ``t``, ``session``, ``session_step``, ``session_satisfaction``, ``session_clicks``,
    ``last_click``, ``active``, ``user_index``): it updates them after :meth:`update` and zeroes
    the per-session ones before :meth:`start_session`.  Behaviours may read them, never write.
    """

    @abstractmethod
    def respond(
        self,
        state: UserState,
        slates: np.ndarray,
        attraction: np.ndarray,
        satisfaction_logit: np.ndarray,
        category_weights: np.ndarray,
    ) -> SlateResponse:
        """Choose and consume.  ``attraction``/``satisfaction_logit``: ``(N, k)`` from the
        response model; ``category_weights``: ``(N, k, C)`` of the slate items."""

    @abstractmethod
    def update(
        self,
        state: UserState,
        slates: np.ndarray,
        response: SlateResponse,
        item_vectors: np.ndarray,
        category_weights: np.ndarray,
    ) -> None:
        """Advance the behaviour's own fields of ``state`` in place for the rows where
        ``state.active`` (rows of users who left must keep their values)."""

    @abstractmethod
    def leaves(self, state: UserState) -> np.ndarray:
        """``(N,)`` bool: the user ends the current session now."""

    def returns(self, state: UserState) -> np.ndarray:
        """``(N,)`` bool: a user whose session ended starts another.  Default: never."""
        return np.zeros(state.n, dtype=bool)

    def start_session(self, state: UserState, rows: np.ndarray) -> None:
        """Hook: set the behaviour's own per-session fields of ``rows`` (patience, fatigue
        recovery, …) at the start of an episode or of a returning session.  Default: nothing.
        The simulator has already zeroed its bookkeeping (``session_step``, ``last_click``, …)."""


class StandardBehaviour(UserBehaviour):
    """The configurable behaviour described in the module docstring.

    ``config`` is read once, here: the per-step coefficients are kept as 0-d arrays, so a later
    change of ``config`` does not reach the dynamics (build a new behaviour instead).
    """

    def __init__(self, config: BehaviourConfig, history_decay: float) -> None:
        self.config = config
        self.history_decay = history_decay
        # The per-step coefficients as 0-d arrays of the dtype they meet (float32 state, float64
        # logits and patience): the values of the config's numbers, less overhead per call
        # (divrec_rl.arrays).
        f32, b, p = np.float32, config.boredom, config.patience
        self._attraction_penalty = constant(b.attraction_penalty, f32)
        self._satisfaction_penalty = constant(b.satisfaction_penalty, f32)
        # The compiled update's coefficients (divrec_rl.kernels.fold_slate, fold_consumed) as
        # NumPy scalars of the same dtypes.
        self._slate_terms = (f32(b.decay), f32(b.exposure_weight), f32(history_decay))
        self._drift_terms = (f32(b.consume_weight), f32(config.drift.rate))
        self._consumed_terms = (
            f32(1.0 - history_decay),
            float(p.refill),
            float(p.step_cost),
            float(p.no_click_cost),
            float(p.maximum),
        )
        self._slot_shares: dict[int, np.float32] = {}

    def boredom(self, state: UserState, category_weights: np.ndarray) -> np.ndarray:
        """Fatigue of each slate item's categories, ``(N, k)``: ``Σ_c w_ic F_uc``."""
        return np.add.reduce(category_weights * state.fatigue[:, None, :], -1)

    def choice_probabilities(self, attraction: np.ndarray) -> np.ndarray:
        """``(N, k+1)`` outcome probabilities from boredom-adjusted click logits."""
        c = self.config.choice
        if c.model == "cascade":
            return cascade_probabilities(attraction, c.no_click_logit, c.cascade_continue)
        return mnl_probabilities(attraction, c.no_click_logit, c.position_bias)

    def item_terms(
        self,
        state: UserState,
        attraction: np.ndarray,
        satisfaction_logit: np.ndarray,
        category_weights: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-item terms of the immediate response for any ``m`` items per user under the
        current (hidden) state: ``(click_logit, value)``, each ``(N, m)``.

        ``click_logit = a − attraction_penalty·B`` (what :meth:`choice_probabilities` takes,
        before position effects) and ``value = σ(s − satisfaction_penalty·B)``, the engagement
        if the item is consumed, with ``B`` = :meth:`boredom` — the same arithmetic as
        :meth:`respond`.  ``category_weights``: ``(N, m, C)`` of the items.
        """
        bored = self.boredom(state, category_weights)
        click_logit = attraction - self._attraction_penalty * bored
        value = _ONE / (_ONE + np.exp(-(satisfaction_logit - self._satisfaction_penalty * bored)))
        return click_logit, value

    def expected_engagement(
        self,
        state: UserState,
        attraction: np.ndarray,
        satisfaction_logit: np.ndarray,
        category_weights: np.ndarray,
    ) -> np.ndarray:
        """Expected engagement ``(N,)`` of this step for slates given in slot order (the
        ``(N, k)`` logits of the response model and ``(N, k, C)`` category weights of their
        items): ``Σ_j P(click j)·value_j``, ``P`` the choice model of the scenario (position bias,
        cascade) and ``value`` from :meth:`item_terms`.  Exactly the mean of
        ``respond(...).engagement`` over the choice draw."""
        click_logit, value = self.item_terms(
            state, attraction, satisfaction_logit, category_weights
        )
        probs = self.choice_probabilities(click_logit)
        return np.add.reduce(probs[:, :-1] * value, axis=1)

    def respond(
        self,
        state: UserState,
        slates: np.ndarray,
        attraction: np.ndarray,
        satisfaction_logit: np.ndarray,
        category_weights: np.ndarray,
    ) -> SlateResponse:
        n = len(slates)
        click_logit, value = self.item_terms(
            state, attraction, satisfaction_logit, category_weights
        )
        probs = self.choice_probabilities(click_logit)
        u = rng.uniforms(state.key, state.t, rng.STREAM_CHOICE, 1)
        # The inverse-CDF sample of sample_choice and the clicked slot's item and value (−1, −1
        # and 0 without a click or for a user who left), in one compiled pass.
        position, item = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
        engagement = np.empty(n)
        kernels.choose(probs, u[:, 0], state.active, slates, value, position, item, engagement)
        return SlateResponse(position, item, engagement, probs)

    def update(
        self,
        state: UserState,
        slates: np.ndarray,
        response: SlateResponse,
        item_vectors: np.ndarray,
        category_weights: np.ndarray,
    ) -> None:
        # Rows of users who already left keep their final state (the loops skip them).
        shown = np.add.reduce(category_weights, 1)  # (N, C) slots per category
        position = response.position
        kernels.fold_slate(
            state.fatigue,
            state.exposure,
            state.interest,
            state.active,
            position,
            shown,
            item_vectors,
            category_weights,
            *self._slate_terms,
            self._slot_share(slates.shape[1]),
            *self._drift_terms,
        )
        # Re-normalising the drifted interest needs a row's squared norm summed as NumPy sums
        # (pairwise), so it stays an array call between the two compiled halves.
        interest = state.interest
        norm = np.maximum(np.sqrt(np.add.reduce(interest * interest, 1)), _TINY)
        kernels.fold_consumed(
            interest,
            state.history,
            state.category_history,
            state.patience,
            state.active,
            position,
            response.engagement,
            norm,
            item_vectors,
            category_weights,
            *self._consumed_terms,
        )

    def _slot_share(self, k: int) -> np.float32:
        """``(1 − h)/k``, the exposure EMA's weight of one slot of a slate of ``k``, as float32."""
        share = self._slot_shares.get(k)
        if share is None:
            share = self._slot_shares[k] = np.float32((1.0 - self.history_decay) / k)
        return share

    def leaves(self, state: UserState) -> np.ndarray:
        return state.active & (state.patience <= _ZERO_F64)

    def returns(self, state: UserState) -> np.ndarray:
        r = self.config.return_model
        if not r.enabled:
            return np.zeros(state.n, dtype=bool)
        mean_sat = state.session_satisfaction / np.maximum(state.session_step, 1)
        p_return = 1.0 / (1.0 + np.exp(-(r.base_logit + r.satisfaction_weight * mean_sat)))
        u = rng.uniforms(state.key, state.t, rng.STREAM_RETURN, 1)[:, 0]
        return (u < p_return) & (state.session + 1 < r.max_sessions)

    def start_session(self, state: UserState, rows: np.ndarray) -> None:
        state.patience[rows] = self.config.patience.initial
        if self.config.return_model.enabled:
            state.fatigue[rows] *= 1.0 - self.config.return_model.fatigue_recovery
