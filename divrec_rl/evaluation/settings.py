"""Settings of the evaluation that the command line needs before any heavy import."""

from __future__ import annotations

from dataclasses import dataclass

from divrec_rl.config import ScenarioError

__all__ = ["CROSS_MODEL", "BaselineSettings"]

#: Response model of the cross-simulator check (registered by :mod:`.cross_sim`).
CROSS_MODEL = "mf"


@dataclass(frozen=True)
class BaselineSettings:
    """How the baseline is logged, fitted and tuned (every field is written to the report)."""

    log_users: int = 2000
    """Training users served by the logging policy (one episode each)."""
    log_seed: int = 20_000
    """Seed of the logged users (:func:`~divrec_rl.rollout.user_keys`) and of the policy."""
    logging_temperature: float = 1.0
    """Gumbel noise scale τ of the noisy-popularity logging policy."""
    val_users: int = 300
    """Validation users every tuning setting serves."""
    val_seed: int = 10_000
    """Seed of the validation users."""
    regularisers: tuple[float, ...] = (0.3, 1.0, 3.0)
    """Grid of the training diversity weight β (all > 0: the baseline always trains with the
    diversity term, tuning picks how much; the β = 0 model is the ``supervised`` agent)."""
    mmr_tradeoffs: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7)
    """Grid of the MMR trade-off λ (λ = 0, the plain ranking, is always included)."""
    dpp_tradeoffs: tuple[float, ...] = (0.3, 0.5, 0.7, 0.9)
    """Grid of the DPP trade-off λ."""
    hidden: int = 64
    """Hidden width of the click model."""
    epochs: int = 6
    """Training epochs (the best held-out epoch is kept)."""
    seed: int = 0
    """Seed of the click models' weights and minibatches."""

    def __post_init__(self) -> None:
        for name in ("log_users", "val_users", "epochs", "hidden"):
            if getattr(self, name) < 1:
                raise ScenarioError(f"baseline.{name}: must be ≥ 1, got {getattr(self, name)}")
        if not self.regularisers or min(self.regularisers) <= 0:
            # The baseline is diversity-regularised by definition; β = 0 is the `supervised` agent.
            raise ScenarioError("baseline.regularisers: needs at least one value, all > 0")
        for name in ("mmr_tradeoffs", "dpp_tradeoffs"):
            if any(not 0.0 < v <= 1.0 for v in getattr(self, name)):
                raise ScenarioError(f"baseline.{name}: values must be in (0, 1]")
