"""Golden trajectories: every built-in synthetic scenario (and the cascade / query / return
variants) on every face hashes to the digest recorded before the issue-10 refactor.

A digest covers observations, rewards, terminations, truncations, slates and clicks of a fixed
action sequence.  A change of these digests is a change of the simulator's semantics: it must be
stated (and the file regenerated with ``python tests/test_golden_trajectories.py --write``).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import divrec_rl

GOLDEN = Path(__file__).parent / "data" / "golden_trajectories.json"
SMALL = {"catalog": {"n_items": 400, "n_categories": 8, "embedding_dim": 16}}
VARIANTS: dict[str, tuple[str, dict]] = {
    "synthetic-shop": ("synthetic-shop", {}),
    "filter-bubble": ("filter-bubble", {}),
    "interest-evolution": ("interest-evolution", {}),
    "cold-start": ("cold-start", {}),
    "shop-returns": ("shop-returns", {}),
    "novelty-seekers": ("novelty-seekers", {}),
    "shop+cascade": ("shop-returns", {"behaviour": {"choice": {"model": "cascade"}}}),
    "shop+query": ("synthetic-shop", {"slate": {"builder": "query"}}),
}
STEPS = 120
N_USERS = 6


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for key, value in b.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def _actions(space: gym.Space, n: int) -> np.ndarray:
    """A fixed, reproducible action sequence: ``(STEPS, n, *shape)`` inside the box."""
    rng = np.random.default_rng(12345)
    low = np.broadcast_to(space.low, space.shape)
    high = np.broadcast_to(space.high, space.shape)
    u = rng.random((STEPS, n, *space.shape))
    return (low + u * (high - low)).astype(space.dtype)


def _update(h: hashlib._Hash, *arrays: object) -> None:
    for a in arrays:
        h.update(np.ascontiguousarray(np.asarray(a)).tobytes())


def _obs_bytes(h: hashlib._Hash, obs: dict) -> None:
    for key in sorted(obs):
        _update(h, obs[key])


def single_env_digest(variant: str) -> str:
    """``gymnasium.make`` face, one user, autoreset by hand with consecutive seeds."""
    scenario, extra = VARIANTS[variant]
    env = gym.make(divrec_rl.ENV_ID, scenario=scenario, config=_merge(SMALL, extra))
    actions = _actions(env.action_space, 1)
    h = hashlib.sha256()
    obs, _ = env.reset(seed=7)
    _obs_bytes(h, obs)
    episode = 0
    for t in range(STEPS):
        obs, reward, terminated, truncated, info = env.step(actions[t, 0])
        _obs_bytes(h, obs)
        _update(h, reward, terminated, truncated, info["slate"], info["clicked"])
        if terminated or truncated:
            episode += 1
            obs, _ = env.reset(seed=7 + 1000 * episode)
            _obs_bytes(h, obs)
    env.close()
    return h.hexdigest()


def vector_env_digest(variant: str) -> str:
    """Gymnasium ``VectorEnv`` face (the batched core), ``N_USERS`` users with autoreset."""
    scenario, extra = VARIANTS[variant]
    venv = gym.make_vec(
        divrec_rl.ENV_ID,
        num_envs=N_USERS,
        vectorization_mode="vector_entry_point",
        scenario=scenario,
        config=_merge(SMALL, extra),
    )
    actions = _actions(venv.single_action_space, N_USERS)
    h = hashlib.sha256()
    obs, _ = venv.reset(seed=11)
    _obs_bytes(h, obs)
    for t in range(STEPS):
        obs, reward, terminated, truncated, info = venv.step(actions[t])
        _obs_bytes(h, obs)
        _update(h, reward, terminated, truncated, info["slate"], info["clicked"])
    venv.close()
    return h.hexdigest()


def sb3_env_digest(variant: str) -> str:
    """Stable-Baselines3 ``VecEnv`` face, ``N_USERS`` users."""
    from divrec_rl.envs import SlateRecVecEnv

    scenario, extra = VARIANTS[variant]
    venv = SlateRecVecEnv(N_USERS, scenario=scenario, config=_merge(SMALL, extra))
    venv.seed(3)
    actions = _actions(venv.action_space, N_USERS)
    h = hashlib.sha256()
    obs = venv.reset()
    _obs_bytes(h, obs)
    for t in range(STEPS):
        obs, reward, done, infos = venv.step(actions[t])
        _obs_bytes(h, obs)
        _update(h, reward, done, venv.last_info["slate"], venv.last_info["clicked"])
        _update(h, [float(i.get("engagement", 0.0)) for i in infos])
    venv.close()
    return h.hexdigest()


def rollout_digest(variant: str) -> str:
    """The evaluator's face: :func:`divrec_rl.rollout.rollout` with the three simple agents."""
    from divrec_rl.agents.baselines import AttractionRankerAgent, PopularityAgent, RandomAgent
    from divrec_rl.envs import make_simulator
    from divrec_rl.rollout import rollout, user_keys

    scenario, extra = VARIANTS[variant]
    h = hashlib.sha256()
    for agent in (AttractionRankerAgent(), PopularityAgent(), RandomAgent(seed=5)):
        sim = make_simulator(scenario, 8, split="eval", config=_merge(SMALL, extra))
        traj = rollout(agent, sim, user_keys(21, 8))
        for name in sorted(vars(traj)):
            _update(h, getattr(traj, name))
    return h.hexdigest()


FACES = {
    "single": single_env_digest,
    "vector": vector_env_digest,
    "sb3": sb3_env_digest,
    "rollout": rollout_digest,
}


def compute_all() -> dict[str, str]:
    return {f"{v}/{face}": fn(v) for v in VARIANTS for face, fn in FACES.items()}


@pytest.mark.parametrize("face", sorted(FACES))
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_trajectory_matches_golden_digest(variant: str, face: str) -> None:
    golden = json.loads(GOLDEN.read_text())
    assert FACES[face](variant) == golden[f"{variant}/{face}"]


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        GOLDEN.write_text(json.dumps(compute_all(), indent=1, sort_keys=True) + "\n")
        print(f"wrote {GOLDEN}")
