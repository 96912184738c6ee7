"""VQ-VAE: discrete codes from a learned codebook (van den Oord et al. 2017).

    z_e = E(x)  (N vectors of size D),   k_n = argmin_j ||z_e,n - e_j||,   z_q,n = e_{k_n}

    L(x) = -log p(x | D(z_q)) + sum_n ||sg[z_e,n] - e_{k_n}||^2
                              + beta * sum_n ||z_e,n - sg[e_{k_n}]||^2

with the straight-through gradient ``z_q = z_e + sg[e - z_e]`` (see :mod:`aekit.quantize`).
Every term is summed over data dimensions, code vectors and code dimensions per example
and averaged over the batch; with ``ema=True`` the codebook term leaves the objective
and the codebook follows moving averages of its assigned encoder outputs.

Sampling needs a prior over the codes. ``code_prior="empirical"`` counts each position's
codes independently; ``code_prior="transformer"`` fits an autoregressive prior
``p(k) = prod_n p(k_n | k_<n)`` (a causal Transformer, in place of the papers' PixelCNN)
in the same training run: its negative log-likelihood of the current codes,
``-log p(sg[k])``, is added to the objective. The codes carry no gradient into it, so
the autoencoder's gradients are those of L(x) alone, and the prior follows the codes
as they settle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from aekit.errors import ConfigError
from aekit.models.base import Autoencoder, Batch, Loss, ModelConfig, unpack
from aekit.models.registry import register
from aekit.nn import MLP, resolve_arch
from aekit.nn.conv_maps import ConvMapDecoder, ConvMapEncoder, halved_sizes
from aekit.quantize import (
    CausalCodePrior,
    CodeLayout,
    EmpiricalCodePrior,
    Quantized,
    VectorQuantizer,
)

CODE_PRIORS = ("empirical", "transformer")


@dataclass
class VQVAEConfig(ModelConfig):
    """Settings of VQ-VAE; ``latent_dim`` is the size D of each code vector."""

    latent_dim: int = 16  # size D of each code vector
    num_codes: int = 128  # codebook size K
    num_latents: int = 8  # code vectors per example for vector data (images: the grid)
    downsample: int = 2  # stride-2 layers of the image encoder (grid = ceil(H/2^k) x ..)
    res_blocks: int = 1  # residual blocks at the grid resolution (image networks)
    beta: float = 0.25  # weight of the commitment term
    ema: bool = False  # codebook by exponential moving averages instead of gradients
    decay: float = 0.99  # EMA decay of the codebook statistics and of the code prior
    epsilon: float = 1e-5  # Laplace smoothing of the EMA counts
    kmeans_init: bool = False  # codebook from k-means on the first training batch
    restart_after: int = 100  # re-initialise codes unused for this many steps (0 = off)
    code_prior: str = "empirical"  # sampling prior: empirical (per position) | transformer
    prior_width: int = 64  # width of the transformer code prior
    prior_layers: int = 2  # blocks of the transformer code prior

    def __post_init__(self) -> None:
        super().__post_init__()
        checks = [
            ("num_codes", self.num_codes >= 2, ">= 2"),
            ("num_latents", self.num_latents >= 1, ">= 1"),
            ("downsample", self.downsample >= 0, ">= 0"),
            ("res_blocks", self.res_blocks >= 0, ">= 0"),
            ("beta", self.beta >= 0, ">= 0"),
            ("decay", 0 < self.decay < 1, "in (0, 1)"),
            ("epsilon", self.epsilon > 0, "> 0"),
            ("restart_after", self.restart_after >= 0, ">= 0"),
            ("code_prior", self.code_prior in CODE_PRIORS, f"one of {CODE_PRIORS}"),
            ("prior_width", self.prior_width >= 4 and self.prior_width % 4 == 0,
             "a multiple of 4 (4 attention heads)"),
            ("prior_layers", self.prior_layers >= 1, ">= 1"),
        ]
        for name, ok, rule in checks:
            if not ok:
                raise ConfigError(f"{name} must be {rule}, got {getattr(self, name)!r}")
        if resolve_arch(self.arch, self.input_shape) not in ("mlp", "conv"):
            raise ConfigError(f"arch={self.arch!r} on shape {self.input_shape}: quantized "
                              "models support arch='conv' (images) and arch='mlp' (any "
                              "shape)")

    def uses_grid(self) -> bool:
        """True when the codes form a spatial grid (conv networks on images)."""
        return resolve_arch(self.arch, self.input_shape) == "conv"

    def quantizer(self) -> VectorQuantizer:
        """A codebook with these settings."""
        return VectorQuantizer(self.num_codes, self.latent_dim, beta=self.beta, ema=self.ema,
                               decay=self.decay, epsilon=self.epsilon,
                               kmeans_init=self.kmeans_init, restart_after=self.restart_after)


@register
class VQVAE(Autoencoder):
    """Vector-quantized autoencoder with an empirical or a transformer code prior.

    Images get a grid of code vectors (a conv encoder that keeps a spatial map); vector
    data a set of ``num_latents`` code vectors. ``encode`` returns the continuous encoder
    output and ``embed`` the quantized codes, both flattened to ``(B, N * D)``;
    ``codes(x)`` gives the ``(B, N)`` code indices.

    ``sample(n)`` draws codes from the code prior: each position independently from its
    empirical frequency during training (:class:`aekit.quantize.EmpiricalCodePrior`,
    ``code_prior="empirical"``), or position by position from an autoregressive prior
    fitted in the same run (:class:`aekit.quantize.CausalCodePrior`,
    ``code_prior="transformer"``, in the role of the papers' PixelCNN).
    """

    name = "vqvae"
    Config = VQVAEConfig
    generative = True
    quantised = True

    def __init__(self, config: VQVAEConfig) -> None:
        super().__init__(config)
        c = config
        d = c.latent_dim
        if c.uses_grid():
            channels, height, width = c.input_shape
            sizes = halved_sizes(height, width, c.downsample)
            self.layout = CodeLayout(d, grid=sizes[-1])
            self.encoder = ConvMapEncoder(channels, d, c.base_channels, c.downsample,
                                          c.res_blocks, c.activation)
            self.decoder = ConvMapDecoder(d, channels, sizes, c.base_channels, c.res_blocks,
                                          c.activation)
        else:
            self.layout = CodeLayout(d, num=c.num_latents)
            n_in = math.prod(c.input_shape)
            self.encoder = MLP(n_in, c.hidden_dims, c.num_latents * d, act=c.activation)
            self.decoder = MLP(c.num_latents * d, tuple(reversed(c.hidden_dims)), n_in,
                               act=c.activation, out_shape=c.input_shape)
        self.quantizer = c.quantizer()
        if c.code_prior == "transformer":
            self.prior = CausalCodePrior(self.layout.num, c.num_codes, c.prior_width,
                                         c.prior_layers)
        else:
            self.prior = EmpiricalCodePrior(self.layout.num, c.num_codes, c.decay)

    # -- the protocol --------------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The continuous encoder output z_e, flattened to ``(B, N * D)``."""
        return self.layout.to_vectors(self.encoder(x)).flatten(1)

    def quantize(self, x: torch.Tensor) -> Quantized:
        """Encode and quantize ``x`` (straight-through ``z_q`` of shape ``(B, N, D)``)."""
        return self.quantizer(self.layout.to_vectors(self.encoder(x)))

    def embed(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The quantized code vectors z_q, flattened to ``(B, N * D)``."""
        return self.quantizer.lookup(self.codes(x)).flatten(1)

    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """Nearest-code indices ``(B, N)`` of ``x``."""
        return self.quantizer.nearest(self.layout.to_vectors(self.encoder(x)))

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Decode code vectors given as ``(B, N * D)`` or ``(B, N, D)`` (not re-quantized)."""
        return self.decoder(self.layout.from_vectors(z))

    def decode_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """Decoder output for code indices ``(B, N)``."""
        return self.decode_logits(self.quantizer.lookup(codes))

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """``recon + codebook + beta * commitment`` per example, mean over the batch.

        Terms: ``recon``, ``codebook`` (omitted with EMA updates), ``commitment``,
        ``perplexity`` and ``usage`` (fraction of codes used in the batch).
        """
        x, _ = unpack(batch)
        q = self.quantize(x)
        recon = self.likelihood.nll(self.decode_logits(q.z_q), x)
        per_example = recon + q.penalty
        terms = {"recon": recon.mean()}
        if isinstance(self.prior, CausalCodePrior):  # fitted on the codes as they are now
            prior_nll = -self.prior.log_prob(q.codes.detach())
            per_example = per_example + prior_nll
            terms["prior_nll"] = prior_nll.mean()
        elif self.training:
            self.prior.update(q.codes)
        if not self.config.ema:
            terms["codebook"] = q.codebook.mean()
        terms.update(commitment=q.commitment.mean(), perplexity=q.perplexity, usage=q.usage)
        return Loss(per_example.mean(), terms, per_example=per_example)

    def sample(self, n: int, y: torch.Tensor | None = None) -> torch.Tensor:
        """E[x | codes] for ``n`` code grids drawn from the code prior."""
        codes = self.prior.sample(n).to(self.quantizer.codebook.device)
        return self.likelihood.mean(self.decode_codes(codes))
