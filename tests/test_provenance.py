"""Which code produced a result (:mod:`divrec_rl.provenance`): the source digest against its
formula, its independence from the install layout, the git state of a checkout, the numerical
environment, the summary over many runs, and an evaluation report's record — including the
warning when the source changes while a command runs (a training run's record is tested in
``test_run_layer.py``)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from divrec_rl import provenance
from divrec_rl.commands.evaluate import main as evaluate_main
from divrec_rl.provenance import CodeIdentity, code_identity, git_state, source_digest
from divrec_rl.training import rundir

SMALL = ["catalog.n_items=300", "catalog.n_categories=8", "slate.n_candidates=20"]


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_digest_of_one_file_follows_the_formula(tmp_path: Path) -> None:
    _write(tmp_path / "pkg" / "a.py", "x = 1\n")
    expected = hashlib.sha256(b"pkg/a.py\0" + hashlib.sha256(b"x = 1\n").digest()).hexdigest()
    assert source_digest([("pkg", tmp_path / "pkg")]) == expected


def test_the_digest_ignores_caches_and_other_files_and_sees_every_source_byte(
    tmp_path: Path,
) -> None:
    root = tmp_path / "pkg"
    _write(root / "a.py", "x = 1\n")
    _write(root / "scenarios" / "s.yaml", "name: s\n")
    roots = [("pkg", root)]
    before = source_digest(roots)
    _write(root / "__pycache__" / "a.cpython-311.pyc", "compiled")
    _write(root / "notes.txt", "not source")
    assert source_digest(roots) == before
    _write(root / "scenarios" / "s.yaml", "name: t\n")
    assert source_digest(roots) != before
    _write(root / "scenarios" / "s.yaml", "name: s\n")
    assert source_digest(roots) == before
    (root / "a.py").rename(root / "b.py")  # same bytes, another name
    assert source_digest(roots) != before


def test_an_editable_and_a_regular_layout_of_the_same_files_agree(tmp_path: Path) -> None:
    # Regular install: the subpackage nested inside the package (reachable from both roots).
    nested = tmp_path / "site" / "pkg"
    _write(nested / "__init__.py", "")
    _write(nested / "agents" / "ppo.py", "y = 2\n")
    # Editable install of a checkout: the subpackage is a folder elsewhere.
    split = tmp_path / "repo"
    _write(split / "pkg" / "__init__.py", "")
    _write(split / "agents" / "ppo.py", "y = 2\n")
    assert source_digest([("pkg", nested), ("pkg/agents", nested / "agents")]) == source_digest(
        [("pkg", split / "pkg"), ("pkg/agents", split / "agents")]
    )


def test_describe_names_version_digest_commit_and_state() -> None:
    digest = "ab" * 32
    assert CodeIdentity("1.2", digest).describe() == (
        f"divrec-rl 1.2, source {digest[:12]} (not a git checkout)"
    )
    commit = "0123456789" * 4
    assert (
        CodeIdentity("1.2", digest, commit, False).describe().endswith("(git 0123456, unmodified)")
    )
    assert (
        CodeIdentity("1.2", digest, commit, True)
        .describe()
        .endswith("(git 0123456, with local changes)")
    )
    env = {"cpu": "Some CPU", "cpu_flags_sha256": "0a1b", "numpy": "2.0"}
    assert CodeIdentity("1.2", digest, commit, True, env).as_dict() == {
        "version": "1.2",
        "source_sha256": digest,
        "git_commit": commit,
        "git_modified": True,
        "environment": env,
    }
    assert CodeIdentity("1.2", digest, environment=env).describe_environment() == (
        "CPU Some CPU (flags 0a1b); numpy 2.0"
    )
    full = CodeIdentity("1.2", digest, commit, True, env)
    back = CodeIdentity.from_dict(full.as_dict())
    assert back == full and back.environment == env
    assert CodeIdentity.from_dict({"source_sha256": digest}).describe() == (
        f"divrec-rl ?, source {digest[:12]} (not a git checkout)"
    )
    # Equality is about the code: the same code in another environment is the same code.
    assert CodeIdentity("1.2", digest, environment=env) == CodeIdentity("1.2", digest)


def test_the_numeric_environment_names_the_cpu_and_the_libraries() -> None:
    import numpy
    import torch

    env = provenance.numeric_environment()
    assert env["numpy"] == numpy.__version__ and env["torch"] == torch.__version__
    assert env["cpu"] and env["python"]
    assert env["torch_cpu_capability"] == str(torch.backends.cpu.get_cpu_capability())


@pytest.mark.skipif(shutil.which("git") is None, reason="needs the git command")
def test_git_state_of_a_checkout(tmp_path: Path) -> None:
    repo = tmp_path / "repo"

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    _write(repo / "pkg" / "__init__.py", "")
    _write(repo / "agents" / "ppo.py", "y = 2\n")
    _write(repo / "docs" / "page.md", "text\n")
    roots = [("pkg", repo / "pkg"), ("pkg/agents", repo / "agents")]
    git("init", "-q")
    assert git_state(roots) == (None, None), "an untracked package is not a checkout"
    git("add", ".")
    git("commit", "-q", "-m", "first")
    head = git("rev-parse", "HEAD")
    assert git_state(roots) == (head, False)
    _write(repo / "docs" / "page.md", "edited\n")  # outside the package: not a code change
    assert git_state(roots) == (head, False)
    _write(repo / "agents" / "ppo.py", "y = 3\n")
    assert git_state(roots) == (head, True)
    git("checkout", "-q", "--", "agents/ppo.py")
    _write(repo / "agents" / "new.py", "")  # an untracked source file counts
    assert git_state(roots) == (head, True)
    assert git_state([("pkg", tmp_path / "elsewhere")]) == (None, None)
    assert git_state([]) == (None, None)


def test_the_installed_package_has_an_identity() -> None:
    code = code_identity()
    assert len(code.source_sha256) == 64
    assert code.source_sha256 == code_identity().source_sha256  # deterministic
    assert provenance.changed_since(code) is None
    names = [name for name, _ in provenance.package_roots()]
    assert names[0] == "divrec_rl" and set(names) == {
        p.replace(".", "/") for p in provenance.PACKAGES
    }


def test_changed_since_sees_an_edit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _write(tmp_path / "pkg" / "a.py", "x = 1\n")
    monkeypatch.setattr(provenance, "package_roots", lambda: [("pkg", tmp_path / "pkg")])
    start = code_identity()
    assert provenance.changed_since(start) is None
    source.write_text("x = 2\n", encoding="utf-8")
    now = provenance.changed_since(start)
    assert now is not None and now.source_sha256 != start.source_sha256


def _evaluate(out: Path) -> int:
    return evaluate_main(
        [
            "--agents",
            "random",
            "--seeds",
            "1",
            "--users",
            "5",
            "--cross-sim",
            "none",
            "--no-frontier",
            "--quiet",
            "--out",
            str(out),
            *[a for s in SMALL for a in ("--set", s)],
        ]
    )


def test_the_report_names_the_code_and_warns_when_it_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _evaluate(tmp_path / "same") == 0
    report = (tmp_path / "same" / "report.md").read_text(encoding="utf-8")
    assert f"by {code_identity().describe()} (Python" in report
    assert "source changed while this evaluation ran" not in report
    edited = CodeIdentity("0", "ef" * 32)
    monkeypatch.setattr("divrec_rl.evaluation.runner.changed_since", lambda start: edited)
    assert _evaluate(tmp_path / "edited") == 0
    report = (tmp_path / "edited" / "report.md").read_text(encoding="utf-8")
    assert "source changed while this evaluation ran" in report and "efefefefefef" in report
    assert "source changed while this evaluation ran" in capsys.readouterr().err


def _entry(digest: str, modified: bool = False, **extra: object) -> dict[str, object]:
    return {"version": "1.0", "source_sha256": digest * 64, "git_commit": "7" * 40,
            "git_modified": modified, **extra}  # fmt: skip


def test_code_summary_says_same_code_mixed_code_changes_and_missing_records() -> None:
    a, b = _entry("a"), _entry("b", modified=True)
    same = "divrec-rl 1.0, source aaaaaaaaaaaa (git 7777777, unmodified)"
    assert provenance.code_summary({"x": [a]}, "run") == f"{same}."
    assert provenance.code_summary({"x": [a], "y": [a, a]}, "runs") == (
        f"all 2 runs ran the same code, {same}."
    )
    assert provenance.code_summary({"x": []}, "run") == (
        "no code record (written before it existed)."
    )
    other_cpu = {**a, "environment": {"cpu": "other"}}
    assert provenance.code_summary({"x": [a], "y": [other_cpu]}, "runs") == (
        f"all 2 runs ran the same code, {same}. They ran in 2 numerical environments (CPU or "
        "library versions differ; last bits may differ)."
    )
    mixed = provenance.code_summary(
        {"x": [a], "y": [b], "z": [], "w": [_entry("a", changed_during_run="c" * 64)]}, "trials"
    )
    assert mixed == (
        f"**not one recorded version of the code** (4 trials): {same}: 2 of 4; divrec-rl 1.0, "
        "source bbbbbbbbbbbb (git 7777777, with local changes): 1 of 4. The source changed "
        "while these ran: w. No code record (written before it existed): 1 of 4."
    )


def test_the_code_record_reads_without_the_scenario_and_never_fails(tmp_path: Path) -> None:
    assert rundir.read_code_record(tmp_path / "missing") == []
    _write(tmp_path / "bad" / "config.yaml", "run: [unclosed\n")
    assert rundir.read_code_record(tmp_path / "bad") == []
    _write(tmp_path / "old" / "config.yaml", "run: {commands: [a]}\nname: not-a-known-scenario\n")
    assert rundir.read_code_record(tmp_path / "old") == []
    _write(tmp_path / "new" / "config.yaml", "run: {code: [{source_sha256: ab}, 3]}\n")
    assert rundir.read_code_record(tmp_path / "new") == [{"source_sha256": "ab"}]
