"""The supervised, diversity-regularised baseline: a click model learned from logs, served with
MMR or DPP re-ranking.

What it may know is what a platform knows: the logged observations (the user summary and the
candidate features of :class:`~divrec_rl.slate.CandidateSlateBuilder`), the slates it showed,
the clicks it got, and the catalogue's item vectors.  It never reads the simulator's hidden user
state (interest, fatigue, patience).

Model (one score per candidate, shared weights, any number of candidates)::

    s(u, x_i) = q(u)·x_i + g(x_i)          q: MLP of the user features → item-feature space
    s_0(u)    = a·u + c                     utility of not clicking

Training objective on logged steps (u, slate x_1..x_k, click c ∈ {none, 1..k})::

    L = −log softmax(s_0, s_1, …, s_k)[c]  +  β · Σ_{i,j} π_i π_j S_ij,   π = softmax(s_1..s_k)

The first term is the log-likelihood of the multinomial-logit choice with a no-click option that
the logged users made; the second is the expected cosine similarity S of two items drawn from the
model's own choice distribution over the slate (1 − Rao's quadratic entropy with distance 1 − S;
Rao, *Theor. Popul. Biol.* 1982): with β > 0 the model is pushed to spread its click mass over
dissimilar items instead of one tight cluster, i.e. to rely less on "more of the same" features.

Serving: the scores are the relevance of :func:`~divrec_rl.agents.rerank.mmr_batch`
(min–max scaled to [0, 1] per user, to sit on the cosine scale) or of
:func:`~divrec_rl.agents.rerank.dpp_greedy_batch` (raw logits: the DPP quality is
``q_i = exp(α s_i)``), with a trade-off λ; λ = 0 is the plain ranking.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch as th
from torch import nn

from divrec_rl.agents.baselines import scores_to_actions
from divrec_rl.agents.rerank import dpp_greedy_batch, mmr_batch
from divrec_rl.rollout import StepHook
from divrec_rl.simulator import SlateSimulator, StepResult
from divrec_rl.slate import top_k_rows

__all__ = [
    "METHODS",
    "ClickModel",
    "ClickRanker",
    "InteractionLog",
    "RerankAgent",
    "picks_to_actions",
]

METHODS = ("none", "mmr", "dpp")


@dataclass
class InteractionLog:
    """Logged steps: what was observed, what was shown, what was clicked.

    ``user`` ``(T, U)`` user observations; ``items`` ``(T, k, f)`` candidate features of the shown
    items in slot order; ``item_ids`` ``(T, k)``; ``position`` ``(T,)`` clicked slot or −1;
    ``group`` ``(T,)`` id of the logged user (to hold users out, never steps of one user).
    """

    user: np.ndarray
    items: np.ndarray
    item_ids: np.ndarray
    position: np.ndarray
    group: np.ndarray

    def __len__(self) -> int:
        return len(self.position)

    @classmethod
    def recorder(cls, feature_dim: int) -> tuple[StepHook, Callable[[], InteractionLog]]:
        """A :data:`~divrec_rl.rollout.StepHook` that records steps, and a function returning the
        log recorded so far (call it after the rollout).  ``feature_dim``: features per candidate
        (``simulator.candidate_feature_dim``)."""
        parts: list[tuple[np.ndarray, ...]] = []

        def hook(
            observation: dict[str, np.ndarray], actions: np.ndarray, result: StepResult
        ) -> None:
            info = result.info
            who = np.flatnonzero(info["active"])
            n = len(info["active"])
            feats = observation["candidates"].reshape(n, -1, feature_dim)
            # The builder's own choice of slots: the top-k of the actions, best first.
            k = info["slate"].shape[1]
            idx = top_k_rows(np.asarray(actions, dtype=np.float32).reshape(n, -1), k)
            parts.append(
                (
                    observation["user"][who],
                    np.take_along_axis(feats, idx[:, :, None], axis=1)[who],
                    info["slate"][who],
                    info["position"][who],
                    who,
                )
            )

        def done() -> InteractionLog:
            if not parts:
                raise ValueError("no logged steps")
            cols = [np.concatenate(c) for c in zip(*parts, strict=True)]
            return cls(cols[0], cols[1], cols[2], cols[3].astype(np.int64), cols[4])

        return hook, done


class ClickModel(nn.Module):
    """Click logits ``s(u, x_i)`` of candidates and the no-click logit ``s_0(u)`` (module
    docstring); also the frozen prior of the Plackett–Luce policy's residual option."""

    def __init__(self, user_dim: int, item_dim: int, hidden: int) -> None:
        super().__init__()
        self.query = nn.Sequential(
            nn.Linear(user_dim, hidden), nn.ReLU(), nn.Linear(hidden, item_dim)
        )
        self.appeal = nn.Sequential(nn.Linear(item_dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.no_click = nn.Linear(user_dim, 1)

    def forward(self, user: th.Tensor, items: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        scores = (self.query(user)[:, None, :] * items).sum(-1) + self.appeal(items).squeeze(-1)
        return scores, self.no_click(user).squeeze(-1)


class ClickRanker:
    """Click model trained on logged interactions with a diversity regulariser (module docstring).

    Parameters
    ----------
    user_dim, item_dim:
        Widths of the user observation and of one candidate's features.
    regulariser:
        β ≥ 0, weight of the expected-similarity term (0 = plain click likelihood).
    hidden:
        Width of the hidden layers.
    epochs, batch_size, learning_rate:
        Adam training schedule.
    seed:
        Seed of the initial weights and of the minibatch order.
    """

    def __init__(
        self,
        user_dim: int,
        item_dim: int,
        regulariser: float = 0.0,
        hidden: int = 64,
        epochs: int = 6,
        batch_size: int = 1024,
        learning_rate: float = 3e-3,
        seed: int = 0,
    ) -> None:
        if regulariser < 0:
            raise ValueError(f"regulariser: must be ≥ 0, got {regulariser}")
        if epochs < 1 or batch_size < 1:
            raise ValueError(f"epochs, batch_size: must be ≥ 1, got {epochs}, {batch_size}")
        self.user_dim = user_dim
        self.item_dim = item_dim
        self.regulariser = float(regulariser)
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.seed = seed
        gen = th.Generator().manual_seed(seed)
        with th.random.fork_rng(devices=[]):
            th.manual_seed(int(th.randint(0, 2**31 - 1, (1,), generator=gen)))
            self.model = ClickModel(user_dim, item_dim, hidden)

    def _loss(
        self, log: InteractionLog, rows: np.ndarray, item_vectors: np.ndarray
    ) -> tuple[th.Tensor, th.Tensor]:
        user = th.from_numpy(log.user[rows].astype(np.float32))
        items = th.from_numpy(log.items[rows].astype(np.float32))
        scores, null = self.model(user, items)
        logits = th.cat([null[:, None], scores], dim=1)
        target = th.from_numpy(log.position[rows] + 1)
        nll = nn.functional.cross_entropy(logits, target)
        vecs = th.from_numpy(item_vectors[log.item_ids[rows]].astype(np.float32))
        sim = vecs @ vecs.transpose(1, 2)
        pi = th.softmax(scores, dim=1)
        expected_similarity = (pi[:, :, None] * pi[:, None, :] * sim).sum(dim=(1, 2)).mean()
        return nll, expected_similarity

    def fit(
        self, log: InteractionLog, item_vectors: np.ndarray, holdout: float = 0.1
    ) -> dict[str, float]:
        """Train on ``log``; ``item_vectors`` are the unit catalogue vectors (for S).

        A share ``holdout`` of the logged *users* is held out; the weights of the epoch with the
        lowest held-out objective are kept.  Returns the final held-out numbers.
        """
        rng = np.random.default_rng(self.seed)
        groups = np.unique(log.group)
        held = rng.choice(groups, size=max(1, round(holdout * len(groups))), replace=False)
        is_held = np.isin(log.group, held)
        train_rows, held_rows = np.flatnonzero(~is_held), np.flatnonzero(is_held)
        if len(train_rows) == 0:
            raise ValueError("fit: too few logged users to hold some out")
        opt = th.optim.Adam(self.model.parameters(), lr=self.learning_rate)
        best: tuple[float, dict[str, th.Tensor]] | None = None
        for _ in range(self.epochs):
            self.model.train()
            order = rng.permutation(train_rows)
            for start in range(0, len(order), self.batch_size):
                nll, sim = self._loss(log, order[start : start + self.batch_size], item_vectors)
                loss = nll + self.regulariser * sim
                opt.zero_grad()
                loss.backward()
                opt.step()
            held_nll, held_sim = self.evaluate(log, item_vectors, held_rows)
            objective = held_nll + self.regulariser * held_sim
            if best is None or objective < best[0]:
                best = (objective, {k: v.clone() for k, v in self.model.state_dict().items()})
        self.model.load_state_dict(best[1])  # type: ignore[index]
        held_nll, held_sim = self.evaluate(log, item_vectors, held_rows)
        clicked = log.position[held_rows] >= 0
        return {
            "train_steps": float(len(train_rows)),
            "heldout_steps": float(len(held_rows)),
            "heldout_nll": held_nll,
            "heldout_expected_similarity": held_sim,
            "heldout_ctr": float(clicked.mean()) if len(held_rows) else float("nan"),
        }

    def evaluate(
        self, log: InteractionLog, item_vectors: np.ndarray, rows: np.ndarray | None = None
    ) -> tuple[float, float]:
        """Mean choice NLL and expected similarity of the model on the logged steps ``rows``."""
        rows = np.arange(len(log)) if rows is None else rows
        if len(rows) == 0:
            return float("nan"), float("nan")
        self.model.eval()
        total_nll = total_sim = 0.0
        with th.no_grad():
            for start in range(0, len(rows), 8192):
                chunk = rows[start : start + 8192]
                nll, sim = self._loss(log, chunk, item_vectors)
                total_nll += float(nll) * len(chunk)
                total_sim += float(sim) * len(chunk)
        return total_nll / len(rows), total_sim / len(rows)

    def scores(self, user: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Click logits ``(N, n)`` of candidates ``(N, n, f)`` for users ``(N, U)``."""
        self.model.eval()
        with th.no_grad():
            s, _ = self.model(
                th.from_numpy(np.asarray(user, dtype=np.float32)),
                th.from_numpy(np.asarray(candidates, dtype=np.float32)),
            )
        return s.numpy().astype(np.float64)


def picks_to_actions(picks: np.ndarray, n: int) -> np.ndarray:
    """Actions that make the slate exactly ``picks`` ``(N, k)`` (candidate indices, best first)."""
    k = picks.shape[1]
    ranks = np.full((len(picks), n), -1.0)
    np.put_along_axis(ranks, picks, np.arange(k, 0, -1, dtype=np.float64)[None, :], axis=1)
    return scores_to_actions(ranks)


class RerankAgent:
    """A :class:`ClickRanker` behind the agent face, with MMR or DPP re-ranking at serving.

    Parameters
    ----------
    ranker:
        A trained :class:`ClickRanker`.
    method:
        ``none`` (top-k by score), ``mmr`` or ``dpp``.
    tradeoff:
        Re-ranking diversity weight λ ∈ [0, 1] (0 = plain ranking).
    name:
        Label used in reports.
    """

    def __init__(
        self, ranker: ClickRanker, method: str = "none", tradeoff: float = 0.0, name: str = ""
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"method: must be one of {', '.join(METHODS)}, got {method!r}")
        if not 0.0 <= tradeoff <= 1.0:
            raise ValueError(f"tradeoff: must be in [0, 1], got {tradeoff}")
        self.ranker = ranker
        self.method = method
        self.tradeoff = float(tradeoff)
        self.name = name or (method if method == "none" else f"{method}-{tradeoff:g}")

    def act(self, observation: dict[str, np.ndarray], simulator: SlateSimulator) -> np.ndarray:
        candidates, feature_dim = simulator.candidates, simulator.candidate_feature_dim
        if candidates is None or feature_dim is None:
            raise ValueError(f"{self.name}: needs the 'candidates' slate builder")
        n_users, n = candidates.shape
        actions = np.zeros((n_users, n), dtype=np.float32)
        # Only users still in a session need a slate (whether a user is there is no secret).
        rows = np.flatnonzero(simulator.state.active)
        if len(rows) == 0:
            return actions
        feats = observation["candidates"].reshape(n_users, n, feature_dim)[rows]
        scores = self.ranker.scores(observation["user"][rows], feats)
        if self.method == "none" or self.tradeoff == 0.0:
            actions[rows] = scores_to_actions(scores)
            return actions
        # Item vectors are public catalogue data (the first features of every candidate, too).
        vectors = simulator.catalog.embeddings[candidates[rows]]
        if self.method == "mmr":
            low = scores.min(axis=1, keepdims=True)
            span = np.maximum(scores.max(axis=1, keepdims=True) - low, 1e-12)
            picks = mmr_batch((scores - low) / span, vectors, simulator.k, self.tradeoff)
        else:
            picks = dpp_greedy_batch(scores, vectors, simulator.k, self.tradeoff)
        actions[rows] = picks_to_actions(picks, n)
        return actions
