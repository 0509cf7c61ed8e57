"""Public plug-in API: register your own parts of a scenario, or prototype a behaviour per user.

Registration (each also accepts ``obj`` directly instead of decorating)::

    @register_behaviour("my-users")        # factory(config: ScenarioConfig) -> UserBehaviour
    @register_population("my-population")  # factory(catalog, config) -> UserPopulation
    @register_response_model("my-model")   # factory(catalog, config) -> ResponseModel
    @register_catalog_source("my-items")   # factory(catalog_config, response_config) -> Catalog
    @register_slate_builder("my-builder")  # factory(catalog, config) -> SlateBuilder
    @register_agent("my-agent")            # factory(context, spec, seed) -> agent
    @register_scenario("my-scenario")      # factory() -> ScenarioConfig | mapping

Each writes into the one table of :mod:`divrec_rl.parts` (registering a name again replaces it,
also a built-in).  A scenario then selects the part by name (``behaviour.model: my-users``).
The module that registers must be imported first: pass ``--import MODULE`` or
``--scenario pkg.mod:attr``, or name it in a scenario file's ``factory: pkg.mod:attr``.  An
installed package needs no import at all when it exposes its parts as entry points (groups in
:data:`divrec_rl.parts.ENTRY_POINT_GROUPS`, e.g. ``divrec_rl.behaviours``); see "Registration
routes" in ``docs/scenarios.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields
from numbers import Real
from typing import Any

import numpy as np

from divrec_rl import rng
from divrec_rl.config import ScenarioConfig
from divrec_rl.errors import ScenarioError
from divrec_rl.parts import (
    AGENTS,
    BEHAVIOURS,
    CATALOG_SOURCES,
    POPULATIONS,
    RESPONSE_MODELS,
    SLATE_BUILDERS,
)
from divrec_rl.resolve import register_scenario
from divrec_rl.users.behaviour import SlateResponse, UserBehaviour
from divrec_rl.users.state import SIMULATOR_FIELDS, UserState

BEHAVIOUR_FIELDS = frozenset(f.name for f in fields(UserState)) - SIMULATOR_FIELDS

__all__ = [
    "PerUserBehaviour",
    "UserView",
    "behaviour_params",
    "register_agent",
    "register_behaviour",
    "register_catalog_source",
    "register_population",
    "register_response_model",
    "register_scenario",
    "register_slate_builder",
]


def behaviour_params(config: ScenarioConfig, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``behaviour.params`` of ``config`` read against ``defaults`` (name → default value): a key
    not among them (a typo) is an error naming the allowed ones, a value of another kind than
    its default's is an error naming the field (a number for a number, never a boolean; ``str``
    for ``str``; ``bool`` for ``bool``), a missing key takes its default.  Ranges are the
    plug-in's own to check."""
    params = dict(config.behaviour.params)
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ScenarioError(
            f"field 'behaviour.params.{unknown[0]}': unknown parameter of behaviour "
            f"'{config.behaviour.model}' (allowed: {', '.join(defaults) or 'none'})"
        )
    out = dict(defaults)
    for name, value in params.items():
        default = defaults[name]
        numeric = isinstance(default, Real) and not isinstance(default, bool)
        ok = (
            isinstance(value, Real) and not isinstance(value, bool)
            if numeric
            else isinstance(value, type(default))
        )
        if not ok:
            kind = "a number" if numeric else type(default).__name__
            raise ScenarioError(f"field 'behaviour.params.{name}': must be {kind}, got {value!r}")
        out[name] = float(value) if isinstance(default, float) else value
    return out


def register_agent(name: str, obj: Callable[..., Any] | None = None) -> Any:
    """Register an agent factory ``(context, spec, seed)`` for ``--agents`` / ``--policy``."""
    return AGENTS.register(name, obj, overwrite=True)


def register_behaviour(name: str, obj: Callable[..., UserBehaviour] | None = None) -> Any:
    """Register a behaviour factory (e.g. a class taking the ScenarioConfig)."""
    return BEHAVIOURS.register(name, obj, overwrite=True)


def register_population(name: str, obj: Callable[..., Any] | None = None) -> Any:
    """Register a population factory ``(catalog, config) -> UserPopulation``."""
    return POPULATIONS.register(name, obj, overwrite=True)


def register_response_model(name: str, obj: Callable[..., Any] | None = None) -> Any:
    """Register a response-model factory ``(catalog, config)`` as ``response.model``."""
    return RESPONSE_MODELS.register(name, obj, overwrite=True)


def register_catalog_source(name: str, obj: Callable[..., Any] | None = None) -> Any:
    """Register a catalogue factory ``(catalog_config, response_config)`` as ``catalog.source``."""
    return CATALOG_SOURCES.register(name, obj, overwrite=True)


