"""The benchmark scripts refuse bad flags and output paths before measuring anything, report the
project's errors as one ``error:`` line, and compute the figures their docstrings describe
(argument parsing and small pure functions; no timing is asserted)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from divrec_rl.errors import ScenarioError

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"


def load(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``benchmarks/<name>.py`` as a fresh module, with ``benchmarks/`` on ``sys.path`` for
    its ``_cli`` import (as ``python benchmarks/<name>.py`` has it)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def refused(module: ModuleType, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The ``error:`` line the script's parser prints for ``argv`` (exit code 2 checked)."""
    with pytest.raises(SystemExit) as exc:
        module.parser().parse_args(argv)
    assert exc.value.code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(lines) == 1
    return lines[0]


# --------------------------------------------------------------------------------------------
# The shared checks


def test_cli_checks_say_what_is_allowed_and_what_was_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cli = load("_cli", monkeypatch)
    cases = [
        (cli.positive_int, "0", "must be an integer ≥ 1, got '0'"),
        (cli.positive_int, "2.5", "must be an integer ≥ 1, got '2.5'"),
        (cli.nonnegative_int, "-1", "must be an integer ≥ 0, got '-1'"),
        (cli.at_least(2), "1", "must be an integer ≥ 2, got '1'"),
        (cli.positive_float, "0", "must be a finite number > 0, got '0'"),
        (cli.positive_float, "nan", "must be a finite number > 0, got 'nan'"),
        (cli.nonnegative_float, "-1", "must be a finite number ≥ 0, got '-1'"),
        (cli.nonnegative_float, "inf", "must be a finite number ≥ 0, got 'inf'"),
    ]
    for check, text, message in cases:
        with pytest.raises(Exception, match=message):
            check(text)
    assert cli.positive_int("3") == 3 and cli.nonnegative_float("0") == 0.0


