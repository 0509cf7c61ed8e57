"""Fidelity metrics, the report on a tiny checkpoint, and the finetune / report commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_auc_split_by_kind_of_negative_by_hand() -> None:
    from types import SimpleNamespace

    from divrec_rl.bert.fidelity import COLD_RATINGS, split_auc

    # Three target ratings (liked, disliked, liked), then three never-rated draws; row r is
    # item r.  History ratings per item: 19 (cold: one short of COLD_RATINGS), 3, 0, 20 (warm:
    # exactly COLD_RATINGS), 5, 40.
    assert COLD_RATINGS == 20
    split = SimpleNamespace(
        labels=np.array([1, 0, 1, 0, 0, 0], dtype=float),
        ratings=np.array([5.0, 2.0, 4.0]),
        items=np.arange(6),
        history_counts=np.array([19, 3, 0, 20, 5, 40]),
    )
    probs = np.array([0.9, 0.8, 0.3, 0.1, 0.5, 0.2])
    got = split_auc(split, probs)  # type: ignore[arg-type]
    # Liked {0.9, 0.3} vs never-rated {0.1, 0.5, 0.2}: 5 of 6 pairs ordered.
    assert got["auc_unrated"] == pytest.approx(5 / 6)
    # Liked {0.9, 0.3} vs disliked {0.8}: 1 of 2.
    assert got["auc_disliked"] == pytest.approx(0.5)
    # Cold rows 0, 1, 2, 4: liked {0.9, 0.3} vs {0.8 (disliked), 0.5 (never rated)}: 2 of 4.
    assert got["auc_cold"] == pytest.approx(0.5)
    only_liked = SimpleNamespace(**{**vars(split), "ratings": np.array([5.0])})
    assert np.isnan(split_auc(only_liked, probs)["auc_disliked"])  # type: ignore[arg-type]
    warm = SimpleNamespace(**{**vars(split), "history_counts": np.full(6, 40)})
    assert np.isnan(split_auc(warm, probs)["auc_cold"])  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    n_rated=st.integers(1, 8),
    n_drawn=st.integers(0, 8),
)
def test_the_auc_splits_are_aucs_of_their_rows_and_rank_only(
    data: st.DataObject, n_rated: int, n_drawn: int
) -> None:
    from types import SimpleNamespace

    from divrec_rl.bert.fidelity import COLD_RATINGS, split_auc

    n = n_rated + n_drawn
    ratings = np.array(data.draw(st.lists(st.integers(1, 5), min_size=n_rated, max_size=n_rated)))
    labels = np.concatenate([(ratings >= 4).astype(float), np.zeros(n_drawn)])
    counts = data.draw(st.lists(st.integers(0, 2 * COLD_RATINGS), min_size=n, max_size=n))
    split = SimpleNamespace(
        labels=labels, ratings=ratings, items=np.arange(n), history_counts=np.array(counts)
    )
    # Hundredths: ties are exact and stay ties under the transform below, distinct values stay
    # distinct.
    probs = np.array(data.draw(st.lists(st.integers(1, 99), min_size=n, max_size=n))) / 100.0
    got = split_auc(split, probs)  # type: ignore[arg-type]
    # Each split is the plain AUC of its own rows (NaN when a side is empty) ...
    rows = np.array(counts) < COLD_RATINGS
    if 0 < labels[rows].sum() < rows.sum():
        assert got["auc_cold"] == pytest.approx(roc_auc(labels[rows], probs[rows]))
    else:
        assert np.isnan(got["auc_cold"])
    # ... and depends on the order of the probabilities only.
    moved = split_auc(split, probs**3 / 7.0)  # type: ignore[arg-type]
    for key, value in got.items():
        assert (np.isnan(value) and np.isnan(moved[key])) or moved[key] == pytest.approx(value)


def test_report_writes_metrics_plot_and_markdown(tiny: dict[str, Path], tmp_path: Path) -> None:
    from divrec_rl.bert.ablations import ROWS
    from divrec_rl.bert.report import CONSUMPTION, METRICS, build_report

    out = tmp_path / "report"
    metrics = build_report(tiny["model"], out, device="cpu", seeds=(0, 1), progress=False)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved == metrics
    assert list(saved["test"]) == list(ROWS) == list(saved["consumption"])
    for values in saved["test"].values():
        assert set(values["mean"]) == set(values["std"]) == set(METRICS)
        assert values["seeds"] == [0, 1]
        assert 0.0 <= values["mean"]["auc"] <= 1.0 and values["mean"]["logloss"] > 0
        assert all(v >= 0 for v in values["std"].values())
    for values in saved["consumption"].values():
        assert set(values["mean"]) == set(CONSUMPTION)
        assert 0.0 <= values["mean"]["genre_tv"] <= 1.0
    png = (out / "reliability.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    text = (out / "report.md").read_text()
    assert "## Protocol" in text and "recall@20" in text and "± " in text
    details = json.loads((out / "details.json").read_text())
    assert details["seeds"] == [0, 1] and len(details["wall_seconds"]["frozen"]) == 2
    # The checkpoint serves its own seed; every other (row, seed) is a twin with that recipe.
    assert not (out / "twins" / "hybrid-seed0").exists()
    twin = json.loads((out / "twins" / "id-seed1" / "config.json").read_text())["train"]
    assert twin["item_tower"] == "id" and twin["finetune_layers"] == 0 and twin["seed"] == 1
    frozen = json.loads((out / "twins" / "frozen-seed0" / "config.json").read_text())["train"]
    assert frozen["finetune_layers"] == 0 and frozen["item_tower"] == "hybrid"
    # Twins keep the checkpoint's fit period (the default refit on train + validation), and the
    # report says that their validation figures are in-sample.
    assert twin["fit_period"] == frozen["fit_period"] == "train+val"
    assert "`train+val` period" in text and "validation figures are in-sample" in text


def test_report_rows_and_seeds_are_parsed_with_one_line_errors() -> None:
    from divrec_rl.bert.ablations import parse_rows, parse_seeds

    assert parse_rows("mf,id") == ("id", "mf")
    assert parse_seeds("2,0,2") == (2, 0)
    for bad in ("x", ""):
        with pytest.raises(ValueError, match="--rows"):
            parse_rows(bad)
    for bad in ("a", "-1", ""):
        with pytest.raises(ValueError, match="--seeds"):
            parse_seeds(bad)


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
        flag = key.replace("_", "-")
        if isinstance(value, bool):  # a switch: --flag / --no-flag
            argv.append(f"--{flag}" if value else f"--no-{flag}")
        elif value is not None:
            argv += [f"--{flag}", str(value)]
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


def test_report_of_a_frozen_encoder_checkpoint_has_no_duplicate_frozen_row(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    from divrec_rl.bert.report import build_report
    from divrec_rl.bert.train import finetune

    cfg = tiny_train_config(tiny["data"], tiny["encoder"], finetune_layers=0)
    finetune(cfg, tmp_path / "m", device="cpu", progress=False)
    metrics = build_report(
        tmp_path / "m", tmp_path / "r", seeds=(0,), rows=("hybrid", "frozen", "popularity"),
        device="cpu", progress=False,
    )  # fmt: skip
    assert list(metrics["test"]) == ["hybrid", "popularity"]
    assert not (tmp_path / "r" / "twins").exists()  # the checkpoint serves its own seed


def test_a_splits_history_counts_are_its_history_ratings_per_item(tiny: dict[str, Path]) -> None:
    from divrec_rl.bert.fidelity import make_eval_split
    from divrec_rl.bert.prepare import prepare_for
    from divrec_rl.data import load_dataset

    cfg = tiny_train_config(tiny["data"], tiny["encoder"])
    prep = prepare_for(load_dataset(tiny["data"]), cfg)
    for period in ("val", "test"):
        split = make_eval_split(prep, period, 4, 0)
        want = np.bincount(split.history_frame["item_id"], minlength=prep.n_items)
        np.testing.assert_array_equal(split.history_counts, want)
        assert split.history_counts is split.history_counts  # computed once
