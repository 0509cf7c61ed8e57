"""Helpers for tests of what reads run directories (evaluate, simulate, the sensitivity scan):
an untrained PPO run directory as ``divrec-rl train`` writes it, in a fraction of a second."""

from __future__ import annotations

from pathlib import Path

from divrec_rl.config import ScenarioConfig
from divrec_rl.training import rundir

__all__ = ["write_untrained_run"]


def write_untrained_run(
    run_dir: str | Path, scenario: ScenarioConfig, scenario_spec: str = "synthetic-shop"
) -> Path:
    """Save a freshly initialised PPO model for ``scenario`` (two users, the default policy)
    into ``run_dir`` with the ``config.yaml`` training writes: its train section (seed 0), the
    scenario's fields and the run record naming ``scenario_spec``."""
    from divrec_rl.agents.ppo import make_ppo
    from divrec_rl.envs import SlateRecVecEnv

    run_dir = Path(run_dir)
    model = make_ppo(SlateRecVecEnv(2, scenario), seed=0, device="cpu", n_steps=8, batch_size=16)
    run_dir.mkdir(parents=True)
    model.save(rundir.model_path(run_dir))
    info = rundir.RunInfo(scenario_spec, [], ["divrec-rl train ..."])
    rundir.write_config(run_dir, {"seed": 0}, scenario, info, [])
    return run_dir
