"""Plackett–Luce slate policy: exact ordered-slate probabilities, sampling, set-awareness, the
Box action encoding, state-dependent temperature, the entropy estimator, PPO learning on a tiny
env, save/load, and the residual-on-a-prior option."""

from __future__ import annotations

import itertools
import math

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from divrec_rl.agents.baselines import PopularityAgent
from divrec_rl.agents.pl_policy import PlackettLucePolicy
from divrec_rl.agents.plackett_luce import (
    TAKEN_LOGIT,
    PlackettLuceDistribution,
    SetContext,
    _chain_entropy,
    _taken_before,
    decode_slate,
    encode_slate,
    slate_walk,
)
from divrec_rl.agents.ppo import PPOAgent, make_ppo
from divrec_rl.agents.registry import load_ppo_run
from divrec_rl.agents.supervised import ClickModel
from divrec_rl.envs import SlateRecVecEnv, make_simulator
from divrec_rl.errors import TrainingError
from divrec_rl.resolve import resolve_scenario
from divrec_rl.scenario import build_scenario
from divrec_rl.slate import top_k_rows
from divrec_rl.training.callbacks import slate_overlap
from divrec_rl.training.config import config_from_args
from divrec_rl.training.episodes import run_episodes
from divrec_rl.training.rundir import read_run
from divrec_rl.training.runner import resume_run, train_run
from divrec_rl.training.warmstart import behaviour_clone, collect_teacher_slates

