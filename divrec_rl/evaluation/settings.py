"""Settings of the evaluation that the command line needs before any heavy import."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

from divrec_rl.errors import EvaluationError
from divrec_rl.training.settings import SettingsModel

__all__ = ["CROSS_MODEL", "BaselineSettings"]

#: Response model of the cross-simulator check (registered by :mod:`.cross_sim`).
CROSS_MODEL = "mf"

Tradeoff = Annotated[float, Field(gt=0.0, le=1.0)]


class BaselineSettings(SettingsModel):
    """How the baseline is logged, fitted and tuned (every field is written to the report)."""

    model_config = ConfigDict(frozen=True)
    error_class = EvaluationError
    section = "baseline."
    flag_prefix = "baseline-"  # flags of `evaluate`: --baseline-hidden, …

    log_users: int = Field(
        2000,
        ge=1,
        description="Training users served by the logging policy (one episode each).",
        json_schema_extra={"flag": "--log-users"},
    )
    log_seed: int = Field(
        20_000,
        description="Seed of the logged users (divrec_rl.rollout.user_keys) and of the policy.",
    )
    logging_temperature: float = Field(
        1.0, description="Gumbel noise scale τ of the noisy-popularity logging policy."
    )
    val_users: int = Field(
        300,
        ge=1,
        description="Validation users every tuning setting serves.",
        json_schema_extra={"flag": "--val-users"},
    )
    val_seed: int = Field(10_000, description="Seed of the validation users.")
    # The baseline is diversity-regularised by definition (all β > 0; tuning picks how much);
    # β = 0 is the `supervised` agent.
    regularisers: tuple[Annotated[float, Field(gt=0.0)], ...] = Field(
        (0.3, 1.0, 3.0),
        min_length=1,
        description="Grid of the training diversity weight β (all > 0).",
    )
    mmr_tradeoffs: tuple[Tradeoff, ...] = Field(
        (0.1, 0.3, 0.5, 0.7),
        description="Grid of the MMR trade-off λ in (0, 1] (λ = 0, the plain ranking, is "
        "always included).",
    )
    dpp_tradeoffs: tuple[Tradeoff, ...] = Field(
        (0.3, 0.5, 0.7, 0.9), description="Grid of the DPP trade-off λ in (0, 1]."
    )
    hidden: int = Field(64, ge=1, description="Hidden width of the click model.")
    epochs: int = Field(6, ge=1, description="Training epochs (the best held-out epoch is kept).")
    seed: int = Field(0, description="Seed of the click models' weights and minibatches.")
    fits: int = Field(
        1,
        ge=1,
        le=100,
        description="Independent fits of the baseline's click models, each tuned on its own, on "
        "the same logs, with seeds seed, seed+1, …; "
        "evaluation seed s is played by fit number s mod fits, each tuned on the validation "
        "users on its own (as a PPO sweep's training seeds), so seed-level intervals include "
        "the baseline's fit-to-fit spread.",
    )
