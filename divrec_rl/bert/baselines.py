"""Baselines of the fidelity report: popularity and BPR matrix factorisation.

Both only rank, so their engagement probabilities come from Platt scaling (a one-feature logistic
regression of the label on the score) fitted on the *validation* pointwise set and applied
unchanged to the test set.  Each is refitted on everything before the period it is evaluated
on: for ``val`` the training ratings, for ``test`` training + validation ratings (the two-tower
models see the same ratings as their history).

The third baseline, ``frozen``, is the two-tower model itself with ``finetune_layers = 0``
(:func:`divrec_rl.bert.train.finetune`), so it is not here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from divrec_rl.bert.fidelity import EvalSplit
from divrec_rl.bert.prepare import POSITIVE_RATING


@dataclass
class Platt:
    """``p = σ(a·s + b)``, fitted by maximum likelihood (scikit-learn, no regularisation)."""

    a: float = 1.0
    b: float = 0.0

    @classmethod
    def fit(cls, scores: np.ndarray, labels: np.ndarray) -> Platt:
        """Fit on raw scores and 0/1 labels."""
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1e6, max_iter=1000)
        lr.fit(scores.reshape(-1, 1), labels.astype(int))
        return cls(float(lr.coef_[0, 0]), float(lr.intercept_[0]))

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.a * scores + self.b)))


class _Calibrated:
    """A score-only model plus Platt scaling fitted on ``val``."""

    platt: Platt = Platt()

    def scores(self, split: EvalSplit, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def calibrate(self, val: EvalSplit) -> None:
        """Fit the Platt map on the validation pointwise set."""
        self.platt = Platt.fit(self.scores(val, val.users, val.items), val.labels)

    def prob(self, split: EvalSplit, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.platt(self.scores(split, users, items))


class PopularityModel(_Calibrated):
    """Score ``log(1 + n_i)``, ``n_i`` the item's ratings in the history period (any rating)."""

    def __init__(self, n_items: int) -> None:
        self.n_items = n_items
        self._log_counts: dict[str, np.ndarray] = {}

    def _counts(self, split: EvalSplit) -> np.ndarray:
        if split.name not in self._log_counts:
            items = split.history_frame["item_id"].to_numpy()
            self._log_counts[split.name] = np.log1p(np.bincount(items, minlength=self.n_items))
        return self._log_counts[split.name]

    def scores(self, split: EvalSplit, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self._counts(split)[items]

    def rank_scores(self, split: EvalSplit, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self._counts(split), (len(users), self.n_items)).copy()


@dataclass
class BPRConfig:
    """Hyper-parameters of :class:`BPRModel` (:func:`select_bpr` picks among :data:`BPR_GRID`)."""

    dim: int = 64
    epochs: int = 40
    lr: float = 0.01
    reg: float = 1e-4
    batch_size: int = 1024
    seed: int = 0


class BPRModel(_Calibrated):
    """Bayesian Personalised Ranking matrix factorisation (Rendle et al., UAI 2009).

    ``x_ui = p_u · q_i + b_i``; positives are the history period's ratings ``≥ 4``, each paired
    per epoch with one item drawn uniformly among those the user did not rate; loss
    ``−log σ(x_ui − x_uj) + reg·(‖p_u‖² + ‖q_i‖² + ‖q_j‖² + b_i² + b_j²)``, Adam.  Trained
    with torch on CPU in seconds for ML-100k.
    """

    def __init__(self, n_users: int, n_items: int, config: BPRConfig | None = None) -> None:
        self.n_users = n_users
        self.n_items = n_items
        self.config = config or BPRConfig()
        self._factors: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def fit(self, split: EvalSplit) -> None:
        """Train on ``split``'s history period."""
        import torch

        cfg = self.config
        hist: pd.DataFrame = split.history_frame
        pos = hist[hist["rating"] >= POSITIVE_RATING]
        users = pos["user_id"].to_numpy().astype(np.int64)
        items = pos["item_id"].to_numpy().astype(np.int64)
        gen = torch.Generator().manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        p = torch.nn.Parameter(torch.randn(self.n_users, cfg.dim, generator=gen) * 0.05)
        q = torch.nn.Parameter(torch.randn(self.n_items, cfg.dim, generator=gen) * 0.05)
        b = torch.nn.Parameter(torch.zeros(self.n_items))
        opt = torch.optim.Adam([p, q, b], lr=cfg.lr)
        seen = split.history_seen
        for _ in range(cfg.epochs):
            order = rng.permutation(len(users))
            for s in range(0, len(order), cfg.batch_size):
                j = order[s : s + cfg.batch_size]
                u, i = users[j], items[j]
                neg = rng.integers(0, self.n_items, len(j))
                bad = seen[u, neg]
                while bad.any():
                    neg[bad] = rng.integers(0, self.n_items, int(bad.sum()))
                    bad = seen[u, neg]
                ut, it, nt = (torch.as_tensor(a) for a in (u, i, neg))
                pu, qi, qj = p[ut], q[it], q[nt]
                diff = (pu * (qi - qj)).sum(-1) + b[it] - b[nt]
                reg = (pu**2).sum() + (qi**2).sum() + (qj**2).sum() + (b[it] ** 2).sum()
                loss = -torch.nn.functional.logsigmoid(diff).mean() + cfg.reg * (
                    reg + (b[nt] ** 2).sum()
                ) / len(j)
                opt.zero_grad()
                loss.backward()
                opt.step()
        self._factors[split.name] = (
            p.detach().numpy().astype(np.float64),
            q.detach().numpy().astype(np.float64),
            b.detach().numpy().astype(np.float64),
        )

    def _get(self, split: EvalSplit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if split.name not in self._factors:
            self.fit(split)
        return self._factors[split.name]

    def scores(self, split: EvalSplit, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        p, q, b = self._get(split)
        return (p[users] * q[items]).sum(-1) + b[items]

    def rank_scores(self, split: EvalSplit, users: np.ndarray) -> np.ndarray:
        p, q, b = self._get(split)
        return p[users] @ q.T + b[None, :]


#: Candidate settings of the ``mf`` baseline; the report keeps the best validation NDCG@10.
BPR_GRID: tuple[dict[str, float], ...] = (
    {"lr": 0.01, "epochs": 20},
    {"lr": 0.01, "epochs": 40},
    {"lr": 0.003, "epochs": 60},
    {"lr": 0.003, "epochs": 100},
)


def select_bpr(
    val: EvalSplit,
    n_users: int,
    n_items: int,
    seed: int,
    grid: tuple[dict[str, float], ...] = BPR_GRID,
) -> tuple[BPRModel, list[dict[str, float]]]:
    """Fit one :class:`BPRModel` per grid point on the validation period's history and keep the
    best validation NDCG@10 (Platt-calibrated on validation); also return every point's score.
    """
    from dataclasses import replace

    from divrec_rl.bert.fidelity import evaluate

    best: BPRModel | None = None
    best_score = -np.inf
    tried = []
    for point in grid:
        model = BPRModel(n_users, n_items, replace(BPRConfig(seed=seed), **point))
        model.calibrate(val)
        score = evaluate(model, val)["ndcg@10"]
        tried.append({**point, "val_ndcg@10": score})
        if score > best_score:
            best, best_score = model, score
    assert best is not None
    return best, tried
