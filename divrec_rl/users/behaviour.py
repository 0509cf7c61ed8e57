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

from divrec_rl import rng
from divrec_rl.arrays import all_true, any_true, arange_cached, constant, row_starts
from divrec_rl.config import BehaviourConfig
from divrec_rl.users.choice import cascade_probabilities, mnl_probabilities, sample_choice
from divrec_rl.users.state import UserState

_ONE = constant(1.0)
_ZERO = constant(0, np.int64)
_NONE = constant(-1, np.int64)  # position and item of "no click"
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
        self._fatigue_decay = constant(b.decay, f32)
        self._exposure_weight = constant(b.exposure_weight, f32)
        self._consume_weight = constant(b.consume_weight, f32)
        self._drift_rate = constant(config.drift.rate, f32)
        self._history_decay = constant(history_decay, f32)
        self._history_weight = constant(1.0 - history_decay, f32)
        self._refill = constant(p.refill)
        self._step_cost = constant(p.step_cost)
        self._no_click_cost = constant(p.no_click_cost)
        self._max_patience = constant(p.maximum)
        self._slot_shares: dict[int, np.ndarray] = {}

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
        n, k = slates.shape
        click_logit, value = self.item_terms(
            state, attraction, satisfaction_logit, category_weights
        )
        probs = self.choice_probabilities(click_logit)
        u = rng.uniforms(state.key, state.t, rng.STREAM_CHOICE, 1)
        pos = sample_choice(probs, u[:, 0])
        clicked = (pos < k) & state.active  # (cheaper than testing whether everyone is active)
        # Gather the clicked slot (slot k−1 stands in for "no click"; masked below).
        flat = row_starts(n, k) + np.minimum(pos, k - 1)
        return SlateResponse(
            position=np.where(clicked, pos, _NONE),
            item=np.where(clicked, slates.take(flat), _NONE),
            # value·1 = value and value·0 = 0 exactly (value is finite): the engagement of the
            # consumed item, 0 without a click.
            engagement=value.take(flat) * clicked,
            probabilities=probs,
        )

    def update(
        self,
        state: UserState,
        slates: np.ndarray,
        response: SlateResponse,
        item_vectors: np.ndarray,
        category_weights: np.ndarray,
    ) -> None:
        clicked = response.position >= _ZERO
        # Update everyone in place (no temporaries for the common all-active batch), then put
        # back the rows of users who already left: they must keep their final state.
        inactive = None if all_true(state.active) else np.flatnonzero(~state.active)
        saved = state.take(inactive) if inactive is not None else None
        shown = np.add.reduce(category_weights, 1)  # (N, C) slots per category

        state.fatigue *= self._fatigue_decay
        state.fatigue += self._exposure_weight * shown
        state.exposure *= self._history_decay
        state.exposure += self._slot_share(slates.shape[1]) * shown
        everyone_clicked = any_true(clicked) and self._consume(
            state, clicked, response.position, item_vectors, category_weights
        )

        if everyone_clicked:  # the no-click cost term is exactly 0
            change = self._refill * response.engagement - self._step_cost
        else:
            change = (
                self._refill * response.engagement
                - self._no_click_cost * ~clicked
                - self._step_cost
            )
        # min/max rather than np.clip: same values, a fraction of np.clip's call overhead; the
        # result is copied in rather than computed in place (one-element arrays, module arrays).
        patience = np.minimum(state.patience + change, self._max_patience)
        state.patience[...] = np.maximum(patience, _ZERO_F64)
        if saved is not None:
            state.assign(inactive, saved)

    def _slot_share(self, k: int) -> np.ndarray:
        """``(1 − h)/k``, the exposure EMA's weight of one slot of a slate of ``k``, as float32."""
        share = self._slot_shares.get(k)
        if share is None:
            share = self._slot_shares[k] = constant((1.0 - self.history_decay) / k, np.float32)
        return share

    def _consume(
        self,
        state: UserState,
        clicked: np.ndarray,
        position: np.ndarray,
        item_vectors: np.ndarray,
        category_weights: np.ndarray,
    ) -> bool:
        """Fold the consumed items into fatigue, interest (drift) and the observed histories of
        the users who clicked; returns whether every user clicked."""
        # The consumed item's rows, (N, d) and (N, C), meaningful where clicked (indexing works
        # on any memory layout of the (N, k, ·) inputs).
        rows, slot = arange_cached(len(position)), np.maximum(position, _ZERO)
        consumed_vec = item_vectors[rows, slot]
        consumed_cat = category_weights[rows, slot]
        consume_w, drift_w, hist_w = self._consume_weight, self._drift_rate, self._history_weight
        if everyone_clicked := all_true(clicked):
            # The same arithmetic as the masked form below without the 0/1 weights
            # (x·1.0 = x exactly), so a batch where everybody clicked matches any other.
            click_col = None
        else:
            click_col = clicked[:, None].astype(np.float32)
            consume_w, drift_w, hist_w = (
                consume_w * click_col,
                drift_w * click_col,
                hist_w * click_col,
            )
        state.fatigue += consume_w * consumed_cat
        interest = state.interest
        interest += drift_w * (consumed_vec - interest)
        # Re-normalise only the rows that moved: a row's result must not depend on whether
        # another user in the batch clicked (batches reproduce single users bit for bit).
        norm = np.maximum(np.sqrt(np.add.reduce(interest * interest, axis=1, keepdims=True)), _TINY)
        if click_col is None:
            interest /= norm
        else:
            np.divide(interest, norm, out=interest, where=click_col > 0)
        state.history += hist_w * (consumed_vec - state.history)
        state.category_history += hist_w * (consumed_cat - state.category_history)
        return everyone_clicked

    def leaves(self, state: UserState) -> np.ndarray:
        return state.active & (state.patience <= 0.0)

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
