"""Scenario mechanism: resolution (registry, module:attr, YAML), layering, and bad input."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import gymnasium as gym
import pytest

import divrec_rl
from divrec_rl.config import ScenarioConfig, ScenarioError, parse_scenario, schema_reference
from divrec_rl.envs import SlateRecEnv
from divrec_rl.resolve import register_scenario, resolve_scenario

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "divrec_rl.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_default_scenario_is_synthetic_shop() -> None:
    cfg = resolve_scenario()
    assert cfg.name == "synthetic-shop"
    assert cfg.catalog.n_items == 2000 and cfg.catalog.n_categories == 20


def test_decorator_registration_and_make() -> None:
    @register_scenario("test-tiny-shop")
    def tiny() -> dict:
        return {
            "catalog": {"n_items": 100, "n_categories": 4},
            "slate": {"size": 3, "n_candidates": 9},
        }

    env = gym.make(divrec_rl.ENV_ID, scenario="test-tiny-shop")
    obs, _ = env.reset(seed=0)
    assert obs["candidates"].shape == (9 * (32 + 3),)
    assert env.unwrapped.scenario.name == "test-tiny-shop"


def test_module_attr_and_yaml_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mod = tmp_path / "my_scen_mod.py"
    mod.write_text(
        textwrap.dedent(
            """
            from divrec_rl.config import ScenarioConfig
            SCENARIO = ScenarioConfig(name="from-module", slate={"size": 4})
            def factory():
                return {"reward": {"diversity_weight": 0.5}}
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert resolve_scenario("my_scen_mod:SCENARIO").slate.size == 4
    yml = tmp_path / "mine.yaml"
    yml.write_text("base: synthetic-shop\nfactory: my_scen_mod:factory\nslate:\n  size: 6\n")
    cfg = resolve_scenario(str(yml))
    # The file is its own scenario: named after the file, not after its base.
    assert (cfg.name, cfg.slate.size, cfg.reward.diversity_weight) == ("mine", 6, 0.5)
    assert cfg.catalog.n_items == 2000


def test_layer_precedence(tmp_path: Path) -> None:
    scen = tmp_path / "s.yaml"
    scen.write_text(
        "slate:\n  size: 4\nreward:\n  diversity_weight: 0.3\nepisode:\n  max_steps: 20\n"
    )
    extra = tmp_path / "extra.yaml"
    extra.write_text("reward:\n  diversity_weight: 0.6\n")
    cfg = resolve_scenario(str(scen), [extra], {"episode": {"max_steps": 7}})
    assert cfg.slate.size == 4  # scenario file over defaults
    assert cfg.reward.diversity_weight == 0.6  # extra file over scenario
    assert cfg.episode.max_steps == 7  # CLI over everything
    assert cfg.behaviour.patience.initial == ScenarioConfig().behaviour.patience.initial  # defaults


def test_unknown_name_suggests_close_names() -> None:
    with pytest.raises(ScenarioError) as exc:
        resolve_scenario("synthetic-shoop")
    assert "did you mean 'synthetic-shop'" in str(exc.value)


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"slate": {"sise": 3}}, "unknown field 'slate.sise' (allowed here: size,"),
        ({"slate": {"size": "ten"}}, "field 'slate.size': input should be a valid integer"),
        (
            {"behaviour": {"patience": {"step_cost": -1}}},
            "field 'behaviour.patience.step_cost': input should be greater than or equal to 0",
        ),
        (
            {"catalog": {"n_items": 50}, "slate": {"size": 60, "n_candidates": 60}},
            "field 'slate.size': must be ≤ catalog.n_items (50), got 60",
        ),
        (
            {"reward": {"diversity": "gini"}},
            "field 'reward.diversity': input should be 'ild_embedding' or 'ild_category'",
        ),
        ({"catalog": {"source": "nowhere"}}, "unknown catalog.source 'nowhere'"),
    ],
)
def test_bad_config_names_field(overrides: dict, needle: str) -> None:
    with pytest.raises(ScenarioError) as exc:
        SlateRecEnv(config=overrides)
    assert needle in str(exc.value)


def test_every_leaf_field_has_description_type_and_default() -> None:
    rows = schema_reference()
    assert len(rows) > 40
    for field, tname, default, desc in rows:
        assert desc and tname and default, field


def test_parse_reports_every_error_at_once() -> None:
    with pytest.raises(ScenarioError) as exc:
        parse_scenario({"slate": {"size": 0, "oops": 1}, "episode": {"max_steps": "x"}}, "f.yaml")
    assert len(exc.value.errors) == 3


BAD_INPUTS = [
    ("unknown key", ["--set", "slate.sise=3"], "unknown field 'slate.sise'"),
    ("wrong type", ["--set", "slate.size=ten"], "field 'slate.size'"),
    ("out of range", ["--set", "reward.diversity_weight=-1"], "field 'reward.diversity_weight'"),
    (
        "slate larger than catalogue",
        ["--set", "catalog.n_items=5"],
        "field 'slate.size': must be ≤ catalog.n_items (5)",
    ),
    ("unknown scenario", ["--scenario", "synthetc-shop"], "did you mean 'synthetic-shop'"),
    ("missing file", ["--scenario", "no/such.yaml"], "scenario file 'no/such.yaml' does not exist"),
]


@pytest.mark.parametrize(("case", "args", "needle"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_cli_bad_input_one_line_exit_2(case: str, args: list[str], needle: str) -> None:
    res = run_cli("simulate", "--users", "2", *args)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert needle in lines[0]


def test_cli_bad_scenario_file_reports_lines(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nslate:\n  size: 0\n  foo: 1\nreward:\n  diversity_weight: nope\n")
    res = run_cli("scenarios", "validate", str(bad))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 3
    assert f"{bad}:3: field 'slate.size'" in lines[0]
    assert f"{bad}:4: unknown field 'slate.foo'" in lines[1]
    assert f"{bad}:6: field 'reward.diversity_weight'" in lines[2]
    broken = tmp_path / "broken.yaml"
    broken.write_text("slate: [1, 2\n")
    res = run_cli("scenarios", "validate", str(broken))
    assert res.returncode == 2 and "invalid YAML" in res.stderr and "Traceback" not in res.stderr


def test_cli_simulate_and_scenarios_list() -> None:
    res = run_cli("simulate", "--users", "20", "--policy", "greedy", "--json")
    assert res.returncode == 0, res.stderr
    assert '"engagement"' in res.stdout
    res = run_cli("scenarios", "list")
    assert res.returncode == 0 and "synthetic-shop" in res.stdout


def test_scenario_reference_doc_is_current() -> None:
    from divrec_rl.commands.scenarios import schema_markdown

    doc = (ROOT / "docs" / "scenario-reference.md").read_text(encoding="utf-8")
    assert schema_markdown() in doc, "regenerate with: divrec-rl scenarios schema"
