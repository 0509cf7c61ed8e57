"""Side by side: RecSim NG's interest-evolution user and our ``interest-evolution`` scenario.

RecSim NG 0.1.2 needs numpy<2, tensorflow 2.15 and scipy 1.10 (its edward2 0.0.2 breaks on newer
ones), so it cannot share this environment.  It runs in ``.venv-recsim``
(``scripts/recsim_ng/setup.sh``) through ``scripts/recsim_ng/run_interest_evolution.py``, which
writes its statistics and the per-(user, step) arrays they come from; this module

1. derives our scenario configuration from a RecSim NG configuration (:func:`derive_scenario`:
   users, topics ↔ categories, documents ↔ items, slate size, horizon, seed; everything else
   differs and is listed by :func:`model_differences`);
2. runs the same policy (``random``: uniform slates; ``greedy``: RecSim NG's greedy, top-k by
   the true click logit, boredom-blind -- not the project's myopic oracle) through our rollout
   machinery (:func:`run_divrec`);
3. computes the same statistics for both with one function,
   :func:`~divrec_rl.interop.recsim_ng_stats.statistics` (the runner loads that module, which
   also holds the configuration schema, by path);
4. writes a report: ``report.md``, ``comparison.csv``, ``per_step.csv`` and ``comparison.png``.

The statistics are defined in :mod:`divrec_rl.interop.recsim_ng_stats`.

Engagement of a click: RecSim NG's consumed fraction ``consumed_time / doc_length = σ(−q)``; ours
the satisfaction ``σ(satisfaction logit − boredom)``.  A topic is RecSim NG's ``doc_topic`` and
our item's primary category.
"""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from divrec_rl.agents.baselines import AttractionRankerAgent, RandomAgent
from divrec_rl.atomic import make_directory
from divrec_rl.catalog import Catalog
from divrec_rl.config import ScenarioConfig, ScenarioError
from divrec_rl.interop import recsim_ng_stats as shared
from divrec_rl.interop.recsim_ng_report import (
    SUMMARY_ROWS,
    Comparison,
    comparison_rows,
    effect_rows,
    markdown_report,
    per_step_rows,
    plot_comparison,
    write_report,
)
from divrec_rl.interop.recsim_ng_scenario import (
    SCENARIO,
    RecSimNGError,
    derive_scenario,
    load_config,
    model_differences,
    parse_config,
)
from divrec_rl.interop.recsim_ng_stats import POLICIES, RecSimNGConfig, statistics
from divrec_rl.rollout import Trajectories, rollout, user_keys
from divrec_rl.scenario import build_scenario
from divrec_rl.simulator import SlateSimulator

__all__ = [
    "POLICIES",
    "SCENARIO",
    "SUMMARY_ROWS",
    "Comparison",
    "RecSimNGConfig",
    "RecSimNGError",
    "StepLog",
    "compare",
    "comparison_rows",
    "default_python",
    "derive_scenario",
    "effect_rows",
    "load_config",
    "markdown_report",
    "model_differences",
    "parse_config",
    "per_step_rows",
    "plot_comparison",
    "run_divrec",
    "run_recsim_ng",
    "statistics",
    "write_report",
]

SETUP_SCRIPT = "scripts/recsim_ng/setup.sh"
PYTHON_ENV_VAR = "RECSIM_NG_PYTHON"
STATS_FILE = "recsim_ng_stats.json"


# ------------------------------------------------------------------------------------------
# the common per-(user, step) record
# ------------------------------------------------------------------------------------------


