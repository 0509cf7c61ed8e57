"""Wall time of one default user-model fine-tune (``divrec-rl finetune`` with every default) on a
MovieLens set, in a temporary directory that is removed afterwards (``--keep DIR`` writes the
checkpoint to DIR instead, e.g. a report's ``twins/hybrid-seed<s>``).

Prints the dataset, device, torch threads, steps, the total wall seconds (data loading, text
cache, training, validations and checkpoints included), the training steps' seconds/step from
the checkpoint's wall time, the final validation metrics (in-sample with the default
``fit_period`` train+val; ``--fit-period train`` holds validation out) and the peak resident
memory.
Acceptance targets (issue 13, 2 CPU cores): ≤ 20 min for MovieLens-100k, ≤ 60 min for
MovieLens-1M.  Machines are shared: one run, reported as measured.  The flags, the recipe, the
device and the ``--keep`` folder are checked before fine-tuning.

    python benchmarks/finetune_time.py [--dataset movielens-100k|movielens-1m]
        [--device cpu|cuda|auto] [--threads 1] [--seed 0] [--base-model DIR] [--keep DIR]
        [--fit-period train+val|train] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from _cli import existing_directory, nonnegative_int, output_directory, run

from divrec_rl.bert.settings import TrainConfig
from divrec_rl.bert.train import finetune
from divrec_rl.training.device import DEVICES, resolve_device


def measure(
    dataset: str,
    device: str,
    threads: int,
    seed: int,
    base_model: str | None = None,
    keep: Path | None = None,
    fit_period: str = "train+val",
) -> dict[str, object]:
    """Fine-tune once with the dataset's default recipe (what ``divrec-rl finetune`` runs);
    the timings and final validation metrics."""
    cfg = TrainConfig.for_dataset(
        {"dataset": dataset, "seed": seed, "base_model": base_model, "fit_period": fit_period}
    )
    with tempfile.TemporaryDirectory(prefix="divrec-finetune-time-") as tmp:
        out = keep or Path(tmp) / "model"
        start = time.perf_counter()
        result = finetune(cfg, out, device=device, progress=False, threads=threads)
        wall = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "dataset": dataset,
        "device": device,
        "threads": threads,
        "steps": cfg.steps,
        "fit_period": cfg.fit_period,
        "wall_seconds": wall,
        "seconds_per_step": result.wall_seconds / cfg.steps,
        "validation": result.validation,
        "peak_rss_mb": peak_kb / 1024.0,
    }


def parser() -> argparse.ArgumentParser:
    """The flags; counts, the device name and the ``--keep`` folder are checked here."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="movielens-100k", help="dataset name or directory")
    p.add_argument("--device", default="cpu", choices=DEVICES, help="auto, cpu or cuda")
    p.add_argument("--threads", type=nonnegative_int, default=1,
                   help="torch CPU threads (0 = torch default)")  # fmt: skip
    p.add_argument("--seed", type=nonnegative_int, default=0, help="fine-tuning seed")
    p.add_argument("--base-model", type=existing_directory, default=None,
                   help="encoder folder (default: MiniLM)")  # fmt: skip
    p.add_argument("--keep", type=output_directory, default=None, metavar="DIR",
                   help="keep the checkpoint in DIR")  # fmt: skip
    p.add_argument(
        "--fit-period",
        default="train+val",
        choices=("train+val", "train"),
        help="ratings fitted on (train holds validation out)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    return p


def main(argv: list[str] | None = None) -> None:
    """Fine-tune once and print the timings (module docstring)."""
    args = parser().parse_args(argv)
    device = resolve_device(args.device)  # a cuda without GPU fails before any work
    row = measure(
        args.dataset,
        device,
        args.threads,
        args.seed,
        str(args.base_model) if args.base_model else None,
        args.keep,
        args.fit_period,
    )
    if args.json:
        print(json.dumps(row, indent=2))
        return
    wall = float(row["wall_seconds"])  # type: ignore[arg-type]
    print(
        f"{row['dataset']}: {row['steps']} steps on {row['device']} ({row['threads']} thread(s)) "
        f"in {wall:.0f} s ({wall / 60:.1f} min), {row['seconds_per_step']:.2f} s/step overall, "
        f"peak RSS {row['peak_rss_mb']:.0f} MB"
    )
    where = " (in-sample)" if row["fit_period"] == "train+val" else ""
    print(f"validation{where}: " + json.dumps(row["validation"]))


if __name__ == "__main__":
    run(main)
