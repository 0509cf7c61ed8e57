"""Mutation score of the modules whose arithmetic users trust (issue 15).

Runs mutmut (3.x, pinned in the ``test`` extra) once per module group, each with a targeted test
selection so a run finishes in minutes on two cores, and prints per module::

    module  mutants  killed  survived  no-tests  timeout  kill-rate

followed by every surviving mutant's diff.  Kill rate = (killed + timeout) / mutants; a mutant
that no selected test reaches counts as surviving ("no tests").

mutmut rewrites a copy of the sources under ``mutants/`` in the directory it runs in.  The
repository maps ``agents/``, ``envs/`` and ``scenarios/`` into the ``divrec_rl`` package
(``pyproject.toml``'s ``package-dir``), so the script lays the package out as installed in a
temporary workspace — ``divrec_rl/`` with those folders inside, ``tests/`` and a generated
``pyproject.toml`` — and runs mutmut there; the source tree is never written to.

Usage::

    .venv/bin/python benchmarks/mutation_score.py                 # every module group
    .venv/bin/python benchmarks/mutation_score.py stats rerank    # some of them
    .venv/bin/python benchmarks/mutation_score.py --list

This is a benchmark, not a test: minutes per group on two cores, the checkpoint group the
slowest (see docs/testing.md).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from _cli import output_file, positive_int, run

from divrec_rl.atomic import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Group:
    """Files to mutate (paths inside the installed ``divrec_rl`` package) and the pytest
    arguments that select the tests run (files, ``-k`` expressions)."""

    files: tuple[str, ...]
    tests: tuple[str, ...]


GROUPS: dict[str, Group] = {
    "metrics": Group(
        (
            "divrec_rl/metrics/inputs.py",
            "divrec_rl/metrics/engagement.py",
            "divrec_rl/metrics/intra_list.py",
            "divrec_rl/metrics/coverage.py",
            "divrec_rl/metrics/exposure.py",
            "divrec_rl/metrics/bubble.py",
            "divrec_rl/metrics/ranking.py",
        ),
        ("tests/test_metrics.py", "tests/test_metric_inputs.py", "tests/test_metric_edges.py"),
    ),
    "choice": Group(
        ("divrec_rl/users/choice.py",),
        ("tests/test_choice.py",),
    ),
    "rerank": Group(
        ("divrec_rl/agents/rerank.py",), ("tests/test_rerank.py", "tests/test_rerank_edges.py")
    ),
    "stats": Group(
        ("divrec_rl/evaluation/stats.py",),
        ("tests/test_interval_reference.py", "tests/test_bounded_intervals.py"),
    ),
    "rng": Group(("divrec_rl/rng.py",), ("tests/test_rng_streams.py",)),
    "reward": Group(("divrec_rl/reward.py",), ("tests/test_reward_mixing.py",)),
    # The checkpoint tests that fine-tune a tiny BERT ("trained" in their names, and
    # tests/test_bert_checkpoint.py) cost seconds per mutant; the rest write checkpoints directly.
    "checkpoint": Group(
        ("divrec_rl/bert/checkpoint.py",),
        ("tests/test_checkpoint_integrity.py", "-k", "not trained"),
    ),
}

# Where each top-level source folder lives inside the installed package (pyproject package-dir).
LAYOUT = {
    "divrec_rl": "divrec_rl",
    "agents": "divrec_rl/agents",
    "envs": "divrec_rl/envs",
    "scenarios": "divrec_rl/scenarios",
}

IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


def build_workspace(workspace: Path, group: Group) -> None:
    """Lay the package out as installed, copy the tests, write mutmut's configuration."""
    for source, target in LAYOUT.items():
        shutil.copytree(ROOT / source, workspace / target, ignore=IGNORE, dirs_exist_ok=True)
    shutil.copytree(ROOT / "tests", workspace / "tests", ignore=IGNORE)
    pytest_ini = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    config = {
        "source_paths": ["divrec_rl"],
        "only_mutate": list(group.files),
        "pytest_add_cli_args_test_selection": list(group.tests),
        # mutmut forks workers; pytest-randomly's reseeding and the cache are noise here.
        "pytest_add_cli_args": ["-p", "no:randomly", "-p", "no:cacheprovider", "-q"],
        "use_git_change_detection": False,
    }
    lines = ["[tool.mutmut]"] + [f"{k} = {json.dumps(v)}" for k, v in config.items()]
    lines += ["", "[tool.pytest.ini_options]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in pytest_ini["ini_options"].items()]
    (workspace / "pyproject.toml").write_text("\n".join(lines) + "\n")


def run_group(name: str, group: Group, max_children: int, keep: bool) -> dict[str, dict]:
    """Run mutmut over one group; returns ``{file: {mutant_name: status}}``."""
    from mutmut.stats import status_by_exit_code

    workspace = Path(tempfile.mkdtemp(prefix=f"mutation-{name}-"))
    try:
        build_workspace(workspace, group)
        cmd = [sys.executable, "-m", "mutmut", "run", "--max-children", str(max_children)]
        done = subprocess.run(cmd, cwd=workspace, capture_output=True, text=True)
        (workspace / "mutmut.log").write_text(done.stdout + done.stderr)
        out: dict[str, dict] = {}
        for file in group.files:
            meta = workspace / "mutants" / (file + ".meta")
            if not meta.exists():
                print(f"  {file}: no results (mutmut exit {done.returncode}); log:")
                print(done.stdout[-3000:] + done.stderr[-3000:])
                continue
            codes = json.loads(meta.read_text())["exit_code_by_key"]
            statuses = {k: status_by_exit_code[v] for k, v in codes.items()}
            survivors = [k for k, s in statuses.items() if s not in KILLED]
            diffs = _diffs(workspace, file, survivors)
            out[file] = {"statuses": statuses, "diffs": diffs}
        return out
    finally:
        if keep:
            print(f"  workspace kept: {workspace}")
        else:
            shutil.rmtree(workspace, ignore_errors=True)


KILLED = {"killed", "timeout"}


# Run in the workspace (mutmut reads its configuration from the current directory): prints the
# diffs of the named mutants of one file as JSON, in one process rather than one per mutant.
_DIFF_SCRIPT = """
import json, sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
path, names = sys.argv[1], sys.argv[2:]
print(json.dumps({n: get_diff_for_mutant(n, path=path) for n in names}))
"""


def _diffs(workspace: Path, file: str, mutants: list[str]) -> dict[str, str]:
    """Each surviving mutant's diff, as ``mutmut show`` prints it."""
    if not mutants:
        return {}
    cmd = [sys.executable, "-c", _DIFF_SCRIPT, file, *mutants]
    done = subprocess.run(cmd, cwd=workspace, capture_output=True, text=True)
    if done.returncode != 0:
        return dict.fromkeys(mutants, f"(no diff: {done.stderr.strip()[-300:]})")
    return {k: v.strip() for k, v in json.loads(done.stdout).items()}


def report(results: dict[str, dict], diffs: bool = True) -> None:
    """Print the per-module table, then (with ``diffs``) every surviving mutant."""
    header = f"{'module':40s} {'mutants':>7s} {'killed':>6s} {'surv.':>5s} {'no-t':>4s} {'t/o':>4s}"
    print(header + f" {'kill-rate':>9s}")
    for file, data in results.items():
        statuses = list(data["statuses"].values())
        n = len(statuses)
        killed = sum(s == "killed" for s in statuses)
        timeout = sum(s == "timeout" for s in statuses)
        survived = sum(s == "survived" for s in statuses)
        no_tests = sum(s == "no tests" for s in statuses)
        rate = (killed + timeout) / n if n else float("nan")
        print(f"{file:40s} {n:7d} {killed:6d} {survived:5d} {no_tests:4d} {timeout:4d} {rate:9.1%}")
    if not diffs:
        return
    print("\nSurviving mutants")
    for data in results.values():
        for mutant, diff in data["diffs"].items():
            print(f"\n--- {mutant} ({data['statuses'][mutant]})")
            print(diff)


def parser() -> argparse.ArgumentParser:
    """The flags; the worker count and the ``--json`` path are checked here."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("groups", nargs="*", help=f"some of: {', '.join(GROUPS)} (default all)")
    p.add_argument("--list", action="store_true", help="print the groups and exit")
    p.add_argument("--max-children", type=positive_int, default=2, help="parallel mutant workers")
    p.add_argument("--keep", action="store_true", help="keep the temporary workspaces")
    # Checked now: the file is written after every group ran, hours later.
    p.add_argument("--json", type=output_file(), help="also write the results to this file")
    return p


def main(argv: list[str] | None = None) -> None:
    """Parse the group names, run each group, print the report."""
    p = parser()
    args = p.parse_args(argv)
    if args.list:
        for name, group in GROUPS.items():
            print(f"{name}: {' '.join(group.files)}  <-  {' '.join(group.tests)}")
        return
    unknown = [g for g in args.groups if g not in GROUPS]
    if unknown:
        p.error(f"groups: unknown {', '.join(unknown)}; allowed: {', '.join(GROUPS)}")
    results: dict[str, dict] = {}
    for name in args.groups or list(GROUPS):
        print(f"[{name}] running mutmut …", flush=True)
        group = run_group(name, GROUPS[name], args.max_children, args.keep)
        report(group)  # as each group finishes: a long run shows its results as it goes
        print(flush=True)
        results.update(group)
    print("All groups")
    report(results, diffs=False)
    if args.json:
        atomic_write_text(args.json, json.dumps(results, indent=1))


if __name__ == "__main__":
    run(main)
