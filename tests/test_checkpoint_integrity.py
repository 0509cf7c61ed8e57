"""Checkpoint integrity: every weight file of a user-model checkpoint is checked against its
recorded sha256 on load, over all of its bytes (corruption far past the first MiB included)."""

from __future__ import annotations

import hashlib
import json
import re
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
# listed here (the *_has_a_loader_* and round-trip tests fail otherwise), which makes the
# corruption tests cover it.
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


def test_trained_checkpoint_has_a_loader_for_every_recorded_file(tiny: dict[str, Path]) -> None:
    cfg = ckpt.read_config(tiny["model"])
    assert set(cfg["files"]) == set(LOADERS)
    weight_files = {
        p.name for p in tiny["model"].iterdir() if p.is_file() and p.name != ckpt.CONFIG_FILE
    }
    assert weight_files <= set(cfg["files"]), "every weight file needs a recorded checksum"


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_trained_checkpoint_with_a_flipped_byte_fails_its_load(
    tiny: dict[str, Path], tmp_path: Path, name: str
) -> None:
    d = tmp_path / "m"
    shutil.copytree(tiny["model"], d)
    LOADERS[name](d)  # loads as written
    _flip(d / name, -5)
    with pytest.raises(ckpt.CheckpointError, match=f"{name}: checksum mismatch"):
        LOADERS[name](d)


