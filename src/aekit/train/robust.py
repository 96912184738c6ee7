"""Robust training: any model's loss with the highest-loss share of each batch left out.

    L_trim(batch) = mean of the ceil((1 - f) B) smallest per-example objectives

(the "least trimmed squares" idea applied to autoencoders): examples the model cannot
explain, which in unlabelled data are mostly the anomalies, do not pull it toward them.
"""

from __future__ import annotations

import torch
from torch import nn

from aekit.errors import ConfigError
from aekit.models.base import Autoencoder, Batch, Loss

__all__ = ["RobustLoss"]


class RobustLoss(nn.Module):
    """Wrap any aekit model so training ignores the highest-loss fraction of each batch.

    The wrapped objective is the mean of the ``1 - fraction`` smallest per-example
    objectives (``Loss.per_example``) of the batch: a trimmed loss (the "least trimmed
    squares" idea applied to autoencoders), so examples the model cannot explain, which
    in unlabelled data are mostly the anomalies, do not pull the model toward them. The
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

    def _trim(self, loss: Loss) -> Loss:
        per = loss.per_example
        if not self.training or self.fraction == 0 or per is None or per.numel() < 2:
            return loss
        keep = max(1, per.numel() - int(per.numel() * self.fraction))
        total = torch.topk(per, keep, largest=False, sorted=False).values.mean()
        return Loss(total, loss.terms, per)

    def group_loss(self, group: str, batch: Batch | torch.Tensor) -> Loss:
        """The wrapped model's loss for ``group``, trimmed."""
        return self._trim(self.model.group_loss(group, batch))

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """The wrapped model's loss, trimmed."""
        return self._trim(self.model.loss(batch))
