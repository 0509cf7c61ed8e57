"""The one device resolution of divrec-rl, shared by PPO training and user-model fine-tuning."""

from __future__ import annotations

from divrec_rl.errors import TrainingError

__all__ = ["DEVICES", "resolve_device"]

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
