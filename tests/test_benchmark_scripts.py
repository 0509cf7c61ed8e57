"""The scaling, fine-tuning-epoch and GPU-check benchmark scripts run and say what they measured
(no timings asserted)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def test_scaling_reports_every_point_and_writes_the_plot(tmp_path: Path) -> None:
    out = tmp_path / "plot" / "scaling.png"
    cmd = [
        sys.executable, str(ROOT / "benchmarks" / "scaling.py"),
        "--users", "1", "8", "--items", "2000", "--seconds", "0", "--min-steps", "2",
        "--out", str(out), "--json",
    ]  # fmt: skip
    rows = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    assert [(r["n_users"], r["n_items"]) for r in rows] == [(1, 2000), (8, 2000)]
    assert all(r["steps"] >= 2 and r["user_steps_per_s"] > 0 for r in rows)
    assert all(r["peak_rss_mb"] >= r["core_mb"] >= 0 for r in rows)
    # The baseline comes after a warm-up env: the ≈ 125 MB of numba, LLVM and SciPy that making
    # and stepping the env loads is not counted as one user's data (it was ≈ 130 of 180 MB).
    assert all(r["core_mb"] < r["peak_rss_mb"] / 3 for r in rows)
    assert out.read_bytes().startswith(b"\x89PNG")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present: the check would run")
def test_gpu_check_says_there_is_no_gpu_and_measures_nothing() -> None:
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
    )
    assert done.returncode == 3
    assert "no CUDA GPU" in done.stderr
    assert done.stdout == ""


def _finetune_epoch(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``benchmarks/finetune_epoch.py`` on the CPU with a tiny 2-layer BERT and ``args``."""
    from divrec_rl.bert.testing import write_tiny_encoder

    encoder = write_tiny_encoder(tmp_path / "encoder")
    cmd = [
        sys.executable, str(ROOT / "benchmarks" / "finetune_epoch.py"), "--device", "cpu",
        "--base-model", str(encoder), *args,
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True)


@pytest.mark.parametrize(("flag", "expected"), [([], "top 2 of 2"), (["1"], "top 1 of 2")])
def test_finetune_epoch_fine_tunes_every_encoder_layer_unless_told(
    tmp_path: Path, flag: list[str], expected: str
) -> None:
    # A data set's recipe fine-tunes one layer or none (MovieLens-1M's encoder is frozen); the
    # benchmark times BERT training all the same: all layers by default, else the count asked.
    done = _finetune_epoch(
        tmp_path, "--users", "40", "--items", "30", "--ratings", "12", "--batch-items", "8",
        "--ratings-per-item", "4", "--max-steps", "2",
        *(["--finetune-layers", *flag] if flag else []),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"{expected} layers fine-tuned" in out
    assert "steps: 2 of 32 ratings" in out
    assert "on cpu (cpu), 1 torch thread(s)" in out  # finetune's default, printed
    # What the epoch is: 0.8 × 480 ratings / 32 = 12 steps, capped by --max-steps.
    assert "epoch: ceil(0.8 × 480 ratings / 32) = 12 steps" in out
    assert "from the train+val examples; capped at 2 by --max-steps" in out


def test_finetune_epoch_refuses_more_layers_than_the_encoder_has(tmp_path: Path) -> None:
    done = _finetune_epoch(tmp_path, "--finetune-layers", "3")
    assert done.returncode == 2
    assert "--finetune-layers: must be 0 to 2 (the encoder's layers), got 3" in done.stderr


def _methods(phases: dict) -> dict:
    return {(cls, attr): cls.__dict__[attr] for pairs in phases.values() for cls, attr in pairs}


def test_train_fps_splits_the_training_time_into_phases_and_unwraps_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # its `_cli` import, as when run
    spec = importlib.util.spec_from_file_location("train_fps", ROOT / "benchmarks" / "train_fps.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    before = _methods(bench.PHASES)
    row = bench.measure("plackett-luce", 2000, 512, 4, tmp_path, "cpu", 1)  # 2 rollouts
    assert row["steps"] == 512 and row["update_threads"] == 1
    assert row["steady_fps"] is None  # no rollout after the first update's
    shares = [float(row[f"{name}_share"]) for name in bench.SHARES]
    assert all(s > 0 for s in shares)  # every phase ran, the (dict) rollout buffer's adds too
    assert sum(shares) < 1  # disjoint parts of learn()
    assert _methods(bench.PHASES) == before


def test_step_profile_times_every_part_of_a_step() -> None:
    cmd = [
        sys.executable, str(ROOT / "benchmarks" / "step_profile.py"),
        "--calls", "20", "--repeats", "1", "--json",
    ]  # fmt: skip
    us = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    assert {"gymnasium.make step", "reset", "respond (choice)", "next candidates"} <= set(us)
    assert all(v > 0 for v in us.values())
