"""A plug-in behaviour's outputs are checked before the compiled bookkeeping reads them: each
violation of the ``respond`` / ``leaves`` / ``returns`` contract is one ScenarioError line naming
the behaviour, the method and the output (no crash, no silently wrong state); the built-in
behaviours keep the contract and skip the check."""

from __future__ import annotations

import numpy as np
import pytest

from divrec_rl.envs import make_simulator
from divrec_rl.errors import ScenarioError
from divrec_rl.plugins import register_behaviour
from divrec_rl.users.behaviour import StandardBehaviour

N, K, C = 6, 10, 40


class Faulty(StandardBehaviour):
    """The standard behaviour with one output broken as ``behaviour.params.fault`` says."""

    def __init__(self, config) -> None:
        super().__init__(config.behaviour, config.users.history_decay)
        self.fault = config.behaviour.params.get("fault", "none")

    def respond(self, state, slates, attraction, satisfaction_logit, category_weights):
        r = super().respond(state, slates, attraction, satisfaction_logit, category_weights)
        n, k = slates.shape
        if self.fault == "slot-out-of-range":
            r.position = np.full(n, k + 3, dtype=np.int64)
        elif self.fault == "short-position":
            r.position = r.position[:-1]
        elif self.fault == "float-position":
            r.position = r.position.astype(np.float64)
        elif self.fault == "wrong-item":
            r.position = np.zeros(n, dtype=np.int64)
            r.item = slates[:, 1].copy()
        elif self.fault == "engagement-above-one":
            r.engagement = np.full(n, 7.0)
        elif self.fault == "engagement-nan":
            r.engagement = np.full(n, np.nan)
        elif self.fault == "not-a-response":
            return (r.position, r.item)
        return r

    def leaves(self, state):
        if self.fault == "leaves-shape":
            return np.zeros(state.n + 2, dtype=bool)
        return super().leaves(state)

    def returns(self, state):
        if self.fault == "returns-int":
            return np.zeros(state.n, dtype=np.int64)
        return super().returns(state)


register_behaviour("test-contract-faulty", Faulty)


def simulator(fault: str, **behaviour: object):
    config = {"behaviour": {"model": "test-contract-faulty", "params": {"fault": fault}}}
    config["behaviour"].update(behaviour)  # type: ignore[union-attr]
    sim = make_simulator("synthetic-shop", N, config=config)
    sim.reset_users(np.arange(N), np.arange(N, dtype=np.uint64))
    return sim


SLOT = "respond().position: must be a slot in [0, 9] or -1 (no click), got 13"
INT64 = "respond().position: must be an array of dtype int64 and shape (6,), got "
ENGAGEMENT = "respond().engagement: must be"


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("slot-out-of-range", SLOT),
        ("short-position", INT64 + "int64 of shape (5,)"),
        ("float-position", INT64 + "float64 of shape (6,)"),
        ("wrong-item", "respond().item: must be the clicked slot's item (slates[i, position[i]])"),
        ("engagement-above-one", ENGAGEMENT + " in [0, 1], and 0 without a click"),
        ("engagement-nan", ENGAGEMENT + " finite and in [0, 1]"),
        ("not-a-response", "respond(): must return a SlateResponse, got tuple"),
        (
            "leaves-shape",
            "leaves(): must be an array of dtype bool and shape (6,), got bool of shape (8,)",
        ),
    ],
)
def test_a_broken_output_is_one_line_naming_the_behaviour_and_the_output(
    fault: str, message: str
) -> None:
    sim = simulator(fault)
    with pytest.raises(ScenarioError) as info:
        sim.step(np.zeros((N, C), dtype=np.float32))
    [line] = info.value.errors
    assert line.startswith(f"behaviour.model 'test-contract-faulty': {message}"), line


def test_returns_is_checked_when_somebody_leaves() -> None:
    sim = simulator("returns-int", patience={"initial": 0.01, "no_click_cost": 1.0})
    with pytest.raises(ScenarioError, match=r"returns\(\): must be an array of dtype bool"):
        for _ in range(50):
            sim.step(np.zeros((N, C), dtype=np.float32))


def test_a_plugin_that_keeps_the_contract_steps_exactly_like_the_builtin() -> None:
    """The check reads, never writes: a plug-in subclass that changes nothing (and so is
    checked every step, returns and leaving included) gives the built-in's trajectories."""
    overrides = {"return_model": {"enabled": True}, "patience": {"initial": 0.3}}
    checked = simulator("none", **overrides)
    plain = make_simulator("synthetic-shop", N, config={"behaviour": overrides})
    plain.reset_users(np.arange(N), np.arange(N, dtype=np.uint64))
    assert checked._checked_behaviour == "test-contract-faulty"
    assert plain._checked_behaviour is None  # built-ins pay nothing
    rng = np.random.default_rng(0)
    for _ in range(60):
        action = rng.uniform(-1, 1, (N, C)).astype(np.float32)
        a, b = checked.step(action), plain.step(action)
        for key in ("clicked", "position", "left", "returned", "patience"):
            np.testing.assert_array_equal(a.info[key], b.info[key])
        np.testing.assert_array_equal(a.reward, b.reward)
        if not plain.state.active.any():
            break
