"""PPO's slate rollout buffer: the same minibatches as Stable-Baselines3's dict buffer (so
training is unchanged), used by default; and the rows the slate-gap monitor samples."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from hypothesis import given
from hypothesis import strategies as st
from stable_baselines3.common.buffers import DictRolloutBuffer
from stable_baselines3.common.vec_env import VecMonitor

from divrec_rl.agents.ppo import make_ppo
from divrec_rl.agents.rollout_buffer import SlateRolloutBuffer
from divrec_rl.envs import SlateRecVecEnv
from divrec_rl.training.callbacks import spread_rows

OBS = spaces.Dict(
    {
        "user": spaces.Box(-1, 1, (3,), np.float32),
        "candidates": spaces.Box(-1, 1, (12,), np.float32),
    }
)
ACTIONS = spaces.Box(-1, 1, (4,), np.float32)


def filled(buffer_class: type[DictRolloutBuffer], n_steps: int, n_envs: int) -> DictRolloutBuffer:
    """A full buffer of seeded random transitions, returns and advantages computed."""
    rng = np.random.default_rng(0)
    buffer = buffer_class(n_steps, OBS, ACTIONS, device="cpu", n_envs=n_envs)
    for _ in range(n_steps):
        obs = {k: rng.uniform(-1, 1, (n_envs, *s.shape)).astype(np.float32) for k, s in OBS.items()}
        buffer.add(
            obs,
            rng.uniform(-1, 1, (n_envs, 4)).astype(np.float32),
            rng.normal(size=n_envs).astype(np.float32),
            rng.random(n_envs) < 0.2,
            th.from_numpy(rng.normal(size=n_envs).astype(np.float32)),
            th.from_numpy(rng.normal(size=n_envs).astype(np.float32)),
        )
    buffer.compute_returns_and_advantage(th.zeros(n_envs), np.zeros(n_envs, dtype=bool))
    return buffer


@pytest.mark.parametrize("batch_size", [7, 32, None])
def test_minibatches_equal_the_sb3_dict_buffers(batch_size: int | None) -> None:
    ours, theirs = filled(SlateRolloutBuffer, 8, 4), filled(DictRolloutBuffer, 8, 4)
    for epoch in range(2):
        np.random.seed(epoch)
        mine = list(ours.get(batch_size))
        np.random.seed(epoch)
        reference = list(theirs.get(batch_size))
        assert len(mine) == len(reference) > 0
        for a, b in zip(mine, reference, strict=True):
            for key in OBS:
                assert a.observations[key].dtype == b.observations[key].dtype
                assert th.equal(a.observations[key], b.observations[key])
            for field in ("actions", "old_values", "old_log_prob", "advantages", "returns"):
                x, y = getattr(a, field), getattr(b, field)
                assert x.shape == y.shape and x.dtype == y.dtype
                assert th.equal(x, y), field


def test_ppo_uses_the_slate_buffer_unless_told_otherwise() -> None:
    env = VecMonitor(SlateRecVecEnv(2, config={"catalog": {"n_items": 100}}))
    assert isinstance(make_ppo(env, device="cpu", n_steps=8).rollout_buffer, SlateRolloutBuffer)
    sb3 = make_ppo(env, device="cpu", n_steps=8, rollout_buffer_class=DictRolloutBuffer)
    assert type(sb3.rollout_buffer) is DictRolloutBuffer


def test_spread_rows_hand_computed() -> None:
    # 4,096 rows of 64 users, 256 asked: stride 16 shares a factor with 64 → 17.
    rows = spread_rows(4096, 64, 256)
    assert rows[:3].tolist() == [0, 17, 34] and len(rows) == 241
    assert spread_rows(10, 1, 100).tolist() == list(range(10))


@given(
    n_envs=st.integers(1, 128),
    n_steps=st.integers(1, 128),
    max_samples=st.integers(1, 5000),
)
def test_spread_rows_stays_within_the_budget_and_visits_every_user(
    n_envs: int, n_steps: int, max_samples: int
) -> None:
    n_rows = n_envs * n_steps
    rows = spread_rows(n_rows, n_envs, max_samples)
    assert 1 <= len(rows) <= max_samples
    assert rows[0] == 0 and rows[-1] < n_rows and np.all(np.diff(rows) > 0)
    if len(rows) >= n_envs:  # a stride coprime to n_envs: n_envs rows meet every user
        assert set((rows % n_envs).tolist()) == set(range(n_envs))
