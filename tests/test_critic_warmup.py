"""``--critic-warmup``: the first PPO updates move the critic only; the actor waits, then learns,
and a frozen prior stays frozen throughout."""

from __future__ import annotations

import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv

from divrec_rl.agents.pl_policy import PlackettLucePolicy
from divrec_rl.training.callbacks import CriticWarmupCallback
from tests.test_plackett_luce import PickTheFlagged

CRITIC = CriticWarmupCallback.CRITIC


def _model() -> PPO:
    env = DummyVecEnv([PickTheFlagged for _ in range(8)])
    env.seed(0)
    return PPO(PlackettLucePolicy, env, n_steps=16, batch_size=64, n_epochs=2,
               learning_rate=3e-3, seed=0, device="cpu",
               policy_kwargs={"candidate_dim": 3, "slate_size": 2, "hidden_size": 16})  # fmt: skip


def _split(model: PPO) -> tuple[dict[str, th.Tensor], dict[str, th.Tensor]]:
    named = {n: p.detach().clone() for n, p in model.policy.named_parameters()}
    critic = {n: p for n, p in named.items() if n.startswith(CRITIC)}
    actor = {n: p for n, p in named.items() if not n.startswith(CRITIC)}
    return actor, critic


def _changed(a: dict[str, th.Tensor], b: dict[str, th.Tensor]) -> bool:
    return any(not th.equal(a[n], b[n]) for n in a)


def test_during_the_warmup_only_the_critic_moves_then_the_actor_learns() -> None:
    model = _model()  # 8 users × 16 steps = 128 steps a rollout
    actor0, critic0 = _split(model)
    assert critic0 and actor0
    model.learn(256, callback=CriticWarmupCallback(256))  # two rollouts, both ≤ 256
    actor1, critic1 = _split(model)
    assert not _changed(actor0, actor1) and _changed(critic0, critic1)
    assert all(p.requires_grad for p in model.policy.parameters())  # never left frozen
    model.learn(256, callback=CriticWarmupCallback(256), reset_num_timesteps=False)
    actor2, _ = _split(model)
    assert _changed(actor1, actor2)  # past the warm-up the actor updates


def test_without_warmup_the_actor_moves_in_the_first_update() -> None:
    model = _model()
    actor0, _ = _split(model)
    model.learn(128)
    assert _changed(actor0, _split(model)[0])


def test_a_frozen_prior_stays_frozen_after_the_warmup() -> None:
    model = _model()
    prior = th.nn.Linear(2, 2)
    prior.requires_grad_(False)
    model.policy.add_module("prior_probe", prior)
    model.learn(256, callback=CriticWarmupCallback(128))
    assert not any(p.requires_grad for p in prior.parameters())
