"""How much of the hidden fatigue an agent could read from what it observes.

    python experiments/fair/fatigue_observability.py --scenario movielens-100k [--users 1000]
        [--set behaviour.boredom.decay=0.9]

The myopic oracle's lead over the learned agents at a scenario's default strength comes from
reading each user's fatigue (``docs/evaluation.md``, the sensitivity scans).  Fatigue is hidden,
but it starts at 0 and is built only from observed events::

    F_c ← decay·F_c + w_exp·shown_c + w_cons·consumed_c      (each step; × (1 − recovery)
                                                              when a new session starts)

This script plays one episode per user with the logging policy (``noisy-popularity``, τ = 1) and,
before every step, pairs each user's true fatigue ``F_c`` with observable quantities of the same
category ``c``.  It prints the R² of ordinary least squares (with an intercept, pooled over
users, steps and categories) of ``F_c`` on:

* ``exposure``: the observation's exposure average of category c;
* ``exposure + consumption average``: plus the observation's per-click consumption average;
* ``... + counters``: plus the session number and the steps since the last click;
* ``exposure + timed consumption``: the exposure average and the consumption average that
  decays every step at the observation's own rate (``users.timed_consumption``, which this
  script switches on; the logging policy ignores it, so the episodes are the same);
* ``... + session``: plus the session number.

``--set KEY=VALUE`` changes a scenario field first (the project's ``--set`` syntax).

R² = 1 means a linear function of those observables gives the fatigue exactly.  Reads hidden
state, so it is a diagnostic, not an agent.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from divrec_rl.agents.baselines import NoisyPopularityAgent
from divrec_rl.config import merge_overrides
from divrec_rl.errors import DivrecError
from divrec_rl.resolve import resolve_scenario
from divrec_rl.rollout import rollout, user_keys
from divrec_rl.scenario import build_scenario
from divrec_rl.simulator import SlateSimulator
from divrec_rl.training.config import parse_set

#: The regressions printed: label → the columns of :func:`collect`'s design matrix they use.
REGRESSIONS: dict[str, tuple[str, ...]] = {
    "exposure": ("exposure",),
    "exposure + consumption average": ("exposure", "consumption_average"),
    "exposure + consumption average + counters": (
        "exposure",
        "consumption_average",
        "session",
        "steps_since_click",
    ),
    "exposure + timed consumption": ("exposure", "timed_consumption"),
    "exposure + timed consumption + session": ("exposure", "timed_consumption", "session"),
}


class _Recorder:
    """Wraps the logging agent: before each step it stores the true fatigue of the active users
    beside their observed features."""

    def __init__(self, simulator: SlateSimulator, seed: int) -> None:
        self.agent = NoisyPopularityAgent(temperature=1.0, seed=seed)
        self.name = "recorder"
        self.layout = simulator.user_layout()
        self.n_categories = simulator.catalog.n_categories
        self.rows: list[dict[str, np.ndarray]] = []

    def act(self, observation: dict[str, np.ndarray], simulator: SlateSimulator) -> np.ndarray:
        active = np.flatnonzero(simulator.state.active)
        user = observation["user"][active].astype(np.float64)

        def category_block(name: str) -> np.ndarray:
            return user[:, self.layout[name]].ravel()

        def per_category(name: str) -> np.ndarray:
            return np.repeat(user[:, self.layout[name]], self.n_categories, axis=1).ravel()

        self.rows.append(
            {
                "fatigue": simulator.state.fatigue[active].astype(np.float64).ravel(),
                "exposure": category_block("exposure"),
                "consumption_average": category_block("category_history"),
                "session": per_category("session"),
                "steps_since_click": per_category("steps_since_click"),
                "timed_consumption": category_block("timed_consumption"),
            }
        )
        return self.agent.act(observation, simulator)


def collect(
    scenario_name: str, users: int, seed: int, overrides: dict[str, Any] | None = None
) -> dict[str, np.ndarray]:
    """One episode per ``eval`` user of ``scenario_name`` (with dotted-key ``overrides``) under
    the logging policy: the columns named in :data:`REGRESSIONS` and ``fatigue``, one entry per
    (user, step, category).  ``overrides``: nested scenario fields (:func:`parse_set`)."""
    timed = merge_overrides(overrides or {}, {"users": {"timed_consumption": True}})
    scenario = build_scenario(resolve_scenario(scenario_name, overrides=timed))
    simulator = SlateSimulator(scenario, users, "eval")
    recorder = _Recorder(simulator, seed)
    rollout(recorder, simulator, user_keys(seed, users))
    return {k: np.concatenate([r[k] for r in recorder.rows]) for k in recorder.rows[0]}


def r_squared(target: np.ndarray, columns: list[np.ndarray]) -> float:
    """R² of the least-squares fit of ``target`` on ``columns`` and an intercept:
    ``1 − Σ(y − ŷ)² / Σ(y − ȳ)²``."""
    design = np.column_stack([np.ones_like(target), *columns])
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    residual = target - design @ coef
    total = target - target.mean()
    return float(1.0 - residual @ residual / (total @ total))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="synthetic-shop")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="a scenario field, e.g. behaviour.boredom.decay=0.9 (repeatable)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.users < 1:
        parser.exit(2, f"error: --users: must be ≥ 1, got {args.users}\n")
    if args.seed < 0:
        parser.exit(2, f"error: --seed: must be ≥ 0, got {args.seed}\n")
    try:
        data = collect(args.scenario, args.users, args.seed, parse_set(args.set))
    except DivrecError as exc:  # an unknown scenario, a bad --set: one line, as the CLI says it
        parser.exit(2, f"error: {exc}\n")
    print(f"{args.scenario}: {len(data['fatigue']):,} (user, step, category) rows, "
          f"mean fatigue {data['fatigue'].mean():.4f}")  # fmt: skip
    print("| observables | R² of the fatigue |\n|---|---|")
    for label, names in REGRESSIONS.items():
        print(f"| {label} | {r_squared(data['fatigue'], [data[n] for n in names]):.4f} |")


if __name__ == "__main__":
    main()
