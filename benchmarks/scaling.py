"""How the batched simulator core scales: user-steps/s and peak memory against the number of
users N and the catalogue size, with a log–log plot.

Each (catalogue items, N) point runs in its own child process (so its peak resident memory is
its own): the batched Gymnasium ``VectorEnv`` face
(``make_vec(..., vectorization_mode="vector_entry_point")``) of ``--scenario`` with
``catalog.n_items`` set, one reset, then random actions (drawn beforehand, autoreset on) for at
least ``--seconds`` and at least ``--min-steps`` steps.  Reported per point:

* ``user-steps/s`` — N × steps / seconds of stepping (construction and reset excluded);
* ``setup s`` — ``make_vec`` plus the first reset (catalogue generation included; the one-off
  imports and kernel compilation are in the warm-up below, JSON ``warmup_s``);
* ``peak RSS MB`` — the child's peak resident set size (``getrusage``), and ``data MB`` (JSON
  ``core_mb``) the same less the child's peak after a warm-up: one user on a small catalogue
  (:data:`WARMUP_ITEMS` items, another catalogue seed) built, reset and stepped first, so
  the modules that making and stepping the env imports (numba, LLVM, SciPy, ≈ 125 MB) and
  its compiled kernels are in the baseline, and the column is what the point's catalogue,
  users and buffers take.

Machines are shared: compare the rows of one run, not runs; ``--repeats`` > 1 keeps each point's
best rate.  The flags, the scenario at every catalogue size and the plot path are checked
before the first point; the plot (``.png``, ``.pdf`` or ``.svg``) is written atomically.

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
from _cli import BenchmarkError, nonnegative_float, output_file, positive_int, run

USERS = [1, 64, 1024, 16_384, 100_000]
ITEMS = [2_000, 20_000, 200_000]
#: Catalogue size of the child's warm-up env (the point's own size if smaller): big enough for
#: a slate of 40 candidates in 20 categories, small enough to add little to the baseline.
WARMUP_ITEMS = 400
#: Plot formats matplotlib writes without extra software.
PLOT_SUFFIXES = (".png", ".pdf", ".svg")


def _peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_env(scenario: str, n_users: int, catalog: dict) -> object:
    """The batched face of ``scenario`` for ``n_users`` with ``catalog.*`` overrides."""
    import gymnasium as gym

    import divrec_rl

    return gym.make_vec(
        divrec_rl.ENV_ID,
        num_envs=n_users,
        vectorization_mode="vector_entry_point",
        scenario=scenario,
        config={"catalog": catalog},
    )


def warm_up(scenario: str, n_items: int) -> float:
    """Build, reset and step one user on a small catalogue: the imports and compiled kernels
    that making and stepping the env loads land before the memory baseline.  Another catalogue
    seed, so the point builds (and counts) its own catalogue rather than this cached one.
    Returns its wall seconds."""
    start = time.perf_counter()
    env = make_env(scenario, 1, {"n_items": min(n_items, WARMUP_ITEMS), "seed": 1_000_003})
    env.reset(seed=0)
    action = np.zeros((1, *env.single_action_space.shape), dtype=np.float32)
    for _ in range(3):
        env.step(action)
    env.close()
    return time.perf_counter() - start


def run_point(scenario: str, n_users: int, n_items: int, seconds: float, min_steps: int) -> dict:
    """Measure one point in this process (called in the child)."""
    warmup = warm_up(scenario, n_items)
    baseline = _peak_rss_mb()
    start = time.perf_counter()
    env = make_env(scenario, n_users, {"n_items": n_items})
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
        "warmup_s": warmup,
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
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        # The child prints one `error: …` line (or a traceback): its last line says why.
        lines = done.stderr.strip().splitlines() or [f"exit code {done.returncode}"]
        why = lines[-1].removeprefix("error: ")
        raise BenchmarkError(f"point N={n_users}, {n_items} items: {why}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def plot(rows: list[dict], out: Path) -> None:
    """Log–log plot: user-steps/s and peak RSS against N, one line per catalogue size, written
    atomically to ``out`` (in the format its suffix names)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from divrec_rl.atomic import atomic_write

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
    # The format is given: the temporary file's name does not end in the suffix.
    atomic_write(out, lambda tmp: fig.savefig(tmp, dpi=120, format=out.suffix[1:].lower()))
    plt.close(fig)


def parser() -> argparse.ArgumentParser:
    """The flags; counts, durations and the plot path are checked here."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="synthetic-shop")
    p.add_argument("--users", type=positive_int, nargs="+", default=USERS, help="values of N")
    p.add_argument("--items", type=positive_int, nargs="+", default=ITEMS,
                   help="catalogue sizes")  # fmt: skip
    p.add_argument("--seconds", type=nonnegative_float, default=2.0,
                   help="stepping time per point")  # fmt: skip
    p.add_argument("--min-steps", type=positive_int, default=3, help="steps per point at least")
    p.add_argument("--repeats", type=positive_int, default=1,
                   help="runs per point; the best rate is kept")  # fmt: skip
    p.add_argument("--out", type=output_file(PLOT_SUFFIXES), default="out/scaling.png",
                   help=f"plot path ({', '.join(PLOT_SUFFIXES)})")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--point", type=positive_int, nargs=2, metavar=("USERS", "ITEMS"),
                   help=argparse.SUPPRESS)  # fmt: skip
    return p


def check_scenario(scenario: str, items: list[int]) -> None:
    """The project's error for a scenario that cannot be built at one of the catalogue sizes
    (unknown name, too few items for its slate), before the first child starts."""
    from divrec_rl.resolve import resolve_scenario

    for n_items in items:
        resolve_scenario(scenario, None, {"catalog": {"n_items": n_items}})


def main(argv: list[str] | None = None) -> None:
    """Measure every (items, N) point in a child process; plot; print a table or JSON."""
    args = parser().parse_args(argv)
    if args.point:
        print(json.dumps(run_point(args.scenario, *args.point, args.seconds, args.min_steps)))
        return
    check_scenario(args.scenario, args.items)
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
    print("| items | users N | steps | user-steps/s | setup s | peak RSS MB | data MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['n_items']:,} | {r['n_users']:,} | {r['steps']:,} "
            f"| {r['user_steps_per_s']:,.0f} | {r['setup_s']:.2f} | {r['peak_rss_mb']:,.0f} "
            f"| {r['core_mb']:,.0f} |"
        )
    print("\n(data MB: peak RSS less the peak after a 1-user warm-up env: imports excluded)")


if __name__ == "__main__":
    run(main)
