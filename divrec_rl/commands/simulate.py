"""``divrec-rl simulate``: run users through a scenario with one agent and print its metrics.

The agent comes from the agent registry (:mod:`divrec_rl.agents.registry`), the episodes from
:func:`divrec_rl.rollout.rollout` and the metrics from
:func:`divrec_rl.evaluation.summary.summarise` — the same pieces ``divrec-rl evaluate`` uses.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import yaml

from divrec_rl.config import ScenarioError, dotted_to_nested
from divrec_rl.resolve import DEFAULT_SCENARIO

SIMPLE_POLICIES = ("random", "popularity", "greedy")


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
    p.add_argument(
        "--policy",
        default="random",
        metavar="AGENT",
        help=f"agent: {', '.join(SIMPLE_POLICIES)}, baseline (trains on logs first), "
        "ppo=RUN_DIR (default: random)",
    )
    p.add_argument("--users", type=int, default=200, help="users simulated (one episode each)")
    p.add_argument("--seed", type=int, default=0, help="seed of the users and of the policy")
    p.add_argument("--split", choices=["train", "val", "eval"], default="eval", help="user split")
    p.add_argument(
        "--diversity-weight", type=float, default=None, help="λ (default: the scenario's)"
    )
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    # Imported here: the registry and the metrics pull in torch and scipy.
    from divrec_rl.agents.registry import AgentContext, check_compatible, make_agent, parse_agents
    from divrec_rl.envs.slate_env import make_simulator
    from divrec_rl.evaluation.summary import summarise
    from divrec_rl.rollout import rollout, user_keys

    if args.users < 1:
        raise ScenarioError(f"--users: must be ≥ 1, got {args.users}")
    specs = parse_agents(args.policy, flag="--policy")
    if len(specs) != 1:
        raise ScenarioError(f"--policy: name one agent, got {args.policy!r}")
    spec = specs[0]
    sim = make_simulator(
        args.scenario,
        args.users,
        args.split,
        args.diversity_weight,
        parse_assignments(args.set),
        args.config,
    )

    def baseline():  # only built if the agent is a supervised baseline
        from divrec_rl.evaluation.baseline import train_baseline

        return train_baseline(sim.scenario, sim.diversity_weight)

    ctx = AgentContext(sim.diversity_weight, baseline)
    if spec.kind == "ppo":
        check_compatible(ctx.ppo(spec.path), sim, spec.label)  # type: ignore[arg-type]
    agent = make_agent(ctx, spec, args.seed)
    traj = rollout(agent, sim, user_keys(args.seed, args.users))
    summary = {"users": float(args.users), **summarise(traj, sim.catalog)}
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"scenario {sim.scenario.name}, policy {spec.label}, "
            f"{args.users} {args.split} users, seed {args.seed}"
        )
        for key, value in summary.items():
            print(f"  {key:18s} {value:10.4f}")
    return 0
