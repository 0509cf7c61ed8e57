"""Checkpoint integrity: every weight file of a user-model checkpoint is checked against its
recorded sha256 on load, over all of its bytes (corruption far past the first MiB included)."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from divrec_rl.bert import checkpoint as ckpt
from divrec_rl.bert.testing import shared_tiny_checkpoint
from divrec_rl.bert.train import load_trained_model

MIB = 1 << 20

# How each weight file of a checkpoint is loaded.  A file added to checkpoints later must be
# listed here (test_every_recorded_file_has_a_loader), which makes the corruption test cover it.
LOADERS: dict[str, Callable[[Path], Any]] = {
    ckpt.TABLES_FILE: ckpt.load_tables,
    ckpt.MODEL_FILE: lambda d: ckpt.load_state_dict(d, ckpt.read_config(d)),
    ckpt.OPTIMIZER_FILE: lambda d: ckpt.load_optimizer_state(d, ckpt.read_config(d)),
}


@pytest.fixture(scope="module")
def tiny() -> dict[str, Path]:
    return shared_tiny_checkpoint()


def _flip(path: Path, offset: int) -> None:
    """Invert one byte of ``path`` at ``offset`` (negative: from the end)."""
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_sha256_file_hashes_every_byte(tmp_path: Path) -> None:
    data = np.random.default_rng(0).bytes(3 * MIB + 123)
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert ckpt.sha256_file(path) == hashlib.sha256(data).hexdigest()
    for offset in (0, MIB - 1, MIB, 2 * MIB + 7, -1):  # each block, the block edge, the tail
        _flip(path, offset)
        assert ckpt.sha256_file(path) != hashlib.sha256(data).hexdigest(), offset
        _flip(path, offset)
    assert ckpt.sha256_file(path) == hashlib.sha256(data).hexdigest()
    (tmp_path / "empty").write_bytes(b"")
    assert ckpt.sha256_file(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()


def test_verify_file_catches_corruption_past_the_first_mib(tmp_path: Path) -> None:
    path = tmp_path / "extra.bin"
    path.write_bytes(bytes(3 * MIB))
    cfg = {"files": {"extra.bin": ckpt.sha256_file(path)}}
    assert ckpt.verify_file(tmp_path, cfg, "extra.bin") == path
    _flip(path, 2 * MIB + 5)
    with pytest.raises(ckpt.CheckpointError, match=r"extra\.bin: checksum mismatch"):
        ckpt.verify_file(tmp_path, cfg, "extra.bin")
    with pytest.raises(ckpt.CheckpointError, match=r"no checksum recorded for extra\.bin"):
        ckpt.verify_file(tmp_path, {"files": {}}, "extra.bin")
    with pytest.raises(ckpt.CheckpointError, match=r"other\.bin: missing"):
        ckpt.verify_file(tmp_path, cfg, "other.bin")


def _big_tables(n_items: int, n_users: int, dim: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(n_items, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return {
        "item_vectors": vectors,
        "item_attr": rng.normal(size=(n_items, dim)).astype(np.float32),
        "item_sat": rng.normal(size=(n_items, dim)).astype(np.float32),
        "attr_bias": rng.normal(size=n_items).astype(np.float32),
        "sat_bias": rng.normal(size=n_items).astype(np.float32),
        "user_attr": rng.normal(size=(n_users + 1, dim)).astype(np.float32),
        "user_sat": rng.normal(size=(n_users + 1, dim)).astype(np.float32),
        "user_features": rng.uniform(size=(n_users, 4)).astype(np.float32),
    }


def test_multi_mib_checkpoint_round_trips_and_late_corruption_is_caught(tmp_path: Path) -> None:
    import torch

    tables = _big_tables(n_items=6000, n_users=50, dim=32)  # tables ≈ 2.3 MiB
    state = {"w": torch.arange(600_000, dtype=torch.float32)}  # model ≈ 2.3 MiB
    optim = {"optimizer": {"state": {0: {"m": torch.ones(600_000)}}}}  # ≈ 2.3 MiB
    config = {
        "train": {"steps": 1},
        "encoder": {},
        "dataset": {"n_items": 6000, "n_users": 50},
        "step": 1,
        "complete": True,
    }
    ckpt.write_checkpoint(tmp_path, config, tables, state, optim)
    cfg = ckpt.read_config(tmp_path)
    assert set(cfg["files"]) == set(LOADERS)
    for name in cfg["files"]:
        assert (tmp_path / name).stat().st_size > 2 * MIB, name
    loaded = ckpt.load_tables(tmp_path)
    np.testing.assert_array_equal(loaded.item_sat, tables["item_sat"])
    assert torch.equal(ckpt.load_state_dict(tmp_path, cfg)["w"], state["w"])
    for name, load in LOADERS.items():
        d = tmp_path.parent / f"copy-{name}"
        shutil.copytree(tmp_path, d)
        size = (d / name).stat().st_size
        _flip(d / name, size - 64)  # inside the last tensor's data, past 2 MiB
        with pytest.raises(ckpt.CheckpointError, match="checksum mismatch"):
            load(d)


def test_every_recorded_file_has_a_loader(tiny: dict[str, Path]) -> None:
    cfg = ckpt.read_config(tiny["model"])
    assert set(cfg["files"]) == set(LOADERS)
    weight_files = {
        p.name for p in tiny["model"].iterdir() if p.is_file() and p.name != ckpt.CONFIG_FILE
    }
    assert weight_files <= set(cfg["files"]), "every weight file needs a recorded checksum"


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_a_flipped_byte_in_any_weight_file_fails_its_load(
    tiny: dict[str, Path], tmp_path: Path, name: str
) -> None:
    d = tmp_path / "m"
    shutil.copytree(tiny["model"], d)
    LOADERS[name](d)  # loads as written
    _flip(d / name, -5)
    with pytest.raises(ckpt.CheckpointError, match=f"{name}: checksum mismatch"):
        LOADERS[name](d)


def test_a_flipped_byte_in_the_model_fails_loading_the_trained_model(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    d = tmp_path / "m"
    shutil.copytree(tiny["model"], d)
    _flip(d / ckpt.MODEL_FILE, -5)
    with pytest.raises(ckpt.CheckpointError, match=r"model\.safetensors: checksum mismatch"):
        load_trained_model(d)


def test_a_checksum_missing_from_config_is_refused(tiny: dict[str, Path], tmp_path: Path) -> None:
    d = tmp_path / "m"
    shutil.copytree(tiny["model"], d)
    cfg = json.loads((d / ckpt.CONFIG_FILE).read_text())
    del cfg["files"][ckpt.MODEL_FILE]
    (d / ckpt.CONFIG_FILE).write_text(json.dumps(cfg))
    with pytest.raises(ckpt.CheckpointError, match=r"no checksum recorded for model\.safetensors"):
        load_trained_model(d)
