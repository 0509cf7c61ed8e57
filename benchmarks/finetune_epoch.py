"""Wall time of one BERT user-model fine-tuning epoch on a device (``cpu`` or ``cuda``).

One epoch = ``ceil(R_train / (batch_items × ratings_per_item))`` optimiser steps, R_train the
training-period ratings (the dataset's ratings less the validation and test fractions), run
through the real fine-tuning code (:func:`divrec_rl.bert.train.finetune`) with the linear probe
off (``probe_steps = 0``: the top ``--finetune-layers`` transformer layers of the encoder train
from the first step; default all of them, so the whole encoder but its input embeddings is
fine-tuned) and validation only at the end.  The data set's default recipe fills the other
settings; its own ``finetune_layers`` (1 for MovieLens-100k, 0 — a frozen encoder — for
MovieLens-1M) would time little or no BERT training.  Printed: the device (and GPU name),
the encoder and the layers fine-tuned, the dataset, the steps, the whole call's wall time
(item-text encoding and checkpoint writing included) and steps/s.

Data: ``--dataset`` (a name or directory :func:`divrec_rl.data.load_dataset` reads), else a
synthetic one (:func:`divrec_rl.bert.testing.write_synthetic_dataset`, ``--users`` users ×
``--ratings`` ratings over ``--items`` items).  Encoder: ``--base-model`` DIR, else the default
MiniLM package when installed, else a randomly initialised BERT of MiniLM's shape (6 layers,
hidden 384) on a word-level vocabulary — nothing is downloaded.

    python benchmarks/finetune_epoch.py [--device cuda] [--dataset DIR] [--base-model DIR]
        [--finetune-layers N]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import torch

from divrec_rl.bert.encoder import EncoderError, default_encoder_path, quiet_transformers
from divrec_rl.bert.settings import TrainConfig
from divrec_rl.bert.testing import write_synthetic_dataset, write_tiny_encoder
from divrec_rl.bert.train import finetune
from divrec_rl.data import load_dataset


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


def pick_encoder(base_model: str | None, tmp: Path) -> tuple[Path, str]:
    """The encoder folder and a label saying which one it is."""
    if base_model:
        return Path(base_model), base_model
    try:
        return default_encoder_path(), "MiniLM-L6 (default package)"
    except EncoderError:
        return random_encoder(tmp / "encoder"), "random BERT of MiniLM-L6 shape (package absent)"


def encoder_layers(directory: Path) -> int:
    """The encoder's transformer layer count (``num_hidden_layers`` of its ``config.json``)."""
    from transformers import AutoConfig

    return int(AutoConfig.from_pretrained(str(directory)).num_hidden_layers)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--dataset", default=None, help="dataset name or directory (else synthetic)")
    p.add_argument("--base-model", default=None, help="local Hugging Face encoder folder")
    p.add_argument("--users", type=int, default=2000, help="synthetic users")
    p.add_argument("--items", type=int, default=400, help="synthetic items")
    p.add_argument("--ratings", type=int, default=40, help="synthetic ratings per user")
    p.add_argument("--batch-items", type=int, default=64)
    p.add_argument("--ratings-per-item", type=int, default=8)
    p.add_argument("--max-steps", type=int, default=0, help="cap on the epoch's steps (0 = none)")
    p.add_argument(
        "--finetune-layers",
        type=int,
        default=None,
        help="top transformer layers fine-tuned (default: all of the encoder's)",
    )
    args = p.parse_args()
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
        fields = TrainConfig.model_fields
        train_frac = 1.0 - fields["val_frac"].default - fields["test_frac"].default
        batch = args.batch_items * args.ratings_per_item
        steps = math.ceil(len(data.ratings) * train_frac / batch)
        if args.max_steps:
            steps = min(steps, args.max_steps)
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
        finetune(cfg, tmp / "model", device=args.device, progress=False, data=data)
        wall = time.perf_counter() - start
    name = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "cpu"
    print(f"BERT fine-tuning epoch on {args.device} ({name})")
    print(f"  encoder: {encoder_label}; top {layers} of {n_layers} layers fine-tuned")
    print(f"  dataset: {args.dataset or 'synthetic'} ({len(data.ratings):,} ratings)")
    print(f"  steps: {steps} of {batch} ratings; wall {wall:.1f} s; {steps / wall:.2f} steps/s")


if __name__ == "__main__":
    main()
