"""The user model's inputs and outputs as a user meets them: resuming with no flag retyped,
the ratings part of a dataset's identity, ratings outside MovieLens's stars, edited configs,
output paths that are files, a damaged cache, Ctrl-C during a checkpoint write, file modes."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import stat
from pathlib import Path

import numpy as np
import pytest

from divrec_rl.atomic import atomic_write, interrupt_deferred, make_directory
from divrec_rl.bert import checkpoint as ckpt
from divrec_rl.bert.prepare import same_dataset
from divrec_rl.bert.testing import shared_tiny_checkpoint, tiny_train_config
from divrec_rl.bert.train import finetune, resumed_config
from divrec_rl.commands.user_model import finetune_interrupted
from divrec_rl.data import DataError, load_dataset
from divrec_rl.errors import ScenarioError


@pytest.fixture(scope="module")
def tiny() -> dict[str, Path]:
    return shared_tiny_checkpoint()


# -- resuming --------------------------------------------------------------------------------


def test_resume_reads_the_checkpoint_settings_so_no_flag_is_retyped(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    part = tmp_path / "part"
    finetune(tiny_train_config(tiny["data"], tiny["encoder"], steps=3), part, "cpu", progress=False)
    # Only the field that changes is given, as `divrec-rl finetune --out part --resume --steps 6`.
    cfg = resumed_config(part, {"steps": 6})
    assert cfg == tiny_train_config(tiny["data"], tiny["encoder"])
    assert finetune(cfg, part, "cpu", resume=True, progress=False).step == 6
    np.testing.assert_array_equal(
        ckpt.load_tables(part).item_vectors, ckpt.load_tables(tiny["model"]).item_vectors
    )
    with pytest.raises(ckpt.CheckpointError, match=r"cannot resume with lr_heads=0\.5"):
        finetune(resumed_config(part, {"lr_heads": 0.5}), part, "cpu", resume=True, progress=False)


def test_the_ctrl_c_hint_offers_resume_only_when_a_checkpoint_exists(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    assert finetune_interrupted(argparse.Namespace(out=str(tiny["model"]))) == (
        f"resume with: divrec-rl finetune --out {tiny['model']} --resume"
    )
    assert "nothing to resume" in finetune_interrupted(argparse.Namespace(out=str(tmp_path)))


# -- what identifies a dataset -----------------------------------------------------------------


def _rewrite_ratings(src: Path, dst: Path, change) -> Path:
    shutil.copytree(src, dst)
    [inter] = dst.glob("*.inter")
    header, *rows = inter.read_text(encoding="utf-8").splitlines()
    fields = [row.split("\t") for row in rows]
    change(fields)
    inter.write_text("\n".join([header, *("\t".join(f) for f in fields)]) + "\n", encoding="utf-8")
    return dst


def test_other_ratings_of_the_same_catalogue_are_another_dataset(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    recorded = ckpt.read_config(tiny["model"])["dataset"]
    assert same_dataset(recorded, load_dataset(tiny["data"]))

    def shuffle_ratings(fields: list[list[str]]) -> None:
        ratings = [f[2] for f in fields]
        ratings = ratings[1:] + ratings[:1]
        for f, r in zip(fields, ratings, strict=True):
            f[2] = r

    other = load_dataset(_rewrite_ratings(tiny["data"], tmp_path / "shuffled", shuffle_ratings))
    assert not same_dataset(recorded, other)
    # A checkpoint written before the ratings were recorded compares by the catalogue alone.
    legacy = {k: v for k, v in recorded.items() if k != "ratings_fingerprint"}
    assert same_dataset(legacy, other)
    # A scenario on those ratings is refused, saying what differs (names and sizes do not).
    from divrec_rl.bert.testing import tiny_scenario_overrides
    from divrec_rl.resolve import resolve_scenario
    from divrec_rl.scenario import build_scenario

    overrides = tiny_scenario_overrides(tiny)
    same_name = shutil.copytree(tmp_path / "shuffled", tmp_path / "v2" / tiny["data"].name)
    overrides["catalog"] = {"path": str(same_name)}
    with pytest.raises(ScenarioError, match=r"another version of .*other item texts or ratings"):
        build_scenario(resolve_scenario("movielens-100k", overrides=overrides))


@pytest.mark.parametrize("rating", ["0", "6", "-7"])
def test_a_rating_outside_the_stars_is_refused_naming_the_line(
    tiny: dict[str, Path], tmp_path: Path, rating: str
) -> None:
    def set_third(fields: list[list[str]]) -> None:
        fields[2][2] = rating

    bad = _rewrite_ratings(tiny["data"], tmp_path / "bad", set_third)
    with pytest.raises(DataError, match=r"line 4: rating must be in \[1, 5\] \(MovieLens stars\)"):
        load_dataset(bad)


# -- checkpoint files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [("files", ["x"], "a mapping of file name to sha256"), ("dataset", None, "a mapping"),
     ("step", "6", "an integer"), ("complete", "no", "true or false")],
)  # fmt: skip
def test_an_edited_config_key_of_the_wrong_type_is_one_line(
    tiny: dict[str, Path], tmp_path: Path, key: str, value: object, allowed: str
) -> None:
    d = shutil.copytree(tiny["model"], tmp_path / "m")
    cfg = json.loads((d / ckpt.CONFIG_FILE).read_text(encoding="utf-8"))
    cfg[key] = value
    (d / ckpt.CONFIG_FILE).write_text(json.dumps(cfg), encoding="utf-8")
    with pytest.raises(ckpt.CheckpointError, match=f"key '{key}' must be {allowed}, got"):
        ckpt.read_config(d)


def test_atomic_writes_get_the_umask_mode_whatever_the_writer_creates(tmp_path: Path) -> None:
    def private(path: Path) -> None:  # as safetensors does
        path.write_bytes(b"x")
        path.chmod(0o600)

    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "w.bin", private)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "w.bin").stat().st_mode) == 0o644


def test_ctrl_c_during_a_group_of_writes_is_raised_after_the_group(tmp_path: Path) -> None:
    done: list[str] = []
    with pytest.raises(KeyboardInterrupt), interrupt_deferred():
        os.kill(os.getpid(), signal.SIGINT)
        done.append("first")
        done.append("second")
    assert done == ["first", "second"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# -- output paths and the cache ---------------------------------------------------------------


def test_an_output_path_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    with pytest.raises(DataError, match=r"^--out 'x': exists and is not a directory$"):
        make_directory(afile, "--out 'x'", DataError)
    with pytest.raises(DataError, match="cannot create the directory"):
        make_directory(afile / "sub", "--out 'x'", DataError)


def test_fetch_into_a_cache_dir_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    from divrec_rl.data import fetch_dataset

    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    with pytest.raises(DataError, match=r"--cache-dir .*: exists and is not a directory"):
        fetch_dataset("movielens-100k", cache_dir=afile)


def test_finetune_into_a_file_is_refused_before_any_work(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    with pytest.raises(ckpt.CheckpointError, match="exists and is not a directory"):
        finetune(tiny_train_config(tiny["data"], tiny["encoder"]), afile, "cpu", progress=False)


def test_a_damaged_cached_dataset_says_so_and_how_to_repair_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from divrec_rl.bert.sources import _load_data
    from divrec_rl.config import CatalogConfig

    monkeypatch.setenv("DIVREC_DATA", str(tmp_path))
    (tmp_path / "movielens-100k").mkdir()
    (tmp_path / "movielens-100k" / "ml-100k.inter").write_text("truncated", encoding="utf-8")
    with pytest.raises(
        ScenarioError, match=r"fails its checksums .* data fetch movielens-100k --force"
    ):
        _load_data(CatalogConfig(source="movielens-100k"), "movielens-100k")
