"""Gymnasium ``VectorEnv`` face: N users of the batched core, Gymnasium's next-step autoreset."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from divrec_rl.envs.slate_env import ScenarioSpec, make_simulator
from divrec_rl.resolve import DEFAULT_SCENARIO
from divrec_rl.simulator import UserSeeds


def seeds_for(seed: int | list[int | None] | None, n: int) -> list[int | None] | None:
    """Per-user seeds as Gymnasium's vector envs derive them: ``seed + i`` (or a list as given)."""
    if seed is None:
        return None
    if isinstance(seed, int | np.integer):
        return [int(seed) + i for i in range(n)]
    if len(seed) != n:
        raise ValueError(f"seed: expected {n} seeds (one per env), got {len(seed)}")
    return list(seed)


class SlateRecVectorEnv(VectorEnv):
    """``num_envs`` users advanced together by one :class:`~divrec_rl.simulator.SlateSimulator`.

    ``gymnasium.make_vec("divrec_rl/SlateRec-v0", num_envs=N,
    vectorization_mode="vector_entry_point", scenario=...)`` returns this class.
    ``reset(seed=s)`` seeds user ``i`` with ``s + i``, so it
    reproduces N single-user envs seeded the same way, step for step.  Autoreset follows
    Gymnasium's ``NEXT_STEP`` mode: the step after an episode ends resets that user (its action is
    ignored, reward 0, not done; it must still be finite and inside the box, as every action
    is checked).  ``info`` holds one array per key plus ``_key`` masks.
    """

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int = 1,
        scenario: ScenarioSpec = DEFAULT_SCENARIO,
        split: str = "train",
        diversity_weight: float | None = None,
        config: Mapping[str, Any] | None = None,
        config_files: list[str | Path] | None = None,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None:
            raise ValueError(
                f"render_mode: the vector env renders nothing; must be None, got {render_mode!r}"
            )
        self.simulator = make_simulator(
            scenario, num_envs, split, diversity_weight, config, config_files
        )
        self.num_envs = num_envs
        self.single_observation_space = self.simulator.observation_space
        self.single_action_space = self.simulator.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.render_mode = None
        self._seeds = UserSeeds(num_envs)
        self._autoreset = np.zeros(num_envs, dtype=bool)
        self._all = np.arange(num_envs)

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        seeds = seeds_for(seed, self.num_envs)
        if seeds is not None:
            self._seeds.reseed(self._all, seeds)
            self.action_space.seed(seeds[0])
            self.observation_space.seed(seeds[0])
        self.simulator.reset_users(self._all, self._seeds.draw_keys(self._all))
        self._autoreset[:] = False
        return self.simulator.observe(), {}

    def step(
        self, actions: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        rows = np.flatnonzero(self._autoreset)
        if len(rows):
            # Check before drawing the reset keys, so a rejected action changes nothing.
            self.simulator.check_actions(actions)
            r = self.simulator.step(actions, rows, self._seeds.draw_keys(rows))
        else:
            r = self.simulator.step(actions)
        done = r.terminated | r.truncated
        self._autoreset = done
        stepped = r.info["active"]
        info: dict[str, Any] = {}
        for key, value in r.info.items():
            info[key] = value
            info[f"_{key}"] = stepped
        return r.observation, r.reward, r.terminated, r.truncated, info
