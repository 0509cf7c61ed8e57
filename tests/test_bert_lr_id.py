"""``lr_id``: the learning rate of the item-ID and user-ID offsets (own AdamW group)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from divrec_rl.bert import checkpoint as ckpt
from divrec_rl.bert.settings import TrainConfig
from divrec_rl.bert.testing import shared_tiny_checkpoint, tiny_finetune_run, tiny_train_config
from divrec_rl.bert.train import finetune, load_trained_model
from divrec_rl.bert.trainer import FinetuneRun
from divrec_rl.errors import TrainingError


@pytest.fixture(scope="module")
def tiny() -> dict[str, Path]:
    return shared_tiny_checkpoint()


def _group_of(run: FinetuneRun, param: torch.nn.Parameter) -> int:
    found = [
        i for i, g in enumerate(run.optimizer.param_groups) if any(p is param for p in g["params"])
    ]
    assert len(found) == 1
    return found[0]


def test_offsets_get_the_lr_id_group_with_the_heads_decay_and_warm_up(tiny: dict) -> None:
    run = tiny_finetune_run(tiny, lr_id=0.05)
    model, groups = run.model, run.optimizer.param_groups
    assert model.item_id is not None and model.user_id is not None
    i = _group_of(run, model.item_id.weight)
    assert _group_of(run, model.user_id.weight) == i
    assert [p for p in groups[i]["params"]] == model.id_parameters()
    heads = _group_of(run, model.proj.weight)
    assert i != heads
    assert groups[i]["initial_lr"] == 0.05 and groups[heads]["initial_lr"] == 1e-2
    assert groups[i]["weight_decay"] == groups[heads]["weight_decay"] == 0.01
    # The heads' warm-up (not the encoder's, which waits for the probe phase to end).
    lambdas = run.scheduler.lr_lambdas
    for step in range(6):
        assert lambdas[i](step) == lambdas[heads](step)
    assert lambdas[i](0) > 0
    enc = _group_of(run, model.encoder.trainable_parameters()[0])
    assert lambdas[enc](0) == 0.0
    # Every trained parameter is in exactly one group.
    n = sum(len(g["params"]) for g in groups)
    assert n == len({id(p) for p in model.parameters() if p.requires_grad})


def test_by_default_the_offsets_train_with_the_heads(tiny: dict) -> None:
    assert TrainConfig().lr_id == 0.0
    run = tiny_finetune_run(
        tiny, lr_adapter=3e-3
    )  # the adapter's group as well, as in older checkpoints
    model = run.model
    heads = _group_of(run, model.proj.weight)
    assert model.item_id is not None and model.user_id is not None
    assert _group_of(run, model.item_id.weight) == heads
    assert _group_of(run, model.user_id.weight) == heads
    assert run.optimizer.param_groups[heads]["initial_lr"] == run.cfg.lr_heads
    # The groups of checkpoints written before the field: heads, encoder, adapter.
    assert len(run.optimizer.param_groups) == 3
    old = TrainConfig().to_dict()
    del old["lr_id"]
    assert TrainConfig.from_dict(old).lr_id == 0.0  # written before the field existed


def test_lr_id_sets_the_size_of_the_first_offset_step(tiny: dict, tmp_path: Path) -> None:
    # Zero-initialised offsets after one Adam step: |Δ| = lr · warm-up factor (1/2 here) for
    # every entry with a gradient, weight decay acting on zeros.
    for lr_id, expected in ((0.0, 1e-2), (0.05, 0.05)):
        cfg = tiny_train_config(
            tiny["data"], tiny["encoder"], steps=1, lr_id=lr_id, finetune_layers=0
        )
        finetune(cfg, tmp_path / str(lr_id), device="cpu", progress=False)
        model, _, _ = load_trained_model(tmp_path / str(lr_id))
        for table in model.id_parameters():
            assert table.abs().max().item() == pytest.approx(expected / 2, rel=1e-3)


@pytest.mark.parametrize("value", [-1e-3, "fast", float("nan")])
def test_a_bad_lr_id_is_refused_naming_it(value: object) -> None:
    with pytest.raises(TrainingError, match=r"lr_id.*--lr-id"):
        TrainConfig(lr_id=value)  # type: ignore[arg-type]


def test_lr_id_without_offsets_is_refused() -> None:
    with pytest.raises(TrainingError, match=r"lr_id.*needs ID offsets"):
        TrainConfig(item_tower="text", user_id=False, lr_id=1e-2)
    TrainConfig(item_tower="text", user_id=True, lr_id=1e-2)  # user offsets only
    TrainConfig(item_tower="text", user_id=False)


def test_resume_with_another_lr_id_is_refused(tiny: dict) -> None:
    cfg = tiny_train_config(tiny["data"], tiny["encoder"], lr_id=0.05)
    with pytest.raises(ckpt.CheckpointError, match="lr_id"):
        finetune(cfg, tiny["model"], "cpu", resume=True, progress=False)
