"""The one table of built-in parts, and the registry of every part kind.

Every built-in part is *declared* here as name → ``"module:attr"`` and imported only when a
scenario (or ``--agents``) names it, so importing this module imports nothing but the registry
machinery: no module registers built-ins as an import side effect.  Installed plug-ins add parts
through the entry-point group of each kind; a plug-in module imported in this process adds (or
replaces) parts with the ``register_*`` decorators of :mod:`divrec_rl.plugins`.

=====================  =========================================  ============================
kind (scenario field)  factory signature                          entry-point group
=====================  =========================================  ============================
``catalog.source``     ``(catalog_config, response_config)``      ``divrec_rl.catalog_sources``
``users.population``   ``(catalog, scenario_config)``             ``divrec_rl.populations``
``response.model``     ``(catalog, scenario_config)``             ``divrec_rl.response_models``
``behaviour.model``    ``(scenario_config)``                      ``divrec_rl.behaviours``
``slate.builder``      ``(catalog, scenario_config)``             ``divrec_rl.slate_builders``
``agent``              ``(agent_context, agent_spec, seed)``      ``divrec_rl.agents``
``scenario``           ``()`` → ScenarioConfig or mapping         ``divrec_rl.scenarios``
=====================  =========================================  ============================

Built-in scenarios are the YAML files shipped in the ``divrec_rl.scenarios`` package; they are
declared by file name and load as the file's :class:`~pathlib.Path`, which
:mod:`divrec_rl.resolve` reads with its ``base:`` layering.

The "module:attr" strings may point above this layer (``mf`` lives in ``evaluation``, the agents
in ``agents``): they are resolved at run time, never imported by this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from divrec_rl.registry import Registry

__all__ = [
    "AGENTS",
    "BEHAVIOURS",
    "BUILTIN_PARTS",
    "CATALOG_SOURCES",
    "ENTRY_POINT_GROUPS",
    "POPULATIONS",
    "REGISTRIES",
    "RESPONSE_MODELS",
    "SCENARIOS",
    "SLATE_BUILDERS",
    "isolated_parts",
    "reset_parts",
]

_SCENARIO = "divrec_rl.scenario"
_BERT = "divrec_rl.bert.sources"
_AGENTS = "divrec_rl.agents.registry"

#: kind → name → target.  Targets are "module:attr" factories, except for ``scenario``, whose
#: targets are YAML files of the ``divrec_rl.scenarios`` package.
BUILTIN_PARTS: dict[str, dict[str, str]] = {
    "catalog.source": {
        "synthetic-shop": f"{_SCENARIO}:synthetic_catalog",
        "movielens-100k": f"{_BERT}:movielens_catalog",
        "movielens-1m": f"{_BERT}:movielens_catalog",
    },
    "users.population": {
        "synthetic": f"{_SCENARIO}:synthetic_population",
        "movielens": "divrec_rl.bert.sources:movielens_population",
    },
    "response.model": {
        "embedding": f"{_SCENARIO}:embedding_response",
        "bert": f"{_BERT}:bert_response",
        "mf": "divrec_rl.evaluation.cross_sim:mf_response",
    },
    "behaviour.model": {
        "standard": f"{_SCENARIO}:standard_behaviour",
        "quit-on-repetition": "divrec_rl.users.repetition:quit_on_repetition",
    },
    "slate.builder": {
        "candidates": f"{_SCENARIO}:candidate_builder",
        "query": f"{_SCENARIO}:query_builder",
    },
    "agent": {
        "random": f"{_AGENTS}:random_agent",
        "popularity": f"{_AGENTS}:popularity_agent",
        "greedy": f"{_AGENTS}:greedy_agent",
        "attraction-ranker": f"{_AGENTS}:attraction_ranker_agent",
        "supervised": f"{_AGENTS}:supervised_agent",
        "baseline": f"{_AGENTS}:baseline_agent",
        "baseline-mmr": f"{_AGENTS}:baseline_mmr_agent",
        "baseline-dpp": f"{_AGENTS}:baseline_dpp_agent",
        "ppo": f"{_AGENTS}:ppo_agent",
    },
    "scenario": {
        "cold-start": "cold-start.yaml",
        "filter-bubble": "filter-bubble.yaml",
        "interest-evolution": "interest-evolution.yaml",
        "movielens-100k": "movielens-100k.yaml",
        "movielens-1m": "movielens-1m.yaml",
        "shop-returns": "shop-returns.yaml",
        "synthetic-shop": "synthetic-shop.yaml",
    },
}

#: kind → entry-point group of installed plug-ins.
ENTRY_POINT_GROUPS: dict[str, str] = {
    "catalog.source": "divrec_rl.catalog_sources",
    "users.population": "divrec_rl.populations",
    "response.model": "divrec_rl.response_models",
    "behaviour.model": "divrec_rl.behaviours",
    "slate.builder": "divrec_rl.slate_builders",
    "agent": "divrec_rl.agents",
    "scenario": "divrec_rl.scenarios",
}


def packaged_scenario(file_name: str) -> Path:
    """The path of a YAML file shipped in the ``divrec_rl.scenarios`` package."""
    path = Path(str(resources.files("divrec_rl.scenarios") / file_name))
    if not path.is_file():
        raise FileNotFoundError(f"no file '{file_name}' in package divrec_rl.scenarios")
    return path


def _registry(kind: str, loader: Any = None) -> Registry[Any]:
    return Registry(kind, ENTRY_POINT_GROUPS[kind], BUILTIN_PARTS[kind], loader)


CATALOG_SOURCES = _registry("catalog.source")
POPULATIONS = _registry("users.population")
RESPONSE_MODELS = _registry("response.model")
BEHAVIOURS = _registry("behaviour.model")
SLATE_BUILDERS = _registry("slate.builder")
AGENTS = _registry("agent")
SCENARIOS = _registry("scenario", packaged_scenario)

#: kind → its registry.
REGISTRIES: dict[str, Registry[Any]] = {
    r.kind: r
    for r in (
        CATALOG_SOURCES,
        POPULATIONS,
        RESPONSE_MODELS,
        BEHAVIOURS,
        SLATE_BUILDERS,
        AGENTS,
        SCENARIOS,
    )
}


def reset_parts() -> None:
    """Every registry back to its declared table (registrations and caches forgotten)."""
    for registry in REGISTRIES.values():
        registry.reset()


@contextmanager
def isolated_parts() -> Iterator[None]:
    """Within the block, registrations of any kind are undone on exit (for tests)."""
    with ExitStack() as stack:
        for registry in REGISTRIES.values():
            stack.enter_context(registry.isolated())
        yield
