"""Our ``interest-evolution`` scenario derived from a RecSim NG configuration, and what differs.

:func:`derive_scenario` maps users, topics ↔ categories, documents ↔ items, slate size, horizon
and seed; :func:`model_differences` lists everything else the two user models do differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from divrec_rl.config import ScenarioConfig, ScenarioError
from divrec_rl.interop import recsim_ng_stats as shared
from divrec_rl.interop.recsim_ng_stats import RecSimNGConfig
from divrec_rl.resolve import resolve_scenario
from divrec_rl.synthetic_shop import available_categories

SCENARIO = "interest-evolution"


class RecSimNGError(RuntimeError):
    """The RecSim NG side is missing or failed; the message is one line for the user."""


# ------------------------------------------------------------------------------------------
# configuration
# ------------------------------------------------------------------------------------------


def parse_config(raw: Mapping[str, Any], source: str = "") -> RecSimNGConfig:
    """:func:`~divrec_rl.interop.recsim_ng_stats.parse_config` for our catalogue (at most
    ``available_categories()`` topics, ``num_docs ≥ max(2·num_topics, num_topics + slate_size)``);
    raises :class:`ScenarioError` naming the field."""
    try:
        return shared.parse_config(raw, source, available_categories())
    except shared.ConfigError as exc:
        raise ScenarioError(str(exc)) from None


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> RecSimNGConfig:
    """Read a JSON configuration file, apply ``overrides`` (e.g. ``--users``), validate as
    :func:`parse_config` does; raises :class:`ScenarioError`."""
    try:
        return shared.load_config(path, overrides, available_categories())
    except shared.ConfigError as exc:
        raise ScenarioError(str(exc)) from None


def derive_scenario(cfg: RecSimNGConfig) -> tuple[ScenarioConfig, list[tuple[str, str, str]]]:
    """Our ``interest-evolution`` scenario on ``cfg``'s configuration, and what was matched.

    Matched: items = documents, categories = topics, slate size, ``episode.max_steps`` = horizon,
    catalogue seed = seed.  Both policies choose from (almost) the whole catalogue as RecSim NG
    does: retrieval returns ``n_candidates = M − C`` items spread evenly over the categories
    (``explore_fraction = 1``), i.e. every item except one random item per category.  Returns
    the config and rows ``(RecSim NG, ours, value)``.
    """
    overrides = {
        "catalog": {"n_items": cfg.num_docs, "n_categories": cfg.num_topics, "seed": cfg.seed},
        "slate": {
            "size": cfg.slate_size,
            "builder": "candidates",
            "n_candidates": cfg.num_docs - cfg.num_topics,
            "explore_fraction": 1.0,
        },
        "episode": {"max_steps": cfg.horizon},
    }
    scenario = resolve_scenario(SCENARIO, overrides=overrides)
    rows = [
        ("num_users", "users of the eval split, keys user_keys(seed, N)", str(cfg.num_users)),
        ("num_topics", "catalog.n_categories", str(cfg.num_topics)),
        ("num_docs", "catalog.n_items", str(cfg.num_docs)),
        ("slate_size", "slate.size", str(cfg.slate_size)),
        ("horizon (trajectory steps)", "episode.max_steps", str(cfg.horizon)),
        ("seed (tf.random.set_seed)", "catalog.seed and user keys", str(cfg.seed)),
        (
            "slate from the whole corpus",
            "slate.n_candidates = n_items − n_categories, explore_fraction = 1",
            str(cfg.num_docs - cfg.num_topics),
        ),
    ]
    return scenario, rows


def model_differences(sc: ScenarioConfig) -> list[tuple[str, str, str]]:
    """What the configuration cannot match: ``(aspect, RecSim NG, ours)`` from ``sc``'s values."""
    b, r, u = sc.behaviour, sc.response, sc.users
    fatigue = f"{b.boredom.attraction_penalty}·fatigue"
    leave = (
        f"patience {b.patience.initial}, −{b.patience.step_cost} per step, "
        f"−{b.patience.no_click_cost} without a click, +{b.patience.refill}·engagement; "
        "the user leaves at 0"
    )
    return [
        (
            "items",
            "features f ~ N(onehot(topic), 0.7²) in R^T, topics uniform",
            f"unit vectors in R^{sc.catalog.embedding_dim} from category, brand, attributes, "
            "price band; Dirichlet category sizes",
        ),
        (
            "quality",
            "q ~ N(μ_topic, 0.1²); 70 % of topics 'trashy' (μ ∈ [−1, 0])",
            "q ~ N(0, 0.5²), independent of the category",
        ),
        (
            "popularity",
            "none",
            f"Zipf (α = {sc.catalog.popularity_exponent}), weight {r.popularity_weight} in the "
            "click logit",
        ),
        (
            "initial interest",
            "θ ~ N(0, I_T), not normalised",
            f"unit vector: {u.min_favourite_categories}–{u.max_favourite_categories} favourite "
            f"categories + noise {u.interest_noise}",
        ),
        (
            "click model",
            "MNL over −‖θ − f‖ + 2, no-click logit 0",
            f"{b.choice.model.upper()} over {r.match_weight}·cos(θ, e) + {r.popularity_weight}·"
            f"z(log pop) + {r.quality_weight}·q + ({r.bias}) − {fatigue}, no-click logit "
            f"{b.choice.no_click_logit}",
        ),
        (
            "engagement of a click",
            "consumed fraction σ(−q): trashy items hold attention longer",
            f"σ({b.satisfaction.match_weight}·cos + {b.satisfaction.quality_weight}·q + "
            f"({b.satisfaction.bias}) − {b.boredom.satisfaction_penalty}·fatigue)",
        ),
        (
            "interest drift",
            "θ ← squash(θ + 0.1·q·(f − θ)): toward good, away from trashy items",
            f"θ ← normalise(θ + {b.drift.rate}·(e − θ)): toward every consumed item",
        ),
        (
            "boredom",
            "none",
            f"per-category fatigue (exposure {b.boredom.exposure_weight}, consumption "
            f"{b.boredom.consume_weight}, decay {b.boredom.decay})",
        ),
        ("leaving / time budget", "none: every user is stepped for the whole horizon", leave),
        (
            "randomness",
            "TensorFlow/edward2 draws after tf.random.set_seed(seed)",
            "counter-based per-user streams; the users are not the same individuals",
        ),
    ]
