"""Typed, validated scenario configuration.

A scenario is data: catalogue source + user population + user behaviour + response model + slate
builder + reward + episode settings.  Every field has a type, a default and a description; the
descriptions are the scenario file reference (``divrec-rl scenarios schema`` and docs).

Layering (RecBole-style, later wins): built-in defaults < scenario file < extra config file <
command-line overrides.  :func:`merge_overrides` does the deep merge; :func:`parse_scenario`
validates the result and turns pydantic's errors into :class:`ScenarioError` lines that name the
field and what is allowed.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from divrec_rl.errors import ScenarioError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @model_validator(mode="before")
    @classmethod
    def _numbers_are_not_booleans(cls, data: Any) -> Any:
        # pydantic reads `true` as 1 for an int or float field: `slate: {size: true}` would
        # quietly be a slate of one.  A YAML boolean where a number belongs is an error.
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                value = data.get(name)
                kinds = get_args(field.annotation) or (field.annotation,)
                if isinstance(value, bool) and bool not in kinds and {int, float} & set(kinds):
                    raise ValueError(f"{name}: must be a number, got {str(value).lower()}")
        return data


class CatalogConfig(_Section):
    """Where the items come from."""

    source: str = Field(
        "synthetic-shop",
        description="Registered catalogue source (e.g. `synthetic-shop`, `movielens-100k`).",
    )
    n_items: int = Field(
        2000, ge=2, le=1_000_000, description="Number of generated items (synthetic sources)."
    )
    n_categories: int = Field(
        20, ge=1, le=20, description="Number of product categories (synthetic sources)."
    )
    embedding_dim: int = Field(
        32, ge=2, le=1024, description="Dimension of the item vectors (synthetic sources)."
    )
    popularity_exponent: float = Field(
        1.1,
        gt=0.0,
        le=5.0,
        description="Zipf exponent α of popularity ∝ rank^-α (synthetic sources).",
    )
    path: str | None = Field(
        None,
        description="Data or model directory for data-backed sources; null = the default cache.",
    )
    seed: int = Field(
        0,
        ge=0,
        description="Seed of the catalogue generator; the catalogue is a pure function of it.",
    )


class UsersConfig(_Section):
    """Who the simulated users are when an episode starts."""

    population: str = Field(
        "synthetic", description="Registered user population (`synthetic`, or a data-backed one)."
    )
    min_favourite_categories: int = Field(
        1, ge=1, description="Fewest categories a synthetic user likes (≤ the catalogue's)."
    )
    max_favourite_categories: int = Field(
        3, ge=1, description="Most categories a synthetic user likes (capped at the catalogue's)."
    )
    interest_noise: float = Field(
        0.3,
        ge=0.0,
        le=5.0,
        description="Spread of a user's interest around their favourite categories (embedding units).",
    )
    history_length: int = Field(
        8,
        ge=0,
        le=1000,
        description="Items a user consumed before the episode (warm-start history the recommender sees).",
    )
    history_decay: float = Field(
        0.85,
        gt=0.0,
        lt=1.0,
        description="EMA factor of the observed history summary: h ← decay·h + (1-decay)·e_consumed.",
    )
    timed_consumption: bool = Field(
        False,
        description=(
            "Observe a consumption average that decays every step, not per click: "
            "D_c ← decay·D_c + (1-decay)·w_c(consumed item), from the episode's start (C more "
            "`user` columns, one more column per candidate: its primary category's D)."
        ),
    )

    @model_validator(mode="after")
    def _favourites_ordered(self) -> UsersConfig:
        if self.max_favourite_categories < self.min_favourite_categories:
            raise ValueError(
                "max_favourite_categories: must be ≥ min_favourite_categories "
                f"({self.min_favourite_categories}), got {self.max_favourite_categories}"
            )
        return self


class ChoiceConfig(_Section):
    """How a user picks at most one item from a slate."""

    model: Literal["mnl", "cascade"] = Field(
        "mnl",
        description="`mnl`: multinomial logit over the slate plus a no-click option; `cascade`: top-down examination.",
    )
    no_click_logit: float = Field(
        1.0,
        ge=-20.0,
        le=20.0,
        description="Utility of not clicking (MNL) / of stopping at each position (cascade), logit units.",
    )
    position_bias: float = Field(
        0.0,
        ge=0.0,
        le=10.0,
        description="MNL only: logit penalty β·log2(1+position) for lower slots (0 = none).",
    )
    cascade_continue: float = Field(
        0.9,
        gt=0.0,
        le=1.0,
        description="Cascade only: probability to examine the next slot after skipping one.",
    )


class DriftConfig(_Section):
    """How interest moves toward what is consumed (the filter-bubble mechanism)."""

    rate: float = Field(
        0.05,
        ge=0.0,
        le=1.0,
        description="Interest update θ ← normalise((1-rate)·θ + rate·e_clicked).",
    )


class BoredomConfig(_Section):
    """Diminishing returns of repeated exposure to one category."""

    decay: float = Field(
        0.85,
        ge=0.0,
        lt=1.0,
        description="Per-step decay of the fatigue F_c ← decay·F_c + exposure + consumption.",
    )
    exposure_weight: float = Field(
        0.03, ge=0.0, le=10.0, description="Fatigue added per slate slot showing the category."
    )
    consume_weight: float = Field(
        0.5, ge=0.0, le=10.0, description="Fatigue added when an item of the category is consumed."
    )
    attraction_penalty: float = Field(
        0.8,
        ge=0.0,
        le=20.0,
        description="Click-logit penalty per unit of fatigue of the item's category.",
    )
    satisfaction_penalty: float = Field(
        0.8,
        ge=0.0,
        le=20.0,
        description="Satisfaction-logit penalty per unit of fatigue of the item's category.",
    )


class SatisfactionConfig(_Section):
    """Engagement value of a consumed item, s = σ(match_weight·cos + quality_weight·q + bias − boredom)."""

    match_weight: float = Field(
        3.0,
        ge=0.0,
        le=50.0,
        description="Weight of the interest–item cosine in the satisfaction logit.",
    )
    quality_weight: float = Field(
        1.0, ge=0.0, le=50.0, description="Weight of the item's latent quality."
    )
    bias: float = Field(0.0, ge=-20.0, le=20.0, description="Satisfaction logit offset.")


class PatienceConfig(_Section):
    """A budget drained by poor slates and refilled by satisfying consumption; 0 = the user leaves."""

    initial: float = Field(
        1.0, gt=0.0, le=100.0, description="Patience at the start of each session."
    )
    maximum: float = Field(1.0, gt=0.0, le=100.0, description="Cap on patience.")
    step_cost: float = Field(0.06, ge=0.0, le=100.0, description="Patience spent every step.")
    no_click_cost: float = Field(
        0.12, ge=0.0, le=100.0, description="Extra patience spent when the slate gets no click."
    )
    refill: float = Field(
        0.1,
        ge=0.0,
        le=100.0,
        description="Patience regained per unit of satisfaction of a consumed item.",
    )

    @model_validator(mode="after")
    def _initial_le_max(self) -> PatienceConfig:
        if self.initial > self.maximum:
            raise ValueError(f"initial: must be ≤ maximum ({self.maximum}), got {self.initial}")
        return self


class ReturnConfig(_Section):
    """Optional next-session model: after leaving, the user comes back with probability σ(base + w·s̄)."""

    enabled: bool = Field(
        False, description="Simulate return visits; the episode spans several sessions."
    )
    base_logit: float = Field(
        -2.0, ge=-20.0, le=20.0, description="Return logit of a user with zero mean satisfaction."
    )
    satisfaction_weight: float = Field(
        4.0, ge=0.0, le=50.0, description="Weight of the mean satisfaction s̄ of the last session."
    )
    max_sessions: int = Field(5, ge=1, le=1000, description="Most sessions per episode.")
    fatigue_recovery: float = Field(
        0.5, ge=0.0, le=1.0, description="Share of fatigue that wears off between sessions."
    )


class BehaviourConfig(_Section):
    """The user model; every part is swappable."""

    model: str = Field("standard", description="Registered user-behaviour model.")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Free-form parameters for a plug-in behaviour model (validated by the plug-in).",
    )
    choice: ChoiceConfig = Field(default_factory=ChoiceConfig, description="Choice model.")
    drift: DriftConfig = Field(default_factory=DriftConfig, description="Interest drift.")
    boredom: BoredomConfig = Field(default_factory=BoredomConfig, description="Boredom / fatigue.")
    satisfaction: SatisfactionConfig = Field(
        default_factory=SatisfactionConfig, description="Engagement value of consumed items."
    )
    patience: PatienceConfig = Field(
        default_factory=PatienceConfig, description="Patience and leaving."
    )
    return_model: ReturnConfig = Field(
        default_factory=ReturnConfig, description="Next-session return model."
    )


class ResponseConfig(_Section):
    """The model that turns (user state, item) into a click logit (attraction)."""

    model: str = Field("embedding", description="Registered response model (`embedding`, `bert`).")
    match_weight: float = Field(
        4.0, ge=0.0, le=100.0, description="Embedding model: weight of cos(interest, item)."
    )
    popularity_weight: float = Field(
        0.4,
        ge=-10.0,
        le=10.0,
        description="Embedding model: weight of the standardised log-popularity.",
    )
    quality_weight: float = Field(
        0.5, ge=0.0, le=10.0, description="Embedding model: weight of latent item quality."
    )
    bias: float = Field(-1.0, ge=-50.0, le=50.0, description="Embedding model: click-logit offset.")
    path: str | None = Field(None, description="Checkpoint directory for learned response models.")


class SlateConfig(_Section):
    """How an agent's action becomes a slate of distinct items."""

    size: int = Field(10, ge=1, le=1000, description="Slate size k (distinct items per step).")
    builder: str = Field(
        "candidates",
        description="Registered slate builder: `candidates` (score a retrieved candidate set) or `query` (query vector against the catalogue).",
    )
    n_candidates: int = Field(
        40, ge=1, le=10_000, description="`candidates`: items retrieved per step; must be ≥ size."
    )
    explore_fraction: float = Field(
        0.35,
        ge=0.0,
        le=1.0,
        description="`candidates`: share of the retrieval spread uniformly over categories rather than by the user's observed tastes.",
    )

    @model_validator(mode="after")
    def _candidates_hold_slate(self) -> SlateConfig:
        if self.builder == "candidates" and self.n_candidates < self.size:
            raise ValueError(
                f"n_candidates: must be ≥ slate size ({self.size}), got {self.n_candidates}"
            )
        return self


