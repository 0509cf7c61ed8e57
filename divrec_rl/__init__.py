"""divrec-rl: a reinforcement-learning recommendation simulator.

Importing the package registers the Gymnasium environment ``divrec_rl/SlateRec-v0`` (with a
``vector_entry_point`` that returns the batched core as a Gymnasium ``VectorEnv``).
"""

from __future__ import annotations

import gymnasium

from divrec_rl.config import ScenarioConfig, ScenarioError
from divrec_rl.resolve import register_scenario, resolve_scenario, scenario_names

__version__ = "0.1.0"
ENV_ID = "divrec_rl/SlateRec-v0"

if ENV_ID not in gymnasium.registry:
    gymnasium.register(
        id=ENV_ID,
        entry_point="divrec_rl.envs.slate_env:SlateRecEnv",
        vector_entry_point="divrec_rl.envs.vector_env:SlateRecVectorEnv",
        kwargs={"scenario": "synthetic-shop"},
    )

__all__ = [
    "ENV_ID",
    "ScenarioConfig",
    "ScenarioError",
    "register_scenario",
    "resolve_scenario",
    "scenario_names",
]
