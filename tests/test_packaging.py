"""Packaging and set-up: nothing generic at the top of site-packages; README and CI agree."""

from __future__ import annotations

import re
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
    ) and install_test.endswith("pytest")
    assert '-e ".[test,ray]"' in install_test  # the sweep tests need the [ray] extra
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert install_test in ci.splitlines()


@pytest.mark.slow
def test_wheel_installs_nothing_generic_at_top_level(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    wheel = next(tmp_path.glob("divrec_rl-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.startswith("divrec_rl")} == set(), top
    for module in (
        "divrec_rl/envs/slate_env.py",
        "divrec_rl/agents/rerank.py",
        "divrec_rl/scenarios/synthetic-shop.yaml",
    ):
        assert module in names