def test_trained_model_with_a_flipped_model_byte_fails_to_load(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    d = tmp_path / "m"
    shutil.copytree(tiny["model"], d)
    _flip(d / ckpt.MODEL_FILE, -5)
    with pytest.raises(ckpt.CheckpointError, match=r"model\.safetensors: checksum mismatch"):
        load_trained_model(d)


def test_trained_model_without_a_model_checksum_is_refused(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    d = tmp_path / "m"
    shutil.copytree(tiny["model"], d)
    cfg = json.loads((d / ckpt.CONFIG_FILE).read_text())
    del cfg["files"][ckpt.MODEL_FILE]
    (d / ckpt.CONFIG_FILE).write_text(json.dumps(cfg))
    with pytest.raises(ckpt.CheckpointError, match=r"no checksum recorded for model\.safetensors"):
        load_trained_model(d)


# ---------------------------------------------------------------------------------------------
# a small checkpoint written directly (no training): every load path and its whole message
# ---------------------------------------------------------------------------------------------


def _write_small(d: Path, complete: bool = True) -> dict[str, np.ndarray]:
    import torch

    tables = _big_tables(n_items=5, n_users=3, dim=2)
    config = {
        "train": {"steps": 4},
        "encoder": {},
        "dataset": {"n_items": 5, "n_users": 3},
        "step": 4 if complete else 2,
        "complete": complete,
    }
    state = {"w": torch.ones(3)}
    ckpt.write_checkpoint(d, config, tables, state, {"optimizer": {"lr": torch.tensor(0.5)}})
    return tables


def test_small_checkpoint_round_trip(tmp_path: Path) -> None:
    tables = _write_small(tmp_path)
    cfg = ckpt.read_config(tmp_path)
    assert (cfg["format"], cfg["version"]) == (ckpt.FORMAT, ckpt.VERSION)
    assert set(cfg["files"]) == set(LOADERS)
    for name, digest in cfg["files"].items():
        assert digest == hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
    loaded = ckpt.load_tables(tmp_path)
    for name in ckpt.TABLE_NAMES:
        np.testing.assert_array_equal(getattr(loaded, name), tables[name])
        assert getattr(loaded, name).flags["C_CONTIGUOUS"]
    assert (loaded.n_items, loaded.n_users, loaded.dim) == (5, 3, 2)
    assert ckpt.load_state_dict(tmp_path, cfg)["w"].tolist() == [1.0, 1.0, 1.0]
    assert ckpt.load_optimizer_state(tmp_path, cfg)["optimizer"]["lr"].item() == 0.5


def test_tables_only_checkpoint_records_only_the_tables(tmp_path: Path) -> None:
    tables = _big_tables(n_items=5, n_users=3, dim=2)
    config = {"train": {}, "encoder": {}, "dataset": {"n_items": 5, "n_users": 3}}
    ckpt.write_checkpoint(tmp_path, {**config, "step": 1, "complete": True}, tables, None, None)
    assert set(ckpt.read_config(tmp_path)["files"]) == {ckpt.TABLES_FILE}
    assert not (tmp_path / ckpt.MODEL_FILE).exists()


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_a_flipped_byte_in_any_weight_file_fails_its_load(tmp_path: Path, name: str) -> None:
    _write_small(tmp_path)
    LOADERS[name](tmp_path)
    _flip(tmp_path / name, -3)
    with pytest.raises(ckpt.CheckpointError) as err:
        LOADERS[name](tmp_path)
    assert str(err.value).startswith(f"{tmp_path / name}: checksum mismatch (config.json says ")


def test_logits_are_the_two_tower_sums() -> None:
    t = ckpt.UserModelTables(**_big_tables(n_items=5, n_users=3, dim=2))
    theta = np.array([[0.5, -1.0], [2.0, 0.25]])
    rows, items = np.array([0, 3]), np.array([4, 1, 2])
    attr, sat = t.logits(theta, rows, items)
    assert attr.shape == sat.shape == (2, 3) and attr.dtype == np.float64
    for a, (th, u) in enumerate(zip(theta, rows, strict=True)):
        for b, i in enumerate(items):
            e = t.item_vectors[i].astype(np.float64)
            want_a = th @ t.item_attr[i] + t.user_attr[u] @ e + t.attr_bias[i]
            want_s = th @ t.item_sat[i] + t.user_sat[u] @ e + t.sat_bias[i]
            assert attr[a, b] == pytest.approx(want_a, rel=1e-6)
            assert sat[a, b] == pytest.approx(want_s, rel=1e-6)
    pa, ps = t.pair_logits(theta, rows, items[:2])
    np.testing.assert_allclose(pa, np.diag(attr[:, :2]), rtol=1e-6)
    np.testing.assert_allclose(ps, np.diag(sat[:, :2]), rtol=1e-6)


def test_recency_terms_add_rho_times_their_item_sides() -> None:
    base = _big_tables(n_items=5, n_users=3, dim=2)
    gen = np.random.default_rng(7)
    recent = {
        "item_attr_recent": gen.normal(size=(5, 2)).astype(np.float32),
        "item_sat_recent": gen.normal(size=(5, 2)).astype(np.float32),
    }
    t = ckpt.UserModelTables(**base, **recent)
    assert t.uses_recency and not ckpt.UserModelTables(**base).uses_recency
    theta = np.array([[0.5, -1.0], [2.0, 0.25]])
    rho = np.array([[1.5, 0.5], [-0.75, 2.0]])
    rows, items = np.array([0, 3]), np.array([4, 1, 2])
    attr, sat = t.logits(theta, rows, items, rho)
    plain_a, plain_s = t.logits(theta, rows, items)
    for a in range(2):
        for b, i in enumerate(items):
            want_a = plain_a[a, b] + rho[a] @ recent["item_attr_recent"][i]
            want_s = plain_s[a, b] + rho[a] @ recent["item_sat_recent"][i]
            assert attr[a, b] == pytest.approx(want_a, rel=1e-6)
            assert sat[a, b] == pytest.approx(want_s, rel=1e-6)
    pa, ps = t.pair_logits(theta, rows, items[:2], rho)
    np.testing.assert_allclose(pa, np.diag(attr[:, :2]), rtol=1e-6)
    np.testing.assert_allclose(ps, np.diag(sat[:, :2]), rtol=1e-6)


def _edit_config(d: Path, **changes: Any) -> None:
    cfg = json.loads((d / ckpt.CONFIG_FILE).read_text())
    for key, value in changes.items():
        if value is None:
            del cfg[key]
        else:
            cfg[key] = value
    (d / ckpt.CONFIG_FILE).write_text(json.dumps(cfg))


def test_config_errors_name_the_file_and_the_problem(tmp_path: Path) -> None:
    _write_small(tmp_path)
    path = tmp_path / ckpt.CONFIG_FILE
    _edit_config(tmp_path, version=3)
    with pytest.raises(ckpt.CheckpointError) as err:
        ckpt.read_config(tmp_path)
    assert str(err.value) == (
        f"{path}: checkpoint version 3 is not supported (this divrec-rl reads versions 1, 2); "
        "re-train it with `divrec-rl finetune --dataset DATASET --out DIR`"
    )
    for key in ("train", "encoder", "dataset", "files", "step", "complete"):
        _write_small(tmp_path)
        _edit_config(tmp_path, **{key: None})
        with pytest.raises(ckpt.CheckpointError) as err:
            ckpt.read_config(tmp_path)
        assert str(err.value) == f"{path}: missing key '{key}'"
    path.write_text("[1, 2]")
    with pytest.raises(ckpt.CheckpointError) as err:
        ckpt.read_config(tmp_path)
    assert (
        str(err.value) == f"{path}: not a divrec-rl user-model config (format != '{ckpt.FORMAT}')"
    )
    path.unlink()
    with pytest.raises(ckpt.CheckpointError) as err:
        ckpt.read_config(tmp_path)
    assert str(err.value) == f"{tmp_path}: no user-model checkpoint here (config.json not found)"


@pytest.mark.parametrize(
    ("key", "value", "said"),
    [
        ("files", {"tables.safetensors": 5}, "key 'files.tables.safetensors' must be a sha256"),
        ("files", {"tables.safetensors": "abc"}, "(64 hex digits), got 'abc'"),
        ("dataset", {"n_items": "40", "n_users": 3}, "key 'dataset.n_items' must be an integer"),
    ],
)
def test_edited_nested_config_values_are_named(
    tmp_path: Path, key: str, value: Any, said: str
) -> None:
    # An int digest was a TypeError reported against catalog.source; a string item count gave
    # "tables hold 40 items … but config.json describes 40".
    _write_small(tmp_path)
    _edit_config(tmp_path, **{key: value})
    with pytest.raises(ckpt.CheckpointError, match=re.escape(said)):
        ckpt.read_config(tmp_path)


def test_incomplete_and_mismatched_checkpoints_are_refused(tmp_path: Path) -> None:
    _write_small(tmp_path, complete=False)
    with pytest.raises(ckpt.CheckpointError) as err:
        ckpt.load_tables(tmp_path)
    assert str(err.value) == (
        f"{tmp_path}: training stopped at step 2 of 4; finish it with "
        f"`divrec-rl finetune --out {tmp_path} --resume`"
    )
    assert ckpt.load_tables(tmp_path, require_complete=False).n_items == 5
    _write_small(tmp_path)
    _edit_config(tmp_path, dataset={"n_items": 5, "n_users": 4})
    with pytest.raises(ckpt.CheckpointError) as err:
        ckpt.load_tables(tmp_path)
    assert str(err.value) == (
        f"{tmp_path / ckpt.TABLES_FILE}: tables hold 5 items / 3 users but config.json "
        "describes 5 / 4"
    )
    _edit_config(tmp_path, dataset={"n_items": 6, "n_users": 3})
    with pytest.raises(ckpt.CheckpointError, match="tables hold 5 items / 3 users"):
        ckpt.load_tables(tmp_path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.pop("sat_bias"), "where: missing table(s) sat_bias"),
        (
            lambda t: t.update(user_sat=np.zeros((3, 2), np.float32)),
            "where: table 'user_sat' has shape (3, 2), expected (4, 2) (M=5 items, d=2, U=3 users)",
        ),
        (
            lambda t: t.update(item_attr=np.zeros((5, 3), np.float32)),
            "where: table 'item_attr' has shape (5, 3), expected (5, 2) "
            "(M=5 items, d=2, U=3 users)",
        ),
        (
            lambda t: t["attr_bias"].__setitem__(2, np.inf),
            "where: table 'attr_bias' holds non-finite values",
        ),
    ],
)
def test_check_tables(change: Callable[[dict], Any], message: str) -> None:
    tables = _big_tables(n_items=5, n_users=3, dim=2)
    ckpt.check_tables(tables, "where")
    change(tables)
    with pytest.raises(ckpt.CheckpointError) as err:
        ckpt.check_tables(tables, "where")
    assert str(err.value) == message


def test_unreadable_weight_files_are_clear_errors(tmp_path: Path) -> None:
    _write_small(tmp_path)
    for name in LOADERS:
        (tmp_path / name).write_bytes(b"garbage")
        cfg = json.loads((tmp_path / ckpt.CONFIG_FILE).read_text())
        cfg["files"][name] = ckpt.sha256_file(tmp_path / name)
        (tmp_path / ckpt.CONFIG_FILE).write_text(json.dumps(cfg))
        with pytest.raises(ckpt.CheckpointError) as err:
            LOADERS[name](tmp_path)
        assert str(err.value).startswith(f"{tmp_path / name}: ")
        assert "not a readable safetensors file" in str(err.value) or "weights-only" in str(
            err.value
        )
