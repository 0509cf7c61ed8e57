"""One parts registry: declared built-ins loaded lazily, entry points for every kind, decorators
writing into the same table, isolated state between tests; scenario resolution errors."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import gymnasium as gym
import pytest

import divrec_rl
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

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def run_cli(*args: str, cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = None if pythonpath is None else {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run(
        [sys.executable, "-m", "divrec_rl.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
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
    assert "(known: decorated, ep-behaviour, standard)" in message


# -- decorators and isolation -----------------------------------------------------------------


def test_a_decorator_registration_replaces_a_declared_part(small_overrides: dict) -> None:
    marker = object()
    register_behaviour("standard", lambda cfg: marker)
    assert BEHAVIOURS.origin("standard") == "registered"
    config = resolve_scenario(overrides=small_overrides)
    assert build_scenario(config).behaviour is marker


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


# -- scenario resolution errors -------------------------------------------------------------


def one_error(spec: object, **kwargs: object) -> str:
    with pytest.raises(ScenarioError) as info:
        resolve_scenario(spec, **kwargs)  # type: ignore[arg-type]
    assert len(info.value.errors) == 1, info.value.errors
    return info.value.errors[0]


def test_a_file_based_on_itself_names_the_cycle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "a.yaml", "base: a.yaml\nname: a\n")
    assert "a.yaml → a.yaml" in one_error("a.yaml")


def test_two_files_naming_each_other_name_the_cycle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "a.yaml", "base: b.yaml\n")
    write(tmp_path / "b.yaml", "base: ./a.yaml\n")
    line = one_error("a.yaml")
    assert "a.yaml → b.yaml → ./a.yaml" in line and "cycle" in line


def test_a_cycle_through_a_registered_name_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "a.yaml", "base: loop\n")
    register_scenario("loop", lambda: resolve_scenario("a.yaml").model_dump())
    assert "a.yaml → loop → a.yaml" in one_error("a.yaml")
    assert "loop → a.yaml → loop" in one_error("loop")


def test_the_cli_reports_a_cycle_in_one_line(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "base: b.yaml\n")
    write(tmp_path / "b.yaml", "base: a.yaml\n")
    for args in (["scenarios", "validate", "a.yaml"], ["simulate", "--scenario", "a.yaml"]):
        res = run_cli(*args, cwd=tmp_path)
        assert res.returncode == 2, res.stderr
        assert "Traceback" not in res.stderr
        assert res.stderr.strip().splitlines() == [
            "error: scenario a.yaml → b.yaml → a.yaml: 'base:' cycle "
            "(a scenario cannot be based on itself)"
        ]


@pytest.mark.parametrize("text", ["", "# nothing but a comment\n", "{}\n", "---\n"])
def test_an_empty_scenario_file_is_an_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text(text, encoding="utf-8")
    line = one_error(str(path))
    assert line == (
        f"{path}: empty scenario file; expected a mapping of scenario fields "
        "(at least `base:` or a section)"
    )
    assert check_scenario(str(path)) == [line]
    res = run_cli("scenarios", "validate", "empty.yaml", cwd=tmp_path)
    assert res.returncode == 2 and "empty scenario file" in res.stderr
    assert "ok" not in res.stdout


@pytest.mark.parametrize("spec", [123, 1.5, None, ["synthetic-shop"], b"synthetic-shop", ""])
def test_a_scenario_of_another_type_names_the_argument(spec: object) -> None:
    line = one_error(spec)
    assert line.startswith("argument 'scenario': expected a scenario name, 'module:attr'")


def test_gym_make_with_a_numeric_scenario_names_the_argument() -> None:
    with pytest.raises(ScenarioError, match=r"argument 'scenario': .* got int 123"):
        gym.make(divrec_rl.ENV_ID, scenario=123)


def test_extra_files_and_overrides_of_the_wrong_type_name_the_argument() -> None:
    assert one_error("synthetic-shop", extra_files="x.yaml").startswith(
        "argument 'extra_files': expected a list of YAML paths"
    )
    assert one_error("synthetic-shop", overrides=[("a", 1)]).startswith(
        "argument 'overrides': expected a mapping of fields, got list"
    )


def test_a_path_object_resolves_like_its_string(tmp_path: Path) -> None:
    path = write(tmp_path / "p.yaml", "base: synthetic-shop\nreward: {diversity_weight: 0.3}\n")
    assert resolve_scenario(path) == resolve_scenario(str(path))


# -- validate accepts exactly what train accepts --------------------------------------------

PICKY = """
from divrec_rl.plugins import register_behaviour
from divrec_rl.scenario import standard_behaviour


@register_behaviour("picky")
def picky(config):
    level = config.behaviour.params.get("level", 0.5)
    if not 0.0 <= level <= 1.0:
        raise ValueError(f"picky: behaviour.params.level must be in [0, 1], got {level}")
    return standard_behaviour(config)


def scenario():
    return {"behaviour": {"model": "picky"}}
"""


@pytest.mark.parametrize(("level", "ok"), [(0.25, True), (5.0, False)])
def test_validate_runs_the_plugin_factory(tmp_path: Path, level: float, ok: bool) -> None:
    (tmp_path / "picky_plugin.py").write_text(PICKY, encoding="utf-8")
    write(
        tmp_path / "picky.yaml",
        f"""
        base: synthetic-shop
        factory: picky_plugin:scenario
        behaviour: {{params: {{level: {level}}}}}
        """,
    )
    res = run_cli("scenarios", "validate", "picky.yaml", cwd=tmp_path, pythonpath=tmp_path)
    assert "Traceback" not in res.stderr
    if ok:
        assert (res.returncode, res.stdout.strip()) == (0, "picky.yaml: ok"), res.stderr
        return
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "error: picky.yaml: field 'behaviour.model': behaviour.model 'picky' rejected the "
        "scenario: picky: behaviour.params.level must be in [0, 1], got 5.0"
    ]


def test_validate_rejects_what_a_plugin_raises_as_scenario_error(tmp_path: Path) -> None:
    write(
        tmp_path / "novel.yaml",
        """
        base: novelty-seekers
        behaviour: {params: {novelty_bonus: 99}}
        """,
    )
    res = run_cli("scenarios", "validate", "novel.yaml", cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == [
        "error: novel.yaml: field 'behaviour.params.novelty_bonus': must be a number in [0, 10], "
        "got 99"
    ]


def test_validate_reports_every_unknown_part_before_building(tmp_path: Path) -> None:
    path = write(
        tmp_path / "typos.yaml",
        """
        base: synthetic-shop
        behaviour: {model: standrd}
        response: {model: embeding}
        """,
    )
    problems = check_scenario(str(path))
    assert len(problems) == 2
    assert "field 'behaviour.model': unknown behaviour.model 'standrd'" in problems[0]
    assert "field 'response.model': unknown response.model 'embeding'" in problems[1]


def test_validate_of_movielens_without_its_files_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIVREC_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("DIVREC_MODELS", str(tmp_path / "models"))
    problems = check_scenario("movielens-100k")
    assert len(problems) == 1
    assert problems[0].startswith("movielens-100k: field '")
    assert "divrec-rl " in problems[0]  # names the command that creates what is missing
