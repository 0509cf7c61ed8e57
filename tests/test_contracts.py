"""The contracts between the simulator and its parts: behaviours (the simulator owns the session
bookkeeping), response models (``scores`` is the named fast path), agents (the public candidate
view, never the builder) and reward mixing (:mod:`divrec_rl.reward`)."""

from __future__ import annotations

import ast
import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from divrec_rl.envs import make_simulator
from divrec_rl.plugins import PerUserBehaviour
from divrec_rl.response import EmbeddingResponseModel, ResponseModel
from divrec_rl.reward import check_diversity_weight, mix_reward, slate_diversity
from divrec_rl.simulator import SlateSimulator
from divrec_rl.users.behaviour import SlateResponse, UserBehaviour
from divrec_rl.users.state import UserState

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"catalog": {"n_items": 200, "n_categories": 5, "embedding_dim": 8}}


class ClickEveryOtherStep(UserBehaviour):
    """A minimal behaviour that never touches the simulator's bookkeeping.

    Clicks slot 0 (engagement 0.5) when ``session_step`` is even, spends one unit of patience per
    step (3 per session), leaves at 0, and returns while the session just ended had exactly the
    bookkeeping of a correct session — 3 steps, 2 clicks, satisfaction 1.0 — up to 3 sessions.
    """

    def respond(self, state, slates, attraction, satisfaction_logit, category_weights):
        n = len(slates)
        clicked = state.active & (state.session_step % 2 == 0)
        position = np.where(clicked, 0, -1)
        return SlateResponse(
            position=position,
            item=np.where(clicked, slates[:, 0], -1),
            engagement=np.where(clicked, 0.5, 0.0),
            probabilities=np.zeros((n, slates.shape[1] + 1)),
        )

    def update(self, state, slates, response, item_vectors, category_weights) -> None:
        state.patience -= state.active

    def leaves(self, state: UserState) -> np.ndarray:
        return state.active & (state.patience <= 0)

    def returns(self, state: UserState) -> np.ndarray:
        right = (
            (state.session_step == 3)
            & (state.session_clicks == 2)
            & (state.session_satisfaction == 1.0)
        )
        return right & (state.session + 1 < 3)

    def start_session(self, state: UserState, rows: np.ndarray) -> None:
        state.patience[rows] = 3.0


def _simulator_with(n_users: int, **parts: object) -> SlateSimulator:
    base = make_simulator("synthetic-shop", 1, config=SMALL).scenario
    return SlateSimulator(dataclasses.replace(base, **parts), n_users)


def test_a_behaviour_without_bookkeeping_gets_sessions_and_returns_right() -> None:
    sim = _simulator_with(3, behaviour=ClickEveryOtherStep())
    sim.reset_users(np.arange(3), np.array([1, 2, 3], dtype=np.uint64))
    st = sim.state
    zeros = np.zeros(sim.action_space.shape, dtype=np.float32)
    seen = []
    while st.active.any():
        r = sim.step(np.tile(zeros, (3, 1)))
        seen.append(
            (int(st.t[0]), int(st.session[0]), int(st.session_step[0]), int(st.session_clicks[0]))
        )
        # last_click shows this step's click, and is zeroed for a session that starts anew
        clicked_here = (r.info["position"] >= 0) & ~r.info["returned"]
        np.testing.assert_array_equal(st.last_click, clicked_here.astype(np.float32))
    # 3 sessions of 3 steps; clicks on session steps 0 and 2; counts restart with each session.
    assert seen == [
        (1, 0, 1, 1),
        (2, 0, 2, 1),
        (3, 1, 0, 0),  # left after 3 steps, returned: bookkeeping zeroed for session 1
        (4, 1, 1, 1),
        (5, 1, 2, 1),
        (6, 2, 0, 0),
        (7, 2, 1, 1),
        (8, 2, 2, 1),
        (9, 2, 3, 2),  # third session ends for good (no fourth)
    ]
    assert np.all(st.session_satisfaction == 1.0) and not st.active.any()


