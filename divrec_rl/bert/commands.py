"""``divrec-rl finetune`` and ``divrec-rl user-model-report`` (also the two scripts in
``scripts/``).  Thin: parse, call :func:`~divrec_rl.bert.train.finetune` or
:func:`~divrec_rl.bert.report.build_report`, print.  Bad input prints one ``error: …`` line to
stderr and returns 2."""

from __future__ import annotations

import argparse
import sys
import time
import typing
from collections.abc import Callable
from dataclasses import MISSING, fields

from divrec_rl.bert.settings import TrainConfig


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except ValueError as exc:  # ScenarioError, CheckpointError, DataError, EncoderError
            print(f"error: {_one_line(exc)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted (resume with --resume)", file=sys.stderr)
            return 130

    run.__doc__ = handler.__doc__
    return run


def add_finetune_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``finetune``: ``--out``, ``--device``, ``--resume`` and every
    :class:`TrainConfig` field as ``--kebab-case``."""
    p.add_argument("--out", required=True, metavar="DIR", help="checkpoint directory")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="torch device")
    p.add_argument(
        "--resume", action="store_true", help="continue the checkpoint in --out (same settings)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _threads_argument(p)
    hints = typing.get_type_hints(TrainConfig)
    for f in fields(TrainConfig):
        hint = hints[f.name]
        kind = str if hint in (str, str | None) else hint
        default = f.default if f.default is not MISSING else None
        p.add_argument(
            "--" + f.name.replace("_", "-"),
            type=kind,
            default=default,
            metavar=f.name.upper(),
            help=f"{f.metadata['help']} (default: {default})",
        )


def _threads_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads, 0 = torch's default (default: 1, far faster on small shared "
        "machines)",
    )


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
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="torch device")
    p.add_argument(
        "--seed", type=int, default=None, help="seed of the sampled negatives and of BPR"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _threads_argument(p)


@_guarded
def cmd_finetune(args: argparse.Namespace) -> int:
    """Fine-tune the user model and write a checkpoint."""
    from divrec_rl.bert.train import finetune

    cfg = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
    t0 = time.perf_counter()
    result = finetune(
        cfg,
        args.out,
        device=args.device,
        resume=args.resume,
        progress=not args.no_progress,
        log=lambda s: print(s, file=sys.stderr),
        threads=args.threads,
    )
    v = result.validation
    print(
        f"checkpoint {result.out} (step {result.step}); this run {time.perf_counter() - t0:.0f} s, "
        f"total {result.wall_seconds:.0f} s; val auc {v.get('auc', float('nan')):.4f} "
        f"ndcg@10 {v.get('ndcg@10', float('nan')):.4f}"
    )
    return 0


@_guarded
def cmd_report(args: argparse.Namespace) -> int:
    """Evaluate a checkpoint against its baselines and write the fidelity report."""
    from divrec_rl.bert.report import METRICS, build_report

    metrics = build_report(
        args.model,
        args.out,
        base_model=args.base_model,
        dataset=args.dataset,
        device=args.device,
        seed=args.seed,
        progress=not args.no_progress,
        log=lambda s: print(s, file=sys.stderr),
        threads=args.threads,
    )
    print("model       " + " ".join(f"{k:>9}" for k in METRICS))
    for name, vals in metrics.items():
        print(f"{name:<11} " + " ".join(f"{vals[k]:9.4f}" for k in METRICS))
    return 0


def add_user_model_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add ``finetune`` and ``user-model-report`` to a ``divrec-rl`` sub-parsers object."""
    p = subparsers.add_parser(
        "finetune",
        help="fine-tune the BERT two-tower user model on MovieLens",
        description="Fine-tune the two-tower user model (docs/user-model.md); progress bar, "
        "TensorBoard logs in OUT/tb, safetensors + JSON checkpoint in OUT.",
    )
    add_finetune_arguments(p)
    p.set_defaults(func=cmd_finetune)
    r = subparsers.add_parser(
        "user-model-report",
        help="held-out fidelity of a user model vs frozen, popularity and BPR baselines",
        description="Write OUT/report.md, OUT/metrics.json, OUT/reliability.png.",
    )
    add_report_arguments(r)
    r.set_defaults(func=cmd_report)


def script_main(
    add_arguments: Callable[[argparse.ArgumentParser], None],
    handler: Callable[[argparse.Namespace], int],
    description: str,
    argv: list[str] | None = None,
) -> int:
    """Entry point shared by the two ``scripts/``."""
    parser = argparse.ArgumentParser(description=description)
    add_arguments(parser)
    return handler(parser.parse_args(argv))
