"""A scenario configuration as dotted fields, and the fields where two configurations differ.

Training records the scenario a PPO run learned on; evaluation compares it, field by field,
with the scenario it is asked to evaluate on, so that a run trained with other settings under
the same name (``--set catalog.n_items=500``, a file based on the built-in) is not silently
scored on the default users.
"""

from __future__ import annotations

from typing import Any

from divrec_rl.config import ScenarioConfig

__all__ = ["IDENTITY_FIELDS", "differing_fields", "flat_fields", "summarise_differences"]

#: Fields that do not change the simulated users, or whose identity is checked otherwise: the
#: name and description; λ (the objective, reported as such); the paths of a user-model
#: checkpoint and a data directory (machine-specific; their content digests and the dataset
#: fingerprints are compared instead).
IDENTITY_FIELDS = (
    "name",
    "description",
    "reward.diversity_weight",
    "response.path",
    "catalog.path",
)


def flat_fields(config: ScenarioConfig) -> dict[str, Any]:
    """``{"section.field": value}`` of every leaf of ``config`` (JSON values; an empty mapping,
    such as ``behaviour.params: {}``, has no leaves)."""
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}{key}.", inner)
        else:
            out[prefix.rstrip(".")] = value

    walk("", config.model_dump(mode="json"))
    return out


def differing_fields(
    trained: ScenarioConfig, evaluated: ScenarioConfig, ignore: tuple[str, ...] = IDENTITY_FIELDS
) -> list[str]:
    """``field: trained → evaluated`` for every field (outside ``ignore``) where the two differ,
    in field order; a field only one of them has reads as ``unset`` in the other."""
    a, b = flat_fields(trained), flat_fields(evaluated)
    keys = list(a) + [k for k in b if k not in a]
    return [
        f"{key}: {a.get(key, 'unset')} → {b.get(key, 'unset')}"
        for key in keys
        if key not in ignore and a.get(key, "unset") != b.get(key, "unset")
    ]


def summarise_differences(changed: list[str], shown: int = 4) -> str:
    """The first ``shown`` differences joined by ``; ``, then how many more there are."""
    more = f"; {len(changed) - shown} more" if len(changed) > shown else ""
    return "; ".join(changed[:shown]) + more