def test_users_who_left_keep_their_bookkeeping() -> None:
    sim = _simulator_with(2, behaviour=ClickEveryOtherStep())
    sim.reset_users(np.arange(2), np.array([5, 6], dtype=np.uint64))
    sim.state.patience[1] = 1.0  # user 1 leaves after one step (and does not return)
    actions = np.zeros((2, *sim.action_space.shape), dtype=np.float32)
    sim.step(actions)
    frozen = sim.state.take(np.array([1]))
    sim.step(actions)
    after = sim.state.take(np.array([1]))
    for f in ("t", "session_step", "session_clicks", "session_satisfaction", "last_click"):
        np.testing.assert_array_equal(getattr(after, f), getattr(frozen, f), err_msg=f)
    assert sim.state.t[0] == 2


class TwoCallsOnly(ResponseModel):
    """A response model with only the two abstract methods (``scores`` from the contract)."""

    def __init__(self, inner: ResponseModel) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def attraction(self, state, items):
        self.calls.append("attraction")
        return self.inner.attraction(state, items)

    def satisfaction_logit(self, state, items):
        self.calls.append("satisfaction_logit")
        return self.inner.satisfaction_logit(state, items)


class CountingScores(EmbeddingResponseModel):
    """The built-in model with its fast path counted."""

    n_scores = 0

    def scores(self, state, items):
        type(self).n_scores += 1
        return super().scores(state, items)

    def attraction(self, state, items):
        raise AssertionError("the simulator must call scores, not attraction")

    def satisfaction_logit(self, state, items):
        raise AssertionError("the simulator must call scores, not satisfaction_logit")


def test_default_scores_are_the_two_separate_calls() -> None:
    sim = make_simulator("synthetic-shop", 4, config=SMALL)
    sim.reset_users(np.arange(4), np.arange(4, dtype=np.uint64))
    model = TwoCallsOnly(sim.response)
    items = sim.candidates[:, :5]
    a, s = model.scores(sim.state, items)
    np.testing.assert_array_equal(a, sim.response.attraction(sim.state, items))
    np.testing.assert_array_equal(s, sim.response.satisfaction_logit(sim.state, items))
    assert model.calls == ["attraction", "satisfaction_logit"]


@pytest.mark.parametrize("model", ["embedding", "mf"])
def test_builtin_fast_paths_equal_the_two_calls(model: str) -> None:
    sim = make_simulator("synthetic-shop", 3, config={**SMALL, "response": {"model": model}})
    sim.reset_users(np.arange(3), np.arange(3, dtype=np.uint64) + 40)
    items = sim.candidates[:, :6]
    a, s = sim.response.scores(sim.state, items)
    np.testing.assert_array_equal(a, sim.response.attraction(sim.state, items))
    np.testing.assert_array_equal(s, sim.response.satisfaction_logit(sim.state, items))


def test_the_simulator_calls_scores_once_per_step() -> None:
    base = make_simulator("synthetic-shop", 1, config=SMALL).scenario
    spy = CountingScores(base.catalog, base.config.response, base.config.behaviour.satisfaction)
    sim = SlateSimulator(dataclasses.replace(base, response=spy), 2)
    sim.reset_users(np.arange(2), np.arange(2, dtype=np.uint64))
    CountingScores.n_scores = 0
    for _ in range(3):
        sim.step(np.zeros((2, *sim.action_space.shape), dtype=np.float32))
    assert CountingScores.n_scores == 3


def test_a_response_model_without_scores_is_refused() -> None:
    class Bare:
        def attraction(self, state, items): ...
        def satisfaction_logit(self, state, items): ...

    with pytest.raises(TypeError, match="response model Bare: must implement"):
        _simulator_with(1, response=Bare())


def test_candidate_view_is_public_read_only_and_none_for_queries() -> None:
    sim = make_simulator("synthetic-shop", 2, config=SMALL)
    sim.reset_users(np.arange(2), np.arange(2, dtype=np.uint64))
    cands = sim.candidates
    assert cands.shape == (2, *sim.action_space.shape)
    assert not cands.flags.writeable
    d = sim.catalog.embedding_dim
    feats = sim.observe()["candidates"].reshape(2, cands.shape[1], sim.candidate_feature_dim)
    np.testing.assert_allclose(feats[..., :d], sim.catalog.embeddings[cands])
    query = make_simulator("synthetic-shop", 2, config={**SMALL, "slate": {"builder": "query"}})
    assert query.candidates is None and query.candidate_feature_dim is None