class StepLog(shared.StepLog):
    """:class:`~divrec_rl.interop.recsim_ng_stats.StepLog` read from the RecSim NG runner's
    arrays or converted from our rollout."""

    @classmethod
    def from_npz(cls, path: str | Path) -> StepLog:
        """Read the RecSim NG runner's ``recsim_ng_raw_<policy>.npz`` (extra arrays ignored);
        a missing, damaged or malformed file is one :class:`RecSimNGError` naming it."""
        try:
            with np.load(path) as data:
                missing = [f for f in cls.FIELDS if f not in data.files]
                if missing:
                    raise RecSimNGError(f"{path}: missing arrays {', '.join(missing)}")
                return cls(**{f: np.asarray(data[f]) for f in cls.FIELDS}).validate()
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise RecSimNGError(f"{path}: not a readable runner output ({_reason(exc)})") from None

    @classmethod
    def from_trajectories(
        cls, traj: Trajectories, catalog: Catalog, interest: np.ndarray, horizon: int
    ) -> StepLog:
        """Our rollout rows as a step log; topics are primary categories, quality is
        standardised with the catalogue's mean and standard deviation."""
        if len(traj) and int(traj.step.max()) >= horizon:
            raise ValueError(f"trajectories: steps beyond the horizon {horizon}")
        u, s = traj.user, traj.step
        shape = (traj.n_users, horizon)
        active = np.zeros(shape, dtype=bool)
        active[u, s] = True
        hit = traj.clicked >= 0
        item = np.where(hit, traj.clicked, 0)
        cat = catalog.primary_category
        q = catalog.quality.astype(np.float64)
        qz = (q - q.mean()) / (q.std() or 1.0)
        log = cls(
            active=active,
            clicked=np.zeros(shape, dtype=bool),
            topic=np.full(shape, -1, dtype=np.int64),
            engagement=np.zeros(shape),
            quality_z=np.full(shape, np.nan),
            slate_topics=np.zeros((*shape, traj.slate.shape[1]), dtype=np.int64),
            interest=np.asarray(interest, dtype=np.float64),
        )
        log.clicked[u, s] = hit
        log.topic[u, s] = np.where(hit, cat[item], -1)
        log.engagement[u, s] = traj.engagement
        log.quality_z[u, s] = np.where(hit, qz[item], np.nan)
        log.slate_topics[u, s] = cat[traj.slate]
        return log.validate()


# ------------------------------------------------------------------------------------------
# our side
# ------------------------------------------------------------------------------------------


class _InterestRecorder:
    """Wraps an agent and records every user's hidden interest before each step."""

    def __init__(self, agent: Any) -> None:
        self.agent = agent
        self.name = agent.name
        self.snapshots: list[np.ndarray] = []

    def act(self, observation: dict[str, np.ndarray], simulator: Any) -> np.ndarray:
        self.snapshots.append(simulator.state.interest.astype(np.float64))
        return self.agent.act(observation, simulator)

    def interest(self, final: np.ndarray, horizon: int) -> np.ndarray:
        """``(U, horizon+1, d)``: the snapshots, the final state, then the final state repeated
        (users who left keep their last interest)."""
        final = final.astype(np.float64)
        frames = [*self.snapshots, final]
        frames += [final] * (horizon + 1 - len(frames))
        return np.stack(frames, axis=1)


def make_policy(name: str, seed: int) -> Any:
    """Our agent for a policy name: ``random`` → RandomAgent, ``greedy`` → AttractionRankerAgent
    (RecSim NG's greedy: top-k by true affinity, boredom-blind)."""
    if name == "random":
        return RandomAgent(seed=seed)
    if name == "greedy":
        return AttractionRankerAgent()
    raise ScenarioError(
        f"field 'policies': unknown policy {name!r} (allowed: {', '.join(POLICIES)})"
    )


def run_divrec(cfg: RecSimNGConfig, policy: str, scenario: ScenarioConfig | None = None) -> StepLog:
    """One episode for each of ``cfg.num_users`` eval users of our scenario under ``policy``."""
    sc = scenario if scenario is not None else derive_scenario(cfg)[0]
    built = build_scenario(sc)
    sim = SlateSimulator(built, cfg.num_users, split="eval")
    agent = _InterestRecorder(make_policy(policy, cfg.seed))
    traj = rollout(agent, sim, user_keys(cfg.seed, cfg.num_users))
    interest = agent.interest(sim.state.interest, cfg.horizon)
    return StepLog.from_trajectories(traj, built.catalog, interest, cfg.horizon)


# ------------------------------------------------------------------------------------------
# the RecSim NG side (a subprocess in .venv-recsim)
# ------------------------------------------------------------------------------------------


