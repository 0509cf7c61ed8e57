"""Every built-in scenario runs through the whole evaluation pipeline (the MovieLens ones on a
tiny synthetic dataset and a tiny fine-tuned checkpoint, as the real ones need downloads)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import divrec_rl
from divrec_rl.cli import main as cli_main

SYNTHETIC = [
    n
    for n in divrec_rl.scenario_names()
    if divrec_rl.resolve_scenario(n).catalog.source == "synthetic-shop"
]


MOVIELENS = [n for n in divrec_rl.scenario_names() if n.startswith("movielens-")]


def evaluate(scenario: str, out: Path, extra: list[str]) -> int:
    """``divrec-rl evaluate`` of the non-PPO agents on a few users, no cross-sim or frontier."""
    return cli_main(
        [
            "evaluate",
            "--scenario",
            scenario,
            *extra,
            "--agents",
            "baseline,greedy,popularity,random",
            "--users",
            "30",
            "--seeds",
            "1",
            "--log-users",
            "40",
            "--val-users",
            "16",
            "--cross-sim",
            "none",
            "--no-frontier",
            "--out",
            str(out),
            "--quiet",
        ]
    )


def check_results(out: Path) -> None:
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert {r["agent"] for r in rows} == {"baseline", "greedy", "popularity", "random"}
    assert all(float(r["session_length"]) > 0 for r in rows)
    assert (out / "report.md").is_file()


@pytest.mark.parametrize("scenario", SYNTHETIC)
def test_builtin_scenario_evaluates(scenario: str, tmp_path: Path) -> None:
    assert evaluate(scenario, tmp_path / "eval", []) == 0
    check_results(tmp_path / "eval")
    # generated users have no real held-out items: the offline pass is skipped with a note
    assert "precision@10" not in (tmp_path / "eval" / "results.csv").read_text()
    report = (tmp_path / "eval" / "report.md").read_text()
    assert "## Offline accuracy on real users\n\nSkipped: " in report


def test_every_builtin_scenario_is_covered() -> None:
    assert set(SYNTHETIC) | set(MOVIELENS) == set(divrec_rl.scenario_names())
    assert {"movielens-100k", "movielens-1m"} <= set(MOVIELENS)


@pytest.mark.parametrize("scenario", MOVIELENS)
def test_movielens_scenario_evaluates_on_a_tiny_checkpoint(scenario: str, tmp_path: Path) -> None:
    from divrec_rl.bert.testing import shared_tiny_checkpoint

    tiny = shared_tiny_checkpoint()
    extra = [
        "--set",
        f"catalog.path={tiny['data']}",
        "--set",
        f"response.path={tiny['model']}",
        "--set",
        "slate.size=4",
        "--set",
        "slate.n_candidates=12",
        "--set",
        "episode.max_steps=8",
    ]
    assert evaluate(scenario, tmp_path / "eval", extra) == 0
    check_results(tmp_path / "eval")
    # real users: each agent's first slate scored against their held-out items (k = slate size)
    rows = list(csv.DictReader((tmp_path / "eval" / "results.csv").open()))
    for row in rows:
        for metric in ("precision@4", "recall@4", "ndcg@4", "hr@4"):
            assert 0.0 <= float(row[metric]) <= 1.0
    report = (tmp_path / "eval" / "report.md").read_text()
    section = report.split("## Offline accuracy on real users")[1].split("\n## ")[0]
    assert "| agent | precision@4 | recall@4 | ndcg@4 | hr@4 | engagement (sim.) |" in section
    assert "Retrieval ceiling" in section and "| popularity |" in section
