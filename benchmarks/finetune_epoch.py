"""Wall time of one BERT user-model fine-tuning epoch on a device (``cpu`` or ``cuda``).

One "epoch" here is ``ceil(0.8 × R / B)`` optimiser steps of ``B = batch_items ×
ratings_per_item`` ratings each, R the data set's ratings and 0.8 = 1 − ``val_frac`` −
``test_frac`` (the defaults): as many ratings as the training period holds (156.25 → 157 steps
of 512 for MovieLens-100k's 100,000 ratings).  Each step draws its ratings with replacement
from the examples of the recipe's fit period — ``train+val`` by default: every rating before the
test period with at least ``min_history`` earlier ones — so an epoch is a training period's worth
of drawn ratings, not one pass over every example.  The script prints these figures.  The steps
run through the real fine-tuning code (:func:`divrec_rl.bert.train.finetune`) with the linear
probe off (``probe_steps = 0``: the top ``--finetune-layers`` transformer layers of the encoder
train from the first step; default all of them, so the whole encoder but its input embeddings
is fine-tuned), validation only at the end and ``--threads`` torch CPU threads (default 1, as
``finetune``'s own default).  The data set's default recipe fills the other settings; its own
``finetune_layers`` (1 for MovieLens-100k, 0 — a frozen encoder — for MovieLens-1M) would time
little or no BERT training.  Printed: the device resolved from ``--device`` (and GPU name), the
torch threads, the encoder and the layers fine-tuned, the dataset, the epoch, the whole call's
wall time (item-text encoding and checkpoint writing included) and steps/s.

Data: ``--dataset`` (a name or directory :func:`divrec_rl.data.load_dataset` reads), else a
synthetic one (:func:`divrec_rl.bert.testing.write_synthetic_dataset`, ``--users`` users ×
``--ratings`` ratings over ``--items`` items).  Encoder: ``--base-model`` DIR, else the default
MiniLM package when installed, else a randomly initialised BERT of MiniLM's shape (6 layers,
hidden 384) on a word-level vocabulary — nothing is downloaded.  Every flag is checked before
any data or encoder is written.

    python benchmarks/finetune_epoch.py [--device cuda] [--dataset DIR] [--base-model DIR]
        [--finetune-layers N] [--threads 1]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import torch
from _cli import existing_directory, nonnegative_int, positive_int, run

from divrec_rl.bert.encoder import EncoderError, default_encoder_path, quiet_transformers
from divrec_rl.bert.settings import TrainConfig
from divrec_rl.bert.testing import write_synthetic_dataset, write_tiny_encoder
from divrec_rl.bert.train import finetune
from divrec_rl.data import load_dataset
from divrec_rl.training.device import DEVICES, resolve_device


def random_encoder(directory: Path) -> Path:
    """A randomly initialised BERT of MiniLM-L6's shape with the synthetic data's vocabulary."""
    from transformers import BertConfig, BertModel

    write_tiny_encoder(directory)  # the vocabulary and tokenizer files
    config = BertConfig(
        vocab_size=len((directory / "vocab.txt").read_text(encoding="utf-8").split("\n")) - 1,
        hidden_size=384,
        num_hidden_layers=6,
        num_attention_heads=12,
        intermediate_size=1536,
        max_position_embeddings=512,
    )
    torch.manual_seed(0)
    with quiet_transformers():
        BertModel(config).save_pretrained(str(directory))
    return directory


def pick_encoder(base_model: Path | None, tmp: Path) -> tuple[Path, str]:
    """The encoder folder and a label saying which one it is."""
    if base_model:
        return base_model, str(base_model)
    try:
        return default_encoder_path(), "MiniLM-L6 (default package)"
    except EncoderError:
        return random_encoder(tmp / "encoder"), "random BERT of MiniLM-L6 shape (package absent)"


def encoder_layers(directory: Path) -> int:
    """The encoder's transformer layer count (``num_hidden_layers`` of its ``config.json``)."""
    from transformers import AutoConfig

    return int(AutoConfig.from_pretrained(str(directory)).num_hidden_layers)


