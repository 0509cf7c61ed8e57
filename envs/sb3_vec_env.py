"""Stable-Baselines3 ``VecEnv`` face over the batched core (same-step autoreset, SB3 style)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvStepReturn

from divrec_rl.envs.slate_env import ScenarioSpec, make_simulator
from divrec_rl.resolve import DEFAULT_SCENARIO
from divrec_rl.simulator import UserSeeds

# Per-user info keys copied into SB3's list of info dicts (the slate stays in the batched arrays).
_INFO_KEYS = (
    "engagement",
    "diversity",
    "clicked",
    "position",
    "left",
    "returned",
    "patience",
    "session",
    "t",
)


class SlateRecVecEnv(VecEnv):
    """``n_envs`` simulated users for SB3 algorithms, one batched step per ``step()``.

    Follows SB3's conventions: ``seed(s)`` makes the next ``reset()`` seed user ``i`` with
    ``s + i`` (matching ``SlateRecEnv.reset(seed=s + i)``); finished users are reset in the same
    step, the final observation is in ``infos[i]["terminal_observation"]`` and truncation in
    ``infos[i]["TimeLimit.truncated"]``.  ``last_info`` keeps the batched info arrays of the last
    step (slates included) for callbacks that log diversity or coverage.
    """

    def __init__(
        self,
        n_envs: int = 1,
        scenario: ScenarioSpec = DEFAULT_SCENARIO,
        split: str = "train",
        diversity_weight: float | None = None,
        config: Mapping[str, Any] | None = None,
        config_files: list[str | Path] | None = None,
    ) -> None:
        self.simulator = make_simulator(
            scenario, n_envs, split, diversity_weight, config, config_files
        )
        super().__init__(n_envs, self.simulator.observation_space, self.simulator.action_space)
        self._user_seeds = UserSeeds(n_envs)
        self._actions: np.ndarray | None = None
        self._all = np.arange(n_envs)
        self.last_info: dict[str, np.ndarray] = {}

    def reset(self) -> dict[str, np.ndarray]:
        if any(s is not None for s in self._seeds):
            self._user_seeds.reseed(self._all, list(self._seeds))
        self.simulator.reset_users(self._all, self._user_seeds.draw_keys(self._all))
        self._reset_seeds()
        self._reset_options()
        return self.simulator.observe()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        assert self._actions is not None, "step_async must be called before step_wait"
        sim = self.simulator
        r = sim.step(self._actions)
        self._actions = None
        done = r.terminated | r.truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        arrays = {key: r.info[key].tolist() for key in _INFO_KEYS}
        for key, values in arrays.items():
            for i, v in enumerate(values):
                infos[i][key] = v
        obs = r.observation
        rows = np.flatnonzero(done)
        if len(rows):
            for i in rows:
                infos[i]["terminal_observation"] = {k: v[i].copy() for k, v in obs.items()}
                infos[i]["TimeLimit.truncated"] = bool(r.truncated[i] and not r.terminated[i])
            sim.reset_users(rows, self._user_seeds.draw_keys(rows))
            obs = sim.observe()
        self.last_info = r.info
        return obs, r.reward.astype(np.float32), done, infos

    def close(self) -> None:
        return None

    def _indices(self, indices: VecEnvIndices) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if isinstance(indices, int):
            return [indices]
        return list(indices)

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        if attr_name == "render_mode":
            return [None for _ in self._indices(indices)]
        value = getattr(self.simulator, attr_name)
        return [value for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self.simulator, attr_name, value)

    def env_method(
        self,
        method_name: str,
        *method_args: Any,
        indices: VecEnvIndices = None,
        **method_kwargs: Any,
    ) -> list[Any]:
        method = getattr(self.simulator, method_name)
        return [method(*method_args, **method_kwargs) for _ in self._indices(indices)]

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        return [False for _ in self._indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None for _ in range(self.num_envs)]


__all__ = ["SlateRecVecEnv"]
