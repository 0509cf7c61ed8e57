"""Wall-clock of a full evaluation: 1,000 held-out users × 5 agents on synthetic-shop.

Runs the real pipeline (:func:`divrec_rl.evaluation.runner.evaluate` +
:func:`divrec_rl.evaluation.report.write_evaluation`) with the agents ``ppo, baseline, greedy,
popularity, random`` and reports, in seconds:

* ``baseline`` — logging 2,000 training users, fitting the click models and tuning them on
  validation users (the sweep of the defaults);
* ``evaluation`` — the 5 agents on the held-out users (all seeds);
* ``cross_simulator`` — the same again under the second user model;
* ``frontier`` — the re-ranking sweep on the eval users;
* ``write`` — CSV files, figures and report;
* ``total`` — everything, catalogue generation and PPO loading included.

Target: ``total`` ≤ 60 s on 2 cores (the speed issue's figure).  ``--ppo PATH`` evaluates a
trained run; without it an untrained PPO model of the same architecture is used (inference
costs the same).  Machines are shared: with ``--repeats`` > 1 the fastest repeat is kept.

    python benchmarks/eval_speed.py [--users 1000] [--seeds 1] [--ppo RUN_DIR] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import yaml
from _cli import at_least, existing_path, positive_int, run

from divrec_rl.agents.ppo import make_ppo
from divrec_rl.agents.registry import parse_agents
from divrec_rl.envs import SlateRecVecEnv
from divrec_rl.evaluation.report import write_evaluation
from divrec_rl.evaluation.runner import EvaluationConfig, evaluate

TARGET_S = 60.0


def untrained_ppo(folder: Path) -> Path:
    """A freshly initialised PPO run for synthetic-shop (the same network as a trained one)."""
    model = make_ppo(SlateRecVecEnv(2, scenario="synthetic-shop"), seed=0, device="cpu")
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model.zip")
    config = {"name": "synthetic-shop", "reward": {"diversity_weight": 0.1}, "train": {"seed": 0}}
    (folder / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return folder


def measure(ppo: Path, users: int, seeds: int, out: Path) -> dict[str, float]:
    """One full evaluation; returns the timings in seconds."""
    start = time.perf_counter()
    config = EvaluationConfig(
        agents=parse_agents(f"ppo={ppo},baseline,greedy,popularity,random"),
        scenario="synthetic-shop",
        seeds=seeds,
        users=users,
    )
    result = evaluate(config)
    t0 = time.perf_counter()
    write_evaluation(result, out, "benchmarks/eval_speed.py", overwrite=True)
    timings = {k: v for k, v in result.timings.items() if k != "total"}
    timings["write"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - start
    return timings


def parser() -> argparse.ArgumentParser:
    """The flags; counts are checked here (an evaluation needs at least 2 users)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=at_least(2), default=1000, help="held-out users per seed")
    p.add_argument("--seeds", type=positive_int, default=1, help="evaluation seeds")
    p.add_argument("--ppo", type=existing_path, default=None,
                   help="trained PPO run or model zip (default: untrained)")  # fmt: skip
    p.add_argument("--repeats", type=positive_int, default=1, help="runs; the fastest is kept")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return p


def main(argv: list[str] | None = None) -> int:
    """Time the evaluation; 0 when the target is met, else 1."""
    args = parser().parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        ppo = args.ppo or untrained_ppo(Path(tmp) / "ppo")
        runs = [
            measure(ppo, args.users, args.seeds, Path(tmp) / f"out{i}") for i in range(args.repeats)
        ]
    best = min(runs, key=lambda r: r["total"])
    ok = best["total"] <= TARGET_S
    if args.json:
        print(json.dumps({**best, "target_s": TARGET_S, "ok": ok}, indent=2))
    else:
        print(
            f"\nevaluation of 5 agents × {args.seeds} seed(s) × {args.users} users, synthetic-shop"
        )
        print("| stage | seconds |\n|---|---:|")
        for stage, seconds in best.items():
            print(f"| {stage} | {seconds:.1f} |")
        print(f"\ntarget total ≤ {TARGET_S:.0f} s: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    run(main)
