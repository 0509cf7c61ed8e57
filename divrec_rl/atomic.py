"""Atomic file writes: fill a temporary file next to the target, then rename it.

The rename is atomic on POSIX file systems, so a reader (or a run killed half-way) sees either
the old file or the complete new one, never a half-written file.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` to fill a temporary file next to ``path``, then rename it to ``path``.

    On any error the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        # The mode a plain open() would give (0666 less the umask): some writers (safetensors)
        # create their file 0600, which would leave a shared checkpoint unreadable to others.
        os.chmod(tmp, 0o666 & ~_umask())
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
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


def make_directory(path: Path, what: str, error: type[Exception]) -> Path:
    """Create directory ``path`` (and its parents) for output; a path that is a file, under a
    file, or not writable is one ``error`` naming ``what`` (e.g. ``--out 'x'``)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise error(f"{what}: exists and is not a directory")
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
