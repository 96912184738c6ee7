"""Adversarial autoencoder (Makhzani et al. 2016).

A deterministic autoencoder whose aggregate posterior q(z) = E_x[delta(z - f(x))] is
shaped toward the prior p(z) = N(0, I) by a discriminator D on the code:

    autoencoder:    min_{f, g}  -log p(x | g(f(x)))
    discriminator:  min_D       -log D(z_p) - log(1 - D(f(x))),      z_p ~ p(z)
    generator:      min_f       -adv_weight * log D(f(x))             (non-saturating)

Makhzani, Shlens, Jaitly, Goodfellow & Frey, *Adversarial Autoencoders*, ICLR 2016
workshop. Each line is one optimiser group, stepped in this order every batch through
the trainer's parameter-group rule (the encoder is in both the "autoencoder" and the
"generator" groups, as in the paper's reconstruction and regularisation phases). Terms
are summed over data dimensions per example and averaged over the batch; D outputs a
logit and the log-terms are computed stably with softplus.

This module also holds the latent discriminator and the two GAN losses that the WAE's
GAN penalty and VAE-GAN share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from aekit.errors import ConfigError
from aekit.models.base import Autoencoder, Batch, Loss, ModelConfig, unpack
from aekit.models.registry import register
from aekit.nn import MLP
from aekit.priors import StandardNormal


def discriminator_loss(real_logits: torch.Tensor, *fake_logits: torch.Tensor) -> torch.Tensor:
    """Per-example ``-log D(real) - sum_f log(1 - D(fake_f))`` from logits, shape ``(B,)``."""
    loss = F.softplus(-real_logits).reshape(real_logits.shape[0], -1).sum(1)
    for fake in fake_logits:
        loss = loss + F.softplus(fake).reshape(fake.shape[0], -1).sum(1)
    return loss


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Per-example non-saturating ``-log D(fake)`` from logits, shape ``(B,)``."""
    return F.softplus(-fake_logits).reshape(fake_logits.shape[0], -1).sum(1)


class LatentDiscriminator(MLP):
    """``(B, latent_dim) -> (B,)`` logits that a code came from the prior."""

    def __init__(self, latent_dim: int, hidden_dims: Sequence[int], act: str = "relu") -> None:
        super().__init__(latent_dim, hidden_dims, 1, act=act)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """The logit of ``z`` being a prior sample."""
        return super().forward(z).squeeze(-1)


@dataclass
class AAEConfig(ModelConfig):
    """Settings of the adversarial autoencoder."""

    disc_hidden_dims: tuple[int, ...] = (128, 128)  # widths of the code discriminator
    adv_weight: float = 1.0  # weight of the generator (fool-the-discriminator) loss

    def __post_init__(self) -> None:
        super().__post_init__()
        self.disc_hidden_dims = tuple(int(h) for h in self.disc_hidden_dims)
        if any(h < 1 for h in self.disc_hidden_dims):
            raise ConfigError(f"disc_hidden_dims must be positive, got {self.disc_hidden_dims}")
        if self.adv_weight < 0:
            raise ConfigError(f"adv_weight must be >= 0, got {self.adv_weight}")


@register
class AAE(Autoencoder):
    """Adversarial autoencoder with a N(0, I) prior; three optimiser groups.

    ``loss(batch)`` is the reconstruction objective (the "autoencoder" group);
    ``group_loss`` gives each group's loss.
    """

    name = "aae"
    Config = AAEConfig
    generative = True

    def __init__(self, config: AAEConfig) -> None:
        super().__init__(config)
        self.encoder = self._encoder(config.latent_dim)
        self.decoder = self._decoder()
        self.discriminator = LatentDiscriminator(config.latent_dim, config.disc_hidden_dims,
                                                 config.activation)
        self.prior = StandardNormal(config.latent_dim)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The code ``z = f(x)``, shape ``(B, latent_dim)``."""
        return self.encoder(x)

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z)

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """``recon`` = -log p(x | g(f(x))), summed over dimensions, mean over the batch."""
        x, _ = unpack(batch)
        recon = self.likelihood.nll(self.decoder(self.encoder(x)), x)
        return Loss(recon.mean(), {"recon": recon.mean()}, per_example=recon)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """``autoencoder`` (f, g, likelihood), ``discriminator`` (D), ``generator`` (f)."""
        return {
            "autoencoder": [*self.encoder.parameters(), *self.decoder.parameters(),
                            *self.likelihood.parameters()],
            "discriminator": list(self.discriminator.parameters()),
            "generator": list(self.encoder.parameters()),
        }

    def group_loss(self, group: str, batch: Batch | torch.Tensor) -> Loss:
        """The loss of ``group``'s optimiser (see the module docstring)."""
        if group == "autoencoder":
            return self.loss(batch)
        x, _ = unpack(batch)
        z = self.encoder(x)
        if group == "discriminator":
            z_prior = self.prior.sample(x.shape[0]).to(z.dtype)
            d = discriminator_loss(self.discriminator(z_prior), self.discriminator(z.detach()))
            return Loss(d.mean(), {"disc": d.mean()}, per_example=d)
        if group == "generator":
            g = self.config.adv_weight * generator_loss(self.discriminator(z))
            return Loss(g.mean(), {"gen": g.mean()}, per_example=g)
        raise ConfigError(f"aae has no parameter group {group!r}; its groups are "
                          f"{list(self.parameter_groups())}")

    def sample(self, n: int, y: torch.Tensor | None = None) -> torch.Tensor:
        """E[x | z] for ``n`` codes z ~ N(0, I)."""
        return self.likelihood.mean(self.decoder(self.prior.sample(n)))
