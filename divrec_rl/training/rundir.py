"""The run directory: the only module that knows its layout.

A training run lives in ``LOGDIR/{scenario}__{agent}__{seed}__{timestamp}/``:

* ``config.yaml`` — header comments (run name, versions, how to repeat it), then the ``train:``
  settings, the ``run:`` record and the resolved scenario's fields at the top level (so the file
  is itself a valid ``--config`` file).  ``run:`` holds ``scenario_spec`` (what ``--scenario``
  named), ``plugins`` (modules to import before the scenario can be rebuilt: ``--import``
  modules, a ``module:attr`` module, an entry point's module), ``commands`` (every command
  that wrote to the run, oldest first; resuming appends) and ``code`` (for each command, the
  code it ran: :class:`~divrec_rl.provenance.CodeIdentity`, plus ``changed_during_run``, the
  new source digest, when the package's files changed before the command finished);
* ``checkpoints/step_N.zip`` — resumable checkpoints (N = environment steps, zero-padded);
* ``model.zip`` — the final model;
* ``best_model.zip`` + ``best_model.json`` — with ``select_checkpoint: best-val``, the weights of
  the periodic validation evaluation with the highest validation return and that evaluation's
  step and ``val/*`` values; then *the run's model* (what :func:`find_model` loads) is this one;
* ``events.out.tfevents.*`` — TensorBoard events (written by SB3's logger into the directory).

Everything else (training, resume, the evaluation's PPO loader, sweeps) goes through these
functions.  Reading a run imports its recorded plug-ins first, so a run trained on a plug-in
scenario resumes and evaluates with no extra steps.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from divrec_rl.atomic import atomic_write_text
from divrec_rl.config import ScenarioConfig, parse_scenario
from divrec_rl.errors import ModelError, ScenarioError, TrainingError
from divrec_rl.resolve import import_plugins, plugin_modules, read_yaml, resolve_scenario

__all__ = [
    "BEST_MODEL_FILE",
    "BEST_RECORD_FILE",
    "CHECKPOINT_DIR",
    "CONFIG_FILE",
    "MODEL_FILE",
    "RunInfo",
    "RunRecord",
    "checkpoint_path",
    "create_run_dir",
    "find_checkpoint",
    "find_model",
    "list_checkpoints",
    "model_path",
    "plugins_for",
    "read_code_record",
    "read_run",
    "run_name",
    "selects_best",
    "write_config",
]

CONFIG_FILE = "config.yaml"
MODEL_FILE = "model.zip"
BEST_MODEL_FILE = "best_model.zip"
BEST_RECORD_FILE = "best_model.json"
CHECKPOINT_DIR = "checkpoints"
_STEP = re.compile(r"^step_(\d+)\.zip$")


@dataclass
class RunInfo:
    """How a run came about: the scenario spec given, the plug-ins to import, the commands and
    the code each command ran (:class:`~divrec_rl.provenance.CodeIdentity` as a mapping; runs
    written before this record have fewer entries than commands)."""

    scenario_spec: str | None = None
    plugins: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    code: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RunRecord:
    """What ``config.yaml`` says: the ``train:`` section, the scenario, the run record."""

    run_dir: Path
    train: dict[str, Any]
    scenario: ScenarioConfig
    info: RunInfo


def run_name(scenario: str, agent: str, seed: int, timestamp: str | None = None) -> str:
    """``{scenario}__{agent}__{seed}__{timestamp}`` with a file-name-safe scenario."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", scenario).strip("-") or "scenario"
    return f"{safe}__{agent}__{seed}__{timestamp or time.strftime('%Y%m%d-%H%M%S')}"


def check_logdir(logdir: str | Path) -> Path:
    """``logdir`` if it is or can become a directory; a TrainingError naming ``--logdir``."""
    path = Path(logdir)
    for parent in (path, *path.parents):
        if parent.exists():
            if not parent.is_dir():
                raise TrainingError(
                    f"--logdir '{logdir}': '{parent}' exists and is not a directory "
                    "(give a directory for the run directories)"
                )
            break
    return path


