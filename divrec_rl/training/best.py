"""Checkpoint selection on validation users (``--select-checkpoint best-val``).

After every periodic evaluation on the **val** split, :class:`BestOnValidation` compares the
validation return ``val/mean_reward`` (mean over the evaluation users of
Σₜ engagementₜ + λ·diversityₜ, the objective PPO and the baseline's tuning both use) with the
best so far; a strictly higher value replaces ``best_model.zip`` (written to a temporary file and
renamed) and ``best_model.json`` (``{"step": N, "val": {...}}``).  A resumed run reads the record
back, so the selection spans the whole run.  The held-out ``eval`` users are never involved.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from divrec_rl.atomic import atomic_write_text
from divrec_rl.training.checkpoint import save_model
from divrec_rl.training.rundir import BEST_MODEL_FILE, BEST_RECORD_FILE

__all__ = ["BestOnValidation", "read_best"]

METRIC = "mean_reward"


def read_best(run_dir: Path) -> dict[str, Any] | None:
    """``{"step": N, "val": stats}`` of the selected checkpoint, or None before the first one."""
    path = Path(run_dir) / BEST_RECORD_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


class BestOnValidation:
    """Keep the weights of the best validation evaluation of a run (module docstring)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.record = read_best(self.run_dir)

    @property
    def best_value(self) -> float:
        return float("-inf") if self.record is None else float(self.record["val"][METRIC])

    def offer(self, model: Any, step: int, stats: dict[str, float]) -> bool:
        """Keep ``model`` if ``stats[METRIC]`` beats the best so far; return whether it did."""
        if not float(stats[METRIC]) > self.best_value:
            return False
        save_model(model, self.run_dir / BEST_MODEL_FILE)
        self.record = {"step": int(step), "val": {k: float(v) for k, v in stats.items()}}
        atomic_write_text(self.run_dir / BEST_RECORD_FILE, json.dumps(self.record, indent=2))
        return True
