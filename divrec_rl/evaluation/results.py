"""What one evaluation is asked to do and what it produced: the data classes shared by
:mod:`divrec_rl.evaluation.runner` (which fills them) and :mod:`divrec_rl.evaluation.report`
(which writes them out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from divrec_rl.agents.registry import AgentSpec, PPORun
from divrec_rl.config import ScenarioConfig
from divrec_rl.errors import EvaluationError
from divrec_rl.evaluation.baseline import Baseline
from divrec_rl.evaluation.offline import OfflineAccuracy
from divrec_rl.evaluation.settings import CROSS_MODEL, BaselineSettings
from divrec_rl.evaluation.stats import MetricCI, PairedTest, SeedLevelTest
from divrec_rl.evaluation.summary import UserRecords
from divrec_rl.provenance import CodeIdentity
from divrec_rl.rollout import Trajectories

__all__ = [
    "AgentOutcome",
    "Comparison",
    "EvaluationConfig",
    "EvaluationResult",
    "FrontierPoint",
    "SimulatorOutcome",
]


@dataclass
class EvaluationConfig:
    """Everything one evaluation depends on (written into the report)."""

    agents: list[AgentSpec]
    scenario: str | ScenarioConfig | None = None
    """``None``: the scenario the first PPO run was trained on (else the default scenario)."""
    allow_scenario_mismatch: bool = False
    """Evaluate PPO runs on a ``scenario`` other than the one they were trained on."""
    config_files: list[str] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)
    seeds: int = 3
    first_seed: int = 0
    """Evaluation seeds are ``first_seed … first_seed + seeds − 1``; a range no earlier run used
    draws users nobody has chosen anything on (a confirmatory run)."""
    users: int = 1000
    save_trajectories: bool = False
    cross_sim: str | None = CROSS_MODEL
    cross_behaviour: str | None = None
    """Behaviour model of the behaviour cross-check (e.g. ``quit-on-repetition``), or ``None``."""
    ppo_sweep: list[str] = field(default_factory=list)
    frontier: bool = True
    frontier_users: int = 500
    n_boot: int = 1000
    boot_seed: int = 12_345
    baseline: BaselineSettings = field(default_factory=BaselineSettings)

    @property
    def seed_list(self) -> list[int]:
        """The evaluation seeds, in order: seed s's users have episode keys ``user_keys(s, …)``,
        and a sweep's training seed number ``s mod k`` plays it (:meth:`PPORun.for_seed`)."""
        return list(range(self.first_seed, self.first_seed + self.seeds))

    def __post_init__(self) -> None:
        if self.seeds < 1:
            raise EvaluationError(f"--seeds: must be ≥ 1, got {self.seeds}")
        if self.first_seed < 0:
            raise EvaluationError(f"--first-seed: must be ≥ 0, got {self.first_seed}")
        if self.users < 2:
            raise EvaluationError(f"--users: must be ≥ 2, got {self.users}")
        if not self.agents:
            raise EvaluationError("--agents: name at least one agent")
        if self.n_boot < 10:
            raise EvaluationError(f"n_boot: must be ≥ 10, got {self.n_boot}")


@dataclass
class AgentOutcome:
    """One agent under one simulator: per-seed records, per-user paired values, summary."""

    label: str
    points: list[dict[str, float]]
    summary: dict[str, MetricCI]
    per_user: dict[str, np.ndarray]
    episode_lengths: np.ndarray
    item_exposure: np.ndarray
    first_seed: UserRecords


@dataclass
class SimulatorOutcome:
    """All agents under one user model."""

    name: str
    response_model: str
    agents: dict[str, AgentOutcome]
    trajectories: dict[tuple[str, int], Trajectories]


@dataclass
class Comparison:
    """Paired tests of agent ``a`` against agent ``b`` (differences a − b)."""

    a: str
    b: str
    tests: list[PairedTest]
    #: the same differences with the evaluation seeds as units (Student-t interval and test)
    seed_tests: list[SeedLevelTest] = field(default_factory=list)


@dataclass
class FrontierPoint:
    """One point of the engagement–diversity frontier (the first ``frontier_users`` eval users of
    the first evaluation seed)."""

    family: str
    label: str
    parameter: str
    engagement: float
    ild: float
    return_: float


@dataclass
class EvaluationResult:
    """What :func:`evaluate` produced; :mod:`divrec_rl.evaluation.report` writes it out."""

    config: EvaluationConfig
    scenario: ScenarioConfig
    objective_weight: float
    objective_source: str
    seeds: list[int]
    primary: SimulatorOutcome
    cross: SimulatorOutcome | None
    paired: dict[str, list[Comparison]]
    frontier: list[FrontierPoint]
    baseline: Baseline | None
    ppo_runs: dict[str, PPORun]
    sweep_runs: list[PPORun]
    timings: dict[str, float]
    notes: list[str]
    cross_behaviour: SimulatorOutcome | None = None
    """The same agents and users under ``config.cross_behaviour`` (nothing retrained)."""
    offline: OfflineAccuracy | None = None
    """Each agent's first slates scored against real held-out items
    (:mod:`divrec_rl.evaluation.offline`); ``None`` when the population has none."""
    code: CodeIdentity | None = None
    """The code the evaluation started with (:mod:`divrec_rl.provenance`)."""
    baselines: list[Baseline] = field(default_factory=list)
    """Every fit of the baseline that was built, by fit number (``baseline`` is the first;
    more than one with ``--baseline-fits``)."""
    inputs: dict[str, str] = field(default_factory=dict)
    """The files outside the package the simulated users' responses come from
    (``ResponseModel.inputs``: a trained user model's identity); ``{}`` for generated users."""