def create_run_dir(logdir: str | Path, scenario: str, agent: str, seed: int) -> Path:
    """A new, empty run directory under ``logdir`` (``-2``, ``-3``… on a name clash)."""
    base = check_logdir(logdir) / run_name(scenario, agent, seed)
    path, n = base, 1
    while True:
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            n += 1
            path = base.with_name(f"{base.name}-{n}")
        except OSError as exc:
            raise TrainingError(f"--logdir '{logdir}': cannot create ({exc.strerror})") from None


def model_path(run_dir: Path) -> Path:
    """Where the final model of a run is saved."""
    return Path(run_dir) / MODEL_FILE


def checkpoint_path(run_dir: Path, step: int) -> Path:
    """Where the checkpoint at ``step`` environment steps is saved."""
    return Path(run_dir) / CHECKPOINT_DIR / f"step_{step:012d}.zip"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Checkpoints of a run, oldest first."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP.match(p.name))]
    return [p for _, p in sorted(found)]


def _run_dir_of(file: Path) -> Path:
    return file.parent.parent if file.parent.name == CHECKPOINT_DIR else file.parent


def find_checkpoint(path: str | Path) -> tuple[Path, Path]:
    """``(checkpoint, run directory)`` for ``--resume PATH`` (a run directory or a checkpoint)."""
    p = Path(path)
    if p.is_dir():
        found = list_checkpoints(p)
        if not found:
            raise TrainingError(
                f"--resume: no checkpoint in '{p}' (expected {CHECKPOINT_DIR}/step_N.zip; "
                "a run writes its first one after --checkpoint-every steps)"
            )
        return found[-1], p
    if p.is_file():
        return p, _run_dir_of(p)
    raise TrainingError(f"--resume: '{p}' does not exist (give a run directory or a checkpoint)")


def selects_best(run_dir: Path) -> bool:
    """Whether the run's ``config.yaml`` says ``select_checkpoint: best-val``."""
    try:
        train = read_yaml(Path(run_dir) / CONFIG_FILE).get("train")
    except ScenarioError:
        return False
    return isinstance(train, dict) and train.get("select_checkpoint") == "best-val"


def find_model(path: str | Path, what: str = "agent 'ppo'") -> tuple[Path, Path | None]:
    """(model zip, run directory or None) of a run directory (its ``best_model.zip`` when the
    run selects its checkpoint on validation users, else its ``model.zip``, else its latest
    checkpoint), a model zip or a checkpoint.  A ModelError names ``what`` otherwise, also when a
    run's ``config.yaml``, ``model.zip`` or ``best_model.zip`` exists but is not a file, and when
    a ``best-val`` run has no ``best_model.zip`` (another model would be evaluated unsaid)."""
    p = Path(path)
    if p.is_dir():
        _check_run_files(p, what)
        if selects_best(p):
            if not (p / BEST_MODEL_FILE).is_file():
                raise ModelError(
                    f"{what}: '{p}' selects its model on validation users "
                    f"(select_checkpoint: best-val) but has no {BEST_MODEL_FILE} (no validation "
                    f"evaluation was saved); give '{model_path(p)}' for its final weights"
                )
            return p / BEST_MODEL_FILE, p
        if model_path(p).is_file():
            return model_path(p), p
        found = list_checkpoints(p)
        if not found:
            raise ModelError(
                f"{what}: no model in '{p}' (expected {MODEL_FILE} or {CHECKPOINT_DIR}/step_N.zip)"
            )
        return found[-1], p
    if p.is_file():
        run_dir = _run_dir_of(p)
        _check_run_files(run_dir, what)
        return p, run_dir if (run_dir / CONFIG_FILE).is_file() else None
    raise ModelError(f"{what}: '{p}' does not exist (give a run directory or a .zip)")


