"""RecSim NG interop: configuration, statistics, error messages; one end-to-end run.

Everything except the ``integration`` test runs without RecSim NG.  The integration test needs
``.venv-recsim`` (``bash scripts/recsim_ng/setup.sh``, or ``$RECSIM_NG_PYTHON``) and is skipped
without it.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from divrec_rl.catalog import Catalog
from divrec_rl.config import ScenarioError
from divrec_rl.interop import recsim_ng as rs
from divrec_rl.rollout import Trajectories

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "scripts" / "recsim_ng" / "run_interest_evolution.py"
SMALL = {"num_users": 12, "num_topics": 4, "num_docs": 40, "slate_size": 3, "horizon": 6}


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def runner() -> ModuleType:
    """The RecSim NG runner as a module (TF is imported lazily)."""
    return _load(RUNNER, "recsim_ng_runner_under_test")


@pytest.fixture(scope="module")
def compare_script() -> ModuleType:
    return _load(ROOT / "scripts" / "compare_recsim_ng.py", "compare_recsim_ng_under_test")


# ------------------------------------------------------------------------------------------
# configuration
# ------------------------------------------------------------------------------------------


def test_parse_config_defaults_and_policies() -> None:
    cfg = rs.parse_config({})
    assert cfg == rs.RecSimNGConfig()
    assert rs.parse_config({"policies": "greedy, random,greedy"}).policies == ("greedy", "random")
    assert rs.parse_config({"num_users": 3}).to_json()["num_users"] == 3


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"num_user": 3}, "unknown field 'num_user'"),
        ({"num_topics": 21}, "field 'num_topics': must be an integer in [1, 20]"),
        ({"horizon": 0}, "field 'horizon'"),
        ({"seed": "1"}, "field 'seed'"),
        ({"num_users": True}, "field 'num_users'"),
        ({"policies": ["random", "bandit"]}, "field 'policies'"),
        ({"num_docs": 15, "num_topics": 10}, "field 'num_docs': must be ≥"),
        ({"num_docs": 12, "num_topics": 4, "slate_size": 9}, "= 13"),
    ],
)
def test_parse_config_names_the_bad_field(raw: dict, needle: str) -> None:
    with pytest.raises(ScenarioError) as err:
        rs.parse_config(raw)
    assert len(err.value.errors) == 1 and needle in err.value.errors[0]


def test_load_config_file_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"num_users": 7, "horizon": 9}))
    cfg = rs.load_config(path, {"num_users": 3})
    assert (cfg.num_users, cfg.horizon) == (3, 9)
    path.write_text('{\n  "horizon": 9,,\n}')
    with pytest.raises(ScenarioError, match=r"cfg.json:2: invalid JSON"):
        rs.load_config(path)
    path.write_text(json.dumps({"slate_size": -1}))
    with pytest.raises(ScenarioError, match=r"cfg.json: field 'slate_size'"):
        rs.load_config(path)


def test_derive_scenario_matches_the_protocol_and_keeps_interest_evolution() -> None:
    cfg = rs.parse_config(SMALL)
    sc, rows = rs.derive_scenario(cfg)
    assert sc.name == "interest-evolution"
    assert (sc.catalog.n_items, sc.catalog.n_categories, sc.catalog.seed) == (40, 4, 0)
    assert (sc.slate.size, sc.episode.max_steps) == (3, 6)
    assert sc.slate.n_candidates == 40 - 4 and sc.slate.explore_fraction == 1.0
    assert sc.behaviour.drift.rate == 0.2  # the scenario's own dynamics are untouched
    assert {r[0] for r in rows} >= {"num_users", "num_topics", "num_docs", "slate_size"}
    aspects = {r[0] for r in rs.model_differences(sc)}
    assert {"leaving / time budget", "click model", "interest drift", "quality"} <= aspects


# ------------------------------------------------------------------------------------------
# statistics on a hand-computed trajectory
# ------------------------------------------------------------------------------------------


def _hand_log() -> rs.StepLog:
    """2 users, 3 steps, k = 2, 3 topics; user 1 leaves after step 1."""
    nan = np.nan
    return rs.StepLog(
        active=np.array([[1, 1, 1], [1, 1, 0]], dtype=bool),
        clicked=np.array([[1, 0, 1], [1, 1, 0]], dtype=bool),
        topic=np.array([[0, -1, 0], [1, 2, -1]]),
        engagement=np.array([[0.5, 0.0, 1.0], [0.25, 0.75, 0.0]]),
        quality_z=np.array([[1.0, nan, -1.0], [0.5, 0.5, nan]]),
        slate_topics=np.array([[[0, 1], [1, 1], [0, 0]], [[1, 2], [2, 2], [0, 0]]]),
        interest=np.array(
            [[[1, 0], [1, 0], [0, 1], [0, 1]], [[1, 0], [1, 1], [1, 1], [1, 1]]], dtype=float
        ),
    ).validate()


def test_statistics_by_hand() -> None:
    stats = rs.statistics(_hand_log(), n_topics=3)
    r = 1 / math.sqrt(2)
    ps = stats["per_step"]
    assert ps["active"] == [2, 2, 1]
    assert ps["click_rate"] == pytest.approx([1.0, 0.5, 1.0])
    assert ps["engagement"] == pytest.approx([0.375, 0.375, 1.0])
    assert ps["drift_cosine"] == pytest.approx([(1 + r) / 2, r / 2, 0.0])
    s = stats["summary"]
    assert s["click_rate"] == pytest.approx(4 / 5)
    assert s["engagement_per_step"] == pytest.approx(2.5 / 5)
    assert s["engagement_per_click"] == pytest.approx(2.5 / 4)
    assert s["cumulative_engagement_per_user"] == pytest.approx(1.25)
    assert (s["session_length_mean"], s["retention_at_horizon"]) == (2.5, 0.5)
    assert s["topic_entropy_bits"] == pytest.approx(1.5)  # p = (½, ¼, ¼)
    assert s["topic_entropy_normalised"] == pytest.approx(1.5 / math.log2(3))
    assert s["user_topic_entropy_bits"] == pytest.approx(0.5)  # 0 and 1 bit
    assert s["top_topic_share"] == pytest.approx(0.5)
    assert s["consumed_quality_z"] == pytest.approx(0.25)
    assert s["distinct_topics_per_slate"] == pytest.approx(7 / 5)
    assert s["interest_cosine_final"] == pytest.approx(r / 2)
    assert stats["topic_distribution"] == pytest.approx([0.5, 0.25, 0.25])


def test_per_step_rates_are_undefined_once_everybody_left() -> None:
    log = _hand_log()
    log.active[:, 2] = False
    ps = rs.statistics(log, 3)["per_step"]
    assert ps["active"][2] == 0 and ps["click_rate"][2] is None and ps["drift_cosine"][2] is None


def _tiny_catalog() -> Catalog:
    emb = np.array([[1, 0], [0.6, 0.8], [0, 1], [-1, 0]], dtype=np.float32)
    return Catalog(
        item_ids=np.arange(4),
        texts=["a", "b", "c", "d"],
        category_names=["x", "y"],
        category_weights=np.eye(2, dtype=np.float32)[[0, 0, 1, 1]],
        popularity=np.array([5.0, 1.0, 1.0, 0.0]),
        embeddings=emb,
        quality=np.array([0.0, 1.0, -1.0, 0.0], dtype=np.float32),
    )


def test_step_log_from_our_trajectories() -> None:
    z = np.zeros(3)
    traj = Trajectories(
        n_users=2,
        user=np.array([0, 0, 1]),
        step=np.array([0, 1, 0]),
        session=np.zeros(3, dtype=np.int64),
        slate=np.array([[0, 1], [2, 3], [1, 2]]),
        clicked=np.array([1, -1, 2]),
        position=np.array([1, -1, 1]),
        engagement=np.array([0.5, 0.0, 0.8]),
        diversity=z,
        reward=z,
        left=np.array([False, True, True]),
        majority_category=np.array([-1, -1]),
    )
    interest = np.ones((2, 3, 2))
    log = rs.StepLog.from_trajectories(traj, _tiny_catalog(), interest, horizon=2)
    assert log.active.tolist() == [[True, True], [True, False]]
    assert log.clicked.tolist() == [[True, False], [True, False]]
    assert log.topic.tolist() == [[0, -1], [1, -1]]
    assert log.engagement.tolist() == [[0.5, 0.0], [0.8, 0.0]]
    sq2 = math.sqrt(2)  # quality (0, 1, −1, 0): mean 0, std 1/√2
    np.testing.assert_allclose(log.quality_z, [[sq2, np.nan], [-sq2, np.nan]])
    assert log.slate_topics[0].tolist() == [[0, 0], [1, 1]]
    assert log.slate_topics[1, 0].tolist() == [0, 1]
    with pytest.raises(ValueError, match="horizon"):
        rs.StepLog.from_trajectories(traj, _tiny_catalog(), interest, horizon=1)


def test_run_divrec_small() -> None:
    cfg = rs.parse_config(SMALL)
    logs = {p: rs.run_divrec(cfg, p) for p in cfg.policies}
    for log in logs.values():
        assert log.active.shape == (12, 6) and log.interest.shape[:2] == (12, 7)
        assert log.slate_topics.shape == (12, 6, 3)
        assert (log.topic[log.clicked] >= 0).all() and (log.topic[~log.clicked] == -1).all()
        assert np.allclose(np.linalg.norm(log.interest, axis=-1), 1.0)  # our interests are unit
    rates = {p: rs.statistics(log, 4)["summary"]["click_rate"] for p, log in logs.items()}
    assert rates["greedy"] > rates["random"]
    again = rs.run_divrec(cfg, "random")
    assert np.array_equal(again.clicked, logs["random"].clicked)  # seeded


# ------------------------------------------------------------------------------------------
# errors of the command line and of the subprocess launcher
# ------------------------------------------------------------------------------------------


def test_missing_environment_is_one_error_line(
    compare_script: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope" / "python"
    code = compare_script.main(["--out", str(tmp_path / "o"), "--recsim-python", str(missing)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("error: RecSim NG environment not found")
    assert "scripts/recsim_ng/setup.sh" in err[0]


def test_env_var_names_the_python(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(rs.PYTHON_ENV_VAR, str(tmp_path / "py"))
    assert rs.default_python(ROOT) == tmp_path / "py"
    monkeypatch.delenv(rs.PYTHON_ENV_VAR)
    assert rs.default_python(ROOT) == ROOT / ".venv-recsim" / "bin" / "python"


def test_bad_config_field_is_one_error_line(
    compare_script: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"num_topics": 50}))
    code = compare_script.main(["--out", str(tmp_path / "o"), "--config", str(path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("error: ") and "field 'num_topics'" in err[0]
    assert compare_script.main(["--out", str(tmp_path / "o"), "--users", "0"]) == 2
    assert "field 'num_users'" in capsys.readouterr().err


def test_failing_runner_reports_its_last_stderr_line(tmp_path: Path) -> None:
    fake = tmp_path / "runner.py"
    fake.write_text("import sys\nprint('boom: no tensorflow', file=sys.stderr)\nsys.exit(3)\n")
    cfg = rs.parse_config(SMALL)
    with pytest.raises(rs.RecSimNGError, match=r"exit 3\): boom: no tensorflow"):
        rs.run_recsim_ng(cfg, tmp_path / "o", Path(sys.executable), fake)


_FAKE_RUNNER = """
import json, sys
from pathlib import Path
import numpy as np
out = Path(sys.argv[sys.argv.index("--out") + 1])
mode = {mode!r}
stats = '{{"versions": ' if mode == "truncated-stats" else "{{}}"
if mode != "no-stats":
    (out / "recsim_ng_stats.json").write_text(stats)
