"""Undercomplete autoencoder (Rumelhart et al. 1986; deep: Hinton & Salakhutdinov 2006).

    z = f(x),   L(x) = -log p(x | g(z))

summed over data dimensions per example and averaged over the batch. With a
Gaussian likelihood of unit scale this is 1/2 ||x - g(f(x))||^2 plus a constant; with
a Bernoulli likelihood it is the binary cross-entropy. Depth and width are config
(``hidden_dims``), so Hinton & Salakhutdinov's deep autoencoder is
``hidden_dims=(1000, 500, 250), latent_dim=30``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from aekit.models.base import Autoencoder, Batch, Loss, ModelConfig, unpack
from aekit.models.registry import register


@dataclass
class AEConfig(ModelConfig):
    """Settings of the deterministic autoencoder (all shared fields, nothing more)."""


@register
class AE(Autoencoder):
    """Deterministic undercomplete autoencoder trained on the reconstruction NLL."""

    name = "ae"
    Config = AEConfig

    def __init__(self, config: AEConfig) -> None:
        super().__init__(config)
        self.encoder = self._encoder(config.latent_dim)
        self.decoder = self._decoder()

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The code ``z = f(x)``, shape ``(B, latent_dim)``."""
        return self.encoder(x)

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z)

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """``recon`` = -log p(x | g(f(x))), summed over dimensions, mean over the batch."""
        x, _ = unpack(batch)
        recon = self.likelihood.nll(self.decoder(self.encoder(x)), x)  # (B,)
        total = recon.mean()
        return Loss(total, {"recon": total}, per_example=recon)