def _builder_reads(path: Path) -> list[str]:
    """``X.builder`` reads in ``path``, except scenario-config fields (``….slate.builder``) and
    an object's own attribute (``self.builder``, e.g. the ``SlateConfig`` field)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr == "builder":
            owner = ast.unparse(node.value)
            if owner not in ("self", "slate") and not owner.endswith(".slate"):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {owner}.builder")
    return found


def test_nothing_outside_the_core_and_its_faces_reads_the_builder() -> None:
    allowed = {
        ROOT / "divrec_rl" / "simulator.py",
        ROOT / "divrec_rl" / "slate.py",
        ROOT / "benchmarks" / "step_profile.py",  # times the core's parts, the builder's among them
    }
    roots = ("divrec_rl", "agents", "scenarios", "scripts", "benchmarks", "tests")  # envs/: a face
    offenders = [
        line
        for top in roots
        for path in sorted((ROOT / top).rglob("*.py"))
        if path not in allowed
        for line in _builder_reads(path)
    ]
    assert offenders == [], "read simulator.candidates / candidate_feature_dim instead"


def test_agents_protocol_is_published_beside_the_agents() -> None:
    from divrec_rl.agents import baselines, protocol
    from divrec_rl.rollout import Agent

    assert protocol.Agent is Agent and baselines.Agent is Agent


def test_reward_mixing_by_hand() -> None:
    r2 = math.sqrt(0.5)
    vectors = np.array([[[1.0, 0.0], [0.0, 1.0], [r2, r2]]])  # cosines 0, √½, √½
    categories = np.array([[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]])  # 2 of 3 pairs differ
    ild_e = 1.0 - (0.0 + r2 + r2) / 3.0
    assert slate_diversity("ild_embedding", vectors, categories)[0] == pytest.approx(ild_e)
    assert slate_diversity("ild_category", vectors, categories)[0] == pytest.approx(2.0 / 3.0)
    reward = mix_reward(np.array([0.5]), slate_diversity("ild_embedding", vectors, categories), 2.0)
    assert reward[0] == pytest.approx(0.5 + 2.0 * ild_e)
    with pytest.raises(ValueError, match=r"reward\.diversity: must be one of"):
        slate_diversity("gini", vectors, categories)


@pytest.mark.parametrize(
    ("value", "error"),
    [("abc", TypeError), (True, TypeError), ([1], TypeError), (-1, ValueError),
     (100.5, ValueError), (float("nan"), ValueError)],
)  # fmt: skip
def test_diversity_weight_is_a_number_in_range(value: object, error: type) -> None:
    with pytest.raises(error, match=r"diversity_weight: must be a number in \[0, 100\]"):
        check_diversity_weight(value)


def test_diversity_weight_accepts_numbers_and_none() -> None:
    assert check_diversity_weight(None) is None
    assert check_diversity_weight(np.float32(0.25)) == 0.25
    assert check_diversity_weight(100) == 100.0


def test_simulator_reward_is_the_mixed_reward() -> None:
    sim = make_simulator("synthetic-shop", 5, config=SMALL, diversity_weight=0.7)
    sim.reset_users(np.arange(5), np.arange(5, dtype=np.uint64))
    r = sim.step(np.zeros((5, *sim.action_space.shape), dtype=np.float32))
    np.testing.assert_array_equal(r.reward, r.info["engagement"] + 0.7 * r.info["diversity"])


class PerUserEveryOther(PerUserBehaviour):
    """The per-user version of :class:`ClickEveryOtherStep` (no return model)."""

    def respond_user(self, user, slate, attraction, satisfaction_logit, category_weights, u):
        return (0, 0.5) if user.session_step % 2 == 0 else (-1, 0.0)

    def update_user(self, user, slate, position, engagement, item_vectors, category_weights):
        user.patience = user.patience - 1.0

    def leaves_user(self, user):
        return user.patience <= 0

    def start_user_session(self, user):
        user.patience = 4.0


def test_per_user_behaviour_gets_the_bookkeeping_too() -> None:
    sim = _simulator_with(2, behaviour=PerUserEveryOther())
    sim.reset_users(np.arange(2), np.array([8, 9], dtype=np.uint64))
    actions = np.zeros((2, *sim.action_space.shape), dtype=np.float32)
    last = []
    while sim.state.active.any():
        sim.step(actions)
        last.append(float(sim.state.last_click[0]))
    assert last == [1.0, 0.0, 1.0, 0.0]
    np.testing.assert_array_equal(sim.state.session_step, [4, 4])
    np.testing.assert_array_equal(sim.state.session_clicks, [2, 2])
    np.testing.assert_array_equal(sim.state.session_satisfaction, [1.0, 1.0])


def test_per_user_behaviours_cannot_write_the_simulators_fields() -> None:
    class Meddler(PerUserEveryOther):
        def update_user(self, user, slate, position, engagement, item_vectors, category_weights):
            user.session_step = 0

    sim = _simulator_with(1, behaviour=Meddler())
    sim.reset_users(np.arange(1), np.array([1], dtype=np.uint64))
    with pytest.raises(AttributeError, match=r"user\.session_step: kept by the simulator"):
        sim.step(np.zeros((1, *sim.action_space.shape), dtype=np.float32))


# -- the catalogue's item vectors and category rows ------------------------------------------------


def _catalog_parts() -> dict[str, np.ndarray | list[str]]:
    from divrec_rl.synthetic_shop import generate_synthetic_shop

    shop = generate_synthetic_shop(n_items=60, n_categories=5, embedding_dim=8)
    return {
        "item_ids": shop.item_ids.copy(),
        "texts": list(shop.texts),
        "category_names": list(shop.category_names),
        "category_weights": shop.category_weights.copy(),
        "popularity": shop.popularity.copy(),
        "embeddings": shop.embeddings.copy(),
        "quality": shop.quality.copy(),
    }


def _with_row(x: np.ndarray, row: int, value: object) -> np.ndarray:
    x = x.copy()
    x[row] = value
    return x


@pytest.mark.parametrize(
    ("field", "spoil", "message"),
    [
        ("embeddings", lambda e: e * 3.0, r"catalog.embeddings: every row must have unit L2 norm"),
        ("embeddings", lambda e: _with_row(e, 7, 0.0), r"norm 0 for item 7 \(1 such rows\)"),
        ("embeddings", lambda e: _with_row(e, 2, np.nan), r"norm nan for item 2"),
        (
            "category_weights",
            lambda w: w * 3.0,
            r"catalog.category_weights: every row must be a distribution",
        ),
        (
            "category_weights",
            lambda w: _with_row(w, 4, [1.5, -0.5, 0, 0, 0]),
            r"sum 1 for item 4 \(1 such rows\)",
        ),
    ],
)
def test_a_catalogue_needs_unit_vectors_and_category_distributions(
    field: str, spoil: Callable[[np.ndarray], np.ndarray], message: str
) -> None:
    # ILD's pair-sum identity, the response model's cosine and the observation bounds assume
    # both; a plug-in catalogue with raw tower outputs gave a diversity of −3.8 (range [0, 2]).
    from divrec_rl.catalog import Catalog

    parts = _catalog_parts()
    Catalog(**parts)  # the unspoilt parts are accepted
    parts[field] = spoil(parts[field]).astype(np.float32)
    with pytest.raises(ValueError, match=message):
        Catalog(**parts)


def test_a_shared_lambda_set_after_construction_is_checked_like_the_constructors() -> None:
    from divrec_rl.envs import SlateRecVecEnv

    venv = SlateRecVecEnv(2, config=SMALL)
    for bad, error in [
        (math.nan, ValueError),
        (-5.0, ValueError),
        (True, TypeError),
        (None, TypeError),
    ]:
        with pytest.raises(error, match="diversity_weight: must be a number"):
            venv.set_attr("diversity_weight", bad)
        assert venv.get_attr("diversity_weight") == [0.1, 0.1], "a refused λ changes nothing"
    venv.set_attr("diversity_weight", 0.25)
    assert venv.simulator.diversity_weight == 0.25
