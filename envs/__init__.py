"""Gymnasium and Stable-Baselines3 faces of the batched simulator.

Installed as ``divrec_rl.envs`` (nothing generic at the top level of site-packages).
``SlateRecVecEnv`` is imported on first use: it needs Stable-Baselines3, which imports torch
(over a second, and ~100k more objects for the garbage collector to track), and a plain
``gymnasium.make`` of the environment needs neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from divrec_rl.envs.slate_env import SlateRecEnv, make_simulator
from divrec_rl.envs.vector_env import SlateRecVectorEnv

if TYPE_CHECKING:
    from divrec_rl.envs.sb3_vec_env import SlateRecVecEnv

__all__ = ["SlateRecEnv", "SlateRecVecEnv", "SlateRecVectorEnv", "make_simulator"]


def __getattr__(name: str) -> Any:
    if name == "SlateRecVecEnv":
        from divrec_rl.envs.sb3_vec_env import SlateRecVecEnv

        return SlateRecVecEnv
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
