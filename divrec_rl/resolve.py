"""Find a scenario by name, ``module:attr`` or YAML path, and layer the configuration.

Resolution order for ``--scenario X``:

1. a scenario name (:data:`divrec_rl.parts.SCENARIOS`: registered by ``@register_scenario`` in
   this process, the built-in YAML files declared in :mod:`divrec_rl.parts`, then the
   ``divrec_rl.scenarios`` entry-point group of installed packages);
2. ``package.module:attr`` — attr is a :class:`ScenarioConfig`, a mapping, or a callable returning
   one (importing the module may register further parts, e.g. a custom behaviour);
3. a path to a ``.yaml``/``.yml`` file.

A miss lists close names.  Layering (later wins): schema defaults < scenario (its ``base``
scenario first, then its ``factory``, then its own fields) < extra config files < overrides.
A ``base:`` chain that comes back to a scenario already being resolved (a file naming itself, two
files naming each other, or a plug-in factory resolving the file that names it) is one error
naming the cycle.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml

from divrec_rl.config import ScenarioConfig, merge_overrides, parse_scenario
from divrec_rl.errors import ScenarioError
from divrec_rl.parts import SCENARIOS

ScenarioFactory = Callable[[], ScenarioConfig | Mapping[str, Any]]
DEFAULT_SCENARIO = "synthetic-shop"
_FILE_ONLY_KEYS = ("base", "factory")
_SPEC_FORMS = (
    "a scenario name, 'module:attr', a path to a .yaml file, a mapping or a ScenarioConfig"
)

__all__ = [
    "DEFAULT_SCENARIO",
    "SCENARIOS",
    "import_plugins",
    "plugin_modules",
    "raw_scenario",
    "read_yaml",
    "register_scenario",
    "resolve_scenario",
    "scenario_file",
    "scenario_names",
    "yaml_field_lines",
]


def register_scenario(name: str, factory: ScenarioFactory | None = None) -> Any:
    """Register a scenario factory under ``name``; usable as ``@register_scenario("name")``.

    Registering a name again replaces the factory (re-importing a plug-in module is harmless).
    """
    return SCENARIOS.register(name, factory, overwrite=True)


def scenario_names() -> list[str]:
    """Every scenario name: registered, built-in and installed entry points."""
    return SCENARIOS.names()


def _from_object(obj: Any, where: str) -> dict[str, Any]:
    if callable(obj) and not isinstance(obj, ScenarioConfig):
        obj = obj()
    if isinstance(obj, ScenarioConfig):
        return obj.model_dump()
    if isinstance(obj, Mapping):
        return dict(obj)
    raise ScenarioError(
        f"{where}: expected a ScenarioConfig, a mapping or a callable returning one, "
        f"got {type(obj).__name__}"
    )


# Modules imported to resolve scenarios in this process (``--import``, ``module:attr``, a YAML
# file's ``factory:``), in first-import order: a run records them so that resuming or evaluating
# it re-imports the same plug-ins with no extra steps.
_PLUGIN_MODULES: list[str] = []


def _import_module(module_name: str, what: str) -> Any:
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ScenarioError(f"{what}: cannot import module '{module_name}' ({exc})") from None
    if module_name not in _PLUGIN_MODULES:
        _PLUGIN_MODULES.append(module_name)
    return module


def import_plugins(modules: list[str] | tuple[str, ...]) -> None:
    """Import plug-in modules by name (``--import MODULE``), so that the parts and scenarios they
    register (e.g. with ``@register_scenario``) can be named; each failure is a ScenarioError."""
    for name in modules:
        if not isinstance(name, str) or not name.strip():
            raise ScenarioError(f"--import: expected a module name, got {name!r}")
        _import_module(name.strip(), f"--import {name}")


def plugin_modules() -> list[str]:
    """The plug-in modules imported so far to resolve scenarios, in import order."""
    return list(_PLUGIN_MODULES)


def _import_attr(spec: str) -> Any:
    module_name, _, attr = spec.partition(":")
    module = _import_module(module_name, f"scenario '{spec}'")
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ScenarioError(
                f"scenario '{spec}': module '{module_name}' has no attribute '{attr}'"
            )
        obj = getattr(obj, part)
    return obj


def yaml_field_lines(text: str) -> dict[tuple[str, ...], int]:
    """Line number (1-based) of every mapping key in a YAML document, by its field path."""
    lines: dict[tuple[str, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, str(key.value))
                lines[sub] = key.start_mark.line + 1
                walk(value, sub)

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines
    if root is not None:
        walk(root, ())
    return lines


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse a YAML mapping; syntax errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(f"{where}: invalid YAML ({problem})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ScenarioError(
            f"{path}: expected a mapping of scenario fields, got {type(data).__name__}"
        )
    return data


# The scenarios being resolved in this context, outermost first, as (identity, label) pairs:
# meeting an identity again means a ``base:`` cycle.  A context variable (not an argument) so
# that a cycle through a plug-in factory that calls :func:`resolve_scenario` is caught too.
_RESOLVING: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("divrec_rl_resolving", default=())


@contextmanager
def _resolving(identity: str, label: str) -> Iterator[None]:
    chain = _RESOLVING.get()
    seen = [key for key, _ in chain]
    if identity in seen:
        cycle = [lab for _, lab in chain[seen.index(identity) :]] + [label]
        raise ScenarioError(
            f"scenario {' → '.join(cycle)}: 'base:' cycle (a scenario cannot be based on itself)"
        )
    token = _RESOLVING.set((*chain, (identity, label)))
    try:
        yield
    finally:
        _RESOLVING.reset(token)


def _read_yaml_layers(path: Path, label: str) -> dict[str, Any]:
    with _resolving(f"file:{path.resolve()}", label):
        data = read_yaml(path)
        if not data:
            raise ScenarioError(
                f"{path}: empty scenario file; expected a mapping of scenario fields "
                "(at least `base:` or a section)"
            )
        layered: dict[str, Any] = {}
        base = data.pop("base", None)
        if base is not None:
            if not isinstance(base, str) or not base.strip():
                raise ScenarioError(
                    f"{path}: field 'base': must be a scenario name or path, got {base!r}"
                )
            layered = raw_scenario(base)
        factory = data.pop("factory", None)
        if factory is not None:
            if not isinstance(factory, str) or ":" not in factory:
                raise ScenarioError(
                    f"{path}: field 'factory': must be 'package.module:attr', got {factory!r}"
                )
            layered = merge_overrides(
                layered, _from_object(_import_attr(factory), f"factory {factory}")
            )
    layered = merge_overrides(layered, data)
    layered.setdefault("name", path.stem)
    return layered


def _looks_like_path(spec: str) -> bool:
    return spec.endswith((".yaml", ".yml")) or os.sep in spec


def _is_scenario_name(spec: str) -> bool:
    # A spec that looks like a path or module:attr is a name only if already known as one
    # (no entry-point rescan for every file of a ``base:`` chain).
    if _looks_like_path(spec) or ":" in spec:
        return spec in SCENARIOS.names()
    return spec in SCENARIOS


def scenario_file(spec: object) -> Path | None:
    """The YAML file ``spec`` names when it is a path to an existing file (not a name)."""
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if not isinstance(spec, str) or _is_scenario_name(spec) or not _looks_like_path(spec):
        return None
    path = Path(spec)
    return path if path.is_file() else None


def raw_scenario(spec: str) -> dict[str, Any]:
    """The unvalidated, layered field mapping of scenario ``spec`` (name, module:attr or path)."""
    if _is_scenario_name(spec):
        obj = SCENARIOS.get(spec)
        if isinstance(obj, Path):  # a built-in YAML file
            return _read_yaml_layers(obj, spec)
        with _resolving(f"name:{spec}", spec):
            data = _from_object(obj, f"scenario '{spec}'")
    elif _looks_like_path(spec):
        path = Path(spec)
        if not path.is_file():
            raise ScenarioError(f"scenario file '{spec}' does not exist")
        return _read_yaml_layers(path, spec)
    elif ":" in spec:
        with _resolving(f"attr:{spec}", spec):
            data = _from_object(_import_attr(spec), f"scenario '{spec}'")
        spec = spec.rpartition(":")[2]
    else:
        raise ScenarioError(
            SCENARIOS.unknown_message(spec) + "; or give a path to a .yaml file or 'module:attr'"
        )
    data.setdefault("name", spec)
    return data


def _check_arguments(spec: object, extra_files: object, overrides: object) -> None:
    if not isinstance(spec, str | ScenarioConfig | Mapping):
        raise ScenarioError(
            f"argument 'scenario': expected {_SPEC_FORMS}; got {type(spec).__name__} {spec!r}"
        )
    if isinstance(spec, str) and not spec.strip():
        raise ScenarioError(f"argument 'scenario': expected {_SPEC_FORMS}; got an empty string")
    if extra_files is not None and (
        isinstance(extra_files, str | os.PathLike)
        or not isinstance(extra_files, list | tuple)
        or not all(isinstance(f, str | os.PathLike) for f in extra_files)
    ):
        raise ScenarioError(
            f"argument 'extra_files': expected a list of YAML paths, got {extra_files!r}"
        )
    if overrides is not None and not isinstance(overrides, Mapping):
        raise ScenarioError(
            f"argument 'overrides': expected a mapping of fields, got {type(overrides).__name__}"
        )


def resolve_scenario(
    spec: str | os.PathLike[str] | ScenarioConfig | Mapping[str, Any] = DEFAULT_SCENARIO,
    extra_files: list[str | Path] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ScenarioConfig:
    """The validated :class:`ScenarioConfig` for ``spec`` with every layer applied.

    Any other type of ``spec`` (or a non-list ``extra_files``, a non-mapping ``overrides``) is a
    :class:`ScenarioError` naming the argument and the forms allowed.
    """
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    _check_arguments(spec, extra_files, overrides)
    if isinstance(spec, ScenarioConfig):
        data = spec.model_dump()
        where = spec.name
    elif isinstance(spec, Mapping):
        data = dict(spec)
        where = str(data.get("name", "scenario"))
    else:
        data = raw_scenario(spec)
        where = spec
    for extra in extra_files or []:
        extra_data = read_yaml(Path(extra))
        for key in _FILE_ONLY_KEYS:
            if key in extra_data:
                raise ScenarioError(
                    f"{extra}: field '{key}' is only allowed in a scenario file, "
                    "not in an extra config file"
                )
        data = merge_overrides(data, extra_data)
        where = str(extra)
    if overrides:
        data = merge_overrides(data, dict(overrides))
        where = f"{where} (with overrides)"
    return parse_scenario(data, where)
