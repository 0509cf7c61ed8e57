"""Agent names → agents: the one table behind ``--agents`` of ``divrec-rl evaluate`` and
``--policy`` of ``divrec-rl simulate``.

``--agents ppo=runs/NAME,baseline,greedy,popularity,random`` is parsed by :func:`parse_agents`
into :class:`AgentSpec` entries; :func:`make_agent` builds one fresh agent per (spec, seed).
A PPO entry takes a path (``ppo=PATH``; further PPO runs as ``ppo-LABEL=PATH``); every other name
stands alone.  Unknown names get "did you mean" suggestions; a missing or unreadable PPO path,
or a model trained for other observations, is a :class:`~divrec_rl.errors.ModelError` (one
line, exit code 2 on the command line).  A run directory is read through
:mod:`divrec_rl.training.rundir`, the one owner of its layout.

The built-in agents are declared in :data:`divrec_rl.parts.BUILTIN_PARTS` (the factories below,
imported on first use).  Third parties add agents with
:func:`divrec_rl.plugins.register_agent` (or ``AGENTS.register("name", factory)``) or an entry
point in the ``divrec_rl.agents`` group; a factory is called as ``factory(context, spec, seed)``
and returns anything with ``act(observation, simulator)``.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from divrec_rl.agents.baselines import AttractionRankerAgent, PopularityAgent, RandomAgent
from divrec_rl.agents.myopic import MyopicOracleAgent
from divrec_rl.config import ScenarioError
from divrec_rl.errors import DivrecError, EvaluationError, ModelError
from divrec_rl.parts import AGENTS

__all__ = [
    "AGENTS",
    "DESCRIPTIONS",
    "HIDDEN_STATE_LABELS",
    "AgentContext",
    "AgentSpec",
    "PPORun",
    "check_compatible",
    "display_name",
    "load_ppo_run",
    "make_agent",
    "parse_agents",
]


@dataclass(frozen=True)
class AgentSpec:
    """One ``--agents`` entry: ``label`` (unique, shown in reports), registry ``kind``, ``path``."""

    label: str
    kind: str
    path: str | None = None


@dataclass
class PPORun:
    """A trained PPO agent and what its run directory says about it."""

    model: Any
    model_path: Path
    run_dir: Path | None
    diversity_weight: float | None
    scenario: str | None
    seed: int | None
    num_timesteps: int
    scenario_config: Any = None
    """The :class:`~divrec_rl.config.ScenarioConfig` the run was trained on (``None`` when the
    model has no readable run directory)."""
    seed_runs: list[PPORun] = field(default_factory=list)
    """For a sweep directory: the chosen configuration's runs, one per training seed in seed
    order (this object describes the first); empty for a single run."""
    sweep_dir: Path | None = None

    def for_seed(self, seed: int) -> PPORun:
        """The run that plays evaluation seed ``seed``: training seed number ``seed mod k`` of
        a sweep's k seeds (so every training seed is evaluated once ``--seeds`` ≥ k), else
        this run."""
        return self.seed_runs[seed % len(self.seed_runs)] if self.seed_runs else self


@dataclass
class AgentContext:
    """What factories may use: the objective's λ, PPO runs (loaded once per path) and the
    supervised baseline (each of its ``baseline_fits`` fits built once, on first use, by
    ``baseline_factory(fit number)``)."""

    objective_weight: float
    baseline_factory: Callable[[int], Any] | None = None
    ppo_runs: dict[str, PPORun] = field(default_factory=dict)
    baseline_fits: int = 1
    _baselines: dict[int, Any] = field(default_factory=dict)

    def baseline(self, seed: int = 0) -> Any:
        """The fitted and tuned :class:`~divrec_rl.evaluation.baseline.Baseline` that plays
        evaluation seed ``seed``: fit number ``seed mod baseline_fits``."""
        fit = seed % self.baseline_fits
        if fit not in self._baselines:
            if self.baseline_factory is None:
                raise ScenarioError("the supervised baseline is not available in this context")
            self._baselines[fit] = self.baseline_factory(fit)
        return self._baselines[fit]

    @property
    def built_baselines(self) -> list[Any]:
        """The baseline fits some agent needed, by fit number."""
        return [self._baselines[k] for k in sorted(self._baselines)]

    @property
    def built_baseline(self) -> Any:
        """The first baseline fit some agent needed, else ``None``."""
        return next(iter(self.built_baselines), None)

    def ppo(self, path: str) -> PPORun:
        """The PPO run at ``path`` (loaded on first use)."""
        if path not in self.ppo_runs:
            self.ppo_runs[path] = load_ppo_run(path)
        return self.ppo_runs[path]


AgentFactory = Callable[[AgentContext, AgentSpec, int], Any]

#: Agents that read the simulator's hidden state, and the tag reports give them.
HIDDEN_STATE_LABELS = {"greedy": "myopic oracle", "attraction-ranker": "reads hidden state"}


def display_name(label: str, kind: str) -> str:
    """How reports name an agent: its label, tagged when its kind reads hidden state
    (``greedy (myopic oracle)``), so an oracle is never mistaken for a deployable agent."""
    tag = HIDDEN_STATE_LABELS.get(kind)
    return f"{label} ({tag})" if tag else label


#: One line per built-in agent for reports (what it is, what it may know).
DESCRIPTIONS = {
    "random": "uniformly random slate of the retrieved candidates (seeded per evaluation seed)",
    "popularity": "most popular candidates first (catalogue interaction counts only)",
    "greedy": "ORACLE, myopic: each step the slate with the highest expected immediate reward "
    "(engagement + λ·diversity) under the hidden user state, fatigue included, from the "
    "simulator's own response and choice model (exact for λ = 0); blind to later steps; not a "
    "deployable policy",
    "attraction-ranker": "reads hidden state: ranks candidates by the boredom-free click logit "
    "(hidden interest); neither deployable nor myopically optimal",
    "supervised": "the click model trained on the logs without the diversity term and without "
    "re-ranking (plain supervised ranker)",
    "baseline": "supervised diversity-regularised ranker, best of MMR and DPP re-ranking, "
    "trade-off tuned on validation users",
    "baseline-mmr": "supervised diversity-regularised ranker with MMR re-ranking, tuned on "
    "validation users",
    "baseline-dpp": "supervised diversity-regularised ranker with DPP (greedy MAP) re-ranking, "
    "tuned on validation users",
    "ppo": "PPO slate agent (Stable-Baselines3), deterministic: the greedy slate of the "
    "Plackett–Luce policy (sequential argmax), or the top-k of the mean scores of the "
    "gaussian ablation",
}


def random_agent(ctx: AgentContext, spec: AgentSpec, seed: int) -> Any:
    """``random``: :class:`~divrec_rl.agents.baselines.RandomAgent` seeded by ``seed``."""
    return RandomAgent(seed=seed)


def popularity_agent(ctx: AgentContext, spec: AgentSpec, seed: int) -> Any:
    """``popularity``: most popular candidates first."""
    return PopularityAgent()


def greedy_agent(ctx: AgentContext, spec: AgentSpec, seed: int) -> Any:
    """``greedy``: the myopic oracle (λ of the simulator it acts in)."""
    return MyopicOracleAgent()


def attraction_ranker_agent(ctx: AgentContext, spec: AgentSpec, seed: int) -> Any:
    """``attraction-ranker``: the boredom-blind ranker by hidden click logits."""
    return AttractionRankerAgent()


def _baseline_variant(method: str | None) -> AgentFactory:
    def factory(ctx: AgentContext, spec: AgentSpec, seed: int) -> Any:
        baseline = ctx.baseline(seed)
        return baseline.agent(baseline.best(method), spec.label)

    factory.__doc__ = f"``baseline`` re-ranked with {method or 'the best method'}."
    return factory


def supervised_agent(ctx: AgentContext, spec: AgentSpec, seed: int) -> Any:
    """``supervised``: the plain supervised ranker of the baseline."""
    return ctx.baseline(seed).plain_agent(spec.label)


def ppo_agent(ctx: AgentContext, spec: AgentSpec, seed: int) -> Any:
    """``ppo=PATH``: the trained PPO run at ``spec.path``, deterministic."""
    from divrec_rl.agents.ppo import PPOAgent

    if not spec.path:
        raise ScenarioError(f"agent '{spec.label}': needs a path, e.g. {spec.label}=runs/NAME")
    return PPOAgent(ctx.ppo(spec.path).for_seed(seed).model, deterministic=True)


baseline_agent = _baseline_variant(None)
baseline_mmr_agent = _baseline_variant("mmr")
baseline_dpp_agent = _baseline_variant("dpp")

_PPO_LABEL = re.compile(r"^ppo(-[A-Za-z0-9_.]+)?$")


def parse_agents(text: str, flag: str = "--agents") -> list[AgentSpec]:
    """``"ppo=PATH,baseline,greedy"`` → specs.  Raises :class:`EvaluationError` on bad entries,
    naming the command-line ``flag`` they came from."""
    specs: list[AgentSpec] = []
    entries = [e.strip() for e in text.split(",")]
    if not text.strip() or any(not e for e in entries):
        raise EvaluationError(
            f"{flag} {text!r}: expected comma-separated names, e.g. ppo=runs/NAME,baseline,random"
        )
    for entry in entries:
        name, sep, path = (part.strip() for part in entry.partition("="))
        if _PPO_LABEL.match(name):
            if not sep or not path:
                raise EvaluationError(f"{flag}: '{name}' needs a path: {name}=RUN_DIR_OR_ZIP")
            specs.append(AgentSpec(name, "ppo", path))
            continue
        if name not in AGENTS:
            raise EvaluationError(f"{flag}: " + AGENTS.unknown_message(name))
        if sep:
            raise EvaluationError(f"{flag}: '{name}' takes no '=VALUE' (only ppo=PATH does)")
        specs.append(AgentSpec(name, name))
    labels = [s.label for s in specs]
    duplicates = sorted({lab for lab in labels if labels.count(lab) > 1})
    if duplicates:
        raise EvaluationError(
            f"{flag}: {', '.join(duplicates)} given twice (name further PPO runs ppo-LABEL=PATH)"
        )
    return specs


def make_agent(ctx: AgentContext, spec: AgentSpec, seed: int) -> Any:
    """A fresh agent for ``spec`` and evaluation seed ``seed``."""
    return AGENTS.get(spec.kind)(ctx, spec, seed)


def load_ppo_run(path: str | Path) -> PPORun:
    """Load a PPO model saved by ``divrec-rl train`` (a run directory, its ``model.zip`` or a
    checkpoint), on the CPU, for inference only.  The run's recorded plug-ins are imported and
    its training scenario rebuilt (:mod:`divrec_rl.training.rundir`); errors are ModelErrors.

    A sweep directory (``divrec-rl sweep``) loads its chosen configuration's runs, one per
    training seed, as one agent (:attr:`PPORun.seed_runs`)."""
    from divrec_rl.sweep.layout import chosen_runs, is_sweep_dir

    if is_sweep_dir(path):
        try:
            chosen = chosen_runs(path)  # its messages name the sweep or its sweep.csv
        except DivrecError as exc:
            raise ModelError([f"agent 'ppo': {e}" for e in exc.errors]) from None
        runs = [_load_one(run_dir) for _, run_dir in chosen]
        first = runs[0]
        first.seed_runs, first.sweep_dir = runs, Path(path)
        return first
    return _load_one(path)


def _load_one(path: str | Path) -> PPORun:
    from stable_baselines3 import PPO

    from divrec_rl.training.rundir import CONFIG_FILE, find_model, read_run

    model_path, run_dir = find_model(Path(path))
    if not zipfile.is_zipfile(model_path):
        raise ModelError(f"agent 'ppo': '{model_path}' is not a model zip (corrupt?)")
    # Schedules are pickled closures; inference needs none of them.
    constant = {"learning_rate": 0.0, "lr_schedule": lambda _: 0.0, "clip_range": lambda _: 0.0}
    try:
        model = PPO.load(model_path, device="cpu", custom_objects=constant)
    except Exception as exc:  # SB3 raises many kinds on a damaged or foreign zip
        detail = " ".join(str(exc).split())[:160]
        raise ModelError(
            f"agent 'ppo': cannot load '{model_path}' ({type(exc).__name__}: {detail})"
        ) from None
    scenario_config = seed = None
    if run_dir is not None and (run_dir / CONFIG_FILE).is_file():
        # The run's plug-ins are imported here; a run whose scenario cannot be rebuilt is an
        # error, not a silent evaluation on some other scenario.
        try:
            record = read_run(run_dir, what=f"agent 'ppo' '{path}'")
        except DivrecError as exc:  # read_run's messages already name the agent and the path
            raise ModelError(list(exc.errors)) from None
        scenario_config = record.scenario
        seed = record.train.get("seed")
    return PPORun(
        model=model,
        model_path=model_path,
        run_dir=run_dir,
        diversity_weight=None
        if scenario_config is None
        else float(scenario_config.reward.diversity_weight),
        scenario=None if scenario_config is None else scenario_config.name,
        seed=seed if isinstance(seed, int) else None,
        num_timesteps=int(model.num_timesteps),
        scenario_config=scenario_config,
    )


def check_compatible(run: PPORun, simulator: Any, label: str = "ppo") -> None:
    """Raise :class:`ModelError` unless ``run``'s model takes ``simulator``'s observations
    and acts in its action space."""
    want = simulator.observation_space
    have = run.model.observation_space
    mismatch = []
    for key in set(want.spaces) | set(getattr(have, "spaces", {})):
        a = want.spaces.get(key)
        b = getattr(have, "spaces", {}).get(key)
        if a is None or b is None or a.shape != b.shape:
            mismatch.append(
                f"{key}: model {None if b is None else b.shape}, scenario "
                f"{None if a is None else a.shape}"
            )
    if run.model.action_space.shape != simulator.action_space.shape:
        mismatch.append(
            f"action: model {run.model.action_space.shape}, scenario {simulator.action_space.shape}"
        )
    if mismatch:
        trained = f" (trained on '{run.scenario}')" if run.scenario else ""
        raise ModelError(
            f"agent '{label}': the model at '{run.model_path}'{trained} does not fit scenario "
            f"'{simulator.scenario.name}': " + "; ".join(mismatch)
        )
