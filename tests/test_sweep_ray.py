"""``divrec-rl sweep`` on Ray Tune, end to end: a 2 λ × 2 seed sweep on local Ray, its results,
``evaluate --agents ppo=SWEEP_DIR``, a killed and resumed driver, and a cluster joined through
``--address``.  Each sweep runs in a subprocess (its own Ray), a few thousand steps per trial."""

from __future__ import annotations

import contextlib
import csv
import itertools
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from divrec_rl.provenance import code_identity

pytest.importorskip("ray")
pytestmark = pytest.mark.slow

TRAIN = {
    "total_timesteps": 1024,
    "n_envs": 16,
    "n_steps": 32,
    "batch_size": 256,
    "n_epochs": 1,
    "eval_every": 512,
    "eval_users": 16,
    "checkpoint_every": 512,
}
SWEEP = {
    "scenario": "synthetic-shop",
    "overrides": {"catalog.n_items": 300, "catalog.n_categories": 8},
    "train": TRAIN,
    "space": {"reward.diversity_weight": {"grid": [0.0, 0.5]}},
    "seeds": [0, 1],
}


def _env() -> dict[str, str]:
    # Trials must never pick up a cluster another process started on this host.
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    return {**env, "RAY_USAGE_STATS_ENABLED": "0"}


def sweep_cmd(sweep_file: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "divrec_rl.cli", "sweep", str(sweep_file), "--out", str(out),
            *extra]  # fmt: skip


