"""``divrec-rl simulate``: run users through a scenario with a simple policy and print metrics."""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np
import yaml

from divrec_rl.config import ScenarioError, dotted_to_nested
from divrec_rl.envs.slate_env import make_simulator
from divrec_rl.resolve import DEFAULT_SCENARIO
from divrec_rl.rollout import POLICIES, run_episodes, summarise


def parse_assignments(items: list[str]) -> dict[str, Any]:
    """``["a.b=1", "c=x"]`` → nested overrides; values parsed as YAML scalars (never eval)."""
    flat: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ScenarioError(
                f"--set {item!r}: expected FIELD=VALUE, e.g. reward.diversity_weight=0.2"
            )
        try:
            flat[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ScenarioError(f"--set {item!r}: the value is not a valid YAML scalar") from None
    return dotted_to_nested(flat)


def add_scenario_arguments(p: argparse.ArgumentParser) -> None:
    """``--scenario``, ``--config`` and ``--set``: the scenario layers every command shares."""
    p.add_argument(
        "--scenario", default=DEFAULT_SCENARIO, help="scenario name, module:attr or YAML path"
    )
    p.add_argument(
        "--config", action="append", default=[], metavar="EXTRA.yaml", help="extra config file(s)"
    )
    p.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE", help="override one field"
    )


def add_simulate_command(subparsers: argparse._SubParsersAction) -> None:
    """Register ``simulate``."""
    p = subparsers.add_parser(
        "simulate", help="run a simple policy through a scenario, print metrics"
    )
    add_scenario_arguments(p)
    p.add_argument("--policy", choices=sorted(POLICIES), default="random", help="slate policy")
    p.add_argument("--users", type=int, default=200, help="users simulated (one episode each)")
    p.add_argument("--seed", type=int, default=0, help="seed of the users and of the policy")
    p.add_argument("--split", choices=["train", "val", "eval"], default="eval", help="user split")
    p.add_argument(
        "--diversity-weight", type=float, default=None, help="λ (default: the scenario's)"
    )
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    if args.users < 1:
        raise ScenarioError(f"--users: must be ≥ 1, got {args.users}")
    sim = make_simulator(
        args.scenario,
        args.users,
        args.split,
        args.diversity_weight,
        parse_assignments(args.set),
        args.config,
    )
    keys = np.array(
        [np.random.default_rng(args.seed + i).integers(0, 2**63 - 1) for i in range(args.users)]
    )
    log = run_episodes(sim, POLICIES[args.policy](args.seed), keys.astype(np.uint64))
    summary = summarise(sim, log)
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"scenario {sim.scenario.name}, policy {args.policy}, "
            f"{args.users} {args.split} users, seed {args.seed}"
        )
        for key, value in summary.items():
            print(f"  {key:18s} {value:10.4f}")
    return 0