def default_python(repo_root: str | Path) -> Path:
    """``$RECSIM_NG_PYTHON`` if set, else ``<repo_root>/.venv-recsim/bin/python``."""
    env = os.environ.get(PYTHON_ENV_VAR)
    return Path(env) if env else Path(repo_root) / ".venv-recsim" / "bin" / "python"


def _reason(exc: BaseException) -> str:
    """One line saying why a file could not be read."""
    return getattr(exc, "strerror", None) or str(exc).splitlines()[0] or type(exc).__name__


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "(no output)"


def run_recsim_ng(
    cfg: RecSimNGConfig, out_dir: Path, python: Path, runner: Path, timeout: float = 1800.0
) -> dict[str, Any]:
    """Run the RecSim NG runner with ``python`` (CPU only) and return its statistics JSON.

    Raises :class:`RecSimNGError` with one line: the environment or runner is missing (naming
    the set-up script), the run failed (its last stderr line) or timed out.
    """
    if not Path(python).is_file():
        why = "is not a file" if Path(python).exists() else "does not exist"
        raise RecSimNGError(
            f"RecSim NG environment not found ({python} {why}): run "
            f"`bash {SETUP_SCRIPT}` or point --recsim-python / ${PYTHON_ENV_VAR} at its python"
        )
    if not Path(runner).is_file():
        raise RecSimNGError(f"RecSim NG runner not found: {runner}")
    make_directory(out_dir, f"--out '{out_dir}'", RecSimNGError)
    config_path = out_dir / "recsim_ng_config.json"
    config_path.write_text(json.dumps(cfg.to_json(), indent=1), encoding="utf-8")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu"}
    env.pop("PYTHONPATH", None)  # nothing of this environment may leak into the other one
    # Absolute: a bare relative name ('venv/bin/python' given as 'python') would be looked up
    # on PATH instead of in the working directory.
    cmd = [str(Path(python).absolute()), str(runner), "--config", str(config_path)]
    cmd += ["--out", str(out_dir)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RecSimNGError(f"the RecSim NG runner took longer than {timeout:.0f} s") from None
    except OSError as exc:  # not executable, wrong format
        raise RecSimNGError(f"cannot run the RecSim NG python {python}: {_reason(exc)}") from None
    (out_dir / "recsim_ng_stderr.log").write_text(done.stderr, encoding="utf-8")
    if done.returncode != 0:
        raise RecSimNGError(
            f"the RecSim NG runner failed (exit {done.returncode}): {_last_line(done.stderr)} "
            f"(full log: {out_dir / 'recsim_ng_stderr.log'})"
        )
    stats_path = out_dir / STATS_FILE
    try:
        stats = json.loads(stats_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # missing, not UTF-8, or not JSON
        raise RecSimNGError(
            f"{stats_path}: not a readable runner output ({_reason(exc)})"
        ) from None
    if not isinstance(stats, dict):
        raise RecSimNGError(f"{stats_path}: not a readable runner output (not a JSON object)")
    return stats


def compare(
    cfg: RecSimNGConfig, out_dir: str | Path, python: Path, runner: Path, plot: bool = True
) -> Comparison:
    """Run both models under every policy of ``cfg`` and write the report into ``out_dir``."""
    out = Path(out_dir)  # checked and made by run_recsim_ng, before the runner starts
    scenario, matched = derive_scenario(cfg)
    report = run_recsim_ng(cfg, out, python, runner)
    recsim: dict[str, dict[str, Any]] = {}
    ours: dict[str, dict[str, Any]] = {}
    for policy in cfg.policies:
        log = StepLog.from_npz(out / f"recsim_ng_raw_{policy}.npz")
        recsim[policy] = statistics(log, cfg.num_topics)
        ours[policy] = statistics(run_divrec(cfg, policy, scenario), cfg.num_topics)
    meta = {k: report.get(k) for k in ("versions", "user_model", "simulator")}
    result = Comparison(cfg, scenario, matched, recsim, ours, meta)
    write_report(result, out, plot=plot)
    return result
