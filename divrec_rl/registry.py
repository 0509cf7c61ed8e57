"""Named registries for the pluggable parts of a scenario, with "did you mean" on a miss."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from divrec_rl.config import ScenarioError

T = TypeVar("T")


class Registry(Generic[T]):
    """A name → object table.  ``kind`` names the field shown in error messages."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(
        self, name: str, obj: T | None = None, *, overwrite: bool = False
    ) -> Callable[[T], T] | T:
        """Register ``obj`` under ``name``; without ``obj`` return a decorator."""

        def add(value: T) -> T:
            if name in self._items and not overwrite and self._items[name] is not value:
                raise ValueError(f"{self.kind} '{name}' is already registered")
            self._items[name] = value
            return value

        return add if obj is None else add(obj)

    def get(self, name: str) -> T:
        """The object registered as ``name``; :class:`ScenarioError` with suggestions otherwise."""
        try:
            return self._items[name]
        except KeyError:
            raise ScenarioError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        """``unknown <kind> 'x'; did you mean 'y'? (known: …)``."""
        close = difflib.get_close_matches(name, list(self._items), n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        known = ", ".join(sorted(self._items)) or "none"
        return f"unknown {self.kind} '{name}'{hint} (known: {known})"

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._items)
