"""Evaluation: every agent meets the same held-out users with the same seeds, and a report says
how they compare (``divrec-rl evaluate``, ``scripts/evaluate.py``).

Modules, one job each:

* :mod:`~divrec_rl.evaluation.summary` — per-user records and the metrics of ``results.csv``;
* :mod:`~divrec_rl.evaluation.stats` — bootstrap intervals and the paired test;
* :mod:`~divrec_rl.evaluation.baseline` — logging policy data, fitting and validation tuning of
  the supervised diversity-regularised baseline;
* :mod:`~divrec_rl.evaluation.cross_sim` — the second user model (``mf`` response model);
* :mod:`~divrec_rl.evaluation.runner` — the protocol: agents × seeds × users, both simulators,
  the frontier sweep;
* :mod:`~divrec_rl.evaluation.io`, :mod:`~divrec_rl.evaluation.plots`,
  :mod:`~divrec_rl.evaluation.report` — files, figures and ``report.md``;
* the command line is :mod:`divrec_rl.commands.evaluate`.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "METRICS": "summary",
    "UserRecords": "summary",
    "summarise": "summary",
    "Baseline": "baseline",
    "train_baseline": "baseline",
    "BaselineSettings": "settings",
    "EvaluationConfig": "runner",
    "EvaluationResult": "runner",
    "evaluate": "runner",
    "read_trajectories": "io",
    "write_evaluation": "report",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    # Lazy (PEP 562): the command line imports this package without paying for torch and pandas.
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"divrec_rl.evaluation.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'divrec_rl.evaluation' has no attribute {name!r}")
