"""PPO slate agent: Stable-Baselines3's ``PPO`` with a policy whose size depends on neither the
catalogue nor the candidate set.  Two policies, chosen by :func:`make_ppo`'s ``policy``:

* ``plackett-luce`` (default) — :class:`~divrec_rl.agents.pl_policy.PlackettLucePolicy`: the
  slate is k sequential softmax draws without replacement over the candidates, with set-aware
  scores and a state-dependent temperature; PPO's ratio is that of the ordered slate shown.
* ``gaussian`` — :class:`SlatePolicy`, kept as a named ablation: a diagonal Gaussian over one
  score per candidate (or over the query vector, with the ``query`` builder) whose top-k is the
  slate; PPO's ratio is over the C scores, not over the slate.

The shared bodies live in :mod:`divrec_rl.agents.slate_network`: with the ``candidates`` slate
builder, the actor scores every candidate with one shared network on ``[user embedding,
candidate features, mean candidate features]`` — permutation-equivariant in the candidates and
applicable to candidate sets of any size it has never seen.  The critic reads the user features
and the mean candidate features.

Gaussian exploration uses one learnable log-std.  The env is sent
``softsign(s) = s / (1 + |s|)``: monotone, so the slate (the top-k) is exactly the top-k of the
sampled scores; inside the env's ``Box(-1, 1)``; and PPO trains on the exact Gaussian
log-probabilities of the raw scores it stored.  (Clipping would tie every score beyond ±1, and
tanh ties scores beyond ≈ 9 in float32; softsign keeps them apart to the hundreds.)
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import Schedule
from stable_baselines3.common.vec_env import VecEnv
from torch import nn

from divrec_rl.agents.pl_policy import PlackettLucePolicy
from divrec_rl.agents.rollout_buffer import SlateRolloutBuffer
from divrec_rl.agents.slate_network import SlateFeaturesExtractor, SlateNetwork
from divrec_rl.simulator import SlateSimulator

__all__ = [
    "POLICIES",
    "PPOAgent",
    "SlateFeaturesExtractor",
    "SlateNetwork",
    "SlatePolicy",
    "candidate_dim_of",
    "make_ppo",
]


class SlatePolicy(ActorCriticPolicy):
    """SB3 actor-critic policy for slate observations (see the module docstring).

    Parameters beyond :class:`~stable_baselines3.common.policies.ActorCriticPolicy`'s:

    candidate_dim:
        Features per candidate (``SlateBuilder.feature_dim``); ``None`` for the ``query`` builder.
    hidden_size:
        Width of the hidden layers.
    """

    def __init__(
        self,
        observation_space: spaces.Dict,
        action_space: spaces.Box,
        lr_schedule: Schedule,
        candidate_dim: int | None = None,
        hidden_size: int = 64,
        **kwargs: Any,
    ) -> None:
        self.candidate_dim = candidate_dim
        self.hidden_size = hidden_size
        kwargs.setdefault("features_extractor_class", SlateFeaturesExtractor)
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(candidate_dim=self.candidate_dim, hidden_size=self.hidden_size)
        return data

    def _build_mlp_extractor(self) -> None:
        user_space = self.observation_space["user"]  # type: ignore[index]
        self.mlp_extractor = SlateNetwork(
            int(np.prod(user_space.shape)),
            self.candidate_dim,
            int(np.prod(self.action_space.shape)),  # type: ignore[arg-type]
            self.hidden_size,
        )

    def _build(self, lr_schedule: Schedule) -> None:
        self._build_mlp_extractor()
        # The network already emits the action mean; one log-std is shared by every dimension so
        # nothing depends on the number of candidates.
        self.action_net = nn.Identity()
        self.log_std = nn.Parameter(th.full((1,), float(self.log_std_init)))
        self.value_net = nn.Linear(self.mlp_extractor.latent_dim_vf, 1)
        if self.ortho_init:
            self.mlp_extractor.apply(partial(self.init_weights, gain=np.sqrt(2)))
            for layer in self.mlp_extractor.output_layers():
                layer.apply(partial(self.init_weights, gain=0.01))
            self.value_net.apply(partial(self.init_weights, gain=1.0))
        self.optimizer = self.optimizer_class(  # type: ignore[call-arg]
            self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs
        )

    @property
    def squash_output(self) -> bool:
        """True: SB3 then hands actions to :meth:`unscale_action` instead of clipping them."""
        return True

    def unscale_action(self, scaled_action: np.ndarray) -> np.ndarray:
        """Env action ``softsign(score)``: order-preserving, inside the action bounds."""
        squashed = scaled_action / (1.0 + np.abs(scaled_action))
        space = self.action_space
        if np.all(space.low == -1.0) and np.all(space.high == 1.0):  # type: ignore[union-attr]
            return squashed  # skip the affine map: -1 + (x + 1) would round small scores
        return super().unscale_action(squashed)


def candidate_dim_of(env: VecEnv) -> int | None:
    """Features per candidate of ``env``'s slate builder (``None`` for the ``query`` builder)."""
    if "candidates" not in env.observation_space.spaces:  # type: ignore[union-attr]
        return None
    return env.unwrapped.simulator.candidate_feature_dim  # type: ignore[attr-defined]


