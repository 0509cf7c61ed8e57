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

Files outside the package matter too: a MovieLens scenario's users respond through a trained
checkpoint.  Its identity (``ResponseModel.inputs``) is recorded beside the code
(:func:`describe_inputs`), and :func:`input_mismatches` compares a recorded one with the
current one by content digest.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import platform
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import divrec_rl
from divrec_rl.scenario import Scenario, part_modules

__all__ = [
    "NUMERIC_LIBRARIES",
    "PACKAGES",
    "CodeIdentity",
    "changed_since",
    "code_identity",
    "code_summary",
    "current_source_digest",
    "describe_inputs",
    "git_state",
    "input_mismatches",
    "inputs_summary",
    "numeric_environment",
    "package_roots",
    "plugin_source_digest",
    "scenario_inputs",
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
    environment: dict[str, str] = field(default_factory=dict, compare=False)
    """What the arithmetic depends on besides the code (:func:`numeric_environment`); not part
    of equality, which is about the code."""

    def describe(self) -> str:
        """One line for a report: ``divrec-rl 0.1.0, source 1a2b3c4d5e6f (git 3f76574,
        unmodified)``; the git part reads ``not a git checkout`` outside one."""
        if self.git_commit is None:
            git = "not a git checkout"
        else:
            state = "with local changes" if self.git_modified else "unmodified"
            git = f"git {self.git_commit[:7]}, {state}"
        return f"divrec-rl {self.version}, source {self.source_sha256[:12]} ({git})"

    @classmethod
    def from_dict(cls, entry: dict[str, object]) -> CodeIdentity:
        """The identity an :meth:`as_dict` mapping (a run's ``run.code`` entry) describes."""
        commit, modified, env = (
            entry.get(k) for k in ("git_commit", "git_modified", "environment")
        )
        return cls(
            str(entry.get("version") or "?"),
            str(entry.get("source_sha256") or ""),
            str(commit) if commit else None,
            bool(modified) if modified is not None else None,
            dict(env) if isinstance(env, dict) else {},
        )

    def describe_environment(self) -> str:
        """``CPU Intel(R) Xeon(R) …; numpy 2.4.6, torch 2.13.0+cpu, …`` (empty if unknown)."""
        env = dict(self.environment)
        cpu = env.pop("cpu", "")
        if "cpu_flags_sha256" in env:
            cpu += f" (flags {env.pop('cpu_flags_sha256')})"
        libs = ", ".join(f"{k} {v}" for k, v in env.items())
        return "; ".join(x for x in (f"CPU {cpu}" if cpu else "", libs) if x)

    def as_dict(self) -> dict[str, object]:
        """The fields as a JSON/YAML-ready mapping."""
        return {
            "version": self.version,
            "source_sha256": self.source_sha256,
            "git_commit": self.git_commit,
            "git_modified": self.git_modified,
            "environment": dict(self.environment),
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
    return _files_digest(_source_files(roots))


def plugin_source_digest(modules: Iterable[str]) -> str | None:
    """The hex sha256 (formula of the module docstring) of the source of the top-level packages,
    or single-file modules, that hold ``modules``, leaving out this project's own
    (:data:`PACKAGES`, which :func:`current_source_digest` covers): the code a plug-in's parts
    run on.  ``None`` when every module is the project's own.  A module without a Python
    source file is left out of the digest."""
    own = {name.partition(".")[0] for name in PACKAGES}
    tops = sorted({name.partition(".")[0] for name in modules} - own)
    if not tops:
        return None
    roots: list[tuple[str, Path]] = []
    single: dict[str, Path] = {}
    for top in tops:
        spec = importlib.util.find_spec(top)
        if spec is not None and spec.submodule_search_locations:
            roots += [(top, Path(location)) for location in spec.submodule_search_locations]
        elif spec is not None and spec.origin and spec.origin.endswith(".py"):
            single[f"{top}.py"] = Path(spec.origin)
    return _files_digest({**_source_files(roots), **single})


def scenario_inputs(scenario: Scenario) -> dict[str, str]:
    """What a scenario's simulated users depend on outside the package's source, by identity:
    the response model's files (:meth:`~divrec_rl.response.ResponseModel.inputs`) and, when a
    part comes from a plug-in, ``plugins_sha256``, the digest of that plug-in's source
    (:func:`plugin_source_digest` of :func:`~divrec_rl.scenario.part_modules`).  Training runs
    and evaluation reports record it, an evaluation notes an agent trained on other inputs,
    and the baseline cache keys on it."""
    inputs = dict(scenario.response.inputs())
    plugins = plugin_source_digest(part_modules(scenario.config))
    if plugins is not None:
        inputs["plugins_sha256"] = plugins
    return inputs


def _source_files(roots: list[tuple[str, Path]]) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for prefix, directory in roots:
        for path in directory.rglob("*"):
            if path.suffix not in _SUFFIXES or "__pycache__" in path.parts or not path.is_file():
                continue
            files.setdefault(f"{prefix}/{path.relative_to(directory).as_posix()}", path)
    return files


def _files_digest(files: dict[str, Path]) -> str:
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


#: Libraries whose builds decide the last bits of the arithmetic (BLAS, LAPACK, SIMD kernels).
NUMERIC_LIBRARIES = ("numpy", "scipy", "torch", "numba", "stable-baselines3")


def _cpu() -> dict[str, str]:
    """The CPU's model name and a short digest of its feature flags (virtual machines often
    report a generic model name; the flags say which SIMD kernels the libraries may pick)."""
    model, flags = "", ""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not model:
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = " ".join(sorted(value.split()))
    except OSError:
        pass
    out = {"cpu": model or platform.processor() or platform.machine()}
    if flags:
        out["cpu_flags_sha256"] = hashlib.sha256(flags.encode()).hexdigest()[:12]
    return out


def numeric_environment() -> dict[str, str]:
    """The CPU model, Python and the versions of :data:`NUMERIC_LIBRARIES` (and torch's CPU
    kernel level when torch is loaded).  The same code and seeds can give other last bits on
    another CPU or library build, and a fitted model that depends on a near-tie (a tuned
    baseline choosing between two settings) can then differ visibly."""
    env = {**_cpu(), "python": platform.python_version()}
    for name in NUMERIC_LIBRARIES:
        try:
            env[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    torch = sys.modules.get("torch")
    if torch is not None:
        env["torch_cpu_capability"] = str(torch.backends.cpu.get_cpu_capability())
    return env


def _identity(roots: list[tuple[str, Path]], digest: str | None = None) -> CodeIdentity:
    commit, modified = git_state(roots)
    digest = source_digest(roots) if digest is None else digest
    return CodeIdentity(divrec_rl.__version__, digest, commit, modified, numeric_environment())


def current_source_digest() -> str:
    """:func:`source_digest` of the installed package as its files are now (no git, no
    environment: what a cache key or a change check needs)."""
    return source_digest(package_roots())


def code_identity() -> CodeIdentity:
    """The identity of the installed package's code as its files are now (≈ 20 ms: a command
    calls it when it starts; :func:`changed_since` checks it at the end)."""
    return _identity(package_roots())


def changed_since(start: CodeIdentity) -> CodeIdentity | None:
    """The package's identity now if its source differs from ``start``'s, else ``None`` (only
    the digest is recomputed unless it changed)."""
    roots = package_roots()
    digest = source_digest(roots)
    return None if digest == start.source_sha256 else _identity(roots, digest)


def code_summary(records: dict[str, list[dict[str, object]]], what: str = "runs") -> str:
    """One paragraph saying which code a set of runs ran, from each run's ``run.code`` entries
    (:mod:`divrec_rl.training.rundir`): the same code for all, or which differ, which changed
    while they ran and which have no record (written before it existed)."""
    if not records:
        return f"no {what} with a run directory."
    by_digest: dict[str, set[str]] = {}
    described: dict[str, str] = {}
    changed = [name for name, entries in records.items()
               if any(e.get("changed_during_run") for e in entries)]  # fmt: skip
    missing = [name for name, entries in records.items() if not entries]
    for name, entries in records.items():
        for entry in entries:
            digest = str(entry.get("source_sha256") or "")
            by_digest.setdefault(digest, set()).add(name)
            described.setdefault(digest, CodeIdentity.from_dict(entry).describe())
    n = len(records)
    environments = {
        json.dumps(e.get("environment") or {}, sort_keys=True)
        for entries in records.values()
        for e in entries
    }
    env_note = (
        f" They ran in {len(environments)} numerical environments (CPU or library versions "
        "differ; last bits may differ)."
        if len(environments) > 1
        else ""
    )
    if len(by_digest) == 1 and not changed and not missing:
        only = next(iter(described.values()))
        same = f"{only}." if n == 1 else f"all {n} {what} ran the same code, {only}."
        return same + env_note
    if n == 1 and missing:
        return "no code record (written before it existed)."
    parts = [f"{described[d]}: {len(names)} of {n}" for d, names in by_digest.items()]
    text = f"**not one recorded version of the code** ({n} {what}):"
    if parts:
        text += " " + "; ".join(parts) + "."
    if changed:
        text += f" The source changed while these ran: {', '.join(changed)}."
    if missing:
        text += f" No code record (written before it existed): {len(missing)} of {n}."
    return text + env_note


# -- Inputs: the files outside the package a result depends on ------------------------------
#
# Code is not the only thing a figure depends on: a MovieLens scenario's users respond through
# a trained checkpoint that can be retrained in place.  A scenario's response model names its
# inputs (``ResponseModel.inputs``); training runs record them beside the code, evaluation
# reports print them, and an evaluation of an agent trained under other inputs says so.


def _is_digest(name: str) -> bool:
    """Entries that identify content (compared); the others say where the files were."""
    return name.endswith(("sha256", "fingerprint"))


def describe_inputs(inputs: dict[str, str]) -> str:
    """``user_model /path (user_model_tables_sha256 d64176b6c711, …)`` — digests cut to 12
    hex digits; empty for no inputs."""
    places = [f"{k} {v}" for k, v in inputs.items() if not _is_digest(k)]
    digests = [f"{k} {v[:12]}" for k, v in inputs.items() if _is_digest(k)]
    text = "; ".join(places)
    if digests:
        text += f" ({', '.join(digests)})" if text else ", ".join(digests)
    return text


def input_mismatches(recorded: dict[str, object], current: dict[str, str]) -> list[str]:
    """The digest entries (names ending in ``sha256`` or ``fingerprint``) present in both
    mappings whose values differ: ``name: recorded[:12] → current[:12]``.  Where the files
    were does not count (a checkpoint copied elsewhere is the same checkpoint)."""
    return [
        f"{k}: {str(recorded[k])[:12]} → {v[:12]}"
        for k, v in current.items()
        if _is_digest(k) and k in recorded and str(recorded[k]) != v
    ]


def inputs_summary(records: dict[str, list[dict[str, object]]], what: str = "runs") -> str:
    """One sentence saying which simulated-user inputs a set of runs recorded (their ``run.code``
    entries' ``inputs``): the same for all, or how many different ones and which run had which;
    empty when no run recorded any (generated users, or runs written before the record)."""
    seen: dict[str, set[str]] = {}
    described: dict[str, str] = {}
    for name, entries in records.items():
        for entry in entries:
            inputs = entry.get("inputs")
            if not isinstance(inputs, dict):
                continue
            digests = {k: str(v) for k, v in inputs.items() if _is_digest(k)}
            key = json.dumps(digests, sort_keys=True)
            seen.setdefault(key, set()).add(name)
            described.setdefault(key, describe_inputs(digests))
    if not seen:
        return ""
    n = len(records)
    if len(seen) == 1:
        (names,) = seen.values()
        (text,) = described.values()
        return f"{len(names)} of {n} {what} recorded the same simulated-user inputs, {text}."
    parts = [f"{described[k]}: {', '.join(sorted(names))}" for k, names in seen.items()]
    return (
        f"**{what} recorded {len(seen)} different simulated-user inputs** (a user model "
        f"retrained between them): {'; '.join(parts)}."
    )
