"""Schedules as pure functions of the global step (so resuming needs no extra state)."""

from __future__ import annotations

import math

from aekit.errors import ConfigError

LR_SCHEDULES = ("constant", "cosine", "linear")


def linear_ramp(step: int, steps: int, start: float = 0.0, end: float = 1.0) -> float:
    """``start`` at step 0, rising linearly to ``end`` at ``steps``; ``end`` when steps <= 0."""
    if steps <= 0:
        return end
    return start + (end - start) * min(1.0, step / steps)


def learning_rate(
    step: int, total_steps: int, base_lr: float, schedule: str = "constant", warmup_steps: int = 0
) -> float:
    """Learning rate at ``step``: linear warm-up, then constant, cosine or linear decay to 0."""
    if schedule not in LR_SCHEDULES:
        raise ConfigError(f"lr_schedule={schedule!r} is not one of {LR_SCHEDULES}")
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if schedule == "constant":
        return base_lr
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    if schedule == "cosine":
        return base_lr * 0.5 * (1.0 + math.cos(math.pi * progress))
    return base_lr * (1.0 - progress)
