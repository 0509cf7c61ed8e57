"""The one error family of divrec-rl.

Every error a user can cause by bad input is a :class:`DivrecError`; each command of the CLI
prints its lines as ``error: …`` on stderr and exits with code 2 (never a traceback).  The
subclasses say which layer rejected the input, and are also ``ValueError`` so that Python callers
who catch ``ValueError`` keep working.

``errors`` holds one human-readable line per problem; each line names the field or argument and
what is allowed.
"""

from __future__ import annotations

import traceback

__all__ = [
    "DataError",
    "DivrecError",
    "EvaluationError",
    "ModelError",
    "ScenarioError",
    "SweepError",
    "TrainingError",
    "plugin_failure",
]


class DivrecError(ValueError):
    """Bad input anywhere in divrec-rl.  ``errors`` holds one line per problem."""

    def __init__(self, errors: list[str] | str) -> None:
        self.errors = [errors] if isinstance(errors, str) else [str(e) for e in errors]
        super().__init__("; ".join(self.errors))


class ScenarioError(DivrecError):
    """A scenario (file, name, field, plug-in part) that cannot be resolved or built."""


class TrainingError(DivrecError):
    """Bad training input: a training setting, a flag, a ``--resume`` path or a run directory."""


class DataError(DivrecError):
    """A data set that is missing, corrupt or fails its checksum."""


class ModelError(DivrecError):
    """A model or checkpoint that is missing, corrupt or incompatible."""


class EvaluationError(DivrecError):
    """Bad evaluation input: agents, seeds, user counts, output paths."""


class SweepError(DivrecError):
    """Bad sweep input: a sweep file, a sweep directory, a Ray address, a missing extra."""


def plugin_failure(exc: BaseException) -> str:
    """``Type: message, at file:line`` of an exception raised by plug-in code: the innermost
    frame of the traceback (for a ``SyntaxError``, the line that does not parse), so a one-line
    error still says where to look."""
    detail = " ".join(str(exc).split())[:200] or "no message"
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{type(exc).__name__}: {exc.msg}, at {exc.filename}:{exc.lineno}"
    frames = traceback.extract_tb(exc.__traceback__)
    where = f", at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {detail}{where}"