SMALL = {
    "catalog": {"n_items": 300, "n_categories": 8, "embedding_dim": 16},
    "slate": {"size": 5, "n_candidates": 20},
}
FAST = {"n_steps": 16, "batch_size": 64, "n_epochs": 2}


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny networks: one torch thread (as training uses) instead of contending for cores."""
    threads = th.get_num_threads()
    th.set_num_threads(1)
    yield
    th.set_num_threads(threads)


def random_context(batch: int, n: int, seed: int = 0, gain: float = 2.0) -> SetContext:
    gen = th.Generator().manual_seed(seed)
    key = th.nn.Linear(3, 4)
    with th.no_grad():
        key.weight.copy_(th.randn(4, 3, generator=gen))
    return SetContext(
        query=th.randn(batch, n, 4, generator=gen),
        features=th.randn(batch, n, 3, generator=gen),
        key=key,
        unit=th.nn.functional.normalize(th.randn(batch, n, 4, generator=gen), dim=-1),
        gain=th.full((batch,), gain),
    )


def rows_of(context: SetContext | None, batch: int) -> SetContext | None:
    """The context of row 0 repeated ``batch`` times."""
    if context is None:
        return None
    return SetContext(
        query=context.query[:1].expand(batch, -1, -1),
        features=context.features[:1].expand(batch, -1, -1),
        key=context.key,
        unit=context.unit[:1].expand(batch, -1, -1),
        gain=context.gain[:1].expand(batch),
    )


def log_prob_of(scores, tau, slate, context=None) -> float:
    picks = th.tensor([slate])
    return float(slate_walk(scores, th.tensor([tau]), len(slate), context, picks)[1][0])


def test_log_prob_of_an_ordered_slate_matches_a_hand_computed_case() -> None:
    scores = th.tensor([[1.0, 2.0, 0.0]])
    # Slate (1, 0) at τ = 0.5: logits 2, 4, 0; pick 1 of {0,1,2}, then 0 of {0,2}.
    expected = (4 - math.log(math.e**2 + math.e**4 + 1)) + (2 - math.log(math.e**2 + 1))
    assert log_prob_of(scores, 0.5, (1, 0)) == pytest.approx(expected, abs=1e-5)
    dist = PlackettLuceDistribution(3, 2).proba_distribution(scores, th.tensor([0.5]))
    action = encode_slate(th.tensor([[1, 0]]), 3)
    assert float(dist.log_prob(action.clone())[0]) == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("set_aware", [False, True])
def test_probabilities_of_all_ordered_slates_sum_to_one(set_aware: bool) -> None:
    n, k = 5, 2
    scores = th.randn(1, n, generator=th.Generator().manual_seed(1))
    context = random_context(1, n) if set_aware else None
    total = sum(
        math.exp(log_prob_of(scores, 0.7, slate, context))
        for slate in itertools.permutations(range(n), k)
    )
    assert total == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("set_aware", [False, True])
def test_sampling_frequencies_match_the_probabilities(set_aware: bool) -> None:
    n, k, draws = 4, 2, 20_000
    scores = th.tensor([[0.5, -0.3, 1.2, 0.0]]).expand(draws, n)
    tau = th.full((draws,), 0.8)
    one = random_context(1, n) if set_aware else None
    th.manual_seed(0)
    picks, _, _ = slate_walk(scores, tau, k, rows_of(one, draws))
    slates = list(itertools.permutations(range(n), k))
    index = {s: i for i, s in enumerate(slates)}
    counts = np.bincount([index[tuple(p)] for p in picks.tolist()], minlength=len(slates))
    probs = np.array([math.exp(log_prob_of(scores[:1], 0.8, s, one)) for s in slates])
    assert chisquare(counts, probs / probs.sum() * draws).pvalue > 1e-3


def conditional(scores, context, first: int, second: int) -> float:
    """log P(second at pick 2 | first at pick 1)."""
    both = log_prob_of(scores, 1.0, (first, second), context)
    alone = log_prob_of(scores, 1.0, (first,), context)
    return both - alone


def test_conditioning_on_picked_items_changes_later_picks_only_when_set_aware() -> None:
    n = 5
    scores = th.randn(1, n, generator=th.Generator().manual_seed(2))
    # Independence of irrelevant alternatives: without set-awareness the odds of items 2 vs 3
    # at the second pick are exp(s_2 − s_3) whichever item came first.
    for context, changes in ((None, False), (random_context(1, n), True)):
        odds_after_0 = conditional(scores, context, 0, 2) - conditional(scores, context, 0, 3)
        odds_after_1 = conditional(scores, context, 1, 2) - conditional(scores, context, 1, 3)
        assert (abs(odds_after_0 - odds_after_1) > 1e-3) == changes


def test_the_policy_network_is_set_aware_only_when_asked() -> None:
    env = VecMonitor(SlateRecVecEnv(4, config=SMALL))
    obs, _ = make_ppo(env, device="cpu", **FAST).policy.obs_to_tensor(env.reset())
    for set_aware in (True, False):
        policy = make_ppo(env, device="cpu", set_aware=set_aware, **FAST).policy
        params = policy.mlp_extractor.forward_actor(policy.extract_features(obs))
        assert (params.context is not None) == set_aware


def test_encode_decode_round_trip_and_the_env_shows_the_sampled_slate() -> None:
    picks = th.tensor([[3, 0, 7], [1, 2, 5]])
    actions = encode_slate(picks, 8)
    assert th.equal(decode_slate(actions, 3), picks)
    assert actions.min() >= -1 and actions.max() <= 1
    assert np.array_equal(top_k_rows(actions.numpy(), 3), picks.numpy())
    env = VecMonitor(SlateRecVecEnv(6, config=SMALL))
    model = make_ppo(env, device="cpu", **FAST)
    obs = env.reset()
    sim = env.unwrapped.simulator
    for _ in range(3):
        candidates = sim.candidates.copy()
        action, _ = model.predict(obs, deterministic=False)
        obs, _, _, _ = env.step(action)
        sampled = decode_slate(th.as_tensor(action), sim.k).numpy()
        shown = env.unwrapped.last_info["slate"]
        assert np.array_equal(shown, np.take_along_axis(candidates, sampled, axis=1))


def test_temperature_depends_on_the_state() -> None:
    env = VecMonitor(SlateRecVecEnv(8, config=SMALL))
    policy = make_ppo(env, device="cpu", temperature_init=0.7, **FAST).policy
    obs, _ = policy.obs_to_tensor(env.reset())
    with th.no_grad():
        tau = policy.mlp_extractor.forward_actor(policy.extract_features(obs)).temperature
    assert th.all(tau > 0.05)
    assert float(tau.std()) > 0
    assert float(tau.mean()) == pytest.approx(0.7, abs=0.05)


def test_entropy_estimator_is_exact_for_uniform_scores_and_for_one_pick() -> None:
    n, k = 6, 3
    dist = PlackettLuceDistribution(n, k).proba_distribution(th.zeros(4, n), th.ones(4))
    dist.sample()
    expected = math.log(math.factorial(n) / math.factorial(n - k))
    assert th.allclose(dist.entropy(), th.full((4,), expected), atol=1e-5)
    scores = th.randn(4, n, generator=th.Generator().manual_seed(3))
    dist = PlackettLuceDistribution(n, 1).proba_distribution(scores, th.full((4,), 0.5))
    dist.mode()
    p = th.softmax(scores / 0.5, dim=1)
    assert th.allclose(dist.entropy(), -(p * p.log()).sum(1), atol=1e-5)


class PickTheFlagged(gym.Env):
    """One-step toy: 6 candidates with 3 features; reward = flagged items in the top-2 (one
    feature flags 2 random candidates).  Random slates earn 2·2/6 ≈ 0.67 on average."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Dict(
            {
                "user": gym.spaces.Box(0, 1, (2,), np.float32),
                "candidates": gym.spaces.Box(-1, 1, (18,), np.float32),
            }
        )
        self.action_space = gym.spaces.Box(-1, 1, (6,), np.float32)

    def _obs(self) -> dict[str, np.ndarray]:
        feats = self.np_random.uniform(-1, 1, (6, 3)).astype(np.float32)
        feats[:, 0] = 0.0
        self.flagged = self.np_random.choice(6, 2, replace=False)
        feats[self.flagged, 0] = 1.0
        return {"user": np.ones(2, np.float32), "candidates": feats.ravel()}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self._obs(), {}

    def step(self, action):
        top = top_k_rows(np.asarray(action)[None], 2)[0]
        reward = float(np.isin(top, self.flagged).sum())
        return self._obs(), reward, True, False, {}


