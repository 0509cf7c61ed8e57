"""Run any agent through whole episodes of a fixed group of users and record every step.

The one rollout mechanism behind ``divrec-rl simulate``, ``divrec-rl evaluate``, the supervised
baseline's logs and its tuning: agents have the project's face :class:`Agent` (``act(observation,
simulator) -> actions``, published as :class:`divrec_rl.agents.protocol.Agent`), the simulator
turns actions into slates, and every user gets exactly one episode (a user who left is not stepped
again).

Common random numbers: the users and all of the simulator's randomness are fixed by the per-user
``keys`` (:func:`user_keys`), so two agents run with the same keys meet the same users, and a
difference between them is the agents' doing, never the dice's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, Protocol

import numpy as np

from divrec_rl.simulator import SlateSimulator, StepResult

__all__ = ["Agent", "StepHook", "Trajectories", "rollout", "user_keys"]


class Agent(Protocol):
    """The face every agent has, so one rollout (and one evaluator) runs any of them.

    ``name`` labels the agent in reports.  ``act(observation, simulator)`` returns actions
    ``(N, *simulator.action_space.shape)`` inside the action box for the ``N`` users of
    ``simulator``, from ``observation`` (the batched observation dict) and the simulator's public
    views only: ``action_space``, ``n_users``, ``k``, ``catalog`` (public item data),
    ``candidates`` (each user's candidate rows, ``None`` for the ``query`` builder),
    ``candidate_feature_dim``, ``state.active`` (who is still there).  Rows of users who already
    left are ignored by the simulator (but must still be finite and inside the box).

    Declared here (layer 6) because the rollout drives agents; :mod:`divrec_rl.agents.protocol`
    publishes it beside the agents.
    """

    name: str

    def act(self, observation: dict[str, np.ndarray], simulator: SlateSimulator) -> np.ndarray:
        """Actions ``(N, …)`` for the ``N`` users of ``simulator``."""
        ...


#: ``hook(observation, actions, result)``: called after every step with the observation the agent
#: acted on, its actions and the step's result (e.g. to log interactions for supervised training).
StepHook = Callable[[dict[str, np.ndarray], np.ndarray, StepResult], None]


def user_keys(seed: int, n_users: int) -> np.ndarray:
    """Episode keys (uint64) of users ``0..n_users−1`` of seed ``seed``.

    User i's key is the i-th draw of ``numpy.random.default_rng(seed)``, so the first m users of
    a larger group are the same m users, and different seeds give different users.  The split
    (train / val / eval) is mixed into the key by the population, so the same key names different
    users in different splits.
    """
    if n_users < 1:
        raise ValueError(f"n_users: must be ≥ 1, got {n_users}")
    draws = np.random.default_rng(seed).integers(0, 2**63 - 1, n_users, dtype=np.int64)
    return draws.astype(np.uint64)


@dataclass
class Trajectories:
    """Every simulated step of one rollout, one row per (user, step), sorted by user then step.

    Row arrays (length T): ``user`` (row of the user in the group), ``step`` (0-based step of the
    episode), ``session`` (0-based session the slate was shown in), ``slate`` ``(T, k)`` item ids,
    best slot first, ``clicked`` (item id or −1), ``position`` (slot or −1), ``engagement``,
    ``diversity`` (the reward's slate diversity), ``reward`` (engagement + λ·diversity),
    ``left`` (the user ended a session at this step).

    Per-user arrays (length ``n_users``): ``majority_category`` — the category with the largest
    share of the user's recency-weighted warm-start history at the start of the episode (the
    ``category_history`` average, decay ``users.history_decay``: recent items count more, so it
    can differ from the category with most items), −1 when it was empty (used by the
    filter-bubble metric MCD).
    """

    n_users: int
    user: np.ndarray
    step: np.ndarray
    session: np.ndarray
    slate: np.ndarray
    clicked: np.ndarray
    position: np.ndarray
    engagement: np.ndarray
    diversity: np.ndarray
    reward: np.ndarray
    left: np.ndarray
    majority_category: np.ndarray

    ROW_FIELDS = (
        "user",
        "step",
        "session",
        "slate",
        "clicked",
        "position",
        "engagement",
        "diversity",
        "reward",
        "left",
    )

    def __len__(self) -> int:
        return len(self.user)

    def take(self, rows: np.ndarray) -> Trajectories:
        """The rows ``rows`` (a boolean mask or indices); per-user arrays are kept whole."""
        data: dict[str, Any] = {f: getattr(self, f)[rows] for f in self.ROW_FIELDS}
        return Trajectories(self.n_users, majority_category=self.majority_category, **data)

    @classmethod
    def concatenate(
        cls, parts: list[dict[str, np.ndarray]], n_users: int, majority: np.ndarray
    ) -> Trajectories:
        """Join per-step chunks and sort the rows by (user, step)."""
        data = {f: np.concatenate([p[f] for p in parts]) for f in cls.ROW_FIELDS}
        order = np.lexsort((data["step"], data["user"]))
        return cls(n_users, majority_category=majority, **{k: v[order] for k, v in data.items()})

    def validate(self) -> None:
        """Check shapes and id ranges (used when trajectories are read back from a file)."""
        t = len(self.user)
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in self.ROW_FIELDS and len(value) != t:
                raise ValueError(f"trajectories.{f.name}: expected {t} rows, got {len(value)}")
        if self.slate.ndim != 2:
            raise ValueError(f"trajectories.slate: expected (T, k), got shape {self.slate.shape}")
        if t and (self.user.min() < 0 or self.user.max() >= self.n_users):
            raise ValueError(f"trajectories.user: ids must be in [0, {self.n_users - 1}]")
        if len(self.majority_category) != self.n_users:
            raise ValueError("trajectories.majority_category: expected one entry per user")


def rollout(
    agent: Agent, simulator: SlateSimulator, keys: np.ndarray, hook: StepHook | None = None
) -> Trajectories:
    """One episode for each of the ``simulator.n_users`` users started from ``keys``.

    ``agent.act(observation, simulator)`` is called once per step for the whole batch (the rows
    of users who already left are ignored by the simulator).  ``hook`` sees every step.
    """
    n = simulator.n_users
    keys = np.asarray(keys, dtype=np.uint64)
    if keys.shape != (n,):
        raise ValueError(f"keys: expected {n} keys (one per user), got shape {keys.shape}")
    simulator.reset_users(np.arange(n), keys)
    history = simulator.state.category_history
    majority = np.where(history.sum(axis=1) > 0, history.argmax(axis=1), -1).astype(np.int64)
    observation = simulator.observe()
    parts: list[dict[str, np.ndarray]] = []
    while simulator.state.active.any():
        step = simulator.state.t.copy()
        session = simulator.state.session.copy()
        actions = agent.act(observation, simulator)
        result = simulator.step(actions)
        if hook is not None:
            hook(observation, actions, result)
        info = result.info
        who = np.flatnonzero(info["active"])
        parts.append(
            {
                "user": who,
                "step": step[who],
                "session": session[who],
                "slate": info["slate"][who],
                "clicked": info["clicked"][who],
                "position": info["position"][who],
                "engagement": info["engagement"][who],
                "diversity": info["diversity"][who],
                "reward": result.reward[who],
                "left": info["left"][who],
            }
        )
        observation = result.observation
    return Trajectories.concatenate(parts, n, majority)
