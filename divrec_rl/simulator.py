"""The one batched simulator core.  Every face (Gymnasium Env, Gymnasium VectorEnv, SB3 VecEnv,
the evaluator) drives this class; none re-implements the dynamics.

One step for N users, all array operations:

    slate  = builder(action)                                  (N, k) distinct items
    logits = response.scores(state, slate)                    (N, k) attraction, satisfaction
    choice ~ behaviour (MNL / cascade with boredom)           click position or none
    engagement = σ(satisfaction logit − boredom) if clicked   [0, 1]
    reward = engagement + λ · diversity(slate)                (divrec_rl.reward)
    state ← behaviour.update(...); leave when patience ≤ 0; optional return; truncate at max_steps

The simulator owns time and session bookkeeping (``t``, ``session``, ``session_step``,
``session_satisfaction``, ``session_clicks``, ``no_click_streak``, ``steps_since_click``,
``last_click``, ``active``): a behaviour changes only
its own state (interest, fatigue, patience, …) and may read these fields, never write them.

Actions are checked on every face before anything moves (:class:`~divrec_rl.slate.ActionCheck`:
shape, finiteness, action box); a bad one raises ``ValueError`` naming ``action``.

Randomness comes from per-user counter-based streams (:mod:`divrec_rl.rng`), so user ``u`` has the
same trajectory alone or inside any batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from divrec_rl import kernels
from divrec_rl.arrays import all_true, any_true, constant
from divrec_rl.response import ResponseModel
from divrec_rl.reward import check_diversity_weight, mix_reward, slate_diversity
from divrec_rl.scenario import Scenario
from divrec_rl.slate import ActionCheck, validate_slates
from divrec_rl.users.behaviour import SlateResponse
from divrec_rl.users.contract import check_flags, check_response, is_plugin
from divrec_rl.users.population import SPLITS, stream_keys
from divrec_rl.users.state import UserState

#: The scalar entries of the ``user`` observation, in order (see
#: :meth:`SlateSimulator.user_layout`): episode time ``t/T``, session ``s/S_max``, last step
#: clicked (0/1), steps this session ``/T``, clicks this session ``/T``, consecutive steps without
#: a click this session ``/T``, steps since the episode's last click (or its start) ``/T``, with
#: ``T`` = ``episode.max_steps`` (no count can exceed it, so each lies in [0, 1]).  Observable
#: proxies of the hidden patience, which is not observed.
USER_SCALARS = (
    "t",
    "session",
    "last_click",
    "session_step",
    "session_clicks",
    "no_click_streak",
    "steps_since_click",
)


@dataclass
class StepResult:
    """Outcome of one batched step; arrays have one row per user.

    ``info`` keys: ``engagement`` (value of the consumed item, 0 without a click), ``diversity``
    (slate diversity used in the reward), ``slate`` (``(N, k)`` public item ids, best slot first),
    ``clicked`` (public item id or −1), ``position`` (slot clicked or −1), ``left`` (the user ended
    a session this step), ``returned`` (…and came back for another), ``patience`` (left after the
    step), ``session``, ``t`` (steps taken in the episode), ``active`` (the user was stepped).
    ``info`` is for analysis and metrics, not for agents: ``patience`` is hidden state, which the
    observation does not contain.
    """

    observation: dict[str, np.ndarray]
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    info: dict[str, np.ndarray]


class SlateSimulator:
    """Batched simulation of ``n_users`` independent users of one scenario.

    Parameters
    ----------
    scenario:
        A built :class:`~divrec_rl.scenario.Scenario`.
    n_users:
        Batch size N (one row per user).
    split:
        User split: ``train`` (agents learn), ``val`` (baselines are tuned), ``eval`` (held out).
    diversity_weight:
        λ of the reward; ``None`` takes the scenario's ``reward.diversity_weight``.
    """

    def __init__(
        self,
        scenario: Scenario,
        n_users: int,
        split: str = "train",
        diversity_weight: float | None = None,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split: must be one of {', '.join(SPLITS)}, got {split!r}")
        if n_users < 1:
            raise ValueError(f"n_users: must be ≥ 1, got {n_users}")
        diversity_weight = check_diversity_weight(diversity_weight)
        cfg = scenario.config
        self.scenario = scenario
        self.config = cfg
        self.catalog = scenario.catalog
        self.n_users = n_users
        self.split = split
        self.k = cfg.slate.size
        self.max_steps = cfg.episode.max_steps
        self.max_sessions = (
            cfg.behaviour.return_model.max_sessions if cfg.behaviour.return_model.enabled else 1
        )
        self.diversity_weight = (
            cfg.reward.diversity_weight if diversity_weight is None else diversity_weight
        )
        self.builder = scenario.builder_factory()
        self.builder.allocate(n_users)
        self.behaviour = scenario.behaviour
        # A plug-in's outputs are checked before the compiled bookkeeping indexes by them.
        self._checked_behaviour = cfg.behaviour.model if is_plugin(scenario.behaviour) else None
        self.response = _checked_response(scenario.response)
        self.population = scenario.population
        cat = self.catalog
        self.state = UserState.empty(
            n_users, cat.embedding_dim, cat.n_categories, scenario.population.n_features
        )
        # users.timed_consumption: C more columns at the end of `user` (user_layout).
        self._timed = cfg.users.timed_consumption
        self._n_timed = cat.n_categories if self._timed else 0
        self._timed_decay = np.float32(cfg.users.history_decay)
        self.user_dim = (
            cat.embedding_dim
            + 2 * cat.n_categories
            + len(USER_SCALARS)
            + scenario.population.n_features
            + self._n_timed
        )
        # Every entry is bounded: vectors are EMAs of unit vectors ([-1, 1]), histograms, counts
        # over max_steps and fractions lie in [0, 1]; user features declare their own bounds.
        low = np.zeros(self.user_dim, dtype=np.float32)
        high = np.ones(self.user_dim, dtype=np.float32)
        low[: cat.embedding_dim] = -1.0
        f_low, f_high = scenario.population.feature_bounds()
        f_end = self.user_dim - self._n_timed
        low[f_end - len(f_low) : f_end] = f_low
        high[f_end - len(f_high) : f_end] = f_high
        self.observation_space = spaces.Dict(
            {"user": spaces.Box(low, high, dtype=np.float32), **self.builder.observation_spaces()}
        )
        self.action_space = self.builder.action_space
        self._check_actions = ActionCheck(self.action_space, n_users)
        self._all_rows = np.arange(n_users)
        self._dims = (cat.embedding_dim, cat.n_categories)
        # The step counters as one block (columns in COUNTER_FIELDS order), one argument of the
        # compiled bookkeeping and observation instead of six.
        self._counters = self.state.counter_block()
        # Per-step operands as typed 0-d arrays (same values, less overhead: divrec_rl.arrays).
        self._max_steps = constant(self.max_steps, np.int64)

    def __setstate__(self, state: dict[str, object]) -> None:
        """After ``pickle`` or ``copy.deepcopy``: take the counter block from the copied state, so
        the compiled bookkeeping writes the very arrays that truncation and ``info`` read, even
        if the copier did not keep the two references to one block as one."""
        vars(self).update(state)
        self._counters = self.state.counter_block()

    @property
    def diversity_weight(self) -> float:
        """λ of the reward ``engagement + λ·diversity``."""
        return self._diversity_weight

    @diversity_weight.setter
    def diversity_weight(self, value: float) -> None:
        # Checked here too: a vector env's set_attr and a direct assignment reach only this.
        weight = check_diversity_weight(value)
        if weight is None:
            raise TypeError("diversity_weight: must be a number, got None")
        self._diversity_weight = weight
        self._lambda = constant(weight)  # the per-step operand (divrec_rl.arrays)

    def reset_users(self, rows: np.ndarray, keys: np.ndarray) -> None:
        """Start new episodes for ``rows`` with per-user random ``keys`` (uint64): the population
        draws the users from ``keys``; the per-step streams use the split's salted keys
        (:func:`~divrec_rl.users.population.stream_keys`)."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return
        keys = np.asarray(keys, dtype=np.uint64)
        fresh = self.population.initial_state(keys, self.split)
        # Per-step streams read state.key: salting it here covers every population.
        fresh.key[:] = stream_keys(keys, self.split)
        self.state.assign(rows, fresh)
        self._start_sessions(rows)
        self.builder.prepare(self.state, rows)

    @property
    def candidates(self) -> np.ndarray | None:
        """The public candidate view: each user's current candidates ``(N, n_candidates)`` as
        catalogue rows (read-only), in the order the action scores them — action entry ``j`` of
        user ``u`` scores item ``candidates[u, j]``.  ``None`` when the slate builder scores no
        candidate set (the ``query`` builder: the action is a query vector in item space)."""
        rows = self.builder.candidate_rows()
        if rows is None:
            return None
        view = rows.view()
        view.flags.writeable = False
        return view

    @property
    def candidate_feature_dim(self) -> int | None:
        """Features per candidate: the ``candidates`` observation is ``(N, n_candidates ·
        candidate_feature_dim)``, row-major; ``None`` when there is no candidate set."""
        return self.builder.candidate_feature_dim()

    def check_actions(self, actions: object) -> np.ndarray:
        """``actions`` as an array after the checks of :class:`~divrec_rl.slate.ActionCheck`
        (``step`` runs them; a face may run them first to change nothing on a bad action)."""
        return self._check_actions(actions)

    def builder_buffers(self) -> dict[str, np.ndarray]:
        """Copies of the slate builder's per-user buffers (e.g. the current candidates), so a
        checkpoint can restore users mid-episode with :meth:`load_builder_buffers`."""
        return {
            name: value.copy()
            for name, value in vars(self.builder).items()
            if isinstance(value, np.ndarray) and value.ndim and value.shape[0] == self.n_users
        }

    def load_builder_buffers(self, buffers: dict[str, np.ndarray]) -> None:
        """Undo :meth:`builder_buffers` on a simulator of the same scenario and size."""
        for name, value in buffers.items():
            getattr(self.builder, name)[...] = value

    def user_layout(self) -> dict[str, slice]:
        """Where each entry of the ``user`` observation lies: name → columns.

        ``history`` (d), ``category_history`` (C), ``exposure`` (C), then the scalars of
        :data:`USER_SCALARS` (one column each), then ``features`` (the population's static user
        features), then with ``users.timed_consumption`` the per-step consumption average (C).
        Nothing in it is hidden state (interest, fatigue, patience): a test scrambles
        those before the observation is built and checks that no observation changes.
        """
        d, c = self._dims
        cols = {"history": slice(0, d), "category_history": slice(d, d + c)}
        cols["exposure"] = slice(d + c, d + 2 * c)
        o = d + 2 * c
        for i, name in enumerate(USER_SCALARS):
            cols[name] = slice(o + i, o + i + 1)
        f_end = self.user_dim - self._n_timed
        cols["features"] = slice(o + len(USER_SCALARS), f_end)
        if self._timed:
            cols["timed_consumption"] = slice(f_end, self.user_dim)
        return cols

    def observe(self) -> dict[str, np.ndarray]:
        """Observations of all users: ``user`` summary (:meth:`user_layout`) plus the builder's
        entries (no text).  Only observable quantities: what the user consumed, was shown and
        clicked, and when; never the hidden interest, fatigue or patience."""
        st = self.state
        user = np.empty((self.n_users, self.user_dim), dtype=np.float32)
        # Counts are divided by max_steps (none can exceed it), so each lies in [0, 1]; the
        # divisions are correctly rounded, so a count of T gives 1.0.
        kernels.observe_users(
            st.history,
            st.category_history,
            st.exposure,
            self._counters,
            st.last_click,
            st.features,
            float(self.max_steps),
            float(self.max_sessions),
            user,
        )
        if self._timed:
            user[:, self.user_dim - self._n_timed :] = st.timed_consumption
        return {"user": user, **self.builder.observe(st)}

    def step(
        self,
        actions: np.ndarray,
        reset_rows: np.ndarray | None = None,
        reset_keys: np.ndarray | None = None,
    ) -> StepResult:
        """Advance every active user by one step given agent actions ``(N, …)``.

        ``reset_rows``/``reset_keys``: users (inactive ones) to start a new episode *after* the
        step, so that the returned observation already shows them fresh (autoreset).  A bad
        action (shape, NaN/±inf, outside the box) raises ``ValueError`` before anything moves.
        """
        actions = self._check_actions(actions)
        return self._advance(self.builder.build(actions), reset_rows, reset_keys)

    def step_slates(
        self,
        slates: np.ndarray,
        reset_rows: np.ndarray | None = None,
        reset_keys: np.ndarray | None = None,
    ) -> StepResult:
        """Advance with explicit slates ``(N, k)`` of catalogue rows (distinct, in range)."""
        return self._advance(
            validate_slates(slates, self.catalog.n_items, self.k), reset_rows, reset_keys
        )

    def _advance(
        self, slates: np.ndarray, reset_rows: np.ndarray | None, reset_keys: np.ndarray | None
    ) -> StepResult:
        st, cat, beh = self.state, self.catalog, self.behaviour
        stepped = st.active.copy()
        # The slate items' rows gathered slot-major — (k, N, ·) in memory, seen as (N, k, ·)
        # views — so that sums over a slate's items (diversity, slots per category) run over
        # whole contiguous rows, item after item: the same order of additions, several times
        # faster for a large batch than short strided sums per user.
        vecs = cat.embeddings.take(slates.T, axis=0).transpose(1, 0, 2)
        cw = cat.category_weights.take(slates.T, axis=0).transpose(1, 0, 2)
        attraction, sat_logit = self.response.scores(st, slates)
        response = beh.respond(st, slates, attraction, sat_logit, cw)
        checked = self._checked_behaviour
        if checked is not None:
            check_response(checked, response, slates, stepped)
        beh.update(st, slates, response, vecs, cw)
        self._record_step(stepped, response)
        if self._timed:
            self._fold_timed_consumption(stepped, response.position, cw)

        left = beh.leaves(st)
        if checked is not None:
            check_flags(checked, "leaves", left, self.n_users)
        left = left & stepped
        if any_true(left):
            returned = beh.returns(st)
            if checked is not None:
                check_flags(checked, "returns", returned, self.n_users)
            returned = returned & left
            terminated = left & ~returned
            if any_true(returned):
                back = np.flatnonzero(returned)
                st.session[back] += 1
                self._start_sessions(back)
            truncated = (st.t >= self._max_steps) & stepped & ~terminated
            st.active[...] = st.active & ~(terminated | truncated)
        else:  # nobody left (the common step): no return model, nobody terminated
            terminated = left
            returned = np.zeros(len(left), dtype=bool)
            truncated = (st.t >= self._max_steps) & stepped
            st.active[...] = st.active & ~truncated

        diversity = slate_diversity(self.config.reward.diversity, vecs, cw)
        engagement = response.engagement  # 0 for users who did not click (incl. inactive ones)
        diversity = diversity * stepped  # 0 for users who were not stepped (diversity is finite)
        reward = mix_reward(engagement, diversity, self._lambda)

        live = self._all_rows if all_true(st.active) else np.flatnonzero(st.active)
        self.builder.prepare(st, live)
        if reset_rows is not None and len(reset_rows):
            if np.any(stepped[reset_rows]):
                raise ValueError("reset_rows: only users whose episode has ended can be reset")
            self.reset_users(reset_rows, reset_keys)
        # Item ids are catalogue rows, so slates and clicks need no translation.
        info = {
            "engagement": engagement,
            "diversity": diversity,
            "slate": slates,
            "clicked": response.item,
            "position": response.position,
            "left": left,
            "returned": returned,
            "patience": st.patience.copy(),
            "session": st.session.copy(),
            "t": st.t.copy(),
            "active": stepped,
        }
        return StepResult(self.observe(), reward, terminated, truncated, info)

    def _record_step(self, stepped: np.ndarray, response: SlateResponse) -> None:
        """Session bookkeeping of the users stepped (users who already left keep their final
        values): one more step (``t``, ``session_step``), the click flag, clicks, satisfaction
        sum and the no-click counters (reset by a click, else one more step)."""
        st = self.state
        kernels.record_step(
            stepped,
            response.position,
            response.engagement,
            st.last_click,
            st.session_satisfaction,
            self._counters,
        )

    def _fold_timed_consumption(
        self, stepped: np.ndarray, position: np.ndarray, category_weights: np.ndarray
    ) -> None:
        """``users.timed_consumption``: for the users stepped, ``D ← h·D + (1 − h)·w_s`` with
        ``w_s`` the category weights of the clicked slot (0 without a click), h the history
        decay (float32).  The fatigue's consumption part decays the same way, every step."""
        h = self._timed_decay
        rows = np.flatnonzero(stepped)
        timed = self.state.timed_consumption
        timed[rows] *= h
        clicked = rows[position[rows] >= 0]
        timed[clicked] += (np.float32(1.0) - h) * category_weights[clicked, position[clicked]]

    def _start_sessions(self, rows: np.ndarray) -> None:
        """Zero the per-session bookkeeping of ``rows``, then let the behaviour start its own
        per-session fields (patience, fatigue recovery, …)."""
        st = self.state
        st.session_step[rows] = 0
        st.session_satisfaction[rows] = 0.0
        st.session_clicks[rows] = 0
        st.no_click_streak[rows] = 0
        st.last_click[rows] = 0.0
        self.behaviour.start_session(st, rows)