def test_ppo_with_the_plackett_luce_policy_learns_and_round_trips(tmp_path) -> None:
    env = DummyVecEnv([PickTheFlagged for _ in range(16)])
    env.seed(0)
    model = PPO(
        PlackettLucePolicy,
        env,
        n_steps=32,
        batch_size=128,
        n_epochs=4,
        learning_rate=3e-3,
        seed=0,
        device="cpu",
        policy_kwargs={"candidate_dim": 3, "slate_size": 2, "hidden_size": 32},
    )
    model.learn(2_048)
    test_env = PickTheFlagged()
    obs, _ = test_env.reset(seed=123)
    rewards = []
    for _ in range(200):
        action, _ = model.predict(obs, deterministic=True)
        obs, reward, *_ = test_env.step(action)
        rewards.append(reward)
    assert np.mean(rewards) > 1.5  # random ≈ 0.67, best 2
    model.save(tmp_path / "model.zip")
    loaded = PPO.load(tmp_path / "model.zip", device="cpu")
    batch = {k: np.stack([test_env._obs()[k] for _ in range(16)]) for k in obs}
    first, _ = model.predict(batch, deterministic=True)
    again, _ = loaded.predict(batch, deterministic=True)
    assert np.array_equal(first, again)


def test_residual_on_a_prior_starts_as_the_prior_ranking_and_survives_save_load(
    tmp_path,
) -> None:
    env = VecMonitor(SlateRecVecEnv(6, config=SMALL))
    sim = env.unwrapped.simulator
    f = sim.candidate_feature_dim
    th.manual_seed(5)
    prior = ClickModel(env.observation_space["user"].shape[0], f, 16)
    model = make_ppo(env, device="cpu", prior=prior, temperature_init=0.5, **FAST)
    obs = env.reset()
    user = th.as_tensor(obs["user"])
    cands = th.as_tensor(obs["candidates"]).reshape(len(user), -1, f)
    with th.no_grad():
        prior_scores = prior(user, cands)[0]
    action, _ = model.predict(obs, deterministic=True)
    expected = th.argsort(prior_scores, dim=1, descending=True)[:, : sim.k]
    assert th.equal(decode_slate(th.as_tensor(action), sim.k), expected)
    tensor_obs, _ = model.policy.obs_to_tensor(obs)
    with th.no_grad():
        _, log_prob, _ = model.policy.evaluate_actions(tensor_obs, th.as_tensor(action))
        features = model.policy.extract_features(tensor_obs)
        tau = model.policy.mlp_extractor.forward_actor(features).temperature
        _, want, _ = slate_walk(prior_scores, tau, sim.k, None, expected)
    assert th.allclose(tau, th.full_like(tau, 0.5), atol=0.05)
    assert th.allclose(log_prob, want, atol=1e-4)
    model.learn(200)
    frozen = model.policy.mlp_extractor.prior
    assert all(th.equal(a, b) for a, b in zip(frozen.parameters(), prior.parameters(), strict=True))
    model.save(tmp_path / "model.zip")
    loaded = PPO.load(tmp_path / "model.zip", device="cpu")
    again = loaded.policy.mlp_extractor.prior
    assert all(th.equal(a, b) for a, b in zip(again.parameters(), prior.parameters(), strict=True))
    first, _ = model.predict(obs, deterministic=True)
    second, _ = loaded.predict(obs, deterministic=True)
    assert np.array_equal(first, second)


