"""Training settings."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from aekit.devices import resolve_device
from aekit.errors import ConfigError
from aekit.schedules import LR_SCHEDULES

# resolve_device: re-exported from aekit.devices
__all__ = ["OPTIMIZERS", "PRECISIONS", "TrainConfig", "autocast_dtype", "resolve_device"]

OPTIMIZERS = ("adam", "adamw")
PRECISIONS = ("fp32", "bf16", "fp16")
# Environment variable: when set to N >= 1, every TrainConfig trains at most N epochs
# (the doc-block test runs each documented command with AEKIT_EPOCHS_CAP=1).
EPOCHS_CAP_ENV = "AEKIT_EPOCHS_CAP"


def epochs_cap() -> int | None:
    """The epoch cap from ``AEKIT_EPOCHS_CAP``, or None when it is unset or empty."""
    raw = os.environ.get(EPOCHS_CAP_ENV, "").strip()
    if not raw:
        return None
    try:
        cap = int(raw)
    except ValueError:
        cap = 0
    if cap < 1:
        raise ConfigError(f"environment variable {EPOCHS_CAP_ENV}={raw!r} must be an "
                          "integer >= 1 (or unset)")
    return cap


@dataclass
class TrainConfig:
    """How to train; every field is validated on construction."""

    epochs: int = 30  # passes over the training data
    batch_size: int = 64  # examples per step
    lr: float = 1e-3  # peak learning rate
    optimizer: str = "adam"  # adam | adamw
    weight_decay: float = 0.0  # decoupled for adamw, L2 for adam
    lr_schedule: str = "constant"  # constant | cosine | linear (decay to 0 at the end)
    warmup_steps: int = 0  # linear learning-rate warm-up
    grad_clip: float | None = None  # max global gradient norm per group; None = off
    val_fraction: float = 0.1  # held out for validation when no val data is given (0 = none)
    early_stopping_patience: int | None = None  # epochs without val improvement before stopping
    restore_best: bool = True  # with early stopping: end with the best-val weights
    checkpoint_every: int = 1  # epochs between checkpoints (0 = never)
    seed: int = 0  # shuffling, the validation split and the model's sampling noise
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    progress: bool = True  # show a progress bar
    compile: bool = False  # torch.compile the loss (on CUDA with CUDA graphs)
    precision: str = "fp32"  # fp32 | bf16 | fp16 (autocast; fp16 adds a gradient scaler)
    workers: int = 0  # DataLoader processes prefetching streamed batches (0 = in this one)

    def __post_init__(self) -> None:
        checks = [
            ("epochs", self.epochs >= 1, ">= 1"),
            ("batch_size", self.batch_size >= 1, ">= 1"),
            ("lr", self.lr > 0, "> 0"),
            ("weight_decay", self.weight_decay >= 0, ">= 0"),
            ("warmup_steps", self.warmup_steps >= 0, ">= 0"),
            ("val_fraction", 0 <= self.val_fraction < 1, "in [0, 1)"),
            ("checkpoint_every", self.checkpoint_every >= 0, ">= 0"),
            ("workers", self.workers >= 0, ">= 0"),
            ("grad_clip", self.grad_clip is None or self.grad_clip > 0, "> 0 or None"),
            ("early_stopping_patience",
             self.early_stopping_patience is None or self.early_stopping_patience >= 1,
             ">= 1 or None"),
        ]
        for name, ok, rule in checks:
            if not ok:
                raise ConfigError(f"{name} must be {rule}, got {getattr(self, name)!r}")
        cap = epochs_cap()
        if cap is not None:
            self.epochs = min(self.epochs, cap)
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer={self.optimizer!r} is not one of {OPTIMIZERS}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"lr_schedule={self.lr_schedule!r} is not one of {LR_SCHEDULES}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision={self.precision!r} is not one of {PRECISIONS}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        return asdict(self)


def autocast_dtype(precision: str, device: str):
    """The autocast dtype of ``precision`` on ``device`` (None for fp32), or a ConfigError
    where the device cannot compute in it: bf16 runs on the CPU, on CUDA GPUs that support
    it (compute capability 8.0+) and on MPS; fp16 needs a CUDA GPU or MPS (on the CPU
    most kernels have no fp16 version)."""
    import torch

    if precision == "fp32":
        return None
    kind = torch.device(device).type
    if precision == "bf16":
        ok = kind in ("cpu", "mps") or (kind == "cuda" and torch.cuda.is_bf16_supported())
        dtype = torch.bfloat16
    else:
        ok, dtype = kind in ("cuda", "mps"), torch.float16
    if not ok:
        raise ConfigError(f"precision={precision!r} is not supported on device {device!r}; "
                          f"use precision='fp32'" + (" or 'bf16'" if kind == "cpu" else ""))
    return dtype