arrays = {{name: np.zeros((1, 1)) for name in {fields!r}}}
for policy in ("random", "greedy"):
    path = out / f"recsim_ng_raw_{{policy}}.npz"
    if mode == "damaged-npz":
        path.write_bytes(b"PK not a zip")
    else:
        np.savez(path, **arrays)
"""


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("no-stats", r"recsim_ng_stats.json: not a readable runner output \(No such file"),
        ("truncated-stats", r"recsim_ng_stats.json: not a readable runner output"),
        ("damaged-npz", r"recsim_ng_raw_random.npz: not a readable runner output"),
        ("wrong-shape", r"recsim_ng_raw_random.npz: not a readable runner output \(step log\."),
    ],
)
def test_a_runner_that_exits_0_with_bad_output_is_one_error_line(
    tmp_path: Path, mode: str, message: str
) -> None:
    # These were FileNotFoundError, JSONDecodeError, BadZipFile and ValueError tracebacks.
    fake = tmp_path / "runner.py"
    fake.write_text(_FAKE_RUNNER.format(mode=mode, fields=list(rs.StepLog.FIELDS)))
    with pytest.raises(rs.RecSimNGError, match=message):
        rs.compare(rs.parse_config(SMALL), tmp_path / "o", Path(sys.executable), fake, plot=False)


def test_out_and_config_problems_are_one_error_line_before_the_runner(
    compare_script: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "afile").write_text("x")
    binary = tmp_path / "cfg.json"
    binary.write_bytes(bytes(range(128, 256)))
    python = ["--recsim-python", sys.executable]
    for argv, needle in [
        (["--out", str(tmp_path / "afile"), *python], "exists and is not a directory"),
        (["--out", str(tmp_path / "afile" / "sub"), *python], "is a file)"),
        (["--out", str(tmp_path / "o"), "--config", str(binary)], "not a UTF-8 text file"),
        (["--out", str(tmp_path / "o"), "--recsim-python", str(tmp_path)], "is not a file"),
    ]:
        assert compare_script.main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0], err


def test_runner_uses_the_shared_module(runner: ModuleType) -> None:
    assert Path(runner.shared.__file__) == ROOT / "divrec_rl" / "interop" / "recsim_ng_stats.py"
    assert not hasattr(runner, "compute_statistics") and not hasattr(runner, "validate_config")
    parse, error = runner.shared.parse_config, runner.shared.ConfigError
    assert parse({}).to_json()["policies"] == ["random", "greedy"]
    assert parse({"num_topics": 50}).num_topics == 50  # on its own: no catalogue limit
    with pytest.raises(error, match="field 'slate_size': must be ≤ num_docs"):
        parse({"slate_size": 500, "num_docs": 10})
    with pytest.raises(error, match="unknown field 'users'"):
        parse({"users": 3})


def test_runner_never_imports_divrec_rl_and_reports_one_error_line(tmp_path: Path) -> None:
    probe = (
        "import runpy, sys\n"
        "try:\n"
        f"    runpy.run_path({str(RUNNER)!r}, run_name='__main__')\n"
        "finally:\n"
        "    print(sorted(m for m in sys.modules if m.split('.')[0] == 'divrec_rl'))\n"
    )
    argv = ["--out", str(tmp_path / "o"), "--num-topics", "0"]
    done = subprocess.run(
        [sys.executable, "-c", probe, *argv], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout.strip() == "[]"
    err = done.stderr.strip().splitlines()
    assert err == ["error: field 'num_topics': must be an integer in [1, 1000], got 0"]


def test_report_from_fake_recsim_statistics(tmp_path: Path) -> None:
    cfg = rs.parse_config(SMALL)
    sc, rows = rs.derive_scenario(cfg)
    ours = {p: rs.statistics(rs.run_divrec(cfg, p, sc), 4) for p in cfg.policies}
    # Stand-in RecSim NG statistics built independently of ours: greedy beats random by a known
    # click-rate margin and is flat on engagement, so every effect row has a known answer.
    fake = json.loads(json.dumps(ours))
    for key in fake["random"]["summary"]:
        fake["random"]["summary"][key] = 0.5
        fake["greedy"]["summary"][key] = 0.5
    fake["greedy"]["summary"]["click_rate"] = 0.8
    c = rs.Comparison(cfg, sc, rows, recsim=fake, ours=ours, recsim_meta={})
    paths = rs.write_report(c, tmp_path, plot=False)
    assert {p.name for p in paths} == {
        "report.md",
        "comparison.csv",
        "per_step.csv",
        "divrec_rl_stats.json",
    }
    text = (tmp_path / "report.md").read_text()
    assert "| random | click rate" in text and "What the configuration cannot match" in text
    for r in rs.effect_rows(c):
        key = r["statistic"]
        d_us = ours["greedy"]["summary"][key] - ours["random"]["summary"][key]
        assert r["divrec_rl"] == pytest.approx(d_us)
        assert r["recsim_ng"] == pytest.approx(0.3 if key == "click_rate" else 0.0)
        if key != "click_rate":  # RecSim NG flat: "both flat" only when ours is flat as well
            assert r["direction"] == ("both flat" if abs(d_us) < 0.005 else "disagree")
        else:
            assert r["direction"] == ("agree" if d_us >= 0.005 else "disagree")
    flipped = json.loads(json.dumps(ours))
    flipped["greedy"]["summary"]["click_rate"] = flipped["random"]["summary"]["click_rate"] - 0.1
    c.recsim = flipped
    row = next(r for r in rs.effect_rows(c) if r["statistic"] == "click_rate")
    assert row["direction"] == "disagree" and row["recsim_ng"] == pytest.approx(-0.1)
    header = (tmp_path / "comparison.csv").read_text().splitlines()[0]
    assert header == "policy,statistic,recsim_ng,divrec_rl"


# ------------------------------------------------------------------------------------------
# end to end with RecSim NG
# ------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_compare_end_to_end_with_recsim_ng(tmp_path: Path) -> None:
    python = rs.default_python(ROOT)
    if not python.is_file():
        pytest.skip(
            f"RecSim NG environment absent ({python}); run `bash scripts/recsim_ng/setup.sh`"
        )
    cfg = rs.parse_config({**SMALL, "num_users": 16})
    # How long this takes is a benchmark's business (benchmarks/), not a test's.
    result = rs.compare(cfg, tmp_path, python, RUNNER, plot=True)
    for name in (
        "report.md",
        "comparison.csv",
        "per_step.csv",
        "comparison.png",
        "recsim_ng_stats.json",
        "recsim_ng_raw_random.npz",
    ):
        assert (tmp_path / name).is_file(), name
    for policy in cfg.policies:
        ng = result.recsim[policy]
        assert ng["per_step"]["active"] == [16] * 6  # RecSim NG users never leave
        assert 0.0 <= ng["summary"]["click_rate"] <= 1.0
    assert result.recsim_meta["versions"]["recsim-ng"] == "0.1.2"
    random_only = rs.parse_config({**SMALL, "num_users": 16, "policies": ["random"]})
    again = rs.run_recsim_ng(random_only, tmp_path / "again", python, RUNNER)  # reproducible
    first = json.loads((tmp_path / "recsim_ng_stats.json").read_text())
    assert again["policies"]["random"]["summary"] == first["policies"]["random"]["summary"]


def _newer_than_python_39(tree: ast.AST) -> list[str]:
    """Constructs of a module that Python 3.9 cannot run: ``typing.Self``, ``zip(strict=…)``,
    ``match``, and ``X | Y`` evaluated at run time (``isinstance``/``issubclass``)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "typing":
            found += [f"typing.{a.name}" for a in node.names if a.name in ("Self", "TypeAlias")]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "zip" and any(k.arg == "strict" for k in node.keywords):
                found.append(f"zip(strict=) at line {node.lineno}")
            if node.func.id in ("isinstance", "issubclass") and any(
                isinstance(a, ast.BinOp) and isinstance(a.op, ast.BitOr) for a in node.args
            ):
                found.append(f"{node.func.id}(X | Y) at line {node.lineno}")
        if type(node).__name__ == "Match":
            found.append(f"match at line {node.lineno}")
    return found


@pytest.mark.parametrize(
    "path",
    ["divrec_rl/interop/recsim_ng_stats.py", "scripts/recsim_ng/run_interest_evolution.py"],
)
def test_what_the_recsim_ng_runner_loads_runs_on_python_39(path: str) -> None:
    """The RecSim NG environment may be CPython 3.9 or 3.10 (TensorFlow 2.15's wheels): the runner
    and the statistics module it loads by path must not use newer syntax or typing (the
    module imported ``typing.Self`` and failed there; the main package needs 3.11)."""
    source = (Path(__file__).resolve().parents[1] / path).read_text(encoding="utf-8")
    assert _newer_than_python_39(ast.parse(source)) == []