def small_run_args(logdir, **train: str) -> dict:
    overrides = [
        "catalog.n_items=300",
        "catalog.n_categories=8",
        "catalog.embedding_dim=16",
        "slate.size=5",
        "slate.n_candidates=20",
    ]
    args = {"n_envs": "16", "n_steps": "32", "batch_size": "256", "n_epochs": "2"}
    args |= {"eval_every": "512", "eval_users": "16", "checkpoint_every": "0"}
    args |= {"progress_bar": False, "logdir": str(logdir), "device": "cpu"}
    return {**args, **train, "overrides": overrides}


def test_train_run_with_the_baseline_prior_and_cloning_saves_resumes_and_evaluates(
    tmp_path,
) -> None:
    args = small_run_args(tmp_path, total_timesteps="512", prior="baseline")
    config, overrides = config_from_args({**args, "bc_from": "baseline", "bc_steps": "20"})
    result = train_run(config, overrides)
    events = EventAccumulator(str(result.run_dir))
    events.Reload()
    before = events.Scalars("train/bc_nll_before")[0].value
    assert events.Scalars("train/bc_nll_after")[0].value < before
    run = load_ppo_run(result.run_dir)
    assert run.model.policy.mlp_extractor.prior is not None
    assert read_run(result.run_dir).train["prior"] == "baseline"
    prior = [p.clone() for p in run.model.policy.mlp_extractor.prior.parameters()]
    resumed = resume_run(result.run_dir, {"total_timesteps": "1024"})
    assert resumed.num_timesteps == 1024
    again = load_ppo_run(result.run_dir).model.policy.mlp_extractor.prior
    assert all(th.equal(a, b) for a, b in zip(again.parameters(), prior, strict=True))
    sim = make_simulator(build_scenario(run.scenario_config), 8, split="eval")
    stats = run_episodes(PPOAgent(run.model), sim, seed=0).summary()
    assert stats["mean_ep_length"] > 0


def test_the_warm_start_baseline_is_fitted_on_the_logged_users_asked_for(
    tmp_path, monkeypatch
) -> None:
    """`--baseline-log-users N` fits the prior/teacher as `evaluate --log-users N` fits the
    baseline it is compared with; by default both use the same number of logged users."""
    from divrec_rl.evaluation import teacher_cache
    from divrec_rl.evaluation.settings import BaselineSettings
    from divrec_rl.training.config import TrainConfig

    assert TrainConfig().baseline_log_users == BaselineSettings().log_users
    seen: list[int] = []
    real = teacher_cache.tuned_teacher

    def spy(scenario, weight, settings=None, **kwargs):
        seen.append(settings.log_users)
        return real(scenario, weight, settings, **kwargs)

    monkeypatch.setattr(teacher_cache, "tuned_teacher", spy)
    args = small_run_args(tmp_path, total_timesteps="512", prior="baseline")
    config, overrides = config_from_args({**args, "baseline_log_users": "37"})
    result = train_run(config, overrides)
    assert seen == [37]
    assert read_run(result.run_dir).train["baseline_log_users"] == 37
    with pytest.raises(TrainingError, match="baseline_log_users"):
        config_from_args({**args, "baseline_log_users": "0"})


def test_the_policy_options_are_checked_before_anything_is_written(tmp_path) -> None:
    args = small_run_args(tmp_path, policy="gaussian", prior="baseline")
    config, overrides = config_from_args(args)
    with pytest.raises(TrainingError, match="--prior"):
        train_run(config, overrides)
    config, overrides = config_from_args({**args, "prior": "none", "policy": "plackett-luce",
                                          "overrides": ["slate.builder=query"]})  # fmt: skip
    with pytest.raises(TrainingError, match="--policy gaussian"):
        train_run(config, overrides)
    assert not list(tmp_path.iterdir())
    with pytest.raises(TrainingError, match="--temperature-floor"):
        config_from_args({**args, "temperature_init": "0.01"})


