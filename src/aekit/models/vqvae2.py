"""VQ-VAE-2: two levels of quantized codes, top and bottom (Razavi et al. 2019).

    h    = E_b(x)                                   bottom features
    e_t  = Q_t(E_t(h))                              top codes (coarser)
    u    = D_t(e_t)                                 top codes decoded to the bottom grid
    e_b  = Q_b(W [h, u])                            bottom codes, conditioned on the top
    x^   = D([e_b, u])                              the decoder sees both levels

    L(x) = -log p(x | x^) + sum_{l in {t, b}} ( codebook_l + beta * commitment_l )

Razavi, van den Oord & Vinyals, *Generating Diverse High-Fidelity Images with VQ-VAE-2*,
NeurIPS 2019. Each level has its own codebook (:class:`aekit.quantize.VectorQuantizer`,
with the same EMA / k-means / restart options) and the straight-through gradient; all
terms are summed per example and averaged over the batch. Images use conv maps (the
bottom grid ``downsample`` halvings below the input, the top grid ``top_downsample``
more); vector data use MLPs with ``num_latents`` bottom and ``num_top_latents`` top code
vectors. The output of ``D_t`` both conditions the bottom quantizer and feeds the
decoder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from aekit.errors import ConfigError
from aekit.models.base import Autoencoder, Batch, Loss, unpack
from aekit.models.registry import register
from aekit.models.vqvae import VQVAEConfig
from aekit.nn import MLP
from aekit.nn.conv_maps import ConvMapDecoder, ConvMapEncoder, halved_sizes
from aekit.quantize import CodeLayout, EmpiricalCodePrior, Quantized


@dataclass
class VQVAE2Config(VQVAEConfig):
    """Settings of VQ-VAE-2: those of VQ-VAE for each level, plus the top level's size."""

    top_downsample: int = 1  # stride-2 layers from the bottom grid to the top grid (images)
    num_top_latents: int = 2  # top code vectors per example for vector data

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.code_prior != "empirical":
            raise ConfigError(f"code_prior={self.code_prior!r}: vqvae2 samples from its "
                              "empirical per-level priors only (code_prior='empirical')")
        if self.top_downsample < 1:
            raise ConfigError(f"top_downsample must be >= 1, got {self.top_downsample}")
        if self.num_top_latents < 1:
            raise ConfigError(f"num_top_latents must be >= 1, got {self.num_top_latents}")


