"""Robust training: any model's loss with the highest-loss share of each batch left out.

    L_trim(batch) = the model's loss on the B - floor(f B) examples of the batch with the
                    smallest per-example objectives

(the "least trimmed squares" idea applied to autoencoders): examples the model cannot
explain, which in unlabelled data are mostly the anomalies, do not pull it toward them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from aekit.errors import ConfigError
from aekit.models.base import Autoencoder, Batch, Loss, unpack

__all__ = ["RobustLoss"]


class RobustLoss(nn.Module):
    """Wrap any aekit model so training ignores the highest-loss fraction of each batch.

    The wrapped objective is the model's own loss on the ``1 - fraction`` of the batch
    with the smallest per-example objectives (``Loss.per_example``): a trimmed loss (the
    "least trimmed squares" idea applied to autoencoders), so examples the model cannot
    explain, which in unlabelled data are mostly the anomalies, do not pull the model
    toward them. The
    wrapper follows the training protocol (``parameter_groups``, ``group_loss``,
    ``set_step``), so :class:`aekit.Trainer` trains it unchanged; in eval mode, or for a
    loss without ``per_example``, the model's own loss passes through.

    Parameters
    ----------
    model : Autoencoder
        The model to train.
    fraction : float
        Share of each batch left out, in [0, 1).
    """

    def __init__(self, model: Autoencoder, fraction: float) -> None:
        super().__init__()
        if not 0.0 <= fraction < 1.0:
            raise ConfigError(f"robust_fraction must be in [0, 1), got {fraction}")
        self.model = model
        self.fraction = fraction
        self.config = model.config
        self.name = model.name

    @property
    def device(self) -> torch.device:
        """Device of the wrapped model."""
        return self.model.device

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """The wrapped model's optimiser groups."""
        return self.model.parameter_groups()

    def set_step(self, step: int) -> None:
        """Pass the global step on to the wrapped model."""
        self.model.set_step(step)

    def _trim(self, loss_fn: Callable[[Batch], Loss], batch: Batch | torch.Tensor) -> Loss:
        """Rank the batch by per-example objective (no gradient), then the model's own
        loss on the kept examples: batch-level parts of the objective (the free-bits
        floor, the capacity target |KL - C|) stay what the model defines."""
        if not self.training or self.fraction == 0:
            return loss_fn(batch)
        x, y = unpack(batch)
        keep = len(x) - int(len(x) * self.fraction)
        if keep == len(x):
            return loss_fn(batch)
        with torch.no_grad():
            per = loss_fn(batch).per_example
        if per is None:
            return loss_fn(batch)
        rows = torch.topk(per, keep, largest=False, sorted=False).indices
        return loss_fn((x[rows], None if y is None else y[rows]))

    def group_loss(self, group: str, batch: Batch | torch.Tensor) -> Loss:
        """The wrapped model's loss for ``group`` on the kept examples."""
        return self._trim(lambda b: self.model.group_loss(group, b), batch)

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """The wrapped model's loss on the kept examples."""
        return self._trim(self.model.loss, batch)
