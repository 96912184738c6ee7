"""Sparse autoencoder with a KL (or L1) sparsity penalty on sigmoid code units (Ng 2011).

    h = sigmoid(f(x)) in (0, 1)^K,   rho_hat_j = (1/B) sum_b h_bj   (batch-mean activation)

    KL penalty:  L = (1/B) sum_b -log p(x_b | g(h_b)) + beta * sum_j KL(rho || rho_hat_j),
                 KL(rho || q) = rho log(rho / q) + (1 - rho) log((1 - rho) / (1 - q))

    L1 penalty:  L = (1/B) sum_b [ -log p(x_b | g(h_b)) + beta * sum_j |h_bj| ]

with beta = ``sparsity_weight`` and rho the target mean activation; the reconstruction
term is summed over data dimensions per example and averaged over the batch. The KL
penalty pushes every unit's average activation towards rho (Ng, *Sparse autoencoder*,
CS294A lecture notes, 2011; Lee, Ekanadham & Ng 2008); the L1 penalty shrinks every
activation. The KL term is a property of the batch, not of one example: the
``per_example`` objective adds the same batch penalty to every example, so its mean is
the total.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from aekit.errors import ConfigError
from aekit.models.ae import AE, AEConfig
from aekit.models.base import Batch, Loss, unpack
from aekit.models.registry import register

PENALTIES = ("kl", "l1")
RHO_HAT_EPS = 1e-6  # rho_hat is clamped to [eps, 1 - eps] so the KL stays finite


def kl_sparsity(h: torch.Tensor, rho: float) -> torch.Tensor:
    """``sum_j KL(rho || rho_hat_j)`` for activations ``h`` of shape ``(B, K)`` in (0, 1).

    ``rho_hat_j`` is the mean of unit ``j`` over the batch; the result is a scalar.
    """
    rho_hat = h.mean(0).clamp(RHO_HAT_EPS, 1 - RHO_HAT_EPS)
    kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
    return kl.sum()


@dataclass
class SparseAEConfig(AEConfig):
    """Settings of the sparse autoencoder (the code units are sigmoids)."""

    penalty: str = "kl"  # kl (mean activation -> rho) | l1 (sum of |activations|)
    rho: float = 0.05  # target mean activation of each code unit (KL penalty)
    sparsity_weight: float = 1.0  # beta, the weight of the sparsity penalty

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.penalty not in PENALTIES:
            raise ConfigError(f"penalty={self.penalty!r} is not one of {PENALTIES}")
        if not 0.0 < self.rho < 1.0:
            raise ConfigError(f"rho must be in (0, 1), got {self.rho}")
        if self.sparsity_weight < 0:
            raise ConfigError(f"sparsity_weight must be >= 0, got {self.sparsity_weight}")


@register
class SparseAE(AE):
    """Autoencoder with sigmoid code units and a KL or L1 sparsity penalty on them."""

    name = "sparse_ae"
    Config = SparseAEConfig

    def __init__(self, config: SparseAEConfig) -> None:
        super().__init__(config)
        self.encoder = nn.Sequential(self.encoder, nn.Sigmoid())

    def penalty(self, h: torch.Tensor) -> torch.Tensor:
        """The unweighted sparsity penalty of codes ``h`` ``(B, K)``.

        KL: a scalar, ``sum_j KL(rho || rho_hat_j)``. L1: per example, ``sum_j |h_j|``,
        shape ``(B,)``.
        """
        if self.config.penalty == "kl":
            return kl_sparsity(h, self.config.rho)
        return h.abs().sum(1)

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """``recon + sparsity_weight * penalty``; terms ``recon``, ``sparsity`` (unweighted)
        and ``mean_activation`` (the mean of h over batch and units)."""
        x, _ = unpack(batch)
        h = self.encoder(x)
        recon = self.likelihood.nll(self.decoder(h), x)  # (B,)
        pen = self.penalty(h)  # scalar (kl) or (B,) (l1)
        per_example = recon + self.config.sparsity_weight * pen
        total = per_example.mean()
        return Loss(total, {"recon": recon.mean(), "sparsity": pen.mean(),
                            "mean_activation": h.detach().mean()}, per_example=per_example)