class RewardConfig(_Section):
    """Per-step reward r = engagement + λ·diversity."""

    diversity_weight: float = Field(
        0.1,
        ge=0.0,
        le=100.0,
        description="λ, weight of slate diversity in the reward (0 = pure engagement).",
    )
    diversity: Literal["ild_embedding", "ild_category"] = Field(
        "ild_embedding",
        description="Slate diversity: ild_embedding = mean pairwise cosine distance 1 − cos(e_i, e_j) of item vectors; ild_category = 1 − mean pairwise overlap w_i·w_j of category distributions (each summing to 1: the share of pairs from different categories for single-category items, 0.5 for two items split evenly over the same two categories).",
    )


class EpisodeConfig(_Section):
    """Episode length."""

    max_steps: int = Field(
        50,
        ge=1,
        le=100_000,
        description="Steps after which the episode is truncated (time budget).",
    )


class ScenarioConfig(_Section):
    """A complete scenario."""

    name: str = Field(
        "custom",
        description="Scenario name (a scenario file without one is named after the file, not its base).",
    )
    description: str = Field("", description="What the scenario models and when to use it.")
    catalog: CatalogConfig = Field(default_factory=CatalogConfig, description="Catalogue.")
    users: UsersConfig = Field(default_factory=UsersConfig, description="User population.")
    behaviour: BehaviourConfig = Field(
        default_factory=BehaviourConfig, description="User behaviour."
    )
    response: ResponseConfig = Field(default_factory=ResponseConfig, description="Response model.")
    slate: SlateConfig = Field(default_factory=SlateConfig, description="Slate construction.")
    reward: RewardConfig = Field(default_factory=RewardConfig, description="Reward.")
    episode: EpisodeConfig = Field(default_factory=EpisodeConfig, description="Episode settings.")

    @model_validator(mode="after")
    def _slate_fits_synthetic_catalog(self) -> ScenarioConfig:
        if self.catalog.source == "synthetic-shop" and self.slate.size > self.catalog.n_items:
            raise ValueError(
                f"slate.size: must be ≤ catalog.n_items ({self.catalog.n_items}), got {self.slate.size}"
            )
        if (
            self.catalog.source == "synthetic-shop"
            and self.slate.builder == "candidates"
            and self.slate.n_candidates > self.catalog.n_items
        ):
            raise ValueError(
                f"slate.n_candidates: must be ≤ catalog.n_items ({self.catalog.n_items}), "
                f"got {self.slate.n_candidates}"
            )
        return self