def test_behaviour_cloning_fits_the_teachers_ordered_slates() -> None:
    sim = make_simulator(build_scenario(resolve_scenario("synthetic-shop", overrides=SMALL)), 32)
    slates = collect_teacher_slates(PopularityAgent(), sim, seed=0)
    env = VecMonitor(SlateRecVecEnv(4, config=SMALL))
    policy = make_ppo(env, device="cpu", **FAST).policy
    k = sim.k
    teacher = decode_slate(th.as_tensor(slates.actions[:256]), k).numpy()

    def agreement() -> float:
        obs = {key: value[:256] for key, value in slates.observations.items()}
        action, _ = policy.predict(obs, deterministic=True)
        return float((decode_slate(th.as_tensor(action), k).numpy() == teacher).mean())

    start = agreement()
    stats = behaviour_clone(policy, slates, steps=150, batch_size=128, learning_rate=3e-3)
    assert stats["nll_after"] < stats["nll_before"] - 1.0
    assert agreement() > max(start, 0.5)


def test_slate_overlap_counts_shared_items() -> None:
    sampled = np.array([[0.9, 0.1, 0.5, -1.0], [0.0, 0.0, 0.0, 1.0]])
    mode = np.array([[0.9, 0.5, 0.1, -1.0], [1.0, 0.0, 0.9, 0.0]])
    assert slate_overlap(sampled, mode, 2).tolist() == [1, 1]
    assert slate_overlap(mode, mode, 2).tolist() == [2, 2]


@pytest.mark.parametrize("set_aware", [False, True])
def test_the_sampling_pass_and_the_evaluation_pass_agree(set_aware: bool) -> None:
    scores = th.randn(64, 7, generator=th.Generator().manual_seed(4))
    tau = th.rand(64, generator=th.Generator().manual_seed(5)) + 0.3
    context = random_context(64, 7) if set_aware else None
    with th.no_grad():
        picks, log_prob, entropy = slate_walk(scores, tau, 3, context)
        _, again, entropy_again = slate_walk(scores, tau, 3, context, picks)
    assert th.allclose(log_prob, again, atol=1e-5)
    assert th.allclose(entropy, entropy_again, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), k=st.integers(1, 6), scale=st.sampled_from([0.1, 3.0, 30.0]))
def test_the_masked_entropy_equals_the_plain_sum_bit_for_bit(
    seed: int, k: int, scale: float
) -> None:
    """Entering taken candidates as log p = 0 (to skip exp of ≈ −1e9) changes neither the
    chain-rule entropy nor its gradient by a single bit."""
    gen = th.Generator().manual_seed(seed)
    n = 6
    logits = (th.randn(5, k, n, generator=gen) * scale).requires_grad_()
    picks = th.stack([th.randperm(n, generator=gen)[:k] for _ in range(5)])
    taken = _taken_before(picks, n)
    logp = th.log_softmax(logits.masked_fill(taken, TAKEN_LOGIT), dim=2)
    plain = -(logp.exp() * logp).sum(dim=(1, 2))
    masked = _chain_entropy(logp, taken)
    assert th.equal(plain, masked)
    weights = th.randn(5, generator=gen)
    (grad_plain,) = th.autograd.grad((plain * weights).sum(), logits, retain_graph=True)
    (grad_masked,) = th.autograd.grad((masked * weights).sum(), logits)
    assert th.equal(grad_plain, grad_masked)


@pytest.mark.parametrize("set_aware", [False, True])
def test_a_rollouts_deferred_entropy_is_the_walks(set_aware: bool) -> None:
    """The distribution computes a sampled or greedy walk's entropy only when asked; then it
    is exactly what :func:`slate_walk` returns for the same draw."""
    scores = th.randn(16, 7, generator=th.Generator().manual_seed(6))
    tau = th.rand(16, generator=th.Generator().manual_seed(7)) + 0.3
    context = random_context(16, 7) if set_aware else None
    for greedy in (False, True):
        with th.no_grad():
            th.manual_seed(8)
            picks, log_prob, entropy = slate_walk(scores, tau, 3, context, greedy=greedy)
            th.manual_seed(8)
            dist = PlackettLuceDistribution(7, 3).proba_distribution(scores, tau, context)
            actions = dist.mode() if greedy else dist.sample()
            assert th.equal(decode_slate(actions, 3), picks)
            assert th.equal(dist.log_prob(actions), log_prob)
            assert th.equal(dist.entropy(), entropy)


def test_policy_size_does_not_depend_on_catalogue_or_candidate_count() -> None:
    def n_params(config: dict) -> int:
        env = VecMonitor(SlateRecVecEnv(2, config=config))
        return sum(p.numel() for p in make_ppo(env, device="cpu", **FAST).policy.parameters())

    base = n_params(SMALL)
    assert n_params({**SMALL, "catalog": {**SMALL["catalog"], "n_items": 900}}) == base
    assert n_params({**SMALL, "slate": {"size": 5, "n_candidates": 40}}) == base
