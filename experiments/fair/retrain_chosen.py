"""Stage 2 of the fair experiment: a sweep file that retrains a tuning sweep's chosen
configuration with fresh training seeds.

    python experiments/fair/retrain_chosen.py SWEEP_DIR OUT.yaml [--seeds 1,2,3,4,5] [--strength F]
    python experiments/fair/retrain_chosen.py STAGE2.yaml OUT.yaml [--seeds ...] [--strength F]

Reads ``SWEEP_DIR/sweep.yaml`` (the tuning sweep as it was run) and ``SWEEP_DIR/sweep.csv`` (the
trials, the chosen configuration marked ``chosen = yes``) — or a stage-2 file this script wrote
earlier (e.g. the committed ``seeds-SCENARIO.yaml``: every key of its space one grid point), so a
scan can start from the recorded choice when the tuning directory is gone — and writes a sweep
file with the same
scenario, overrides, train settings and selection metric, whose space is the chosen values
(one grid point each) and whose seeds are ``--seeds`` — by default seeds the tuning did not use
(it used seed 0), so the reported models were not themselves picked for a lucky seed.
``--strength F`` scales the scenario's boredom and patience by F exactly as the sensitivity scan
does (:func:`divrec_rl.evaluation.sensitivity.strength_overrides`), for the scan's PPO runs; F
applies to the source's scenario with its overrides, so start a scan from the factor-1 choice
(a tuning directory or ``seeds-SCENARIO.yaml``), not from another factor's file.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import yaml

from divrec_rl.atomic import atomic_write_text
from divrec_rl.errors import DivrecError
from divrec_rl.sweep.trial import chosen_configuration


def recorded_values(spec: dict[str, object], path: Path) -> dict[str, object]:
    """The values of a stage-2 file's space (each key a one-point ``grid``)."""
    values: dict[str, object] = {}
    for key, domain in dict(spec["space"]).items():  # type: ignore[call-overload]
        grid = domain.get("grid") if isinstance(domain, dict) else None
        if not isinstance(grid, list) or len(grid) != 1:
            sys.exit(f"error: {path}: space.{key}: a stage-2 file has one grid point per key, "
                     f"got {domain!r}")  # fmt: skip
        values[key] = grid[0]
    return values


def portable(path: Path) -> Path:
    """``path`` as the committed stage-2 file should name it: relative to the working directory
    when it lies inside it, else its last two parts (``sweeps/tune-X`` under run.sh's output
    root), so no machine's scratch directory ends up in a committed file."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return Path(*path.parts[-2:])


def _scaled(spec: dict, overrides: dict[str, object], strength: float) -> dict[str, object]:
    """The dotted overrides that scale the source scenario's boredom and patience by
    ``strength``; exits with the scan's one-line error, before any training, when the scan's
    factors would not change the simulated users (``require_effect``, strength against 1).
    That check needs the scenario built; where it cannot be yet (a MovieLens user model not
    trained on this machine), the file is written and ``divrec-rl sensitivity`` checks later."""
    from divrec_rl.errors import ScenarioError
    from divrec_rl.evaluation.sensitivity import require_effect, strength_overrides
    from divrec_rl.resolve import import_plugins, resolve_scenario
    from divrec_rl.sweep.spec import nested_overrides

    try:
        import_plugins(list(spec.get("imports") or []))
        scenario = resolve_scenario(spec["scenario"], overrides=nested_overrides(overrides))
        scaled = strength_overrides(scenario, strength)["behaviour"]
        with contextlib.suppress(ScenarioError):  # raised only by building the scenario here
            require_effect(scenario, (strength, 1.0), flag=f"--strength {strength:g}")
    except DivrecError as exc:
        sys.exit("\n".join(f"error: {line}" for line in exc.errors))
    return {f"behaviour.{part}.{k}": v for part, kv in scaled.items() for k, v in kv.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="tuning sweep directory or stage-2 file")
    parser.add_argument("out", type=Path)
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--strength", type=float, default=None)
    args = parser.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        parser.exit(2, f"error: --seeds: expected comma-separated integers, got {args.seeds!r}\n")
    if args.source.is_dir():
        try:  # first: it says what is missing when the directory is not a finished sweep
            values = chosen_configuration(args.source)[1]
        except DivrecError as exc:
            sys.exit("\n".join(f"error: {line}" for line in exc.errors))
        spec = yaml.safe_load((args.source / "sweep.yaml").read_text(encoding="utf-8"))
        origin = f"chosen by {portable(args.source)} on validation users"
    elif args.source.is_file():
        spec = yaml.safe_load(args.source.read_text(encoding="utf-8"))
        values = recorded_values(spec, args.source)
        origin = f"recorded in {portable(args.source)} (chosen by its tuning on validation users)"
    else:
        sys.exit(f"error: {args.source}: no such sweep directory or stage-2 file")
    overrides = dict(spec.get("overrides") or {})
    if args.strength is not None:
        overrides.update(_scaled(spec, overrides, args.strength))
    stage2 = {
        "scenario": spec["scenario"],
        "overrides": overrides,
        "train": spec.get("train", {}),
        "space": {k: {"grid": [v]} for k, v in values.items()},
        "seeds": seeds,
        "metric": spec.get("metric", "val/mean_reward"),
        "imports": spec.get("imports", []),
    }
    head = (
        f"# Stage 2: the configuration {origin},\n"
        f"# retrained with training seeds {stage2['seeds']} (written by retrain_chosen.py).\n"
    )
    atomic_write_text(args.out, head + yaml.safe_dump(stage2, sort_keys=False))
    print(f"wrote {args.out}: {values}")


if __name__ == "__main__":
    main()
