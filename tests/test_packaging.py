"""Packaging and set-up: nothing generic at the top of site-packages; README and CI agree."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_package_directory_is_listed() -> None:
    tool = _pyproject()["tool"]["setuptools"]
    listed = set(tool["packages"])
    mapping = tool["package-dir"]
    assert all(name.startswith("divrec_rl") for name in mapping), "only the divrec_rl namespace"
    found = set()
    for name, folder in mapping.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            sub = ".".join((name, *rel.parts)) if rel.parts else name
            if not any(
                sub.startswith(other + ".") or sub == other
                for other in mapping
                if other != name and len(other) > len(name)
            ):
                found.add(sub)
    assert found <= listed, f"packages missing from pyproject: {sorted(found - listed)}"


def test_readme_starts_with_the_two_commands_and_ci_runs_the_second() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    commands = [ln for ln in blocks[0].splitlines() if ln and not ln.startswith("#")]
    assert len(commands) == 2
    install_run, install_test = commands
    assert install_run.startswith("python -m pip install torch==2.13.0 && ")
    assert "--scenario synthetic-shop" in install_run
    assert install_test.startswith(
        "python -m pip install torch==2.13.0 && "
    ) and install_test.endswith("pytest -n auto")
    assert '-e ".[test,ray]"' in install_test  # the sweep tests need the [ray] extra
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert install_test in ci.splitlines()


def _build_backend_installed() -> bool:
    """pyproject's build requirements (setuptools>=68, wheel) are importable here."""
    if importlib.util.find_spec("wheel") is None or importlib.util.find_spec("setuptools") is None:
        return False
    from importlib.metadata import version

    return int(version("setuptools").split(".")[0]) >= 68


# What the wheel is built from (pyproject's package-dir folders, the metadata files).
_SOURCES = ("pyproject.toml", "README.md", "divrec_rl", "agents", "envs", "scenarios")


@pytest.mark.slow
@pytest.mark.skipif(
    not _build_backend_installed(),
    reason="builds without a package index (no build isolation): needs setuptools>=68 and wheel "
    "installed (the test extra has them)",
)
def test_wheel_installs_nothing_generic_at_top_level(tmp_path: Path) -> None:
    # Built from a copy in tmp_path (pip builds in tree: build/ and *.egg-info would land in the
    # source tree) and without build isolation, which would fetch setuptools from an index.
    src = tmp_path / "src"
    src.mkdir()
    for name in _SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
            shutil.copytree(ROOT / name, src / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, src / name)
    out = tmp_path / "dist"
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*cmd, "-w", str(out), str(src)], check=True, capture_output=True, timeout=600)
    wheel = next(out.glob("divrec_rl-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.startswith("divrec_rl")} == set(), top
    for module in (
        "divrec_rl/envs/slate_env.py",
        "divrec_rl/agents/rerank.py",
        "divrec_rl/scenarios/synthetic-shop.yaml",
    ):
        assert module in names
