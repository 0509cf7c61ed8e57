"""Plug-in API: the docs' worked example runs, registration routes, per-user lifting."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import divrec_rl
from divrec_rl.envs import make_simulator
from divrec_rl.resolve import scenario_names

ROOT = Path(__file__).resolve().parents[1]


def test_docs_walkthrough_executes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = (ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    assert len(blocks) >= 3
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "docs/scenarios.md", "exec"), namespace)
    assert "sleepy-shop" in scenario_names()


def test_example_plugin_registered_by_entry_point() -> None:
    assert "novelty-seekers" in scenario_names()
    env = gym.make(divrec_rl.ENV_ID, scenario="novelty-seekers")
    env.reset(seed=0)
    _, _, _, _, info = env.step(env.action_space.sample())
    assert "engagement" in info
    assert type(env.unwrapped.simulator.behaviour).__name__ == "NoveltySeekingBehaviour"


def test_example_plugin_parameter_is_validated() -> None:
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "divrec_rl.cli",
            "simulate",
            "--scenario",
            "novelty-seekers",
            "--users",
            "2",
            "--set",
            "behaviour.params.novelty_bonus=99",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "behaviour.params.novelty_bonus" in res.stderr


def test_per_user_behaviour_matches_batched_semantics() -> None:
    from divrec_rl.plugins import PerUserBehaviour, register_behaviour

    @register_behaviour("test-always-first")
    class AlwaysFirst(PerUserBehaviour):
        def __init__(self, config):
            self.config = config

        def respond_user(self, user, slate, attraction, satisfaction_logit, category_weights, u):
            return (0, 0.5) if u < 0.5 else (-1, 0.0)

        def update_user(self, user, slate, position, engagement, item_vectors, category_weights):
            user.patience = user.patience - 0.25

        def leaves_user(self, user):
            return user.patience <= 0

        def start_user_session(self, user):
            user.patience = 1.0

    sim = make_simulator("synthetic-shop", 8, config={"behaviour": {"model": "test-always-first"}})
    sim.reset_users(np.arange(8), np.arange(8, dtype=np.uint64))
    lengths = np.zeros(8, dtype=int)
    while sim.state.active.any():
        stepped = sim.state.active.copy()
        r = sim.step(np.zeros((8, 40), dtype=np.float32))
        clicked = r.info["clicked"] >= 0
        assert np.all(r.info["engagement"][clicked] == 0.5)
        assert np.all(r.info["clicked"][clicked] == r.info["slate"][clicked, 0])
        lengths += stepped
    assert np.all(lengths == 4)  # patience 1.0, −0.25 per step
