"""PPO slate agent: Stable-Baselines3's ``PPO`` with a policy whose size depends on neither the
catalogue nor the candidate set.

With the ``candidates`` slate builder, the actor scores every candidate with one shared network
on ``[user embedding, candidate features, mean candidate features]`` — permutation-equivariant
in the candidates and applicable to candidate sets of any size it has never seen.  The critic
reads the user features and the mean candidate features.  With the ``query`` builder the actor
is an MLP of the user features that emits the query vector.

Exploration is a diagonal Gaussian over the raw scores with one learnable log-std.  The env is
sent ``softsign(s) = s / (1 + |s|)``: monotone, so the slate (the top-k) is exactly the top-k of
the sampled scores; inside the env's ``Box(-1, 1)``; and PPO trains on the exact Gaussian
log-probabilities of the raw scores it stored.  (Clipping would tie every score beyond ±1, and
tanh ties scores beyond ≈ 9 in float32; softsign keeps them apart to the hundreds.)
"""

from __future__ import annotations

from functools import partial
from itertools import pairwise
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.type_aliases import Schedule
from stable_baselines3.common.vec_env import VecEnv
from torch import nn

from divrec_rl.simulator import SlateSimulator

__all__ = [
    "PPOAgent",
    "SlateFeaturesExtractor",
    "SlateNetwork",
    "SlatePolicy",
    "candidate_dim_of",
    "make_ppo",
]


class SlateFeaturesExtractor(BaseFeaturesExtractor):
    """Concatenates the observation entries ``user`` and (if present) ``candidates`` into one
    flat vector; :class:`SlateNetwork` splits it again, so no layer here depends on sizes."""

    def __init__(self, observation_space: spaces.Dict) -> None:
        keys = [k for k in ("user", "candidates") if k in observation_space.spaces]
        dim = sum(int(np.prod(observation_space[k].shape)) for k in keys)
        super().__init__(observation_space, features_dim=dim)
        self.keys = keys

    def forward(self, observations: dict[str, th.Tensor]) -> th.Tensor:
        return th.cat([observations[k].flatten(1) for k in self.keys], dim=1)


def _mlp(sizes: list[int], activation: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in pairwise(sizes):
        layers += [nn.Linear(a, b), activation()]
    return nn.Sequential(*layers)


class SlateNetwork(nn.Module):
    """Actor and critic bodies used as the policy's ``mlp_extractor``.

    Parameters
    ----------
    user_dim:
        Length U of the ``user`` observation.
    candidate_dim:
        Features f per candidate (``candidates`` builder), or ``None`` for the ``query`` builder.
    action_dim:
        Query dimension d (``query`` builder); with candidates it is only the size the policy was
        built for (``latent_dim_pi``) — the actor scores however many candidates it is given.
    hidden_size:
        Width h of every hidden layer.
    """

    def __init__(
        self, user_dim: int, candidate_dim: int | None, action_dim: int, hidden_size: int = 64
    ) -> None:
        super().__init__()
        h = hidden_size
        self.user_dim = user_dim
        self.candidate_dim = candidate_dim
        self.latent_dim_pi = action_dim
        self.latent_dim_vf = h
        self.pi_user = _mlp([user_dim, h, h], nn.ReLU)
        if candidate_dim is None:
            self.query_head = nn.Linear(h, action_dim)
            self.vf_body = _mlp([user_dim, h, h], nn.ReLU)
            return
        # Score of candidate i with features x_i for a user embedding u (f = candidate_dim):
        #   s_i = q(u)·x_i + w·relu(W x_i + B u + C mean_j x_j) + b
        # a bilinear "query" term (how well the item matches the user) plus a one-hidden-layer
        # MLP whose biases depend on the user and on the candidate set.  The user and set parts
        # are computed once per user, so the per-candidate cost is O(f·h).
        self.score_query = nn.Linear(h, candidate_dim)
        self.score_candidate = nn.Linear(candidate_dim, h)
        self.score_user = nn.Linear(h, h, bias=False)
        self.score_context = nn.Linear(candidate_dim, h, bias=False)
        self.score_head = nn.Linear(h, 1)
        self.vf_body = _mlp([user_dim + candidate_dim, h, h], nn.ReLU)

    def output_layers(self) -> list[nn.Module]:
        """Layers that produce the action mean (initialised with a small gain)."""
        if self.candidate_dim is None:
            return [self.query_head]
        return [self.score_head, self.score_query]

    def _split(self, features: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        user = features[:, : self.user_dim]
        flat = features[:, self.user_dim :]
        return user, flat.reshape(len(features), -1, self.candidate_dim)

    def forward_actor(self, features: th.Tensor) -> th.Tensor:
        """Mean action: one score per candidate ``(B, n)``, or the query vector ``(B, d)``."""
        if self.candidate_dim is None:
            return self.query_head(self.pi_user(features))
        user, cands = self._split(features)
        u = self.pi_user(user)
        hidden = th.relu(
            self.score_candidate(cands)
            + (self.score_user(u) + self.score_context(cands.mean(dim=1)))[:, None, :]
        )
        query = (self.score_query(u)[:, None, :] * cands).sum(dim=-1)
        return self.score_head(hidden).squeeze(-1) + query

    def forward_critic(self, features: th.Tensor) -> th.Tensor:
        """Value features ``(B, h)`` from the user and the mean candidate features."""
        if self.candidate_dim is None:
            return self.vf_body(features)
        user, cands = self._split(features)
        return self.vf_body(th.cat([user, cands.mean(dim=1)], dim=1))

    def forward(self, features: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        return self.forward_actor(features), self.forward_critic(features)


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


def make_ppo(
    env: VecEnv,
    *,
    seed: int | None = 0,
    device: str = "auto",
    hidden_size: int = 64,
    log_std_init: float = 0.0,
    verbose: int = 0,
    **ppo_kwargs: Any,
) -> PPO:
    """SB3 ``PPO`` with :class:`SlatePolicy` on a slate ``VecEnv``.

    ``ppo_kwargs`` go to :class:`stable_baselines3.PPO` (``n_steps``, ``batch_size``,
    ``learning_rate``, ``gamma``…).
    """
    policy_kwargs = {
        "candidate_dim": candidate_dim_of(env),
        "hidden_size": hidden_size,
        "log_std_init": log_std_init,
    }
    return PPO(
        SlatePolicy,
        env,
        seed=seed,
        device=device,
        verbose=verbose,
        policy_kwargs=policy_kwargs,
        **ppo_kwargs,
    )


class PPOAgent:
    """A trained PPO model behind the project's agent face ``act(observation, simulator)``.

    Parameters
    ----------
    model:
        A trained :class:`stable_baselines3.PPO` with a :class:`SlatePolicy`.
    deterministic:
        Use the mean scores (True, for evaluation) or sample them.
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