def _check_run_files(run_dir: Path, what: str) -> None:
    """A run's record or model that exists as something other than a file (a directory, say)
    is an error: passing over it would load another model, or none of the run's record."""
    for name in (CONFIG_FILE, BEST_MODEL_FILE, MODEL_FILE):
        if (run_dir / name).exists() and not (run_dir / name).is_file():
            raise ModelError(f"{what}: '{run_dir / name}' exists but is not a file")


def plugins_for(spec: str | None) -> list[str]:
    """The modules to import before ``spec``'s scenario can be rebuilt in a fresh process: those
    imported so far to resolve scenarios, plus the module of an entry point named ``spec``."""
    modules = plugin_modules()
    if spec:
        for ep in metadata.entry_points(group="divrec_rl.scenarios", name=spec):
            if ep.module not in modules:
                modules.append(ep.module)
    return modules


def write_config(
    run_dir: Path,
    train: dict[str, Any],
    scenario: ScenarioConfig,
    info: RunInfo,
    header: list[str],
) -> None:
    """Write ``config.yaml`` atomically (``header`` lines become ``#`` comments)."""
    body = {
        "train": train,
        "run": {
            "scenario_spec": info.scenario_spec,
            "plugins": list(info.plugins),
            "commands": list(info.commands),
            "code": [dict(entry) for entry in info.code],
        },
        **scenario.model_dump(mode="json"),
    }
    comments = "".join(f"# {line}\n" for line in header)
    text = comments + yaml.safe_dump(body, sort_keys=False, allow_unicode=True)
    atomic_write_text(Path(run_dir) / CONFIG_FILE, text)


def _run_info(raw: Any, where: Path) -> RunInfo:
    if raw is None:
        return RunInfo()
    ok = isinstance(raw, dict) and all(
        isinstance(raw.get(k, []), list) for k in ("plugins", "commands", "code")
    )
    if not ok:
        raise TrainingError(
            f"{where}: field 'run': must hold lists 'plugins', 'commands' and (optionally) 'code'"
        )
    code = list(raw.get("code", []))
    if not all(isinstance(entry, dict) for entry in code):
        raise TrainingError(f"{where}: field 'run.code': must be a list of mappings")
    return RunInfo(raw.get("scenario_spec"), list(raw.get("plugins", [])),
                   list(raw.get("commands", [])), code)  # fmt: skip


def _scenario(data: dict[str, Any], info: RunInfo, where: Path) -> ScenarioConfig:
    if info.plugins:
        try:
            import_plugins(info.plugins)
        except ScenarioError as exc:
            raise ScenarioError([f"{where}: run.plugins: {e}" for e in exc.errors]) from None
    name = data.get("name")
    if "run" in data or not isinstance(name, str):
        return parse_scenario({k: v for k, v in data.items() if k != "run"}, str(where))
    # A run written before the run record: its saved fields over the scenario it names.
    try:
        return resolve_scenario(name, overrides=data)
    except ScenarioError:
        return parse_scenario(data, str(where))


def read_code_record(run_dir: str | Path) -> list[dict[str, Any]]:
    """The ``run.code`` entries of ``run_dir``'s ``config.yaml``, read without importing its
    plug-ins or rebuilding its scenario; ``[]`` when there is none or the file does not read."""
    try:
        data = yaml.safe_load((Path(run_dir) / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return []
    run = data.get("run") if isinstance(data, dict) else None
    code = run.get("code") if isinstance(run, dict) else None
    return [e for e in code if isinstance(e, dict)] if isinstance(code, list) else []


def read_run(run_dir: str | Path, what: str = "--resume") -> RunRecord:
    """Read ``config.yaml`` of ``run_dir``: import its plug-ins, rebuild its scenario config."""
    path = Path(run_dir) / CONFIG_FILE
    try:
        data = read_yaml(path)
    except ScenarioError as exc:
        raise TrainingError([f"{what}: {e}" for e in exc.errors]) from None
    train = data.pop("train", None)
    if not isinstance(train, dict):
        raise TrainingError(f"{what}: '{path}' has no 'train:' section")
    info = _run_info(data.get("run"), path)
    return RunRecord(Path(run_dir), train, _scenario(data, info, path), info)
