"""Seeded work that leaves the caller's random state as it was."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from aekit.train.config import resolve_device

__all__ = ["private_rng"]


@contextmanager
def private_rng(seed: int | None = None, device: str | torch.device | None = None
                ) -> Iterator[None]:
    """Run a block with torch's global generators saved first and restored after.

    ``seed`` (when given) seeds them for the block. The CPU generator is always saved;
    with a CUDA ``device`` (or ``"auto"`` on a machine with one) the generators of every
    CUDA device are saved too, because ``torch.manual_seed`` reseeds all of them.
    """
    cuda = device is not None and torch.device(resolve_device(str(device))).type == "cuda"
    devices = list(range(torch.cuda.device_count())) if cuda else []
    with torch.random.fork_rng(devices=devices):
        if seed is not None:
            torch.manual_seed(seed)
        yield
