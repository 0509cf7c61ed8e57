"""Find a scenario by name, ``module:attr`` or YAML path, and layer the configuration.

Resolution order for ``--scenario X``:

1. a registered name (built-in YAML files, ``@register_scenario`` plug-ins, and the
   ``divrec_rl.scenarios`` entry-point group of installed packages);
2. ``package.module:attr`` — attr is a :class:`ScenarioConfig`, a mapping, or a callable returning
   one (calling it may register further parts, e.g. a custom behaviour);
3. a path to a ``.yaml``/``.yml`` file.

A miss lists close names.  Layering (later wins): schema defaults < scenario (its ``base``
scenario first, then its ``factory``, then its own fields) < extra config files < overrides.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import yaml

from divrec_rl.config import ScenarioConfig, ScenarioError, merge_overrides, parse_scenario
from divrec_rl.registry import Registry

ScenarioFactory = Callable[[], ScenarioConfig | Mapping[str, Any]]
SCENARIOS: Registry[ScenarioFactory] = Registry("scenario")
DEFAULT_SCENARIO = "synthetic-shop"
_FILE_ONLY_KEYS = ("base", "factory")
_loaded_builtins = False


def register_scenario(name: str, factory: ScenarioFactory | None = None) -> Any:
    """Register a scenario factory under ``name``; usable as ``@register_scenario("name")``.

    Registering a name again replaces the factory (re-importing a plug-in module is harmless).
    """
    return SCENARIOS.register(name, factory, overwrite=True)


def _load_builtins(rescan: bool = False) -> None:
    """Register the built-in files and the entry points once; ``rescan`` looks for entry points
    of packages installed since (a name that is not found triggers one rescan)."""
    global _loaded_builtins
    if _loaded_builtins and not rescan:
        return
    _loaded_builtins = True
    for entry in sorted(resources.files("divrec_rl.scenarios").iterdir(), key=lambda p: p.name):
        path = Path(str(entry))
        if entry.name.endswith(".yaml") and path.stem not in SCENARIOS:
            SCENARIOS.register(path.stem, lambda p=path: _read_yaml_layers(p))
    for ep in metadata.entry_points(group="divrec_rl.scenarios"):
        if ep.name not in SCENARIOS:
            SCENARIOS.register(
                ep.name, lambda ep=ep: _from_object(ep.load(), f"entry point {ep.name}")
            )


def scenario_names() -> list[str]:
    """Every registered scenario name."""
    _load_builtins()
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


def _read_yaml_layers(path: Path) -> dict[str, Any]:
    data = read_yaml(path)
    layered: dict[str, Any] = {}
    base = data.pop("base", None)
    if base is not None:
        if not isinstance(base, str):
            raise ScenarioError(
                f"{path}: field 'base': must be a scenario name or path, got {base!r}"
            )
        layered = _raw_scenario(base)
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


def _raw_scenario(spec: str) -> dict[str, Any]:
    _load_builtins()
    if spec not in SCENARIOS and not _looks_like_path(spec) and ":" not in spec:
        _load_builtins(rescan=True)
    if spec in SCENARIOS:
        data = _from_object(SCENARIOS.get(spec), f"scenario '{spec}'")
        data.setdefault("name", spec)
        return data
    if _looks_like_path(spec):
        path = Path(spec)
        if not path.is_file():
            raise ScenarioError(f"scenario file '{spec}' does not exist")
        return _read_yaml_layers(path)
    if ":" in spec:
        data = _from_object(_import_attr(spec), f"scenario '{spec}'")
        data.setdefault("name", spec.rpartition(":")[2])
        return data
    raise ScenarioError(
        SCENARIOS.unknown_message(spec) + "; or give a path to a .yaml file or 'module:attr'"
    )


def resolve_scenario(
    spec: str | ScenarioConfig | Mapping[str, Any] = DEFAULT_SCENARIO,
    extra_files: list[str | Path] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ScenarioConfig:
    """The validated :class:`ScenarioConfig` for ``spec`` with every layer applied."""
    if isinstance(spec, ScenarioConfig):
        data = spec.model_dump()
        where = spec.name
    elif isinstance(spec, Mapping):
        data = dict(spec)
        where = str(data.get("name", "scenario"))
    else:
        data = _raw_scenario(spec)
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
