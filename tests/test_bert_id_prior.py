"""How much a hybrid item leans on its ID offset: ``id_shrinkage`` κ scales the offset by
``n/(n + κ)`` (n its fit-period ratings); ``id_dropout`` leaves it out of a training step;
``text_softmax_weight`` adds the ranking losses with every offset left out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional

from divrec_rl.bert.batches import draw_batch
from divrec_rl.bert.encoder import ItemEncoder, load_encoder
from divrec_rl.bert.model import TwoTowerModel, offset_gates
from divrec_rl.bert.settings import TrainConfig
from divrec_rl.bert.testing import shared_tiny_checkpoint, tiny_finetune_run, write_tiny_encoder
from divrec_rl.bert.trainer import FinetuneRun
from divrec_rl.errors import TrainingError


def test_the_gate_by_hand() -> None:
    got = offset_gates(np.array([0, 20, 60, 1980]), 20.0).numpy()
    np.testing.assert_allclose(got, [0.0, 0.5, 0.75, 0.99], rtol=1e-6)


@pytest.mark.parametrize("tower", ["hybrid", "hybrid-unit"])
def test_gated_offsets_mix_text_and_id_by_rating_count(tmp_path: Path, tower: str) -> None:
    _, hf, _ = load_encoder(str(write_tiny_encoder(tmp_path)))
    torch.manual_seed(0)
    model = TwoTowerModel(ItemEncoder(hf, 0, None), 4, 3, 2, 8, 3, tower, id_shrinkage=10.0)
    assert model.offset_gate is not None and model.item_id is not None
    with torch.no_grad():
        model.offset_gate.copy_(offset_gates(np.array([0, 10, 1_000_000]), 10.0))
        model.item_id.weight.copy_(torch.randn(3, 4))
    pooled = torch.randn(3, model.encoder.hidden_size)
    text = model.proj(pooled)
    if tower == "hybrid-unit":
        text = functional.normalize(text, dim=-1)
    q = model.item_id.weight
    want = functional.normalize(text + torch.tensor([0.0, 0.5, 1e6 / (1e6 + 10)])[:, None] * q)
    got = model.item_vectors(pooled)
    torch.testing.assert_close(got, want)
    # An item never rated is its text vector, whatever its offset.
    torch.testing.assert_close(got[0], functional.normalize(text[0], dim=-1))
    # Without κ there is no gate, and the state has no buffer for it (old checkpoints load).
    plain = TwoTowerModel(ItemEncoder(hf, 0, None), 4, 3, 2, 8, 3, tower)
    assert plain.offset_gate is None and "offset_gate" not in plain.state_dict()
    assert "offset_gate" in model.state_dict()


def test_a_run_gates_by_its_fit_period_counts_and_kappa_is_checked() -> None:
    run = tiny_finetune_run(shared_tiny_checkpoint(), id_shrinkage=5.0)
    gate = run.model.offset_gate
    assert gate is not None
    want = offset_gates(run.prep.train_seen.sum(axis=0), 5.0)
    torch.testing.assert_close(gate, want)
    assert float(gate.min()) >= 0.0 and float(gate.max()) < 1.0
    with pytest.raises(TrainingError, match="id_shrinkage"):
        TrainConfig(id_shrinkage=-1.0)


def test_the_gate_survives_the_checkpoint(tmp_path: Path) -> None:
    from divrec_rl.bert.testing import tiny_train_config
    from divrec_rl.bert.train import finetune, load_trained_model

    tiny = shared_tiny_checkpoint()
    cfg = tiny_train_config(
        tiny["data"], tiny["encoder"], steps=3, finetune_layers=0, id_shrinkage=5.0
    )
    finetune(cfg, tmp_path / "run", device="cpu", progress=False)
    model, _, saved = load_trained_model(tmp_path / "run")
    assert saved["train"]["id_shrinkage"] == 5.0
    assert model.offset_gate is not None
    want = tiny_finetune_run(tiny, id_shrinkage=5.0).model.offset_gate
    assert want is not None
    torch.testing.assert_close(model.offset_gate, want)


def test_id_dropout_masks_are_seeded_per_step_and_drop_offsets_only() -> None:
    tiny = shared_tiny_checkpoint()
    assert tiny_finetune_run(tiny).offset_keep(3) is None  # off by default
    run = tiny_finetune_run(tiny, id_dropout=0.5)
    again = tiny_finetune_run(tiny, id_dropout=0.5)
    masks = [run.offset_keep(s) for s in range(40)]
    assert all(m is not None for m in masks)
    torch.testing.assert_close(again.offset_keep(7), masks[7])  # a resumed run draws the same
    assert not torch.equal(masks[0], masks[1])
    dropped = 1.0 - torch.stack(masks).mean()  # type: ignore[arg-type]
    n = 40 * run.prep.n_items
    assert abs(float(dropped) - 0.5) < 4 * (0.25 / n) ** 0.5
    # A dropped item is scored from its text alone; a kept one keeps its offset.
    model = run.model
    assert model.item_id is not None
    with torch.no_grad():
        model.item_id.weight.normal_()
    keep = masks[0]
    assert keep is not None
    e = model.item_vectors(run.pooled, keep=keep)
    text = functional.normalize(model.proj(run.pooled), dim=-1)
    full = model.item_vectors(run.pooled)
    torch.testing.assert_close(e[keep == 0], text[keep == 0])
    torch.testing.assert_close(e[keep == 1], full[keep == 1])


def test_the_offset_settings_need_a_hybrid_tower_and_the_report_twins_drop_them() -> None:
    from divrec_rl.bert.ablations import TWO_TOWER_ROWS, variant_config

    with pytest.raises(TrainingError, match=r"'id_dropout' \(--id-dropout\).*hybrid"):
        TrainConfig(item_tower="text", id_dropout=0.5)
    with pytest.raises(TrainingError, match=r"'id_shrinkage' \(--id-shrinkage\).*hybrid"):
        TrainConfig(item_tower="id", finetune_layers=0, id_shrinkage=5.0)
    with pytest.raises(TrainingError, match=r"'text_softmax_weight' \(--text-softmax-weight\)"):
        TrainConfig(item_tower="text", text_softmax_weight=1.0)
    with pytest.raises(TrainingError, match="id_dropout"):
        TrainConfig(id_dropout=1.0)
    with pytest.raises(TrainingError, match="text_softmax_weight"):
        TrainConfig(text_softmax_weight=-0.5)
    base = TrainConfig(id_dropout=0.1, id_shrinkage=5.0, text_softmax_weight=0.5)
    twins = {row: variant_config(base, row, 1) for row in TWO_TOWER_ROWS}
    frozen = twins["frozen"]
    assert (frozen.id_dropout, frozen.id_shrinkage, frozen.text_softmax_weight) == (0.1, 5.0, 0.5)
    assert (twins["text"].id_dropout, twins["id"].id_shrinkage) == (0.0, 0.0)
    assert twins["text"].text_softmax_weight == twins["id"].text_softmax_weight == 0.0


def _parts(run: FinetuneRun, item_offsets: torch.Tensor, ranking: bool) -> dict[str, float]:
    assert run.model.item_id is not None
    with torch.no_grad():
        run.model.item_id.weight.copy_(item_offsets)
    return run.loss(draw_batch(run.prep, run.cfg, 0), probing=False, ranking=ranking)[1]


@pytest.mark.parametrize("tower", ["hybrid", "hybrid-unit"])
def test_the_text_ranking_loss_is_the_recipes_ranking_loss_without_offsets(tower: str) -> None:
    tiny = shared_tiny_checkpoint()
    # Both ranking losses on, with unequal weights, so each is checked to enter with its own.
    recipe = {"item_tower": tower, "softmax_weight": 0.5, "encoder_softmax_weight": 2.0}
    base = tiny_finetune_run(tiny, **recipe)
    aux = tiny_finetune_run(tiny, text_softmax_weight=0.3, **recipe)
    assert base.model.item_id is not None
    n, d = base.model.item_id.weight.shape
    # Zero offsets: every hybrid vector is its text vector, so the text term equals the
    # recipe's own ranking terms.
    zero = torch.zeros(n, d)
    plain, with_text = _parts(base, zero, True), _parts(aux, zero, True)
    ranking = 0.5 * plain["softmax_loss"] + 2.0 * plain["encoder_softmax_loss"]
    assert with_text["text_softmax_loss"] == pytest.approx(ranking, rel=1e-5)
    assert with_text["loss"] - plain["loss"] == pytest.approx(0.3 * ranking, rel=1e-4)
    assert "text_softmax_loss" not in plain
    # Outside ranking steps (the probe phase) the encoder softmax is left out of it too.
    probe = _parts(aux, zero, False)
    assert probe["text_softmax_loss"] == pytest.approx(0.5 * probe["softmax_loss"], rel=1e-5)
    # With offsets the two differ, and the text term's item side ignores the offsets: its
    # gradient reaches no item's offset except through the users' histories.
    torch.manual_seed(1)
    offsets = torch.randn(n, d)
    moved = _parts(aux, offsets, True)
    assert moved["text_softmax_loss"] != pytest.approx(
        0.5 * moved["softmax_loss"] + 2.0 * moved["encoder_softmax_loss"], rel=1e-3
    )
    b = draw_batch(aux.prep, aux.cfg, 0)
    aux.model.zero_grad(set_to_none=True)
    e = aux.model.item_vectors(aux.pooled)
    u_attr = aux.model.user_vectors(
        *aux.user_states(b, e), aux.x[b.users], torch.as_tensor(b.users)
    )[0]
    fresh = np.unique(np.concatenate([b.items, b.pool]))
    text = aux.text_ranking_loss(b, u_attr.detach(), aux.pooled[fresh], fresh, True)
    text.backward()
    assert aux.model.item_id is not None
    grad = aux.model.item_id.weight.grad
    assert grad is None or float(grad.abs().max()) == 0.0
    assert (
        aux.model.proj.weight.grad is not None and float(aux.model.proj.weight.grad.abs().max()) > 0
    )
