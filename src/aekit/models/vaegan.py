"""VAE-GAN: a VAE whose reconstruction error is measured in a discriminator's features.

Larsen, Sonderby, Larochelle & Winther, *Autoencoding beyond pixels using a learned
similarity metric*, ICML 2016. With x~ = E[x | z], z ~ q(z|x), x_p = E[x | z_p],
z_p ~ p(z), and Dis_l the discriminator's hidden layer of size F:

    L_prior = KL(q(z|x) || p(z))
    L_llike = -log N(Dis_l(x); Dis_l(x~), I) = 1/2 ||Dis_l(x) - Dis_l(x~)||^2 + F/2 log 2 pi
    L_GAN   = log D(x) + log(1 - D(x~)) + log(1 - D(x_p))

Three optimiser groups, stepped in this order through the trainer's parameter-group rule:

    encoder:        min  beta * L_prior + L_llike
    decoder:        min  gamma * L_llike - log D(x~) - log D(x_p)   (non-saturating -L_GAN)
    discriminator:  min  -L_GAN

Every term is summed over its dimensions per example and averaged over the batch. The
KL weight follows the VAE family's settings (``beta``, ``kl_warmup_steps``,
``free_bits``); the paper's objective is ``beta = 1``, the default here is 0.1 (see
docs/models/vaegan.md for the measurement behind it). ``loss(batch)`` is the encoder's
objective, the VAE-GAN analogue of the negative ELBO; the discriminator's target
features Dis_l(x) carry no gradient (the discriminator learns only from L_GAN, as in
the paper).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from aekit.errors import ConfigError
from aekit.latents import DiagonalGaussian
from aekit.likelihoods import LOG_2PI
from aekit.models.aae import discriminator_loss, generator_loss
from aekit.models.base import Batch, Loss, unpack
from aekit.models.registry import register
from aekit.models.vae import VAE, VAEConfig
from aekit.nn import MLP, ConvEncoder, activation, resolve_arch
from aekit.nn.seq import SeqConvEncoder


@dataclass
class VAEGANConfig(VAEConfig):
    """Settings of VAE-GAN (the VAE family's, plus the discriminator's)."""

    beta: float = 0.1  # KL weight (see the docs: 1 gave blurry, low-information codes)
    gamma: float = 1.0  # weight of the feature reconstruction in the decoder's loss
    disc_hidden_dims: tuple[int, ...] = (128,)  # MLP discriminator widths; Dis_l is the last
    disc_dense: int = 64  # width of the dense layer between Dis_l and the logit

    def __post_init__(self) -> None:
        super().__post_init__()
        self.disc_hidden_dims = tuple(int(h) for h in self.disc_hidden_dims)
        if self.gamma < 0:
            raise ConfigError(f"gamma must be >= 0, got {self.gamma}")
        if self.disc_dense < 1:
            raise ConfigError(f"disc_dense must be >= 1, got {self.disc_dense}")
        if not self.disc_hidden_dims or any(h < 1 for h in self.disc_hidden_dims):
            raise ConfigError(f"disc_hidden_dims must be one or more positive widths, got "
                              f"{self.disc_hidden_dims}")


class FeatureDiscriminator(nn.Module):
    """``x -> (Dis_l(x) (B, F), logit (B,))``.

    Dis_l is an intermediate layer that keeps the input's content, as Larsen et al.'s
    third convolutional layer does: for images the output map of the conv stack of
    :class:`aekit.nn.ConvEncoder` (for sequences, of the 1-D conv stack), flattened; for
    other data the last hidden layer of an MLP with ``disc_hidden_dims``, after its
    activation. A dense layer of ``disc_dense`` units and a linear logit follow.
    """

    def __init__(self, config: VAEGANConfig) -> None:
        super().__init__()
        c = config
        arch = resolve_arch(c.arch, c.input_shape)
        if arch == "conv":
            self.features = ConvEncoder(c.input_shape, 1, base_channels=c.base_channels,
                                        act=c.activation).features
        elif arch == "seq":
            self.features = SeqConvEncoder(c.input_shape, 1, base_channels=c.base_channels,
                                           act=c.activation).features
        else:
            hidden = c.disc_hidden_dims
            self.features = nn.Sequential(
                MLP(math.prod(c.input_shape), hidden[:-1], hidden[-1], act=c.activation),
                activation(c.activation))
        with torch.no_grad():
            size = self.features(torch.zeros(1, *c.input_shape)).numel()
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(size, c.disc_dense),
                                  activation(c.activation), nn.Linear(c.disc_dense, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Dis_l(x) flattened to ``(B, F)``, and the logit that ``x`` is real."""
        f = self.features(x)
        return f.flatten(1), self.head(f).squeeze(-1)