def _format_error(
    err: dict[str, Any], prefix: str, lines: dict[tuple[str, ...], int] | None
) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    if lines:
        path = tuple(str(p) for p in err["loc"])
        while path and path not in lines:
            path = path[:-1]
        if path:
            prefix = f"{prefix[:-2]}:{lines[path]}: " if prefix else f"line {lines[path]}: "
    msg = err["msg"]
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = _section_at(err["loc"][:-1])
        allowed = ", ".join(parent.model_fields) if parent else "see the schema"
        return f"{prefix}unknown field '{loc}' (allowed here: {allowed})"
    if kind == "value_error" and msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
        field, _, rest = msg.partition(":")
        full = ".".join([*map(str, err["loc"]), field]) if rest else loc
        return f"{prefix}field '{full}':{rest}" if rest else f"{prefix}{msg}"
    got = err.get("input")
    shown = "" if isinstance(got, dict) else f" (got {got!r})"
    return f"{prefix}field '{loc}': {msg.lower()}{shown}"


def _section_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = ScenarioConfig
    for part in loc:
        field = model.model_fields.get(str(part))
        ann = field.annotation if field else None
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return None
        model = ann
    return model


def parse_scenario(
    data: dict[str, Any], source: str = "", lines: dict[tuple[str, ...], int] | None = None
) -> ScenarioConfig:
    """Validate a raw mapping into a :class:`ScenarioConfig`, raising :class:`ScenarioError`.

    Every problem becomes one line ``"<source>[:line]: field 'a.b': <what is allowed> (got …)"``;
    ``lines`` maps field paths to line numbers of the file they came from, when known.
    """
    if not isinstance(data, dict):
        raise ScenarioError(
            f"{source or 'scenario'}: expected a mapping of fields, got {type(data).__name__}"
        )
    try:
        return ScenarioConfig.model_validate(data)
    except ValidationError as exc:
        prefix = f"{source}: " if source else ""
        raise ScenarioError([_format_error(e, prefix, lines) for e in exc.errors()]) from None


def merge_overrides(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``override`` into a copy of ``base`` (mappings merge, everything else replaces)."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_overrides(out[key], value)
        else:
            out[key] = value
    return out


def dotted_to_nested(assignments: dict[str, Any]) -> dict[str, Any]:
    """``{"reward.diversity_weight": 0.2}`` → ``{"reward": {"diversity_weight": 0.2}}``."""
    nested: dict[str, Any] = {}
    for dotted, value in assignments.items():
        node = nested
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return nested


def schema_reference() -> list[tuple[str, str, str, str]]:
    """Rows ``(field, type, default, description)`` for every leaf field, in schema order."""
    rows: list[tuple[str, str, str, str]] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            ann = field.annotation
            path = f"{prefix}{name}"
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(ann, path + ".")
                continue
            tname = getattr(ann, "__name__", None) or str(ann).replace("typing.", "")
            if str(ann).startswith("typing.Literal"):
                tname = " | ".join(repr(a) for a in ann.__args__)  # type: ignore[union-attr]
            default = field.get_default(call_default_factory=True)
            rows.append((path, tname, repr(default), field.description or ""))

    walk(ScenarioConfig, "")
    return rows
