"""PPO with the diversity reward vs random, the myopic oracle and PPO λ = 0, over seeds.

For every seed the script trains PPO agents with the real pipeline (``train_run``), one per
diversity weight in ``--lambdas`` (default: the pure-engagement ablation λ = 0 and the scenario's
λ, 0.1 for synthetic-shop). Then every method — random, greedy (the myopic oracle,
:class:`~divrec_rl.agents.myopic.MyopicOracleAgent`) and each PPO agent — plays one episode with
each of ``--eval-users`` held-out users (``eval`` split, the same users for every method of a seed,
different users per seed) and is scored under the scenario's reward. Reported per method: mean ±
95% CI over seeds (Student t, seeds as the units) of the long-term return Σ(engagement +
λ·diversity), the engagement return, the mean slate ILD, the episode length and the catalogue
coverage. The learning curves come from the runs' own TensorBoard ``eval/*`` points (held-out
users, deterministic policy).

The header gives the steps the runs actually trained (PPO trains whole rollouts, so a run
asked for 1,024 steps may train 4,096). Writes ``OUT.md`` (the table), ``OUT.json`` (every
number, per seed, and the command) and ``OUT.png`` (curves) — default
``benchmarks/results/learning_curve.*``; the suffixes are appended to OUT's name (``--out
res.v2`` writes ``res.v2.md``), and the three files are replaced together or not at all.
Every flag and the output paths are checked before the first training.

    python benchmarks/learning_curve.py [--seeds 0 1 2] [--total-timesteps 200000]
        [--lambdas 0 0.1] [--eval-users 1024] [--logdir runs/learning_curve]
        [--out benchmarks/results/learning_curve]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _cli import check_output_files, output_directory, positive_int, run
from scipy import stats
from stable_baselines3 import PPO
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from divrec_rl.agents.baselines import RandomAgent
from divrec_rl.agents.myopic import MyopicOracleAgent
from divrec_rl.agents.ppo import PPOAgent
from divrec_rl.atomic import atomic_write_all
from divrec_rl.envs import make_simulator
from divrec_rl.resolve import resolve_scenario
from divrec_rl.scenario import build_scenario
from divrec_rl.training.config import config_from_args
from divrec_rl.training.device import resolve_device
from divrec_rl.training.episodes import run_episodes
from divrec_rl.training.runner import train_run

METRICS = (
    ("return", "return Σ(eng + λ·div)"),
    ("engagement", "engagement return"),
    ("ild", "mean slate ILD"),
    ("length", "episode length"),
    ("coverage", "coverage"),
)
FINAL_EVAL_SEED = 5_000_000  # held-out users of the final table: seed s uses 5e6 + 1e5·s + i


def ci95(values: list[float]) -> tuple[float, float]:
    """Mean and half-width of the 95% Student-t confidence interval (0 with one value)."""
    arr = np.asarray(values, dtype=float)
    if len(arr) < 2:
        return float(arr.mean()), 0.0
    half = stats.t.ppf(0.975, len(arr) - 1) * arr.std(ddof=1) / np.sqrt(len(arr))
    return float(arr.mean()), float(half)


def train(seed: int, diversity_weight: float, args: argparse.Namespace) -> tuple[Path, int]:
    """Train one PPO agent; return its run directory and the env-steps it trained."""
    given: dict[str, Any] = {
        "scenario": args.scenario,
        "seed": str(seed),
        "diversity_weight": str(diversity_weight),
        "total_timesteps": str(args.total_timesteps),
        "logdir": str(args.logdir),
        "eval_every": str(args.eval_every),
        "checkpoint_every": "0",
        "progress_bar": False,
        "device": args.device,
    }
    config, overrides = config_from_args(given)
    result = train_run(config, overrides, command=" ".join(sys.argv))
    return result.run_dir, result.num_timesteps


def evaluate(agent: Any, scenario: Any, seed: int, n_users: int) -> dict[str, float]:
    """One episode per held-out user, scored under the scenario's reward."""
    sim = make_simulator(scenario, n_users, split="eval")
    result = run_episodes(agent, sim, FINAL_EVAL_SEED + 100_000 * seed)
    return {
        "return": float(result.reward.mean()),
        "engagement": float(result.engagement.mean()),
        "ild": float(result.ild.mean()),
        "length": float(result.length.mean()),
        "coverage": result.coverage,
    }


