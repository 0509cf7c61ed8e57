"""A built scenario: the runtime objects a :class:`~divrec_rl.simulator.SlateSimulator` needs.

``build_scenario(config)`` looks each part up in its registry (:mod:`divrec_rl.parts`), so a
plug-in adds a catalogue source, population, response model, behaviour or slate builder under a
name and a scenario file selects it — the simulator never changes.  ``check_scenario(spec)``
resolves *and* builds a scenario and returns its problems as lines: what ``scenarios validate``
reports is exactly what training would reject.

The factories of the synthetic built-ins live here too; :data:`divrec_rl.parts.BUILTIN_PARTS`
names them, so they are imported on first use like every other part.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from divrec_rl.catalog import Catalog
from divrec_rl.config import CatalogConfig, ResponseConfig, ScenarioConfig, parse_scenario
from divrec_rl.errors import DivrecError, ScenarioError, plugin_failure
from divrec_rl.parts import (
    BEHAVIOURS,
    CATALOG_SOURCES,
    POPULATIONS,
    RESPONSE_MODELS,
    SLATE_BUILDERS,
)
from divrec_rl.registry import Registry
from divrec_rl.resolve import (
    raw_scenario,
    read_text,
    resolve_scenario,
    scenario_file,
    yaml_field_lines,
)
from divrec_rl.response import EmbeddingResponseModel, ResponseModel
from divrec_rl.slate import CandidateSlateBuilder, QuerySlateBuilder, SlateBuilder
from divrec_rl.synthetic_shop import generate_synthetic_shop
from divrec_rl.users.behaviour import StandardBehaviour, UserBehaviour
from divrec_rl.users.population import SyntheticPopulation, UserPopulation

CatalogFactory = Callable[[CatalogConfig, ResponseConfig], Catalog]
PopulationFactory = Callable[[Catalog, ScenarioConfig], UserPopulation]
ResponseFactory = Callable[[Catalog, ScenarioConfig], ResponseModel]
BehaviourFactory = Callable[[ScenarioConfig], UserBehaviour]
BuilderFactory = Callable[[Catalog, ScenarioConfig], SlateBuilder]


@dataclass
class Scenario:
    """Everything needed to simulate: built once, shared by every face and every user."""

    config: ScenarioConfig
    catalog: Catalog
    population: UserPopulation
    behaviour: UserBehaviour
    response: ResponseModel
    builder_factory: Callable[[], SlateBuilder]

    @property
    def name(self) -> str:
        """Scenario name."""
        return self.config.name


def _named_parts(config: ScenarioConfig) -> list[tuple[Registry[Any], str]]:
    """Each part ``config`` names, with the registry that knows it."""
    return [
        (CATALOG_SOURCES, config.catalog.source),
        (POPULATIONS, config.users.population),
        (BEHAVIOURS, config.behaviour.model),
        (RESPONSE_MODELS, config.response.model),
        (SLATE_BUILDERS, config.slate.builder),
    ]


def part_modules(config: ScenarioConfig) -> list[str]:
    """The modules the parts named in ``config`` come from (catalogue source, population,
    behaviour, response model, slate builder)."""
    parts = [getattr(reg.get(name), "__module__", None) for reg, name in _named_parts(config)]
    return [module for module in parts if module]


def _make(registry: Registry[Any], name: str, *args: object) -> Any:
    """Call the factory of part ``name``.  A plug-in's own checks may raise a plain
    ``ValueError``/``TypeError``: that becomes one :class:`ScenarioError` line naming the field,
    so a bad plug-in parameter is rejected like any other bad field (never a traceback)."""
    factory = registry.get(name)
    try:
        return factory(*args)
    except DivrecError:
        raise
    except (ValueError, TypeError) as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ScenarioError(
            f"field '{registry.kind}': {registry.kind} '{name}' rejected the scenario: {detail}"
        ) from None
    except Exception as exc:  # any other failure of a part's code (e.g. a missing parameter)
        raise ScenarioError(
            f"field '{registry.kind}': {registry.kind} '{name}' failed to build "
            f"({plugin_failure(exc)})"
        ) from None


def _made(registry: Registry[Any], name: str, obj: object, methods: tuple[str, ...]) -> Any:
    """``obj`` if it has the contract's ``methods``; else one line naming the part, what it built
    and what is missing (a wrong return value of a plug-in factory, caught before any step)."""
    missing = [m for m in methods if not callable(getattr(obj, m, None))]
    if missing:
        raise ScenarioError(
            f"field '{registry.kind}': {registry.kind} '{name}' built a {type(obj).__name__} "
            f"without {', '.join(m + '()' for m in missing)}; subclass the contract "
            "(UserBehaviour / ResponseModel) to get them"
        )
    return obj


@lru_cache(maxsize=16)
def _cached_catalog(catalog_json: str, response_json: str) -> Catalog:
    # A catalogue may depend on the response model (learned item vectors), nothing else: the key
    # holds just those two sections so scenarios differing elsewhere share one catalogue.
    catalog = CatalogConfig.model_validate_json(catalog_json)
    response = ResponseConfig.model_validate_json(response_json)
    return _make(CATALOG_SOURCES, catalog.source, catalog, response)


def build_scenario(config: ScenarioConfig) -> Scenario:
    """Instantiate every part of ``config``.  Catalogues are cached per catalogue settings."""
    CATALOG_SOURCES.get(config.catalog.source)  # an unknown source fails before any work
    catalog = _cached_catalog(config.catalog.model_dump_json(), config.response.model_dump_json())
    if config.slate.size > catalog.n_items:
        raise ScenarioError(
            f"field 'slate.size': must be ≤ the catalogue size ({catalog.n_items}), "
            f"got {config.slate.size}"
        )
    population = _make(POPULATIONS, config.users.population, catalog, config)
    behaviour = _made(
        BEHAVIOURS,
        config.behaviour.model,
        _make(BEHAVIOURS, config.behaviour.model, config),
        ("respond", "update", "leaves", "returns", "start_session"),
    )
    response = _made(
        RESPONSE_MODELS,
        config.response.model,
        _make(RESPONSE_MODELS, config.response.model, catalog, config),
        ("attraction", "satisfaction_logit", "scores"),
    )
    builder = SLATE_BUILDERS.get(config.slate.builder)
    _make(SLATE_BUILDERS, config.slate.builder, catalog, config)  # validate now (n_candidates …)
    # A partial, not a lambda, so that a built scenario (and every env holding one) pickles.
    return Scenario(
        config, catalog, population, behaviour, response, partial(builder, catalog, config)
    )


def unknown_parts(config: ScenarioConfig, source: str = "") -> list[str]:
    """One line per part named in ``config`` that no registry knows (with suggestions)."""
    prefix = f"{source}: " if source else ""
    return [
        f"{prefix}field '{reg.kind}': {reg.unknown_message(name)}"
        for reg, name in _named_parts(config)
        if name not in reg
    ]


def _resolve_for_check(
    spec: str | os.PathLike[str] | ScenarioConfig | Mapping[str, Any],
    extra_files: list[str | Path] | None,
    overrides: Mapping[str, Any] | None,
) -> ScenarioConfig:
    path = scenario_file(spec)
    if path is None or extra_files or overrides:
        return resolve_scenario(spec, extra_files, overrides)
    # A file alone: field errors also carry the line they come from.
    lines = yaml_field_lines(read_text(path))
    return parse_scenario(raw_scenario(str(spec)), str(spec), lines)


def check_scenario(
    spec: str | os.PathLike[str] | ScenarioConfig | Mapping[str, Any],
    extra_files: list[str | Path] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> list[str]:
    """Every problem of a scenario, one line each; ``[]`` when it resolves *and* builds.

    Resolution errors (files, ``base:`` cycles, field values) are all reported at once, then
    every unknown part name; only a scenario free of those is built, so that each part's factory
    runs its own checks (a plug-in's parameters, a missing MovieLens download or user model).
    """
    source = str(spec) if isinstance(spec, str | os.PathLike) else ""
    try:
        config = _resolve_for_check(spec, extra_files, overrides)
    except DivrecError as exc:
        return exc.errors
    problems = unknown_parts(config, source)
    if problems:
        return problems
    try:
        build_scenario(config)
    except DivrecError as exc:
        return [e if not source or e.startswith(source) else f"{source}: {e}" for e in exc.errors]
    return []


# -- the synthetic built-ins (declared in divrec_rl.parts) -----------------------------------


def synthetic_catalog(c: CatalogConfig, response: ResponseConfig) -> Catalog:
    """``catalog.source: synthetic-shop``: the generated shop of :mod:`divrec_rl.synthetic_shop`."""
    return generate_synthetic_shop(
        n_items=c.n_items,
        n_categories=c.n_categories,
        embedding_dim=c.embedding_dim,
        popularity_exponent=c.popularity_exponent,
        seed=c.seed,
    )


def synthetic_population(catalog: Catalog, cfg: ScenarioConfig) -> UserPopulation:
    """``users.population: synthetic``."""
    return SyntheticPopulation(catalog, cfg.users)


def embedding_response(catalog: Catalog, cfg: ScenarioConfig) -> ResponseModel:
    """``response.model: embedding``: the fast embedding response model."""
    return EmbeddingResponseModel(catalog, cfg.response, cfg.behaviour.satisfaction)


def standard_behaviour(cfg: ScenarioConfig) -> UserBehaviour:
    """``behaviour.model: standard``."""
    return StandardBehaviour(cfg.behaviour, cfg.users.history_decay)


def candidate_builder(catalog: Catalog, cfg: ScenarioConfig) -> SlateBuilder:
    """``slate.builder: candidates``: scores over a retrieved candidate set."""
    return CandidateSlateBuilder(catalog, cfg.slate, cfg.users.timed_consumption)


def query_builder(catalog: Catalog, cfg: ScenarioConfig) -> SlateBuilder:
    """``slate.builder: query``: a continuous query vector scored against every item."""
    return QuerySlateBuilder(catalog, cfg.slate)


__all__ = [
    "BEHAVIOURS",
    "CATALOG_SOURCES",
    "POPULATIONS",
    "RESPONSE_MODELS",
    "SLATE_BUILDERS",
    "Scenario",
    "build_scenario",
    "check_scenario",
    "unknown_parts",
]
