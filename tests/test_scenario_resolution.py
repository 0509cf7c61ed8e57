"""Scenario resolution answers bad input in one line (``base:`` cycles, empty files, arguments
of the wrong type), and ``validate`` accepts exactly what training accepts (it builds)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import gymnasium as gym
import pytest

import divrec_rl
from divrec_rl.errors import ScenarioError
from divrec_rl.plugins import register_scenario
from divrec_rl.resolve import resolve_scenario
from divrec_rl.scenario import check_scenario


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
    # `./a.yaml` is read beside b.yaml: the chain names the file it reached.
    assert "a.yaml → b.yaml → a.yaml" in line and "cycle" in line


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
    # The env faces check their arguments' types first (TypeError, like Python's own).
    with pytest.raises(TypeError, match=r"scenario: must be a scenario name.* got int 123"):
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
