"""The one device resolution of divrec-rl, shared by PPO training and user-model fine-tuning,
and the CPU count that thread settings of 0 stand for."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from divrec_rl.errors import TrainingError

__all__ = ["DEVICES", "available_cpus", "resolve_device", "resolve_threads", "torch_threads"]

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str, flag: str = "--device") -> str:
    """``auto`` → ``cuda`` when a GPU is visible, else ``cpu``; ``cpu``/``cuda`` as given.

    ``cuda`` without a GPU, or any other name, is a :class:`TrainingError` naming ``flag`` and
    what is available here.
    """
    import torch  # imported here: the command line must stay fast without a device in sight

    cuda = torch.cuda.is_available()
    available = "auto, cpu, cuda" if cuda else "auto, cpu (no CUDA device is visible)"
    if device not in DEVICES:
        raise TrainingError(f"{flag}: must be one of auto, cpu, cuda, got {device!r}")
    if device == "auto":
        return "cuda" if cuda else "cpu"
    if device == "cuda" and not cuda:
        raise TrainingError(f"{flag} cuda: CUDA is not available here; available: {available}")
    return device


def available_cpus() -> int:
    """CPUs this process may run on: its affinity mask where the OS has one (a container's or
    Ray worker's limit shows there), else every CPU of the machine."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def resolve_threads(threads: int) -> int:
    """A thread setting: ``0`` → :func:`available_cpus`, any other count as given."""
    return threads or available_cpus()


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` torch CPU threads (0 = unchanged), restoring the count."""
    import torch

    if threads < 0:
        raise ValueError(f"threads: must be ≥ 0 (0 = torch's default), got {threads}")
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
