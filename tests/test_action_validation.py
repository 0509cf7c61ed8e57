"""Bad actions and bad construction arguments are answered on every face: the Gymnasium ``Env``
(``gymnasium.make``), the Gymnasium ``VectorEnv`` (``gymnasium.make_vec``) and the SB3
``VecEnv`` — one line naming ``action`` (or the argument) and what is allowed."""

from __future__ import annotations

import re
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import divrec_rl
from divrec_rl.envs import SlateRecVecEnv, make_simulator

SMALL = {"catalog": {"n_items": 200, "n_categories": 5, "embedding_dim": 8}}
BUILDERS = {"candidates": SMALL, "query": {**SMALL, "slate": {"builder": "query"}}}
N = 3


def _single(config: dict) -> Callable[[np.ndarray], object]:
    env = gym.make(divrec_rl.ENV_ID, config=config)
    env.reset(seed=0)
    return lambda batch: env.step(batch[0])


def _vector(config: dict) -> Callable[[np.ndarray], object]:
    env = gym.make_vec(
        divrec_rl.ENV_ID, num_envs=N, vectorization_mode="vector_entry_point", config=config
    )
    env.reset(seed=0)
    return env.step


def _sb3(config: dict) -> Callable[[np.ndarray], object]:
    env = SlateRecVecEnv(N, config=config)
    env.seed(0)
    env.reset()
    return env.step


FACES = {"single": _single, "vector": _vector, "sb3": _sb3}


def _good(config: dict) -> np.ndarray:
    shape = make_simulator("synthetic-shop", 1, config=config).action_space.shape
    return np.full((N, *shape), 0.25, dtype=np.float32)


def _poisoned(value: float) -> Callable[[np.ndarray], np.ndarray]:
    def poison(a: np.ndarray) -> np.ndarray:
        a[0, 2] = value
        return a

    return poison


BAD = {
    "nan": (_poisoned(np.nan), r"action: every entry must be finite; user 0, entry 2 is nan"),
    "+inf": (_poisoned(np.inf), r"action: every entry must be finite; user 0, entry 2 is inf"),
    "-inf": (_poisoned(-np.inf), r"action: every entry must be finite; user 0, entry 2 is -inf"),
    "high": (_poisoned(1.5), r"action: every entry must lie in the action box \[-1, 1\]; "),
    "low": (_poisoned(-1.01), r"action: every entry must lie in the action box \[-1, 1\]; "),
    "short": (lambda a: a[:, :-1], r"action: expected shape \("),
    "long": (lambda a: np.concatenate([a, a[:, :1]], axis=1), r"action: expected shape \("),
    "text": (lambda a: a.astype(str), r"action: (must be a numeric array|expected shape)"),
    "half-high": (
        lambda a: _poisoned(1.5)(a).astype(np.float16),
        r"action: every entry must lie in the action box \[-1, 1\]; user 0, entry 2 is 1.5",
    ),
}


@pytest.mark.parametrize("builder", sorted(BUILDERS))
@pytest.mark.parametrize("face", sorted(FACES))
@pytest.mark.parametrize("bad", sorted(BAD))
def test_bad_actions_raise_on_every_face(face: str, builder: str, bad: str) -> None:
    step = FACES[face](BUILDERS[builder])
    spoil, message = BAD[bad]
    with pytest.raises(ValueError, match=message):
        step(spoil(_good(BUILDERS[builder])))
    step(_good(BUILDERS[builder]))  # the face still works after the refusal


@pytest.mark.parametrize("dtype", [np.float16, np.longdouble, np.int8])
@pytest.mark.parametrize("face", sorted(FACES))
def test_any_numeric_dtype_steps_as_the_same_float32_action(face: str, dtype: type) -> None:
    # float16 and long double reached the compiled box check, which has no loop for them
    # (a numba NotImplementedError / TypingError instead of a step).
    good = _good(SMALL)
    good[:, ::3] = -1.0  # exactly representable in every dtype, and not a constant action
    good[:, 1::3] = 1.0
    if dtype is np.int8:
        good[:, 2::3] = 0.0
    expected, got = FACES[face](SMALL)(good), FACES[face](SMALL)(good.astype(dtype))
    for a, b in zip(expected, got, strict=True):
        if isinstance(a, dict):
            a, b = a.get("slate", a.get("candidates")), b.get("slate", b.get("candidates"))
        np.testing.assert_array_equal(np.asarray(b), np.asarray(a))


