"""Fine-tuning a tiny random BERT on a synthetic log: checkpoints, resume, broken files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from divrec_rl.bert import checkpoint as ckpt
from divrec_rl.bert.testing import shared_tiny_checkpoint, tiny_train_config
from divrec_rl.bert.train import finetune, load_trained_model


@pytest.fixture(scope="module")
def tiny() -> dict[str, Path]:
    return shared_tiny_checkpoint()


def test_checkpoint_files_and_tables(tiny: dict[str, Path]) -> None:
    d = tiny["model"]
    for name in ("config.json", "tables.safetensors", "model.safetensors", "optimizer.pt"):
        assert (d / name).is_file(), name
    assert (d / "tokenizer").is_dir()
    assert list((d / "tb").glob("events.out.tfevents.*")), "no TensorBoard events"
    cfg = ckpt.read_config(d)
    assert cfg["complete"] and cfg["step"] == 6
    assert [h["step"] for h in cfg["history"]] == [3, 6]
    assert set(cfg["validation"]) >= {"auc", "logloss", "ece", "ndcg@10", "hr@10"}
    tables = ckpt.load_tables(d)
    assert tables.item_vectors.shape == (40, 8)
    assert tables.user_attr.shape == (31, 8)
    np.testing.assert_allclose(np.linalg.norm(tables.item_vectors, axis=1), 1.0, atol=1e-5)
    assert tables.user_features.min() >= 0.0 and tables.user_features.max() <= 1.0


def test_reload_torch_model_reproduces_tables(tiny: dict[str, Path]) -> None:
    import torch

    from divrec_rl.bert.encoder import refresh_pooled, tokenize
    from divrec_rl.bert.model import runtime_tables
    from divrec_rl.bert.prepare import prepare_for
    from divrec_rl.bert.settings import TrainConfig
    from divrec_rl.data import load_dataset

    model, tokenizer, cfg = load_trained_model(tiny["model"])
    t = cfg["train"]
    prep = prepare_for(load_dataset(tiny["data"]), TrainConfig.from_dict(t))
    ids, mask = tokenize(tokenizer, prep.data.items["text"].tolist(), t["max_len"])
    pooled = refresh_pooled(model.encoder, model.encoder.bottom(ids, mask), mask, ids)
    with torch.no_grad():
        again = runtime_tables(model, pooled, prep.item_features, prep.user_features)
    saved = ckpt.load_tables(tiny["model"])
    np.testing.assert_allclose(again["item_vectors"], saved.item_vectors, atol=1e-5)
    np.testing.assert_allclose(again["attr_bias"], saved.attr_bias, atol=1e-5)


def test_resume_replays_the_uninterrupted_run(tiny: dict[str, Path], tmp_path: Path) -> None:
    part = tmp_path / "resumed"
    finetune(tiny_train_config(tiny["data"], tiny["encoder"], steps=3), part, "cpu", progress=False)
    assert ckpt.read_config(part)["step"] == 3
    result = finetune(
        tiny_train_config(tiny["data"], tiny["encoder"]), part, "cpu", resume=True, progress=False
    )
    assert result.step == 6
    a, b = ckpt.load_tables(part), ckpt.load_tables(tiny["model"])
    np.testing.assert_array_equal(a.item_vectors, b.item_vectors)
    np.testing.assert_array_equal(a.user_attr, b.user_attr)


def test_existing_checkpoint_needs_resume(tiny: dict[str, Path]) -> None:
    cfg = tiny_train_config(tiny["data"], tiny["encoder"])
    with pytest.raises(ckpt.CheckpointError, match="--resume"):
        finetune(cfg, tiny["model"], "cpu", progress=False)


def test_resume_with_other_settings_is_refused(tiny: dict[str, Path]) -> None:
    cfg = tiny_train_config(tiny["data"], tiny["encoder"], lr_heads=0.5)
    with pytest.raises(ckpt.CheckpointError, match="lr_heads"):
        finetune(cfg, tiny["model"], "cpu", resume=True, progress=False)


def test_resume_without_checkpoint_is_a_clear_error(tmp_path: Path, tiny: dict[str, Path]) -> None:
    cfg = tiny_train_config(tiny["data"], tiny["encoder"])
    with pytest.raises(ckpt.CheckpointError, match="no user-model checkpoint"):
        finetune(cfg, tmp_path / "nothing", "cpu", resume=True, progress=False)


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_corrupt_tables_fail_the_checksum(tiny: dict[str, Path], tmp_path: Path) -> None:
    d = _copy(tiny["model"], tmp_path / "m")
    raw = bytearray((d / "tables.safetensors").read_bytes())
    raw[-5] ^= 0xFF
    (d / "tables.safetensors").write_bytes(bytes(raw))
    with pytest.raises(ckpt.CheckpointError, match="checksum mismatch"):
        ckpt.load_tables(d)


def _rewrite_file(d: Path, name: str, data: bytes) -> None:
    (d / name).write_bytes(data)
    cfg = json.loads((d / "config.json").read_text())
    cfg["files"][name] = ckpt.sha256_file(d / name)
    (d / "config.json").write_text(json.dumps(cfg))


def test_unreadable_safetensors_is_a_clear_error(tiny: dict[str, Path], tmp_path: Path) -> None:
    d = _copy(tiny["model"], tmp_path / "m")
    _rewrite_file(d, "tables.safetensors", b"not a safetensors file at all")
    with pytest.raises(ckpt.CheckpointError, match="not a readable safetensors"):
        ckpt.load_tables(d)


def test_mismatched_tables_are_refused(tiny: dict[str, Path], tmp_path: Path) -> None:
    from safetensors.numpy import load_file, save_file

    d = _copy(tiny["model"], tmp_path / "m")
    tables = load_file(str(d / "tables.safetensors"))
    tables["item_attr"] = tables["item_attr"][:, :4].copy()
    save_file(tables, str(d / "tables.safetensors"))
    _rewrite_file(d, "tables.safetensors", (d / "tables.safetensors").read_bytes())
    with pytest.raises(ckpt.CheckpointError, match=r"item_attr.*shape"):
        ckpt.load_tables(d)


def test_broken_config_json_is_a_clear_error(tiny: dict[str, Path], tmp_path: Path) -> None:
    d = _copy(tiny["model"], tmp_path / "m")
    (d / "config.json").write_text("{ not json")
    with pytest.raises(ckpt.CheckpointError, match=r"config\.json: not a readable JSON"):
        ckpt.load_tables(d)
    (d / "config.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ckpt.CheckpointError, match="format"):
        ckpt.read_config(d)


def test_model_weights_of_another_shape_are_refused(tiny: dict[str, Path], tmp_path: Path) -> None:
    d = _copy(tiny["model"], tmp_path / "m")
    cfg = json.loads((d / "config.json").read_text())
    cfg["train"]["dim"] = 12
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ckpt.CheckpointError, match="does not fit"):
        load_trained_model(d)


class _Evil:
    def __reduce__(self) -> tuple:
        return (print, ("pwned",))


def test_optimizer_state_is_never_unpickled(tiny: dict[str, Path], tmp_path: Path) -> None:
    import torch

    d = _copy(tiny["model"], tmp_path / "m")
    torch.save({"optimizer": _Evil()}, d / "optimizer.pt")
    _rewrite_file(d, "optimizer.pt", (d / "optimizer.pt").read_bytes())
    with pytest.raises(ckpt.CheckpointError, match="weights-only"):
        ckpt.load_optimizer_state(d, ckpt.read_config(d))


def test_incomplete_checkpoint_is_not_used_for_simulation(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    d = _copy(tiny["model"], tmp_path / "m")
    cfg = json.loads((d / "config.json").read_text())
    cfg["complete"] = False
    cfg["step"] = 3
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ckpt.CheckpointError, match="--resume"):
        ckpt.load_tables(d)
