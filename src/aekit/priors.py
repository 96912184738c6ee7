"""Priors p(z) over the latent code.

Every prior exposes ``log_prob(z)`` (summed over latent dimensions), ``sample(n)`` and
``kl(q, z)``, the per-example ``KL(q(z|x) || p(z))``: in closed form where one exists
(the standard normal), otherwise the single-sample Monte-Carlo estimate
``log q(z|x) - log p(z)`` at the reparameterised sample ``z`` the model already drew.
"""

from __future__ import annotations

import torch
from torch import nn

from aekit.latents import DiagonalGaussian


class Prior(nn.Module):
    """Base class for p(z) on ``latent_dim`` dimensions."""

    closed_form_kl: bool = False

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """``log p(z)`` summed over the last dimension."""
        raise NotImplementedError

    def sample(self, n: int) -> torch.Tensor:
        """``n`` draws from p(z), shape ``(n, latent_dim)``."""
        raise NotImplementedError

    def kl(self, q: DiagonalGaussian, z: torch.Tensor) -> torch.Tensor:
        """Per-example ``KL(q || p)``, shape ``(B,)``; Monte-Carlo at ``z`` by default."""
        return q.log_prob(z) - self.log_prob(z)

    def _device(self) -> torch.device:
        buffers = list(self.buffers()) + list(self.parameters())
        return buffers[0].device if buffers else torch.device("cpu")


class StandardNormal(Prior):
    """p(z) = N(0, I); its KL to a diagonal Gaussian posterior has a closed form."""

    closed_form_kl = True

    def __init__(self, latent_dim: int) -> None:
        super().__init__(latent_dim)
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return -0.5 * (z.square() + 1.8378770664093453).sum(-1)

    def sample(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, device=self._anchor.device)

    def kl(self, q: DiagonalGaussian, z: torch.Tensor) -> torch.Tensor:
        return q.kl_standard_normal().sum(-1)
