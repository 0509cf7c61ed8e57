"""The ``movielens`` population with its users' real held-out items attached.

:func:`movielens_population` builds :class:`~divrec_rl.bert.population.MovieLensPopulation`
exactly as :func:`divrec_rl.bert.sources.movielens_population` does and sets its
``held_out`` (:class:`~divrec_rl.users.heldout.HeldOutItems`) to each user's interactions of
the temporal ``test`` period — the user model's own split (``prepare``'s ``test`` frame), so
these are interactions neither the user model nor the simulated user's start state has seen.
Every test-period rating counts as relevant, whatever its value (a rating means the user chose
to watch the film; the metrics are about finding what users consume next).
"""

from __future__ import annotations

from typing import Any

from divrec_rl.bert.sources import load_bundle
from divrec_rl.bert.sources import movielens_population as _plain_population
from divrec_rl.catalog import Catalog
from divrec_rl.config import ScenarioConfig
from divrec_rl.users.heldout import HeldOutItems

#: How the report describes the relevant items.
RELEVANCE = (
    "the user's real interactions of the temporal test period (the newest 10% of each user's "
    "ratings, any rating value), which neither the user model nor the simulated user's start "
    "state saw"
)


def movielens_population(catalog: Catalog, config: ScenarioConfig) -> Any:
    """The ``movielens`` population of a scenario, ``held_out`` set (see the module docstring)."""
    population = _plain_population(catalog, config)
    b = load_bundle(config.catalog, config.response)
    t = b.checkpoint["train"]
    relevance = RELEVANCE.replace("10%", f"{t['test_frac']:.0%}")
    population.held_out = HeldOutItems.from_frame(
        b.prep.test,
        b.data.n_users,
        catalog.n_items,
        relevance,
        {split: len(users) for split, users in population.splits.items()},
    )
    return population
