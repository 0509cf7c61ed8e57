"""Batched user state: one row per simulated user, plain numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

#: Fields the simulator (and the population, for ``user_index``/``features``) keeps: behaviours
#: read them and never write them (see :class:`~divrec_rl.users.behaviour.UserBehaviour`).
SIMULATOR_FIELDS = frozenset(
    {
        "key",
        "t",
        "session",
        "session_step",
        "session_satisfaction",
        "session_clicks",
        "no_click_streak",
        "steps_since_click",
        "last_click",
        "timed_consumption",
        "active",
        "user_index",
        "features",
    }
)

#: The integer step counters, in the order in which :meth:`UserState.empty` lays them out as the
#: columns of one ``(N, 6)`` int64 block (:meth:`UserState.counter_block`): the simulator's
#: compiled bookkeeping and observation (:mod:`divrec_rl.kernels`) take them as one array.
COUNTER_FIELDS = (
    "session",
    "t",
    "session_step",
    "session_clicks",
    "no_click_streak",
    "steps_since_click",
)


@dataclass
class UserState:
    """State of N users.  Hidden fields drive the dynamics; observed ones feed the observation.

    Hidden: ``interest`` (true taste, unit vector in item space), ``fatigue`` (boredom per
    category), ``patience``.  Observed (what a platform logs): ``history`` (EMA of consumed item
    vectors), ``category_history`` (EMA of consumed categories), ``exposure`` (EMA of shown
    categories), ``last_click``, ``session_clicks`` (clicks this session), ``no_click_streak``
    (consecutive steps without a click, this session), ``steps_since_click`` (steps since the
    last click of the episode, or since its start), ``timed_consumption`` (EMA of consumed
    categories that decays every step, from 0 at the episode's start; the simulator updates
    and shows it only with ``users.timed_consumption``, else it stays 0).  Bookkeeping:
    ``key`` (per-user random stream, already salted by split), ``t`` (step within the
    episode), ``session``, ``session_step``, ``session_satisfaction``, ``active`` (False once
    the user left for good), ``user_index`` (row of a data-backed population, -1 for generated
    users), ``features`` (static user features).  The simulator keeps the bookkeeping and the
    click counters (:data:`SIMULATOR_FIELDS`); a behaviour writes only the hidden fields and
    the observed histories.
    """

    key: np.ndarray
    t: np.ndarray
    session: np.ndarray
    session_step: np.ndarray
    interest: np.ndarray
    history: np.ndarray
    category_history: np.ndarray
    exposure: np.ndarray
    timed_consumption: np.ndarray
    fatigue: np.ndarray
    patience: np.ndarray
    last_click: np.ndarray
    session_satisfaction: np.ndarray
    session_clicks: np.ndarray
    no_click_streak: np.ndarray
    steps_since_click: np.ndarray
    active: np.ndarray
    user_index: np.ndarray
    features: np.ndarray

    @classmethod
    def empty(cls, n: int, dim: int, n_categories: int, n_features: int = 0) -> UserState:
        """Zeroed state for ``n`` users (inactive until reset).  The fields of
        :data:`COUNTER_FIELDS` are the columns of one block (:meth:`counter_block`)."""
        f32 = np.float32
        counters = np.zeros((n, len(COUNTER_FIELDS)), dtype=np.int64)
        return cls(
            key=np.zeros(n, dtype=np.uint64),
            **{name: counters[:, i] for i, name in enumerate(COUNTER_FIELDS)},
            interest=np.zeros((n, dim), dtype=f32),
            history=np.zeros((n, dim), dtype=f32),
            category_history=np.zeros((n, n_categories), dtype=f32),
            exposure=np.zeros((n, n_categories), dtype=f32),
            timed_consumption=np.zeros((n, n_categories), dtype=f32),
            fatigue=np.zeros((n, n_categories), dtype=f32),
            patience=np.zeros(n, dtype=np.float64),
            last_click=np.zeros(n, dtype=f32),
            session_satisfaction=np.zeros(n, dtype=np.float64),
            active=np.zeros(n, dtype=bool),
            user_index=np.full(n, -1, dtype=np.int64),
            features=np.zeros((n, n_features), dtype=f32),
        )

    def counter_block(self) -> np.ndarray:
        """The ``(N, 6)`` int64 block whose columns are the fields of :data:`COUNTER_FIELDS`, in
        that order (writes to either show in both).  Only a state made by :meth:`empty` has one
        (a :meth:`take` copies fields one by one); ``ValueError`` otherwise."""
        block = self.t.base
        if (
            isinstance(block, np.ndarray)
            and block.shape == (self.n, len(COUNTER_FIELDS))
            and block.dtype == np.int64
            and all(
                getattr(self, name).base is block
                and getattr(self, name).strides == block[:, i].strides
                and getattr(self, name).ctypes.data == block[:, i].ctypes.data
                for i, name in enumerate(COUNTER_FIELDS)
            )
        ):
            return block
        raise ValueError("state: its counters are not the columns of one block (use empty())")

    def __getstate__(self) -> dict[str, object]:
        """Fields for ``pickle`` and ``copy.deepcopy``: the counter block travels as one array
        (under ``"counters"``) instead of six columns, because a copy of each column would be six
        separate arrays and the simulator's compiled bookkeeping, which writes the block, would
        no longer move ``t`` or ``session`` (episodes would never truncate)."""
        try:
            block = self.counter_block()
        except ValueError:  # a take(): its counters are separate arrays already
            return dict(vars(self))
        state = {k: v for k, v in vars(self).items() if k not in COUNTER_FIELDS}
        state["counters"] = block
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        """Undo :meth:`__getstate__`: the counter fields become columns of the copied block
        again, so writes to either show in both, as in a state made by :meth:`empty`."""
        state = dict(state)
        block = state.pop("counters", None)
        if isinstance(block, np.ndarray):
            # A block of its own: an unpickled array may be a view of the pickle's buffer,
            # and counter_block() recognises the columns by their base.
            block = np.array(block, dtype=np.int64)
            state.update({name: block[:, i] for i, name in enumerate(COUNTER_FIELDS)})
        vars(self).update(state)

    @property
    def n(self) -> int:
        """Number of users."""
        return len(self.key)

    def assign(self, rows: np.ndarray, other: UserState) -> None:
        """Copy every field of ``other`` (len(rows) users) into ``rows`` of this state."""
        for f in fields(self):
            getattr(self, f.name)[rows] = getattr(other, f.name)

    def take(self, rows: np.ndarray) -> UserState:
        """A copy holding only ``rows``."""
        return UserState(**{f.name: getattr(self, f.name)[rows].copy() for f in fields(self)})
