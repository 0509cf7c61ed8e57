"""The second behaviour ``quit-on-repetition``: users leave when one category dominates the
recently shown slots, and only then; boredom lowers no logit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from divrec_rl.config import ScenarioError
from divrec_rl.envs import make_simulator
from divrec_rl.rollout import user_keys
from divrec_rl.users.repetition import RepetitionQuitBehaviour

SMALL = {
    "catalog": {"n_items": 400, "n_categories": 8, "embedding_dim": 16},
    "slate": {"size": 8, "n_candidates": 24},
    "behaviour": {"model": "quit-on-repetition"},
    "episode": {"max_steps": 30},
}


def _simulator(n: int = 4):
    sim = make_simulator("synthetic-shop", n, split="eval", config=SMALL)
    sim.reset_users(np.arange(n), user_keys(0, n))
    return sim


def _one_category_slates(sim, n: int) -> np.ndarray:
    cat = sim.catalog
    pure = np.flatnonzero(cat.category_weights.max(axis=1) >= 1.0 - 1e-6)
    c = np.bincount(cat.primary_category[pure]).argmax()
    items = pure[cat.primary_category[pure] == c][: sim.k]
    return np.tile(items, (n, 1))


def _spread_slates(sim, n: int) -> np.ndarray:
    """Slates with at most 1 item of any category (8 categories, k = 8)."""
    cat = sim.catalog
    items = [np.flatnonzero(cat.primary_category == c)[0] for c in range(cat.n_categories)]
    return np.tile(np.array(items[: sim.k]), (n, 1))


def test_a_one_category_feed_quits_after_the_predicted_number_of_steps() -> None:
    sim = _simulator()
    assert isinstance(sim.behaviour, RepetitionQuitBehaviour)
    h = sim.config.users.history_decay
    expected = math.ceil(math.log(1 - 0.5) / math.log(h))
    slates = _one_category_slates(sim, 4)
    steps = 0
    while sim.state.active.any():
        result = sim.step_slates(slates)
        steps += 1
    assert steps == expected and result.terminated.all()


def test_a_spread_feed_never_quits_whatever_the_clicks() -> None:
    sim = _simulator()
    slates = _spread_slates(sim, 4)
    for _ in range(sim.max_steps):
        result = sim.step_slates(slates)
        assert not result.info["left"].any()
    assert result.truncated.all()


def test_boredom_lowers_no_logit() -> None:
    sim = _simulator(1)
    sim.state.fatigue[:] = 50.0
    slate = _spread_slates(sim, 1)
    att, sat = sim.response.scores(sim.state, slate)
    cw = sim.catalog.category_weights.take(slate, axis=0)
    click_logit, value = sim.behaviour.item_terms(sim.state, att, sat, cw)
    np.testing.assert_array_equal(click_logit, att)
    np.testing.assert_allclose(value, 1 / (1 + np.exp(-sat)))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"quit_share": 0.0}, "behaviour.params.quit_share': must be in"),
        ({"quit_share": "x"}, "behaviour.params.quit_share': must be a number"),
        ({"window": 3}, "unknown key"),
    ],
)
def test_bad_params_are_one_line_errors(params: dict, message: str) -> None:
    config = {**SMALL, "behaviour": {"model": "quit-on-repetition", "params": params}}
    with pytest.raises(ScenarioError, match=message):
        make_simulator("synthetic-shop", 1, config=config)


def test_evaluate_runs_the_same_agents_under_the_second_behaviour(tmp_path) -> None:
    from divrec_rl.agents.registry import parse_agents
    from divrec_rl.evaluation.report import write_evaluation
    from divrec_rl.evaluation.runner import EvaluationConfig, evaluate

    small = {k: v for k, v in SMALL.items() if k != "behaviour"}
    config = EvaluationConfig(
        agents=parse_agents("popularity,greedy,random"),
        scenario="synthetic-shop",
        overrides=small,
        seeds=1,
        users=8,
        n_boot=20,
        cross_sim=None,
        frontier=False,
        cross_behaviour="quit-on-repetition",
    )
    result = evaluate(config)
    assert result.scenario.behaviour.model == "standard"
    assert list(result.cross_behaviour.agents) == ["popularity", "greedy", "random"]
    out = write_evaluation(result, tmp_path / "eval", "test", False)
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## Behaviour cross-check" in report and "`quit-on-repetition`" in report
