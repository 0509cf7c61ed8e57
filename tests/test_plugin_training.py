"""A scenario written outside the package, registered every supported way, trains PPO.

The custom behaviour lives in a temporary module (not under divrec_rl/); it is reached through
(1) the decorator, (2) ``module:attr``, (3) a YAML file naming a factory, and (4) a
``divrec_rl.scenarios`` entry point of an installed distribution.  Each route trains PPO for a few
hundred steps with ``train_agent.py``'s entry point and makes the Gymnasium env.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import gymnasium as gym
import pytest

import divrec_rl
from divrec_rl.commands.train import main as train_main

PLUGIN = '''
import numpy as np
from divrec_rl.plugins import register_behaviour, register_scenario
from divrec_rl.users.behaviour import StandardBehaviour


@register_behaviour("{prefix}-impatient")
class Impatient(StandardBehaviour):
    """Standard dynamics, but every unclicked slate costs extra patience."""

    def __init__(self, config):
        super().__init__(config.behaviour, config.users.history_decay)
        self.extra = float(config.behaviour.params.get("extra_cost", 0.1))

    def update(self, state, slates, response, item_vectors, category_weights):
        super().update(state, slates, response, item_vectors, category_weights)
        missed = state.active & (response.position < 0)
        state.patience[missed] = np.maximum(state.patience[missed] - self.extra, 0.0)


def make():
    return {{
        "name": "{prefix}-shop",
        "behaviour": {{"model": "{prefix}-impatient", "params": {{"extra_cost": 0.2}}}},
        "catalog": {{"n_items": 300, "n_categories": 6}},
        "slate": {{"size": 5, "n_candidates": 15}},
    }}


register_scenario("{prefix}-shop", make)
'''


def _write_plugin(root: Path, module: str, prefix: str) -> None:
    (root / f"{module}.py").write_text(textwrap.dedent(PLUGIN.format(prefix=prefix)))


def _train(scenario: str, logdir: Path) -> Path:
    code = train_main(
        [
            "--scenario",
            scenario,
            "--total-timesteps",
            "256",
            "--n-envs",
            "8",
            "--n-steps",
            "32",
            "--batch-size",
            "64",
            "--n-epochs",
            "1",
            "--eval-every",
            "100000",
            "--eval-users",
            "8",
            "--checkpoint-every",
            "100000",
            "--logdir",
            str(logdir),
            "--no-progress-bar",
            "--verbose",
            "0",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    runs = list(logdir.iterdir())
    assert len(runs) == 1 and (runs[0] / "model.zip").is_file()
    return runs[0]


@pytest.mark.parametrize("route", ["decorator", "module-attr", "yaml-factory", "entry-point"])
def test_custom_scenario_trains_by_every_route(
    route: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"plug-{route}"
    module = f"tmp_plugin_{route.replace('-', '_')}"
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    _write_plugin(code_dir, module, prefix)
    monkeypatch.syspath_prepend(str(code_dir))
    if route == "decorator":
        __import__(module)  # importing the module runs @register_scenario
        scenario = f"{prefix}-shop"
    elif route == "module-attr":
        scenario = f"{module}:make"
    elif route == "yaml-factory":
        yml = tmp_path / "custom.yaml"
        yml.write_text(
            f"factory: {module}:make\nname: {prefix}-yaml\nreward:\n  diversity_weight: 0.3\n"
        )
        scenario = str(yml)
    else:
        dist = code_dir / f"{module}-0.1.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
        (dist / "entry_points.txt").write_text(
            f"[divrec_rl.scenarios]\n{prefix}-ep = {module}:make\n"
        )
        scenario = f"{prefix}-ep"
    env = gym.make(divrec_rl.ENV_ID, scenario=scenario)
    env.reset(seed=0)
    env.step(env.action_space.sample())
    assert type(env.unwrapped.simulator.behaviour).__name__ == "Impatient"
    run = _train(scenario, tmp_path / "runs")
    assert (run / "config.yaml").read_text().count("impatient") >= 1
