"""Scenario files and plug-in modules as users write them: a file is named after itself, a
relative ``base:`` is read beside the file, a key given twice or a non-UTF-8 file is an error,
and every failure of a plug-in's own code is one line saying what and where."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from divrec_rl.errors import ScenarioError
from divrec_rl.resolve import resolve_scenario
from divrec_rl.scenario import check_scenario
from tests.test_scenario_resolution import run_cli  # no PYTHONPATH names the tmp dir


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def only_error(res: subprocess.CompletedProcess) -> str:
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    [line] = res.stderr.strip().splitlines()
    return line


# -- names ----------------------------------------------------------------------------------


def test_a_file_without_a_name_is_named_after_the_file_not_its_base(tmp_path: Path) -> None:
    path = write(
        tmp_path / "my-shop.yaml", "base: synthetic-shop\nreward: {diversity_weight: 0.2}\n"
    )
    assert resolve_scenario(str(path)).name == "my-shop"
    named = write(tmp_path / "other.yaml", "base: synthetic-shop\nname: mine\n")
    assert resolve_scenario(str(named)).name == "mine"
    # The built-ins keep their names, and a file based on a file takes its own stem.
    assert resolve_scenario("filter-bubble").name == "filter-bubble"
    child = write(tmp_path / "child.yaml", "base: my-shop.yaml\n")
    assert resolve_scenario(str(child)).name == "child"


# -- base: paths -----------------------------------------------------------------------------


def test_a_relative_base_is_read_beside_the_file_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path / "tree" / "parent.yaml", "base: synthetic-shop\nreward: {diversity_weight: 0.4}\n"
    )
    write(tmp_path / "tree" / "child.yaml", "base: parent.yaml\nname: child\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = resolve_scenario(str(tmp_path / "tree" / "child.yaml"))
    assert (config.name, config.reward.diversity_weight) == ("child", 0.4)
    monkeypatch.chdir(tmp_path)
    assert resolve_scenario("tree/child.yaml").reward.diversity_weight == 0.4


def test_a_base_relative_to_the_working_directory_still_resolves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path / "shared" / "parent.yaml",
        "base: synthetic-shop\nreward: {diversity_weight: 0.4}\n",
    )
    write(tmp_path / "mine" / "child.yaml", "base: shared/parent.yaml\n")
    monkeypatch.chdir(tmp_path)
    assert resolve_scenario("mine/child.yaml").reward.diversity_weight == 0.4


def test_a_missing_or_unknown_base_names_the_file_and_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "sub" / "orphan.yaml", "base: nothere.yaml\n")
    write(tmp_path / "sub" / "typo.yaml", "base: synthetic-shpo\n")
    with pytest.raises(ScenarioError) as info:
        resolve_scenario("sub/orphan.yaml")
    assert info.value.errors == [
        "sub/orphan.yaml: field 'base': scenario file 'nothere.yaml' does not exist (a relative "
        f"path is read from the directory of orphan.yaml: {Path('sub/nothere.yaml')})"
    ]
    with pytest.raises(ScenarioError, match=r"^sub/typo.yaml: field 'base': unknown scenario "
                       r"'synthetic-shpo'; did you mean 'synthetic-shop'\?"):  # fmt: skip
        resolve_scenario("sub/typo.yaml")


# -- YAML the loader would have taken silently -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (
            "base: synthetic-shop\nbehaviour:\n  boredom: {attraction_penalty: 3.0}\n"
            "behaviour:\n  patience: {no_click_cost: 0.3}\n",
            4,
            "key 'behaviour' given twice (lines 2 and 4); keep one",
        ),
        (
            "base: synthetic-shop\nslate: {size: 10, size: 3}\n",
            2,
            "key 'size' given twice (line 2)",
        ),
    ],
)
def test_a_key_given_twice_is_an_error_naming_the_line(
    tmp_path: Path, text: str, line: int, problem: str
) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text(text, encoding="utf-8")
    [error] = check_scenario(str(path))
    assert error.startswith(f"{path}:{line}: invalid YAML ({problem}")


def test_a_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"base: synthetic-shop\ndescription: caf\xe9 shoppers\n")
    assert check_scenario(str(path)) == [
        f"{path}: not UTF-8 text (byte 0xe9 at offset 37); save the file as UTF-8"
    ]


def test_a_directory_given_as_a_scenario_file_says_so(tmp_path: Path) -> None:
    (tmp_path / "dir.yaml").mkdir()
    assert check_scenario(str(tmp_path / "dir.yaml")) == [
        f"scenario file '{tmp_path / 'dir.yaml'}' is a directory, not a file"
    ]


# -- impossible settings the builders used to clamp or misreport ------------------------------


def test_more_favourite_categories_than_the_catalogue_has_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path / "fav.yaml",
        """
        base: synthetic-shop
        catalog: {n_categories: 2}
        users: {min_favourite_categories: 3, max_favourite_categories: 5}
        """,
    )
    [error] = check_scenario(str(path))
    assert error.endswith(
        "users.min_favourite_categories: must be ≤ the catalogue's categories (2), got 3"
    )
    # The maximum is capped at the catalogue's categories: its default of 3 suits 2 categories.
    write(path, "base: synthetic-shop\ncatalog: {n_categories: 2}\n")
    assert check_scenario(str(path)) == []


def test_a_catalogue_too_small_to_retrieve_a_slate_says_why(tmp_path: Path) -> None:
    path = write(
        tmp_path / "small.yaml",
        "base: synthetic-shop\ncatalog: {n_items: 40}\nslate: {size: 30, n_candidates: 35}\n",
    )
    [error] = check_scenario(str(path))
    assert "this catalogue (40 items in 20 categories) can retrieve at most 20 distinct" in error
    assert "fewer than slate.size (30)" in error


def test_a_synthetic_shop_with_fewer_than_two_items_a_category_is_refused(tmp_path: Path) -> None:
    # It used to be generated with empty categories, whose users' favourite categories then
    # held nothing to start a history from (and NaN weights in the population).
    path = write(
        tmp_path / "tiny.yaml",
        "base: synthetic-shop\ncatalog: {n_items: 15}\nslate: {size: 2, builder: query}\n",
    )
    [error] = check_scenario(str(path))
    assert error.endswith(
        "catalog.n_items: must be at least 2 × catalog.n_categories = 40 (two items per "
        "category), got 15"
    )


# -- plug-in modules -----------------------------------------------------------------------------


PLUGIN = """
from divrec_rl.plugins import register_behaviour, register_scenario
from divrec_rl.scenario import standard_behaviour


