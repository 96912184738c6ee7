"""The Stable Diffusion VAE: the ``AutoencoderKL`` of latent diffusion, weight-compatible.

Rombach, Blattmann, Lorenz, Esser & Ommer, *High-resolution image synthesis with latent
diffusion models*, CVPR 2022, section 3.1 and appendix G. Pixels ``x`` in [-1, 1] of shape
``(3, H, W)`` are encoded to a Gaussian posterior over a latent map ``z`` of shape
``(c, H/f, W/f)``, ``f = 2^(L-1)`` for ``L`` resolution levels (``f = 8``, ``c = 4`` in
Stable Diffusion)::

    q(z|x) = N(mu(x), diag sigma^2(x)),   (mu, log sigma^2) = quant_conv(E(x))
    x_hat  = D(post_quant_conv(z))

and trained, per example, on the objective of :mod:`aekit.models.kl_ae`::

    L_AE = -log p(x | x_hat) + beta * KL(q(z|x) || N(0, I)) + lambda * L_gen,  z ~ q(z|x)

with ``-log p(x | x_hat)`` the Gaussian NLL ``sum (x - x_hat)^2 / (2 sigma^2) + const``
(``recon="l2"``) or the Laplace NLL ``sum |x - x_hat| / sigma + const`` (``recon="l1"``),
``beta = 1e-6``, the patch-GAN term with its adaptive weight (``disc_weight``; off by
default) and, with ``perceptual_weight = w > 0``, ``w * D * LPIPS(x, x_hat)`` added to the
reconstruction term (``D`` values per example, as latent diffusion adds it at every pixel;
it needs the ``lpips`` package and its backbone weights on this machine, and is refused
with a clear message otherwise). ``train_encoder=False`` freezes the encoder and
``quant_conv`` (the latent space stays that of the weights, so diffusion models trained on
it keep working) and fine-tunes the decoder alone: the recipe of sd-vae-ft-mse. Every
term is summed over its dimensions per example and averaged over the batch.

A diffusion model sees ``scaling_factor * (z - shift_factor)`` (:meth:`SDVAE.latents`);
:meth:`SDVAE.decode_latents` inverts it. The networks are in :mod:`aekit.nn.ldm`; weights
from diffusers folders and original checkpoints load through :mod:`aekit.models.sd_vae_weights`.
The posterior keeps the latent map's shape ``(B, c, h, w)`` (its ``mean`` and ``std`` are
diffusers' ``latent_dist.mean`` / ``.std``; the log-variance is clamped to [-30, 20] as
there); its KL and log-density are per flattened latent dimension ``(B, c*h*w)``.

Images of any size whose sides are multiples of ``f`` go through; large ones can be
encoded and decoded in overlapping tiles (:meth:`SDVAE.enable_tiling`: blended as
diffusers' ``enable_tiling``, or seam-free tiles that see the whole image's statistics and
attention) and batches one image at a time
(:meth:`SDVAE.enable_slicing`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from aekit.errors import ConfigError, DataError
from aekit.latents import DiagonalGaussian, gaussian_log_prob
from aekit.likelihoods import LOG_2PI, Likelihood
from aekit.models.kl_ae import KLAutoencoder
from aekit.models.registry import register
from aekit.models.vae import VAEConfig
from aekit.nn.ldm import LDMDecoder, LDMEncoder, PooledGroupNorm
from aekit.nn.tiling import TilePlan, tiled, tiled_in_context

__all__ = ["LatentMapGaussian", "PerceptualReconstruction", "PixelLikelihood", "SDVAE",
           "SDVAEConfig", "lpips_network"]

RECONS = ("l2", "l1")
# torchvision checkpoints LPIPS builds its backbone from (found in the torch hub cache)
LPIPS_BACKBONES = {"vgg": "vgg16-397923af.pth", "alex": "alexnet-owt-7be5be79.pth"}


@dataclass
class SDVAEConfig(VAEConfig):
    """Settings of the Stable Diffusion VAE (defaults: Stable Diffusion 1.x)."""

    input_shape: tuple[int, ...] = (3, 256, 256)  # training image size (any multiple of f works)
    latent_dim: int | None = None  # c * (H/f) * (W/f) at input_shape, set from the rest
    likelihood: str = "gaussian"  # fixed by recon; only "gaussian" is accepted
    sigma: float = 1.0  # scale of the Gaussian (l2) or Laplace (l1) reconstruction density
    activation: str = "silu"  # activation of every block
    beta: float = 1e-6  # KL weight (the paper's kl_weight)
    latent_channels: int = 4  # channels c of the latent map
    block_out_channels: tuple[int, ...] = (128, 256, 512, 512)  # width per level, L levels
    layers_per_block: int = 2  # residual blocks per encoder level (decoder: one more)
    norm_num_groups: int = 32  # GroupNorm groups (divides every width)
    mid_attention: bool = True  # self-attention in the middle blocks
    use_quant_conv: bool = True  # 1x1 conv after the encoder
    use_post_quant_conv: bool = True  # 1x1 conv before the decoder
    scaling_factor: float = 0.18215  # latent scale a diffusion model sees (SDXL: 0.13025)
    shift_factor: float | None = None  # latent shift subtracted before scaling (None: 0)
    recon: str = "l2"  # reconstruction NLL: l2 (Gaussian) | l1 (Laplace)
    train_encoder: bool = True  # False: decoder-only fine-tuning, latent space frozen
    disc_weight: float = 0.0  # w_disc of the adaptive weight (0: no discriminator)
    disc_start: int = 0  # step from which the adversarial terms count
    disc_channels: int = 64  # width of the patch discriminator's first layer
    disc_layers: int = 3  # stride-2 layers of the patch discriminator
    perceptual_weight: float = 0.0  # LPIPS weight in the reconstruction term (0: off)
    perceptual_net: str = "vgg"  # LPIPS backbone: vgg | alex (weights must be cached locally)

    def __post_init__(self) -> None:
        self.input_shape = tuple(int(s) for s in self.input_shape)
        self.block_out_channels = tuple(int(c) for c in self.block_out_channels)
        defaults = VAEConfig()
        unused = {"hidden_dims": tuple(int(h) for h in self.hidden_dims) != defaults.hidden_dims,
                  "base_channels": self.base_channels != defaults.base_channels}
        for name, changed in unused.items():
            if changed:
                raise ConfigError(f"sd_vae does not use {name}; set block_out_channels "
                                  "(the width of each level) instead")
        if self.arch not in ("auto", "conv"):
            raise ConfigError(f"sd_vae's networks are convolutional; arch={self.arch!r} is not "
                              "available (use 'auto' or 'conv')")
        if self.likelihood != "gaussian":
            raise ConfigError(f"sd_vae's reconstruction density is set by recon ('l2' or "
                              f"'l1'), not likelihood={self.likelihood!r}")
        if self.prior != "normal":
            raise ConfigError(f"sd_vae's latent prior is N(0, I); prior={self.prior!r} is "
                              "not available")
        if len(self.input_shape) != 3:
            raise ConfigError(f"sd_vae works on images (C, H, W); input_shape is "
                              f"{self.input_shape}")
        if not self.block_out_channels:
            raise ConfigError("block_out_channels needs at least one width")
        checks = [
            ("latent_channels", self.latent_channels >= 1, ">= 1"),
            ("layers_per_block", self.layers_per_block >= 1, ">= 1"),
            ("norm_num_groups", self.norm_num_groups >= 1, ">= 1"),
            ("block_out_channels", all(c % max(1, self.norm_num_groups) == 0 and c > 0
                                       for c in self.block_out_channels),
             f"positive multiples of norm_num_groups={self.norm_num_groups}"),
            ("scaling_factor", self.scaling_factor > 0 and math.isfinite(self.scaling_factor),
             "> 0"),
            ("recon", self.recon in RECONS, f"one of {RECONS}"),
            ("disc_weight", self.disc_weight >= 0, ">= 0"),
            ("disc_start", self.disc_start >= 0, ">= 0"),
            ("disc_channels", self.disc_channels >= 1, ">= 1"),
            ("disc_layers", self.disc_layers >= 1, ">= 1"),
            ("perceptual_weight", self.perceptual_weight >= 0, ">= 0"),
            ("perceptual_net", self.perceptual_net in LPIPS_BACKBONES,
             f"one of {tuple(LPIPS_BACKBONES)}"),
        ]
        for name, ok, rule in checks:
            if not ok:
                raise ConfigError(f"{name} must be {rule}, got {getattr(self, name)!r}")
        f = self.factor
        if self.input_shape[1] % f or self.input_shape[2] % f:
            raise ConfigError(f"input_shape {self.input_shape}: height and width must be "
                              f"multiples of {f} (2^(levels-1) for {len(self.block_out_channels)} "
                              "levels)")
        if self.disc_weight > 0 and min(self.input_shape[1:]) < 2**self.disc_layers:
            raise ConfigError(f"disc_layers={self.disc_layers} halves the image more often "
                              f"than {self.input_shape[1:]} allows")
        size = self.latent_channels * (self.input_shape[1] // f) * (self.input_shape[2] // f)
        if self.latent_dim is not None and int(self.latent_dim) != size:
            raise ConfigError(f"sd_vae's latent is a {self.latent_channels}-channel map "
                              f"({size} values at {self.input_shape}), not latent_dim="
                              f"{self.latent_dim}: set latent_channels instead")
        self.latent_dim, self.arch = size, "conv"
        super().__post_init__()

    @property
    def factor(self) -> int:
        """Downsampling factor ``f = 2^(L-1)`` per side."""
        return 2 ** (len(self.block_out_channels) - 1)

    def grid(self) -> tuple[int, int]:
        """Height and width of the latent map at ``input_shape``."""
        return self.input_shape[1] // self.factor, self.input_shape[2] // self.factor


class LatentMapGaussian(DiagonalGaussian):
    """q(z | x) over latent maps: ``mu`` and ``logvar`` are ``(B, c, h, w)``, the
    log-variance clamped to [-30, 20] (the reference code's bounds)."""

    LOGVAR_RANGE = (-30.0, 20.0)

    def __init__(self, mu: torch.Tensor, logvar: torch.Tensor) -> None:
        self.mu = mu
        self.logvar = logvar.clamp(*self.LOGVAR_RANGE)

    @classmethod
    def from_params(cls, params: torch.Tensor) -> LatentMapGaussian:
        """Split ``(B, 2c, h, w)`` into mean and log-variance along the channels."""
        mu, logvar = params.chunk(2, dim=1)
        return cls(mu, logvar)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """``log q(z | x)`` summed over the map; ``z`` is ``(..., B, c, h, w)``."""
        return gaussian_log_prob(z.flatten(-3), self.mu.flatten(1), self.logvar.flatten(1))

    def kl_standard_normal(self) -> torch.Tensor:
        """Closed-form ``KL(q || N(0, I))`` per latent dimension, ``(B, c*h*w)``."""
        return super().kl_standard_normal().flatten(1)


class PixelLikelihood(Likelihood):
    """p(x | x_hat) with one fixed scale for every pixel, for images of any size:
    Gaussian (``l2``: ``sum (x - out)^2 / (2 s^2) + D (log s + log(2 pi) / 2)``) or Laplace
    (``l1``: ``sum |x - out| / s + D log(2 s)``), ``D`` values per example."""

    def __init__(self, recon: str, sigma: float) -> None:
        super().__init__()
        self.name, self.recon, self.sigma = recon, recon, float(sigma)

    def distribution(self, out: torch.Tensor) -> torch.distributions.Distribution:
        from torch.distributions import Independent, Laplace, Normal

        base = Normal if self.recon == "l2" else Laplace
        return Independent(base(out, torch.full_like(out, self.sigma), validate_args=False),
                           out.ndim - 1, validate_args=False)

    def nll(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        d = x[0].numel()
        s = self.sigma
        if self.recon == "l2":
            return ((x - out).square().flatten(1).sum(1) / (2 * s * s)
                    + d * (math.log(s) + 0.5 * LOG_2PI))
        return (x - out).abs().flatten(1).sum(1) / s + d * math.log(2 * s)

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        return out


def lpips_network(net: str) -> nn.Module:
    """The LPIPS distance (Zhang et al. 2018) with the ``net`` backbone, built only from
    weights already on this machine; a :class:`ConfigError` says what is missing.

    The ``lpips`` package reads two ``.pth`` files: its own linear layers (inside its
    wheel) and torchvision's backbone from the torch hub cache. Both are read here with
    ``TORCH_FORCE_WEIGHTS_ONLY_LOAD=1``, so torch's weights-only loader reads them (plain
    tensors and containers; any other pickled object is refused), never full pickle.
    """
    import os
    import pickle
    from pathlib import Path

    try:
        import lpips
    except ImportError:
        raise ConfigError("perceptual_weight > 0 needs the 'lpips' package (and torchvision), "
                          "which is not installed; set perceptual_weight=0 to train with "
                          "L1/L2 (and the patch GAN) only") from None
    cached = Path(torch.hub.get_dir()) / "checkpoints" / LPIPS_BACKBONES[net]
    if not cached.is_file():
        raise ConfigError(f"perceptual_weight > 0 needs LPIPS's {net} backbone weights at "
                          f"{cached}, which are not there (aekit downloads nothing); put "
                          "them there or set perceptual_weight=0")
    key = "TORCH_FORCE_WEIGHTS_ONLY_LOAD"
    before = os.environ.get(key)
    os.environ[key] = "1"
    try:
        model = lpips.LPIPS(net=net, pretrained=True, verbose=False).eval()
    except pickle.UnpicklingError as e:
        raise ConfigError(f"LPIPS's weight files ({cached} or the lpips package's own) hold "
                          "more than plain tensors; aekit reads them with torch's "
                          f"weights-only loader only ({str(e).splitlines()[0]})") from None
    finally:
        if before is None:
            del os.environ[key]
        else:
            os.environ[key] = before
    for p in model.parameters():
        p.requires_grad_(False)
    return model


class PerceptualReconstruction(Likelihood):
    """``pixel.nll(out, x) + w * D * LPIPS(out, x)`` per example, ``D`` values per example
    (the perceptual distance added at every pixel, as latent diffusion's loss does); not a
    normalised NLL. The LPIPS network is kept outside the model's state (never saved)."""

    def __init__(self, pixel: PixelLikelihood, weight: float, net: nn.Module) -> None:
        super().__init__()
        self.pixel, self.weight, self.name = pixel, float(weight), f"{pixel.name}+lpips"
        object.__setattr__(self, "lpips", net)

    def distribution(self, out: torch.Tensor) -> torch.distributions.Distribution:
        return self.pixel.distribution(out)

    def nll(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        net = self.lpips.to(out.device)
        d = net(out, x).reshape(len(x))  # (B,)
        return self.pixel.nll(out, x) + self.weight * x[0].numel() * d

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        return out


@register
class SDVAE(KLAutoencoder):
    """The latent-diffusion ``AutoencoderKL`` (Stable Diffusion's VAE) in aekit's protocol."""

    name = "sd_vae"
    Config = SDVAEConfig

    def __init__(self, config: SDVAEConfig) -> None:
        super().__init__(config)  # type: ignore[arg-type]
        c = config
        self.likelihood = PixelLikelihood(c.recon, c.sigma)
        if c.perceptual_weight > 0:
            self.likelihood = PerceptualReconstruction(self.likelihood, c.perceptual_weight,
                                                       lpips_network(c.perceptual_net))
        two_c = 2 * c.latent_channels
        self.quant_conv = nn.Conv2d(two_c, two_c, 1) if c.use_quant_conv else None
        self.post_quant_conv = (nn.Conv2d(c.latent_channels, c.latent_channels, 1)
                                if c.use_post_quant_conv else None)
        self.tile: tuple[int, float] | None = None  # (tile side in pixels, overlap fraction)
        self.tile_context = "tile"  # what a tile's norms and attention see: it, or the image
        self.slicing = False
        if not c.train_encoder:
            for p in self.frozen_parameters():
                p.requires_grad_(False)

    def _encoder(self, out_dim: int, in_shape: tuple[int, ...] | None = None) -> nn.Module:
        c = self.config
        return LDMEncoder(c.input_shape[0], 2 * c.latent_channels, c.block_out_channels,
                          c.layers_per_block, c.norm_num_groups, c.activation, c.mid_attention)

    def _decoder(self, in_dim: int | None = None) -> nn.Module:
        c = self.config
        return LDMDecoder(c.latent_channels, c.input_shape[0], c.block_out_channels,
                          c.layers_per_block, c.norm_num_groups, c.activation, c.mid_attention)

    # -- memory-saving switches (as diffusers' enable_tiling / enable_slicing) -----------
    def enable_tiling(self, tile: int = 512, overlap: float = 0.25,
                      context: str = "tile") -> SDVAE:
        """Encode images larger than ``tile`` pixels per side in ``tile x tile`` pieces
        that overlap by ``overlap`` of a tile; decode latents larger than ``tile / f`` the
        same way. Returns the model.

        ``context="tile"`` is diffusers' ``enable_tiling`` (and equal to it): each tile
        goes through the whole network on its own (its GroupNorm statistics, attention
        within the tile) and the overlaps are blended linearly. ``context="image"`` tiles
        only the full-resolution part of each network and lets every tile see the image:
        the lowest-resolution part (the middle block with its attention, which holds
        ``1 / f^2`` of the positions) runs on the whole latent map; the tiles' GroupNorms
        use statistics pooled over the image (one extra pass over the tiles); and each
        pixel comes from the tile where it lies farthest from the edge (tiles in context,
        :func:`aekit.nn.tiling.tiled_in_context`, with half the overlap as margin) instead
        of a blend. The tiles then compute one function and meet without seams; the
        whole-map middle block costs memory proportional to the image (about
        ``4 * width / f^2`` bytes per pixel and tensor).
        """
        f = self.config.factor
        if int(tile) < f or int(tile) % f:
            raise ConfigError(f"tile must be a positive multiple of {f}, got {tile!r}")
        if not 0.0 <= float(overlap) < 1.0:
            raise ConfigError(f"overlap must be in [0, 1), got {overlap!r}")
        if context not in ("tile", "image"):
            raise ConfigError(f"context must be 'tile' or 'image', got {context!r}")
        self.tile = (int(tile), float(overlap))
        self.tile_context = context
        return self

    def disable_tiling(self) -> SDVAE:
        """Encode and decode whole images again. Returns the model."""
        self.tile = None
        return self

    def enable_slicing(self, on: bool = True) -> SDVAE:
        """Encode and decode a batch one image at a time (bounded memory). Returns the model."""
        self.slicing = bool(on)
        return self

    def _check_image(self, x: torch.Tensor) -> None:
        f = self.config.factor
        if x.ndim != 4 or x.shape[1] != self.config.input_shape[0]:
            raise DataError(f"sd_vae encodes images (B, {self.config.input_shape[0]}, H, W); "
                            f"got a tensor of shape {tuple(x.shape)}")
        if x.shape[2] % f or x.shape[3] % f:
            raise DataError(f"image size {tuple(x.shape[2:])}: height and width must be "
                            f"multiples of {f}; pad or crop the image first")

    def _moments(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(x)
        return h if self.quant_conv is None else self.quant_conv(h)

    def _pixels(self, z: torch.Tensor) -> torch.Tensor:
        if self.post_quant_conv is not None:
            z = self.post_quant_conv(z)
        return self.decoder(z)

    def _run(self, fn: Any, t: torch.Tensor, decoding: bool) -> torch.Tensor:
        """``fn`` on ``t`` one image at a time (slicing) and in blended tiles (tiling)."""
        parts = t.split(1) if self.slicing and len(t) > 1 else (t,)
        out = []
        for part in parts:
            plan = None if self.tile is None else self._tile_plan(decoding)
            if plan is None or max(part.shape[-2:]) <= plan.tile:
                out.append(fn(part))
            elif self.tile_context == "image":
                out.append(self._in_context(part, decoding))
            else:
                out.append(tiled(fn, part, plan))
        return out[0] if len(out) == 1 else torch.cat(out)

    def _in_context(self, t: torch.Tensor, decoding: bool) -> torch.Tensor:
        """:meth:`_moments` or :meth:`_pixels` of ``t`` with ``context="image"``.

        Decoding: the input layer and middle block on the whole latent map, then the
        levels in tiles in context (:meth:`_context_plan`: cores of ``tile - 2 margin``
        pixels, ``margin`` half the overlap rounded up to a multiple of ``f``). Encoding:
        level by level, each level that halves the size in tiles in context over the whole
        map the level before it left (``core / 2^k`` at level ``k``, with a margin that
        covers the level's receptive field, so no later GroupNorm's pass recomputes an
        earlier level), then the deepest level and the middle block whole. The maps kept
        between levels hold ``width / 4^(k+1)`` values per pixel."""
        f = self.config.factor
        core, margin = self._context_plan()

        def one_by_one(*parts: nn.Module) -> list[list[PooledGroupNorm]]:
            """The GroupNorms of ``parts`` in running order, each gathered in its own pass."""
            return [[m] for p in parts for m in p.modules() if isinstance(m, PooledGroupNorm)]

        if decoding:
            dec = self.decoder
            z = t if self.post_quant_conv is None else self.post_quant_conv(t)
            return tiled_in_context(dec.pixels, dec.body(z), core // f, margin // f, f,
                                    one_by_one(*reversed(dec.up), dec.norm_out))
        enc = self.encoder
        reach = 2 * (self.config.layers_per_block + 3)  # the convolutions of a level (and
        h = t  # conv_in), its stride-2 conv: even, so the stride-2 grids stay aligned
        for k, level in enumerate(enc.down[:-1]):
            stage = level if k else (lambda x: enc.down[0](enc.conv_in(x)))
            h = tiled_in_context(stage, h, core >> k, reach, 0.5, one_by_one(level))
        h = enc.head(enc.down[-1](h))
        return h if self.quant_conv is None else self.quant_conv(h)

    def _context_plan(self) -> tuple[int, int]:
        """``(core, margin)`` in pixels of ``context="image"``'s tiles."""
        side, overlap = self.tile  # type: ignore[misc]
        f = self.config.factor
        margin = min(math.ceil(side * overlap / 2 / f), (side // f - 1) // 2) * f
        return side - 2 * margin, margin

    def _tile_plan(self, decoding: bool) -> TilePlan:
        """Tiles in latent units ``T = tile / f``, blended over ``int(T * overlap)``
        latent rows/columns: the same tiles diffusers' ``enable_tiling`` uses."""
        side, overlap = self.tile  # type: ignore[misc]
        f = self.config.factor
        t_lat = side // f
        blend = int(t_lat * overlap)
        step = t_lat - blend
        if decoding:
            return TilePlan(tile=t_lat, stride=step, blend=blend * f, keep=step * f, scale=f)
        return TilePlan(tile=side, stride=step * f, blend=blend, keep=step, scale=1 / f)

    # -- the protocol ------------------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> LatentMapGaussian:
        """q(z | x) for pixels ``x`` in [-1, 1] of shape ``(B, 3, H, W)``: maps
        ``(B, c, H/f, W/f)``."""
        self._check_image(x)
        return LatentMapGaussian.from_params(self._run(self._moments, x, decoding=False))

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Pixels ``(B, 3, f h, f w)`` from latent maps ``(B, c, h, w)`` (or flattened
        latents ``(B, c*h*w)`` at ``input_shape``'s grid), the unscaled latent space."""
        c = self.config
        if z.ndim == 2:
            if z.shape[1] != c.latent_dim:
                raise DataError(f"flat latents must have {c.latent_dim} values "
                                f"({c.latent_channels} x {c.grid()}); got {z.shape[1]}")
            z = z.reshape(len(z), c.latent_channels, *c.grid())
        if z.ndim != 4 or z.shape[1] != c.latent_channels:
            raise DataError(f"latents must be (B, {c.latent_channels}, h, w); got "
                            f"{tuple(z.shape)}")
        return self._run(self._pixels, z, decoding=True)

    # -- latents for a diffusion model ---------------------------------------------------
    @torch.no_grad()
    def latents(self, x: torch.Tensor, sample: bool = False, scale: float | None = None,
                batch_size: int = 8) -> torch.Tensor:
        """``scale * (z - shift_factor)`` for posterior means (or samples) ``z`` of ``x``:
        what a diffusion model sees (``scale`` defaults to ``scaling_factor``)."""
        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size!r}")
        scale = self.config.scaling_factor if scale is None else float(scale)
        shift = self.config.shift_factor or 0.0
        out = []
        for i in range(0, len(x), int(batch_size)):
            q = self.encode(x[i:i + int(batch_size)])
            out.append(scale * ((q.rsample() if sample else q.mean) - shift))
        if not out:
            raise DataError("no images to encode")
        return torch.cat(out)

    @torch.no_grad()
    def decode_latents(self, latents: torch.Tensor, scale: float | None = None) -> torch.Tensor:
        """Pixels from diffusion-model latents: ``decode(latents / scale + shift_factor)``."""
        scale = self.config.scaling_factor if scale is None else float(scale)
        return self.decode_logits(latents / scale + (self.config.shift_factor or 0.0))

    # -- training ------------------------------------------------------------------------
    def frozen_parameters(self) -> list[nn.Parameter]:
        """The encoder's and ``quant_conv``'s parameters (frozen by ``train_encoder=False``)."""
        parts = [self.encoder] + ([self.quant_conv] if self.quant_conv is not None else [])
        return [p for m in parts for p in m.parameters()]

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """``autoencoder`` (or ``model`` without a discriminator) and ``discriminator``;
        with ``train_encoder=False`` the encoder and ``quant_conv`` are in no group."""
        groups = super().parameter_groups()
        if self.config.train_encoder:
            return groups
        frozen = {id(p) for p in self.frozen_parameters()}
        return {k: [p for p in v if id(p) not in frozen] for k, v in groups.items()}

    def kl_dims(self, q: DiagonalGaussian, z: torch.Tensor) -> torch.Tensor:
        """``KL(q || N(0, I))`` per flattened latent dimension, ``(B, c*h*w)``."""
        return q.kl_standard_normal()
