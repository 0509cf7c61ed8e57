"""A built scenario: the runtime objects a :class:`~divrec_rl.simulator.SlateSimulator` needs.

``build_scenario(config)`` looks each part up in its registry, so a plug-in registers a new
catalogue source, population, response model, behaviour or slate builder under a name and a
scenario file selects it — the simulator never changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from divrec_rl.catalog import Catalog
from divrec_rl.config import CatalogConfig, ResponseConfig, ScenarioConfig, ScenarioError
from divrec_rl.registry import Registry
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

CATALOG_SOURCES: Registry[CatalogFactory] = Registry("catalog.source")
POPULATIONS: Registry[PopulationFactory] = Registry("users.population")
RESPONSE_MODELS: Registry[ResponseFactory] = Registry("response.model")
BEHAVIOURS: Registry[BehaviourFactory] = Registry("behaviour.model")
SLATE_BUILDERS: Registry[BuilderFactory] = Registry("slate.builder")


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


@lru_cache(maxsize=16)
def _cached_catalog(catalog_json: str, response_json: str) -> Catalog:
    # A catalogue may depend on the response model (learned item vectors), nothing else: the key
    # holds just those two sections so scenarios differing elsewhere share one catalogue.
    catalog = CatalogConfig.model_validate_json(catalog_json)
    response = ResponseConfig.model_validate_json(response_json)
    return CATALOG_SOURCES.get(catalog.source)(catalog, response)


def build_scenario(config: ScenarioConfig) -> Scenario:
    """Instantiate every part of ``config``.  Catalogues are cached per catalogue settings."""
    CATALOG_SOURCES.get(config.catalog.source)  # an unknown source fails before any work
    catalog = _cached_catalog(config.catalog.model_dump_json(), config.response.model_dump_json())
    if config.slate.size > catalog.n_items:
        raise ScenarioError(
            f"field 'slate.size': must be ≤ the catalogue size ({catalog.n_items}), "
            f"got {config.slate.size}"
        )
    population = POPULATIONS.get(config.users.population)(catalog, config)
    behaviour = BEHAVIOURS.get(config.behaviour.model)(config)
    response = RESPONSE_MODELS.get(config.response.model)(catalog, config)
    builder = SLATE_BUILDERS.get(config.slate.builder)
    builder(catalog, config)  # validate now (e.g. n_candidates vs catalogue size)
    return Scenario(
        config, catalog, population, behaviour, response, lambda: builder(catalog, config)
    )


def _synthetic_catalog(c: CatalogConfig, response: ResponseConfig) -> Catalog:
    return generate_synthetic_shop(
        n_items=c.n_items,
        n_categories=c.n_categories,
        embedding_dim=c.embedding_dim,
        popularity_exponent=c.popularity_exponent,
        seed=c.seed,
    )


CATALOG_SOURCES.register("synthetic-shop", _synthetic_catalog)
POPULATIONS.register("synthetic", lambda catalog, cfg: SyntheticPopulation(catalog, cfg.users))
RESPONSE_MODELS.register(
    "embedding",
    lambda catalog, cfg: EmbeddingResponseModel(catalog, cfg.response, cfg.behaviour.satisfaction),
)
BEHAVIOURS.register(
    "standard", lambda cfg: StandardBehaviour(cfg.behaviour, cfg.users.history_decay)
)
SLATE_BUILDERS.register(
    "candidates", lambda catalog, cfg: CandidateSlateBuilder(catalog, cfg.slate)
)
SLATE_BUILDERS.register("query", lambda catalog, cfg: QuerySlateBuilder(catalog, cfg.slate))

__all__ = [
    "BEHAVIOURS",
    "CATALOG_SOURCES",
    "POPULATIONS",
    "RESPONSE_MODELS",
    "SLATE_BUILDERS",
    "Scenario",
    "build_scenario",
]
import divrec_rl.bert.register  # noqa: E402,F401  registers the movielens sources, population, bert
