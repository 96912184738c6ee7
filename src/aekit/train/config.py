"""Training settings."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from aekit.errors import ConfigError
from aekit.schedules import LR_SCHEDULES

OPTIMIZERS = ("adam", "adamw")
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

    def __post_init__(self) -> None:
        checks = [
            ("epochs", self.epochs >= 1, ">= 1"),
            ("batch_size", self.batch_size >= 1, ">= 1"),
            ("lr", self.lr > 0, "> 0"),
            ("weight_decay", self.weight_decay >= 0, ">= 0"),
            ("warmup_steps", self.warmup_steps >= 0, ">= 0"),
            ("val_fraction", 0 <= self.val_fraction < 1, "in [0, 1)"),
            ("checkpoint_every", self.checkpoint_every >= 0, ">= 0"),
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        return asdict(self)


def resolve_device(device: str) -> str:
    """``auto`` -> cuda if available, else mps if available, else cpu; any other name
    must be a torch device this machine has.

    Raises
    ------
    ConfigError
        Naming ``device`` when the string is not a torch device or that device is not
        available (e.g. ``cuda`` on a machine without a GPU).
    """
    import torch

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
