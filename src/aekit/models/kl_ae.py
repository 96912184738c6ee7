"""KL-regularised autoencoder with a spatial latent: the first stage of latent diffusion.

Rombach, Blattmann, Lorenz, Esser & Ommer, *High-resolution image synthesis with latent
diffusion models*, CVPR 2022 (the ``AutoencoderKL``), with the adversarial term and its
adaptive weight of Esser, Rombach & Ommer, *Taming transformers for high-resolution image
synthesis*, CVPR 2021. An image ``x`` of shape ``(C, H, W)`` is encoded to a Gaussian
posterior over a latent map ``z`` of shape ``(c, ceil(H/2^k), ceil(W/2^k))``, one mean and
variance per latent element, and the autoencoder minimises, per example::

    L_AE = -log p(x | D(z)) + beta * KL(q(z|x) || N(0, I)) + lambda * L_gen,   z ~ q(z|x)
    L_gen = -sum_patches Dis(x_hat),   x_hat = E[x | z]
    lambda = w_disc * ||grad_{W_L} (-log p(x|D(z)))|| / (||grad_{W_L} L_gen|| + 1e-4)

with ``W_L`` the weight of the decoder's last layer (lambda clamped to [0, 10^4] and
treated as a constant), while a patch discriminator minimises the hinge loss::

    L_disc = sum_patches [ relu(1 - Dis(x)) + relu(1 + Dis(x_hat)) ]

Both adversarial terms start at step ``disc_start`` (before it the objective is the
beta-VAE's and the discriminator's loss is multiplied by 0, as in the reference code).
``beta`` is small (1e-6 by default, the paper's ``kl_weight``): the KL only keeps the
latent's scale in check, so that a diffusion model can later be trained on it; the
perceptual (LPIPS) term of the paper needs pretrained weights and is left out. Every term
is summed over its dimensions per example and averaged over the batch.

``encode`` returns the posterior over the flattened latent ``(B, c*h*w)``, so every
VAE-family metric (ELBO, IWAE NLL, KL per dimension, active units) applies;
:meth:`KLAutoencoder.latents` gives the latent maps, scaled by :meth:`latent_scale` as
latent diffusion does before training its diffusion model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from aekit.errors import ConfigError
from aekit.models.base import Batch, Loss, unpack
from aekit.models.registry import register
from aekit.models.vae import VAE, VAEConfig
from aekit.nn.conv_maps import ConvMapDecoder, ConvMapEncoder, halved_sizes

__all__ = ["KLAEConfig", "KLAutoencoder", "PatchDiscriminator", "adaptive_weight",
           "hinge_discriminator_loss"]

MAX_ADAPTIVE_WEIGHT = 1e4


@dataclass
class KLAEConfig(VAEConfig):
    """Settings of the KL autoencoder; ``latent_dim`` follows from the latent map."""

    latent_dim: int | None = None  # c * h * w, set from the settings below (or checked)
    beta: float = 1e-6  # KL weight (the paper's kl_weight)
    latent_channels: int = 4  # channels c of the latent map
    downsample: int = 2  # stride-2 layers k: the map is ceil(H / 2^k) x ceil(W / 2^k)
    res_blocks: int = 1  # residual blocks at the latent resolution
    disc_weight: float = 0.5  # w_disc of the adaptive weight (0: no discriminator)
    disc_start: int = 0  # step from which the adversarial terms count
    disc_channels: int = 32  # width of the patch discriminator's first layer
    disc_layers: int = 2  # stride-2 layers of the patch discriminator

    def __post_init__(self) -> None:
        self.input_shape = tuple(int(s) for s in self.input_shape)
        if len(self.input_shape) != 3:
            raise ConfigError(f"kl_ae works on images (C, H, W); input_shape is "
                              f"{self.input_shape}")
        checks = [
            ("latent_channels", self.latent_channels >= 1, ">= 1"),
            ("downsample", self.downsample >= 0, ">= 0"),
            ("res_blocks", self.res_blocks >= 0, ">= 0"),
            ("disc_weight", self.disc_weight >= 0, ">= 0"),
            ("disc_start", self.disc_start >= 0, ">= 0"),
            ("disc_channels", self.disc_channels >= 1, ">= 1"),
            ("disc_layers", self.disc_layers >= 1, ">= 1"),
        ]
        for name, ok, rule in checks:
            if not ok:
                raise ConfigError(f"{name} must be {rule}, got {getattr(self, name)!r}")
        side = min(self.input_shape[1:])
        if side < 2**self.disc_layers and self.disc_weight > 0:
            fix = (f"use disc_layers <= {int(math.log2(side))}" if side >= 2 else
                   "images this thin need disc_weight=0 (no discriminator)")
            raise ConfigError(
                f"disc_layers={self.disc_layers} halves the image {self.disc_layers} times, "
                f"more than {tuple(self.input_shape[1:])} allows; {fix}")
        h, w = self.grid()
        size = self.latent_channels * h * w
        if self.latent_dim is not None and int(self.latent_dim) != size:
            raise ConfigError(
                f"kl_ae's latent is a {self.latent_channels} x {h} x {w} map ({size} values), "
                f"not latent_dim={self.latent_dim}: set latent_channels and downsample "
                "instead of latent_dim")
        if self.arch not in ("auto", "conv"):
            raise ConfigError(f"kl_ae's networks are convolutional; arch={self.arch!r} is not "
                              "available (use 'auto' or 'conv')")
        self.latent_dim, self.arch = size, "conv"
        super().__post_init__()

    def grid(self) -> tuple[int, int]:
        """Height and width of the latent map."""
        return halved_sizes(self.input_shape[1], self.input_shape[2], self.downsample)[-1]


class _PosteriorMap(nn.Module):
    """Images -> ``(B, 2 * c*h*w)``: the flattened means, then the flattened log-variances
    (the layout :meth:`DiagonalGaussian.from_params` splits)."""

    def __init__(self, config: KLAEConfig) -> None:
        super().__init__()
        c = config
        self.net = ConvMapEncoder(c.input_shape[0], 2 * c.latent_channels, c.base_channels,
                                  c.downsample, c.res_blocks, c.activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu, logvar = self.net(x).chunk(2, dim=1)
        return torch.cat([mu.flatten(1), logvar.flatten(1)], 1)


class _MapDecoder(nn.Module):
    """``(B, c*h*w)`` (or ``(B, c, h, w)``) latents -> images."""

    def __init__(self, config: KLAEConfig) -> None:
        super().__init__()
        c = config
        self.shape = (c.latent_channels, *c.grid())
        sizes = halved_sizes(c.input_shape[1], c.input_shape[2], c.downsample)
        self.net = ConvMapDecoder(c.latent_channels, c.input_shape[0], sizes, c.base_channels,
                                  c.res_blocks, c.activation)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.reshape(len(z), *self.shape))

    @property
    def last(self) -> nn.Parameter:
        """The weight of the last layer (where the adaptive weight compares gradients)."""
        return self.net.net[-1].weight


class PatchDiscriminator(nn.Sequential):
    """Images -> a map of real/fake logits, one per receptive-field patch (Isola et al.
    2017): ``disc_layers`` stride-2 4x4 convolutions with leaky ReLUs, then a 3x3 to one
    channel."""

    def __init__(self, config: KLAEConfig) -> None:
        c = config
        widths = [c.input_shape[0]] + [c.disc_channels * min(2**i, 8)
                                       for i in range(c.disc_layers)]
        layers: list[nn.Module] = []
        for ch_in, ch_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(ch_in, ch_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        layers.append(nn.Conv2d(widths[-1], 1, 3, padding=1))
        super().__init__(*layers)


def hinge_discriminator_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Per-example ``sum_patches relu(1 - real) + relu(1 + fake)``, shape ``(B,)``."""
    return (F.relu(1.0 - real).flatten(1).sum(1) + F.relu(1.0 + fake).flatten(1).sum(1))


