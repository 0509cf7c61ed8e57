"""The architecture rules of the house, checked on the source (see ``docs/architecture.md``).

* every module of the package is declared in one layer of the table in ``docs/architecture.md``;
* no module imports from a higher layer, and no modules import each other in a circle;
* no module over 500 lines, no function over 80 lines.

Modules are found through the ``package-dir`` mapping of ``pyproject.toml`` and read with
:mod:`ast`, never imported, so no registration side effect can hide or create a dependency.
"""

from __future__ import annotations

import ast
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "divrec_rl"
ARCHITECTURE_DOC = ROOT / "docs" / "architecture.md"

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80
SIZE_ROOTS = ("divrec_rl", "envs", "agents", "scenarios", "scripts", "benchmarks")
# Files allowed past the size limits because they are data tables, path relative to the
# repository root -> reason. Keep it empty unless a table cannot live in a data file.
SIZE_EXEMPTIONS: dict[str, str] = {}


@dataclass(frozen=True)
class Import:
    """One import of a package module: who imports what, and on which line."""

    importer: str
    imported: str
    line: int


def declared_layers(doc: Path = ARCHITECTURE_DOC) -> dict[str, int]:
    """Layer number of each declared name, parsed from the layer table of the architecture doc.

    A row looks like ``| 2 | `users/`, `data/` | … |``: a name with a trailing ``/`` is a
    package (and everything in it), ``__init__`` is the package's own ``__init__``.
    """
    layers: dict[str, int] = {}
    for line in doc.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[0].isdigit():
            continue
        for name in re.findall(r"`([^`]+)`", cells[1]):
            key = name.rstrip("/").replace("/", ".")
            assert key not in layers, f"{name} is declared twice in {doc.name}"
            layers[key] = int(cells[0])
    assert layers, f"no layer table found in {doc}"
    return layers


def module_files() -> dict[str, Path]:
    """Every module of the package, by dotted name, from ``pyproject.toml``'s ``package-dir``."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    mapping: dict[str, str] = pyproject["tool"]["setuptools"]["package-dir"]
    modules: dict[str, Path] = {}
    for package, folder in mapping.items():
        base = ROOT / folder
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(base)
            if not all(
                (base / Path(*rel.parts[:i]) / "__init__.py").exists()
                for i in range(len(rel.parts))
            ):
                continue  # not inside a package (e.g. a stray script folder)
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join([package, *parts])
            # A sub-folder mapped elsewhere (e.g. scenarios/examples) gets the same name either way.
            modules.setdefault(name, path)
    return modules


def layer_of(module: str, layers: dict[str, int]) -> int | None:
    """Layer of a package module: the longest declared prefix of its name below the package
    (``users`` for ``divrec_rl.users.choice``; a row may also name one module of a package,
    ``agents.protocol``), or ``__init__`` for the package itself."""
    if module == PACKAGE:
        return layers.get("__init__")
    parts = module.split(".")[1:]
    while parts:
        if ".".join(parts) in layers:
            return layers[".".join(parts)]
        parts.pop()
    return None


def _target(name: str, modules: dict[str, Path]) -> str:
    """The module an import of dotted ``name`` loads: the longest known module prefix."""
    parts = name.split(".")
    while parts and ".".join(parts) not in modules:
        parts.pop()
    return ".".join(parts)


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    """Every import of a package module made anywhere in ``path`` (functions included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.split(".")[0] == PACKAGE]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                # `from . import x` in a package means the package itself; in a module, its parent.
                drop = node.level - 1 if is_package else node.level
                base = base[: len(base) - drop]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            if source.split(".")[0] != PACKAGE:
                continue
            names = [
                f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source
                for a in node.names
            ]
        else:
            continue
        for name in dict.fromkeys(names):  # `from p import a, b` names p once for both
            target = _target(name, modules)
            if target and target != module:
                found.append(Import(module, target, node.lineno))
    return list(dict.fromkeys(found))


