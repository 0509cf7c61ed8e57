"""The three faces (Env, VectorEnv, SB3 VecEnv) over one core: checks, determinism, equivalence."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import divrec_rl
from divrec_rl.envs import SlateRecEnv, SlateRecVecEnv, SlateRecVectorEnv

SYNTHETIC_BUILTINS = [
    n
    for n in divrec_rl.scenario_names()
    if divrec_rl.resolve_scenario(n).catalog.source == "synthetic-shop"
]


@pytest.mark.parametrize("scenario", SYNTHETIC_BUILTINS)
@pytest.mark.parametrize("builder", ["candidates", "query"])
def test_check_env_passes_without_warnings(scenario: str, builder: str) -> None:
    env = gym.make(divrec_rl.ENV_ID, scenario=scenario, config={"slate": {"builder": builder}})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gym_check_env(env.unwrapped)
        sb3_check_env(env.unwrapped, warn=True)
    assert [str(w.message) for w in caught] == []


def _rollout_single(seed: int, steps: int, actions: np.ndarray, **kw) -> list[tuple]:
    env = SlateRecEnv(**kw)
    obs, _ = env.reset(seed=seed)
    out = []
    for t in range(steps):
        obs, r, term, trunc, info = env.step(actions[t])
        out.append((obs["user"].copy(), r, term, trunc, info["clicked"], tuple(info["slate"])))
        if term or trunc:
            obs, _ = env.reset()
            out.append(("reset", obs["user"].copy()))
    return out


def test_single_env_same_seed_same_trajectory(small_overrides: dict) -> None:
    actions = np.random.default_rng(0).uniform(-1, 1, (60, 20)).astype(np.float32)
    a = _rollout_single(3, 60, actions, config=small_overrides)
    b = _rollout_single(3, 60, actions, config=small_overrides)
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        for u, v in zip(x, y, strict=True):
            np.testing.assert_array_equal(u, v)
    c = _rollout_single(4, 60, actions, config=small_overrides)
    assert not np.array_equal(a[0][0], c[0][0]), "another seed must give another user"


VARIANTS = {
    "default": {},
    "returns+cascade": {
        "behaviour": {
            "choice": {"model": "cascade"},
            "return_model": {"enabled": True, "max_sessions": 3},
        }
    },
    "query-builder": {"slate": {"builder": "query"}},
    "timed-consumption+returns": {
        "users": {"timed_consumption": True},
        "behaviour": {"return_model": {"enabled": True, "max_sessions": 3}},
    },
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_vector_env_reproduces_single_envs(small_overrides: dict, variant: str) -> None:
    from divrec_rl.config import merge_overrides

    small_overrides = merge_overrides(small_overrides, VARIANTS[variant])
    n, steps, seed = 6, 80, 11
    rng = np.random.default_rng(1)
    dim = SlateRecEnv(config=small_overrides).action_space.shape[0]
    actions = rng.uniform(-1, 1, (steps, n, dim)).astype(np.float32)
    venv = gym.make_vec(
        divrec_rl.ENV_ID,
        num_envs=n,
        vectorization_mode="vector_entry_point",
        config=small_overrides,
    )
    assert isinstance(venv.unwrapped, SlateRecVectorEnv) or isinstance(venv, SlateRecVectorEnv)
    vobs, _ = venv.reset(seed=seed)
    envs = [SlateRecEnv(config=small_overrides) for _ in range(n)]
    sobs = [e.reset(seed=seed + i)[0] for i, e in enumerate(envs)]
    pending = [False] * n
    n_resets = 0
    for i in range(n):
        for key in vobs:
            np.testing.assert_array_equal(vobs[key][i], sobs[i][key])
    for t in range(steps):
        vobs, vr, vterm, vtrunc, vinfo = venv.step(actions[t])
        for i, env in enumerate(envs):
            if pending[i]:  # Gymnasium NEXT_STEP autoreset: this step resets user i
                o, _ = env.reset()
                r, term, trunc = 0.0, False, False
                pending[i] = False
                n_resets += 1
            else:
                o, r, term, trunc, info = env.step(actions[t, i])
                pending[i] = term or trunc
                assert vinfo["clicked"][i] == info["clicked"]
                np.testing.assert_array_equal(vinfo["slate"][i], info["slate"])
            for key in vobs:
                np.testing.assert_array_equal(vobs[key][i], o[key])
            assert vr[i] == r and vterm[i] == term and vtrunc[i] == trunc
    assert n_resets > 0, "the test should cover autoresets"


def test_sb3_vec_env_reproduces_single_envs(small_overrides: dict) -> None:
    n, steps, seed = 5, 70, 21
    actions = np.random.default_rng(2).uniform(-1, 1, (steps, n, 20)).astype(np.float32)
    venv = SlateRecVecEnv(n, config=small_overrides)
    venv.seed(seed)
    vobs = venv.reset()
    envs = [SlateRecEnv(config=small_overrides) for _ in range(n)]
    for i, e in enumerate(envs):
        np.testing.assert_array_equal(e.reset(seed=seed + i)[0]["user"], vobs["user"][i])
    dones_seen = 0
    for t in range(steps):
        vobs, vr, vdone, vinfos = venv.step(actions[t])
        for i, env in enumerate(envs):
            o, r, term, trunc, _ = env.step(actions[t, i])
            assert np.float32(r) == vr[i]
            assert vdone[i] == (term or trunc)
            if term or trunc:
                dones_seen += 1
                np.testing.assert_array_equal(vinfos[i]["terminal_observation"]["user"], o["user"])
                assert vinfos[i]["TimeLimit.truncated"] == (trunc and not term)
                o, _ = env.reset()
            np.testing.assert_array_equal(vobs["user"][i], o["user"])
    assert dones_seen > 0


def test_step_after_leaving_is_refused(small_overrides: dict) -> None:
    env = SlateRecEnv(config={**small_overrides, "episode": {"max_steps": 3}})
    env.reset(seed=0)
    done = False
    while not done:
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        done = term or trunc
    with pytest.raises(gym.error.ResetNeeded):
        env.step(env.action_space.sample())


def test_info_carries_what_metrics_need() -> None:
    env = SlateRecEnv()
    env.reset(seed=0)
    _, reward, _, _, info = env.step(env.action_space.sample())
    for key in ("engagement", "diversity", "slate", "clicked", "left"):
        assert key in info
    assert info["slate"].shape == (10,)
    assert info["clicked"] == -1 or info["clicked"] in set(info["slate"].tolist())
    lam = env.simulator.diversity_weight
    assert reward == pytest.approx(info["engagement"] + lam * info["diversity"])
    assert isinstance(info["left"], bool)


def test_diversity_weight_override_changes_reward_only_by_lambda() -> None:
    a, b = SlateRecEnv(diversity_weight=0.0), SlateRecEnv(diversity_weight=0.7)
    a.reset(seed=5)
    b.reset(seed=5)
    act = np.linspace(-1, 1, 40, dtype=np.float32)
    _, ra, *_, ia = a.step(act)
    _, rb, *_, ib = b.step(act)
    assert ra == pytest.approx(ia["engagement"])
    assert rb == pytest.approx(ib["engagement"] + 0.7 * ib["diversity"])
    assert ia["engagement"] == ib["engagement"]


def test_render_ansi_shows_titles() -> None:
    env = SlateRecEnv(render_mode="ansi")
    env.reset(seed=0)
    env.step(env.action_space.sample())
    text = env.render()
    assert "patience" in text and "—" in text


def test_making_and_stepping_the_env_imports_no_data_or_learning_stack() -> None:
    """The gymnasium face is the one third-party libraries make many times: pandas (data
    loading), torch and Stable-Baselines3 stay out of it (pandas alone took ~0.2 s and ~70 MB
    per process when the population module imported it)."""
    import subprocess
    import sys

    code = (
        "import sys, gymnasium as gym, divrec_rl; "
        "env = gym.make(divrec_rl.ENV_ID, scenario='synthetic-shop'); env.reset(seed=0); "
        "env.step(env.action_space.sample()); "
        "print(sorted(m for m in ('pandas', 'torch', 'stable_baselines3') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
