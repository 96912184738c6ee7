"""Importance-weighted autoencoder (Burda, Grosse & Salakhutdinov 2016).

For any model with a Gaussian posterior q(z|x), a prior p(z) and a likelihood p(x|z):

    L_k(x) = E_{z_1..z_k ~ q(z|x)} [ log (1/k) sum_i p(x, z_i) / q(z_i | x) ]

computed by :func:`aekit.objectives.importance_weighted_bound` as
``logsumexp_i(log p(x|z_i) + log p(z_i) - log q(z_i|x)) - log k``. L_1 is the ELBO,
L_k <= L_{k+1} <= log p(x) in expectation, and L_k -> log p(x) as k -> inf. The ``iwae``
model trains a VAE on -L_k (batch mean of per-example bounds).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from aekit.errors import ConfigError
from aekit.models.base import Batch, Loss, unpack
from aekit.models.registry import register
from aekit.models.vae import VAE, VAEConfig
from aekit.objectives import importance_weighted_bound


@dataclass
class IWAEConfig(VAEConfig):
    """Settings of the IWAE."""

    k: int = 5  # importance samples per example in the training bound

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.k < 1:
            raise ConfigError(f"k must be >= 1, got {self.k}")
        # -L_k has no separate KL term to weigh, warm up or floor: refused, not ignored.
        for name, off in (("beta", 1.0), ("kl_warmup_steps", 0), ("free_bits", 0.0)):
            if getattr(self, name) != off:
                raise ConfigError(f"iwae trains the importance-weighted bound, which has no "
                                  f"KL term: {name} must stay {off} (use vae or beta_vae "
                                  f"for {name})")


@register
class IWAE(VAE):
    """VAE trained on the k-sample importance-weighted bound -L_k."""

    name = "iwae"
    Config = IWAEConfig
    kl_weighted = False  # the bound has no separate KL term to weight

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """``-L_k`` per example, averaged over the batch (``bound`` term = -L_k)."""
        x, y = unpack(batch)
        bound = importance_weighted_bound(self, x, self.config.k, y if self.conditional
                                          else None)
        total = -bound.mean()
        return Loss(total, {"bound": total}, per_example=-bound)
