"""Behaviour-cloning warm start of the Plackett–Luce policy from a teacher's slates.

1. **Slates** — the teacher (any agent with ``act(observation, simulator)``, e.g. the tuned
   supervised baseline) serves training-split users, one episode each, through the project's
   one rollout loop; every active user's observation and action is kept.  A teacher's action is
   any score vector whose top-k is its slate, which
   :func:`~divrec_rl.agents.plackett_luce.decode_slate` reads back.
2. **Clone** — ``steps`` Adam steps on minibatches of those steps, minimising the negative
   Plackett–Luce log-likelihood of the teacher's *ordered* slates,
   ``−mean log π(i₁…i_k | s)`` (the same exact log-probability PPO's ratio uses).  A fresh
   optimiser is used, so PPO's own Adam moments start clean afterwards.

The minibatch order comes from ``numpy.random.default_rng(seed)`` and no sampling happens, so
the warm start is reproducible and leaves torch's random stream untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch as th

from divrec_rl.rollout import rollout, user_keys
from divrec_rl.simulator import SlateSimulator, StepResult

__all__ = ["TeacherSlates", "behaviour_clone", "collect_teacher_slates"]


@dataclass
class TeacherSlates:
    """Logged teacher steps: ``observations`` (key → ``(T, …)``) and ``actions`` ``(T, C)``."""

    observations: dict[str, np.ndarray]
    actions: np.ndarray

    def __len__(self) -> int:
        return len(self.actions)


def collect_teacher_slates(teacher: Any, simulator: SlateSimulator, seed: int) -> TeacherSlates:
    """One episode of each of ``simulator.n_users`` users (``user_keys(seed, n)``) served by
    ``teacher``; the observations and actions of the users who were stepped."""
    observations: list[dict[str, np.ndarray]] = []
    actions: list[np.ndarray] = []

    def hook(observation: dict[str, np.ndarray], action: np.ndarray, result: StepResult) -> None:
        who = np.flatnonzero(result.info["active"])
        observations.append({key: value[who].copy() for key, value in observation.items()})
        actions.append(np.asarray(action, dtype=np.float32)[who].copy())

    rollout(teacher, simulator, user_keys(seed, simulator.n_users), hook)
    keys = observations[0].keys()
    return TeacherSlates(
        {key: np.concatenate([o[key] for o in observations]) for key in keys},
        np.concatenate(actions),
    )


def behaviour_clone(
    policy: Any,
    slates: TeacherSlates,
    steps: int,
    batch_size: int,
    learning_rate: float,
    seed: int = 0,
    max_grad_norm: float = 0.5,
) -> dict[str, float]:
    """Fit ``policy`` (an SB3 policy whose ``evaluate_actions`` gives slate log-probabilities)
    to the teacher's slates; returns the mean negative log-likelihood per slate before and after
    (on the first minibatch, the same rows both times)."""
    rng = np.random.default_rng(seed)
    params = [p for p in policy.parameters() if p.requires_grad]
    optimizer = th.optim.Adam(params, lr=learning_rate)
    probe = rng.integers(0, len(slates), min(batch_size, len(slates)))

    def nll(rows: np.ndarray) -> th.Tensor:
        obs, _ = policy.obs_to_tensor({k: v[rows] for k, v in slates.observations.items()})
        actions = th.as_tensor(slates.actions[rows], device=policy.device)
        _, log_prob, _ = policy.evaluate_actions(obs, actions)
        return -log_prob.mean()

    policy.set_training_mode(False)
    with th.no_grad():
        before = float(nll(probe))
    policy.set_training_mode(True)
    for _ in range(steps):
        loss = nll(rng.integers(0, len(slates), batch_size))
        optimizer.zero_grad()
        loss.backward()
        th.nn.utils.clip_grad_norm_(params, max_grad_norm)
        optimizer.step()
    policy.set_training_mode(False)
    with th.no_grad():
        after = float(nll(probe))
    return {"nll_before": before, "nll_after": after, "teacher_steps": float(len(slates))}
