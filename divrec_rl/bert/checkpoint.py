"""User-model checkpoints: safetensors + JSON, validated on load, never unpickled.

A checkpoint directory holds

* ``config.json`` -- format and version, training settings, the encoder architecture, the
  dataset identity (fingerprint, sizes), feature names, progress (``step``, ``complete``),
  validation history, wall time, and the sha256 of every weight file;
* ``tables.safetensors`` -- the numpy runtime tables (:class:`UserModelTables`), all a
  simulation needs; read without importing torch;
* ``model.safetensors`` -- the torch state of the two towers (encoder included), for resuming
  and re-evaluation;
* ``optimizer.pt`` -- optimiser and scheduler state, written by ``torch.save`` and read only with
  ``torch.load(weights_only=True)``;
* ``tokenizer/`` -- the tokenizer files, so the model reloads without its base folder;
* ``tb/`` -- TensorBoard logs.

Files are written to a temporary name and renamed, ``config.json`` last, and a Ctrl-C during
the write waits until all of them are written (:func:`~divrec_rl.atomic.interrupt_deferred`),
so an interrupted run keeps a checkpoint whose config matches its weights.  A hard kill
(SIGKILL, power loss) between the renames can still leave new weights beside the old config:
loading then fails on the checksum, naming the file.  Any problem on
load -- missing file, unreadable JSON, wrong format, checksum mismatch, wrong shapes, a dataset
other than the one asked for -- raises :class:`CheckpointError` with one line naming the file.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from divrec_rl.atomic import atomic_write, atomic_write_bytes, interrupt_deferred
from divrec_rl.config import ScenarioError

FORMAT = "divrec-rl-user-model"
#: Version 2: hybrid item tower and the recency summary ρ (tables ``item_attr_recent``,
#: ``item_sat_recent``).  Version 1 checkpoints (text tower, mean history only) still load for
#: simulation and evaluation -- their tables read as ``R = 0`` -- but cannot be resumed or
#: rebuilt as torch models.
VERSION = 2
READABLE_VERSIONS = (1, 2)
CONFIG_FILE = "config.json"
TABLES_FILE = "tables.safetensors"
MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.pt"
TOKENIZER_DIR = "tokenizer"

TABLE_NAMES = (
    "item_vectors",
    "item_attr",
    "item_sat",
    "attr_bias",
    "sat_bias",
    "user_attr",
    "user_sat",
    "user_features",
)
#: Tables of version 2 that a version-1 checkpoint lacks (read as zeros: no recency term).
RECENCY_TABLES = ("item_attr_recent", "item_sat_recent")


class CheckpointError(ScenarioError):
    """A checkpoint is missing, corrupt, incomplete or does not match what it is used with."""


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class UserModelTables:
    """The runtime of a trained user model: cached item vectors and per-user feature terms.

    ``item_vectors (M, d)`` unit item-tower vectors e; ``item_attr``/``item_sat (M, d)`` the
    item sides of the θ-terms; ``attr_bias``/``sat_bias (M,)``; ``user_attr``/``user_sat
    (U + 1, d)`` per-user terms (feature MLP plus the user's ID offset, if the model has them;
    last row: the mean-feature user, no offset); ``user_features (U, F)``;
    ``item_attr_recent``/``item_sat_recent (M, d)`` the item sides of the ρ-terms (``None`` =
    zeros, a version-1 model).  Logits: ``a = θ·item_attr + ρ·item_attr_recent + g·e + b``.
    """

    item_vectors: np.ndarray
    item_attr: np.ndarray
    item_sat: np.ndarray
    attr_bias: np.ndarray
    sat_bias: np.ndarray
    user_attr: np.ndarray
    user_sat: np.ndarray
    user_features: np.ndarray
    item_attr_recent: np.ndarray | None = None
    item_sat_recent: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in RECENCY_TABLES:
            if getattr(self, name) is None:
                object.__setattr__(self, name, np.zeros_like(self.item_attr))

    @property
    def uses_recency(self) -> bool:
        """Whether any ρ-term is non-zero (a version-1 model never reads ρ)."""
        return bool(np.any(self.item_attr_recent) or np.any(self.item_sat_recent))

    @property
    def n_items(self) -> int:
        """M."""
        return int(self.item_vectors.shape[0])

    @property
    def n_users(self) -> int:
        """U (dataset users; the feature tables hold one more row)."""
        return int(self.user_features.shape[0])

    @property
    def dim(self) -> int:
        """d."""
        return int(self.item_vectors.shape[1])

    def logits(
        self,
        theta: np.ndarray,
        user_rows: np.ndarray,
        items: np.ndarray,
        rho: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Attraction and satisfaction logits for users ``theta (n, d)`` / ``user_rows (n,)``
        (/ recency ``rho (n, d)``, ``None`` = 0) and item columns ``items (M',)``, as
        ``(n, M')`` float64 (offline evaluation).
        """
        th = theta.astype(np.float64)
        ia, is_ = self.item_attr[items].astype(np.float64), self.item_sat[items].astype(np.float64)
        e = self.item_vectors[items].astype(np.float64)
        attr = th @ ia.T + self.user_attr[user_rows].astype(np.float64) @ e.T
        sat = th @ is_.T + self.user_sat[user_rows].astype(np.float64) @ e.T
        if rho is not None:
            r = rho.astype(np.float64)
            attr += r @ self.item_attr_recent[items].astype(np.float64).T
            sat += r @ self.item_sat_recent[items].astype(np.float64).T
        return attr + self.attr_bias[items], sat + self.sat_bias[items]

    def pair_logits(
        self,
        theta: np.ndarray,
        user_rows: np.ndarray,
        items: np.ndarray,
        rho: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Logits of matched pairs ``(theta[j], user_rows[j], items[j], rho[j])``, ``(n,)``."""
        th = theta.astype(np.float64)
        e = self.item_vectors[items].astype(np.float64)
        attr = (th * self.item_attr[items]).sum(-1) + (self.user_attr[user_rows] * e).sum(-1)
        sat = (th * self.item_sat[items]).sum(-1) + (self.user_sat[user_rows] * e).sum(-1)
        if rho is not None:
            r = rho.astype(np.float64)
            attr += (r * self.item_attr_recent[items]).sum(-1)
            sat += (r * self.item_sat_recent[items]).sum(-1)
        return attr + self.attr_bias[items], sat + self.sat_bias[items]


def check_tables(tables: dict[str, np.ndarray], where: str) -> None:
    """Raise :class:`CheckpointError` unless the tables have consistent shapes and finite values."""
    missing = [n for n in TABLE_NAMES if n not in tables]
    if missing:
        raise CheckpointError(f"{where}: missing table(s) {', '.join(missing)}")
    m, d = tables["item_vectors"].shape
    u = tables["user_features"].shape[0]
    expected = {
        "item_attr": (m, d),
        "item_sat": (m, d),
        "attr_bias": (m,),
        "sat_bias": (m,),
        "user_attr": (u + 1, d),
        "user_sat": (u + 1, d),
        **{name: (m, d) for name in RECENCY_TABLES if name in tables},
    }
    for name, shape in expected.items():
        if tables[name].shape != shape:
            raise CheckpointError(
                f"{where}: table '{name}' has shape {tables[name].shape}, expected {shape} "
                f"(M={m} items, d={d}, U={u} users)"
            )
    for name in (*TABLE_NAMES, *(n for n in RECENCY_TABLES if n in tables)):
        if not np.all(np.isfinite(tables[name])):
            raise CheckpointError(f"{where}: table '{name}' holds non-finite values")


def read_config(directory: str | Path) -> dict[str, Any]:
    """The validated ``config.json`` of a checkpoint directory."""
    d = Path(directory)
    path = d / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{d}: no user-model checkpoint here ({CONFIG_FILE} not found)")
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a divrec-rl user-model config (format != '{FORMAT}')")
    if cfg.get("version") not in READABLE_VERSIONS:
        raise CheckpointError(
            f"{path}: checkpoint version {cfg.get('version')!r} is not supported (this "
            f"divrec-rl reads versions {', '.join(map(str, READABLE_VERSIONS))}); re-train it "
            f"with `divrec-rl finetune --dataset DATASET --out DIR`"
        )
    for key in ("train", "encoder", "dataset", "files", "step", "complete"):
        if key not in cfg:
            raise CheckpointError(f"{path}: missing key '{key}'")
    for key, kind, allowed in _CONFIG_TYPES:
        if not isinstance(cfg[key], kind) or isinstance(cfg[key], bool) is not (kind is bool):
            raise CheckpointError(
                f"{path}: key '{key}' must be {allowed}, got {type(cfg[key]).__name__}; the file "
                "was edited or damaged: re-train with `divrec-rl finetune`"
            )
    _check_nested(cfg, path)
    return cfg


def _check_nested(cfg: dict[str, Any], path: Path) -> None:
    """The nested values loading indexes into: each ``files`` value a sha256 hex digest, and
    ``dataset.n_items`` / ``n_users`` (when present) integers."""
    for name, digest in cfg["files"].items():
        if not (isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest)):
            raise CheckpointError(
                f"{path}: key 'files.{name}' must be a sha256 hex digest (64 hex digits), got "
                f"{digest!r}; the file was edited or damaged: re-train with `divrec-rl finetune`"
            )
    for key in ("n_items", "n_users"):
        value = cfg["dataset"].get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise CheckpointError(
                f"{path}: key 'dataset.{key}' must be an integer, got {value!r}; the file was "
                "edited or damaged: re-train with `divrec-rl finetune`"
            )


#: Types of config.json's keys that other code indexes into (an edited file fails here, in one
#: line, not with an AttributeError deep in loading).
_CONFIG_TYPES: tuple[tuple[str, type, str], ...] = (
    ("train", dict, "a mapping"),
    ("dataset", dict, "a mapping"),
    ("files", dict, "a mapping of file name to sha256"),
    ("step", int, "an integer"),
    ("complete", bool, "true or false"),
)


def verify_file(directory: Path, cfg: dict[str, Any], name: str) -> Path:
    """Path of weight file ``name`` after checking it exists and matches its recorded sha256."""
    path = directory / name
    expected = cfg["files"].get(name)
    if not path.is_file():
        raise CheckpointError(f"{path}: missing (the checkpoint is incomplete)")
    if expected is None:
        raise CheckpointError(f"{directory / CONFIG_FILE}: no checksum recorded for {name}")
    actual = sha256_file(path)
    if actual != expected:
        raise CheckpointError(
            f"{path}: checksum mismatch (config.json says {expected[:12]}…, file is "
            f"{actual[:12]}…): the file is corrupt or belongs to another checkpoint"
        )
    return path


def load_tables(directory: str | Path, require_complete: bool = True) -> UserModelTables:
    """Read and validate the runtime tables of a checkpoint (no torch import)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    d = Path(directory)
    cfg = read_config(d)
    if require_complete and not cfg["complete"]:
        total = cfg["train"].get("steps")
        raise CheckpointError(
            f"{d}: training stopped at step {cfg['step']} of {total}; finish it with "
            f"`divrec-rl finetune --out {d} --resume`"
        )
    path = verify_file(d, cfg, TABLES_FILE)
    try:
        tables = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from None
    check_tables(tables, str(path))
    ds = cfg["dataset"]
    if tables["item_vectors"].shape[0] != ds.get("n_items") or (
        tables["user_features"].shape[0] != ds.get("n_users")
    ):
        raise CheckpointError(
            f"{path}: tables hold {tables['item_vectors'].shape[0]} items / "
            f"{tables['user_features'].shape[0]} users but config.json describes "
            f"{ds.get('n_items')} / {ds.get('n_users')}"
        )
    present = [n for n in (*TABLE_NAMES, *RECENCY_TABLES) if n in tables]
    return UserModelTables(**{n: np.ascontiguousarray(tables[n]) for n in present})


@interrupt_deferred()
def write_checkpoint(
    directory: Path,
    config: dict[str, Any],
    tables: dict[str, np.ndarray],
    state_dict: dict[str, Any] | None,
    optimizer_state: dict[str, Any] | None,
) -> None:
    """Write weight files atomically, then ``config.json`` with their checksums; a Ctrl-C in the
    meantime is raised once all of them are written (the decorator; module docstring)."""
    from safetensors.numpy import save_file

    directory.mkdir(parents=True, exist_ok=True)
    check_tables(tables, "tables to save")
    files: dict[str, str] = {}
    atomic_write(
        directory / TABLES_FILE,
        lambda p: save_file({k: np.ascontiguousarray(v) for k, v in tables.items()}, p),
    )
    files[TABLES_FILE] = sha256_file(directory / TABLES_FILE)
    if state_dict is not None:
        from safetensors.torch import save_file as save_torch

        contiguous = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
        atomic_write(directory / MODEL_FILE, lambda p: save_torch(contiguous, p))
        files[MODEL_FILE] = sha256_file(directory / MODEL_FILE)
    if optimizer_state is not None:
        import torch

        atomic_write(directory / OPTIMIZER_FILE, lambda p: torch.save(optimizer_state, p))
        files[OPTIMIZER_FILE] = sha256_file(directory / OPTIMIZER_FILE)
    out = {**config, "format": FORMAT, "version": VERSION, "files": files}
    atomic_write_bytes(
        directory / CONFIG_FILE, (json.dumps(out, indent=2, sort_keys=False) + "\n").encode()
    )


def load_state_dict(directory: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    """The torch state of the towers (safetensors, checksum verified).

    A version-1 checkpoint (before the hybrid item tower and the recency term) has no state
    that fits today's towers: one line says how to re-train it.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if cfg.get("version") != VERSION:
        spec = cfg.get("dataset", {}).get("spec") or cfg.get("dataset", {}).get("name", "DATASET")
        raise CheckpointError(
            f"{directory / CONFIG_FILE}: checkpoint version {cfg.get('version')} predates the "
            f"hybrid user model (version {VERSION}); its tables still simulate, but to resume or "
            f"rebuild it re-train with `divrec-rl finetune --dataset {spec} --out NEW_DIR`"
        )

    path = verify_file(directory, cfg, MODEL_FILE)
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from None


def load_optimizer_state(directory: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    """Optimiser/scheduler state, read with ``torch.load(weights_only=True)`` (no unpickling of
    arbitrary objects)."""
    import pickle

    import torch

    path = verify_file(directory, cfg, OPTIMIZER_FILE)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: cannot be read as weights-only state ({first})") from None
