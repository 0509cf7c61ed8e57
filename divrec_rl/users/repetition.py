"""A second user behaviour for cross-checks: users who quit on repetition (KuaiEnv-style exit).

KuaiEnv (Gao et al., "CIRS: Bursting Filter Bubbles by Counterfactual Interactive Recommender
System", TOIS 2023) ends an interaction when the recommendations repeat one category too often
within a recent window.  Here the window is the observed exposure EMA the standard behaviour
already keeps (``h`` = ``users.history_decay``)::

    E_c ← h·E_c + (1 − h)·(slots of the slate in c)/k
    leave the session when max_c E_c ≥ quit_share

— "more than ``quit_share`` of the recently shown slots were one category" (``E`` starts at 0,
so a one-category feed quits after ``⌈log(1 − quit_share)/log h⌉`` steps: 5 with the defaults).
The immediate response (choice model, engagement ``σ(satisfaction logit)``, drift) is the
standard behaviour's, but boredom lowers no logit and patience ends no session: the repetition
exit is the only long-term mechanism.  A ranking of agents that survives this swap does not rest
on the patience and boredom dynamics they were trained and tuned under.

``behaviour.model: quit-on-repetition``; ``behaviour.params.quit_share`` in (0, 1], default 0.5.
"""

from __future__ import annotations

import numpy as np

from divrec_rl.config import BehaviourConfig, ScenarioConfig, ScenarioError
from divrec_rl.users.behaviour import StandardBehaviour
from divrec_rl.users.state import UserState

__all__ = ["RepetitionQuitBehaviour", "quit_on_repetition"]

DEFAULT_QUIT_SHARE = 0.5


class RepetitionQuitBehaviour(StandardBehaviour):
    """Standard immediate response without boredom; leaves when one category dominates the
    recently shown slots (module docstring).

    Parameters
    ----------
    config:
        The scenario's behaviour section; ``params`` may hold ``quit_share`` only.
    history_decay:
        ``h`` of the exposure EMA (``users.history_decay``).
    """

    def __init__(self, config: BehaviourConfig, history_decay: float) -> None:
        params = dict(config.params)
        quit_share = params.pop("quit_share", DEFAULT_QUIT_SHARE)
        if params:
            raise ScenarioError(
                f"field 'behaviour.params': unknown key(s) {', '.join(sorted(params))} for "
                "quit-on-repetition (allowed: quit_share)"
            )
        if isinstance(quit_share, bool) or not isinstance(quit_share, int | float):
            raise ScenarioError(
                f"field 'behaviour.params.quit_share': must be a number, got {quit_share!r}"
            )
        if not 0.0 < quit_share <= 1.0:
            raise ScenarioError(
                f"field 'behaviour.params.quit_share': must be in (0, 1], got {quit_share}"
            )
        boredom = config.boredom.model_copy(
            update={"attraction_penalty": 0.0, "satisfaction_penalty": 0.0}
        )
        super().__init__(config.model_copy(update={"boredom": boredom}), history_decay)
        self.quit_share = float(quit_share)

    def leaves(self, state: UserState) -> np.ndarray:
        return state.active & (np.max(state.exposure, axis=1) >= self.quit_share)


def quit_on_repetition(cfg: ScenarioConfig) -> RepetitionQuitBehaviour:
    """``behaviour.model: quit-on-repetition`` (declared in :mod:`divrec_rl.parts`)."""
    return RepetitionQuitBehaviour(cfg.behaviour, cfg.users.history_decay)
