"""Atomic file writes: fill a temporary file next to the target, then rename it.

The rename is atomic on POSIX file systems, so a reader (or a run killed half-way) sees either
the old file or the complete new one, never a half-written file.
"""

from __future__ import annotations

import errno
import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` to fill a temporary file next to ``path``, then rename it to ``path``.

    On any error the temporary file is removed and ``path`` is untouched.
    """
    atomic_write_all({Path(path): write})


def atomic_write_all(writes: Mapping[Path, Callable[[Path], object]]) -> None:
    """Files that belong together (a table, its plot, its summary): every ``write(tmp)`` fills
    a temporary file next to its path first, and only when all succeeded are they renamed into
    place, so a failure in any of them leaves every target as it was."""
    done: dict[Path, Path] = {}
    try:
        for path, write in writes.items():
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
            done[path] = tmp
            write(tmp)
            # The mode a plain open() would give (0666 less the umask): some writers
            # (safetensors) create their file 0600, which would leave a shared checkpoint
            # unreadable to others.
            os.chmod(tmp, 0o666 & ~_umask())
            with tmp.open("rb") as handle:
                os.fsync(handle.fileno())
        # A rename can still fail (a directory in the way): find that before the first one.
        blocked = next((path for path in done if path.is_dir()), None)
        if blocked is not None:
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(blocked))
        for path, tmp in done.items():
            os.replace(tmp, path)
    except BaseException:
        for tmp in done.values():
            tmp.unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask (read by setting it, so set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def check_directory(path: Path, what: str, error: type[Exception]) -> Path:
    """Check, creating nothing, that directory ``path`` exists or can be created for output: a
    path that is a file, under a file, or under a directory one may not write to is one
    ``error`` naming ``what`` (e.g. ``--out 'x'``)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise error(f"{what}: exists and is not a directory")
    existing = next(p for p in (path, *path.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise error(f"{what}: cannot create the directory ('{existing}' is a file)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise error(f"{what}: cannot create or write the directory ('{existing}' is not writable)")
    return path


def make_directory(path: Path, what: str, error: type[Exception]) -> Path:
    """Create directory ``path`` (and its parents) for output; a path that is a file, under a
    file, or not writable is one ``error`` naming ``what`` (e.g. ``--out 'x'``)."""
    path = check_directory(path, what, error)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise error(f"{what}: cannot create the directory ({exc.strerror})") from None
    return path


@contextmanager
def interrupt_deferred() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) that arrives inside the block until the block has finished, then
    raise it: for a group of files that must change together (a checkpoint's weights and the
    config that records their checksums), so an interruption never leaves some replaced and
    the rest not.  Outside the main thread (where signals cannot be handled) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt
