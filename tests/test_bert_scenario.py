"""The movielens scenario on a tiny checkpoint: env faces, population, response, errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import gymnasium
import numpy as np
import pytest

import divrec_rl  # noqa: F401  registers the env
from divrec_rl.bert.checkpoint import load_tables
from divrec_rl.bert.response import BertResponseModel
from divrec_rl.bert.testing import (
    shared_tiny_checkpoint,
    tiny_scenario_overrides,
    write_synthetic_dataset,
)
from divrec_rl.config import ScenarioError
from divrec_rl.envs.slate_env import make_simulator
from divrec_rl.resolve import resolve_scenario
from divrec_rl.scenario import build_scenario


@pytest.fixture(scope="module")
def tiny() -> dict[str, object]:
    shared = shared_tiny_checkpoint()
    overrides = tiny_scenario_overrides(shared)
    return {**shared, "overrides": overrides}


def test_builtin_scenarios_resolve() -> None:
    for name in ("movielens-100k", "movielens-1m"):
        cfg = resolve_scenario(name)
        assert cfg.catalog.source == name
        assert cfg.users.population == "movielens"
        assert cfg.response.model == "bert"
        assert cfg.description


def test_scenario_builds_on_tiny_checkpoint(tiny: dict) -> None:
    sc = build_scenario(resolve_scenario("movielens-100k", overrides=tiny["overrides"]))
    tables = load_tables(tiny["model"])
    assert sc.catalog.n_items == 40
    np.testing.assert_array_equal(sc.catalog.embeddings, tables.item_vectors)
    np.testing.assert_allclose(sc.catalog.category_weights.sum(axis=1), 1.0, atol=1e-6)
    assert isinstance(sc.response, BertResponseModel)
    assert sc.population.n_features == tables.user_features.shape[1]


@pytest.mark.parametrize("name", ["movielens-100k", "movielens-1m"])
def test_gymnasium_make_and_check_env(tiny: dict, name: str) -> None:
    from gymnasium.utils.env_checker import check_env

    env = gymnasium.make("divrec_rl/SlateRec-v0", scenario=name, config=tiny["overrides"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)
    env.reset(seed=3)
    for _ in range(3):
        _obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert np.isfinite(reward) and 0.0 <= info["engagement"] <= 1.0
        if terminated or truncated:
            break


@pytest.mark.parametrize("name", ["movielens-100k", "movielens-1m"])
def test_sb3_check_env(tiny: dict, name: str) -> None:
    from stable_baselines3.common.env_checker import check_env

    from divrec_rl.envs.slate_env import SlateRecEnv

    env = SlateRecEnv(name, config=tiny["overrides"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, warn=True)


def test_batch_rows_equal_single_users(tiny: dict) -> None:
    """The BERT response runtime is row-independent: N users batched = N users alone."""
    sim = make_simulator("movielens-100k", 6, "eval", config=tiny["overrides"])
    keys = np.arange(6, dtype=np.uint64) * np.uint64(7919)
    sim.reset_users(np.arange(6), keys)
    rng = np.random.default_rng(0)
    slates = np.stack([rng.permutation(40)[:4] for _ in range(6)])
    a_all, s_all = sim.response.scores(sim.state, slates)
    for i in range(6):
        one = sim.state.take(np.array([i]))
        a1, s1 = sim.response.scores(one, slates[i : i + 1])
        np.testing.assert_array_equal(a1[0], a_all[i])
        np.testing.assert_array_equal(s1[0], s_all[i])
    np.testing.assert_array_equal(sim.response.attraction(sim.state, slates), a_all)
    np.testing.assert_array_equal(sim.response.satisfaction_logit(sim.state, slates), s_all)


def test_response_matches_the_tables(tiny: dict) -> None:
    sim = make_simulator("movielens-100k", 3, "train", config=tiny["overrides"])
    sim.reset_users(np.arange(3), np.array([1, 2, 3], dtype=np.uint64))
    tables = load_tables(tiny["model"])
    st = sim.state
    items = np.array([[0, 5, 9, 13]] * 3)
    attr, sat = sim.response.scores(st, items)
    for r in range(3):
        a, s = tables.pair_logits(
            np.repeat(st.interest[r : r + 1], 4, axis=0),
            np.repeat(st.user_index[r], 4),
            items[r],
            np.repeat(st.history[r : r + 1], 4, axis=0),  # ρ = the observed history EMA
        )
        np.testing.assert_allclose(attr[r], a, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(sat[r], s, rtol=1e-6, atol=1e-6)


def test_population_maps_keys_to_real_users_of_the_split(tiny: dict) -> None:
    sc = build_scenario(resolve_scenario("movielens-100k", overrides=tiny["overrides"]))
    pop = sc.population
    train, ev = set(pop.split_users("train")), set(pop.split_users("eval"))
    assert train and ev and not train & ev
    keys = np.arange(50, dtype=np.uint64)
    a = pop.initial_state(keys, "eval")
    b = pop.initial_state(keys[::-1].copy(), "eval")
    np.testing.assert_array_equal(a.user_index, b.user_index[::-1])
    np.testing.assert_array_equal(a.interest, b.interest[::-1])
    assert set(a.user_index.tolist()) <= ev
    np.testing.assert_allclose(np.linalg.norm(a.interest, axis=1), 1.0, atol=1e-5)
    assert np.all(np.linalg.norm(a.history, axis=1) > 0)
    assert a.features.min() >= 0 and a.features.max() <= 1


def test_missing_checkpoint_names_field_and_command(tiny: dict, tmp_path: Path) -> None:
    over = {**tiny["overrides"], "response": {"path": str(tmp_path / "none")}}
    with pytest.raises(ScenarioError) as err:
        build_scenario(resolve_scenario("movielens-100k", overrides=over))
    msg = str(err.value)
    assert "response.path" in msg and "divrec-rl finetune --dataset movielens-100k" in msg
    assert len(err.value.errors) == 1


def test_missing_dataset_names_the_fetch_command(
    tiny: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIVREC_DATA", str(tmp_path / "empty-cache"))
    over = {"response": {"path": str(tiny["model"])}}
    with pytest.raises(ScenarioError, match="divrec-rl data fetch movielens-1m"):
        build_scenario(resolve_scenario("movielens-1m", overrides=over))


def test_checkpoint_of_another_dataset_is_refused(tiny: dict, tmp_path: Path) -> None:
    other = write_synthetic_dataset(tmp_path / "other", seed=5)
    over = {**tiny["overrides"], "catalog": {"path": str(other)}}
    with pytest.raises(ScenarioError, match="trained on dataset"):
        build_scenario(resolve_scenario("movielens-100k", overrides=over))


def test_bert_needs_a_movielens_catalogue() -> None:
    with pytest.raises(ScenarioError, match=r"catalog\.source"):
        build_scenario(
            resolve_scenario("synthetic-shop", overrides={"response": {"model": "bert"}})
        )


def test_registering_the_movielens_parts_stays_cheap() -> None:
    """Building the scenario registries must not import torch or transformers."""
    import subprocess
    import sys

    code = (
        "import sys, divrec_rl.scenario as s; "
        "assert 'bert' in s.RESPONSE_MODELS and 'movielens-100k' in s.CATALOG_SOURCES; "
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
