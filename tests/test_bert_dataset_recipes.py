"""Per-dataset fine-tuning recipes: ``divrec-rl finetune --dataset NAME`` fills the options it
was not given from that dataset's recipe (``DATASET_RECIPES``), then from the field defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from divrec_rl import cli
from divrec_rl.bert import train
from divrec_rl.bert.settings import DATASET_RECIPES, TrainConfig
from divrec_rl.data.fetch import DATASETS


def test_movielens_1m_takes_its_recipe_and_given_fields_win() -> None:
    cfg = TrainConfig.for_dataset({"dataset": "movielens-1m"})
    assert (cfg.item_tower, cfg.softmax_weight) == ("hybrid-unit", 1.0)
    cfg = TrainConfig.for_dataset({"dataset": "movielens-1m", "item_tower": "hybrid", "seed": 3})
    assert (cfg.item_tower, cfg.softmax_weight, cfg.seed) == ("hybrid", 1.0, 3)
    cfg = TrainConfig.for_dataset({"dataset": "movielens-1m", "softmax_weight": 0.25})
    assert (cfg.item_tower, cfg.softmax_weight) == ("hybrid-unit", 0.25)


@pytest.mark.parametrize("given", [{}, {"dataset": "movielens-100k"}, {"dataset": "/data/my-ml"}])
def test_other_datasets_take_the_field_defaults(given: dict[str, Any]) -> None:
    assert TrainConfig.for_dataset(given) == TrainConfig(**given)
    cfg = TrainConfig(**given)
    # MovieLens-100k's recipe: the top encoder layer fine-tuned through the encoder softmax.
    assert (cfg.item_tower, cfg.finetune_layers, cfg.encoder_softmax_weight) == ("hybrid", 1, 1.0)
    assert (cfg.softmax_weight, cfg.lr_adapter, cfg.steps) == (0.0, 0.0, 1000)


def test_movielens_1m_keeps_the_frozen_encoder() -> None:
    cfg = TrainConfig.for_dataset({"dataset": "movielens-1m"})
    assert (cfg.finetune_layers, cfg.encoder_softmax_weight, cfg.steps) == (0, 0.0, 1250)


def test_a_recipes_text_id_mix_applies_to_hybrid_towers_only() -> None:
    assert TrainConfig.for_dataset({"dataset": "movielens-1m"}).text_softmax_weight == 0.5
    for tower in ("text", "id"):
        cfg = TrainConfig.for_dataset({"dataset": "movielens-1m", "item_tower": tower})
        assert cfg.text_softmax_weight == 0.0
    hybrid = TrainConfig.for_dataset({"dataset": "movielens-1m", "item_tower": "hybrid"})
    assert hybrid.text_softmax_weight == 0.5
    # Given explicitly with a tower that has no mix, it is still an error naming the field.
    with pytest.raises(ValueError, match="text_softmax_weight"):
        TrainConfig.for_dataset(
            {"dataset": "movielens-1m", "item_tower": "text", "text_softmax_weight": 0.5}
        )


def test_the_id_tower_runs_no_encoder_unless_told_otherwise() -> None:
    assert TrainConfig.for_dataset({"item_tower": "id"}).finetune_layers == 0
    with pytest.raises(ValueError, match="finetune_layers"):
        TrainConfig.for_dataset({"item_tower": "id", "finetune_layers": 1})


def test_every_recipe_names_a_known_dataset_and_valid_fields() -> None:
    for dataset, recipe in DATASET_RECIPES.items():
        assert dataset in DATASETS
        assert set(recipe) <= set(TrainConfig.model_fields)
        cfg = TrainConfig.for_dataset({"dataset": dataset})
        assert all(getattr(cfg, field) == value for field, value in recipe.items())


def test_the_finetune_command_trains_the_datasets_recipe(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[TrainConfig] = []

    def fake_finetune(cfg: TrainConfig, out: Any, **_: Any) -> Any:
        seen.append(cfg)
        raise ValueError("stop here")

    monkeypatch.setattr(train, "finetune", fake_finetune)
    for argv, tower in (
        (["--dataset", "movielens-1m"], "hybrid-unit"),
        (["--dataset", "movielens-1m", "--item-tower", "text"], "text"),
        ([], "hybrid"),
    ):
        assert cli.main(["finetune", *argv, "--out", str(tmp_path / "m")]) != 0
        assert seen[-1].item_tower == tower
        # The 1M recipe's text-only loss goes with its hybrid tower, not with another tower.
        want = 0.5 if argv == ["--dataset", "movielens-1m"] else 0.0
        assert seen[-1].text_softmax_weight == want
