"""How the batched simulator core scales: user-steps/s and peak memory against the number of
users N and the catalogue size, with a log–log plot.

Each (catalogue items, N) point runs in its own child process (so its peak resident memory is
its own): the batched Gymnasium ``VectorEnv`` face
(``make_vec(..., vectorization_mode="vector_entry_point")``) of ``--scenario`` with
``catalog.n_items`` set, one reset, then random actions (drawn beforehand, autoreset on) for at
least ``--seconds`` and at least ``--min-steps`` steps.  Reported per point:

* ``user-steps/s`` — N × steps / seconds of stepping (construction and reset excluded);
* ``setup s`` — ``make_vec`` plus the first reset (catalogue generation included);
* ``peak RSS MB`` — the child's peak resident set size (``getrusage``), and ``core MB`` the same
  less the child's footprint after its imports (what the catalogue, users and buffers take).

Machines are shared: compare the rows of one run, not runs; ``--repeats`` > 1 keeps each point's
best rate.

    python benchmarks/scaling.py [--users 1 64 1024 16384 100000] [--items 2000 20000 200000]
                                 [--seconds 2] [--out out/scaling.png]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

USERS = [1, 64, 1024, 16_384, 100_000]
ITEMS = [2_000, 20_000, 200_000]


def _peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_point(scenario: str, n_users: int, n_items: int, seconds: float, min_steps: int) -> dict:
    """Measure one point in this process (called in the child)."""
    import gymnasium as gym

    import divrec_rl
    from divrec_rl.training.config import parse_set

    baseline = _peak_rss_mb()
    start = time.perf_counter()
    env = gym.make_vec(
        divrec_rl.ENV_ID,
        num_envs=n_users,
        vectorization_mode="vector_entry_point",
        scenario=scenario,
        config=parse_set([f"catalog.n_items={n_items}"]),
    )
    env.reset(seed=0)
    setup = time.perf_counter() - start
    pool = (
        np.random.default_rng(0)
        .uniform(-1, 1, (2, n_users, *env.single_action_space.shape))
        .astype(np.float32)
    )
    steps, start = 0, time.perf_counter()
    while steps < min_steps or time.perf_counter() - start < seconds:
        env.step(pool[steps % 2])
        steps += 1
    elapsed = time.perf_counter() - start
    peak = _peak_rss_mb()
    return {
        "n_users": n_users,
        "n_items": n_items,
        "steps": steps,
        "user_steps_per_s": n_users * steps / elapsed,
        "setup_s": setup,
        "peak_rss_mb": peak,
        "core_mb": peak - baseline,
    }


def measure(scenario: str, n_users: int, n_items: int, seconds: float, min_steps: int) -> dict:
    """Run one point in a fresh child process and return its figures."""
    cmd = [
        sys.executable,
        __file__,
        "--point",
        str(n_users),
        str(n_items),
        "--scenario",
        scenario,
        "--seconds",
        str(seconds),
        "--min-steps",
        str(min_steps),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def plot(rows: list[dict], out: Path) -> None:
    """Log–log plot: user-steps/s and peak RSS against N, one line per catalogue size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (rate_ax, mem_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    for n_items in sorted({r["n_items"] for r in rows}):
        pts = sorted((r for r in rows if r["n_items"] == n_items), key=lambda r: r["n_users"])
        users = [r["n_users"] for r in pts]
        label = f"{n_items:,} items"
        rate_ax.plot(users, [r["user_steps_per_s"] for r in pts], "o-", label=label)
        mem_ax.plot(users, [r["peak_rss_mb"] for r in pts], "o-", label=label)
    for ax, ylabel in ((rate_ax, "user-steps/s"), (mem_ax, "peak RSS (MB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("users N (batched face)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    rate_ax.set_title("throughput")
    mem_ax.set_title("peak memory")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="synthetic-shop")
    p.add_argument("--users", type=int, nargs="+", default=USERS, help="values of N")
    p.add_argument("--items", type=int, nargs="+", default=ITEMS, help="catalogue sizes")
    p.add_argument("--seconds", type=float, default=2.0, help="stepping time per point")
    p.add_argument("--min-steps", type=int, default=3, help="steps per point at least")
    p.add_argument("--repeats", type=int, default=1, help="runs per point; the best rate is kept")
    p.add_argument("--out", type=Path, default=Path("out/scaling.png"), help="plot path (PNG)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--point", type=int, nargs=2, metavar=("USERS", "ITEMS"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.point:
        print(json.dumps(run_point(args.scenario, *args.point, args.seconds, args.min_steps)))
        return
    rows = []
    for n_items in args.items:
        for n_users in args.users:
            runs = [
                measure(args.scenario, n_users, n_items, args.seconds, args.min_steps)
                for _ in range(args.repeats)
            ]
            rows.append(max(runs, key=lambda r: r["user_steps_per_s"]))
    plot(rows, args.out)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"\nBatched core scaling, {args.scenario}; plot: {args.out}")
    print("| items | users N | steps | user-steps/s | setup s | peak RSS MB | core MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['n_items']:,} | {r['n_users']:,} | {r['steps']:,} "
            f"| {r['user_steps_per_s']:,.0f} | {r['setup_s']:.2f} | {r['peak_rss_mb']:,.0f} "
            f"| {r['core_mb']:,.0f} |"
        )


if __name__ == "__main__":
    main()
