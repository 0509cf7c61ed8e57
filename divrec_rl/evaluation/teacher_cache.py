"""The tuned baseline's winning ranker, fitted once per scenario and kept on disk.

The PPO warm starts (``--prior baseline``, ``--bc-from baseline``) need the supervised
baseline's best setting — its click model and its re-ranker — which
:func:`~divrec_rl.evaluation.baseline.train_baseline` logs, fits and tunes in tens of seconds.
A sweep of many warm-started trials on one scenario would repeat that identical, deterministic
work in every trial, so the winner is stored once under a key of everything it depends on:

    key = sha256(format, divrec-rl version and source digest, resolved scenario settings,
                 the scenario's inputs, catalogue vectors, objective weight λ, BaselineSettings)

The source digest (:mod:`divrec_rl.provenance`) is in the key because the version number does
not change while the package is developed: a winner fitted by other code is never served.  The
same holds for a plug-in's code (a behaviour, a response model, a population … from outside the
package) and a trained user model: the scenario's inputs
(:func:`~divrec_rl.provenance.scenario_inputs`) carry the plug-in's source digest and the user
model's table digest, so editing a plug-in's dynamics refits the winner instead of serving one
fitted to the old ones.

The stored entry is ``DIR/KEY/ranker.safetensors`` (the click model's weights) and
``DIR/KEY/teacher.json`` (shapes, the winning (β, re-ranker, λ), its validation return and the
weights' sha256), written to a temporary sibling and renamed into place, so a killed run never
leaves half an entry.  An entry that does not load (missing file, wrong checksum, other shapes)
is refitted and replaced with a warning: the cache holds nothing that cannot be recomputed.

``DIR`` is ``$DIVREC_BASELINE_CACHE`` if set and non-empty, else
``~/.cache/divrec_rl/baselines``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

import divrec_rl
from divrec_rl.agents.supervised import ClickRanker, RerankAgent
from divrec_rl.evaluation.baseline import TuningRow, train_baseline
from divrec_rl.evaluation.settings import BaselineSettings
from divrec_rl.provenance import current_source_digest, scenario_inputs
from divrec_rl.scenario import Scenario

__all__ = ["Teacher", "default_cache_dir", "teacher_key", "tuned_teacher"]

FORMAT = 1
_WEIGHTS, _META = "ranker.safetensors", "teacher.json"


@dataclass
class Teacher:
    """The baseline's winning setting: its fitted click model and its validation row."""

    ranker: ClickRanker
    row: TuningRow

    def agent(self, name: str = "baseline") -> RerankAgent:
        """The setting behind the agent face (what ``evaluate`` calls ``baseline``)."""
        return RerankAgent(self.ranker, self.row.method, self.row.tradeoff, name)


def default_cache_dir() -> Path:
    """``$DIVREC_BASELINE_CACHE`` if set and non-empty, else ``~/.cache/divrec_rl/baselines``."""
    env = os.environ.get("DIVREC_BASELINE_CACHE", "")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "divrec_rl" / "baselines"


def teacher_key(scenario: Scenario, weight: float, settings: BaselineSettings) -> str:
    """The hex sha256 of everything the tuned winner depends on (module docstring)."""
    digest = hashlib.sha256()
    head = {
        "format": FORMAT,
        "version": divrec_rl.__version__,
        "source_sha256": current_source_digest(),
        "inputs": scenario_inputs(scenario),
        "scenario": scenario.config.model_dump(mode="json"),
        "weight": float(weight),
        "settings": settings.model_dump(mode="json"),
    }
    digest.update(json.dumps(head, sort_keys=True).encode())
    # A retrained user model at the same path changes the item vectors, not the settings.
    digest.update(np.ascontiguousarray(scenario.catalog.embeddings, dtype=np.float64).tobytes())
    return digest.hexdigest()


def tuned_teacher(
    scenario: Scenario,
    weight: float,
    settings: BaselineSettings | None = None,
    cache_dir: Path | str | None = None,
    progress: bool = False,
) -> Teacher:
    """The tuned baseline's winner on ``scenario`` for objective weight λ = ``weight``: read
    from the cache when an entry loads, else fitted and tuned by ``train_baseline`` and stored."""
    settings = settings or BaselineSettings()
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    entry = root / teacher_key(scenario, weight, settings)
    if entry.exists():
        try:
            teacher = _load(entry, settings)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            warnings.warn(
                f"baseline cache entry {entry} unreadable ({exc}); refitting", stacklevel=2
            )
        else:
            if progress:
                print(f"  baseline read from the cache: {entry}", flush=True)
            return teacher
    baseline = train_baseline(scenario, weight, settings, progress=progress)
    row = baseline.best()
    teacher = Teacher(baseline.rankers[row.regulariser], row)
    try:
        _store(entry, teacher, settings)
    except OSError as exc:  # a read-only or full disk costs only the next refit
        warnings.warn(f"baseline cache entry {entry} not written ({exc})", stacklevel=2)
    return teacher


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _store(entry: Path, teacher: Teacher, settings: BaselineSettings) -> None:
    from safetensors.torch import save_file

    tmp = entry.with_name(f".{entry.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.mkdir(parents=True)
    try:
        state = {k: v.detach().contiguous() for k, v in teacher.ranker.model.state_dict().items()}
        save_file(state, str(tmp / _WEIGHTS))
        meta: dict[str, Any] = {
            "format": FORMAT,
            "user_dim": teacher.ranker.user_dim,
            "item_dim": teacher.ranker.item_dim,
            "hidden": settings.hidden,
            "row": asdict(teacher.row),
            "sha256": _sha256(tmp / _WEIGHTS),
        }
        (tmp / _META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        if entry.exists():  # an unreadable entry being replaced
            shutil.rmtree(entry)
        os.replace(tmp, entry)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _load(entry: Path, settings: BaselineSettings) -> Teacher:
    from safetensors.torch import load_file

    meta = json.loads((entry / _META).read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        raise ValueError(f"format {meta.get('format')!r}, expected {FORMAT}")
    if _sha256(entry / _WEIGHTS) != meta["sha256"]:
        raise ValueError(f"{_WEIGHTS} does not match its sha256")
    row = TuningRow(**meta["row"])
    ranker = ClickRanker(
        int(meta["user_dim"]),
        int(meta["item_dim"]),
        regulariser=row.regulariser,
        hidden=int(meta["hidden"]),
        epochs=settings.epochs,
        seed=settings.seed,
    )
    ranker.model.load_state_dict(load_file(str(entry / _WEIGHTS)))
    return Teacher(ranker, row)
