"""``divrec-rl finetune`` and ``divrec-rl user-model-report`` (also ``scripts/
finetune_user_model.py`` and ``scripts/user_model_report.py``).  Thin: parse, call
:func:`~divrec_rl.bert.train.finetune` or :func:`~divrec_rl.bert.report.build_report`, print.
Every :class:`~divrec_rl.bert.settings.TrainConfig` field is a ``finetune`` flag of the same name.
Bad input prints one ``error: …`` line to stderr and returns 2."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from divrec_rl.bert.settings import DATASET_RECIPES, TrainConfig
from divrec_rl.commands.common import guarded
from divrec_rl.errors import DivrecError
from divrec_rl.training.device import DEVICES
from divrec_rl.training.settings import add_model_arguments, given_fields

__all__ = [
    "FINETUNE_DESCRIPTION",
    "REPORT_DESCRIPTION",
    "add_finetune_arguments",
    "add_report_arguments",
    "add_user_model_commands",
    "run_finetune",
    "run_report",
]

FINETUNE_DESCRIPTION = (
    "Fine-tune the two-tower user model (docs/user-model.md); progress bar, TensorBoard logs "
    "in OUT/tb, safetensors + JSON checkpoint in OUT. Options left out take the dataset's "
    "recipe ("
    + "; ".join(
        f"{name}: " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in recipe.items())
        for name, recipe in DATASET_RECIPES.items()
    )
    + "), then the defaults shown."
)
REPORT_DESCRIPTION = (
    "Evaluate a checkpoint, its ablation twins (trained into OUT/twins, reused when there) and "
    "the popularity and BPR baselines over several seeds; write OUT/report.md, "
    "OUT/metrics.json, OUT/details.json, OUT/reliability.png."
)


def _device_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device",
        choices=DEVICES,
        default="auto",
        help="torch device: auto (cuda when present, else cpu), cpu or cuda",
    )


def _threads_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads, 0 = torch's default (default: 1, far faster on small shared "
        "machines)",
    )


def add_finetune_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``finetune``: ``--out``, ``--device``, ``--resume`` and every
    :class:`TrainConfig` field as ``--kebab-case``."""
    p.add_argument("--out", required=True, metavar="DIR", help="checkpoint directory")
    _device_argument(p)
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the checkpoint in --out with its own settings (flags given here override "
        "them; only the resumable ones, e.g. --steps, may differ)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _threads_argument(p)
    add_model_arguments(p, TrainConfig)


def add_report_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``user-model-report``."""
    p.add_argument("--model", required=True, metavar="DIR", help="fine-tuned checkpoint")
    p.add_argument("--out", required=True, metavar="OUT", help="report directory")
    p.add_argument(
        "--base-model",
        default=None,
        metavar="DIR",
        help="encoder folder of the frozen baseline (default: the checkpoint's base encoder)",
    )
    p.add_argument(
        "--dataset",
        default=None,
        help="dataset name or directory (default: the one the checkpoint was trained on)",
    )
    _device_argument(p)
    p.add_argument(
        "--seeds",
        default="0,1,2",
        help="comma-separated seeds (twin training, BPR, sampled negatives); mean ± std over "
        "them (default: 0,1,2)",
    )
    p.add_argument(
        "--rows",
        default="hybrid,text,id,frozen,popularity,mf",
        help="compared rows (hybrid = the checkpoint's recipe: the checkpoint for its own seed, "
        "a twin for the others; text, id and frozen twins are trained per seed, text "
        "fine-tunes the encoder like the checkpoint)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _threads_argument(p)


def _as_divrec_error(exc: ValueError) -> DivrecError:
    # The user-model modules raise plain ValueErrors (EncoderError) beside the DivrecError family.
    return exc if isinstance(exc, DivrecError) else DivrecError(" ".join(str(exc).split()))


def run_finetune(args: argparse.Namespace) -> int:
    """Fine-tune the user model and write a checkpoint."""
    from divrec_rl.bert.train import finetune, resumed_config

    given = given_fields(TrainConfig, args)
    t0 = time.perf_counter()
    try:
        cfg = resumed_config(args.out, given) if args.resume else TrainConfig.for_dataset(given)
        result = finetune(
            cfg,
            args.out,
            device=args.device,
            resume=args.resume,
            progress=not args.no_progress,
            log=lambda s: print(s, file=sys.stderr),
            threads=args.threads,
        )
    except ValueError as exc:
        raise _as_divrec_error(exc) from None
    v = result.validation
    in_sample = " (in-sample: fit_period train+val)" if cfg.fit_period == "train+val" else ""
    print(
        f"checkpoint {result.out} (step {result.step}); this run {time.perf_counter() - t0:.0f} s, "
        f"total {result.wall_seconds:.0f} s; val auc {v.get('auc', float('nan')):.4f} "
        f"ndcg@10 {v.get('ndcg@10', float('nan')):.4f}{in_sample}"
    )
    return 0


def run_report(args: argparse.Namespace) -> int:
    """Evaluate a checkpoint against its baselines and write the fidelity report."""
    from divrec_rl.bert.ablations import parse_rows, parse_seeds
    from divrec_rl.bert.report import METRICS, build_report

    try:
        metrics = build_report(
            args.model,
            args.out,
            base_model=args.base_model,
            dataset=args.dataset,
            device=args.device,
            seeds=parse_seeds(args.seeds),
            rows=parse_rows(args.rows),
            progress=not args.no_progress,
            log=lambda s: print(s, file=sys.stderr),
            threads=args.threads,
        )
    except ValueError as exc:
        raise _as_divrec_error(exc) from None
    print("model       " + " ".join(f"{k:>16}" for k in METRICS))
    for name, vals in metrics["test"].items():
        cells = (f"{vals['mean'][k]:.4f}±{vals['std'][k]:.4f}" for k in METRICS)
        print(f"{name:<11} " + " ".join(f"{c:>16}" for c in cells))
    return 0


def finetune_interrupted(args: argparse.Namespace) -> str:
    """What to do after Ctrl-C: resume the checkpoint, if one was written before it."""
    from divrec_rl.bert.checkpoint import CONFIG_FILE

    if (Path(args.out) / CONFIG_FILE).is_file():
        return f"resume with: divrec-rl finetune --out {args.out} --resume"
    return "no checkpoint was written yet (nothing to resume); start the run again"


cmd_finetune = guarded(run_finetune, finetune_interrupted)
cmd_report = guarded(run_report)


def add_user_model_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``finetune`` and ``user-model-report`` to a ``divrec-rl`` sub-parsers object."""
    p = subparsers.add_parser(
        "finetune",
        help="fine-tune the BERT two-tower user model on MovieLens",
        description=FINETUNE_DESCRIPTION,
    )
    add_finetune_arguments(p)
    p.set_defaults(func=cmd_finetune)
    r = subparsers.add_parser(
        "user-model-report",
        help="held-out fidelity of a user model vs frozen, popularity and BPR baselines",
        description=REPORT_DESCRIPTION,
    )
    add_report_arguments(r)
    r.set_defaults(func=cmd_report)
