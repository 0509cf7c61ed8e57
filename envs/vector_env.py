"""Gymnasium ``VectorEnv`` face: N users of the batched core, Gymnasium's next-step autoreset."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from divrec_rl.envs.slate_env import ScenarioSpec, make_simulator
from divrec_rl.resolve import DEFAULT_SCENARIO
from divrec_rl.simulator import UserSeeds

_SEED_FORMS = (
    "a non-negative int, None, or a list of one seed per env (each a non-negative int or None)"
)


def _is_int(value: object) -> bool:
    """Whether ``value`` is an integer (Python or NumPy), not a bool."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def check_num_envs(name: str, value: object) -> int:
    """``value`` as the number of users of a batched face (an int ≥ 1); ``TypeError`` or
    ``ValueError`` naming the face's argument ``name`` (``num_envs``, ``n_envs``) otherwise,
    before the simulator is built (it would name its own ``n_users``)."""
    if not _is_int(value):
        raise TypeError(f"{name}: must be an int ≥ 1, got {type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{name}: must be an int ≥ 1, got {value}")
    return int(value)


def seeds_for(seed: object, n: int) -> list[int | None] | None:
    """Per-user seeds as Gymnasium's vector envs derive them: ``seed + i`` (or a list as given).

    Every seed is checked here, before a face reseeds anything, so a rejected ``seed`` changes no
    user: ``TypeError``/``ValueError`` naming ``seed`` and the allowed forms (:data:`_SEED_FORMS`).
    """
    if seed is None:
        return None
    if _is_int(seed):
        if seed < 0:
            raise ValueError(f"seed: must be {_SEED_FORMS}; got {seed}")
        return [int(seed) + i for i in range(n)]
    if not isinstance(seed, list | tuple | np.ndarray):
        raise TypeError(f"seed: must be {_SEED_FORMS}; got {type(seed).__name__} {seed!r}")
    if len(seed) != n:
        raise ValueError(f"seed: a list must hold one seed per env ({n}), got {len(seed)}")
    for s in seed:
        if not (s is None or _is_int(s)):
            raise TypeError(f"seed: must be {_SEED_FORMS}; got an entry {type(s).__name__} {s!r}")
        if s is not None and s < 0:
            raise ValueError(f"seed: must be {_SEED_FORMS}; got an entry {s}")
    return [None if s is None else int(s) for s in seed]


def reset_rows(options: Mapping[str, Any] | None, n: int) -> np.ndarray | None:
    """The users named by ``options["reset_mask"]`` (Gymnasium's partial reset), ``None`` without
    a mask; the mask is checked as Gymnasium's sync vector env checks it (a bool array of shape
    ``(n,)`` with a True entry), with errors naming ``options['reset_mask']``."""
    if not options or "reset_mask" not in options:
        return None
    mask = options["reset_mask"]
    name = "options['reset_mask']"
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
        what = f"{mask.dtype} array" if isinstance(mask, np.ndarray) else type(mask).__name__
        raise TypeError(f"{name}: must be a numpy bool array of shape ({n},), got {what}")
    if mask.shape != (n,):
        raise ValueError(f"{name}: must have shape ({n},), got {mask.shape}")
    if not mask.any():
        raise ValueError(f"{name}: must select at least one env, got no True entry")
    return np.flatnonzero(mask)


class SlateRecVectorEnv(VectorEnv):
    """``num_envs`` users advanced together by one :class:`~divrec_rl.simulator.SlateSimulator`.

    ``gymnasium.make_vec("divrec_rl/SlateRec-v0", num_envs=N,
    vectorization_mode="vector_entry_point", scenario=...)`` returns this class.
    ``reset(seed=s)`` seeds user ``i`` with ``s + i``, so it
    reproduces N single-user envs seeded the same way, step for step.  Autoreset follows
    Gymnasium's ``NEXT_STEP`` mode: the step after an episode ends resets that user (its action is
    ignored, reward 0, not done; it must still be finite and inside the box, as every action
    is checked).  ``info`` holds one array per key plus ``_key`` masks.
    ``reset(options={"reset_mask": mask})`` resets only the masked users (with their seeds, if
    given) and cancels their pending autoreset, as Gymnasium's sync vector env does.  ``step``
    before every user was reset once raises ``gymnasium.error.ResetNeeded``.  The episode
    horizon is the scenario's ``episode.max_steps`` (``make_vec``'s ``max_episode_steps`` is
    not used).
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
        max_episode_steps: int | None = None,
    ) -> None:
        num_envs = check_num_envs("num_envs", num_envs)
        if max_episode_steps is not None:
            # make_vec passes max_episode_steps on to here; a clear refusal beats a silent no-op.
            raise ValueError(
                "max_episode_steps: the vector env's horizon is the scenario's episode.max_steps; "
                f'pass config={{"episode": {{"max_steps": {max_episode_steps}}}}} instead'
            )
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
        # Users start inactive: until each was reset once, a step would silently give 0 reward.
        self._never_reset = np.ones(num_envs, dtype=bool)
        self._needs_reset = True  # _never_reset.any(), kept by reset() so step() reads one bool

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        seeds = seeds_for(seed, self.num_envs)
        rows = reset_rows(options, self.num_envs)
        if rows is None:
            rows = self._all
            if seeds is not None:
                self.action_space.seed(seeds[0])
                self.observation_space.seed(seeds[0])
        if seeds is not None:
            self._seeds.reseed(rows, [seeds[i] for i in rows])
        self.simulator.reset_users(rows, self._seeds.draw_keys(rows))
        self._autoreset[rows] = False
        self._never_reset[rows] = False
        self._needs_reset = bool(self._never_reset.any())
        return self.simulator.observe(), {}

    def step(
        self, actions: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self._needs_reset:
            never = np.flatnonzero(self._never_reset).tolist()
            raise ResetNeeded(f"step: call reset() first; envs {never} were never reset")
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
