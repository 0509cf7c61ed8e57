"""``divrec-rl train --config``: a sweep file that names one configuration (a stage-2 file of the
fair experiment), or a finished sweep directory, trains that configuration as its trials run
it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from divrec_rl.commands.train import main, read_config_file
from divrec_rl.errors import SweepError
from divrec_rl.sweep.spec import load_sweep, plan_train
from divrec_rl.sweep.trial import TrialPlan, one_configuration, train_point
from divrec_rl.training.config import TrainConfig, config_from_args
from divrec_rl.training.rundir import read_run

ROOT = Path(__file__).resolve().parents[1]

ONE_POINT = {
    "scenario": "synthetic-shop",
    "overrides": {"catalog.n_items": 300},
    "train": {"total_timesteps": 256, "n_envs": 8, "n_steps": 16, "batch_size": 64,
              "eval_every": 128, "eval_users": 8, "select_checkpoint": "best-val"},
    "space": {
        "train.learning_rate": {"grid": [0.001]},
        "train.hidden_size": {"choice": [16]},
        "reward.diversity_weight": {"grid": [0.3]},
    },
    "seeds": [4, 5],
}  # fmt: skip


def configure(args: dict) -> tuple[TrainConfig, dict]:
    """What ``divrec-rl train`` makes of these flags (its reader takes sweep files)."""
    return config_from_args(args, read_config_file)


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "stage2.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_a_one_point_sweep_file_is_its_configuration(tmp_path: Path) -> None:
    config, overrides = configure({"config": [str(write(tmp_path, ONE_POINT))]})
    assert config.scenario == "synthetic-shop"
    assert (config.total_timesteps, config.n_envs, config.eval_every) == (256, 8, 128)
    assert (config.learning_rate, config.hidden_size) == (0.001, 16)  # the space's values
    assert config.eval_split == "val" and config.select_checkpoint == "best-val"
    assert config.seed == 0  # the file's seeds are a sweep's; one run takes --seed
    assert config.update_threads == 1  # a trial's CPU share (resources.cpus_per_trial)
    assert overrides == {"catalog": {"n_items": 300}, "reward": {"diversity_weight": 0.3}}


def test_the_update_threads_are_a_trials_unless_the_file_or_a_flag_sets_them(
    tmp_path: Path,
) -> None:
    two = write(tmp_path, {**ONE_POINT, "resources": {"cpus_per_trial": 2}})
    assert configure({"config": [str(two)]})[0].update_threads == 2
    assert configure({"config": [str(two)], "update_threads": "0"})[0].update_threads == 0
    own = {**ONE_POINT, "train": {**ONE_POINT["train"], "update_threads": 3}}
    assert configure({"config": [str(write(tmp_path, own))]})[0].update_threads == 3


def test_it_matches_what_each_trial_of_the_file_trains(tmp_path: Path) -> None:
    path = write(tmp_path, ONE_POINT)
    sweep = load_sweep(path)
    point = {k: axis.values[0] for k, axis in sweep.space.items()}
    plan = TrialPlan("", sweep.scenario, sweep.overrides, plan_train(sweep), sweep.imports)
    trial = TrainConfig(**train_point(plan, {**point, "seed": 5}, tmp_path))
    config, _ = configure({"config": [str(path)], "seed": "5"})
    differ = {k for k in TrainConfig.model_fields if getattr(config, k) != getattr(trial, k)}
    assert differ == {"logdir", "progress_bar"}  # where the run goes and how it shows


def test_flags_and_later_files_win_over_the_sweep_file(tmp_path: Path) -> None:
    extra = tmp_path / "extra.yaml"
    extra.write_text("reward:\n  diversity_weight: 0.7\ntrain:\n  n_envs: 4\n")
    config, overrides = configure(
        {"config": [str(write(tmp_path, ONE_POINT)), str(extra)], "learning_rate": "0.01"}
    )
    assert config.learning_rate == 0.01 and config.n_envs == 4 and config.hidden_size == 16
    assert overrides["reward"]["diversity_weight"] == 0.7


def test_a_search_is_refused_naming_every_key_with_several_values(tmp_path: Path) -> None:
    data = {**ONE_POINT, "space": {**ONE_POINT["space"], "train.gamma": {"grid": [0.9, 0.99]},
                                   "train.ent_coef": {"choice": [0.0, 0.01, 0.1]}}}  # fmt: skip
    with pytest.raises(SweepError) as info:
        one_configuration(write(tmp_path, data))
    lines = info.value.errors
    assert any("field 'space.train.gamma': 2 values [0.9, 0.99]" in line for line in lines)
    assert any("field 'space.train.ent_coef': 3 values" in line for line in lines)
    assert "must name one configuration" in lines[-1] and "divrec-rl sweep" in lines[-1]
    assert not any("learning_rate" in line for line in lines)


def test_a_bad_sweep_file_fails_before_training_with_exit_code_2(tmp_path: Path, capsys) -> None:
    data = {**ONE_POINT, "space": {"train.learning_rate": {"grid": [-1.0]}}}
    code = main(["--config", str(write(tmp_path, data)), "--logdir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2 and "field 'space.train.learning_rate' value -1.0" in err
    assert not (tmp_path / "runs").exists()


SEARCH = {
    **ONE_POINT,
    "space": {
        "train.learning_rate": {"grid": [3e-05, 0.001]},
        "train.prior": {"grid": ["none", "baseline"]},
        "reward.diversity_weight": {"choice": [0.0, 0.3]},
    },
}


def sweep_dir(tmp_path: Path, chosen: tuple[str, str, str]) -> Path:
    """A finished sweep's directory as the driver leaves it: its file and its results, the
    configuration ``chosen`` (learning rate, prior, λ as the CSV spells them) marked."""
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "sweep.yaml").write_text(yaml.safe_dump(SEARCH), encoding="utf-8")
    lines = ["trial_id,train.learning_rate,train.prior,reward.diversity_weight,seed,status,chosen"]
    lines += ["a,3e-05,none,0.0,4,finished,", "b,0.001,baseline,0.3,4,finished,"]
    lines += [f"c,{','.join(chosen)},{seed},finished,yes" for seed in (4, 5)]
    (out / "sweep.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def test_a_sweep_directory_is_its_chosen_configuration(tmp_path: Path) -> None:
    config, overrides = configure(
        {"config": [str(sweep_dir(tmp_path, ("3e-05", "baseline", "0.3")))]}
    )
    assert (
        config.learning_rate == 3e-05 and config.prior == "baseline"
    )  # typed as the file has them
    assert overrides == {"catalog": {"n_items": 300}, "reward": {"diversity_weight": 0.3}}
    assert (config.total_timesteps, config.eval_split, config.seed) == (256, "val", 0)


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda d: (d / "sweep.csv").unlink(), "not a sweep directory with results"),
        (
            lambda d: (d / "sweep.csv").write_text("trial_id,chosen\na,\n"),
            "no configuration was chosen",
        ),
    ],
)
def test_a_directory_without_a_choice_is_refused(tmp_path: Path, make, needle: str) -> None:
    directory = sweep_dir(tmp_path, ("0.001", "none", "0.0"))
    make(directory)
    with pytest.raises(SweepError, match=needle):
        configure({"config": [str(directory)]})


@pytest.mark.parametrize(
    ("spoil", "needle"),
    [
        (lambda d: (d / "sweep.csv").write_bytes(bytes(range(128, 256))), "not UTF-8 CSV text"),
        (
            lambda d: (d / "sweep.csv").write_text("trial_id,seed,chosen\nc,abc,yes\n"),
            "a chosen row needs an integer 'seed' and a 'run_dir', got seed 'abc', run_dir ''",
        ),
    ],
)
def test_a_damaged_sweep_csv_is_one_error_for_train_and_evaluate(
    tmp_path: Path, spoil, needle: str
) -> None:
    # UnicodeDecodeError, ValueError and KeyError tracebacks before.
    from divrec_rl.agents.registry import load_ppo_run
    from divrec_rl.errors import ModelError

    directory = sweep_dir(tmp_path, ("0.001", "none", "0.0"))
    spoil(directory)
    with pytest.raises(ModelError, match=rf"^agent 'ppo': .*sweep.csv.*{re.escape(needle)}"):
        load_ppo_run(directory)
    if "UTF-8" in needle:
        with pytest.raises(SweepError, match=needle):
            configure({"config": [str(directory)]})


def test_a_chosen_value_the_sweep_never_had_is_refused(tmp_path: Path) -> None:
    directory = sweep_dir(tmp_path, ("0.01", "none", "0.0"))
    with pytest.raises(SweepError, match=r"the chosen 'train.learning_rate' is '0.01', not one"):
        configure({"config": [str(directory)]})


@pytest.mark.parametrize("path", sorted((ROOT / "experiments" / "fair").glob("seeds-*.yaml")))
def test_every_committed_stage_2_file_names_one_configuration(path: Path) -> None:
    train, _ = one_configuration(path)
    config = TrainConfig(**train)
    assert config.eval_split == "val"
    assert config.scenario == yaml.safe_load(path.read_text())["scenario"]


def test_the_readme_tuned_command_trains_the_confirmed_synthetic_shop_choice() -> None:
    path = ROOT / "experiments" / "fair" / "seeds-synthetic-shop-confirmed.yaml"
    assert str(path.relative_to(ROOT)) in (ROOT / "README.md").read_text(encoding="utf-8")
    config, overrides = configure({"config": [str(path)]})
    chosen = (config.learning_rate, config.ent_coef, config.gamma, config.temperature_init,
              config.hidden_size, config.prior, config.bc_from)  # fmt: skip
    assert chosen == (3e-4, 0.003, 0.995, 0.3, 128, "baseline", "baseline")
    assert (config.total_timesteps, config.select_checkpoint) == (100_000, "best-val")
    assert overrides == {}


def test_the_run_records_the_configuration_and_repeats_from_its_config_yaml(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    assert main(["--config", str(write(tmp_path, ONE_POINT)), "--logdir", str(runs),
                 "--no-progress-bar"]) == 0  # fmt: skip
    (run_dir,) = runs.iterdir()
    record = read_run(run_dir)
    assert record.train["learning_rate"] == 0.001 and record.train["hidden_size"] == 16
    assert record.train["eval_split"] == "val" and record.train["seed"] == 0
    assert record.scenario.reward.diversity_weight == 0.3
    assert record.scenario.catalog.n_items == 300
    assert (run_dir / "best_model.zip").is_file()  # best-val selection ran on val users


@pytest.mark.parametrize("cell", ["null", ""])  # as written now, and before value_cell
def test_a_chosen_null_value_reads_back_as_none(tmp_path: Path, cell: str) -> None:
    """`train.target_kl: {grid: [null, 0.02]}` with null chosen: the CSV cell matches None
    (it was written empty and matched against str(None) = 'None': `train --config SWEEP_DIR`
    said the sweep's own choice was not one of its values)."""
    from divrec_rl.sweep.layout import chosen_point, value_cell

    assert (value_cell(None), value_cell(0.02), value_cell("none")) == ("null", "0.02", "none")
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "sweep.yaml").write_text("{}\n", encoding="utf-8")
    rows = ["trial_id,train.target_kl,seed,status,chosen", f"a,{cell},0,finished,yes",
            "b,0.02,0,finished,"]  # fmt: skip
    (out / "sweep.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert chosen_point(out, {"train.target_kl": [None, 0.02]}) == {"train.target_kl": None}
