"""``item_tower = hybrid-unit``: ``e_i = normalise(normalise(P·pool(text_i)) + q_i)``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional

from divrec_rl.bert import checkpoint as ckpt
from divrec_rl.bert.encoder import ItemEncoder, load_encoder
from divrec_rl.bert.model import TwoTowerModel, runtime_tables
from divrec_rl.bert.settings import TrainConfig
from divrec_rl.bert.testing import shared_tiny_checkpoint, tiny_train_config, write_tiny_encoder
from divrec_rl.bert.train import finetune, load_trained_model


def _model(encoder_dir: Path, tower: str, n_items: int = 5, dim: int = 4) -> TwoTowerModel:
    _, hf, _ = load_encoder(str(encoder_dir))
    return TwoTowerModel(ItemEncoder(hf, 0, None), dim, 3, 2, 8, n_items, tower)


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_encoder(tmp_path_factory.mktemp("enc"))


def test_hybrid_unit_is_the_formula_by_hand_with_unit_rows(encoder_dir: Path) -> None:
    torch.manual_seed(0)
    model = _model(encoder_dir, "hybrid-unit")
    assert model.item_id is not None
    with torch.no_grad():
        model.item_id.weight.copy_(torch.randn(5, 4))
        model.item_id.weight[2] = 0.0  # one item still at its text prior
    pooled = torch.randn(5, model.encoder.hidden_size)
    w = model.proj.weight.detach().double().numpy()
    b = model.proj.bias.detach().double().numpy()
    q = model.item_id.weight.detach().double().numpy()
    text = pooled.double().numpy() @ w.T + b
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    v = text + q
    expected = v / np.linalg.norm(v, axis=1, keepdims=True)
    e = model.item_vectors(pooled).detach().numpy()
    np.testing.assert_allclose(e, expected, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(e[2], text[2], atol=1e-6)
    # The unnormalised text part does not decide the mix: scaling P and its bias leaves e alone
    # (it would not in ``hybrid``).
    with torch.no_grad():
        model.proj.weight.mul_(10.0)
        model.proj.bias.mul_(10.0)
    np.testing.assert_allclose(model.item_vectors(pooled).detach().numpy(), expected, atol=1e-5)
    # A subset of rows gives the same vectors as the full table, and the simulator's tables use
    # the same vectors.
    rows = torch.tensor([4, 0])
    np.testing.assert_allclose(
        model.item_vectors(pooled[rows], rows).detach().numpy(), expected[[4, 0]], atol=1e-5
    )
    tables = runtime_tables(model, pooled, np.zeros((5, 2)), np.zeros((3, 3), np.float32))
    np.testing.assert_allclose(tables["item_vectors"], expected, atol=1e-5)


def test_hybrid_unit_starts_as_the_text_tower(encoder_dir: Path) -> None:
    torch.manual_seed(0)
    unit = _model(encoder_dir, "hybrid-unit")
    torch.manual_seed(0)
    text = _model(encoder_dir, "text")
    assert unit.item_id is not None
    assert unit.item_id.weight.abs().max().item() == 0.0  # q zero-initialised, as in hybrid
    pooled = torch.randn(5, unit.encoder.hidden_size)
    e_unit = unit.item_vectors(pooled).detach().numpy()
    np.testing.assert_allclose(e_unit, text.item_vectors(pooled).detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(
        e_unit, functional.normalize(text.proj(pooled), dim=-1).detach().numpy(), atol=1e-6
    )


def test_hybrid_unit_is_a_setting_and_survives_the_checkpoint(tmp_path: Path) -> None:
    assert TrainConfig().item_tower == "hybrid"  # the default is unchanged
    with pytest.raises(ValueError, match="hybrid-unit"):
        _model(write_tiny_encoder(tmp_path / "enc"), "unit")
    tiny = shared_tiny_checkpoint()
    cfg = tiny_train_config(
        tiny["data"], tiny["encoder"], steps=3, finetune_layers=0, item_tower="hybrid-unit"
    )
    finetune(cfg, tmp_path / "run", device="cpu", progress=False)
    model, _, saved = load_trained_model(tmp_path / "run")
    assert model.item_tower == "hybrid-unit" and saved["train"]["item_tower"] == "hybrid-unit"
    assert model.item_id is not None and model.item_id.weight.abs().max().item() > 0.0
    tables = ckpt.load_tables(tmp_path / "run")
    np.testing.assert_allclose(np.linalg.norm(tables.item_vectors, axis=1), 1.0, rtol=1e-5)