def curve(run_dir: Path, tag: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of a scalar in a run's TensorBoard events."""
    events = EventAccumulator(str(run_dir))
    events.Reload()
    points = events.Scalars(tag)
    return np.array([p.step for p in points]), np.array([p.value for p in points])


def plot(runs: dict[str, list[Path]], baselines: dict[str, list[dict]]) -> Any:
    """Engagement return and ILD on held-out users vs steps, mean ± 95% CI over seeds (the
    matplotlib figure, not yet saved)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, (tag, key, label) in zip(
        axes,
        [
            ("eval/mean_engagement", "engagement", "engagement return (held-out users)"),
            ("eval/mean_ild", "ild", "mean slate ILD (held-out users)"),
        ],
        strict=True,
    ):
        for name, dirs in runs.items():
            curves = [curve(d, tag) for d in dirs]
            n = min(len(c[0]) for c in curves)
            steps = curves[0][0][:n]
            values = np.stack([c[1][:n] for c in curves])
            mean = values.mean(axis=0)
            half = np.array([ci95(list(values[:, j]))[1] for j in range(n)])
            ax.plot(steps, mean, label=name)
            ax.fill_between(steps, mean - half, mean + half, alpha=0.2)
        for (name, results), (color, style) in zip(
            baselines.items(), [("0.45", "--"), ("0.1", ":")], strict=False
        ):
            mean = np.mean([r[key] for r in results])
            ax.axhline(mean, color=color, linestyle=style, label=f"{name} (final table users)")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:g}k"))
        ax.set_xlabel("environment steps")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def output_paths(out: Path) -> dict[str, Path]:
    """The table, record and plot files of ``--out OUT``: the suffix appended to OUT's name
    (``res.v2`` → ``res.v2.md``, where ``with_suffix`` would give ``res.md``)."""
    return {ext: out.parent / f"{out.name}.{ext}" for ext in ("md", "json", "png")}


def out_stem(text: str) -> Path:
    """A ``type=`` check of ``--out``: the three files can be written (a folder that exists or
    can be created, no folder in the way of a file)."""
    out = Path(text).expanduser()
    check_output_files(output_paths(out).values())
    return out


def write_outputs(out: Path, table: str, record: dict, figure: Any) -> list[Path]:
    """Write the table, the JSON record and the plot together: all three replaced, or (one
    failing) none of them."""
    paths = output_paths(out)
    writes: dict[Path, Callable[[Path], object]] = {
        paths["md"]: lambda tmp: tmp.write_text(table + "\n", encoding="utf-8"),
        paths["json"]: lambda tmp: tmp.write_text(json.dumps(record, indent=2), encoding="utf-8"),
        # The format is given: the temporary file's name does not end in .png.
        paths["png"]: lambda tmp: figure.savefig(tmp, dpi=120, format="png"),
    }
    atomic_write_all(writes)
    return list(paths.values())


def steps_label(steps: list[int]) -> str:
    """The env-steps the runs trained, e.g. ``4,096`` or ``4,096–6,144`` when they differ."""
    low, high = min(steps), max(steps)
    return f"{low:,}" if low == high else f"{low:,}–{high:,}"


def parser() -> argparse.ArgumentParser:
    """The flags; counts and output paths are checked here, before any training."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="synthetic-shop")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                   help="training seeds, all different (the CI is over seeds)")  # fmt: skip
    p.add_argument("--total-timesteps", type=positive_int, default=200_000,
                   help="steps asked per run (PPO trains whole rollouts: maybe more)")  # fmt: skip
    p.add_argument(
        "--lambdas",
        type=float,
        nargs="+",
        help="PPO diversity weights (default: 0 and the scenario's)",
    )
    p.add_argument("--eval-every", type=positive_int, default=20_000,
                   help="curve points (TensorBoard)")  # fmt: skip
    p.add_argument("--eval-users", type=positive_int, default=1024,
                   help="held-out users, final table")  # fmt: skip
    p.add_argument("--device", default="auto")
    p.add_argument("--logdir", type=output_directory, default="runs/learning_curve")
    p.add_argument("--out", type=out_stem, default="benchmarks/results/learning_curve",
                   help="OUT: writes OUT.md, OUT.json and OUT.png")  # fmt: skip
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The flags, checked; repeated seeds are refused (each would count as one more
    independent run and narrow the CI, to zero width when all are repeats)."""
    p = parser()
    args = p.parse_args(argv)
    if len(set(args.seeds)) < len(args.seeds):
        p.error(f"--seeds: must all differ, got {' '.join(map(str, args.seeds))}")
    return args


def main(argv: list[str] | None = None) -> None:
    """Train, evaluate, then write the table, record and plot (module docstring)."""
    args = parse_args(argv)
    started = time.perf_counter()
    resolve_device(args.device)
    scenario = build_scenario(resolve_scenario(args.scenario))
    lam = scenario.config.reward.diversity_weight
    weights = args.lambdas if args.lambdas is not None else [0.0, lam]
    ppo = {f"ppo λ={w:g}": w for w in weights}
    methods = ["random", "greedy", *ppo]
    per_seed: dict[str, list[dict[str, float]]] = {m: [] for m in methods}
    runs: dict[str, list[Path]] = {name: [] for name in ppo}
    trained: list[int] = []
    for seed in args.seeds:
        for name, weight in ppo.items():
            run_dir, steps = train(seed, weight, args)
            runs[name].append(run_dir)
            trained.append(steps)
            agent = PPOAgent(PPO.load(run_dir / "model.zip", device="cpu"))
            per_seed[name].append(evaluate(agent, scenario, seed, args.eval_users))
        per_seed["random"].append(evaluate(RandomAgent(seed), scenario, seed, args.eval_users))
        per_seed["greedy"].append(evaluate(MyopicOracleAgent(), scenario, seed, args.eval_users))
        print(f"seed {seed} done ({time.perf_counter() - started:.0f} s)", flush=True)

    header = "| method | " + " | ".join(label for _, label in METRICS) + " |"
    lines = [
        f"Learning curve benchmark: {args.scenario}, λ = {lam:g} in the reward, "
        f"{steps_label(trained)} PPO steps trained a run, seeds {args.seeds}, "
        f"{args.eval_users} held-out users per seed; mean ± 95% CI over seeds.",
        "",
        header,
        "|---|" + "---:|" * len(METRICS),
    ]
    summary: dict[str, dict[str, tuple[float, float]]] = {}
    for method in methods:
        summary[method] = {k: ci95([r[k] for r in per_seed[method]]) for k, _ in METRICS}
        cells = [f"{m:.3f} ± {h:.3f}" for m, h in summary[method].values()]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print("\n" + table)

    record = {
        "command": " ".join(sys.argv),
        "seeds": args.seeds,
        "total_timesteps": args.total_timesteps,
        "trained_timesteps": trained,
        "eval_users": args.eval_users,
        "final_eval_seed": FINAL_EVAL_SEED,
        "diversity_weight": lam,
        "per_seed": per_seed,
        "summary": {
            m: {k: {"mean": v[0], "ci95": v[1]} for k, v in s.items()} for m, s in summary.items()
        },
        "runs": {m: [str(d) for d in dirs] for m, dirs in runs.items()},
        "seconds": time.perf_counter() - started,
    }
    figure = plot(runs, {m: per_seed[m] for m in ("random", "greedy")})
    written = write_outputs(args.out, table, record, figure)
    names = ", ".join(str(p) for p in written)
    print(f"\nwrote {names} ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    run(main)
