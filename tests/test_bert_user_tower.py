"""The hybrid item tower, the recency user state (incremental == batch) and old checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from divrec_rl.bert import checkpoint as ckpt
from divrec_rl.bert.encoder import ItemEncoder, load_encoder
from divrec_rl.bert.model import TwoTowerModel, runtime_tables
from divrec_rl.bert.prepare import recency_history_vectors
from divrec_rl.bert.settings import TrainConfig
from divrec_rl.bert.sources import load_bundle
from divrec_rl.bert.testing import shared_tiny_checkpoint, tiny_scenario_overrides
from divrec_rl.config import ScenarioError
from divrec_rl.envs.slate_env import make_simulator
from divrec_rl.resolve import resolve_scenario


@pytest.fixture(scope="module")
def tiny() -> dict[str, object]:
    shared = shared_tiny_checkpoint()
    overrides = tiny_scenario_overrides(shared)
    return {**shared, "overrides": overrides}


def _model(encoder_dir: Path, tower: str, n_items: int = 7, dim: int = 8) -> TwoTowerModel:
    _, hf, _ = load_encoder(str(encoder_dir))
    return TwoTowerModel(ItemEncoder(hf, 0, None), dim, 3, 2, 8, n_items, tower)


@pytest.mark.parametrize("tower", ["hybrid", "text", "id"])
def test_item_towers_score_every_item_with_unit_vectors(tiny: dict, tower: str) -> None:
    torch.manual_seed(0)
    model = _model(tiny["encoder"], tower)
    pooled = torch.randn(7, model.encoder.hidden_size)
    e = model.item_vectors(pooled)
    assert e.shape == (7, 8)
    np.testing.assert_allclose(e.norm(dim=-1).detach().numpy(), 1.0, rtol=1e-5)
    # A subset of rows gives the same vectors as the full table (the ID part follows the rows).
    rows = torch.tensor([5, 1])
    np.testing.assert_allclose(
        model.item_vectors(pooled[rows], rows).detach().numpy(), e[rows].detach().numpy(), 1e-6
    )
    tables = runtime_tables(model, pooled, np.zeros((7, 2)), np.zeros((4, 3), np.float32))
    for name in ("item_attr", "item_sat", "item_attr_recent", "item_sat_recent"):
        assert tables[name].shape == (7, 8)
    assert tables["user_attr"].shape == (5, 8)
    theta, rho = torch.randn(4, 8), torch.randn(4, 8)
    u_attr, u_sat = model.user_vectors(theta, rho, torch.zeros(4, 3))
    assert u_attr.shape == u_sat.shape == (4, 8)


def test_hybrid_starts_as_the_text_tower_and_id_offsets_move_items(tiny: dict) -> None:
    torch.manual_seed(0)
    hybrid = _model(tiny["encoder"], "hybrid")
    torch.manual_seed(0)
    text = _model(tiny["encoder"], "text")
    pooled = torch.randn(7, hybrid.encoder.hidden_size)
    # Zero-initialised ID offsets: every item starts at its text prior.
    np.testing.assert_allclose(
        hybrid.item_vectors(pooled).detach().numpy(), text.item_vectors(pooled).detach().numpy()
    )
    with torch.no_grad():
        hybrid.item_id.weight[3] = 5.0  # type: ignore[union-attr]
    moved = (
        hybrid.item_vectors(pooled).detach().numpy() - text.item_vectors(pooled).detach().numpy()
    )
    assert np.abs(moved[3]).max() > 0.1
    assert np.abs(np.delete(moved, 3, axis=0)).max() == 0.0


def test_id_tower_needs_a_frozen_encoder() -> None:
    with pytest.raises(ValueError, match="finetune_layers"):
        TrainConfig(item_tower="id", finetune_layers=2)
    TrainConfig(item_tower="id", finetune_layers=0)


def test_recency_batch_formula_equals_the_incremental_ema() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(20, 5)).astype(np.float32)
    histories = [rng.integers(0, 20, n) for n in (0, 1, 4, 30)]
    indptr = np.concatenate([[0], np.cumsum([len(h) for h in histories])])
    items = np.concatenate(histories).astype(np.int64)
    for length in (3, 1000):
        batch = recency_history_vectors(vectors, indptr, items, 0.85, length)
        for u, h in enumerate(histories):
            rho = np.zeros(5)
            for i in h[-length:]:  # oldest first, as the simulator consumes them
                rho = 0.85 * rho + 0.15 * vectors[i]
            np.testing.assert_allclose(batch[u], rho, rtol=1e-5, atol=1e-6)


def test_simulator_keeps_the_recency_state_of_the_batch_formula(tiny: dict) -> None:
    """Initial ρ = batch formula over the training history; after each click the behaviour's
    O(d) update keeps ρ equal to the batch formula over history + consumed items."""
    sim = make_simulator("movielens-100k", 6, "train", config=tiny["overrides"])
    sim.reset_users(np.arange(6), np.arange(10, 16, dtype=np.uint64))
    cfg = resolve_scenario("movielens-100k", overrides=tiny["overrides"])
    b = load_bundle(cfg.catalog, cfg.response)
    users = sim.state.user_index.copy()
    consumed: list[list[int]] = [[] for _ in range(6)]
    alive = np.ones(6, dtype=bool)
    rng = np.random.default_rng(0)
    for _ in range(5):
        low, high = sim.action_space.low, sim.action_space.high
        result = sim.step(rng.uniform(low, high, size=(6, *low.shape)).astype(np.float32))
        for r in np.flatnonzero(result.info["active"] & (result.info["clicked"] >= 0)):
            consumed[r].append(int(result.info["clicked"][r]))
        alive &= ~(result.terminated | result.truncated)
    assert sum(map(len, consumed)) > 0
    emb = sim.catalog.embeddings
    for r in np.flatnonzero(alive):
        hist = b.prep.hist_items[b.prep.hist_indptr[users[r]] : b.prep.hist_indptr[users[r] + 1]]
        items = np.concatenate([hist, consumed[r]]).astype(np.int64)
        rho = recency_history_vectors(emb, np.array([0, len(items)]), items, 0.85, 1000)
        np.testing.assert_allclose(sim.state.history[r], rho[0], rtol=1e-4, atol=1e-5)


def test_scenario_with_another_history_decay_is_refused(tiny: dict) -> None:
    overrides = {**tiny["overrides"], "users": {"history_decay": 0.5}}
    with pytest.raises(ScenarioError, match=r"users\.history_decay.*0\.85"):
        make_simulator("movielens-100k", 2, "train", config=overrides)


def _as_version_1(src: Path, dst: Path) -> Path:
    """A copy of a checkpoint rewritten as version 1 (no recency tables)."""
    from safetensors.numpy import load_file, save_file

    dst.mkdir()
    tables = load_file(str(src / ckpt.TABLES_FILE))
    for name in ckpt.RECENCY_TABLES:
        del tables[name]
    save_file(tables, str(dst / ckpt.TABLES_FILE))
    (dst / ckpt.MODEL_FILE).write_bytes((src / ckpt.MODEL_FILE).read_bytes())
    cfg = json.loads((src / ckpt.CONFIG_FILE).read_text())
    cfg["version"] = 1
    cfg["files"] = {
        ckpt.TABLES_FILE: ckpt.sha256_file(dst / ckpt.TABLES_FILE),
        ckpt.MODEL_FILE: ckpt.sha256_file(dst / ckpt.MODEL_FILE),
    }
    (dst / ckpt.CONFIG_FILE).write_text(json.dumps(cfg))
    return dst


def test_version_1_checkpoint_simulates_or_says_how_to_retrain(tiny: dict, tmp_path: Path) -> None:
    from divrec_rl.bert.train import load_trained_model

    old = _as_version_1(Path(tiny["model"]), tmp_path / "old")
    tables = ckpt.load_tables(old)
    assert not tables.uses_recency
    assert np.all(tables.item_attr_recent == 0)
    overrides = {**tiny["overrides"], "response": {"path": str(old)}}
    sim = make_simulator("movielens-100k", 2, "train", config=overrides)
    sim.reset_users(np.arange(2), np.arange(2, dtype=np.uint64))
    attr, _ = sim.response.scores(sim.state, np.array([[0, 1, 2, 3]] * 2))
    a, _ = tables.pair_logits(
        sim.state.interest[[0] * 4], sim.state.user_index[[0] * 4], np.arange(4)
    )
    np.testing.assert_allclose(attr[0], a, rtol=1e-6, atol=1e-6)
    with pytest.raises(ckpt.CheckpointError) as err:
        load_trained_model(old)
    message = str(err.value)
    assert "\n" not in message and "version 1" in message and "divrec-rl finetune" in message


def test_user_id_offsets_start_at_zero_and_are_tabulated_per_user(tiny: dict) -> None:
    _, hf, _ = load_encoder(str(tiny["encoder"]))
    torch.manual_seed(0)
    plain = TwoTowerModel(ItemEncoder(hf, 0, None), 8, 3, 2, 8, 7, "hybrid")
    torch.manual_seed(0)
    model = TwoTowerModel(ItemEncoder(hf, 0, None), 8, 3, 2, 8, 7, "hybrid", 4, True)
    pooled, x = torch.randn(7, model.encoder.hidden_size), np.random.default_rng(0).random((4, 3))
    users = torch.arange(4)
    theta, rho, xt = torch.randn(4, 8), torch.randn(4, 8), torch.as_tensor(x, dtype=torch.float32)
    # Zero offsets: the model starts as the one without them.
    with_ids = model.user_vectors(theta, rho, xt, users)
    for a, b in zip(with_ids, plain.user_vectors(theta, rho, xt), strict=True):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    with torch.no_grad():
        model.user_id.weight[2] = torch.arange(16.0)  # type: ignore[union-attr]
    tables = runtime_tables(model, pooled, np.zeros((7, 2)), x.astype(np.float32))
    base = runtime_tables(plain, pooled, np.zeros((7, 2)), x.astype(np.float32))
    assert tables["user_attr"].shape == (5, 8)
    # Only user 2's rows move, by its offset (attraction first half, satisfaction second).
    np.testing.assert_allclose(tables["user_attr"][2] - base["user_attr"][2], np.arange(8.0))
    np.testing.assert_allclose(tables["user_sat"][2] - base["user_sat"][2], np.arange(8.0, 16.0))
    for name in ("user_attr", "user_sat"):
        np.testing.assert_array_equal(np.delete(tables[name], 2, 0), np.delete(base[name], 2, 0))
    with pytest.raises(ValueError, match="n_users"):
        TwoTowerModel(ItemEncoder(hf, 0, None), 8, 3, 2, 8, 7, "hybrid", 0, True)


def test_a_fine_tune_with_user_offsets_saves_and_reloads_them(tiny: dict, tmp_path: Path) -> None:
    from divrec_rl.bert.testing import tiny_train_config
    from divrec_rl.bert.train import finetune, load_trained_model

    cfg = tiny_train_config(tiny["data"], tiny["encoder"], user_id=True, finetune_layers=0)
    finetune(cfg, tmp_path / "m", device="cpu", progress=False)
    model, _, saved = load_trained_model(tmp_path / "m")
    assert saved["train"]["user_id"] is True
    assert model.user_id is not None and model.user_id.weight.abs().sum() > 0  # trained
    old = TrainConfig(user_id=True).to_dict()
    del old["user_id"]
    assert TrainConfig.from_dict(old).user_id is False  # written before the field existed