def parser() -> argparse.ArgumentParser:
    """The flags; each is checked here, before any data or encoder is written."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", choices=DEVICES,
                   help="where to train (auto = cuda when a GPU is visible, else cpu)")  # fmt: skip
    p.add_argument("--dataset", default=None, help="dataset name or directory (else synthetic)")
    p.add_argument("--base-model", type=existing_directory, default=None,
                   help="local Hugging Face encoder folder")  # fmt: skip
    p.add_argument("--users", type=positive_int, default=2000, help="synthetic users")
    p.add_argument("--items", type=positive_int, default=400, help="synthetic items")
    p.add_argument("--ratings", type=positive_int, default=40, help="synthetic ratings per user")
    p.add_argument("--batch-items", type=positive_int, default=64)
    p.add_argument("--ratings-per-item", type=positive_int, default=8)
    p.add_argument("--max-steps", type=nonnegative_int, default=0,
                   help="cap on the epoch's steps (0 = none)")  # fmt: skip
    p.add_argument(
        "--finetune-layers",
        type=nonnegative_int,
        default=None,
        help="top transformer layers fine-tuned (default: all of the encoder's)",
    )
    p.add_argument("--threads", type=nonnegative_int, default=1,
                   help="torch CPU threads of the fine-tune (0 = torch's default)")  # fmt: skip
    return p


def epoch_steps(n_ratings: int, batch: int, max_steps: int = 0) -> int:
    """Steps of one epoch (module docstring): ``ceil(0.8 × n_ratings / batch)``, 0.8 the
    training share of the default split, capped at ``max_steps`` when that is > 0."""
    fields = TrainConfig.model_fields
    train_frac = 1.0 - fields["val_frac"].default - fields["test_frac"].default
    steps = math.ceil(n_ratings * train_frac / batch)
    return min(steps, max_steps) if max_steps else steps


def main(argv: list[str] | None = None) -> None:
    """Time one epoch (module docstring) and print what was timed."""
    p = parser()
    args = p.parse_args(argv)
    device = resolve_device(args.device)  # a cuda without GPU fails before any work
    threads = args.threads or torch.get_num_threads()  # 0 leaves torch's default count
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        encoder, encoder_label = pick_encoder(args.base_model, tmp)
        n_layers = encoder_layers(encoder)
        layers = n_layers if args.finetune_layers is None else args.finetune_layers
        if not 0 <= layers <= n_layers:
            p.error(
                f"--finetune-layers: must be 0 to {n_layers} (the encoder's layers), got {layers}"
            )
        dataset = args.dataset or str(
            write_synthetic_dataset(tmp / "data", args.users, args.items, args.ratings)
        )
        data = load_dataset(dataset)
        batch = args.batch_items * args.ratings_per_item
        steps = epoch_steps(len(data.ratings), batch, args.max_steps)
        cfg = TrainConfig.for_dataset(
            {
                "dataset": dataset,
                "base_model": str(encoder),
                "steps": steps,
                "probe_steps": 0,
                "finetune_layers": layers,
                "warmup_steps": 0,
                "eval_every": steps,
                "batch_items": args.batch_items,
                "ratings_per_item": args.ratings_per_item,
            }
        )
        start = time.perf_counter()
        finetune(cfg, tmp / "model", device=device, progress=False, data=data, threads=args.threads)
        wall = time.perf_counter() - start
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    print(f"BERT fine-tuning epoch on {device} ({name}), {threads} torch thread(s)")
    print(f"  encoder: {encoder_label}; top {layers} of {n_layers} layers fine-tuned")
    print(f"  dataset: {args.dataset or 'synthetic'} ({len(data.ratings):,} ratings)")
    full = epoch_steps(len(data.ratings), batch)
    print(
        f"  epoch: ceil(0.8 × {len(data.ratings):,} ratings / {batch}) = {full} steps, each "
        f"drawing {batch} ratings from the {cfg.fit_period} examples"
        + ("" if steps == full else f"; capped at {steps} by --max-steps")
    )
    print(f"  steps: {steps} of {batch} ratings; wall {wall:.1f} s; {steps / wall:.2f} steps/s")


if __name__ == "__main__":
    run(main)
