"""The baseline cache of the PPO warm starts: fitted once, read back bit-identical, keyed by
everything the winner depends on, and never trusted when an entry is damaged."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch as th

from divrec_rl.envs import make_simulator
from divrec_rl.evaluation import teacher_cache
from divrec_rl.evaluation.teacher_cache import teacher_key, tuned_teacher
from divrec_rl.resolve import import_plugins
from divrec_rl.rollout import rollout, user_keys
from tests.test_supervised_baseline import FAST, SMALL


@pytest.fixture(scope="module")
def sim():
    return make_simulator("synthetic-shop", 20, split="val", config=SMALL)


def _fits(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = teacher_cache.train_baseline

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(teacher_cache, "train_baseline", counting)
    return calls


def _slates(teacher, sim) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    rollout(teacher.agent(), sim, user_keys(7, sim.n_users), lambda o, a, r: out.append(a))
    return out


def test_the_winner_is_fitted_once_and_read_back_identical(sim, tmp_path, monkeypatch) -> None:
    calls = _fits(monkeypatch)
    first = tuned_teacher(sim.scenario, 0.1, FAST, cache_dir=tmp_path)
    again = tuned_teacher(sim.scenario, 0.1, FAST, cache_dir=tmp_path)
    assert len(calls) == 1
    assert again.row == first.row
    for a, b in zip(first.ranker.model.parameters(), again.ranker.model.parameters(), strict=True):
        assert th.equal(a, b)
    assert all(np.array_equal(a, b) for a, b in zip(_slates(first, sim), _slates(again, sim),
                                                      strict=True))  # fmt: skip
    entries = list(tmp_path.iterdir())
    assert [e.name for e in entries] == [teacher_key(sim.scenario, 0.1, FAST)]
    assert sorted(p.name for p in entries[0].iterdir()) == ["ranker.safetensors", "teacher.json"]


def test_the_key_changes_with_the_objective_the_settings_and_the_scenario(sim) -> None:
    other = make_simulator("synthetic-shop", 4, split="val", config={**SMALL,
                           "catalog": {**SMALL["catalog"], "seed": 1}})  # fmt: skip
    keys = {
        teacher_key(sim.scenario, 0.1, FAST),
        teacher_key(sim.scenario, 0.2, FAST),
        teacher_key(sim.scenario, 0.1, FAST.model_copy(update={"epochs": FAST.epochs + 1})),
        teacher_key(other.scenario, 0.1, FAST),
    }
    assert len(keys) == 4
    assert teacher_key(sim.scenario, 0.1, FAST) == teacher_key(sim.scenario, 0.1, FAST)


def test_the_key_changes_with_the_code(sim, monkeypatch) -> None:
    before = teacher_key(sim.scenario, 0.1, FAST)
    monkeypatch.setattr(
        "divrec_rl.evaluation.teacher_cache.current_source_digest", lambda: "0" * 64
    )
    assert teacher_key(sim.scenario, 0.1, FAST) != before, "other code, same version: refit"


PLUGIN = """
from divrec_rl.plugins import register_behaviour
from divrec_rl.users.behaviour import StandardBehaviour


@register_behaviour("teacher-cache-test")
class Plain(StandardBehaviour):
    def __init__(self, config):
        super().__init__(config.behaviour, config.users.history_decay)
"""


def test_the_key_changes_with_a_plug_ins_code(tmp_path, monkeypatch) -> None:
    """A behaviour plug-in edited between two runs, the same settings: another key, so the winner
    fitted to the old dynamics is not served (it was, before the plug-in digest)."""
    module = tmp_path / "teacher_cache_plugin.py"
    module.write_text(PLUGIN, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    import_plugins(["teacher_cache_plugin"])
    config = {**SMALL, "behaviour": {"model": "teacher-cache-test"}}
    sim = make_simulator("synthetic-shop", 4, split="val", config=config)
    before = teacher_key(sim.scenario, 0.1, FAST)
    assert teacher_key(sim.scenario, 0.1, FAST) == before
    module.write_text(PLUGIN + "\nSLEEPINESS = 0.5\n", encoding="utf-8")
    assert teacher_key(sim.scenario, 0.1, FAST) != before


def test_a_damaged_entry_is_refitted_with_a_warning(sim, tmp_path, monkeypatch) -> None:
    calls = _fits(monkeypatch)
    first = tuned_teacher(sim.scenario, 0.1, FAST, cache_dir=tmp_path)
    entry = tmp_path / teacher_key(sim.scenario, 0.1, FAST)
    weights = entry / "ranker.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    with pytest.warns(UserWarning, match="sha256"):
        again = tuned_teacher(sim.scenario, 0.1, FAST, cache_dir=tmp_path)
    assert len(calls) == 2 and again.row == first.row
    meta = json.loads((entry / "teacher.json").read_text())
    meta["format"] = 99
    (entry / "teacher.json").write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match="format"):
        tuned_teacher(sim.scenario, 0.1, FAST, cache_dir=tmp_path)
    assert len(calls) == 3
    # the entry was replaced by a good one: no leftovers, the next call reads it
    assert [p.name for p in tmp_path.iterdir()] == [entry.name]
    tuned_teacher(sim.scenario, 0.1, FAST, cache_dir=tmp_path)
    assert len(calls) == 3


def test_the_default_directory_follows_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DIVREC_BASELINE_CACHE", str(tmp_path / "c"))
    assert teacher_cache.default_cache_dir() == tmp_path / "c"
    monkeypatch.setenv("DIVREC_BASELINE_CACHE", "")
    assert teacher_cache.default_cache_dir().parts[-3:] == (".cache", "divrec_rl", "baselines")
