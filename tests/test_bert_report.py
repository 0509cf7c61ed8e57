"""Fidelity metrics, the report on a tiny checkpoint, and the finetune / report commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from divrec_rl.bert.fidelity import expected_calibration_error, log_loss, reliability, roc_auc
from divrec_rl.bert.testing import shared_tiny_checkpoint, tiny_train_config


@pytest.fixture(scope="module")
def tiny() -> dict[str, Path]:
    return shared_tiny_checkpoint()


def test_ece_and_reliability_by_hand() -> None:
    labels = np.array([0, 1, 1, 0, 1, 1], dtype=float)
    probs = np.array([0.05, 0.05, 0.95, 0.95, 0.95, 0.95])
    _conf, acc, count = reliability(labels, probs, n_bins=10)
    assert count[0] == 2 and count[9] == 4 and count[1:9].sum() == 0
    assert acc[0] == pytest.approx(0.5) and acc[9] == pytest.approx(0.75)
    # ECE = 2/6·|0.5 − 0.05| + 4/6·|0.75 − 0.95|
    expected = 2 / 6 * 0.45 + 4 / 6 * 0.2
    assert expected_calibration_error(labels, probs, n_bins=10) == pytest.approx(expected)


def test_auc_and_logloss_by_hand() -> None:
    labels = np.array([1, 0, 1, 0], dtype=float)
    assert roc_auc(labels, np.array([0.9, 0.1, 0.4, 0.6])) == pytest.approx(0.75)
    p = np.array([0.8, 0.2, 0.5, 0.5])
    expected = -(np.log(0.8) + np.log(0.8) + 2 * np.log(0.5)) / 4
    assert log_loss(labels, p) == pytest.approx(expected)


def test_report_writes_metrics_plot_and_markdown(tiny: dict[str, Path], tmp_path: Path) -> None:
    from divrec_rl.bert.report import build_report

    out = tmp_path / "report"
    metrics = build_report(tiny["model"], out, device="cpu", progress=False)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved == metrics
    assert list(saved) == ["finetuned", "frozen", "popularity", "mf"]
    for values in saved.values():
        assert set(values) == {"auc", "logloss", "ece", "ndcg@10", "hr@10"}
        assert 0.0 <= values["auc"] <= 1.0 and values["logloss"] > 0
    png = (out / "reliability.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    text = (out / "report.md").read_text()
    assert "## Protocol" in text and "frozen" in text and "seed" in text
    details = json.loads((out / "details.json").read_text())
    assert details["seed"] == 0 and details["frozen_wall_seconds"] > 0
    assert (
        json.loads((out / "frozen-model" / "config.json").read_text())["train"]["finetune_layers"]
        == 0
    )


def test_cli_finetune_and_errors(
    tiny: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from divrec_rl.commands.user_model import add_user_model_commands

    parser = argparse.ArgumentParser()
    add_user_model_commands(parser.add_subparsers())
    cfg = tiny_train_config(tiny["data"], tiny["encoder"], steps=3)
    argv = ["finetune", "--out", str(tmp_path / "m"), "--device", "cpu", "--no-progress"]
    for key, value in cfg.to_dict().items():
        argv += ["--" + key.replace("_", "-"), str(value)]
    args = parser.parse_args(argv)
    assert args.func(args) == 0
    assert (tmp_path / "m" / "config.json").is_file()
    assert args.func(args) == 2  # the checkpoint exists and --resume was not given
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "--resume" in err[-1]

    bad = parser.parse_args(["user-model-report", "--model", str(tmp_path / "x"), "--out", "o"])
    assert bad.func(bad) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_cli_registers_the_commands() -> None:
    from divrec_rl import cli
    from divrec_rl.commands.user_model import add_user_model_commands

    assert add_user_model_commands in cli.COMMANDS
    parser = cli.build_parser()
    assert parser.parse_args(["finetune", "--out", "x"]).func.__doc__
    assert parser.parse_args(["user-model-report", "--model", "a", "--out", "b"]).func
