"""A name → part table per kind of part, filled from three places, with "did you mean" on a miss.

Where a name is looked up, first match wins:

1. **registered** in this process (``register(name, obj)``, the ``register_*`` decorators of
   :mod:`divrec_rl.plugins`) — so a plug-in may replace a built-in;
2. **declared**: the built-in table of :mod:`divrec_rl.parts`, name → ``"module:attr"``, imported
   on first use (nothing is imported to *know* a declared name);
3. **entry points** of installed packages in the registry's group (e.g. ``divrec_rl.behaviours``),
   listed once per process and listed again once whenever a name is missed, so a package
   installed since is found.

Every loaded object is cached.  :meth:`Registry.reset` restores the declared table alone and
:meth:`Registry.isolated` undoes whatever a block registered, so tests share no hidden state.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata
from typing import Any, Generic, TypeVar

from divrec_rl.errors import ScenarioError, plugin_failure

T = TypeVar("T")

__all__ = ["Registry", "load_attr"]


def load_attr(target: str) -> Any:
    """Import ``"package.module:attr.sub"`` and return the attribute.

    Raises ``ImportError`` / ``AttributeError`` as Python does; :class:`Registry` turns them (and
    an ``OSError`` of a custom loader) into one error line naming the part.
    """
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ImportError(f"'{target}' is not of the form 'package.module:attr'")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """The parts of one kind.

    ``kind`` is the field shown in error messages (``behaviour.model``); ``group`` the entry-point
    group searched (``None``: none); ``declared`` the built-in name → target table, where a target
    is turned into the part by ``loader`` (default :func:`load_attr`, for ``"module:attr"``).
    """

    def __init__(
        self,
        kind: str,
        group: str | None = None,
        declared: Mapping[str, str] | None = None,
        loader: Callable[[str], T] | None = None,
    ) -> None:
        self.kind = kind
        self.group = group
        self.declared: dict[str, str] = dict(declared or {})
        self._loader: Callable[[str], Any] = loader or load_attr
        self._registered: dict[str, T] = {}
        self._loaded: dict[str, T] = {}
        self._entry_points: dict[str, metadata.EntryPoint] | None = None

    # -- registration -------------------------------------------------------------------------

    def register(
        self, name: str, obj: T | None = None, *, overwrite: bool = False
    ) -> Callable[[T], T] | T:
        """Register ``obj`` under ``name``; without ``obj`` return a decorator.

        Without ``overwrite`` a name already registered or declared (with another object) is a
        ``ValueError``; the plug-in decorators pass ``overwrite=True`` so re-importing a plug-in
        module, or replacing a built-in on purpose, is harmless.
        """

        def add(value: T) -> T:
            taken = name in self._registered or name in self.declared
            if taken and not overwrite and self._registered.get(name) is not value:
                raise ValueError(f"{self.kind} '{name}' is already registered")
            self._registered[name] = value
            return value

        return add if obj is None else add(obj)

    # -- lookup -------------------------------------------------------------------------------

    def _scan(self, again: bool = False) -> dict[str, metadata.EntryPoint]:
        if self.group is None:
            return {}
        if self._entry_points is None or again:
            found = metadata.entry_points(group=self.group)
            self._entry_points = {ep.name: ep for ep in sorted(found, key=lambda e: e.name)}
        return self._entry_points

    def _where(self, name: str) -> str | None:
        """``"registered"``, ``"declared"``, ``"entry point"`` or ``None`` (after one rescan)."""
        if name in self._registered:
            return "registered"
        if name in self.declared:
            return "declared"
        if name in self._scan() or name in self._scan(again=True):
            return "entry point"
        return None

    def get(self, name: str) -> T:
        """The part called ``name``; :class:`ScenarioError` with suggestions otherwise."""
        where = self._where(name)
        if where == "registered":
            return self._registered[name]
        if where is None:
            raise ScenarioError(self.unknown_message(name))
        if name not in self._loaded:
            self._loaded[name] = self._load(name, where)
        return self._loaded[name]

    def _load(self, name: str, where: str) -> T:
        load: Callable[[], Any]
        if where == "declared":
            target = self.declared[name]
            load = lambda: self._loader(target)  # noqa: E731
        else:
            ep = self._scan()[name]
            target, load = f"{ep.value} (entry point of group '{self.group}')", ep.load
        try:
            return load()
        except Exception as exc:  # a plug-in's module failed to import: one line, no traceback
            raise ScenarioError(
                f"{self.kind} '{name}': cannot load {target} ({plugin_failure(exc)})"
            ) from None

    def unknown_message(self, name: str) -> str:
        """``unknown <kind> 'x'; did you mean 'y'? (known: …)``."""
        known = self.names()
        close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        return f"unknown {self.kind} '{name}'{hint} (known: {', '.join(known) or 'none'})"

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._where(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def names(self) -> list[str]:
        """Every known name (registered, declared, entry points), sorted."""
        return sorted(set(self._registered) | set(self.declared) | set(self._scan()))

    def origin(self, name: str) -> str | None:
        """Where ``name`` comes from: ``"registered"``, ``"declared"``, ``"entry point"``."""
        return self._where(name)

    # -- isolation ----------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every registration, loaded part and entry-point listing: the declared table
        alone remains."""
        self._registered.clear()
        self._loaded.clear()
        self._entry_points = None

    @contextmanager
    def isolated(self) -> Iterator[Registry[T]]:
        """Within the block register freely; on exit the registry is as it was before."""
        saved = (dict(self._registered), dict(self._loaded), self._entry_points)
        try:
            yield self
        finally:
            self._registered, self._loaded, self._entry_points = saved
