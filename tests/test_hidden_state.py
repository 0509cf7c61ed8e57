"""No hidden state reaches the agents: scrambling interest, fatigue and patience *before* the
observation is built changes neither the observation nor the slate of any non-oracle agent, and
the observable click counters that replace patience say what they mean."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from stable_baselines3.common.vec_env import VecMonitor

from divrec_rl.agents.baselines import AttractionRankerAgent, PopularityAgent, RandomAgent
from divrec_rl.agents.myopic import MyopicOracleAgent
from divrec_rl.agents.ppo import PPOAgent, make_ppo
from divrec_rl.agents.supervised import ClickRanker, RerankAgent
from divrec_rl.envs import SlateRecVecEnv, make_simulator
from divrec_rl.rollout import user_keys
from divrec_rl.simulator import USER_SCALARS, SlateSimulator
from divrec_rl.slate import top_k_rows

SMALL = {
    "catalog": {"n_items": 300, "n_categories": 8, "embedding_dim": 16},
    "slate": {"size": 4, "n_candidates": 16},
}
VARIANTS = {
    "synthetic-shop": ("synthetic-shop", {}),
    "filter-bubble": ("filter-bubble", {}),
    "shop-returns": ("shop-returns", {}),
    "cascade": ("shop-returns", {"behaviour": {"choice": {"model": "cascade"}}}),
    "timed-consumption": ("shop-returns", {"users": {"timed_consumption": True}}),
}


def _config(extra: dict) -> dict:
    out = {key: dict(value) for key, value in SMALL.items()}
    for key, value in extra.items():
        out.setdefault(key, {}).update(value)
    return out


def _agents(sim: SlateSimulator, config: dict, scenario: str) -> dict[str, object]:
    """Every agent that may not read hidden state: random, popularity, the supervised ranker
    (plain, MMR and DPP serving; untrained weights read the same inputs), untrained PPO."""
    ranker = ClickRanker(sim.observation_space["user"].shape[0], sim.candidate_feature_dim)
    env = VecMonitor(SlateRecVecEnv(2, scenario=scenario, config=config))
    ppo = make_ppo(env, seed=0, device="cpu")
    return {
        "random": RandomAgent(seed=1),
        "popularity": PopularityAgent(),
        "supervised": RerankAgent(ranker, "none"),
        "baseline-mmr": RerankAgent(ranker, "mmr", 0.4),
        "baseline-dpp": RerankAgent(ranker, "dpp", 0.4),
        "ppo": PPOAgent(ppo, deterministic=True),
    }


def _fresh(agent: object) -> object:
    """A copy of an agent with its own random generator at the same point (others as they are)."""
    return copy.deepcopy(agent) if isinstance(agent, RandomAgent) else agent


def _slates(sim: SlateSimulator, actions: np.ndarray) -> np.ndarray:
    """The slates the candidate builder makes of ``actions`` (top-k of the scores)."""
    return np.take_along_axis(sim.candidates, top_k_rows(np.asarray(actions), sim.k), axis=1)


def _scramble(sim: SlateSimulator, rng: np.random.Generator) -> None:
    st = sim.state
    interest = rng.normal(size=st.interest.shape)
    st.interest[:] = interest / np.linalg.norm(interest, axis=1, keepdims=True)
    st.fatigue[:] = 5.0 * rng.random(st.fatigue.shape)
    st.patience[:] = sim.config.behaviour.patience.maximum * rng.random(st.patience.shape)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_scrambled_hidden_state_changes_no_observation_and_no_slate(variant: str) -> None:
    scenario, extra = VARIANTS[variant]
    config = _config(extra)
    sim = make_simulator(scenario, 8, split="eval", config=config)
    agents = _agents(sim, config, scenario)
    oracles = {"greedy": MyopicOracleAgent(), "attraction-ranker": AttractionRankerAgent()}
    sim.reset_users(np.arange(8), user_keys(4, 8))
    driver, rng = RandomAgent(seed=9), np.random.default_rng(0)
    oracle_moved = dict.fromkeys(oracles, False)
    for _ in range(6):
        obs = sim.observe()
        before = {n: _slates(sim, _fresh(a).act(obs, sim)) for n, a in agents.items()}
        oracle_before = {n: _slates(sim, a.act(obs, sim)) for n, a in oracles.items()}
        saved = sim.state.take(np.arange(8))
        _scramble(sim, rng)
        scrambled = sim.observe()  # built after the scramble
        for key in obs:
            np.testing.assert_array_equal(obs[key], scrambled[key], err_msg=key)
        for name, agent in agents.items():
            after = _slates(sim, _fresh(agent).act(scrambled, sim))
            np.testing.assert_array_equal(before[name], after, err_msg=name)
        for name, agent in oracles.items():
            oracle_moved[name] |= bool(
                np.any(_slates(sim, agent.act(scrambled, sim)) != oracle_before[name])
            )
        sim.state.assign(np.arange(8), saved)
        sim.step(driver.act(obs, sim))
    # The scramble is strong enough that the agents that read hidden state do change.
    assert all(oracle_moved.values()), oracle_moved


def test_user_observation_holds_the_click_counters_not_patience() -> None:
    sim = make_simulator("shop-returns", 16, split="eval", config=SMALL)
    layout = sim.user_layout()
    assert "patience" not in layout
    assert list(layout)[3 : 3 + len(USER_SCALARS)] == list(USER_SCALARS)
    sim.reset_users(np.arange(16), user_keys(2, 16))
    agent, T = RandomAgent(seed=3), sim.max_steps
    streak = np.zeros(16, int)
    since = np.zeros(16, int)
    clicks = np.zeros(16, int)
    for _ in range(40):
        obs = sim.observe()
        assert sim.observation_space["user"].contains(obs["user"][0])
        user = obs["user"]
        for name, want in (
            ("no_click_streak", streak),
            ("steps_since_click", since),
            ("session_clicks", clicks),
        ):
            np.testing.assert_allclose(user[:, layout[name]][:, 0], want / T, err_msg=name)
        info = sim.step(agent.act(obs, sim)).info
        stepped, clicked = info["active"], info["position"] >= 0
        since = np.where(stepped, np.where(clicked, 0, since + 1), since)
        streak = np.where(stepped, np.where(clicked, 0, streak + 1), streak)
        clicks = clicks + (stepped & clicked)
        back = info["returned"]  # a new session starts its own counters, not the episode's
        streak[back], clicks[back] = 0, 0
    assert since.max() > 0 and clicks.max() > 0