def run_sweep(
    sweep_file: Path,
    out: Path,
    *extra: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(
        sweep_cmd(sweep_file, out, *extra), capture_output=True, text=True, timeout=600,
        env=env or _env(), cwd=cwd,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res


def write_sweep(path: Path, **changes: object) -> Path:
    path.write_text(yaml.safe_dump({**SWEEP, **changes}), encoding="utf-8")
    return path


def rows(sweep_dir: Path) -> list[dict[str, str]]:
    with open(sweep_dir / "sweep.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def run_dirs(sweep_dir: Path) -> list[Path]:
    return sorted(p.parent for p in (sweep_dir / "trials").glob("*/*/config.yaml"))


def assert_four_trials(sweep_dir: Path) -> list[dict[str, str]]:
    table = rows(sweep_dir)
    assert len(table) == 4
    assert len({r["trial_id"] for r in table}) == 4
    pairs = {(float(r["reward.diversity_weight"]), int(r["seed"])) for r in table}
    assert pairs == {(0.0, 0), (0.0, 1), (0.5, 0), (0.5, 1)}
    assert {r["status"] for r in table} == {"finished"}
    found = run_dirs(sweep_dir)
    assert len(found) == 4, found  # one run directory per trial: nothing trained twice
    assert sorted(str(sweep_dir / r["run_dir"]) for r in table) == [str(p) for p in found]
    return table


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sweep")
    run_sweep(write_sweep(root / "lam.yaml"), root / "out", "--max-concurrent", "1")
    return root / "out"


def test_max_concurrent_one_runs_one_trial_at_a_time(local_sweep: Path) -> None:
    """Each trial's recorded window ends before the next one starts (Tune ignored the limit
    beside the sweep's own variant generator: trials ran as many at a time as there were
    CPUs)."""
    import json

    windows = sorted(
        (record["started_at"], record["finished_at"])
        for record in (
            json.loads(path.read_text(encoding="utf-8"))
            for path in (local_sweep / "trials").glob("*/trial.json")
        )
    )
    assert len(windows) == 4
    for (_, end), (start, _) in itertools.pairwise(windows):
        assert end <= start, windows


def test_local_sweep_writes_four_ordinary_run_directories(local_sweep: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    table = assert_four_trials(local_sweep)
    for row in table:
        run = local_sweep / row["run_dir"]
        assert (run / "model.zip").is_file() and list((run / "checkpoints").glob("step_*.zip"))
        config = yaml.safe_load((run / "config.yaml").read_text())
        assert config["train"]["eval_split"] == "val"
        assert config["train"]["seed"] == int(row["seed"])
        assert config["reward"]["diversity_weight"] == float(row["reward.diversity_weight"])
        events = EventAccumulator(str(run))
        events.Reload()
        tags = events.Tags()["scalars"]
        # Selection sees validation users only: no held-out eval/* metric was ever computed.
        assert "val/mean_reward" in tags and not [t for t in tags if t.startswith("eval/")]
        final = events.Scalars("val/mean_reward")[-1]
        assert final.step == int(row["timesteps"]) == 1024
        assert final.value == pytest.approx(float(row["val/mean_reward"]), rel=1e-5)


def test_summary_means_and_intervals_recompute_from_csv(local_sweep: Path) -> None:
    from scipy import stats

    frame = pd.read_csv(local_sweep / "sweep.csv")
    summary = (local_sweep / "summary.md").read_text()
    best, best_mean = None, -float("inf")
    for lam, group in frame.groupby("reward.diversity_weight"):
        values = group["val/mean_reward"].to_numpy()
        mean = values.mean()
        half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / len(values) ** 0.5
        label = f"reward.diversity_weight={lam}"
        line = next(x for x in summary.splitlines() if x.startswith(f"| {label}"))
        cells = [c.strip() for c in line.split("|")[1:-1]]
        assert cells[1] == "2/2"
        assert [float(c) for c in cells[2:5]] == pytest.approx(
            [mean, mean - half, mean + half], abs=6e-5
        )
        if mean > best_mean:
            best, best_mean = label, mean
    assert f"| {best} **(chosen)**" in summary
    chosen = frame[frame["chosen"] == "yes"]
    assert len(chosen) == 2 and f"reward.diversity_weight={chosen.iloc[0, 1]}" == best
    # Every trial recorded the code it ran, the same for all: one line says so.
    here = code_identity()
    assert (frame["source_sha256"] == here.source_sha256).all()
    assert frame["code_changed_during_run"].isna().all()
    assert f"Code: all 4 trials ran the same code, {here.describe()}." in summary


def test_evaluate_reads_the_chosen_configuration_seeds(local_sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    cmd = [sys.executable, "-m", "divrec_rl.cli", "evaluate", "--agents",
           f"ppo={local_sweep},random", "--out", str(out), "--seeds", "2", "--users", "20",
           "--cross-sim", "none", "--no-frontier", "--quiet"]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    results = pd.read_csv(out / "results.csv")
    ppo = results[results["agent"] == "ppo"].sort_values("seed")
    assert ppo["training_seed"].tolist() == [0, 1]  # one row per training seed
    assert results[results["agent"] == "random"]["training_seed"].isna().all()
    chosen = pd.read_csv(local_sweep / "sweep.csv").query("chosen == 'yes'")
    report = (out / "report.md").read_text()
    assert "training seeds [0, 1]" in report
    assert (
        f"Trained with: all 2 training runs ran the same code, {code_identity().describe()}"
        in report
    )
    assert Path(chosen.sort_values("seed")["run_dir"].iloc[0]).parent.name in report


def test_trials_read_relative_paths_from_where_the_sweep_started(tmp_path: Path) -> None:
    """A scenario file named relative to the working directory, as ``train --scenario`` takes
    it, is the scenario of every trial (Ray runs a trial in a directory of its own unless told
    not to; then every trial failed with "scenario file ... does not exist")."""
    work = tmp_path / "work"
    work.mkdir()
    scenario = {"base": "synthetic-shop", "name": "small-shop",
                "catalog": {"n_items": 300, "n_categories": 8}}  # fmt: skip
    (work / "small-shop.yaml").write_text(yaml.safe_dump(scenario), encoding="utf-8")
    sweep_file = write_sweep(
        work / "rel.yaml", scenario="small-shop.yaml", overrides={}, seeds=[0],
        space={"reward.diversity_weight": {"grid": [0.5]}},
    )  # fmt: skip
    out = tmp_path / "out"
    run_sweep(Path("rel.yaml"), out, cwd=work)
    (row,) = rows(out)
    assert row["status"] == "finished" and row["chosen"] == "yes"
    config = yaml.safe_load((out / row["run_dir"] / "config.yaml").read_text())
    assert config["name"] == "small-shop" and config["catalog"]["n_items"] == 300
    assert config["reward"]["diversity_weight"] == 0.5
    assert sweep_file.parent == work and not (work / "trials").exists()  # nothing written here


def _policy_weights(run: Path) -> dict:
    import io
    import zipfile

    import torch

    with zipfile.ZipFile(run / "model.zip") as archive:
        return torch.load(io.BytesIO(archive.read("policy.pth")), weights_only=True)


def _train_again(config: Path, seed: int, logdir: Path) -> Path:
    cmd = [sys.executable, "-m", "divrec_rl.cli", "train", "--config", str(config), "--seed",
           str(seed), "--logdir", str(logdir), "--no-progress-bar"]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=_env())
    assert res.returncode == 0, res.stderr[-3000:]
    (run,) = logdir.iterdir()
    return run


@pytest.mark.parametrize("source", ["one-point file", "sweep directory"])
def test_train_config_trains_the_trial_again_bit_for_bit(
    source: str, local_sweep: Path, tmp_path: Path
) -> None:
    """``divrec-rl train --config`` trains a sweep's trial again, the same weights exactly: with
    a one-point file of the sweep's plan (λ = 0.5) and ``--seed 1`` the (λ = 0.5, seed 1) trial;
    with the sweep directory and ``--seed 0`` the chosen configuration's seed-0 trial."""
    import torch

    table = rows(local_sweep)
    if source == "one-point file":
        config = write_sweep(
            tmp_path / "one.yaml", space={"reward.diversity_weight": {"grid": [0.5]}}
        )
        lam, seed = "0.5", 1
    else:
        config, seed = local_sweep, 0
        lam = next(r["reward.diversity_weight"] for r in table if r["chosen"] == "yes")
    again = _train_again(config, seed, tmp_path / "runs")
    (trial,) = [local_sweep / r["run_dir"] for r in table
                if (r["reward.diversity_weight"], int(r["seed"])) == (lam, seed)]  # fmt: skip
    mine, theirs = _policy_weights(again), _policy_weights(trial)
    assert mine.keys() == theirs.keys()
    assert all(torch.equal(mine[k], theirs[k]) for k in mine)
    train = yaml.safe_load((again / "config.yaml").read_text())
    assert train["train"]["update_threads"] == 1
    assert str(train["reward"]["diversity_weight"]) == lam


def _interrupt_after_the_first_trial(sweep_file: Path, out: Path) -> str:
    """Start the sweep one trial at a time, send Ctrl-C (SIGINT) once a trial has finished;
    return the driver's stderr after asserting it exited 130."""
    driver = subprocess.Popen(
        sweep_cmd(sweep_file, out, "--max-concurrent", "1"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while not list((out / "trials").glob("*/trial.json")):
        assert driver.poll() is None, "the sweep ended before it could be interrupted"
        assert time.monotonic() < deadline, "no trial finished in time"
        time.sleep(0.5)
    driver.send_signal(signal.SIGINT)
    _, err = driver.communicate(timeout=300)
    assert driver.returncode == 130, err[-3000:]
    return err


def test_a_confirmation_stage_retrains_the_search_leader_with_fresh_seeds(tmp_path: Path) -> None:
    """λ ∈ {0, 0.5} × seed 0, then the better one retrained with seeds 3 and 4: 4 trials, 4 run
    directories; the choice is that configuration with all three seeds (the only confirmed one),
    and its summary row's mean recomputes from those three trials.

    The sweep is first interrupted (Ctrl-C) during the search: exit 130 with the resume hint,
    no results, no confirmation stage (Tune's fit() returned as if done, and the driver exited
    0, called the unfinished trial 'stopped' and confirmed whatever had finished); --resume
    then finishes the search and confirms its true leader."""
    train = {**TRAIN, "total_timesteps": 2048}
    sweep_file = write_sweep(
        tmp_path / "c.yaml", train=train, seeds=[0], confirm={"top": 1, "seeds": [3, 4]}
    )
    out = tmp_path / "out"
    err = _interrupt_after_the_first_trial(sweep_file, out)
    assert f"interrupted: the sweep stopped before its trials ended; continue with divrec-rl " \
           f"sweep SWEEP.yaml --out {out.resolve()} --resume" in err  # fmt: skip
    assert not (out / "sweep.csv").exists() and not (out / "tune-confirm").exists()
    run_sweep(sweep_file, out, "--resume")
    table = rows(out)
    assert len(table) == 4 and len(run_dirs(out)) == 4
    assert {r["status"] for r in table} == {"finished"}
    search = {float(r["reward.diversity_weight"]): float(r["val/mean_reward"])
              for r in table if r["phase"] == "search"}  # fmt: skip
    leader = max(search, key=search.__getitem__)
    confirm = [r for r in table if r["phase"] == "confirm"]
    assert sorted(int(r["seed"]) for r in confirm) == [3, 4]
    assert {float(r["reward.diversity_weight"]) for r in confirm} == {leader}
    chosen = [r for r in table if r["chosen"] == "yes"]
    assert sorted(int(r["seed"]) for r in chosen) == [0, 3, 4]
    for row in confirm:  # the retrained trials ran the leader's settings and their own seed
        config = yaml.safe_load((out / row["run_dir"] / "config.yaml").read_text())
        assert config["reward"]["diversity_weight"] == leader
        assert config["train"]["seed"] == int(row["seed"])
    mean = sum(float(r["val/mean_reward"]) for r in chosen) / 3
    summary = (out / "summary.md").read_text()
    line = next(x for x in summary.splitlines() if "**(chosen)**" in x)
    cells = [c.strip() for c in line.split("|")[1:-1]]
    assert cells[1] == "3/3" and float(cells[2]) == pytest.approx(mean, abs=6e-5)
    assert float(cells[5]) == pytest.approx(search[leader], abs=6e-5)
    assert "Confirmation: the 1 best configurations of the search" in summary
    # Resuming the finished sweep restores both stages and trains nothing again.
    run_sweep(sweep_file, out, "--resume")
    assert len(run_dirs(out)) == 4 and rows(out) == table


def test_random_choices_are_shared_by_the_seeds_and_drawn_again_the_same(tmp_path: Path) -> None:
    lrs = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
    space = {"train.learning_rate": {"choice": lrs}}
    train = {**TRAIN, "total_timesteps": 256, "eval_every": 256, "checkpoint_every": 256}
    sweep_file = write_sweep(tmp_path / "lr.yaml", space=space, train=train, num_samples=2,
                             sample_seed=7)  # fmt: skip
    run_sweep(sweep_file, tmp_path / "out", "--max-concurrent", "2")
    table = rows(tmp_path / "out")
    assert len(table) == 4 and {r["status"] for r in table} == {"finished"}
    by_sample: dict[str, set[int]] = {}
    for r in table:
        by_sample.setdefault(r["train.learning_rate"], set()).add(int(r["seed"]))
    # every drawn configuration is trained with both seeds (one draw per sample, not per seed)
    assert all(seeds == {0, 1} for seeds in by_sample.values()), by_sample
    assert all(float(lr) in lrs for lr in by_sample)
    # the seeded generator: the same draws as Ray's variant generator from the same seed
    from ray import tune
    from ray.tune.search.sample import _BackwardsCompatibleNumpyRng
    from ray.tune.search.variant_generator import generate_variants

    rng = _BackwardsCompatibleNumpyRng(7)  # what BasicVariantGenerator makes of random_state=7
    expected = set()
    for _ in range(2):
        variants = generate_variants({"lr": tune.choice(lrs), "seed": tune.grid_search([0, 1])},
                                     constant_grid_search=True, random_state=rng)  # fmt: skip
        expected |= {float(config["lr"]) for _, config in variants}
    assert {float(lr) for lr in by_sample} == expected


def test_asha_never_stops_a_trial_that_reached_its_budget(tmp_path: Path) -> None:
    # ASHA stops any trial whose report reaches max_t; a trial's last evaluation used to be
    # such a report, so every finished trial was killed before it wrote trial.json.
    train = {**TRAIN, "eval_every": 256, "select_checkpoint": "best-val"}
    sweep_file = write_sweep(tmp_path / "asha.yaml", train=train, seeds=[0],
                             space={"train.learning_rate": {"grid": [1e-4, 3e-4, 1e-3, 3e-3]}},
                             scheduler={"type": "asha", "grace_period": 512,
                                        "reduction_factor": 2})  # fmt: skip
    run_sweep(sweep_file, tmp_path / "out", "--max-concurrent", "2")
    table = rows(tmp_path / "out")
    assert len(table) == 4
    for r in table:
        done = int(r["timesteps"]) >= TRAIN["total_timesteps"]
        assert r["status"] == ("finished" if done else "stopped"), r
        assert (tmp_path / "out" / "trials" / r["trial_id"] / "trial.json").is_file() == done
    assert any(r["status"] == "finished" for r in table)
    assert sum(r["chosen"] == "yes" for r in table) == 1


def test_killed_driver_resumes_without_repeating_or_losing_trials(tmp_path: Path) -> None:
    sweep_file = write_sweep(tmp_path / "lam.yaml", train={**TRAIN, "total_timesteps": 2048})
    out = tmp_path / "out"
    # A killed driver cannot tidy its Ray session files: keep them in a short directory of ours.
    temp = tempfile.mkdtemp(prefix="dr-")
    driver = subprocess.Popen(
        sweep_cmd(sweep_file, out, "--max-concurrent", "1"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**_env(), "TMPDIR": temp},
    )  # fmt: skip
    deadline = time.monotonic() + 300
    try:
        while not list((out / "trials").glob("*/trial.json")):
            assert driver.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "no trial finished in time"
            time.sleep(0.5)
        time.sleep(3)  # let Tune save its state and start the next trial
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    first = {p.parent.name: p.read_text() for p in (out / "trials").glob("*/trial.json")}
    assert 1 <= len(first) < 4
    assert not (out / "sweep.csv").exists()
    time.sleep(3)  # the killed driver's Ray processes share its fate
    shutil.rmtree(temp, ignore_errors=True)
    run_sweep(sweep_file, out, "--resume", "--max-concurrent", "1")
    assert_four_trials(out)
    after = {p.parent.name: p.read_text() for p in (out / "trials").glob("*/trial.json")}
    assert all(after[name] == text for name, text in first.items())  # kept, not redone


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cluster_pids(temp_dir: str) -> list[int]:
    """Processes of *this* cluster: their command line or an open file names its own temporary
    directory (Ray's agents rename themselves, but keep their log files open there)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            names = [(proc / "cmdline").read_bytes().decode(errors="replace")]
            names += [os.readlink(fd) for fd in (proc / "fd").iterdir()]
        except OSError:
            continue
        if any(temp_dir in name for name in names):
            found.append(int(proc.name))
    return found


def _stop_cluster(temp_dir: str) -> None:
    """Stop this cluster only (``ray stop`` would stop every Ray process on the host)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in _cluster_pids(temp_dir):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        time.sleep(3)
    assert not _cluster_pids(temp_dir)


def test_sweep_joins_a_cluster_through_address(tmp_path: Path) -> None:
    ray_bin = Path(sys.executable).parent / "ray"
    port = _free_port()
    temp_dir = tempfile.mkdtemp(prefix="divrec-cluster-")
    start = [
        str(ray_bin),
        "start",
        "--head",
        f"--port={port}",
        "--num-cpus=2",
        "--include-dashboard=false",
        f"--temp-dir={temp_dir}",
        "--disable-usage-stats",
    ]
    # The cluster's own token: other Ray users of this host (and ~/.ray/auth_token) don't matter.
    env = {**_env(), "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    res = subprocess.run(start, capture_output=True, text=True, timeout=180, env=env)
    try:
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        sweep_file = write_sweep(tmp_path / "lam.yaml", seeds=[0])
        out = tmp_path / "out"
        done = run_sweep(sweep_file, out, "--address", f"127.0.0.1:{port}", env=env)
        assert "2 finished" in done.stdout
        table = rows(out)
        assert len(table) == 2 and {r["status"] for r in table} == {"finished"}
        assert len(run_dirs(out)) == 2
        assert not (out / "ray-logs").exists()  # the cluster keeps its own logs
    finally:
        _stop_cluster(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)
