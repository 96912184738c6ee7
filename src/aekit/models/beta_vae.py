"""beta-VAE (Higgins et al. 2017) and its capacity objective (Burgess et al. 2017).

    beta objective:      L = E_q[-log p(x|z)] + beta * KL(q(z|x) || p(z))

    capacity objective:  L = E_q[-log p(x|z)] + gamma * | KL(q(z|x) || p(z)) - C |,
                         C = C_max * min(1, step / capacity_steps)

Terms are summed over dimensions per example and averaged over the batch; in the
capacity objective the absolute value is taken of the batch-mean KL, as in the paper.
beta = 1 without capacity is exactly the VAE.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from aekit.errors import ConfigError
from aekit.models.base import Loss
from aekit.models.registry import register
from aekit.models.vae import VAE, VAEConfig
from aekit.schedules import linear_ramp


@dataclass
class BetaVAEConfig(VAEConfig):
    """Settings of beta-VAE; set ``capacity_max`` to use the capacity objective."""

    beta: float = 4.0  # KL weight (beta objective)
    capacity_max: float | None = None  # C_max in nats; None = plain beta objective
    capacity_steps: int = 10_000  # steps over which C rises linearly from 0 to C_max
    gamma: float = 1000.0  # weight of |KL - C| (capacity objective)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.capacity_max is not None and self.capacity_max < 0:
            raise ConfigError(f"capacity_max must be >= 0, got {self.capacity_max}")
        if self.capacity_steps < 0:
            raise ConfigError(f"capacity_steps must be >= 0, got {self.capacity_steps}")
        if self.gamma < 0:
            raise ConfigError(f"gamma must be >= 0, got {self.gamma}")


@register
class BetaVAE(VAE):
    """VAE with a weighted KL, or with the annealed-capacity objective."""

    name = "beta_vae"
    Config = BetaVAEConfig

    def capacity(self) -> float:
        """C at the current step (0 when the capacity objective is off)."""
        c = self.config
        if c.capacity_max is None:
            return 0.0
        return linear_ramp(self.step, c.capacity_steps, 0.0, c.capacity_max)

    def objective(self, recon: torch.Tensor, kl_dims: torch.Tensor) -> Loss:
        if self.config.capacity_max is None:
            return super().objective(recon, kl_dims)
        kl = kl_dims.sum(-1)
        cap = self.capacity()
        penalty = self.config.gamma * (kl.mean() - cap).abs()
        total = recon.mean() + penalty
        return Loss(
            total,
            {"recon": recon.mean(), "kl": kl.mean(),
             "capacity": torch.tensor(cap, device=kl.device)},
            per_example=recon + self.config.gamma * (kl - cap).abs(),
        )
