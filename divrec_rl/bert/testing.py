"""Tiny stand-ins for tests and examples: a synthetic ratings dataset and a random tiny BERT.

:func:`write_synthetic_dataset` writes RecBole atomic files whose users each prefer one genre
(ratings 4–5 on it, 1–3 elsewhere), so a model has something to learn;
:func:`write_tiny_encoder` writes a randomly initialised ``BertConfig`` model (hidden size 16, two
layers) with a word-level vocabulary covering the dataset's texts.  Both are local folders, so
nothing is ever downloaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from divrec_rl.bert.settings import TrainConfig

if TYPE_CHECKING:  # torch and the trainer load lazily: this module is also imported cheaply
    from divrec_rl.bert.trainer import FinetuneRun

GENRES = ("Action", "Comedy", "Drama", "Horror")
WORDS = (
    "red", "blue", "night", "day", "city", "river", "ghost", "king", "love", "war",
    "dream", "storm", "star", "road", "house", "secret", "last", "little", "dark", "gold",
)  # fmt: skip
OCCUPATIONS = ("student", "engineer", "artist", "writer")


def write_synthetic_dataset(
    directory: str | Path,
    n_users: int = 30,
    n_items: int = 40,
    ratings_per_user: int = 16,
    seed: int = 0,
    name: str = "tiny",
) -> Path:
    """Write ``<directory>/<name>.inter|.item|.user`` (atomic layout) and return the directory."""
    rng = np.random.default_rng(seed)
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    item_genres = []
    lines = ["item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq"]
    for i in range(n_items):
        k = int(rng.integers(1, 3))
        gs = sorted(rng.choice(len(GENRES), size=k, replace=False).tolist())
        item_genres.append(set(gs))
        title = " ".join(rng.choice(WORDS, size=2, replace=False)).title()
        year = 1980 + int(rng.integers(0, 20))
        lines.append(f"{i + 1}\t{title}\t{year}\t{' '.join(GENRES[g] for g in gs)}")
    (d / f"{name}.item").write_text("\n".join(lines) + "\n", encoding="utf-8")
    users = ["user_id:token\tage:token\tgender:token\toccupation:token"]
    inter = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    for u in range(n_users):
        fav = int(rng.integers(0, len(GENRES)))
        gender = "MF"[u % 2]
        users.append(f"{u + 1}\t{18 + 2 * u}\t{gender}\t{OCCUPATIONS[u % len(OCCUPATIONS)]}")
        liked = [i for i in range(n_items) if fav in item_genres[i]]
        others = [i for i in range(n_items) if fav not in item_genres[i]]
        n_like = min(len(liked), ratings_per_user // 2)
        chosen = (
            rng.choice(liked, size=n_like, replace=False).tolist()
            + rng.choice(
                others, size=min(len(others), ratings_per_user - n_like), replace=False
            ).tolist()
        )
        rng.shuffle(chosen)
        for t, i in enumerate(chosen):
            rating = int(rng.integers(4, 6)) if fav in item_genres[i] else int(rng.integers(1, 4))
            inter.append(f"{u + 1}\t{i + 1}\t{rating}\t{1_000_000_000 + 1000 * u + t}")
    (d / f"{name}.user").write_text("\n".join(users) + "\n", encoding="utf-8")
    (d / f"{name}.inter").write_text("\n".join(inter) + "\n", encoding="utf-8")
    return d


def write_tiny_encoder(directory: str | Path, seed: int = 0) -> Path:
    """Write a random tiny BERT (hidden 16, 2 layers, 2 heads) and its tokenizer; return the dir."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", ":", "(", ")", "genres"]
    vocab += [w.lower() for w in (*WORDS, *GENRES)]
    vocab += [str(i) for i in range(10)] + [f"##{i}" for i in range(10)]
    (d / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(vocab_file=str(d / "vocab.txt"), do_lower_case=True)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    from divrec_rl.bert.encoder import quiet_transformers

    with quiet_transformers():
        BertModel(config).save_pretrained(str(d))
        tokenizer.save_pretrained(str(d))
    return d


def tiny_train_config(
    dataset: str | Path, base_model: str | Path, **overrides: object
) -> TrainConfig:
    """A :class:`TrainConfig` that trains the tiny encoder on the synthetic data in seconds."""
    values: dict[str, object] = {
        "dataset": str(dataset),
        "base_model": str(base_model),
        "dim": 8,
        "max_len": 16,
        "finetune_layers": 1,
        "steps": 6,
        "probe_steps": 2,
        "batch_items": 8,
        "ratings_per_item": 2,
        "n_pool": 8,
        "eval_every": 3,
        "warmup_steps": 2,
        "feature_hidden": 8,
        "min_history": 2,
        "min_train": 3,
        "val_frac": 0.15,
        "test_frac": 0.15,
        "lr_encoder": 1e-3,
        "lr_heads": 1e-2,
    }
    values.update(overrides)
    return TrainConfig(**values)  # type: ignore[arg-type]


_SHARED: dict[str, Path] = {}


def shared_tiny_checkpoint() -> dict[str, Path]:
    """A synthetic dataset, tiny encoder and a checkpoint fine-tuned on them, built once per
    process in a temporary directory (removed at exit); callers must not modify it."""
    if not _SHARED:
        import atexit
        import shutil
        import tempfile

        from divrec_rl.bert.train import finetune

        root = Path(tempfile.mkdtemp(prefix="divrec-bert-tiny-"))
        atexit.register(shutil.rmtree, root, True)
        data = write_synthetic_dataset(root / "data")
        enc = write_tiny_encoder(root / "encoder")
        finetune(tiny_train_config(data, enc), root / "model", device="cpu", progress=False)
        _SHARED.update(root=root, data=data, encoder=enc, model=root / "model")
    return dict(_SHARED)


def tiny_finetune_run(shared: dict[str, Path], **overrides: object) -> FinetuneRun:
    """The :class:`FinetuneRun` that ``finetune`` would start on :func:`shared_tiny_checkpoint`'s
    dataset and encoder with :func:`tiny_train_config` and ``overrides`` (CPU, nothing written);
    torch is seeded with the config's seed first, as ``finetune`` does, so equal settings give
    equal heads."""
    import torch

    from divrec_rl.bert.encoder import load_encoder, tokenize
    from divrec_rl.bert.prepare import prepare_for
    from divrec_rl.bert.train import _two_tower
    from divrec_rl.bert.trainer import FinetuneRun
    from divrec_rl.data import load_dataset

    cfg = tiny_train_config(shared["data"], shared["encoder"], **overrides)
    prep = prepare_for(load_dataset(shared["data"]), cfg)
    tokenizer, hf, _ = load_encoder(cfg.base_model)
    ids, mask = tokenize(tokenizer, prep.data.items["text"].tolist(), cfg.max_len)
    torch.manual_seed(cfg.seed)
    model = _two_tower(cfg, prep, hf, ids, mask, shared["data"], None)
    return FinetuneRun(cfg, prep, ids, mask, model, torch.device("cpu"))


def tiny_scenario_overrides(shared: dict[str, Path] | None = None) -> dict[str, dict]:
    """Scenario overrides that run a MovieLens scenario on :func:`shared_tiny_checkpoint`'s
    dataset and model, with a slate and an episode small enough for tests."""
    shared = shared or shared_tiny_checkpoint()
    return {
        "catalog": {"path": str(shared["data"])},
        "response": {"path": str(shared["model"])},
        "slate": {"size": 4, "n_candidates": 12},
        "episode": {"max_steps": 8},
    }
