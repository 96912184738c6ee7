"""Seeded work that leaves the caller's random state as it was."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from aekit.devices import resolve_device

__all__ = ["private_rng"]


@contextmanager
def private_rng(seed: int | None = None, device: str | torch.device | None = None
                ) -> Iterator[None]:
    """Run a block with torch's global generators saved first and restored after.

    ``seed`` (when given) seeds them for the block. The CPU generator is always saved;
    the generators of every CUDA device are saved too (``torch.manual_seed`` reseeds all
    of them) when the block runs on CUDA (``device``, or ``"auto"`` on a machine with a
    GPU) or CUDA is already in use. Otherwise CUDA is left uninitialised: a process that
    has not touched its GPU yet starts its CUDA stream from the block's seed afterwards.
    """
    on_cuda = device is not None and torch.device(resolve_device(str(device))).type == "cuda"
    cuda = torch.cuda.is_available() and (on_cuda or torch.cuda.is_initialized())
    devices = list(range(torch.cuda.device_count())) if cuda else []
    with torch.random.fork_rng(devices=devices):
        if seed is not None:
            torch.manual_seed(seed)
        yield
