"""SB3 callbacks of a training run: our ``rollout/*`` and ``eval/*`` keys, hyperparameters,
checkpoints and the progress bar.

Order matters at each rollout boundary (``on_rollout_start``, after PPO's update): the held-out
evaluation records ``eval/*``, :class:`RolloutMetricsCallback` writes everything pending (the
update's ``train/*`` included) at the current step, and only then :class:`CheckpointCallback`
saves.  So a checkpoint at step S follows every event up to S and precedes every event after
it, which is what lets a resumed run continue the TensorBoard curve without gaps or repeats.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import HParam
from tqdm.auto import tqdm

from divrec_rl.agents.ppo import PPOAgent
from divrec_rl.simulator import SlateSimulator
from divrec_rl.slate import top_k_rows
from divrec_rl.training.checkpoint import capture_env_state, capture_rng, save_checkpoint
from divrec_rl.training.episodes import SlateTracker, run_episodes

__all__ = [
    "CheckpointCallback",
    "CriticWarmupCallback",
    "EvalCallback",
    "HParamsCallback",
    "ProgressCallback",
    "RolloutMetricsCallback",
    "SlateGapCallback",
    "UpdateThreadsCallback",
    "is_due",
    "rng_devices",
    "slate_overlap",
    "spread_rows",
]

_ONLY_TENSORBOARD = ("stdout", "log", "json", "csv")


def is_due(step: int, last: int, every: int) -> bool:
    """True when ``(last, step]`` crosses a multiple of ``every`` (``every`` = 0: never)."""
    return every > 0 and step // every > last // every


class _PeriodicCallback(BaseCallback):
    """Calls :meth:`fire` at the first rollout boundary after each multiple of ``every`` steps
    (``every`` = 0: never); ``_last`` is the step of the previous boundary."""

    def __init__(self, every: int) -> None:
        super().__init__()
        self.every = every
        self._last = 0

    def fire(self) -> object:
        """The periodic action."""
        raise NotImplementedError

    def _on_rollout_start(self) -> None:
        if is_due(self.num_timesteps, self._last, self.every):
            self.fire()
        self._last = self.num_timesteps

    def _on_step(self) -> bool:
        return True


class RolloutMetricsCallback(BaseCallback):
    """``rollout/ep_engagement_mean``, ``rollout/ep_diversity_mean``, ``rollout/ep_ild_mean``
    over the last ``window`` finished training episodes (like SB3's ``rollout/ep_rew_mean``),
    and ``rollout/coverage``: the share of the catalogue shown during the rollout.

    Engagement and diversity are episode sums of the two reward terms, so
    ``ep_rew_mean = ep_engagement_mean + λ·ep_diversity_mean``; ILD is the episode's mean slate
    ILD by item vectors, whatever diversity the reward uses.  Also writes any pending logged
    values at each rollout start (see the module docstring).
    """

    def __init__(self, window: int = 100) -> None:
        super().__init__()
        self.window = window
        self.episodes: deque[tuple[float, float, float]] = deque(maxlen=window)
        self.running: np.ndarray | None = None  # (n_envs, 4): engagement, diversity, ild, steps
        self.tracker: SlateTracker | None = None

    def _on_training_start(self) -> None:
        inner = self.training_env.unwrapped
        self.tracker = SlateTracker(inner.simulator.catalog)  # type: ignore[attr-defined]
        if self.running is None:
            self.running = np.zeros((self.training_env.num_envs, 4))

    def _on_rollout_start(self) -> None:
        self._flush()
        assert self.tracker is not None
        self.tracker.clear()

    def _on_step(self) -> bool:
        assert self.tracker is not None and self.running is not None
        info = self.training_env.unwrapped.last_info  # type: ignore[attr-defined]
        ild = self.tracker.observe(info["slate"])
        self.running += np.stack(
            [info["engagement"], info["diversity"], ild, np.ones_like(ild)], axis=1
        )
        for i in np.flatnonzero(self.locals["dones"]):
            eng, div, ild_sum, steps = self.running[i]
            self.episodes.append((eng, div, ild_sum / max(steps, 1.0)))
            self.running[i] = 0.0
        return True

    def _on_rollout_end(self) -> None:
        assert self.tracker is not None
        if self.episodes:
            eng, div, ild = np.mean(np.array(self.episodes), axis=0)
            self.logger.record("rollout/ep_engagement_mean", float(eng))
            self.logger.record("rollout/ep_diversity_mean", float(div))
            self.logger.record("rollout/ep_ild_mean", float(ild))
        self.logger.record("rollout/coverage", self.tracker.coverage())

    def _on_training_end(self) -> None:
        self._flush()

    def _flush(self) -> None:
        if self.logger.name_to_value:
            self.logger.dump(self.num_timesteps)

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs: finished episodes in the window and running sums."""
        return {"episodes": list(self.episodes), "running": self.running}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Undo :meth:`state_dict`."""
        self.episodes = deque(state["episodes"], maxlen=self.window)
        self.running = None if state["running"] is None else np.array(state["running"])


def slate_overlap(sampled: np.ndarray, mode: np.ndarray, k: int) -> np.ndarray:
    """Items shared by the slates (top-k) of two action batches ``(B, C)``: ``(B,)`` counts in
    [0, k].  Ties go to the lower index, as in the env."""
    first = top_k_rows(sampled, k)
    second = top_k_rows(mode, k)
    return (first[:, :, None] == second[:, None, :]).any(axis=2).sum(axis=1)


def spread_rows(n_rows: int, n_envs: int, max_samples: int) -> np.ndarray:
    """At most ``max_samples`` of the rows ``0 … n_rows − 1`` of a flattened rollout (row =
    step · n_envs + user), every ``stride``-th from row 0: the smallest stride ≥ n_rows /
    max_samples that is coprime to ``n_envs``, so the rows visit every user (given n_rows ≥
    n_envs · stride) and every part of the rollout, deterministically."""
    stride = max(1, -(-n_rows // max_samples))
    while math.gcd(stride, n_envs) > 1:
        stride += 1
    return np.arange(0, n_rows, stride)


class SlateGapCallback(BaseCallback):
    """``rollout/slate_overlap_sampled_vs_mode``: at the end of each rollout, the mean number of
    items the slates PPO sampled share with the policy's deterministic slates for the same
    observations (k = identical; a random slate of k out of C shares k²/C on average).  With
    the Plackett–Luce policy also ``rollout/temperature_mean``, the mean state-dependent τ over
    the same observations.

    Measured on up to ``max_samples`` transitions of the rollout buffer, every ``stride``-th
    one with the stride coprime to the number of users (so every user and every step of the
    rollout is visited; no random generator is touched); both come from the policy that
    collected the rollout (PPO updates it after this callback).  Only with the ``candidates``
    slate builder.  256 samples keep the callback at ≈ 1 % of training (1,024 cost ≈ 3 %:
    a greedy walk over every sampled state, ``docs/performance.md``); the mean overlap's
    standard error is then ≈ 0.1 item.
    """

    def __init__(self, max_samples: int = 256) -> None:
        super().__init__()
        self.max_samples = max_samples

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        simulator = self.training_env.unwrapped.simulator  # type: ignore[attr-defined]
        if simulator.candidate_feature_dim is None:
            return  # a query vector's top-k is not a slate of candidates
        k = int(simulator.k)
        buffer = self.model.rollout_buffer  # type: ignore[attr-defined]
        actions = buffer.actions.reshape(-1, buffer.actions.shape[-1])
        rows = spread_rows(len(actions), buffer.n_envs, self.max_samples)
        observations = {
            key: value.reshape(len(actions), -1)[rows] for key, value in buffer.observations.items()
        }
        tensor, _ = self.model.policy.obs_to_tensor(observations)
        with th.no_grad():
            distribution = self.model.policy.get_distribution(tensor)
            mode = distribution.mode()
        temperature = getattr(distribution, "temperature", None)
        if temperature is not None:
            self.logger.record("rollout/temperature_mean", float(temperature.mean()))
        overlap = slate_overlap(actions[rows], mode.cpu().numpy(), k)
        self.logger.record("rollout/slate_overlap_sampled_vs_mode", float(overlap.mean()))


class EvalCallback(_PeriodicCallback):
    """Deterministic policy on held-out users every ``every`` steps and at the end: ``eval/*``.

    Keys: ``eval/mean_reward``, ``eval/mean_ep_length`` (SB3's names), ``eval/mean_engagement``,
    ``eval/mean_diversity``, ``eval/mean_ild``, ``eval/coverage``; beside them the *sampled*
    policy on the same users, ``eval/mean_return_sampled`` and ``eval/mean_engagement_sampled``
    (the gap between the policy PPO trains and the one it is judged by).  ``simulator`` holds
    the held-out users (split ``eval``); user i is seeded ``seed + i`` every time, so every
    point of the curve is measured on the same users.  The sampled episodes draw from a torch
    generator forked and seeded with ``seed``: the same draws each time, and training's
    random stream untouched.  ``prefix`` names the keys (``val`` when the simulator holds the
    validation users); ``on_eval(step, stats)`` is called after each evaluation (a sweep
    reports to its scheduler there).
    """

    def __init__(
        self,
        simulator: SlateSimulator,
        every: int,
        seed: int,
        prefix: str = "eval",
        on_eval: Callable[[int, dict[str, float]], None] | None = None,
    ) -> None:
        super().__init__(every)
        self.simulator = simulator
        self.seed = seed
        self.prefix = prefix
        self.on_eval = on_eval
        self._last_eval: int | None = None
        self.last_stats: dict[str, float] | None = None

    def _on_training_start(self) -> None:
        # A fresh run evaluates its initial policy; a resumed one already evaluated at its step.
        self._last = self.num_timesteps if self.num_timesteps > 0 else -1

    def fire(self) -> dict[str, float]:
        return self.evaluate()

    def _on_training_end(self) -> None:
        if self.every > 0 and self._last_eval != self.num_timesteps:
            self.evaluate()

    def evaluate(self) -> dict[str, float]:
        """Run the held-out episodes now and record ``eval/*``; return the summary."""
        stats = run_episodes(PPOAgent(self.model), self.simulator, self.seed).summary()  # type: ignore[arg-type]
        # th.manual_seed reseeds the CUDA generators too: fork the one training samples from.
        with th.random.fork_rng(devices=rng_devices(self.model.device)):  # type: ignore[attr-defined]
            th.manual_seed(self.seed)
            sampled_agent = PPOAgent(self.model, deterministic=False)  # type: ignore[arg-type]
            sampled = run_episodes(sampled_agent, self.simulator, self.seed).summary()
        stats["mean_return_sampled"] = sampled["mean_reward"]
        stats["mean_engagement_sampled"] = sampled["mean_engagement"]
        for key, value in stats.items():
            self.logger.record(f"{self.prefix}/{key}", value)
        self._last_eval = self.num_timesteps
        self.last_stats = stats
        if self.on_eval is not None:
            self.on_eval(self.num_timesteps, stats)
        return stats


class HParamsCallback(BaseCallback):
    """At the start of a fresh run: the hyperparameters as a text table and as TensorBoard
    hparams (with ``eval/mean_reward`` and ``rollout/ep_rew_mean`` as their metrics)."""

    def __init__(self, hparams: dict[str, Any], table: str) -> None:
        super().__init__()
        self.hparams = hparams
        self.table = table

    def _on_training_start(self) -> None:
        if self.num_timesteps > 0:
            return
        metrics = {"eval/mean_reward": 0.0, "rollout/ep_rew_mean": 0.0}
        self.logger.record("hyperparameters", self.table, exclude=_ONLY_TENSORBOARD)
        self.logger.record("hparams", HParam(self.hparams, metrics), exclude=_ONLY_TENSORBOARD)
        self.logger.dump(0)

    def _on_step(self) -> bool:
        return True


class CheckpointCallback(_PeriodicCallback):
    """Resumable checkpoint every ``every`` steps (at rollout boundaries) and at the end.

    ``extra_state`` returns the callbacks' state to store with the model, the random generators
    and the users mid-episode (see :mod:`divrec_rl.training.checkpoint`).
    """

    def __init__(
        self,
        run_dir: Path,
        every: int,
        keep: int,
        extra_state: Callable[[], dict[str, Any]],
    ) -> None:
        super().__init__(every)
        self.run_dir = run_dir
        self.keep = keep
        self.extra_state = extra_state
        self.last_path: Path | None = None

    def _on_training_start(self) -> None:
        self._last = self.num_timesteps

    def fire(self) -> Path:
        return self.save()

    def _on_training_end(self) -> None:
        self.save()

    def save(self) -> Path:
        """Write a checkpoint of the current state now."""
        state = {
            "num_timesteps": self.num_timesteps,
            "rng": capture_rng(),
            "env": capture_env_state(self.training_env),
            "callbacks": self.extra_state(),
        }
        self.last_path = save_checkpoint(self.model, self.run_dir, state, self.keep)
        return self.last_path


class ProgressCallback(BaseCallback):
    """A tqdm progress bar over the run's total steps (a resumed run starts where it stopped),
    with the latest ``rollout/ep_rew_mean`` as postfix."""

    def __init__(self, enabled: bool = True) -> None:
        super().__init__()
        self.enabled = enabled
        self.bar: Any = None

    def _on_training_start(self) -> None:
        self.bar = tqdm(
            total=self.locals["total_timesteps"],
            initial=self.num_timesteps,
            unit="step",
            unit_scale=True,
            dynamic_ncols=True,
            disable=not self.enabled,
        )

    def _on_step(self) -> bool:
        self.bar.update(self.training_env.num_envs)
        return True

    def _on_rollout_end(self) -> None:
        buffer = self.model.ep_info_buffer
        if buffer:
            self.bar.set_postfix(ep_rew=f"{np.mean([e['r'] for e in buffer]):.2f}", refresh=False)

    def _on_training_end(self) -> None:
        self.bar.close()


def rng_devices(device: th.device) -> list[int]:
    """The CUDA devices whose random state ``th.random.fork_rng`` must save and restore around a
    reseeded evaluation for a model on ``device``: its own on CUDA, none on the CPU."""
    return [device.index or 0] if device.type == "cuda" else []


class UpdateThreadsCallback(BaseCallback):
    """torch's CPU threads per phase of PPO: ``rollout`` threads while the rollouts step the
    simulator (numpy, in the main thread: more torch threads would contend with it for the
    cores), ``update`` threads during PPO's minibatch updates, when nothing else runs and the
    update's matmuls and elementwise passes over (batch × candidates × width) tensors split
    across the cores.  SB3 calls ``on_rollout_end`` right before its update and
    ``on_rollout_start`` right after it.  Put it first among the callbacks: the periodic and the
    final evaluations (at ``on_rollout_start`` and ``on_training_end``) step the simulator too, and
    must find the rollout threads set; what runs at ``on_rollout_end`` (nothing steps the
    simulator then) gets the update threads."""

    def __init__(self, rollout: int, update: int) -> None:
        super().__init__()
        self.rollout, self.update = rollout, update

    def _on_rollout_start(self) -> None:
        th.set_num_threads(self.rollout)

    def _on_rollout_end(self) -> None:
        th.set_num_threads(self.update)

    def _on_training_end(self) -> None:
        th.set_num_threads(self.rollout)

    def _on_step(self) -> bool:
        return True


class CriticWarmupCallback(BaseCallback):
    """``--critic-warmup N``: PPO's updates train only the critic until N environment steps.

    A warm-started actor (behaviour cloning, a prior) meets a critic that knows nothing: its
    first advantages are noise, and the first updates move a good actor at random.  Here the
    actor's parameters (everything but the critic body ``vf_body`` and ``value_net``; a frozen
    prior stays frozen) have ``requires_grad`` switched off while the rollouts collected so far
    end at or before step N, so the PPO loss only moves the value function; they are switched
    back on before the first update whose rollout ends after step N.  Adam skips parameters
    without gradients, so their moments start with their first real update.
    """

    CRITIC = ("value_net.", "mlp_extractor.vf_body.")

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps = steps
        self._frozen: list[th.nn.Parameter] = []

    def _actor_parameters(self) -> list[th.nn.Parameter]:
        return [
            p
            for name, p in self.model.policy.named_parameters()
            if p.requires_grad and not name.startswith(self.CRITIC)
        ]

    def _on_training_start(self) -> None:
        if self.num_timesteps < self.steps:
            self._frozen = self._actor_parameters()
            for p in self._frozen:
                p.requires_grad_(False)

    def _on_rollout_end(self) -> None:
        if self._frozen and self.num_timesteps > self.steps:
            for p in self._frozen:
                p.requires_grad_(True)
            self._frozen = []

    def _on_training_end(self) -> None:
        for p in self._frozen:  # never leave the actor frozen in a saved model
            p.requires_grad_(True)
        self._frozen = []

    def _on_step(self) -> bool:
        return True