@register_behaviour("test-files-sleepy")
def sleepy(config):
    return standard_behaviour(config)


@register_behaviour("test-files-needs-param")
def needs_param(config):
    config.behaviour.params["required"]  # a KeyError when missing
    return standard_behaviour(config)


@register_behaviour("test-files-not-a-behaviour")
def not_a_behaviour(config):
    return object()


@register_scenario("test-files-shop")
def shop():
    return {"behaviour": {"model": "test-files-sleepy"}}


def broken_factory():
    return {"behaviour": {}}["missing"]
"""


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    write(tmp_path / "files_plugin.py", PLUGIN)
    write(tmp_path / "name_error_plugin.py", "x = undefined_name + 1\n")
    write(tmp_path / "syntax_error_plugin.py", "def f(:\n    pass\n")
    write(tmp_path / "sleepy.yaml", "base: synthetic-shop\nbehaviour: {model: test-files-sleepy}\n")
    return tmp_path


def test_scenario_commands_import_plugins_from_the_working_directory(plugin_dir: Path) -> None:
    res = run_cli(
        "scenarios", "validate", "--import", "files_plugin", "sleepy.yaml", cwd=plugin_dir
    )
    assert (res.returncode, res.stdout.strip()) == (0, "sleepy.yaml: ok"), res.stderr
    res = run_cli(
        "scenarios", "show", "--import", "files_plugin", "test-files-shop", cwd=plugin_dir
    )
    assert res.returncode == 0 and "model: test-files-sleepy" in res.stdout, res.stderr
    res = run_cli("scenarios", "list", "--import", "files_plugin", cwd=plugin_dir)
    assert res.returncode == 0 and "test-files-shop" in res.stdout, res.stderr
    # Without --import the part is unknown: the same one-line error as before.
    assert "unknown behaviour.model 'test-files-sleepy'" in only_error(
        run_cli("scenarios", "validate", "sleepy.yaml", cwd=plugin_dir)
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--import", "name_error_plugin"],
            "error: --import name_error_plugin: importing module 'name_error_plugin' failed "
            "(NameError: name 'undefined_name' is not defined, at {dir}/name_error_plugin.py:1)",
        ),
        (
            ["--import", "syntax_error_plugin"],
            "error: --import syntax_error_plugin: importing module 'syntax_error_plugin' failed "
            "(SyntaxError: invalid syntax, at {dir}/syntax_error_plugin.py:1)",
        ),
        (
            ["--scenario", "files_plugin:broken_factory"],
            "error: scenario 'files_plugin:broken_factory': the factory failed (KeyError: "
            "'missing', at {dir}/files_plugin.py:{broken})",
        ),
        (
            ["--import", "files_plugin", "--set", "behaviour.model=test-files-needs-param"],
            "error: field 'behaviour.model': behaviour.model 'test-files-needs-param' failed to "
            "build (KeyError: 'required', at {dir}/files_plugin.py:{needs})",
        ),
        (
            ["--import", "files_plugin", "--set", "behaviour.model=test-files-not-a-behaviour"],
            "error: field 'behaviour.model': behaviour.model 'test-files-not-a-behaviour' built "
            "a object without respond(), update(), leaves(), returns(), start_session(); "
            "subclass the contract (UserBehaviour / ResponseModel) to get them",
        ),
        (
            ["--import", ".relative"],
            "error: --import .relative: expected an absolute module name such as 'my_shop' or "
            "'pkg.mod', got '.relative'",
        ),
    ],
)
def test_a_failing_plugin_is_one_line_saying_what_and_where(
    plugin_dir: Path, args: list[str], expected: str
) -> None:
    res = run_cli("simulate", "--users", "2", *args, cwd=plugin_dir)
    lines = textwrap.dedent(PLUGIN).splitlines()
    broken = 1 + next(i for i, line in enumerate(lines) if '["missing"]' in line)
    needs = 1 + next(i for i, line in enumerate(lines) if '["required"]' in line)
    assert only_error(res) == expected.format(dir=plugin_dir, broken=broken, needs=needs)


def test_simulate_refuses_a_diversity_weight_out_of_range_in_one_line(tmp_path: Path) -> None:
    res = run_cli("simulate", "--users", "2", "--diversity-weight", "-1", cwd=tmp_path)
    assert only_error(res) == "error: --diversity-weight: must be a number in [0, 100], got -1.0"


# -- values of the wrong kind ---------------------------------------------------------------


def test_a_boolean_where_a_number_belongs_is_an_error_naming_the_field(tmp_path: Path) -> None:
    path = write(
        tmp_path / "b.yaml",
        "base: synthetic-shop\nslate: {size: true}\nreward: {diversity_weight: false}\n",
    )
    assert sorted(check_scenario(str(path))) == [
        f"{path}:2: field 'slate.size': must be a number, got true",
        f"{path}:3: field 'reward.diversity_weight': must be a number, got false",
    ]


def test_behaviour_params_refuse_a_typo_and_a_value_of_another_kind() -> None:
    from divrec_rl.plugins import behaviour_params

    def params(**given: object) -> dict:
        config = resolve_scenario("synthetic-shop", overrides={"behaviour": {"params": given}})
        return behaviour_params(config, {"bonus": 1.0, "mode": "soft", "on": True})

    assert params() == {"bonus": 1.0, "mode": "soft", "on": True}
    assert params(bonus=2, mode="hard", on=False) == {"bonus": 2.0, "mode": "hard", "on": False}
    for given, message in [
        ({"bonsu": 2}, "field 'behaviour.params.bonsu': unknown parameter of behaviour "
         "'standard' (allowed: bonus, mode, on)"),
        ({"bonus": True}, "field 'behaviour.params.bonus': must be a number, got True"),
        ({"mode": 3}, "field 'behaviour.params.mode': must be str, got 3"),
        ({"on": 1}, "field 'behaviour.params.on': must be bool, got 1"),
    ]:  # fmt: skip
        with pytest.raises(ScenarioError) as info:
            params(**given)
        assert info.value.errors == [message]


def test_an_empty_scenario_is_refused_not_taken_as_the_default(tmp_path: Path) -> None:
    res = run_cli("simulate", "--users", "2", "--scenario", "", cwd=tmp_path)
    assert "expected a scenario name" in only_error(res) and "empty string" in res.stderr


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    """`divrec-rl … | head`: no BrokenPipeError traceback, exit 141 (128 + SIGPIPE)."""
    script = (
        "import sys\n"
        "from divrec_rl.commands.common import run_handler\n"
        "def chatty(args):\n"
        "    for i in range(200_000):\n"
        "        print('line', i)\n"
        "    return 0\n"
        "sys.exit(run_handler(chatty, None))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline() == b"line 0\n"
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
