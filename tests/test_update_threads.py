"""``--update-threads``: torch runs PPO's updates with their own thread count and the rollouts
with ``--torch-threads``; 0 means the CPUs the process may use; a sweep matches it to the trial's
CPU share."""

from __future__ import annotations

import pytest
import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv

from divrec_rl.agents.pl_policy import PlackettLucePolicy
from divrec_rl.sweep.spec import SweepFile, plan_train, trial_train
from divrec_rl.training.callbacks import UpdateThreadsCallback
from divrec_rl.training.config import TrainConfig
from divrec_rl.training.device import available_cpus, resolve_threads, torch_threads
from tests.test_plackett_luce import PickTheFlagged


class _ThreadProbe(PPO):
    """PPO that records torch's thread count in each phase."""

    def collect_rollouts(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        result = super().collect_rollouts(*args, **kwargs)
        self.seen.append(("rollout-last-step", th.get_num_threads()))
        return result

    def train(self) -> None:
        self.seen.append(("update", th.get_num_threads()))
        super().train()


def _probe() -> _ThreadProbe:
    env = DummyVecEnv([PickTheFlagged for _ in range(4)])
    model = _ThreadProbe(PlackettLucePolicy, env, n_steps=8, batch_size=16, n_epochs=1, seed=0,
                         device="cpu", policy_kwargs={"candidate_dim": 3, "slate_size": 2,
                                                      "hidden_size": 8})  # fmt: skip
    model.seen = []
    return model


def test_updates_run_with_their_own_threads_and_rollouts_with_theirs() -> None:
    model = _probe()
    with torch_threads(1):
        model.learn(64, callback=UpdateThreadsCallback(rollout=1, update=3))  # 2 rollouts
        after = th.get_num_threads()
    # SB3 calls on_rollout_end inside collect_rollouts (before it returns), then train().
    assert model.seen == [("rollout-last-step", 3), ("update", 3)] * 2
    assert after == 1  # training ends back on the rollout count


def test_rollouts_get_the_rollout_threads_back_after_an_update() -> None:
    model = _probe()
    counts: list[int] = []
    step = model.env.step

    def counting_step(actions):  # type: ignore[no-untyped-def]
        counts.append(th.get_num_threads())
        return step(actions)

    model.env.step = counting_step  # type: ignore[method-assign]
    with torch_threads(1):
        model.learn(64, callback=UpdateThreadsCallback(rollout=2, update=1))
    assert counts and set(counts) == {2}


def test_zero_means_the_cpus_this_process_may_use() -> None:
    assert resolve_threads(0) == available_cpus() >= 1
    assert resolve_threads(3) == 3
    assert TrainConfig().update_threads == 0


def test_negative_update_threads_are_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="update_threads"):
        TrainConfig(update_threads=-1)


def _sweep(**extra: object) -> SweepFile:
    return SweepFile(scenario="synthetic-shop", space={"train.gamma": {"choice": [0.9, 0.99]}},
                     **extra)  # fmt: skip


def test_a_sweep_trial_updates_with_its_cpu_share_unless_the_file_says_otherwise() -> None:
    assert plan_train(_sweep())["update_threads"] == 1
    assert trial_train(_sweep()).update_threads == 1
    assert trial_train(_sweep(resources={"cpus_per_trial": 2})).update_threads == 2
    assert trial_train(_sweep(resources={"cpus_per_trial": 0.5})).update_threads == 1
    chosen = _sweep(train={"update_threads": 4}, resources={"cpus_per_trial": 2})
    assert trial_train(chosen).update_threads == 4


def test_the_runs_evaluations_step_the_simulator_with_the_rollout_threads(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The thread switch came last among the callbacks, so every evaluation after the first ran
    # with the update's threads (contending with the simulator it steps).
    from divrec_rl.training import callbacks
    from divrec_rl.training.config import config_from_args
    from divrec_rl.training.runner import train_run

    seen: list[int] = []
    run_episodes = callbacks.run_episodes

    def probe(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(th.get_num_threads())
        return run_episodes(*args, **kwargs)

    monkeypatch.setattr(callbacks, "run_episodes", probe)
    config, overrides = config_from_args(
        {"total_timesteps": "96", "n_envs": "4", "n_steps": "8", "batch_size": "16",
         "eval_every": "32", "eval_users": "2", "checkpoint_every": "0", "progress_bar": False,
         "logdir": str(tmp_path), "torch_threads": "1", "update_threads": "2",
         "overrides": ["catalog.n_items=200", "catalog.n_categories=5"]}
    )  # fmt: skip
    with torch_threads(1):
        train_run(config, overrides)
    assert len(seen) >= 6, "initial, periodic and final evaluations, each deterministic + sampled"
    assert set(seen) == {1}, seen


def test_a_reseeded_evaluation_forks_the_cuda_generator_training_samples_from() -> None:
    # fork_rng(devices=[]) saved only the CPU state while manual_seed reseeded CUDA too.
    from divrec_rl.training.callbacks import rng_devices

    assert rng_devices(th.device("cpu")) == []
    assert rng_devices(th.device("cuda", 1)) == [1]
    assert rng_devices(th.device("cuda")) == [0]
