"""``divrec-rl simulate``: run users through a scenario with one agent and print its metrics.

The agent comes from the agent registry (:mod:`divrec_rl.agents.registry`), the episodes from
:func:`divrec_rl.rollout.rollout` and the metrics from
:func:`divrec_rl.evaluation.summary.summarise` — the same pieces ``divrec-rl evaluate`` uses.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from divrec_rl.commands.common import (
    add_scenario_arguments,
    guarded,
    import_modules,
    scenario_overrides,
)
from divrec_rl.errors import EvaluationError
from divrec_rl.resolve import DEFAULT_SCENARIO
from divrec_rl.reward import MAX_DIVERSITY_WEIGHT, check_diversity_weight

if TYPE_CHECKING:
    from divrec_rl.config import ScenarioConfig

SIMPLE_POLICIES = ("random", "popularity", "greedy", "attraction-ranker")


def add_simulate_command(subparsers: argparse._SubParsersAction) -> None:
    """Register ``simulate``."""
    p = subparsers.add_parser(
        "simulate", help="run a simple policy through a scenario, print metrics"
    )
    add_scenario_arguments(
        p, scenario_help=f"scenario name, module:attr or YAML path (default: {DEFAULT_SCENARIO})"
    )
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
    p.add_argument(
        "--allow-scenario-mismatch",
        action="store_true",
        help="simulate a PPO run on a --scenario other than the one it was trained on "
        "(otherwise an error)",
    )
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=guarded(run_simulate))


def run_simulate(args: argparse.Namespace) -> int:
    """Run ``--users`` users through the scenario with ``--policy``; print the metrics."""
    # Imported here: the registry and the metrics pull in torch and scipy.
    from divrec_rl.agents.registry import (
        AgentContext,
        check_compatible,
        load_ppo_run,
        make_agent,
        parse_agents,
    )
    from divrec_rl.envs.slate_env import make_simulator
    from divrec_rl.evaluation.summary import summarise
    from divrec_rl.rollout import rollout, user_keys
    from divrec_rl.training.rundir import CHECKPOINT_DIR

    if args.users < 1:
        raise EvaluationError(f"--users: must be ≥ 1, got {args.users}")
    if args.seed < 0:
        raise EvaluationError(f"--seed: must be ≥ 0, got {args.seed}")
    specs = parse_agents(args.policy, flag="--policy")
    if len(specs) != 1:
        raise EvaluationError(f"--policy: name one agent, got {args.policy!r}")
    spec = specs[0]
    try:
        check_diversity_weight(args.diversity_weight)
    except (TypeError, ValueError):
        raise EvaluationError(
            f"--diversity-weight: must be a number in [0, {MAX_DIVERSITY_WEIGHT:g}], "
            f"got {args.diversity_weight}"
        ) from None
    import_modules(args)
    runs = {spec.path: load_ppo_run(spec.path)} if spec.kind == "ppo" else {}
    for given, run in runs.items():
        if Path(given).is_dir() and run.model_path.parent.name == CHECKPOINT_DIR:
            # evaluate records the model it used in its report; simulate has only stderr
            print(f"note: '{given}' has no final model; using {run.model_path}", file=sys.stderr)
    if runs:  # the run's own scenario, or one that matches it field by field
        scenario = _ppo_scenario(args, specs, runs)
        sim = make_simulator(scenario, args.users, args.split, args.diversity_weight)
    else:
        sim = make_simulator(
            DEFAULT_SCENARIO if args.scenario is None else args.scenario,
            args.users,
            args.split,
            args.diversity_weight,
            scenario_overrides(args),
            args.config,
        )

    def baseline(fit: int):  # only built if the agent is a supervised baseline (one fit)
        from divrec_rl.evaluation.baseline import train_baseline

        return train_baseline(sim.scenario, sim.diversity_weight)

    ctx = AgentContext(sim.diversity_weight, baseline, runs)  # type: ignore[arg-type]
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


def _ppo_scenario(args: argparse.Namespace, specs: list, runs: dict) -> ScenarioConfig:
    """The scenario a PPO run is simulated on, chosen as ``evaluate`` chooses it: without
    ``--scenario`` the one it was trained on, and one it was not trained on (field by field) an
    error unless ``--allow-scenario-mismatch`` (then a note on stderr)."""
    from divrec_rl.evaluation.results import EvaluationConfig
    from divrec_rl.evaluation.scenario_choice import choose_scenario

    config = EvaluationConfig(
        agents=specs,
        scenario=args.scenario,
        config_files=list(args.config),
        overrides=scenario_overrides(args),
        allow_scenario_mismatch=args.allow_scenario_mismatch,
    )
    notes: list[str] = []
    chosen = choose_scenario(config, runs, notes)
    for note in notes:
        print(f"note: {note}".replace("`", ""), file=sys.stderr)
    return chosen