def test_run_prints_a_project_error_as_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = load("_cli", monkeypatch)

    def bad() -> None:
        raise ScenarioError(["unknown scenario 'bogus'", "field 'x':\n  not allowed"])

    for main, code in ((bad, 2), (lambda: 1, 1), (lambda: None, 0)):
        with pytest.raises(SystemExit) as exc:
            cli.run(main)
        assert exc.value.code == code
    assert capsys.readouterr().err == (
        "error: unknown scenario 'bogus'; field 'x': not allowed\n"
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Counts, durations and names refused at parse time, in every script


@pytest.mark.parametrize(
    ("script", "argv", "message"),
    [
        ("env_throughput", ["--repeats", "0"], "--repeats: must be an integer ≥ 1, got '0'"),
        ("env_throughput", ["--seconds", "0"], "--seconds: must be a finite number > 0"),
        ("env_throughput", ["--seconds", "-1"], "--seconds: must be a finite number > 0"),
        ("env_throughput", ["--seconds", "nan"], "--seconds: must be a finite number > 0"),
        ("step_profile", ["--repeats", "0"], "--repeats: must be an integer ≥ 1"),
        ("step_profile", ["--calls", "-5"], "--calls: must be an integer ≥ 1, got '-5'"),
        ("step_profile", ["--calls", "0"], "--calls: must be an integer ≥ 1"),
        ("scaling", ["--min-steps", "0"], "--min-steps: must be an integer ≥ 1"),
        ("scaling", ["--seconds", "nan"], "--seconds: must be a finite number ≥ 0"),
        ("scaling", ["--users", "0"], "--users: must be an integer ≥ 1"),
        ("scaling", ["--repeats", "0"], "--repeats: must be an integer ≥ 1"),
        ("train_fps", ["--repeats", "0"], "--repeats: must be an integer ≥ 1"),
        ("train_fps", ["--total-timesteps", "-5"], "--total-timesteps: must be an integer ≥ 1"),
        ("train_fps", ["--n-envs", "0"], "--n-envs: must be an integer ≥ 1"),
        ("response_model_throughput", ["--repeats", "0"], "--repeats: must be an integer ≥ 1"),
        ("response_model_throughput", ["--steps", "0"], "--steps: must be an integer ≥ 1"),
        ("eval_speed", ["--repeats", "0"], "--repeats: must be an integer ≥ 1"),
        ("eval_speed", ["--users", "0"], "--users: must be an integer ≥ 2, got '0'"),
        ("eval_speed", ["--ppo", "/nonexistent"], "--ppo: must exist, got '/nonexistent'"),
        ("policy_step_cost", ["--repeats", "0"], "--repeats: must be an integer ≥ 1"),
        ("policy_step_cost", ["--batch-size", "0"], "--batch-size: must be an integer ≥ 1"),
        ("plugin_overhead", ["--seconds", "0"], "--seconds: must be a finite number > 0"),
        ("finetune_epoch", ["--batch-items", "0"], "--batch-items: must be an integer ≥ 1"),
        ("finetune_epoch", ["--users", "0"], "--users: must be an integer ≥ 1"),
        ("finetune_epoch", ["--items", "0"], "--items: must be an integer ≥ 1"),
        ("finetune_epoch", ["--ratings", "0"], "--ratings: must be an integer ≥ 1"),
        ("finetune_epoch", ["--max-steps", "-1"], "--max-steps: must be an integer ≥ 0"),
        ("finetune_epoch", ["--threads", "-1"], "--threads: must be an integer ≥ 0"),
        ("finetune_epoch", ["--base-model", "/nonexistent"], "'/nonexistent' (does not exist)"),
        ("finetune_epoch", ["--device", "cuda:1"], "--device: invalid choice: 'cuda:1'"),
        ("finetune_time", ["--threads", "-1"], "--threads: must be an integer ≥ 0, got '-1'"),
        ("finetune_time", ["--device", "gpu"], "--device: invalid choice: 'gpu'"),
        ("sweep_scaling", ["--train-repeats", "0"], "--train-repeats: must be an integer ≥ 1"),
        ("mutation_score", ["--max-children", "-3"], "--max-children: must be an integer ≥ 1"),
        ("learning_curve", ["--eval-users", "0"], "--eval-users: must be an integer ≥ 1"),
    ],
)
def test_bad_counts_are_refused_before_any_work(
    script: str,
    argv: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    line = refused(load(script, monkeypatch), argv, capsys)
    assert ": error: argument " in line and message in line


def test_finetune_epoch_offers_the_devices_it_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    from divrec_rl.training.device import DEVICES

    bench = load("finetune_epoch", monkeypatch)
    device = next(a for a in bench.parser()._actions if "--device" in a.option_strings)
    assert tuple(device.choices) == DEVICES and "cuda:N" not in device.help
    assert bench.parser().parse_args([]).threads == 1  # finetune's own default


# --------------------------------------------------------------------------------------------
# Output paths checked before the work


def test_output_paths_are_checked_before_the_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    (tmp_path / "plot.png").mkdir()
    cases = [
        ("scaling", ["--out", str(tmp_path / "plot.png")], "is a directory, not a file"),
        ("scaling", ["--out", str(tmp_path)], "must end in one of .png, .pdf, .svg"),
        ("scaling", ["--out", "plot.txt"], "must end in one of .png, .pdf, .svg, got 'plot.txt'"),
        ("scaling", ["--out", f"{a_file}/x.png"], "exists and is not a directory"),
        ("learning_curve", ["--out", f"{a_file}/res"], "exists and is not a directory"),
        ("learning_curve", ["--out", str(tmp_path / "plot")], "plot.png' is a directory"),
        ("mutation_score", ["--json", f"{a_file}/out.json"], "exists and is not a directory"),
        ("finetune_time", ["--keep", str(a_file)], "--keep: "),
    ]
    for script, argv, message in cases:
        line = refused(load(script, monkeypatch), argv, capsys)
        assert message in line and "--out '" not in line, (script, line)


def test_learning_curve_names_files_after_the_whole_out_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bench = load("learning_curve", monkeypatch)
    paths = bench.output_paths(Path("results/res.v2"))
    assert [str(p) for p in paths.values()] == [
        "results/res.v2.md", "results/res.v2.json", "results/res.v2.png"
    ]  # fmt: skip


class _Figure:
    """Stands in for a matplotlib figure: ``savefig`` writes bytes, or fails."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def savefig(self, path: Path, **kwargs: object) -> None:
        if self.fail:
            raise OSError("disk full")
        assert kwargs["format"] == "png"  # the temporary name has no .png suffix
        Path(path).write_bytes(b"\x89PNG")


def test_learning_curve_writes_its_three_files_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = load("learning_curve", monkeypatch)
    out = tmp_path / "res.v2"
    old = tmp_path / "res.v2.md"
    old.write_text("old table\n")
    with pytest.raises(OSError, match="disk full"):
        bench.write_outputs(out, "new table", {"a": 1}, _Figure(fail=True))
    assert old.read_text() == "old table\n" and not (tmp_path / "res.v2.json").exists()
    written = bench.write_outputs(out, "new table", {"a": 1}, _Figure())
    assert written == [tmp_path / f"res.v2.{ext}" for ext in ("md", "json", "png")]
    assert old.read_text() == "new table\n"
    assert json.loads((tmp_path / "res.v2.json").read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res.v2.json", "res.v2.md", "res.v2.png"]


def test_learning_curve_refuses_repeated_seeds_and_says_the_steps_trained(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = load("learning_curve", monkeypatch)
    with pytest.raises(SystemExit) as exc:
        bench.parse_args(["--seeds", "0", "1", "0"])
    assert exc.value.code == 2
    assert "error: --seeds: must all differ, got 0 1 0" in capsys.readouterr().err
    assert bench.parse_args(["--seeds", "3", "1"]).seeds == [3, 1]
    assert bench.steps_label([4096, 4096]) == "4,096"
    assert bench.steps_label([4096, 6144, 4096]) == "4,096–6,144"


# --------------------------------------------------------------------------------------------
# Project errors: one line, before the work


def test_env_throughput_reports_a_bad_field_as_one_line() -> None:
    cmd = [sys.executable, str(BENCHMARKS / "env_throughput.py"), "--set", "foo=1"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("error: synthetic-shop (with overrides): unknown field 'foo'")
    assert len(done.stderr.splitlines()) == 1 and done.stdout == ""


def test_env_throughput_checks_the_scenario_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = load("env_throughput", monkeypatch)
    monkeypatch.setattr(env, "single_env_rate", lambda *a: pytest.fail("measured"))
    with pytest.raises(ScenarioError, match="unknown scenario 'bogus'"):
        env.main(["--scenario", "bogus"])


def test_scaling_checks_the_scenario_and_relays_a_childs_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bench = load("scaling", monkeypatch)
    with pytest.raises(ScenarioError, match="unknown scenario 'bogus'"):
        bench.check_scenario("bogus", [2000])
    with pytest.raises(ScenarioError, match="n_items"):
        bench.check_scenario("synthetic-shop", [2000, 1])
    # The child's own message, not "returned non-zero exit status 2".
    with pytest.raises(bench.BenchmarkError, match="N=1, 2000 items: unknown scenario 'bogus'"):
        bench.measure("bogus", 1, 2000, 0.0, 1)


def test_train_fps_checks_catalogue_sizes_and_devices_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bench = load("train_fps", monkeypatch)
    monkeypatch.setattr(bench, "measure", lambda *a: pytest.fail("measured"))
    with pytest.raises(ScenarioError, match="n_items"):
        bench.main(["--items", "2000", "1"])


# --------------------------------------------------------------------------------------------
# train_fps's figures


def test_train_fps_steady_window_runs_from_the_second_to_the_last_rollout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bench = load("train_fps", monkeypatch)
    assert bench.steady_fps([]) is None
    assert bench.steady_fps([(4096, 10.0)]) is None
    assert bench.steady_fps([(4096, 10.0), (8192, 14.0)]) is None  # no window after the update
    # 1st rollout at 10 s, 2nd (after the first update) at 20 s, last at 22 s: 2 × 4,096 / 2 s.
    points = [(4096, 10.0), (8192, 20.0), (12288, 21.0), (16384, 22.0)]
    assert bench.steady_fps(points) == pytest.approx(8192 / 2.0)


def test_train_fps_table_says_n_a_without_a_steady_window(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = load("train_fps", monkeypatch)
    row = {
        "policy": "gaussian", "device": "cpu", "torch_threads": 1, "update_threads": 2,
        "n_items": 2000, "steps": 512, "fps": 900.0, "steady_fps": None, "wall_s": 3.0,
        **{f"{name}_share": 0.1 for name in bench.SHARES},
    }  # fmt: skip
    bench.print_table([row], 4)
    assert "| 512 | 900 | n/a | 3.0 | 10 | 10 | 10 | 10 |" in capsys.readouterr().out


def _dict_buffer(cls: type) -> tuple[object, tuple]:
    """A one-slot dict rollout buffer of class ``cls`` and the arguments of one ``add``."""
    import torch as th
    from gymnasium import spaces

    obs_space = spaces.Dict({"x": spaces.Box(-1, 1, (2,), np.float32)})
    buffer = cls(2, obs_space, spaces.Box(-1, 1, (3,), np.float32), device="cpu", n_envs=1)
    row = (
        {"x": np.zeros((1, 2), np.float32)}, np.zeros((1, 3), np.float32), np.zeros(1),
        np.zeros(1), th.zeros(1, 1), th.zeros(1),
    )  # fmt: skip
    return buffer, row


def test_train_fps_charges_the_dict_rollout_buffer_add_to_the_buffer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from stable_baselines3.common.buffers import DictRolloutBuffer

    from divrec_rl.agents.rollout_buffer import SlateRolloutBuffer

    bench = load("train_fps", monkeypatch)

    class Outer(DictRolloutBuffer):
        def add(self, *args: object, **kwargs: object) -> None:
            super().add(*args, **kwargs)

    # A subclass's add calling its parent's counts once.
    monkeypatch.setitem(bench.PHASES, "buffer", (*bench.PHASES["buffer"], (Outer, "add")))
    before = (DictRolloutBuffer.__dict__["add"], Outer.__dict__["add"])
    ticks = iter(range(100))
    for cls in (SlateRolloutBuffer, Outer):
        buffer, row = _dict_buffer(cls)
        with bench.phase_timer(clock=lambda: float(next(ticks))) as spent:
            buffer.add(*row)
        # One outermost add: two clock reads, one tick apart.
        assert spent["buffer"] == 1.0 and spent["policy"] == 0.0
    assert (DictRolloutBuffer.__dict__["add"], Outer.__dict__["add"]) == before  # unwrapped


# --------------------------------------------------------------------------------------------
# finetune_epoch: threads and the device it prints


def test_finetune_epoch_passes_its_threads_and_prints_the_resolved_device(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from divrec_rl.bert.testing import write_tiny_encoder

    bench = load("finetune_epoch", monkeypatch)
    calls: list[dict] = []
    monkeypatch.setattr(bench, "finetune", lambda cfg, out, **kw: calls.append(kw))
    monkeypatch.setattr(bench, "resolve_device", lambda device: "cpu")  # auto on a CPU machine
    encoder = write_tiny_encoder(tmp_path / "encoder")
    bench.main([
        "--device", "auto", "--base-model", str(encoder), "--users", "30", "--items", "40",
        "--ratings", "10", "--max-steps", "1", "--threads", "2",
    ])  # fmt: skip
    assert calls[0]["threads"] == 2 and calls[0]["device"] == "cpu"
    out = capsys.readouterr().out
    assert "epoch on cpu (cpu), 2 torch thread(s)" in out
    assert "epoch: ceil(0.8 × 300 ratings / 512) = 1 steps" in out


# --------------------------------------------------------------------------------------------
# gpu_check.sh: which interpreter, and why nothing was measured


def test_gpu_check_refuses_a_python_that_is_not_an_executable(tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", str(BENCHMARKS / "gpu_check.sh")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHON": str(tmp_path / "no-python")},
    )
    assert done.returncode == 2
    assert done.stderr == f"gpu_check: PYTHON={tmp_path / 'no-python'}: not an executable\n"


def test_gpu_check_says_when_torch_cannot_be_imported(tmp_path: Path) -> None:
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "$@"\n')  # -S: no site-packages
    python.chmod(0o755)
    done = subprocess.run(
        ["bash", str(BENCHMARKS / "gpu_check.sh")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHON": str(python)},
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"gpu_check: torch not importable by {python} (")
    assert "no CUDA GPU" not in done.stderr