def test_single_env_names_its_own_action_shape() -> None:
    env = gym.make(divrec_rl.ENV_ID, config=SMALL)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action: expected shape \(40,\), got \(1, 40\)"):
        env.step(np.zeros((1, 40), dtype=np.float32))


def test_batched_shape_message_names_expected_and_got() -> None:
    sim = make_simulator("synthetic-shop", 2, config=SMALL)
    with pytest.raises(ValueError, match=r"expected shape \(2, 40\) .* got \(1, 40\)"):
        sim.check_actions(np.zeros((1, 40)))


def test_a_refused_action_changes_nothing_in_the_vector_env() -> None:
    def run(with_bad_step: bool) -> list[np.ndarray]:
        env = gym.make_vec(
            divrec_rl.ENV_ID, num_envs=N, vectorization_mode="vector_entry_point", config=SMALL
        )
        env.reset(seed=4)
        good = _good(SMALL)
        rewards, ended = [], 0
        for _ in range(60):  # long enough for users to leave and be autoreset
            if with_bad_step:
                with pytest.raises(ValueError, match="action"):
                    env.step(_poisoned(np.nan)(good.copy()))
            _, reward, terminated, truncated, _ = env.step(good)
            rewards.append(reward)
            ended += int((terminated | truncated).sum())
        assert ended > 0, "no autoreset happened: the test would prove nothing"
        return rewards

    np.testing.assert_array_equal(np.stack(run(True)), np.stack(run(False)))


_ENV = gym.make(divrec_rl.ENV_ID, config=SMALL)
_ENV.reset(seed=1)


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.float32,
        (40,),
        elements=st.floats(-1.0, 1.0, width=32),
    )
)
def test_any_finite_action_inside_the_box_is_accepted(action: np.ndarray) -> None:
    _, _, terminated, truncated, info = _ENV.step(action)
    assert len(info["slate"]) == _ENV.unwrapped.simulator.k
    if terminated or truncated:
        _ENV.reset()


def _constructors() -> dict[str, Callable[..., object]]:
    return {
        "gym.make": lambda **kw: gym.make(divrec_rl.ENV_ID, **kw),
        "gym.make_vec": lambda **kw: gym.make_vec(
            divrec_rl.ENV_ID, num_envs=2, vectorization_mode="vector_entry_point", **kw
        ),
        "SlateRecVecEnv": lambda **kw: SlateRecVecEnv(2, **kw),
        "make_simulator": lambda **kw: make_simulator(
            kw.pop("scenario", "synthetic-shop"), 2, **kw
        ),
    }


ARGUMENTS = {
    "scenario=123": (
        {"scenario": 123},
        TypeError,
        r"scenario: must be a scenario name, 'module:attr', a YAML file path, a mapping",
    ),
    "diversity_weight='abc'": (
        {"diversity_weight": "abc"},
        TypeError,
        r"diversity_weight: must be a number in \[0, 100\] or None, got 'abc'",
    ),
    "diversity_weight=-1": (
        {"diversity_weight": -1},
        ValueError,
        r"diversity_weight: must be a number in \[0, 100\] or None, got -1",
    ),
}


@pytest.mark.parametrize("argument", sorted(ARGUMENTS))
@pytest.mark.parametrize("face", sorted(_constructors()))
def test_bad_construction_arguments_are_named(face: str, argument: str) -> None:
    kwargs, error, message = ARGUMENTS[argument]
    with pytest.raises(error, match=message):
        _constructors()[face](**dict(kwargs))


def test_a_path_is_a_scenario_file(tmp_path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text("base: synthetic-shop\ncatalog: {n_items: 200, n_categories: 5}\n")
    sim = make_simulator(path, 1)
    assert sim.catalog.n_items == 200


@pytest.mark.parametrize("bad_shape", [(9,), (1, 10), (11,)])
def test_single_env_step_slate_names_the_shape_it_was_given(bad_shape: tuple[int, ...]) -> None:
    env = gym.make(divrec_rl.ENV_ID, config=SMALL)
    env.reset(seed=0)
    slate = np.arange(int(np.prod(bad_shape))).reshape(bad_shape)
    with pytest.raises(
        ValueError, match=rf"slate: expected shape \(10,\), got {re.escape(str(bad_shape))}"
    ):
        env.unwrapped.step_slate(slate)
    env.unwrapped.step_slate(np.arange(10))  # still works after the refusal