def import_graph() -> tuple[dict[str, Path], list[Import]]:
    """All modules and all their imports of one another."""
    modules = module_files()
    edges = [imp for name, path in modules.items() for imp in imports_of(name, path, modules)]
    return modules, edges


def upward_imports(
    modules: dict[str, Path], edges: list[Import], layers: dict[str, int]
) -> list[str]:
    """``path:line: importer (layer a) imports imported (layer b)`` for every ``b > a``."""
    bad = []
    for imp in edges:
        low, high = layer_of(imp.importer, layers), layer_of(imp.imported, layers)
        if low is not None and high is not None and high > low:
            path = modules[imp.importer]
            where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
            bad.append(
                f"{where}:{imp.line}: {imp.importer} (layer {low}) imports {imp.imported} "
                f"(layer {high})"
            )
    return sorted(bad)


def find_cycles(nodes: list[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with a cycle (Tarjan), as a closed path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(nodes):
        if v not in index:
            connect(v)
    return [_cycle_in(component, edges) for component in components]


def _cycle_in(component: list[str], edges: dict[str, set[str]]) -> list[str]:
    """A shortest closed path through the first module of a strongly connected component."""
    start, members = component[0], set(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for v in frontier:
            for w in sorted(edges.get(v, set()) & members):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if w not in previous:
                    previous[w] = v
                    following.append(w)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover


# --------------------------------------------------------------------------------------------
# The rules, on the real package


def test_every_module_is_declared_in_a_layer() -> None:
    layers = declared_layers()
    unknown = sorted(m for m in module_files() if layer_of(m, layers) is None)
    assert not unknown, (
        "modules in no layer; declare them in the layer table of docs/architecture.md: "
        + ", ".join(unknown)
    )


def test_no_import_from_a_higher_layer() -> None:
    modules, edges = import_graph()
    bad = upward_imports(modules, edges, declared_layers())
    assert not bad, "imports from a higher layer:\n" + "\n".join(bad)


def test_no_import_cycles() -> None:
    modules, edges = import_graph()
    graph: dict[str, set[str]] = {}
    for imp in edges:
        graph.setdefault(imp.importer, set()).add(imp.imported)
    cycles = find_cycles(list(modules), graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _size_files() -> list[Path]:
    return sorted(
        p
        for root in SIZE_ROOTS
        for p in (ROOT / root).rglob("*.py")
        if "__pycache__" not in p.parts
    )


def test_no_module_over_the_line_limit() -> None:
    long = []
    for path in _size_files():
        rel = path.relative_to(ROOT).as_posix()
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > MAX_MODULE_LINES and rel not in SIZE_EXEMPTIONS:
            long.append(f"{rel}: {n} lines")
    assert not long, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(long)


def test_no_function_over_the_line_limit() -> None:
    long = []
    for path in _size_files():
        rel = path.relative_to(ROOT).as_posix()
        if rel in SIZE_EXEMPTIONS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{rel}:{node.lineno}: {node.name} is {n} lines")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long)


def test_size_exemptions_name_existing_files_with_a_reason() -> None:
    for rel, reason in SIZE_EXEMPTIONS.items():
        assert (ROOT / rel).is_file(), f"exempted file {rel} does not exist"
        assert reason.strip(), f"exemption of {rel} needs a reason"


# --------------------------------------------------------------------------------------------
# The checker itself, on hand-made cases


def test_layer_table_is_well_formed(tmp_path: Path) -> None:
    layers = declared_layers()
    assert sorted(set(layers.values())) == list(range(1, 9))
    # The package __init__ registers the gym env by name only: it sits no higher than assembly.
    assert layers["__init__"] <= layers["resolve"]
    doc = tmp_path / "architecture.md"
    doc.write_text(
        "| layer | modules |\n|---|---|\n| 1 | `config`, `users/` |\n| 2 | `cli` |\n"
        "| text | `not_a_layer` |\n"
    )
    assert declared_layers(doc) == {"config": 1, "users": 1, "cli": 2}
    assert layer_of("divrec_rl.users.choice", declared_layers(doc)) == 1
    finer = {"agents": 7, "agents.protocol": 3}  # one module of a package declared lower
    assert layer_of("divrec_rl.agents.protocol", finer) == 3
    assert layer_of("divrec_rl.agents.ppo", finer) == 7
    assert layer_of("divrec_rl.nowhere", declared_layers(doc)) is None


def test_relative_and_from_imports_resolve_to_modules(tmp_path: Path) -> None:
    pkg = tmp_path / "divrec_rl"
    (pkg / "sub").mkdir(parents=True)
    source = (
        "from . import helper\n"
        "from .. import rng, VERSION\n"
        "from ..config import X\n"
        "import divrec_rl.sub.helper as h\n"
        "import numpy\n"
        "def f():\n"
        "    from divrec_rl import rng\n"
        "    from divrec_rl.sub import nothing_here\n"
    )
    (pkg / "sub" / "mod.py").write_text(source)
    modules = {
        name: tmp_path / "x.py"
        for name in ("divrec_rl", "divrec_rl.rng", "divrec_rl.config", "divrec_rl.sub",
                     "divrec_rl.sub.helper", "divrec_rl.sub.mod")
    }  # fmt: skip
    found = imports_of("divrec_rl.sub.mod", pkg / "sub" / "mod.py", modules)
    assert [(i.imported, i.line) for i in found] == [
        ("divrec_rl.sub.helper", 1),
        ("divrec_rl.rng", 2),
        ("divrec_rl", 2),
        ("divrec_rl.config", 3),
        ("divrec_rl.sub.helper", 4),
        ("divrec_rl.rng", 7),
        ("divrec_rl.sub", 8),
    ]


def test_relative_import_inside_a_package_init(tmp_path: Path) -> None:
    init = tmp_path / "__init__.py"
    init.write_text("from .helper import x\nfrom . import other\n")
    modules = {n: init for n in ("divrec_rl", "divrec_rl.sub", "divrec_rl.sub.helper")}
    found = imports_of("divrec_rl.sub", init, modules)
    # `from . import other` names the package itself (other is no module): not a dependency.
    assert [i.imported for i in found] == ["divrec_rl.sub.helper"]


def test_upward_imports_name_module_line_and_layers() -> None:
    layers = {"config": 1, "simulator": 5, "cli": 8}
    modules = {m: ROOT / "divrec_rl" / f"{m.split('.')[-1]}.py" for m in
               ("divrec_rl.config", "divrec_rl.simulator", "divrec_rl.cli")}  # fmt: skip
    edges = [
        Import("divrec_rl.simulator", "divrec_rl.config", 3),  # downwards: fine
        Import("divrec_rl.simulator", "divrec_rl.cli", 12),
        Import("divrec_rl.config", "divrec_rl.simulator", 7),
    ]
    assert upward_imports(modules, edges, layers) == [
        "divrec_rl/config.py:7: divrec_rl.config (layer 1) imports divrec_rl.simulator (layer 5)",
        "divrec_rl/simulator.py:12: divrec_rl.simulator (layer 5) imports divrec_rl.cli (layer 8)",
    ]


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}}, []),
        ({"a": {"b"}, "b": {"a"}}, [["a", "b", "a"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c", "a"]]),
        ({"x": {"y"}, "y": {"x", "z"}, "z": {"w"}, "w": {"z"}}, [["w", "z", "w"], ["x", "y", "x"]]),
    ],
)
def test_cycles_are_found_and_named(edges: dict[str, set[str]], expected: list[list[str]]) -> None:
    nodes = sorted(set(edges) | {w for ws in edges.values() for w in ws})
    assert sorted(find_cycles(nodes, edges)) == expected
