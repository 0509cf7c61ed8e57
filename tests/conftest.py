"""Shared fixtures: small, fast scenarios."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SMALL = {
    "catalog": {"n_items": 300, "n_categories": 8, "embedding_dim": 16},
    "slate": {"size": 5, "n_candidates": 20},
}


@pytest.fixture
def small_overrides() -> dict:
    """A synthetic shop small enough for property tests."""
    return {k: dict(v) for k, v in SMALL.items()}


@pytest.fixture(autouse=True)
def _private_baseline_cache(tmp_path_factory, monkeypatch) -> None:
    """Every test gets an empty baseline cache of its own (never the user's
    ``~/.cache/divrec_rl/baselines``), so no test reads what another fitted."""
    monkeypatch.setenv("DIVREC_BASELINE_CACHE", str(tmp_path_factory.mktemp("baselines")))


@pytest.fixture(autouse=True)
def _isolated_parts() -> Iterator[None]:
    """Parts a test registers (decorators, ``--import``ed plug-ins) are forgotten after it, so
    tests share no hidden registry state; registrations made at collection time stay.

    Two caches outlive a test besides the registries: the list of imported plug-in modules
    (a run records it, so a test importing a plug-in would leak into the next run's record) and
    the catalogue caches, keyed by settings that name a part: after a test that registered a
    part under some name, a later test registering another part under that name would get the
    first one's catalogue.  The list is restored; the caches are cleared when the registries
    changed during the test (clearing them always would rebuild every catalogue per test).
    """
    from divrec_rl import resolve, scenario
    from divrec_rl.bert import sources
    from divrec_rl.parts import REGISTRIES, isolated_parts

    modules = list(resolve._PLUGIN_MODULES)
    before = {kind: dict(r._registered) for kind, r in REGISTRIES.items()}
    with isolated_parts():
        yield
        changed = any(dict(r._registered) != before[kind] for kind, r in REGISTRIES.items())
    resolve._PLUGIN_MODULES[:] = modules
    if changed:
        scenario._cached_catalog.cache_clear()
        sources._bundle.cache_clear()
