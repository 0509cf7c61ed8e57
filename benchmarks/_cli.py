"""Flag checks and error reporting shared by the benchmark scripts.

The checks are argparse ``type=`` functions, so a bad value is argparse's one line
``error: argument --flag: <what is allowed>, got <value>`` with exit code 2, before a script
imports its data, trains or measures anything.  :func:`run` does the same for the project's
errors raised later (an unknown scenario, a ``--set`` field, a model that does not exist): one
``error: …`` line and exit code 2, never a traceback.

The scripts import this module as ``_cli``: ``python benchmarks/x.py`` puts ``benchmarks/`` first
on ``sys.path``, and tests put it there before loading a script.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NoReturn

from divrec_rl.atomic import check_directory
from divrec_rl.errors import DivrecError

__all__ = [
    "BenchmarkError",
    "at_least",
    "check_output_files",
    "existing_directory",
    "existing_path",
    "nonnegative_float",
    "nonnegative_int",
    "output_directory",
    "output_file",
    "positive_float",
    "positive_int",
    "run",
]


class BenchmarkError(DivrecError):
    """Bad input a benchmark script finds itself (an output path, a child process's failure)."""


def at_least(minimum: int) -> Callable[[str], int]:
    """A ``type=`` check: an integer ≥ ``minimum``."""

    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer ≥ {minimum}, got {text!r}")
        return value

    return check


#: Counts: runs, repeats, steps, users (≥ 1); and settings where 0 means "default" or "none".
positive_int = at_least(1)
nonnegative_int = at_least(0)


def _finite(text: str, allowed: str, ok: Callable[[float], bool]) -> float:
    """``text`` as a finite float for which ``ok`` holds, else the error saying ``allowed``."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and ok(value)):
        raise argparse.ArgumentTypeError(f"must be {allowed}, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A ``type=`` check: a finite number > 0 (a duration that must let something run)."""
    return _finite(text, "a finite number > 0", lambda v: v > 0)


def nonnegative_float(text: str) -> float:
    """A ``type=`` check: a finite number ≥ 0."""
    return _finite(text, "a finite number ≥ 0", lambda v: v >= 0)


def existing_path(text: str) -> Path:
    """A ``type=`` check: a file or folder that exists (a run, a model zip)."""
    path = Path(text).expanduser()
    if not path.exists():
        raise argparse.ArgumentTypeError(f"must exist, got {text!r} (does not exist)")
    return path


def existing_directory(text: str) -> Path:
    """A ``type=`` check: a folder that exists (an encoder, a model)."""
    path = Path(text).expanduser()
    if not path.is_dir():
        what = "is not a folder" if path.exists() else "does not exist"
        raise argparse.ArgumentTypeError(f"must be an existing folder, got {text!r} ({what})")
    return path


def output_directory(text: str) -> Path:
    """A ``type=`` check: a folder that exists or can be created (nothing is created now)."""
    return check_directory(Path(text).expanduser(), repr(text), argparse.ArgumentTypeError)


def check_output_files(paths: Iterable[Path]) -> None:
    """Raise :class:`argparse.ArgumentTypeError` unless every path can be written as a file:
    its folder exists or can be created, and no folder sits where the file goes (nothing is
    created now)."""
    for path in paths:
        if path.is_dir():
            raise argparse.ArgumentTypeError(f"'{path}' is a directory, not a file")
        check_directory(path.parent, f"folder '{path.parent}'", argparse.ArgumentTypeError)


def output_file(suffixes: Iterable[str] = ()) -> Callable[[str], Path]:
    """A ``type=`` check: a file path that can be written (see :func:`check_output_files`),
    ending in one of ``suffixes`` (lower case, with the dot) when any are given."""
    allowed = tuple(suffixes)

    def check(text: str) -> Path:
        path = Path(text).expanduser()
        if allowed and path.suffix.lower() not in allowed:
            raise argparse.ArgumentTypeError(
                f"must end in one of {', '.join(allowed)}, got {text!r}"
            )
        check_output_files([path])
        return path

    return check


def run(main: Callable[[], int | None]) -> NoReturn:
    """Exit with ``main()``'s code; a :class:`DivrecError` or :class:`ValueError` (the project's
    checks raise both) is one ``error: …`` line on stderr and exit code 2 instead of a
    traceback."""
    try:
        code = main()
    except (DivrecError, ValueError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        sys.exit(2)
    sys.exit(code or 0)
