"""Copies of the faces continue like the originals; the batched faces keep Gymnasium's and SB3's
API contracts (reset before step, partial reset, per-index calls, argument errors)."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import divrec_rl
from divrec_rl.envs import SlateRecVecEnv, SlateRecVectorEnv

MAX_STEPS = 6


def _cloudpickle(obj: Any) -> Any:
    cloudpickle = pytest.importorskip("cloudpickle")
    return cloudpickle.loads(cloudpickle.dumps(obj))


COPIERS: dict[str, Callable[[Any], Any]] = {
    "deepcopy": copy.deepcopy,
    "pickle": lambda obj: pickle.loads(pickle.dumps(obj)),
    "cloudpickle": _cloudpickle,
}


@pytest.fixture
def short(small_overrides: dict) -> dict:
    """A small shop whose episodes truncate after MAX_STEPS steps."""
    return {**small_overrides, "episode": {"max_steps": MAX_STEPS}}


def _actions(space: gym.Space, n: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.uniform(-1, 1, (n, *space.shape)).astype(np.float32)


@pytest.mark.parametrize("copier", list(COPIERS))
def test_copied_env_continues_like_the_original(short: dict, copier: str) -> None:
    env = gym.make(divrec_rl.ENV_ID, config=short)
    env.reset(seed=3)
    actions = _actions(env.action_space, MAX_STEPS)
    for a in actions[:2]:
        env.step(a)
    twin = COPIERS[copier](env)
    for a in actions[2:]:
        o1, r1, term1, trunc1, info1 = env.step(a)
        o2, r2, term2, trunc2, info2 = twin.step(a)
        assert (r2, term2, trunc2, info2["t"]) == (r1, term1, trunc1, info1["t"])
        for key in o1:
            np.testing.assert_array_equal(o2[key], o1[key])
    assert trunc2 and not term2 and info2["t"] == MAX_STEPS, "the copy must truncate at max_steps"


@pytest.mark.parametrize("copier", list(COPIERS))
def test_copied_vector_env_continues_like_the_original(short: dict, copier: str) -> None:
    n, steps = 4, 3 * MAX_STEPS
    venv = SlateRecVectorEnv(n, config=short)
    venv.reset(seed=5)
    actions = _actions(venv.action_space, steps)
    for a in actions[:2]:
        venv.step(a)
    twin = COPIERS[copier](venv)
    sim = twin.simulator
    assert sim.state.counter_block() is sim._counters, "one counter block, as in the original"
    truncations = 0
    for a in actions[2:]:
        o1, r1, term1, trunc1, info1 = venv.step(a)
        o2, r2, term2, trunc2, info2 = twin.step(a)
        for x, y in [(r1, r2), (term1, term2), (trunc1, trunc2), (info1["t"], info2["t"])]:
            np.testing.assert_array_equal(y, x)
        for key in o1:
            np.testing.assert_array_equal(o2[key], o1[key])
        truncations += int(trunc2.sum())
    assert truncations >= n, "every user of the copy must reach max_steps"


def test_sb3_set_attr_and_env_method_refuse_a_subset_of_users(small_overrides: dict) -> None:
    venv = SlateRecVecEnv(3, config=small_overrides)
    with pytest.raises(ValueError, match=r"set_attr\('diversity_weight'\): the 3 users share"):
        venv.set_attr("diversity_weight", 0.5, indices=[0])
    assert venv.get_attr("diversity_weight") != [0.5] * 3
    venv.set_attr("diversity_weight", 0.5, indices=[0, 1, 2])
    assert venv.get_attr("diversity_weight", indices=[1, 2]) == [0.5, 0.5]

    venv.reset()
    calls: list[int] = []
    observe = venv.simulator.observe
    venv.simulator.observe = lambda: calls.append(1) or observe()
    with pytest.raises(ValueError, match=r"env_method\('observe'\): the 3 users share"):
        venv.env_method("observe", indices=[0])
    results = venv.env_method("observe")
    assert len(calls) == 1 and len(results) == 3, "the shared simulator is called once"
    t = venv.simulator.state.t.copy()
    with pytest.raises(ValueError, match="'step'"):
        venv.env_method("step", np.zeros(venv.action_space.shape, np.float32)[None], indices=0)
    np.testing.assert_array_equal(venv.simulator.state.t, t)


def test_sb3_get_attr_answers_spec_metadata_and_render_mode(small_overrides: dict) -> None:
    venv = SlateRecVecEnv(2, config=small_overrides, split="val")
    assert venv.get_attr("render_mode") == [None, None]
    assert venv.get_attr("metadata", indices=[1]) == [venv.metadata]
    specs = venv.get_attr("spec")
    assert len(specs) == 2 and specs[0].id == divrec_rl.ENV_ID
    single = gym.make(specs[0])
    assert single.unwrapped.simulator.split == "val"
    assert single.observation_space == venv.observation_space


def test_batched_faces_refuse_a_step_before_reset(small_overrides: dict) -> None:
    venv = gym.make_vec(
        divrec_rl.ENV_ID, 2, vectorization_mode="vector_entry_point", config=small_overrides
    )
    with pytest.raises(gym.error.ResetNeeded, match="reset"):
        venv.step(venv.action_space.sample())
    venv.reset(seed=0, options={"reset_mask": np.array([True, False])})
    with pytest.raises(gym.error.ResetNeeded, match=r"reset.*\[1\]"):
        venv.step(venv.action_space.sample())
    sb3 = SlateRecVecEnv(2, config=small_overrides)
    with pytest.raises(gym.error.ResetNeeded, match="reset"):
        sb3.step(np.zeros((2, *sb3.action_space.shape), np.float32))


def test_partial_reset_matches_gymnasium_sync_vector_env(short: dict) -> None:
    n, some = 4, np.array([True, False, True, False])
    # At step 2 users 0 and 2 are mid-episode; at MAX_STEPS users 1 and 3 just truncated.
    masks = {2: some, MAX_STEPS: ~some}
    envs = {
        mode: gym.make_vec(divrec_rl.ENV_ID, n, vectorization_mode=mode, config=short)
        for mode in ("vector_entry_point", "sync")
    }
    actions = _actions(envs["sync"].action_space, 3 * MAX_STEPS)
    out: dict[str, list] = {mode: [] for mode in envs}
    for mode, env in envs.items():
        out[mode].append(env.reset(seed=1)[0])
        for t, a in enumerate(actions):
            if t in masks:
                seed = [10 + t, 20 + t, None, 30 + t]
                out[mode].append(env.reset(seed=seed, options={"reset_mask": masks[t].copy()})[0])
            out[mode].append(env.step(a)[:4])
    for got, want in zip(out["vector_entry_point"], out["sync"], strict=True):
        _assert_same(got, want)


def _assert_same(got: Any, want: Any) -> None:
    if isinstance(want, dict):
        for key in want:
            np.testing.assert_array_equal(got[key], want[key])
    elif isinstance(want, tuple):
        for x, y in zip(got, want, strict=True):
            _assert_same(x, y)
    else:
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


@pytest.mark.parametrize(
    ("seed", "error"),
    [(1.5, TypeError), ("a", TypeError), (-1, ValueError), ([99, -1], ValueError)],
)
def test_vector_env_rejects_a_bad_seed_before_reseeding(
    small_overrides: dict, seed: object, error: type[Exception]
) -> None:
    def after(bad: object | None) -> np.ndarray:
        venv = SlateRecVectorEnv(2, config=small_overrides)
        venv.reset(seed=0)
        if bad is not None:
            with pytest.raises(error, match=r"^seed: must be a non-negative int, None, or a list"):
                venv.reset(seed=bad)
        return venv.reset()[0]["user"]

    np.testing.assert_array_equal(after(seed), after(None))


def test_batched_faces_name_their_arguments(small_overrides: dict) -> None:
    sb3 = SlateRecVecEnv(2, config=small_overrides)
    with pytest.raises(ValueError, match=r"^seed: must be a non-negative int"):
        sb3.seed(-1)
    for bad, error in [(0, ValueError), ("4", TypeError), (None, TypeError)]:
        with pytest.raises(error, match=r"^n_envs: must be an int ≥ 1"):
            SlateRecVecEnv(bad, config=small_overrides)
    with pytest.raises(ValueError, match=r"^num_envs: must be an int ≥ 1"):
        gym.make_vec(divrec_rl.ENV_ID, 0, vectorization_mode="vector_entry_point")
    with pytest.raises(ValueError, match=r"^max_episode_steps:.*episode\.max_steps"):
        gym.make_vec(
            divrec_rl.ENV_ID, 2, vectorization_mode="vector_entry_point", max_episode_steps=5
        )
