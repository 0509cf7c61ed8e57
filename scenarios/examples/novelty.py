"""Worked custom scenario: *novelty seekers*.

Shoppers who are drawn to what they have not been shown lately.  The behaviour reuses the standard
dynamics and adds one term to the click logit:

    attraction += novelty_bonus · (1 − Σ_c w_ic · X_uc)

where ``X_uc`` is the user's recent exposure share of category c (the observed exposure EMA) and
``w_ic`` the item's category weights: an item from a category the user has not seen recently gets
up to ``novelty_bonus`` extra logit.  ``novelty_bonus`` comes from ``behaviour.params``.

Registered three ways on import: the behaviour as ``novelty-seeker``, the scenario as
``novelty-seekers``, and (through ``pyproject.toml``) as a ``divrec_rl.scenarios`` entry point.
"""

from __future__ import annotations

import numpy as np

from divrec_rl.config import ScenarioConfig, ScenarioError
from divrec_rl.plugins import behaviour_params, register_behaviour, register_scenario
from divrec_rl.users.behaviour import SlateResponse, StandardBehaviour
from divrec_rl.users.state import UserState


@register_behaviour("novelty-seeker")
class NoveltySeekingBehaviour(StandardBehaviour):
    """Standard behaviour plus a click bonus for recently unseen categories (see module doc)."""

    def __init__(self, config: ScenarioConfig) -> None:
        super().__init__(config.behaviour, config.users.history_decay)
        # behaviour_params refuses a typo'd key and a non-number; the range is ours to check.
        bonus = behaviour_params(config, {"novelty_bonus": 1.0})["novelty_bonus"]
        if not 0.0 <= bonus <= 10.0:
            raise ScenarioError(
                "field 'behaviour.params.novelty_bonus': must be a number in [0, 10], "
                f"got {bonus:g}"
            )
        self.novelty_bonus = bonus

    def respond(
        self,
        state: UserState,
        slates: np.ndarray,
        attraction: np.ndarray,
        satisfaction_logit: np.ndarray,
        category_weights: np.ndarray,
    ) -> SlateResponse:
        seen = (category_weights * state.exposure[:, None, :]).sum(axis=-1)
        novel = attraction + self.novelty_bonus * (1.0 - seen)
        return super().respond(state, slates, novel, satisfaction_logit, category_weights)


def scenario() -> dict:
    """The ``novelty-seekers`` scenario: the synthetic shop with novelty-seeking users."""
    return {
        "name": "novelty-seekers",
        "description": (
            "The synthetic shop with shoppers drawn to categories they have not been shown lately "
            "(a click bonus for recently unseen categories). Use it as the worked example of a "
            "custom behaviour, or to check that an agent exploits a taste for novelty."
        ),
        "behaviour": {"model": "novelty-seeker", "params": {"novelty_bonus": 0.8}},
    }


register_scenario("novelty-seekers", scenario)
