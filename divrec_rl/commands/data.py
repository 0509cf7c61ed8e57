"""``divrec-rl data ...`` sub-commands: ``data fetch NAME`` and ``data info NAME_OR_PATH``.

:func:`add_data_commands` adds a ``data`` parser to an argparse sub-parsers object. Every
leaf parser stores its handler as ``func`` (``args.func(args) -> int``): 0 on success,
2 on a :class:`~divrec_rl.errors.DataError` (reported as one ``error: ...`` line on
stderr, no traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from divrec_rl.commands.common import guarded
from divrec_rl.data.fetch import DATASET_NAMES, default_cache_dir, fetch_dataset
from divrec_rl.data.movielens import load_dataset

__all__ = ["add_data_commands", "cmd_fetch", "cmd_info"]


def run_fetch(args: argparse.Namespace) -> int:
    """Download (or re-verify) a dataset and print its directory."""
    path = fetch_dataset(args.name, cache_dir=args.cache_dir, force=args.force)
    print(path)
    return 0


def run_info(args: argparse.Namespace) -> int:
    """Load a dataset and print its counts."""
    data = load_dataset(args.name_or_path, cache_dir=args.cache_dir)
    s = data.summary()
    lines = [
        f"dataset   {s['name']}  (layout: {s['layout']})",
        f"users     {s['users']}  ({s['rated_users']} with ratings)",
        f"items     {s['items']}  ({s['rated_items']} with ratings)",
        f"ratings   {s['ratings']}  (density {s['density']:.4%}, mean {s['rating_mean']:.3f})",
        f"per user  min {s['ratings_per_user_min']}  median "
        f"{s['ratings_per_user_median']:g}  max {s['ratings_per_user_max']}",
        f"genres    {s['genres']}: {', '.join(data.genres)}",
        f"time      {s['timestamp_min']} .. {s['timestamp_max']} (unix seconds)",
    ]
    print("\n".join(lines))
    return 0


cmd_fetch = guarded(run_fetch)
cmd_info = guarded(run_info)


def _data_help(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    def show(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return show


def add_data_commands(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``data fetch`` and ``data info`` to ``subparsers``; return the ``data`` parser.

    * ``data fetch NAME [--cache-dir DIR] [--force]`` -- download/verify, print the dir;
    * ``data info NAME_OR_PATH [--cache-dir DIR]`` -- load and print counts.

    Handlers are stored as ``func`` on the parsed namespace and return an exit code.
    """
    data = subparsers.add_parser(
        "data",
        help="fetch and inspect datasets (MovieLens)",
        description="Fetch and inspect datasets.",
    )
    data.set_defaults(func=_data_help(data))
    sub = data.add_subparsers(dest="data_command", metavar="{fetch,info}")
    cache_help = f"cache root (default: $DIVREC_DATA or {default_cache_dir()})"

    fetch = sub.add_parser(
        "fetch",
        help="download a dataset into the cache and verify its checksums",
        description="Download a dataset into the cache (or re-verify a cached copy) "
        "and print its directory.",
    )
    fetch.add_argument("name", metavar="NAME", help=f"one of: {', '.join(DATASET_NAMES)}")
    fetch.add_argument("--cache-dir", type=Path, default=None, help=cache_help)
    fetch.add_argument(
        "--force", action="store_true", help="download again, replacing any cached copy"
    )
    fetch.set_defaults(func=cmd_fetch)

    info = sub.add_parser(
        "info",
        help="print counts of a dataset (name or directory)",
        description="Load a dataset (a name, fetched if needed, or a directory in the "
        "ML-100k, ML-1M or RecBole atomic layout) and print its counts.",
    )
    info.add_argument(
        "name_or_path",
        metavar="NAME_OR_PATH",
        help=f"{' or '.join(DATASET_NAMES)}, or a dataset directory",
    )
    info.add_argument("--cache-dir", type=Path, default=None, help=cache_help)
    info.set_defaults(func=cmd_info)
    return data