def adaptive_weight(rec: torch.Tensor, gen: torch.Tensor, last: nn.Parameter,
                    disc_weight: float) -> torch.Tensor:
    """``disc_weight * ||d rec / d last|| / (||d gen / d last|| + 1e-4)``, clamped to
    [0, 10^4] and detached (Esser et al. 2021)."""
    g_rec = torch.autograd.grad(rec, last, retain_graph=True)[0]
    g_gen = torch.autograd.grad(gen, last, retain_graph=True)[0]
    ratio = g_rec.norm() / (g_gen.norm() + 1e-4)
    return (ratio.clamp(0.0, MAX_ADAPTIVE_WEIGHT) * disc_weight).detach()


@register
class KLAutoencoder(VAE):
    """Latent-diffusion style autoencoder: spatial Gaussian latent, small KL, patch GAN."""

    name = "kl_ae"
    Config = KLAEConfig

    def __init__(self, config: KLAEConfig) -> None:
        super().__init__(config)
        self.discriminator = PatchDiscriminator(config) if config.disc_weight > 0 else None

    def _encoder(self, out_dim: int, in_shape: tuple[int, ...] | None = None) -> nn.Module:
        return _PosteriorMap(self.config)

    def _decoder(self, in_dim: int | None = None) -> nn.Module:
        return _MapDecoder(self.config)

    # -- latents for a diffusion model ---------------------------------------------
    @torch.no_grad()
    def latents(self, x: torch.Tensor, sample: bool = False, scale: float = 1.0,
                batch_size: int = 1024) -> torch.Tensor:
        """Latent maps ``(B, c, h, w)`` of ``x``: posterior means (or samples), times
        ``scale`` (pass :meth:`latent_scale`'s value to standardise them); encoded
        ``batch_size`` images at a time, without autograd (they are data for the next
        model; use ``encode`` for a differentiable posterior)."""
        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size!r}")
        shape = (self.config.latent_channels, *self.config.grid())
        out = [self.encode(x[i:i + batch_size]) for i in range(0, len(x), int(batch_size))]
        if not out:
            return x.new_zeros((0, *shape))
        z = torch.cat([q.rsample() if sample else q.mean for q in out])
        return scale * z.reshape(len(x), *shape)

    @torch.no_grad()
    def latent_scale(self, x: torch.Tensor, batch_size: int = 1024) -> float:
        """``1 / std`` of posterior samples of ``x``: the factor latent diffusion applies
        so that its diffusion model sees latents of unit variance."""
        z = self.latents(x, sample=True, batch_size=batch_size)
        return float(1.0 / z.std().clamp_min(1e-12))

    # -- training ------------------------------------------------------------------
    def _adversarial(self) -> bool:
        return self.discriminator is not None and self.step >= self.config.disc_start

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """``autoencoder`` (encoder, decoder, likelihood scale, learned prior) and, with
        ``disc_weight > 0``, ``discriminator``."""
        if self.discriminator is None:
            return super().parameter_groups()
        ae = [p for n, p in self.named_parameters() if not n.startswith("discriminator.")]
        return {"autoencoder": ae, "discriminator": list(self.discriminator.parameters())}

    def group_loss(self, group: str, batch: Batch | torch.Tensor) -> Loss:
        """The loss of ``group``'s optimiser (see the module docstring)."""
        if self.discriminator is None or group == "autoencoder":
            return self._autoencoder_loss(batch)
        if group == "discriminator":
            x, _ = unpack(batch)
            with torch.no_grad():
                x_hat = self.reconstruct_sample(x)
            d = hinge_discriminator_loss(self.discriminator(x), self.discriminator(x_hat))
            factor = 1.0 if self._adversarial() else 0.0
            return Loss(factor * d.mean(), {"disc": d.mean()}, per_example=factor * d)
        raise ConfigError(f"kl_ae has no parameter group {group!r}; its groups are "
                          f"{list(self.parameter_groups())}")

    def reconstruct_sample(self, x: torch.Tensor) -> torch.Tensor:
        """E[x | z] for one posterior sample z ~ q(z | x)."""
        return self.likelihood.mean(self.decode_logits(self.encode(x).rsample()))

    def _autoencoder_loss(self, batch: Batch | torch.Tensor) -> Loss:
        x, _ = unpack(batch)
        q = self.encode(x)
        z = q.rsample()
        logits = self.decode_logits(z)
        recon = self.likelihood.nll(logits, x)
        base = self.objective(recon, self.kl_dims(q, z))
        if self.discriminator is None or not (self.training and torch.is_grad_enabled()):
            return base
        if not self._adversarial():  # the same terms every step (zeros before the start)
            zero = recon.new_zeros(())
            return Loss(base.total, {**base.terms, "gen": zero, "adaptive_weight": zero},
                        per_example=base.per_example)
        gen = -self.discriminator(self.likelihood.mean(logits)).flatten(1).sum(1)  # (B,)
        lam = adaptive_weight(recon.mean(), gen.mean(), self.decoder.last,
                              self.config.disc_weight)
        terms: dict[str, Any] = {**base.terms, "gen": gen.mean(), "adaptive_weight": lam}
        # base.total keeps the beta-VAE objective as it is (free bits included)
        return Loss(base.total + lam * gen.mean(), terms,
                    per_example=base.per_example + lam * gen)
