"""``users.timed_consumption``: a consumption average that decays every step, observed.

With it the fatigue's consumption part is an observable: on a scenario whose fatigue decays at
the history rate h and without return visits, ``F = (w_exp/s)·exposure + (w_cons/(1 − h))·D``
exactly (s = (1 − h)/k, the exposure average's weight of one slot).
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import divrec_rl
from divrec_rl.resolve import resolve_scenario
from divrec_rl.rollout import user_keys
from divrec_rl.scenario import build_scenario
from divrec_rl.simulator import SlateSimulator

ON = {"users": {"timed_consumption": True}}


def _simulator(overrides: dict, n: int = 32) -> SlateSimulator:
    sim = SlateSimulator(
        build_scenario(resolve_scenario("synthetic-shop", overrides=overrides)), n, "eval"
    )
    sim.reset_users(np.arange(n), user_keys(5, n))
    return sim


def _step(sim: SlateSimulator, rng: np.random.Generator):
    shape = (sim.n_users, sim.action_space.shape[0])
    return sim.step(rng.uniform(-1, 1, shape).astype(np.float32))


def test_off_by_default_and_then_the_observation_is_unchanged() -> None:
    off, on = _simulator({}), _simulator(ON)
    c = off.catalog.n_categories
    assert off.user_dim + c == on.user_dim
    assert off.candidate_feature_dim + 1 == on.candidate_feature_dim
    assert "timed_consumption" not in off.user_layout()
    # The same users, the same dynamics: every column the default shows is shown unchanged.
    a, b = off.observe(), on.observe()
    np.testing.assert_array_equal(a["user"], b["user"][:, : off.user_dim])
    rng_a, rng_b = np.random.default_rng(0), np.random.default_rng(0)
    for _ in range(10):
        ra, rb = _step(off, rng_a), _step(on, rng_b)
        np.testing.assert_array_equal(ra.info["slate"], rb.info["slate"])
        np.testing.assert_array_equal(
            ra.observation["user"], rb.observation["user"][:, : off.user_dim]
        )
        m = off.candidate_feature_dim
        fa = ra.observation["candidates"].reshape(off.n_users, -1, m)
        fb = rb.observation["candidates"].reshape(on.n_users, -1, m + 1)
        np.testing.assert_array_equal(fa, fb[:, :, :m])


def test_update_against_the_formula_and_the_observation() -> None:
    sim = _simulator(ON)
    h = np.float32(sim.config.users.history_decay)
    rng = np.random.default_rng(1)
    assert np.all(sim.state.timed_consumption == 0)  # from 0 at the episode's start
    for _ in range(15):
        before = sim.state.timed_consumption.copy()
        was_active = sim.state.active.copy()
        result = _step(sim, rng)
        pos, slate = result.info["position"], result.info["slate"]
        expect = before.copy()
        expect[was_active] *= h
        for u in np.flatnonzero(was_active & (pos >= 0)):
            expect[u] += (np.float32(1) - h) * sim.catalog.category_weights[slate[u, pos[u]]]
        np.testing.assert_allclose(sim.state.timed_consumption, expect, rtol=0, atol=1e-7)
        layout = sim.user_layout()["timed_consumption"]
        np.testing.assert_array_equal(
            result.observation["user"][:, layout], sim.state.timed_consumption
        )
        feats = result.observation["candidates"].reshape(sim.n_users, -1, sim.candidate_feature_dim)
        primary = sim.catalog.primary_category[sim.candidates]
        np.testing.assert_array_equal(
            feats[:, :, -1], np.take_along_axis(sim.state.timed_consumption, primary, axis=1)
        )


def test_fatigue_is_a_linear_function_of_the_observation_with_it() -> None:
    sim = _simulator(ON, n=64)
    cfg = sim.config
    assert cfg.behaviour.boredom.decay == cfg.users.history_decay
    assert not cfg.behaviour.return_model.enabled
    h, k, b = cfg.users.history_decay, cfg.slate.size, cfg.behaviour.boredom
    rng = np.random.default_rng(2)
    for _ in range(25):
        _step(sim, rng)
    st = sim.state
    layout = sim.user_layout()
    user = sim.observe()["user"].astype(np.float64)
    predicted = (b.exposure_weight * k / (1 - h)) * user[:, layout["exposure"]] + (
        b.consume_weight / (1 - h)
    ) * user[:, layout["timed_consumption"]]
    assert st.fatigue.max() > 1.0  # the users did tire
    np.testing.assert_allclose(predicted[st.active], st.fatigue[st.active], atol=1e-5)


@pytest.mark.parametrize("builder", ["candidates", "query"])
def test_check_env_passes_with_it(builder: str) -> None:
    config = {**ON, "slate": {"builder": builder}}
    env = gym.make(divrec_rl.ENV_ID, scenario="shop-returns", config=config)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gym_check_env(env.unwrapped)
        sb3_check_env(env.unwrapped, warn=True)
    assert [str(w.message) for w in caught] == []


def test_a_non_boolean_value_is_refused_naming_the_field() -> None:
    with pytest.raises(divrec_rl.ScenarioError, match=r"users\.timed_consumption"):
        resolve_scenario("synthetic-shop", overrides={"users": {"timed_consumption": "often"}})
