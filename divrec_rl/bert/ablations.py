"""The compared models of the fidelity report: ablation twins of a checkpoint's recipe, trained
per seed, and mean ± std aggregation over seeds.

Rows (:data:`ROWS`):

* ``hybrid`` -- the checkpoint's own recipe (default: hybrid item tower, fine-tuned encoder);
  the checkpoint itself for its seed, a twin with the seed replaced for the other seeds;
* ``text`` -- the same recipe with ``item_tower = text`` (no item-ID offsets);
* ``id`` -- ``item_tower = id`` (no text; the encoder is not used, ``finetune_layers = 0``);
* ``frozen`` -- the same recipe with ``finetune_layers = 0`` (encoder not fine-tuned); with
  ``encoder_softmax_frozen`` (on in every config written since the field exists) it keeps the
  recipe's encoder softmax, so it differs from the recipe in the encoder's weights alone;
* ``popularity``, ``mf`` -- :mod:`divrec_rl.bert.baselines` (fitted per seed in the report).

A twin is trained into ``OUT/twins/<row>-seed<s>`` and resumed or reused when it is already
there, so an interrupted report continues where it stopped and twins can be trained ahead with
``divrec-rl finetune --out OUT/twins/<row>-seed<s> …`` (same settings).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from divrec_rl.bert import checkpoint as ckpt
from divrec_rl.bert.checkpoint import UserModelTables
from divrec_rl.bert.settings import HYBRID_ONLY_FIELDS, TrainConfig
from divrec_rl.data.interactions import InteractionData

#: Settings each two-tower row changes in the checkpoint's recipe.
#: The ``text`` and ``id`` towers mix no text with no ID offset, so the hybrid-only settings
#: that weigh the two are off there.
_NO_MIX = dict.fromkeys(HYBRID_ONLY_FIELDS, 0.0)
VARIANTS: dict[str, dict[str, Any]] = {
    "hybrid": {},
    "text": {"item_tower": "text", **_NO_MIX},
    "id": {"item_tower": "id", "finetune_layers": 0, **_NO_MIX},
    "frozen": {"finetune_layers": 0},
}
ROWS = ("hybrid", "text", "id", "frozen", "popularity", "mf")
TWO_TOWER_ROWS = tuple(VARIANTS)


def parse_rows(text: str) -> tuple[str, ...]:
    """``"text,id"`` → the rows in :data:`ROWS` order; unknown names are one ValueError line."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in ROWS]
    if bad or not names:
        raise ValueError(
            f"--rows: unknown row(s) {', '.join(bad) or '(none given)'}; allowed: {', '.join(ROWS)}"
        )
    return tuple(r for r in ROWS if r in names)


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"0,1,2"`` → ``(0, 1, 2)``; anything else is one ValueError line naming ``--seeds``."""
    try:
        seeds = tuple(dict.fromkeys(int(s) for s in text.split(",") if s.strip()))
    except ValueError:
        seeds = ()
    if not seeds or min(seeds) < 0:
        raise ValueError(f"--seeds: a comma-separated list of seeds ≥ 0, got {text!r}")
    return seeds


def variant_config(base: TrainConfig, row: str, seed: int, **fixed: Any) -> TrainConfig:
    """The recipe of two-tower ``row`` at ``seed`` (``fixed``: base_model, dataset)."""
    return base.with_values(**{**VARIANTS[row], "seed": seed, **fixed})


def twin_tables(
    cfg: TrainConfig,
    directory: Path,
    device: str,
    progress: bool,
    data: InteractionData,
) -> tuple[float, UserModelTables]:
    """Train (or finish, or reuse) the twin in ``directory``; its wall seconds and tables."""
    from divrec_rl.bert.train import finetune

    run = finetune(
        cfg,
        directory,
        device=device,
        resume=(directory / ckpt.CONFIG_FILE).is_file(),
        progress=progress,
        data=data,
        threads=0,
    )
    return run.wall_seconds, ckpt.load_tables(directory)


def aggregate(per_seed: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """``{"mean": {metric: …}, "std": {metric: …}}`` over seeds (population std, 0 for one)."""
    keys = list(per_seed[0])
    values = {k: np.array([m[k] for m in per_seed], dtype=np.float64) for k in keys}
    return {
        "mean": {k: float(v.mean()) for k, v in values.items()},
        "std": {k: float(v.std()) for k, v in values.items()},
    }
