"""Which code produced a result: a digest of the package's source and, in a git checkout, the
commit and whether the package's files differ from it.

A figure in a report is only reproducible from the code that computed it.  The version number
does not say which code that was while the package is developed in place (an editable install
runs whatever the working tree holds, committed or not), so every run directory and evaluation
report records a :class:`CodeIdentity`:

    source_sha256 = sha256 over the package's ``.py`` and ``.yaml`` files, sorted by their
                    path inside the package (``divrec_rl/agents/ppo.py``), of
                    path ‖ NUL ‖ sha256(file bytes)

so the digest is the same for an editable and a regular install of the same files, and for a
checkout at any place on disk.  ``git_commit`` / ``git_modified`` are filled only when the
package's own files are tracked by a git repository (an editable install of a clone);
``git_modified`` is true when ``git status`` lists a change, or an untracked file, under the
package's directories (documentation and test edits do not count).

Python imports modules when they are first used, so a file edited while a command runs can
reach the run half-way.  Long commands therefore compare the digest at their end with the one
at their start (:func:`changed_since`) and say so in what they write.
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
from dataclasses import dataclass
from pathlib import Path

import divrec_rl

__all__ = [
    "PACKAGES",
    "CodeIdentity",
    "changed_since",
    "code_identity",
    "git_state",
    "package_roots",
    "source_digest",
]

#: The importable packages whose directories hold divrec-rl's source.  ``agents``, ``envs``
#: and ``scenarios`` live at the top of the repository but are installed inside ``divrec_rl``
#: (``pyproject.toml``'s ``package-dir``), so in an editable install they are other folders.
PACKAGES = ("divrec_rl", "divrec_rl.agents", "divrec_rl.envs", "divrec_rl.scenarios")

_SUFFIXES = (".py", ".yaml")
_GIT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class CodeIdentity:
    """The code of one process: version, source digest, git commit and local changes."""

    version: str
    source_sha256: str
    git_commit: str | None = None
    git_modified: bool | None = None

    def describe(self) -> str:
        """One line for a report: ``divrec-rl 0.1.0, source 1a2b3c4d5e6f (git 3f76574,
        unmodified)``; the git part reads ``not a git checkout`` outside one."""
        if self.git_commit is None:
            git = "not a git checkout"
        else:
            state = "with local changes" if self.git_modified else "unmodified"
            git = f"git {self.git_commit[:7]}, {state}"
        return f"divrec-rl {self.version}, source {self.source_sha256[:12]} ({git})"

    def as_dict(self) -> dict[str, str | bool | None]:
        """The fields as a JSON/YAML-ready mapping."""
        return {
            "version": self.version,
            "source_sha256": self.source_sha256,
            "git_commit": self.git_commit,
            "git_modified": self.git_modified,
        }


def package_roots(packages: tuple[str, ...] = PACKAGES) -> list[tuple[str, Path]]:
    """``(path prefix inside the package, directory)`` of each package in ``packages``, found
    without importing the subpackages themselves."""
    roots = []
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue
        for location in spec.submodule_search_locations:
            roots.append((name.replace(".", "/"), Path(location)))
    return roots


def source_digest(roots: list[tuple[str, Path]]) -> str:
    """The hex sha256 of the source files under ``roots`` (formula in the module docstring).
    A file reachable from two roots (a regular install nests the subpackages) counts once."""
    files: dict[str, Path] = {}
    for prefix, directory in roots:
        for path in directory.rglob("*"):
            if path.suffix not in _SUFFIXES or "__pycache__" in path.parts or not path.is_file():
                continue
            files.setdefault(f"{prefix}/{path.relative_to(directory).as_posix()}", path)
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(hashlib.sha256(files[name].read_bytes()).digest())
    return digest.hexdigest()


def _git(directory: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(directory), *args],
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):  # no git, or it hung
        return None
    return done.stdout if done.returncode == 0 else None


def git_state(roots: list[tuple[str, Path]]) -> tuple[str | None, bool | None]:
    """``(commit, modified)`` when the first root's ``__init__.py`` is tracked by git, else
    ``(None, None)`` — a regular install inside some other repository is not a checkout."""
    if not roots:
        return None, None
    first = roots[0][1]
    if _git(first, "ls-files", "--error-unmatch", "__init__.py") is None:
        return None, None
    commit = _git(first, "rev-parse", "HEAD")
    status = _git(first, "status", "--porcelain", "--", *(str(d) for _, d in roots))
    if commit is None or status is None:
        return None, None
    return commit.strip(), bool(status.strip())


def _identity(roots: list[tuple[str, Path]]) -> CodeIdentity:
    commit, modified = git_state(roots)
    return CodeIdentity(divrec_rl.__version__, source_digest(roots), commit, modified)


def code_identity() -> CodeIdentity:
    """The identity of the installed package's code as its files are now (≈ 20 ms: a command
    calls it when it starts, and again at its end through :func:`changed_since`)."""
    return _identity(package_roots())


def changed_since(start: CodeIdentity) -> CodeIdentity | None:
    """The package's identity now if its source differs from ``start``'s, else ``None``."""
    now = code_identity()
    return None if now.source_sha256 == start.source_sha256 else now