def _checked_response(response: ResponseModel) -> ResponseModel:
    """The scenario's response model, if it has the contract's ``scores`` (one fast path)."""
    if not callable(getattr(response, "scores", None)):
        raise TypeError(
            f"response model {type(response).__name__}: must implement "
            "divrec_rl.response.ResponseModel (attraction, satisfaction_logit and scores); "
            "subclass it to inherit scores"
        )
    return response


class UserSeeds:
    """One ``numpy.random.Generator`` per user row, seeded like Gymnasium seeds a single env.

    ``reseed(rows, seeds)`` mirrors ``Env.reset(seed=s)``; ``draw_keys(rows)`` draws each row's
    next episode key from its generator, exactly as a single env draws from ``self.np_random``.
    Row ``i`` of a batch seeded with ``s`` therefore replays a single env seeded with ``s + i``.
    """

    def __init__(self, n: int) -> None:
        self.generators = [np.random.default_rng() for _ in range(n)]

    def reseed(self, rows: np.ndarray, seeds: list[int | None]) -> None:
        """Re-create the generators of ``rows`` from ``seeds``; a ``None`` keeps that row's
        generator, as ``Env.reset(seed=None)`` keeps ``np_random`` (a new row's generator
        already came from fresh entropy)."""
        for r, s in zip(rows, seeds, strict=True):
            if s is not None:
                self.generators[r] = np.random.default_rng(s)

    def draw_keys(self, rows: np.ndarray) -> np.ndarray:
        """Next episode key of each row in ``rows``."""
        return np.array([draw_episode_key(self.generators[r]) for r in rows], dtype=np.uint64)


def draw_episode_key(generator: np.random.Generator) -> np.uint64:
    """The 64-bit key of a new episode, drawn from a Gymnasium-style ``np_random``."""
    return np.uint64(generator.integers(0, 2**63 - 1, dtype=np.int64))
