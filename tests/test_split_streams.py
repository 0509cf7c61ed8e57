"""Per-step random streams are salted by split: train, val and eval share no retrieval, choice or
return noise even for the same seed and user row; one split reproduces bit for bit."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from divrec_rl import rng
from divrec_rl.agents.baselines import RandomAgent
from divrec_rl.envs import make_simulator
from divrec_rl.rollout import rollout, user_keys
from divrec_rl.users.population import SPLITS, stream_keys

SMALL = {"catalog": {"n_items": 300, "n_categories": 8, "embedding_dim": 16}}
STREAMS = {
    "candidates": rng.STREAM_CANDIDATES,
    "choice": rng.STREAM_CHOICE,
    "return": rng.STREAM_RETURN,
    "custom": rng.STREAM_CUSTOM,
}


def _simulator_keys(split: str, seed: int = 5, n: int = 32) -> np.ndarray:
    sim = make_simulator("shop-returns", n, split=split, config=SMALL)
    sim.reset_users(np.arange(n), user_keys(seed, n))
    return sim.state.key.copy()


@pytest.mark.parametrize("stream", sorted(STREAMS))
def test_same_row_and_seed_on_two_splits_draws_different_uniforms(stream: str) -> None:
    keys = {split: _simulator_keys(split) for split in SPLITS}
    steps = np.arange(50)
    draws = {}
    for split, k in keys.items():
        # every user row at every step of an episode: (rows·steps, 8) uniforms
        rows = np.repeat(k, len(steps))
        counters = np.tile(steps, len(k))
        draws[split] = rng.uniforms(rows, counters, STREAMS[stream], 8)
    for a, b in itertools.combinations(SPLITS, 2):
        assert not np.any(draws[a] == draws[b]), (a, b)  # not one draw in common, row by row
        assert len(np.intersect1d(draws[a], draws[b])) == 0, (a, b)  # nor anywhere


def test_train_keeps_the_episode_keys_and_the_salt_depends_on_the_key_only() -> None:
    keys = user_keys(5, 32)
    np.testing.assert_array_equal(_simulator_keys("train"), keys)
    for split in SPLITS:
        whole = stream_keys(keys, split)
        np.testing.assert_array_equal(_simulator_keys(split), whole)
        singles = np.concatenate([stream_keys(keys[i : i + 1], split) for i in range(32)])
        np.testing.assert_array_equal(singles, whole)  # batch-independent
    assert len({tuple(stream_keys(keys, s)) for s in SPLITS}) == 3
    with pytest.raises(ValueError, match="split"):
        stream_keys(keys, "test")


@pytest.mark.parametrize("split", SPLITS)
def test_one_split_reproduces_bit_for_bit(split: str) -> None:
    runs = []
    for _ in range(2):
        sim = make_simulator("shop-returns", 12, split=split, config=SMALL)
        runs.append(rollout(RandomAgent(seed=1), sim, user_keys(8, 12)))
    for name in vars(runs[0]):
        np.testing.assert_array_equal(getattr(runs[0], name), getattr(runs[1], name), name)


def test_same_users_on_two_splits_meet_different_dice() -> None:
    """With the user state forced equal (all but the stream key) and the same slate shown, val
    and eval users click differently and are offered other candidates next: the streams, not
    only the users, differ by split."""
    n = 200
    sims = {}
    for split in ("val", "eval"):
        sim = make_simulator("synthetic-shop", n, split=split, config=SMALL)
        sim.reset_users(np.arange(n), user_keys(3, n))
        sims[split] = sim
    val, ev = sims["val"], sims["eval"]
    key = ev.state.key.copy()
    ev.state.assign(np.arange(n), val.state)  # the same users, the same observed history
    ev.state.key[:] = key  # … but eval's streams
    slates = val.candidates[:, : val.k].copy()
    a, b = val.step_slates(slates), ev.step_slates(slates)
    assert np.mean(a.info["position"] != b.info["position"]) > 0.2
    assert np.mean(np.any(val.candidates != ev.candidates, axis=1)) > 0.9
