"""Stage 2 of the fair experiment: a sweep file that retrains a tuning sweep's chosen
configuration with fresh training seeds.

    python experiments/fair/retrain_chosen.py SWEEP_DIR OUT.yaml [--seeds 1,2,3,4,5] [--strength F]

Reads ``SWEEP_DIR/sweep.yaml`` (the tuning sweep as it was run) and ``SWEEP_DIR/sweep.csv`` (the
trials, the chosen configuration marked ``chosen = yes``) and writes a sweep file with the same
scenario, overrides, train settings and selection metric, whose space is the chosen values
(one grid point each) and whose seeds are ``--seeds`` — by default seeds the tuning did not use
(it used seed 0), so the reported models were not themselves picked for a lucky seed.
``--strength F`` scales the scenario's boredom and patience by F exactly as the sensitivity scan
does (:func:`divrec_rl.evaluation.sensitivity.strength_overrides`), for the scan's PPO runs.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import yaml


def chosen_values(sweep_dir: Path, keys: list[str]) -> dict[str, object]:
    """The swept values of the chosen configuration (one ``chosen = yes`` row is enough: every
    seed of a configuration has the same values)."""
    with open(sweep_dir / "sweep.csv", newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("chosen") == "yes"]
    if not rows:
        sys.exit(f"error: {sweep_dir}/sweep.csv: no configuration is marked chosen = yes")
    return {k: yaml.safe_load(rows[0][k]) for k in keys}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--strength", type=float, default=None)
    args = parser.parse_args(argv)
    spec = yaml.safe_load((args.sweep_dir / "sweep.yaml").read_text(encoding="utf-8"))
    values = chosen_values(args.sweep_dir, list(spec["space"]))
    overrides = dict(spec.get("overrides") or {})
    if args.strength is not None:
        from divrec_rl.evaluation.sensitivity import strength_overrides
        from divrec_rl.resolve import resolve_scenario

        scaled = strength_overrides(resolve_scenario(spec["scenario"], overrides=overrides),
                                    args.strength)  # fmt: skip
        for part, fields in scaled["behaviour"].items():
            for name, value in fields.items():
                overrides[f"behaviour.{part}.{name}"] = value
    stage2 = {
        "scenario": spec["scenario"],
        "overrides": overrides,
        "train": spec.get("train", {}),
        "space": {k: {"grid": [v]} for k, v in values.items()},
        "seeds": [int(s) for s in args.seeds.split(",")],
        "metric": spec.get("metric", "val/mean_reward"),
        "imports": spec.get("imports", []),
    }
    head = (
        f"# Stage 2: the configuration chosen by {args.sweep_dir} on validation users,\n"
        f"# retrained with training seeds {stage2['seeds']} (written by retrain_chosen.py).\n"
    )
    args.out.write_text(head + yaml.safe_dump(stage2, sort_keys=False), encoding="utf-8")
    print(f"wrote {args.out}: {values}")


if __name__ == "__main__":
    main()
