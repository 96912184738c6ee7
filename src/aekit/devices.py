"""The one place a torch device is chosen: ``auto`` resolved, a named device checked."""

from __future__ import annotations

import torch

from aekit.errors import ConfigError

__all__ = ["resolve_device"]


def resolve_device(device: str) -> str:
    """``auto`` -> cuda if available, else mps if available, else cpu; any other name
    must be a torch device this machine has.

    Raises
    ------
    ConfigError
        Naming ``device`` when the string is not a torch device or that device is not
        available (e.g. ``cuda`` on a machine without a GPU).
    """
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device={device!r} is not a torch device; use 'auto', 'cpu', "
                          "'cuda', 'cuda:N' or 'mps'") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={device!r}, but torch sees no CUDA GPU here; use "
                          "--device cpu or auto")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ConfigError(f"device={device!r}, but torch sees {torch.cuda.device_count()} "
                          "CUDA device(s)")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None)
                                  and torch.backends.mps.is_available()):
        raise ConfigError(f"device={device!r}, but MPS is not available here")
    return device
