"""Single-user ``gymnasium.Env`` face: the batched core with N = 1."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from divrec_rl.config import ScenarioConfig
from divrec_rl.resolve import DEFAULT_SCENARIO, resolve_scenario
from divrec_rl.reward import check_diversity_weight
from divrec_rl.scenario import Scenario, build_scenario
from divrec_rl.simulator import SlateSimulator, StepResult, draw_episode_key
from divrec_rl.slate import action_shape_error

ScenarioSpec = str | os.PathLike[str] | ScenarioConfig | Mapping[str, Any] | Scenario

_SCENARIO_FORMS = (
    "a scenario name, 'module:attr', a YAML file path, a mapping of scenario fields, "
    "a ScenarioConfig or a built Scenario"
)


def check_scenario_spec(scenario: object) -> ScenarioSpec:
    """``scenario`` as given to an environment, if it has one of the allowed forms (a path-like
    becomes its string); ``TypeError`` naming ``scenario`` and the forms otherwise."""
    if isinstance(scenario, os.PathLike):
        return os.fspath(scenario)
    if isinstance(scenario, str | ScenarioConfig | Mapping | Scenario):
        return scenario
    raise TypeError(
        f"scenario: must be {_SCENARIO_FORMS}; got {type(scenario).__name__} {scenario!r}"
    )


def make_simulator(
    scenario: ScenarioSpec,
    n_users: int,
    split: str = "train",
    diversity_weight: float | None = None,
    config: Mapping[str, Any] | None = None,
    config_files: list[str | Path] | None = None,
) -> SlateSimulator:
    """Resolve, layer, validate and build a scenario, then wrap it in a batched simulator.

    ``config`` is a nested mapping of overrides (highest precedence); ``config_files`` are extra
    YAML files applied before it.  Every face builds its simulator here, so the argument checks
    (``scenario``'s form, ``diversity_weight`` a number in [0, 100]) run before any building.
    """
    scenario = check_scenario_spec(scenario)
    diversity_weight = check_diversity_weight(diversity_weight)
    if config is not None and not isinstance(config, Mapping):
        raise TypeError(
            f"config: must be a mapping of scenario fields (or None), got {type(config).__name__}"
        )
    if isinstance(scenario, Scenario):
        built = scenario
        if config or config_files:
            built = build_scenario(resolve_scenario(scenario.config, config_files, config))
    else:
        built = build_scenario(resolve_scenario(scenario, config_files, config))
    return SlateSimulator(built, n_users, split=split, diversity_weight=diversity_weight)


def row_info(info: dict[str, np.ndarray], i: int) -> dict[str, Any]:
    """The ``info`` of user ``i`` as Python scalars (``slate`` stays an array)."""
    return {
        key: value.item(i) if value.ndim == 1 else value[i].copy() for key, value in info.items()
    }


class SlateRecEnv(gym.Env):
    """One simulated user receiving slates.  Registered as ``divrec_rl/SlateRec-v0``.

    Parameters
    ----------
    scenario:
        Scenario name, ``module:attr``, YAML path (a string or path-like),
        :class:`ScenarioConfig`, mapping or built :class:`Scenario` (default ``synthetic-shop``);
        anything else raises ``TypeError`` naming ``scenario``.
    split:
        ``train``, ``val`` or ``eval`` users.
    diversity_weight:
        λ of ``r = engagement + λ·diversity`` (:mod:`divrec_rl.reward`), a number in [0, 100];
        ``None`` = the scenario's value.
    config:
        Nested overrides of scenario fields, e.g. ``{"slate": {"size": 5}}``.
    config_files:
        Extra YAML files layered between the scenario and ``config``.

    Observation: ``Dict(user=Box(U), [candidates=Box(n, f)])``; action: the slate builder's Box.
    ``step`` rejects an action of the wrong shape, with a NaN or ±inf entry, or outside the box
    (``ValueError`` naming ``action``); the check is one compiled pass over the action, under
    1 µs a step (about 1 % of a single-user step; ``benchmarks/step_profile.py``).
    ``info`` after a step: ``engagement``, ``diversity``, ``slate`` (item ids), ``clicked`` (item id
    or −1), ``position``, ``left``, ``returned``, ``patience``, ``session``, ``t``.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        scenario: ScenarioSpec = DEFAULT_SCENARIO,
        split: str = "train",
        diversity_weight: float | None = None,
        config: Mapping[str, Any] | None = None,
        config_files: list[str | Path] | None = None,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode: must be one of {self.metadata['render_modes']} or None, "
                f"got {render_mode!r}"
            )
        self.simulator = make_simulator(scenario, 1, split, diversity_weight, config, config_files)
        self.observation_space = self.simulator.observation_space
        self.action_space = self.simulator.action_space
        self._action_shape = self.action_space.shape
        self.render_mode = render_mode
        self._needs_reset = True
        self._last: StepResult | None = None

    @property
    def scenario(self) -> Scenario:
        """The built scenario."""
        return self.simulator.scenario

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        key = draw_episode_key(self.np_random)
        self.simulator.reset_users(np.zeros(1, dtype=np.int64), np.array([key], dtype=np.uint64))
        self._needs_reset = False
        self._last = None
        obs = self.simulator.observe()
        return {k: v[0] for k, v in obs.items()}, {}

    def step(
        self, action: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        if self._needs_reset:
            raise gym.error.ResetNeeded(
                "the user left or the episode ended: call reset() before step()"
            )
        a = np.asarray(action)
        if a.shape != self._action_shape:
            raise ValueError(action_shape_error(self._action_shape, a.shape))
        return self._unpack(self.simulator.step(a[None]))

    def step_slate(
        self, slate: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        """Step with an explicit slate of ``k`` distinct catalogue rows (for non-RL agents)."""
        if self._needs_reset:
            raise gym.error.ResetNeeded(
                "the user left or the episode ended: call reset() before step_slate()"
            )
        s = np.asarray(slate)
        k = self.simulator.k
        if s.shape != (k,):
            # Named as the caller passed it, not as the batch of one it becomes below.
            raise ValueError(f"slate: expected shape ({k},), got {s.shape}")
        return self._unpack(self.simulator.step_slates(s[None]))

    def _unpack(
        self, r: StepResult
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        terminated, truncated = r.terminated.item(0), r.truncated.item(0)
        self._needs_reset = terminated or truncated
        self._last = r
        obs = {k: v[0] for k, v in r.observation.items()}
        return obs, r.reward.item(0), terminated, truncated, row_info(r.info, 0)

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        if self._last is None:
            return "(no step yet)"
        info = row_info(self._last.info, 0)
        texts = self.simulator.catalog.texts
        lines = [
            f"t={info['t']} patience={info['patience']:.2f} engagement={info['engagement']:.2f}"
        ]
        for pos, item in enumerate(info["slate"]):
            mark = "*" if item == info["clicked"] else " "
            lines.append(f"{mark}{pos:2d} {texts[int(item)]}")
        return "\n".join(lines)
