"""Wasserstein autoencoder (Tolstikhin, Bousquet, Gelly & Schoelkopf, ICLR 2018).

A deterministic encoder z = f(x) and decoder g, trained so that the aggregate posterior
q(z) matches the prior p(z) = N(0, I) as a whole (not example by example, as the VAE's
KL does):

    WAE-MMD:  L = E_x[-log p(x | g(f(x)))] + lambda * MMD^2_u({f(x_i)}, {z_i}),  z_i ~ p(z)

    WAE-GAN:  autoencoder:   min_{f, g}  E_x[-log p(x | g(f(x)))] - lambda * E_x log D(f(x))
              discriminator: min_D       -lambda * ( log D(z) + log(1 - D(f(x))) )

The reconstruction cost is the likelihood's NLL summed over data dimensions per example
(Tolstikhin et al. use a squared error, which is the Gaussian NLL up to scale and a
constant), averaged over the batch. MMD^2_u is the unbiased U-statistic over the batch
and as many prior samples (:mod:`aekit.objectives`), with the inverse multiquadratic
kernel summed over ``kernel_scales`` (default, as in the paper's code) or the RBF kernel;
it is a batch-level quantity, added to every example's objective. The GAN penalty uses a
latent discriminator and two optimiser groups through the trainer's parameter-group rule;
the generator term is the non-saturating ``-log D(f(x))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from aekit.errors import ConfigError
from aekit.models.aae import LatentDiscriminator, discriminator_loss, generator_loss
from aekit.models.base import Autoencoder, Batch, Loss, ModelConfig, unpack
from aekit.models.registry import register
from aekit.objectives import KERNELS, WAE_SCALES, mmd2_unbiased
from aekit.priors import StandardNormal

PENALTIES = ("mmd", "gan")


@dataclass
class WAEConfig(ModelConfig):
    """Settings of the Wasserstein autoencoder."""

    penalty: str = "mmd"  # divergence between q(z) and p(z): mmd | gan
    lam: float = 10.0  # weight lambda of the penalty
    kernel: str = "imq"  # MMD kernel: imq (inverse multiquadratic) | rbf
    kernel_scales: tuple[float, ...] = WAE_SCALES  # multiples of c = 2 * latent_dim, summed
    disc_hidden_dims: tuple[int, ...] = (128, 128)  # latent discriminator widths (gan)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.kernel_scales = tuple(float(s) for s in self.kernel_scales)
        self.disc_hidden_dims = tuple(int(h) for h in self.disc_hidden_dims)
        if self.penalty not in PENALTIES:
            raise ConfigError(f"penalty={self.penalty!r} is not one of {PENALTIES}")
        if self.lam < 0:
            raise ConfigError(f"lam must be >= 0, got {self.lam}")
        if self.kernel not in KERNELS:
            raise ConfigError(f"kernel={self.kernel!r} is not one of {KERNELS}")
        if not self.kernel_scales or any(s <= 0 for s in self.kernel_scales):
            raise ConfigError(f"kernel_scales must be positive numbers, got "
                              f"{self.kernel_scales}")
        if any(h < 1 for h in self.disc_hidden_dims):
            raise ConfigError(f"disc_hidden_dims must be positive, got {self.disc_hidden_dims}")


@register
class WAE(Autoencoder):
    """Wasserstein autoencoder with an MMD or a GAN penalty on the codes.

    ``loss(batch)`` is the autoencoder's objective (reconstruction + lambda * penalty);
    with ``penalty="gan"`` the discriminator has its own group and loss.
    """

    name = "wae"
    Config = WAEConfig
    generative = True

    def __init__(self, config: WAEConfig) -> None:
        super().__init__(config)
        self.encoder = self._encoder(config.latent_dim)
        self.decoder = self._decoder()
        self.prior = StandardNormal(config.latent_dim)
        if config.penalty == "gan":
            self.discriminator = LatentDiscriminator(config.latent_dim,
                                                     config.disc_hidden_dims, config.activation)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The code ``z = f(x)``, shape ``(B, latent_dim)``."""
        return self.encoder(x)

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z)

    def mmd(self, z: torch.Tensor) -> torch.Tensor:
        """Unbiased MMD^2 between codes ``z (B, K)`` and as many prior samples."""
        c = self.config
        z_prior = self.prior.sample(z.shape[0]).to(z.dtype)
        return mmd2_unbiased(z, z_prior, c.kernel, c.kernel_scales)

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """``recon + lam * penalty``; terms ``recon`` and ``mmd`` or ``gen``."""
        x, _ = unpack(batch)
        z = self.encoder(x)
        recon = self.likelihood.nll(self.decoder(z), x)
        if self.config.penalty == "mmd":
            penalty = self.mmd(z).expand_as(recon)
            name = "mmd"
        else:
            penalty = generator_loss(self.discriminator(z))
            name = "gen"
        per_example = recon + self.config.lam * penalty
        return Loss(per_example.mean(), {"recon": recon.mean(), name: penalty.mean()},
                    per_example=per_example)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """One group for the MMD penalty; ``autoencoder`` and ``discriminator`` for GAN."""
        if self.config.penalty == "mmd":
            return super().parameter_groups()
        return {
            "autoencoder": [*self.encoder.parameters(), *self.decoder.parameters(),
                            *self.likelihood.parameters()],
            "discriminator": list(self.discriminator.parameters()),
        }

    def group_loss(self, group: str, batch: Batch | torch.Tensor) -> Loss:
        """The loss of ``group``'s optimiser (see the module docstring)."""
        if group in ("model", "autoencoder"):
            return self.loss(batch)
        if group != "discriminator" or self.config.penalty != "gan":
            raise ConfigError(f"wae (penalty={self.config.penalty!r}) has no parameter group "
                              f"{group!r}; its groups are {list(self.parameter_groups())}")
        x, _ = unpack(batch)
        z = self.encoder(x).detach()
        z_prior = self.prior.sample(x.shape[0]).to(z.dtype)
        d = self.config.lam * discriminator_loss(self.discriminator(z_prior),
                                                 self.discriminator(z))
        return Loss(d.mean(), {"disc": d.mean()}, per_example=d)

    def sample(self, n: int, y: torch.Tensor | None = None) -> torch.Tensor:
        """E[x | z] for ``n`` codes z ~ N(0, I)."""
        return self.likelihood.mean(self.decoder(self.prior.sample(n)))