def register_slate_builder(name: str, obj: Callable[..., Any] | None = None) -> Any:
    """Register a slate-builder factory ``(catalog, config)`` as ``slate.builder``."""
    return SLATE_BUILDERS.register(name, obj, overwrite=True)


class UserView:
    """One user's row of a :class:`UserState`: scalar fields read and write as Python numbers,
    vector fields (``interest``, ``fatigue``, …) are writable row views.  The simulator's fields
    (``t``, ``session_step``, ``last_click``, …) are read-only: assigning one raises."""

    __slots__ = ("_i", "_state")

    def __init__(self, state: UserState, i: int) -> None:
        object.__setattr__(self, "_state", state)
        object.__setattr__(self, "_i", i)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._state, name)[self._i]
        return value.item() if np.ndim(value) == 0 else value

    def __setattr__(self, name: str, value: Any) -> None:
        if name in SIMULATOR_FIELDS:
            raise AttributeError(
                f"user.{name}: kept by the simulator, read-only for behaviours (write only "
                f"{', '.join(sorted(BEHAVIOUR_FIELDS))})"
            )
        getattr(self._state, name)[self._i] = value


class PerUserBehaviour(UserBehaviour):
    """Lift a behaviour written for ONE user into the batched contract, for prototyping.

    Implement :meth:`respond_user`, :meth:`update_user` and :meth:`leaves_user`; this class loops
    over the users in Python.  Cost: one Python call chain per user per step, so a batch of N
    costs ~N× a single user instead of one vectorised pass — ``benchmarks/plugin_overhead.py``
    measures it (write the batched version once the behaviour is settled).  Randomness must come
    from the ``u`` passed in (a per-user uniform), so batches still reproduce single users.
    Session bookkeeping (``session_step``, ``session_clicks``, ``session_satisfaction``,
    ``last_click``) is the simulator's: read it from ``user``, never write it.
    """

    def respond_user(
        self,
        user: UserView,
        slate: np.ndarray,
        attraction: np.ndarray,
        satisfaction_logit: np.ndarray,
        category_weights: np.ndarray,
        u: float,
    ) -> tuple[int, float]:
        """Return ``(position clicked or -1, engagement in [0, 1])`` for one user."""
        raise NotImplementedError

    def update_user(
        self,
        user: UserView,
        slate: np.ndarray,
        position: int,
        engagement: float,
        item_vectors: np.ndarray,
        category_weights: np.ndarray,
    ) -> None:
        """Advance one user's state in place (``user.patience = …``, ``user.fatigue[c] += …``)."""
        raise NotImplementedError

    def leaves_user(self, user: UserView) -> bool:
        """Whether the user ends the session now."""
        raise NotImplementedError

    def respond(
        self,
        state: UserState,
        slates: np.ndarray,
        attraction: np.ndarray,
        satisfaction_logit: np.ndarray,
        category_weights: np.ndarray,
    ) -> SlateResponse:
        n, k = slates.shape
        u = rng.uniforms(state.key, state.t, rng.STREAM_CUSTOM, 1)[:, 0]
        position = np.full(n, -1, dtype=np.int64)
        engagement = np.zeros(n)
        for i in np.flatnonzero(state.active):
            pos, eng = self.respond_user(
                UserView(state, i),
                slates[i],
                attraction[i],
                satisfaction_logit[i],
                category_weights[i],
                float(u[i]),
            )
            if not -1 <= pos < k:
                raise ValueError(f"respond_user: position must be in [-1, {k - 1}], got {pos}")
            position[i], engagement[i] = pos, (eng if pos >= 0 else 0.0)
        item = np.where(position >= 0, slates[np.arange(n), np.maximum(position, 0)], -1)
        return SlateResponse(
            position=position, item=item, engagement=engagement, probabilities=np.zeros((n, k + 1))
        )

    def update(
        self,
        state: UserState,
        slates: np.ndarray,
        response: SlateResponse,
        item_vectors: np.ndarray,
        category_weights: np.ndarray,
    ) -> None:
        for i in np.flatnonzero(state.active):
            self.update_user(
                UserView(state, i),
                slates[i],
                int(response.position[i]),
                float(response.engagement[i]),
                item_vectors[i],
                category_weights[i],
            )

    def leaves(self, state: UserState) -> np.ndarray:
        out = np.zeros(state.n, dtype=bool)
        for i in np.flatnonzero(state.active):
            out[i] = bool(self.leaves_user(UserView(state, i)))
        return out

    def start_user_session(self, user: UserView) -> None:
        """Set one user's own per-session fields (e.g. ``user.patience = 1.0``); the simulator
        has already zeroed the session bookkeeping (``session_step``, ``session_clicks``, …)."""

    def start_session(self, state: UserState, rows: np.ndarray) -> None:
        for i in rows:
            self.start_user_session(UserView(state, int(i)))
