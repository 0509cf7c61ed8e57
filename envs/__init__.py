"""Gymnasium and Stable-Baselines3 faces of the batched simulator.

Installed as ``divrec_rl.envs`` (nothing generic at the top level of site-packages).
"""

from divrec_rl.envs.sb3_vec_env import SlateRecVecEnv
from divrec_rl.envs.slate_env import SlateRecEnv, make_simulator
from divrec_rl.envs.vector_env import SlateRecVectorEnv

__all__ = ["SlateRecEnv", "SlateRecVecEnv", "SlateRecVectorEnv", "make_simulator"]