@register
class VAEGAN(VAE):
    """VAE + GAN with a learned similarity metric; three optimiser groups."""

    name = "vaegan"
    Config = VAEGANConfig

    def __init__(self, config: VAEGANConfig) -> None:
        super().__init__(config)
        self.discriminator = FeatureDiscriminator(config)

    def feature_nll(self, x: torch.Tensor, x_tilde: torch.Tensor) -> torch.Tensor:
        """``-log N(Dis_l(x); Dis_l(x~), I)`` per example, shape ``(B,)``."""
        with torch.no_grad():
            target, _ = self.discriminator(x)
        feats, _ = self.discriminator(x_tilde)
        return 0.5 * (target - feats).square().sum(1) + 0.5 * feats.shape[1] * LOG_2PI

    def _posterior_sample(self, x: torch.Tensor) -> tuple[DiagonalGaussian, torch.Tensor]:
        q = self.encode(x)
        return q, q.rsample()

    def _generated(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reconstructions x~ from ``z`` and as many prior samples x_p, in data space."""
        x_tilde = self.likelihood.mean(self.decode_logits(z))
        z_p = self.prior.sample(x.shape[0]).to(z.dtype)
        return x_tilde, self.likelihood.mean(self.decode_logits(z_p))

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """The encoder's objective ``beta * kl + feature_recon`` (terms: batch means)."""
        x, _ = unpack(batch)
        q, z = self._posterior_sample(x)
        feat = self.feature_nll(x, self.likelihood.mean(self.decode_logits(z)))
        out = self.objective(feat, self.kl_dims(q, z))
        return Loss(out.total, {"feature_recon": out.terms["recon"], "kl": out.terms["kl"]},
                    per_example=out.per_example)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """``encoder`` (with any learned prior), ``decoder`` (with the likelihood's scale),
        ``discriminator``."""
        return {
            "encoder": [*self.encoder.parameters(), *self.prior.parameters()],
            "decoder": [*self.decoder.parameters(), *self.likelihood.parameters()],
            "discriminator": list(self.discriminator.parameters()),
        }

    def group_loss(self, group: str, batch: Batch | torch.Tensor) -> Loss:
        """The loss of ``group``'s optimiser (see the module docstring)."""
        if group == "encoder":
            return self.loss(batch)
        x, _ = unpack(batch)
        if group == "decoder":
            with torch.no_grad():  # the encoder is not this group's
                _, z = self._posterior_sample(x)
            x_tilde, x_p = self._generated(x, z)
            feat = self.feature_nll(x, x_tilde)
            gan = generator_loss(self.discriminator(x_tilde)[1]) + \
                generator_loss(self.discriminator(x_p)[1])
            per_example = self.config.gamma * feat + gan
            return Loss(per_example.mean(), {"feature_recon": feat.mean(), "gen": gan.mean()},
                        per_example=per_example)
        if group == "discriminator":
            with torch.no_grad():
                _, z = self._posterior_sample(x)
                x_tilde, x_p = self._generated(x, z)
            d = discriminator_loss(self.discriminator(x)[1], self.discriminator(x_tilde)[1],
                                   self.discriminator(x_p)[1])
            return Loss(d.mean(), {"disc": d.mean()}, per_example=d)
        raise ConfigError(f"vaegan has no parameter group {group!r}; its groups are "
                          f"{list(self.parameter_groups())}")