@register
class VQVAE2(Autoencoder):
    """Two-level hierarchical VQ-VAE.

    ``embed`` returns the quantized top and bottom code vectors concatenated, flat:
    ``(B, (N_top + N_bottom) * D)``, which ``decode_logits`` accepts; ``codes(x)`` gives
    the indices ``(top (B, N_top), bottom (B, N_bottom))``. ``sample(n)`` draws every
    position of both levels independently from its empirical frequency in training, a
    simple prior (the paper's autoregressive priors are future work).
    """

    name = "vqvae2"
    Config = VQVAE2Config
    generative = True
    quantised = True

    def __init__(self, config: VQVAE2Config) -> None:
        super().__init__(config)
        c = config
        d, act = c.latent_dim, c.activation
        if c.uses_grid():
            channels, height, width = c.input_shape
            ch = c.base_channels
            bottom = halved_sizes(height, width, c.downsample)
            top = halved_sizes(*bottom[-1], c.top_downsample)
            self.bottom_layout = CodeLayout(d, grid=bottom[-1])
            self.top_layout = CodeLayout(d, grid=top[-1])
            self.encoder_bottom = ConvMapEncoder(channels, ch, ch, c.downsample, c.res_blocks, act)
            self.encoder_top = ConvMapEncoder(ch, d, ch, c.top_downsample, c.res_blocks, act)
            self.decoder_top = ConvMapDecoder(d, ch, top, ch, c.res_blocks, act)
            self.pre_bottom = nn.Conv2d(2 * ch, d, 1)
            self.decoder = ConvMapDecoder(d + ch, channels, bottom, ch, c.res_blocks, act)
        else:
            n_in = math.prod(c.input_shape)
            hidden = tuple(c.hidden_dims) or (64,)
            h = hidden[-1]
            self.bottom_layout = CodeLayout(d, num=c.num_latents)
            self.top_layout = CodeLayout(d, num=c.num_top_latents)
            self.encoder_bottom = MLP(n_in, hidden[:-1], h, act=act)
            self.encoder_top = MLP(h, (h,), c.num_top_latents * d, act=act)
            self.decoder_top = MLP(c.num_top_latents * d, (h,), h, act=act)
            self.pre_bottom = nn.Linear(2 * h, c.num_latents * d)
            self.decoder = MLP(c.num_latents * d + h, tuple(reversed(hidden)), n_in, act=act,
                               out_shape=c.input_shape)
        self.quantizer_top = c.quantizer()
        self.quantizer_bottom = c.quantizer()
        self.prior_top = EmpiricalCodePrior(self.top_layout.num, c.num_codes, c.decay)
        self.prior_bottom = EmpiricalCodePrior(self.bottom_layout.num, c.num_codes, c.decay)

    # -- levels --------------------------------------------------------------------
    def quantize(self, x: torch.Tensor) -> tuple[Quantized, Quantized, torch.Tensor]:
        """Top and bottom quantizer outputs for ``x``, and ``u = D_t(e_t)``."""
        h = self.encoder_bottom(x)
        q_top = self.quantizer_top(self.top_layout.to_vectors(self.encoder_top(h)))
        u = self.decoder_top(self.top_layout.from_vectors(q_top.z_q))
        z_bottom = self.pre_bottom(torch.cat([h, u], dim=1))
        q_bottom = self.quantizer_bottom(self.bottom_layout.to_vectors(z_bottom))
        return q_top, q_bottom, u

    def codes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Nearest-code indices ``(top (B, N_top), bottom (B, N_bottom))`` of ``x``.

        Unlike :meth:`quantize` this never changes codebook state, even in training mode.
        """
        h = self.encoder_bottom(x)
        top = self.quantizer_top.nearest(self.top_layout.to_vectors(self.encoder_top(h)))
        u = self.decoder_top(self.top_layout.from_vectors(self.quantizer_top.lookup(top)))
        z_bottom = self.pre_bottom(torch.cat([h, u], dim=1))
        return top, self.quantizer_bottom.nearest(self.bottom_layout.to_vectors(z_bottom))

    def decode_quantized(self, e_top: torch.Tensor, e_bottom: torch.Tensor) -> torch.Tensor:
        """Decoder output from top ``(B, N_top, D)`` and bottom ``(B, N_bottom, D)`` vectors."""
        u = self.decoder_top(self.top_layout.from_vectors(e_top))
        return self.decoder(torch.cat([self.bottom_layout.from_vectors(e_bottom), u], dim=1))

    def decode_codes(self, top: torch.Tensor, bottom: torch.Tensor) -> torch.Tensor:
        """Decoder output for top ``(B, N_top)`` and bottom ``(B, N_bottom)`` code indices."""
        return self.decode_quantized(self.quantizer_top.lookup(top),
                                     self.quantizer_bottom.lookup(bottom))

    # -- the protocol --------------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The quantized codes (top then bottom), flat ``(B, (N_top + N_bottom) * D)``.

        The bottom level's encoder input depends on the quantized top codes, so the
        continuous bottom output is only defined given them; ``quantize`` returns both.
        """
        top, bottom = self.codes(x)
        return torch.cat([self.quantizer_top.lookup(top).flatten(1),
                          self.quantizer_bottom.lookup(bottom).flatten(1)], dim=1)

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Decode the flat concatenation of top and bottom code vectors (not re-quantized)."""
        n_top = self.top_layout.num * self.config.latent_dim
        return self.decode_quantized(z[:, :n_top], z[:, n_top:])

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """``recon + sum over levels of (codebook + beta * commitment)``, batch mean.

        Terms: ``recon``, per level ``codebook_*`` (omitted with EMA), ``commitment_*``,
        ``perplexity_*`` and ``usage_*`` for ``top`` and ``bottom``.
        """
        x, _ = unpack(batch)
        q_top, q_bottom, u = self.quantize(x)
        if self.training:
            self.prior_top.update(q_top.codes)
            self.prior_bottom.update(q_bottom.codes)
        out = self.decoder(torch.cat([self.bottom_layout.from_vectors(q_bottom.z_q), u], dim=1))
        recon = self.likelihood.nll(out, x)
        per_example = recon + q_top.penalty + q_bottom.penalty
        terms = {"recon": recon.mean()}
        for level, q in (("top", q_top), ("bottom", q_bottom)):
            if not self.config.ema:
                terms[f"codebook_{level}"] = q.codebook.mean()
            terms[f"commitment_{level}"] = q.commitment.mean()
            terms[f"perplexity_{level}"] = q.perplexity
            terms[f"usage_{level}"] = q.usage
        return Loss(per_example.mean(), terms, per_example=per_example)

    def sample(self, n: int, y: torch.Tensor | None = None) -> torch.Tensor:
        """E[x | codes] for ``n`` top and bottom code sets from the empirical priors."""
        device = self.quantizer_top.codebook.device
        top = self.prior_top.sample(n).to(device)
        bottom = self.prior_bottom.sample(n).to(device)
        return self.likelihood.mean(self.decode_codes(top, bottom))
