"""Every built-in (synthetic) scenario runs through the whole evaluation pipeline."""

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


@pytest.mark.parametrize("scenario", SYNTHETIC)
def test_builtin_scenario_evaluates(scenario: str, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    code = cli_main(
        [
            "evaluate",
            "--scenario",
            scenario,
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
    assert code == 0
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert {r["agent"] for r in rows} == {"baseline", "greedy", "popularity", "random"}
    assert all(float(r["session_length"]) > 0 for r in rows)
    assert (out / "report.md").is_file()