#: Policies :func:`make_ppo` builds (the ``--policy`` choices of training).
POLICIES = ("plackett-luce", "gaussian")


def _pl_policy_kwargs(env: VecEnv, hidden_size: int, prior: Any, options: dict[str, Any]) -> dict:
    candidate_dim = candidate_dim_of(env)
    if candidate_dim is None:
        raise ValueError(
            "policy 'plackett-luce' needs slate.builder = candidates (the query builder has no "
            "candidates to pick from); use policy 'gaussian'"
        )
    kwargs = {
        "candidate_dim": candidate_dim,
        "slate_size": int(env.unwrapped.simulator.k),  # type: ignore[attr-defined]
        "hidden_size": hidden_size,
        **options,
    }
    if prior is not None:
        query = prior.query[0]
        kwargs["prior"] = {
            "kind": "click-model",
            "user_dim": query.in_features,
            "item_dim": prior.query[-1].out_features,
            "hidden": query.out_features,
        }
    return kwargs


def make_ppo(
    env: VecEnv,
    *,
    policy: str = "plackett-luce",
    seed: int | None = 0,
    device: str = "auto",
    hidden_size: int = 64,
    log_std_init: float = 0.0,
    set_aware: bool = True,
    temperature_floor: float = 0.05,
    temperature_init: float = 1.0,
    prior: nn.Module | None = None,
    verbose: int = 0,
    **ppo_kwargs: Any,
) -> PPO:
    """SB3 ``PPO`` with the slate policy ``policy`` (:data:`POLICIES`) on a slate ``VecEnv``.

    ``log_std_init`` is the Gaussian's; ``set_aware``, ``temperature_floor``,
    ``temperature_init`` and ``prior`` (a :class:`~divrec_rl.agents.supervised.ClickModel`
    whose click logits start the Plackett–Luce policy, frozen, with a zero residual) are the
    Plackett–Luce policy's.  ``ppo_kwargs`` go to :class:`stable_baselines3.PPO` (``n_steps``,
    ``batch_size``, ``learning_rate``, ``gamma``…).
    """
    if policy not in POLICIES:
        raise ValueError(f"policy: must be one of {', '.join(POLICIES)}, got {policy!r}")
    if prior is not None and policy == "gaussian":
        raise ValueError("prior: only the plackett-luce policy has a prior scorer")
    policy_class: type[ActorCriticPolicy]
    if policy == "gaussian":
        policy_class = SlatePolicy
        policy_kwargs: dict[str, Any] = {
            "candidate_dim": candidate_dim_of(env),
            "hidden_size": hidden_size,
            "log_std_init": log_std_init,
        }
    else:
        policy_class = PlackettLucePolicy
        options = {
            "set_aware": set_aware,
            "temperature_floor": temperature_floor,
            "temperature_init": temperature_init,
        }
        policy_kwargs = _pl_policy_kwargs(env, hidden_size, prior, options)
    ppo_kwargs.setdefault("rollout_buffer_class", SlateRolloutBuffer)
    model = PPO(
        policy_class,
        env,
        seed=seed,
        device=device,
        verbose=verbose,
        policy_kwargs=policy_kwargs,
        **ppo_kwargs,
    )
    if prior is not None:
        model.policy.mlp_extractor.prior.load_state_dict(prior.state_dict())  # type: ignore[union-attr]
    return model


class PPOAgent:
    """A trained PPO model behind the project's agent face ``act(observation, simulator)``.

    Parameters
    ----------
    model:
        A trained :class:`stable_baselines3.PPO` with a slate policy (:data:`POLICIES`).
    deterministic:
        Use the policy's mode (True, for evaluation: the mean scores of the Gaussian, the greedy
        sequential argmax of the Plackett–Luce policy) or sample.
    """

    name = "ppo"

    def __init__(self, model: PPO, deterministic: bool = True) -> None:
        self.model = model
        self.deterministic = deterministic

    def act(
        self, observation: dict[str, np.ndarray], simulator: SlateSimulator | None = None
    ) -> np.ndarray:
        """Actions ``(N, …)`` for a batch of observations (already squashed into the bounds)."""
        actions, _ = self.model.predict(observation, deterministic=self.deterministic)
        return actions
