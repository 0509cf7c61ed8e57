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
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml

from divrec_rl.config import ScenarioConfig, merge_overrides, parse_scenario
from divrec_rl.errors import DivrecError, ScenarioError, plugin_failure
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
    "read_text",
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
        try:
            obj = obj()
        except DivrecError:
            raise
        except Exception as exc:  # plug-in code: any failure is one line, never a traceback
            raise ScenarioError(f"{where}: the factory failed ({plugin_failure(exc)})") from None
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
    if not module_name or module_name.startswith("."):
        raise ScenarioError(
            f"{what}: expected an absolute module name such as 'my_shop' or 'pkg.mod', "
            f"got {module_name!r}"
        )
    _working_directory_importable()
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ScenarioError(f"{what}: cannot import module '{module_name}' ({exc})") from None
    except Exception as exc:  # the module's own code failed: say what and where, in one line
        raise ScenarioError(
            f"{what}: importing module '{module_name}' failed ({plugin_failure(exc)})"
        ) from None
    if module_name not in _PLUGIN_MODULES:
        _PLUGIN_MODULES.append(module_name)
    return module


def _working_directory_importable() -> None:
    """Put the working directory on ``sys.path`` (last, so it shadows no installed package), as
    ``python -m`` does: a plug-in module written next to a scenario file is importable by name
    from the console scripts too, whose path starts at their own directory."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)


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


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that rejects a key given twice in one mapping: plain YAML keeps the
    last one, so a repeated section (two ``behaviour:`` blocks) would silently drop the first."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        assert isinstance(node, yaml.MappingNode)
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            line = key_node.start_mark.line + 1
            if key in seen:
                twice = f"line {line}" if seen[key] == line else f"lines {seen[key]} and {line}"
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key '{key}' given twice ({twice}); keep one",
                    key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def read_text(path: Path) -> str:
    """A scenario or config file's text (UTF-8); an unreadable file is one ScenarioError line."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
            "save the file as UTF-8"
        ) from None


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse a YAML mapping; syntax errors and a key given twice name the file and line."""
    text = read_text(path)
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
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
            layered = raw_scenario(_base_spec(path, base))
        factory = data.pop("factory", None)
        if factory is not None:
            if not isinstance(factory, str) or ":" not in factory:
                raise ScenarioError(
                    f"{path}: field 'factory': must be 'package.module:attr', got {factory!r}"
                )
            layered = merge_overrides(
                layered, _from_object(_import_attr(factory), f"factory {factory}")
            )
    # A file is its own scenario: without a `name:` of its own it is named after the file, not
    # after its base (whose name would let a changed scenario pass for the original).
    own_name = data.get("name")
    layered = merge_overrides(layered, data)
    layered["name"] = path.stem if own_name is None else own_name
    return layered


def _base_spec(path: Path, base: str) -> str:
    """What the ``base:`` of file ``path`` names.  A relative path means the file next to
    ``path`` (so a scenario tree works from any directory; one that exists only from the working
    directory is still accepted); a name, ``module:attr`` or an absolute path is kept.  A missing
    file or an unknown name is one error naming ``path`` and the field."""
    if _is_scenario_name(base):
        return base
    if _looks_like_path(base):
        beside = path.parent / base
        if beside.is_file() or Path(base).is_absolute():
            return str(beside)
        if Path(base).is_file():
            return base
        raise ScenarioError(
            f"{path}: field 'base': scenario file '{base}' does not exist "
            f"(a relative path is read from the directory of {path.name}: {beside})"
        )
    if ":" not in base:
        raise ScenarioError(f"{path}: field 'base': {SCENARIOS.unknown_message(base)}")
    return base


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
            what = "is a directory, not a file" if path.is_dir() else "does not exist"
            raise ScenarioError(f"scenario file '{spec}' {what}")
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
