"""Build the supervised diversity-regularised baseline the honest way.

1. **Logs** — a stated logging policy (:class:`~divrec_rl.agents.baselines.NoisyPopularityAgent`:
   popularity plus Gumbel noise) serves ``log_users`` *training* users, one episode each; every
   step's observation, slate and click is logged.  Nothing else is kept: the ranker never sees the
   simulator's hidden state.
2. **Fit** — one :class:`~divrec_rl.agents.supervised.ClickRanker` per regulariser weight β of
   the grid, on the logs only (10% of the logged users held out for early stopping).
3. **Tune** — every (β, re-ranker, λ) of the grid serves ``val_users`` *validation* users (the same
   users for every setting: common random numbers); the setting with the highest mean return
   ``Σ_t engagement_t + λ_obj·diversity_t`` — the objective the RL agent optimises — wins.

The held-out evaluation users are never touched here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch as th

from divrec_rl.agents.baselines import NoisyPopularityAgent
from divrec_rl.agents.supervised import ClickRanker, InteractionLog, RerankAgent
from divrec_rl.config import ScenarioError
from divrec_rl.evaluation.settings import BaselineSettings
from divrec_rl.evaluation.summary import summarise
from divrec_rl.rollout import rollout, user_keys
from divrec_rl.scenario import Scenario
from divrec_rl.simulator import SlateSimulator

__all__ = ["Baseline", "BaselineFits", "BaselineSettings", "TuningRow", "train_baseline"]


@dataclass(frozen=True)
class TuningRow:
    """Validation result of one setting (means over the validation users)."""

    regulariser: float
    method: str
    tradeoff: float
    return_: float
    engagement: float
    ild: float
    session_length: float
    ctr: float

    def label(self) -> str:
        """``β=1 mmr λ=0.3``-style description."""
        rerank = "no re-ranking" if self.method == "none" else f"{self.method} λ={self.tradeoff:g}"
        return f"β={self.regulariser:g}, {rerank}"


@dataclass
class Baseline:
    """The fitted rankers, the validation sweep and what the logs held."""

    settings: BaselineSettings
    objective_weight: float
    rankers: dict[float, ClickRanker]
    fit_stats: dict[float, dict[str, float]]
    tuning: list[TuningRow]
    log: InteractionLog
    item_vectors: np.ndarray
    log_stats: dict[str, float] = field(default_factory=dict)
    _plain: ClickRanker | None = None

    def best(self, method: str | None = None) -> TuningRow:
        """The winning setting on validation users; ``method`` restricts the re-ranker
        (``mmr`` / ``dpp``; their λ = 0 is the plain ranking, row ``none``)."""
        allowed = {"none", method} if method else {"none", "mmr", "dpp"}
        rows = [r for r in self.tuning if r.method in allowed]
        return max(rows, key=lambda r: (r.return_, -r.regulariser, -r.tradeoff))

    def agent(self, row: TuningRow, name: str) -> RerankAgent:
        """The agent of a setting of the sweep."""
        return RerankAgent(self.rankers[row.regulariser], row.method, row.tradeoff, name)

    def plain_agent(self, name: str) -> RerankAgent:
        """The click model without the diversity term (β = 0) and without re-ranking, fitted on
        the same logs on first use: the plain supervised ranker."""
        if self._plain is None:
            s = self.settings
            self._plain = ClickRanker(
                self.log.user.shape[1],
                self.log.items.shape[2],
                hidden=s.hidden,
                epochs=s.epochs,
                seed=s.seed,
            )
            self.fit_stats[0.0] = self._plain.fit(self.log, self.item_vectors)
        return RerankAgent(self._plain, "none", 0.0, name)


def collect_logs(
    scenario: Scenario, settings: BaselineSettings, diversity_weight: float
) -> tuple[InteractionLog, dict[str, float]]:
    """Serve ``settings.log_users`` training users with the noisy-popularity logging policy."""
    sim = SlateSimulator(scenario, settings.log_users, "train", diversity_weight)
    feature_dim = sim.candidate_feature_dim
    if feature_dim is None:
        raise ScenarioError(
            "the supervised baseline needs slate.builder = candidates "
            f"(got {scenario.config.slate.builder!r})"
        )
    hook, recorded = InteractionLog.recorder(feature_dim)
    policy = NoisyPopularityAgent(settings.logging_temperature, seed=settings.log_seed)
    traj = rollout(policy, sim, user_keys(settings.log_seed, settings.log_users), hook)
    log = recorded()
    stats = {
        "logged_steps": float(len(log)),
        "logged_clicks": float((log.position >= 0).sum()),
        "logging_policy_engagement": summarise(traj, scenario.catalog)["engagement"],
    }
    return log, stats


def train_baseline(
    scenario: Scenario,
    objective_weight: float,
    settings: BaselineSettings | None = None,
    progress: bool = False,
    logs: tuple[InteractionLog, dict[str, float]] | None = None,
) -> Baseline:
    """Log, fit and tune the baseline on ``scenario`` (see the module docstring); ``logs``,
    :func:`collect_logs`' result for these settings, skips the logging step."""
    settings = settings or BaselineSettings()
    if logs is None:
        logs = collect_logs(scenario, settings, objective_weight)
        if progress:
            print(
                f"  logged {len(logs[0])} steps of {settings.log_users} training users", flush=True
            )
    log, log_stats = logs
    vectors = scenario.catalog.embeddings
    val = SlateSimulator(scenario, settings.val_users, "val", objective_weight)
    keys = user_keys(settings.val_seed, settings.val_users)
    rankers: dict[float, ClickRanker] = {}
    fit_stats: dict[float, dict[str, float]] = {}
    tuning: list[TuningRow] = []
    grid = [("none", 0.0)]
    grid += [("mmr", lam) for lam in settings.mmr_tradeoffs]
    grid += [("dpp", lam) for lam in settings.dpp_tradeoffs]
    threads = th.get_num_threads()
    th.set_num_threads(1)  # tiny networks: one thread is fastest and leaves a core to numpy
    try:
        for beta in settings.regularisers:
            ranker = ClickRanker(
                log.user.shape[1],
                log.items.shape[2],
                regulariser=beta,
                hidden=settings.hidden,
                epochs=settings.epochs,
                seed=settings.seed,
            )
            fit_stats[beta] = ranker.fit(log, vectors)
            rankers[beta] = ranker
            for method, lam in grid:
                s = summarise(rollout(RerankAgent(ranker, method, lam), val, keys), val.catalog)
                tuning.append(
                    TuningRow(
                        beta,
                        method,
                        lam,
                        s["return"],
                        s["engagement"],
                        s["ild"],
                        s["session_length"],
                        s["ctr"],
                    )
                )
            if progress:
                best = max((r for r in tuning if r.regulariser == beta), key=lambda r: r.return_)
                print(f"  β={beta:g}: best on validation {best.label()} ({best.return_:.2f})")
    finally:
        th.set_num_threads(threads)
    return Baseline(settings, objective_weight, rankers, fit_stats, tuning, log, vectors, log_stats)


@dataclass
class BaselineFits:
    """Builds fit number ``fit`` of the baseline (``settings.fits`` of them) on demand: click-model
    seed ``settings.seed + fit``, fitted and tuned anew on logs collected once (the logs depend
    on the logging settings, not on the fit seed); the wall time goes to
    ``timings["baseline"]``."""

    scenario: Scenario
    objective_weight: float
    settings: BaselineSettings
    timings: dict[str, float]
    progress: bool = False
    _logs: tuple[InteractionLog, dict[str, float]] | None = None

    def __call__(self, fit: int) -> Baseline:
        t0 = time.perf_counter()
        one = self.settings.model_copy(update={"seed": self.settings.seed + fit})
        if self.progress:
            which = f" (fit seed {one.seed})" if self.settings.fits > 1 else ""
            steps = "logging, fitting" if self._logs is None else "fitting on the same logs"
            print(f"baseline{which}: {steps}, tuning on validation users", flush=True)
        baseline = train_baseline(
            self.scenario, self.objective_weight, one, self.progress, logs=self._logs
        )
        self._logs = (baseline.log, baseline.log_stats)
        self.timings["baseline"] = self.timings.get("baseline", 0.0) + time.perf_counter() - t0
        return baseline
