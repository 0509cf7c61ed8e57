"""Stable-Baselines3 ``VecEnv`` face over the batched core (same-step autoreset, SB3 style)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvStepReturn

from divrec_rl import ENV_ID
from divrec_rl.envs.slate_env import ScenarioSpec, make_simulator
from divrec_rl.envs.vector_env import check_num_envs, seeds_for
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
    step (slates included) for callbacks that log diversity or coverage.  ``step`` before the
    first ``reset()`` raises ``gymnasium.error.ResetNeeded``.

    The N users share one simulator, so the per-env calls of SB3's ``VecEnv`` mean:

    - ``get_attr(name, indices)``: one entry per index.  ``render_mode`` is None (nothing is
      rendered), ``metadata`` this VecEnv's, ``spec`` the ``EnvSpec`` of a single-user
      ``divrec_rl/SlateRec-v0`` env of the same scenario; any other name is the simulator's
      attribute, shared by all users (the same object at every index).
    - ``set_attr`` and ``env_method`` act on the shared simulator, once (a method is called
      once, its result repeated per index).  ``indices`` naming only some users raises
      ``ValueError``: the change or call would reach every user.
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
        n_envs = check_num_envs("n_envs", n_envs)
        self.simulator = make_simulator(
            scenario, n_envs, split, diversity_weight, config, config_files
        )
        super().__init__(n_envs, self.simulator.observation_space, self.simulator.action_space)
        self._user_seeds = UserSeeds(n_envs)
        self._actions: np.ndarray | None = None
        self._all = np.arange(n_envs)
        # Users start inactive: before a reset, a step would silently give 0 reward forever.
        self._needs_reset = True
        self.last_info: dict[str, np.ndarray] = {}
        # What gym.make needs to build one of these users alone (get_attr("spec")).
        self._single_kwargs = {
            "scenario": scenario,
            "split": split,
            "diversity_weight": diversity_weight,
            "config": config,
            "config_files": config_files,
        }

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """SB3's ``seed``: user ``i`` gets ``seed + i`` at the next ``reset()``.  ``seed`` is
        checked now (a non-negative int or None), so the error names it, not numpy's seeding."""
        if seed is not None:
            seeds_for(seed, self.num_envs)
        return super().seed(seed)

    def reset(self) -> dict[str, np.ndarray]:
        seeds = seeds_for(list(self._seeds), self.num_envs)  # all checked before any reseeding
        if any(s is not None for s in seeds):
            self._user_seeds.reseed(self._all, seeds)
        self.simulator.reset_users(self._all, self._user_seeds.draw_keys(self._all))
        self._needs_reset = False
        self._reset_seeds()
        self._reset_options()
        return self.simulator.observe()

    def mark_restored(self) -> None:
        """The users' state, buffers and generators were restored from a training checkpoint
        (:func:`divrec_rl.training.checkpoint.restore_env_state`): they are mid-episode as when
        it was written, so stepping needs no ``reset()`` (which would start new episodes)."""
        self._needs_reset = False

    def step_async(self, actions: np.ndarray) -> None:
        if self._needs_reset:
            raise gym.error.ResetNeeded("step: call reset() before the first step()")
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
        """``indices`` as a list of user rows in ``[0, num_envs)`` (negative ones count from the
        end, as SB3's list indexing does); ``IndexError`` naming ``indices`` otherwise."""
        if indices is None:
            return list(range(self.num_envs))
        rows = [indices] if isinstance(indices, int | np.integer) else list(indices)
        n = self.num_envs
        for i in rows:
            if not -n <= i < n:
                raise IndexError(f"indices: {i} is outside the {n} envs")
        return [int(i) % n for i in rows]

    def _shared(self, what: str, indices: VecEnvIndices) -> list[int]:
        """The rows of ``indices``, if they name every user; ``ValueError`` if they name only
        some: ``what`` (a set_attr or env_method) reaches the one simulator all users share."""
        rows = self._indices(indices)
        if rows and set(rows) != set(range(self.num_envs)):
            raise ValueError(
                f"{what}: the {self.num_envs} users share one simulator, so it applies to all "
                f"of them; pass indices=None, not {indices!r}"
            )
        return rows

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        rows = self._indices(indices)
        if attr_name == "render_mode":
            return [None for _ in rows]
        if attr_name == "metadata":
            return [dict(self.metadata) for _ in rows]
        if attr_name == "spec":
            spec = dataclasses.replace(gym.spec(ENV_ID), kwargs=dict(self._single_kwargs))
            return [spec for _ in rows]
        value = getattr(self.simulator, attr_name)
        return [value for _ in rows]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        if self._shared(f"set_attr({attr_name!r})", indices):
            setattr(self.simulator, attr_name, value)

    def env_method(
        self,
        method_name: str,
        *method_args: Any,
        indices: VecEnvIndices = None,
        **method_kwargs: Any,
    ) -> list[Any]:
        rows = self._shared(f"env_method({method_name!r})", indices)
        if not rows:
            return []
        result = getattr(self.simulator, method_name)(*method_args, **method_kwargs)
        return [result for _ in rows]

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        return [False for _ in self._indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None for _ in range(self.num_envs)]


__all__ = ["SlateRecVecEnv"]
