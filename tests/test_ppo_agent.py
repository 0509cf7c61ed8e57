"""PPO slate agent: size-independent, permutation-equivariant policy; squashing; determinism;
save/load; the baselines' action face."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecMonitor

from divrec_rl.agents.baselines import AttractionRankerAgent, RandomAgent, scores_to_actions
from divrec_rl.agents.ppo import PPOAgent, SlatePolicy, make_ppo
from divrec_rl.agents.slate_network import SlateFeatures
from divrec_rl.envs import SlateRecVecEnv, make_simulator
from divrec_rl.training.episodes import run_episodes

SMALL = {
    "catalog": {"n_items": 300, "n_categories": 8, "embedding_dim": 16},
    "slate": {"size": 5, "n_candidates": 20},
}
FAST = {"n_steps": 16, "batch_size": 64, "n_epochs": 2}


def small(**sections: dict) -> dict:
    out = {k: dict(v) for k, v in SMALL.items()}
    for key, value in sections.items():
        out.setdefault(key, {}).update(value)
    return out


def make_model(config: dict | None = None, n_envs: int = 4, seed: int = 0) -> PPO:
    env = VecMonitor(SlateRecVecEnv(n_envs, config=config or small()))
    return make_ppo(env, policy="gaussian", seed=seed, device="cpu", **FAST)


def n_params(model: PPO) -> int:
    return sum(p.numel() for p in model.policy.parameters())


def features(model: PPO, obs: dict[str, np.ndarray]) -> SlateFeatures:
    tensor, _ = model.policy.obs_to_tensor(obs)
    return model.policy.extract_features(tensor)


def test_policy_size_does_not_depend_on_catalogue_or_candidate_count() -> None:
    base = n_params(make_model(small()))
    assert n_params(make_model(small(catalog={"n_items": 900}))) == base
    assert n_params(make_model(small(slate={"n_candidates": 40}))) == base
    assert isinstance(make_model().policy, SlatePolicy)


def test_scores_are_permutation_equivariant_and_work_on_unseen_candidate_counts() -> None:
    model = make_model()
    env = model.get_env()
    obs = env.reset()
    net = model.policy.mlp_extractor
    f = model.policy.candidate_dim
    user, cands = obs["user"], obs["candidates"].reshape(len(obs["user"]), -1, f)
    perm = np.random.default_rng(0).permutation(cands.shape[1])

    def scores(c: np.ndarray) -> np.ndarray:
        blocks = SlateFeatures(th.as_tensor(user), th.as_tensor(c.reshape(len(c), -1)))
        with th.no_grad():
            return net.forward_actor(blocks).numpy()

    base = scores(cands)
    np.testing.assert_allclose(scores(cands[:, perm]), base[:, perm], rtol=1e-5, atol=1e-6)
    bigger = np.concatenate([cands, cands[:, :7]], axis=1)  # 27 candidates, never seen
    assert scores(bigger).shape == (len(user), 27)
    assert np.all(np.isfinite(scores(bigger)))


@pytest.mark.parametrize("policy", ["gaussian", "plackett-luce"])
def test_the_networks_read_the_observation_tensors_without_copying_them(policy: str) -> None:
    # A minibatch's candidate block is most of its memory: the extractor hands the network the
    # observation's own tensors, and the network's candidate block is a view of them.
    env = VecMonitor(SlateRecVecEnv(4, config=small()))
    model = make_ppo(env, policy=policy, seed=0, device="cpu", **FAST)
    tensor, _ = model.policy.obs_to_tensor(env.reset())
    blocks = model.policy.extract_features(tensor)
    assert blocks.user.data_ptr() == tensor["user"].data_ptr()
    assert blocks.candidates.data_ptr() == tensor["candidates"].data_ptr()
    _, cands = model.policy.mlp_extractor._split(blocks)
    assert cands.is_contiguous() and cands.data_ptr() == tensor["candidates"].data_ptr()
    assert cands.shape == (4, 20, model.policy.candidate_dim)


def test_env_actions_are_softsign_of_scores_so_the_slate_is_the_top_k_of_the_scores() -> None:
    model = make_model()
    obs = model.get_env().reset()
    tensor, _ = model.policy.obs_to_tensor(obs)
    with th.no_grad():
        scores = model.policy._predict(tensor, deterministic=True).numpy()
    actions, _ = model.predict(obs, deterministic=True)
    assert np.all(np.abs(actions) <= 1.0)
    np.testing.assert_array_equal(actions, scores / (1 + np.abs(scores)))
    k = model.get_env().unwrapped.simulator.k
    top_actions = np.argsort(-actions, axis=1, kind="stable")[:, :k]
    top_scores = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(top_actions, top_scores)


def test_query_builder_gets_a_query_vector_policy() -> None:
    config = small(slate={"builder": "query"})
    model = make_model(config)
    assert model.policy.candidate_dim is None
    model.learn(128)
    obs = model.get_env().reset()
    actions, _ = model.predict(obs, deterministic=True)
    assert actions.shape == (4, 16)
    assert np.all(np.abs(actions) <= 1.0)


def _first_iteration(seed: int) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    model = make_model(seed=seed)
    model.learn(FAST["n_steps"] * 4)  # exactly one rollout and one update, no logging dump
    buf = model.rollout_buffer
    rollout = {
        "actions": buf.actions.copy(),
        "rewards": buf.rewards.copy(),
        "user": buf.observations["user"].copy(),
        "candidates": buf.observations["candidates"].copy(),
        "log_probs": buf.log_probs.copy(),
    }
    losses = {k: v for k, v in model.logger.name_to_value.items() if k.startswith("train/")}
    return rollout, losses


def test_same_seed_gives_the_same_first_rollout_and_losses_on_cpu() -> None:
    rollout_a, losses_a = _first_iteration(seed=3)
    rollout_b, losses_b = _first_iteration(seed=3)
    for key in rollout_a:
        np.testing.assert_array_equal(rollout_a[key], rollout_b[key], err_msg=key)
    assert {"train/loss", "train/value_loss", "train/policy_gradient_loss"} <= set(losses_a)
    assert losses_a == losses_b
    rollout_c, _ = _first_iteration(seed=4)
    assert not np.array_equal(rollout_a["actions"], rollout_c["actions"])


def test_save_load_round_trip_predicts_the_same(tmp_path) -> None:
    model = make_model()
    model.learn(64)
    obs = model.get_env().reset()
    model.save(tmp_path / "m.zip")
    loaded = PPO.load(tmp_path / "m.zip", device="cpu")
    a, _ = model.predict(obs, deterministic=True)
    b, _ = loaded.predict(obs, deterministic=True)
    np.testing.assert_array_equal(a, b)


def test_scores_to_actions_keeps_the_order_inside_the_bounds() -> None:
    scores = np.array([[3.0, -1.0, 7.5, 7.5, 0.0]])
    actions = scores_to_actions(scores)
    assert actions.min() >= -1.0 and actions.max() <= 1.0
    assert list(np.argsort(-actions[0], kind="stable")) == [2, 3, 0, 4, 1]


@pytest.mark.parametrize("builder", ["candidates", "query"])
def test_every_agent_runs_one_episode_per_user(builder: str) -> None:
    config = small(slate={"builder": builder})
    sim = make_simulator("synthetic-shop", 12, split="eval", config=config)
    model = make_model(config)
    # Each factory builds a fresh agent, so the repeat below is a second, independent run (a
    # RandomAgent's own generator advances: reusing the object would not replay its draws).
    factories = (lambda: RandomAgent(0), AttractionRankerAgent, lambda: PPOAgent(model))
    for make_agent in factories:
        agent = make_agent()
        stats = run_episodes(agent, sim, seed=7)
        assert stats.length.shape == (12,)
        assert np.all((stats.length >= 1) & (stats.length <= sim.max_steps))
        lam = sim.diversity_weight
        np.testing.assert_allclose(stats.reward, stats.engagement + lam * stats.diversity)
        assert 0.0 < stats.coverage <= 1.0
        again = run_episodes(make_agent(), sim, seed=7)
        np.testing.assert_array_equal(again.reward, stats.reward)
        np.testing.assert_array_equal(again.length, stats.length)
