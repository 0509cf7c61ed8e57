"""Property tests of the simulator dynamics (hypothesis) and hand-computed choice models."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from divrec_rl.envs import make_simulator
from divrec_rl.rng import uniforms
from divrec_rl.slate import CandidateSlateBuilder, QuerySlateBuilder
from divrec_rl.users.choice import cascade_probabilities, mnl_probabilities, sample_choice

logit_arrays = arrays(
    np.float64, st.tuples(st.integers(1, 6), st.integers(1, 12)), elements=st.floats(-30, 30)
)


@given(logit_arrays, st.floats(-10, 10), st.floats(0, 3))
def test_mnl_probabilities_sum_to_one(logits: np.ndarray, no_click: float, bias: float) -> None:
    p = mnl_probabilities(logits, no_click, bias)
    assert p.shape == (logits.shape[0], logits.shape[1] + 1)
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)


@given(logit_arrays, st.floats(-10, 10), st.floats(0.01, 1.0))
def test_cascade_probabilities_sum_to_one(logits: np.ndarray, no_click: float, cont: float) -> None:
    p = cascade_probabilities(logits, no_click, cont)
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-9)


def test_mnl_hand_computed() -> None:
    # utilities (1, 0) and no-click 0: exp = (e, 1, 1), total e + 2
    p = mnl_probabilities(np.array([[1.0, 0.0]]), 0.0)
    e = np.e
    np.testing.assert_allclose(p, [[e / (e + 2), 1 / (e + 2), 1 / (e + 2)]])
    # position bias β = 1: second slot loses log2(2) = 1 logit
    p = mnl_probabilities(np.array([[0.0, 1.0]]), -50.0, position_bias=1.0)
    np.testing.assert_allclose(p[0, :2], [0.5, 0.5], atol=1e-12)


def test_cascade_hand_computed() -> None:
    # a = σ(l − l0) = (0.5, 0.5) with l = l0; continue 0.8
    # P(1) = 0.5; P(2) = 0.5·0.8·0.5 = 0.2; P(none) = 0.3
    p = cascade_probabilities(np.array([[0.0, 0.0]]), 0.0, 0.8)
    np.testing.assert_allclose(p, [[0.5, 0.2, 0.3]])


def test_sample_choice_follows_probabilities() -> None:
    probs = np.array([[0.2, 0.5, 0.3]])
    u = np.linspace(0.0, 0.999, 1000)
    picks = np.array([sample_choice(probs, np.array([x]))[0] for x in u])
    np.testing.assert_allclose(np.bincount(picks, minlength=3) / 1000, [0.2, 0.5, 0.3], atol=0.002)


def test_uniform_streams_are_row_independent() -> None:
    keys = np.arange(10, dtype=np.uint64)
    t = np.arange(10)
    full = uniforms(keys, t, 7, 5)
    np.testing.assert_array_equal(full[3:4], uniforms(keys[3:4], t[3:4], 7, 5))
    assert not np.array_equal(uniforms(keys, t, 7, 5), uniforms(keys, t, 8, 5))


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    size=st.integers(1, 8),
    builder=st.sampled_from(["candidates", "query"]),
    choice=st.sampled_from(["mnl", "cascade"]),
    returns=st.booleans(),
)
def test_simulation_invariants(
    seed: int, size: int, builder: str, choice: str, returns: bool
) -> None:
    n_users = 16
    sim = make_simulator(
        "synthetic-shop",
        n_users,
        config={
            "catalog": {"n_items": 200, "n_categories": 6, "embedding_dim": 8},
            "slate": {"size": size, "builder": builder, "n_candidates": 12},
            "behaviour": {
                "choice": {"model": choice},
                "return_model": {"enabled": returns, "max_sessions": 3},
            },
            "episode": {"max_steps": 40},
        },
    )
    rng = np.random.default_rng(seed)
    sim.reset_users(np.arange(n_users), rng.integers(0, 2**63 - 1, n_users).astype(np.uint64))
    finished = np.zeros(n_users, dtype=bool)
    steps = np.zeros(n_users, dtype=int)
    for _ in range(45):
        actions = rng.uniform(-1, 1, (n_users, *sim.action_space.shape)).astype(np.float32)
        r = sim.step(actions)
        slates = r.info["slate"]
        stepped = r.info["active"]
        # a user who already left (or ran out of time) is never stepped again
        assert not np.any(stepped & finished)
        steps += stepped
        # slates: k distinct valid items
        assert slates.shape == (n_users, size)
        assert np.all((slates >= 0) & (slates < 200))
        assert all(len(set(row)) == size for row in slates[stepped])
        assert np.all(sim.state.patience >= 0.0)
        clicked = r.info["clicked"]
        assert np.all((clicked == -1) | np.any(slates == clicked[:, None], axis=1))
        assert np.all(r.reward[~stepped] == 0.0)
        assert np.all((r.info["engagement"] >= 0) & (r.info["engagement"] <= 1))
        finished |= r.terminated | r.truncated
        assert np.array_equal(sim.state.active, ~finished)
    assert np.all(steps <= 40)
    assert finished.all()


def test_query_builder_returns_top_scored_items() -> None:
    sim = make_simulator("synthetic-shop", 2, config={"slate": {"builder": "query", "size": 4}})
    q = np.stack([sim.catalog.embeddings[7], sim.catalog.embeddings[100]]).astype(np.float32)
    slates = QuerySlateBuilder(sim.catalog, sim.config.slate).build(q)
    assert slates[0, 0] == 7 and slates[1, 0] == 100
    expected = np.argsort(-(q[0] @ sim.catalog.embeddings.T))[:4]
    np.testing.assert_array_equal(slates[0], expected)


def test_candidates_are_distinct_and_follow_observed_taste() -> None:
    sim = make_simulator("synthetic-shop", 64)
    sim.reset_users(np.arange(64), np.arange(64, dtype=np.uint64) + 99)
    cands = sim.candidates
    assert all(len(set(row)) == cands.shape[1] for row in cands)
    top_cat = sim.state.category_history.argmax(axis=1)
    share_top = (sim.catalog.primary_category[cands] == top_cat[:, None]).mean()
    assert share_top > 1.5 / sim.catalog.n_categories, "retrieval should favour observed categories"
    p = CandidateSlateBuilder(sim.catalog, sim.config.slate).category_shares(
        sim.state.category_history
    )
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    counts = np.stack(
        [
            np.bincount(row, minlength=sim.catalog.n_categories)
            for row in sim.catalog.primary_category[cands]
        ]
    )
    n = cands.shape[1]
    assert np.all(np.abs(counts - n * p) < 1.0 + 1e-9), "systematic sampling: within one of n·p_c"


def test_tiny_category_pools_still_give_distinct_candidates() -> None:
    # 3 categories of 2000 items: shares are capped by pool sizes, candidates stay distinct
    sim = make_simulator(
        "synthetic-shop",
        32,
        config={
            "catalog": {"n_items": 40, "n_categories": 12},
            "slate": {"size": 5, "n_candidates": 25},
        },
    )
    sim.reset_users(np.arange(32), np.arange(32, dtype=np.uint64))
    for _ in range(5):
        assert all(len(set(row)) == 25 for row in sim.candidates)
        sim.step(np.zeros((32, 25), dtype=np.float32))


def test_explicit_slates_are_validated() -> None:
    sim = make_simulator("synthetic-shop", 1, config={"slate": {"size": 3}})
    sim.reset_users(np.zeros(1, dtype=int), np.ones(1, dtype=np.uint64))
    with pytest.raises(ValueError, match="distinct"):
        sim.step_slates(np.array([[1, 1, 2]]))
    with pytest.raises(ValueError, match=r"in \[0, 1999\]"):
        sim.step_slates(np.array([[1, 2, 5000]]))
    with pytest.raises(ValueError, match="shape"):
        sim.step_slates(np.array([[1, 2]]))


@settings(max_examples=30, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 5), st.integers(2, 9), st.integers(2, 6)),
        elements=st.floats(-5, 5),
    )
)
def test_reward_diversity_matches_metrics(x: np.ndarray) -> None:
    from divrec_rl import metrics
    from divrec_rl.diversity import ild_category, ild_embedding

    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    unit = np.where(norms > 1e-6, x / np.where(norms > 1e-6, norms, 1), 0)
    unit[np.all(unit == 0, axis=-1)] = np.eye(x.shape[-1])[0]  # keep every vector unit-norm
    np.testing.assert_allclose(ild_embedding(unit), metrics.intra_list_diversity(unit), atol=1e-9)
    mass = np.abs(x).sum(axis=-1, keepdims=True)
    w = np.where(mass > 1e-9, np.abs(x) / np.where(mass > 1e-9, mass, 1.0), 1.0 / x.shape[-1])
    np.testing.assert_allclose(ild_category(w), metrics.category_ild(w), atol=1e-9)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**64 - 1), st.integers(0, 10**6), st.integers(0, 200), st.integers(1, 4))
def test_scalar_and_array_uniform_paths_agree(key: int, counter: int, stream: int, n: int) -> None:
    from divrec_rl import rng

    keys = np.array([key], dtype=np.uint64)
    counters = np.array([counter])
    fast = rng.uniforms(keys, counters, stream, n)  # n ≤ 4: the Python-integer path
    wide = rng.uniforms(np.repeat(keys, 5), np.repeat(counters, 5), stream, n)  # the array path
    np.testing.assert_array_equal(fast[0], wide[0])
