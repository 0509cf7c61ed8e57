"""experiments/fair/fatigue_observability.py: the R² it prints, and the identity behind its last
rows (fatigue is a linear function of observed events when sessions do not recover it)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from divrec_rl.resolve import resolve_scenario
from divrec_rl.scenario import build_scenario

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def script() -> ModuleType:
    path = ROOT / "experiments" / "fair" / "fatigue_observability.py"
    spec = importlib.util.spec_from_file_location("fatigue_observability", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_r_squared_against_a_hand_computed_fit(script: ModuleType) -> None:
    # x = 0, 1, 0, 1 and y = 0, 1, 1, 2: ŷ = 0.5 + x, residuals ±0.5, SSR 1, SST 2 → R² = 0.5.
    x = np.array([0.0, 1.0, 0.0, 1.0])
    assert script.r_squared(np.array([0.0, 1.0, 1.0, 2.0]), [x]) == pytest.approx(0.5)
    assert script.r_squared(3.0 * x - 2.0, [x]) == pytest.approx(1.0)


def test_fatigue_is_exactly_exposure_plus_timed_consumption_without_return_visits(
    script: ModuleType,
) -> None:
    data = script.collect("synthetic-shop", 20, seed=3)
    n_cat = build_scenario(resolve_scenario("synthetic-shop")).catalog.n_categories
    assert len(data["fatigue"]) % n_cat == 0 and len(data["fatigue"]) > 20 * n_cat
    assert all(len(v) == len(data["fatigue"]) for v in data.values())
    assert np.all(data["timed_consumption"][: 20 * n_cat] == 0)  # first step: nothing consumed
    fit = {label: script.r_squared(data["fatigue"], [data[n] for n in names])
           for label, names in script.REGRESSIONS.items()}  # fmt: skip
    assert fit["exposure + timed consumption"] > 0.99999
    # What the observation carries alone does not give it exactly.
    assert fit["exposure + consumption average"] < 0.999
    assert fit["exposure"] < fit["exposure + consumption average"]


def test_the_identity_needs_the_fatigue_to_decay_at_the_observation_rate(
    script: ModuleType,
) -> None:
    # synthetic-shop's fatigue decays at 0.85, its observed averages at 0.85; at 0.9 the sum
    # decayed at the observation's rate no longer reproduces the fatigue (and the override
    # reaches the simulator).
    data = script.collect(
        "synthetic-shop", 20, seed=3, overrides={"behaviour": {"boredom": {"decay": 0.9}}}
    )
    names = script.REGRESSIONS["exposure + timed consumption"]
    assert script.r_squared(data["fatigue"], [data[n] for n in names]) < 0.9999


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--users", "0"], "error: --users: must be ≥ 1, got 0"),
        (["--seed", "-1"], "error: --seed: must be ≥ 0, got -1"),
        (["--scenario", "nosuch"], "error: unknown scenario 'nosuch'"),
        (["--set", "foo"], "error: --set 'foo': expected KEY=VALUE"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(script: ModuleType, capsys, argv, said) -> None:
    with pytest.raises(SystemExit) as exc:
        script.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1 and err[0].startswith(said), err
