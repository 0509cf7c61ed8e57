"""One parts registry: declared built-ins loaded lazily, entry points for every kind, decorators
writing into the same table, isolated state between tests."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from divrec_rl.errors import ScenarioError
from divrec_rl.parts import (
    AGENTS,
    BEHAVIOURS,
    BUILTIN_PARTS,
    ENTRY_POINT_GROUPS,
    REGISTRIES,
    RESPONSE_MODELS,
    SCENARIOS,
    packaged_scenario,
)
from divrec_rl.plugins import register_behaviour, register_scenario
from divrec_rl.registry import load_attr
from divrec_rl.resolve import resolve_scenario
from divrec_rl.scenario import build_scenario, check_scenario
from divrec_rl.users.behaviour import StandardBehaviour

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# -- the declared table ---------------------------------------------------------------------


def test_mf_resolves_in_a_fresh_process() -> None:
    code = (
        "import gymnasium as gym, numpy as np, divrec_rl\n"
        "env = gym.make('divrec_rl/SlateRec-v0', config={'response': {'model': 'mf'}})\n"
        "env.reset(seed=0)\n"
        "obs, r, term, trunc, info = env.step(env.action_space.sample())\n"
        "print(type(env.unwrapped.scenario.response).__name__, np.isfinite(r))\n"
    )
    res = run_python(code)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["FactorResponseModel", "True"]


def test_importing_the_scenario_layer_has_no_side_effects() -> None:
    code = (
        "import sys, divrec_rl.scenario, divrec_rl.plugins, divrec_rl.resolve\n"
        "heavy = ('divrec_rl.bert', 'divrec_rl.evaluation', 'divrec_rl.agents', 'torch')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'"
        " or any(m == h or m.startswith(h + '.') for h in heavy)))\n"
    )
    res = run_python(code)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


def test_declared_names_are_known_without_importing_them() -> None:
    code = (
        "import sys\n"
        "from divrec_rl.parts import RESPONSE_MODELS, CATALOG_SOURCES, AGENTS\n"
        "assert 'bert' in RESPONSE_MODELS and 'mf' in RESPONSE_MODELS\n"
        "assert 'movielens-1m' in CATALOG_SOURCES and 'baseline-dpp' in AGENTS\n"
        "print(sorted(m for m in sys.modules if m.startswith(('divrec_rl.bert', "
        "'divrec_rl.evaluation', 'divrec_rl.agents'))))\n"
    )
    res = run_python(code)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("kind", "name", "target"),
    [
        (kind, name, target)
        for kind, table in BUILTIN_PARTS.items()
        if kind != "scenario"
        for name, target in table.items()
    ],
)
def test_every_declared_factory_imports_and_is_callable(kind: str, name: str, target: str) -> None:
    assert callable(load_attr(target))
    assert REGISTRIES[kind].get(name) is load_attr(target)


def test_every_packaged_scenario_file_is_declared_and_resolves() -> None:
    shipped = {p.stem for p in packaged_scenario("synthetic-shop.yaml").parent.glob("*.yaml")}
    assert shipped == set(BUILTIN_PARTS["scenario"])
    for name in BUILTIN_PARTS["scenario"]:
        assert resolve_scenario(name).name == name


def test_each_kind_has_its_entry_point_group() -> None:
    assert set(ENTRY_POINT_GROUPS) == set(BUILTIN_PARTS) == set(REGISTRIES)
    assert ENTRY_POINT_GROUPS["scenario"] == "divrec_rl.scenarios"
    assert {r.group for r in REGISTRIES.values()} == set(ENTRY_POINT_GROUPS.values())


# -- entry points -----------------------------------------------------------------------------


def test_behaviour_of_an_installed_plugin_resolves_from_yaml_in_a_fresh_process(
    tmp_path: Path,
) -> None:
    write(
        tmp_path / "novel.yaml",
        """
        base: synthetic-shop
        behaviour: {model: novelty-seeker, params: {novelty_bonus: 0.5}}
        """,
    )
    code = (
        "import sys\n"
        "from divrec_rl.resolve import resolve_scenario\n"
        "from divrec_rl.scenario import build_scenario\n"
        "assert 'divrec_rl.scenarios.examples.novelty' not in sys.modules\n"
        "s = build_scenario(resolve_scenario('novel.yaml'))\n"
        "print(type(s.behaviour).__name__, s.behaviour.novelty_bonus)\n"
    )
    res = run_python(code, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["NoveltySeekingBehaviour", "0.5"]


@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module ``tmp_parts_plugin`` on ``sys.path`` with one factory of every kind."""
    write(
        tmp_path / "tmp_parts_plugin.py",
        """
        from divrec_rl.scenario import standard_behaviour

        def behaviour(config):
            return standard_behaviour(config)

        def factory(*args):
            return args

        def scenario():
            return {"behaviour": {"model": "ep-behaviour"}}
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "tmp_parts_plugin", raising=False)
    return "tmp_parts_plugin"


def fake_entry_points(
    monkeypatch: pytest.MonkeyPatch, entries: dict[str, dict[str, str]]
) -> list[str]:
    """Make ``importlib.metadata`` list ``entries`` (group → name → target); returns the groups
    asked for, in order."""
    asked: list[str] = []

    def entry_points(*, group: str) -> list[metadata.EntryPoint]:
        asked.append(group)
        return [
            metadata.EntryPoint(name=name, value=value, group=group)
            for name, value in entries.get(group, {}).items()
        ]

    monkeypatch.setattr(metadata, "entry_points", entry_points)
    for registry in REGISTRIES.values():
        registry.reset()  # forget the listing made before the patch (undone after the test)
    return asked


def test_a_yaml_file_names_an_entry_point_behaviour(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plugin_module: str
) -> None:
    fake_entry_points(
        monkeypatch, {"divrec_rl.behaviours": {"ep-behaviour": f"{plugin_module}:behaviour"}}
    )
    path = write(tmp_path / "s.yaml", "base: synthetic-shop\nbehaviour: {model: ep-behaviour}\n")
    assert BEHAVIOURS.origin("ep-behaviour") == "entry point"
    assert plugin_module not in sys.modules  # known by name, not imported
    assert check_scenario(str(path)) == []
    assert type(build_scenario(resolve_scenario(str(path))).behaviour).__name__ == (
        "StandardBehaviour"
    )


@pytest.mark.parametrize("kind", sorted(set(BUILTIN_PARTS) - {"scenario"}))
def test_every_kind_finds_entry_points(
    kind: str, monkeypatch: pytest.MonkeyPatch, plugin_module: str
) -> None:
    fake_entry_points(
        monkeypatch, {ENTRY_POINT_GROUPS[kind]: {"ep-part": f"{plugin_module}:factory"}}
    )
    registry = REGISTRIES[kind]
    assert "ep-part" in registry and "ep-part" in registry.names()
    assert registry.get("ep-part")(1, 2) == (1, 2)


def test_an_entry_point_scenario_and_agent_resolve(
    monkeypatch: pytest.MonkeyPatch, plugin_module: str
) -> None:
    from divrec_rl.agents.registry import parse_agents

    fake_entry_points(
        monkeypatch,
        {
            "divrec_rl.scenarios": {"ep-scenario": f"{plugin_module}:scenario"},
            "divrec_rl.behaviours": {"ep-behaviour": f"{plugin_module}:behaviour"},
            "divrec_rl.agents": {"ep-agent": f"{plugin_module}:factory"},
        },
    )
    config = resolve_scenario("ep-scenario")
    assert (config.name, config.behaviour.model) == ("ep-scenario", "ep-behaviour")
    assert check_scenario("ep-scenario") == []
    assert [s.kind for s in parse_agents("ep-agent,random")] == ["ep-agent", "random"]


def test_a_miss_rescans_entry_points_once(
    monkeypatch: pytest.MonkeyPatch, plugin_module: str
) -> None:
    entries: dict[str, dict[str, str]] = {}
    asked = fake_entry_points(monkeypatch, entries)
    assert "late" not in BEHAVIOURS  # listed, missed, listed again: still absent
    assert asked.count("divrec_rl.behaviours") == 2
    entries["divrec_rl.behaviours"] = {"late": f"{plugin_module}:behaviour"}  # installed now
    assert BEHAVIOURS.get("late").__name__ == "behaviour"
    n = asked.count("divrec_rl.behaviours")
    BEHAVIOURS.get("late")
    BEHAVIOURS.get("standard")
    assert asked.count("divrec_rl.behaviours") == n  # hits do not list again


def test_a_broken_entry_point_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_entry_points(monkeypatch, {"divrec_rl.behaviours": {"broken": "no_such_module_x:attr"}})
    with pytest.raises(ScenarioError) as info:
        build_scenario(resolve_scenario(overrides={"behaviour": {"model": "broken"}}))
    assert len(info.value.errors) == 1
    line = info.value.errors[0]
    assert "behaviour.model 'broken'" in line and "divrec_rl.behaviours" in line
    assert "no_such_module_x" in line


def test_a_miss_suggests_and_lists_every_source(
    monkeypatch: pytest.MonkeyPatch, plugin_module: str
) -> None:
    fake_entry_points(
        monkeypatch, {"divrec_rl.behaviours": {"ep-behaviour": f"{plugin_module}:behaviour"}}
    )
    register_behaviour("decorated", lambda cfg: None)
    with pytest.raises(ScenarioError) as info:
        BEHAVIOURS.get("standrd")
    message = str(info.value)
    assert "unknown behaviour.model 'standrd'; did you mean 'standard'?" in message
    assert "(known: decorated, ep-behaviour, quit-on-repetition, standard)" in message


# -- decorators and isolation -----------------------------------------------------------------


def test_a_decorator_registration_replaces_a_declared_part(small_overrides: dict) -> None:
    made: list[StandardBehaviour] = []

    def marker(cfg):
        made.append(StandardBehaviour(cfg.behaviour, cfg.users.history_decay))
        return made[-1]

    register_behaviour("standard", marker)
    assert BEHAVIOURS.origin("standard") == "registered"
    config = resolve_scenario(overrides=small_overrides)
    assert build_scenario(config).behaviour is made[-1]


def test_registering_a_declared_name_without_overwrite_is_refused() -> None:
    with pytest.raises(ValueError, match="agent 'random' is already registered"):
        AGENTS.register("random", lambda ctx, spec, seed: None)


def test_isolation_first_registers() -> None:
    register_behaviour("leak-check", lambda cfg: None)
    register_scenario("leak-check", lambda: {})
    RESPONSE_MODELS.register("mf", lambda catalog, cfg: None, overwrite=True)
    assert "leak-check" in BEHAVIOURS and "leak-check" in SCENARIOS


def test_isolation_then_nothing_leaked() -> None:
    # Runs after the test above (file order): the autouse fixture undid its registrations.
    assert "leak-check" not in BEHAVIOURS.names() and "leak-check" not in SCENARIOS.names()
    assert RESPONSE_MODELS.origin("mf") == "declared"


def test_isolated_parts_undoes_registrations_of_every_kind() -> None:
    from divrec_rl.parts import isolated_parts

    with isolated_parts():
        for registry in REGISTRIES.values():
            registry.register("inside-block", lambda *a: None)
        assert all("inside-block" in r for r in REGISTRIES.values())
    assert not any("inside-block" in r.names() for r in REGISTRIES.values())


def test_reset_restores_the_declared_table() -> None:
    register_behaviour("temporary", lambda cfg: None)
    BEHAVIOURS.reset()
    assert "temporary" not in BEHAVIOURS.names()
    assert set(BUILTIN_PARTS["behaviour.model"]) <= set(BEHAVIOURS.names())
