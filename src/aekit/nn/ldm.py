"""The convolutional encoder and decoder of the latent-diffusion autoencoder.

Rombach et al., *High-resolution image synthesis with latent diffusion models*, CVPR 2022
(the ``AutoencoderKL`` of Stable Diffusion, after the VQGAN networks of Esser et al. 2021).
Module names follow the original code (``down.i.block.j``, ``mid.attn_1``, ``up.i``,
``norm_out``), so its checkpoints map onto these modules name for name. With ``L``
resolution levels of widths ``channels[0..L-1]``::

    encoder: conv_in -> L levels [n residual blocks, then a stride-2 conv except at the
             last] -> mid (block, self-attention, block) -> GroupNorm, act, conv_out
             (B, C_in, H, W) -> (B, 2c, H / 2^(L-1), W / 2^(L-1))     (mean | log-variance)
    decoder: conv_in -> mid -> L levels, deepest first [n + 1 residual blocks, then a
             nearest x2 upsampling + conv except at the shallowest] -> GroupNorm, act, conv_out

A residual block is ``x + conv(act(norm(conv(act(norm(x))))))`` (a 1x1 ``nin_shortcut``
when the width changes); the attention is one-head softmax attention over the ``h * w``
positions with a residual connection.

Two things make these networks faster than a literal transcription on a CPU, with the
same outputs up to float rounding: on CPUs the nearest x2 upsampling followed by a 3x3
convolution is computed as four 2x2 convolutions on the small map (:class:`Upsample`,
4/9 of the multiply-adds), and without autograd the activations and residual sums
overwrite the fresh tensors they act on instead of allocating new ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from aekit.nn.mlp import ACTIVATIONS, activation

GN_EPS = 1e-6  # GroupNorm epsilon of the reference networks


class PooledGroupNorm(nn.GroupNorm):
    """torch's GroupNorm that can also normalise with statistics pooled over many inputs.

    Cut into tiles, an image is normalised tile by tile with each tile's own mean and
    variance, which differ from the image's: the tiles disagree where they meet. Between
    :meth:`gather` and :meth:`release`, every input ``x_t`` (the tiles of one image, in
    turn) adds its count ``n_t``, mean ``m_t`` and variance ``v_t`` per image and group,
    and :meth:`pool` combines them by the law of total variance::

        m = sum_t n_t m_t / N,    v = sum_t n_t (v_t + m_t^2) / N - m^2,    N = sum_t n_t

    after which every input is normalised as ``(x - m) / sqrt(v + eps)`` (then the affine
    weight and bias) instead of with its own statistics. The pooled statistics are
    constants (no gradient flows through them). Where the pieces overlap, :meth:`window`
    names the part of the next input that is the piece's own, so that every position of
    the image is counted once.
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = GN_EPS) -> None:
        super().__init__(num_groups, num_channels, eps=eps, affine=True)
        self._sums: list[torch.Tensor] | None = None  # [N, sum n m, sum n (v + m^2)]
        self._pooled: tuple[torch.Tensor, torch.Tensor] | None = None  # (mean, var), (B, G)
        self._gathering = False
        self._window: tuple[int, int, int, int, int, int] | None = None

    def window(self, rows: tuple[int, int, int], cols: tuple[int, int, int]) -> None:
        """Gather from the next inputs only rows ``a/n .. b/n`` and columns ``c/m .. d/m``
        of their extent (``rows = (a, b, n)``, ``cols = (c, d, m)``), at whatever
        resolution this norm sees them; every extent must be a multiple of ``n`` / ``m``."""
        self._window = (*rows, *cols)

    def gather(self) -> None:
        """Start gathering statistics (normalising as before meanwhile)."""
        self._sums, self._window = None, None
        self._gathering = True

    def pool(self) -> None:
        """Normalise with the statistics gathered since :meth:`gather` from now on."""
        if self._sums is None:
            raise RuntimeError("PooledGroupNorm.pool() before any input was gathered")
        n, s1, s2 = self._sums
        mean = s1 / n
        self._pooled = (mean, (s2 / n - mean**2).clamp_min(0.0))
        self._sums, self._gathering, self._window = None, False, None

    def release(self) -> None:
        """Back to torch's GroupNorm (each input normalised with its own statistics)."""
        self._sums, self._pooled, self._gathering, self._window = None, None, False, None

    def _gathered(self, x: torch.Tensor) -> torch.Tensor:
        """The part of ``x`` that :meth:`window` names (all of it without a window)."""
        if self._window is None:
            return x
        a, b, n, c, d, m = self._window
        h, w = x.shape[-2:]
        if any(v * h % n for v in (a, b)) or any(v * w % m for v in (c, d)):
            raise RuntimeError(f"window {self._window} does not fall on whole rows and "
                               f"columns of a {h}x{w} map")
        return x[..., a * h // n:b * h // n, c * w // m:d * w // m]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """GroupNorm of ``x`` ``(B, C, ...)``, with pooled statistics after :meth:`pool`."""
        if self._gathering:
            xg = self._gathered(x.detach()).reshape(x.shape[0], self.num_groups, -1)
            v, m = torch.var_mean(xg, dim=-1, correction=0)
            n = xg.shape[-1]
            add = [torch.tensor(float(n), dtype=torch.float64, device=x.device),
                   n * m.double(), n * (v.double() + m.double() ** 2)]
            self._sums = add if self._sums is None else [a + b for a, b in zip(self._sums, add)]
        if self._pooled is None:
            return super().forward(x)
        mean, var = self._pooled
        if mean.shape[0] != x.shape[0]:
            raise RuntimeError(f"pooled statistics are for {mean.shape[0]} images, the "
                               f"input has {x.shape[0]}")
        # weight * (x - m) / sqrt(v + eps) + bias = x * a + c per image and channel: one
        # full-size tensor (the output), as torch's GroupNorm
        per = self.num_channels // self.num_groups
        inv = torch.rsqrt(var + self.eps).repeat_interleave(per, dim=1)  # (B, C)
        a = self.weight.double() * inv
        c = self.bias.double() - mean.repeat_interleave(per, dim=1) * a
        shape = (x.shape[0], -1) + (1,) * (x.ndim - 2)
        return torch.addcmul(c.to(x.dtype).reshape(shape), x, a.to(x.dtype).reshape(shape))


def group_norm(channels: int, groups: int) -> PooledGroupNorm:
    """GroupNorm with the reference epsilon (able to pool statistics over tiles)."""
    return PooledGroupNorm(groups, channels, eps=GN_EPS)


def in_place(act: str) -> nn.Module:
    """The activation ``act`` overwriting its input where torch has an in-place form
    (``relu``, ``silu``, ...), else the ordinary one."""
    cls = ACTIVATIONS[act]
    try:
        return cls(inplace=True)
    except TypeError:
        return cls()


class NormAct(nn.Module):
    """``act(norm(x))``; without autograd the activation overwrites the fresh
    normalised tensor (SiLU's gradient needs its input, so not while training)."""

    def __init__(self, act: str) -> None:
        super().__init__()
        self.act = activation(act)
        self.act_ = in_place(act)

    def forward(self, norm: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """The activation of ``norm(x)``."""
        return (self.act if torch.is_grad_enabled() else self.act_)(norm(x))


class ResnetBlock(nn.Module):
    """``shortcut(x) + conv2(act(norm2(conv1(act(norm1(x))))))``."""

    def __init__(self, in_channels: int, out_channels: int, groups: int, act: str) -> None:
        super().__init__()
        self.norm1 = group_norm(in_channels, groups)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = group_norm(out_channels, groups)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.act = NormAct(act)
        self.nin_shortcut = (nn.Conv2d(in_channels, out_channels, 1)
                             if in_channels != out_channels else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block; the width may change, the size does not."""
        h = self.conv1(self.act(self.norm1, x))
        h = self.conv2(self.act(self.norm2, h))
        return h.add_(x if self.nin_shortcut is None else self.nin_shortcut(x))


class AttnBlock(nn.Module):
    """``x + proj_out(softmax(q k^T / sqrt(C)) v)`` with ``q, k, v`` linear maps of
    ``norm(x)``, one head over the ``h * w`` positions."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.norm = group_norm(channels, groups)
        self.q = nn.Linear(channels, channels)
        self.k = nn.Linear(channels, channels)
        self.v = nn.Linear(channels, channels)
        self.proj_out = nn.Linear(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Self-attention with a residual connection; shape unchanged."""
        b, c, h, w = x.shape
        t = self.norm(x).flatten(2).transpose(1, 2)  # (B, hw, C)
        q, k, v = (m(t).unsqueeze(1) for m in (self.q, self.k, self.v))  # (B, 1, hw, C)
        a = F.scaled_dot_product_attention(q, k, v).squeeze(1)  # (B, hw, C)
        return x + self.proj_out(a).transpose(1, 2).reshape(b, c, h, w)


class Downsample(nn.Module):
    """Halve the size: pad one zero row and column at the bottom/right, 3x3 stride-2 conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W) -> (B, C, H // 2, W // 2)`` for even sizes."""
        return self.conv(F.pad(x, (0, 1, 0, 1)))


def phase_kernels(w: torch.Tensor) -> torch.Tensor:
    """The four 2x2 kernels ``(O, 4, I, 2, 2)`` that a 3x3 kernel ``w`` ``(O, I, 3, 3)``
    becomes on a nearest-x2 upsampled map, one per output phase ``(a, b)`` (row and
    column parity, order 00, 01, 10, 11).

    Output row ``2i + a`` of the 3x3 conv reads upsampled rows ``2i + a - 1 .. 2i + a + 1``,
    i.e. small rows ``(i - 1, i)`` with taps ``(w0, w1 + w2)`` for ``a = 0`` and rows
    ``(i, i + 1)`` with taps ``(w0 + w1, w2)`` for ``a = 1``; columns likewise.
    """
    def taps(t: torch.Tensor, dim: int) -> list[torch.Tensor]:
        t0, t1, t2 = t.unbind(dim)
        return [torch.stack([t0, t1 + t2], dim), torch.stack([t0 + t1, t2], dim)]

    return torch.stack([k for rows in taps(w, 2) for k in taps(rows, 3)], 1)


class Upsample(nn.Module):
    """Double the size: nearest-neighbour x2, then a 3x3 conv (padding 1).

    Computed without the upsampled map: a 2x2 conv of the small map (zero-padded by 1)
    with the four phase kernels (:func:`phase_kernels`) gives, at position ``(i + a,
    j + b)`` of phase ``(a, b)``, output pixel ``(2i + a, 2j + b)``; each phase is
    written straight into its rows and columns of the output. Same result with 16
    instead of 36 multiply-adds per small-map pixel and channel pair. Used on CPUs, where
    it was measured faster; on other devices (cuDNN has fast 3x3 kernels of its own, and
    no GPU was at hand to measure) the literal form runs.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, h, w) -> (B, C, 2h, 2w)``."""
        if x.device.type != "cpu":  # measured faster on CPUs only; GPUs keep the literal form
            return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        n, _, h, w = x.shape
        o = self.conv.out_channels
        k = phase_kernels(self.conv.weight).flatten(0, 1)  # (4O, C, 2, 2)
        bias = None if self.conv.bias is None else self.conv.bias.repeat_interleave(4)
        y = F.conv2d(F.pad(x, (1, 1, 1, 1)), k, bias).unflatten(1, (o, 4))  # (B, O, 4, h+1, w+1)
        out = y.new_empty(n, o, h, 2, w, 2)  # (B, O, h, a, w, b): row 2i + a, column 2j + b
        for phase, (a, b) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
            out[:, :, :, a, :, b] = y[:, :, phase, a:a + h, b:b + w]
        return out.view(n, o, 2 * h, 2 * w)


class Level(nn.Module):
    """One resolution level: residual blocks, then an optional resampling."""

    def __init__(self, blocks: list[ResnetBlock], resample: nn.Module | None, name: str) -> None:
        super().__init__()
        self.block = nn.ModuleList(blocks)
        if resample is not None:
            self.add_module(name, resample)
        self._resample = name if resample is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Blocks in order, then the resampling."""
        for block in self.block:
            x = block(x)
        return x if self._resample is None else getattr(self, self._resample)(x)


class Mid(nn.Module):
    """``block_2(attn_1(block_1(x)))`` at the lowest resolution (attention optional)."""

    def __init__(self, channels: int, groups: int, act: str, attention: bool) -> None:
        super().__init__()
        self.block_1 = ResnetBlock(channels, channels, groups, act)
        self.attn_1 = AttnBlock(channels, groups) if attention else None
        self.block_2 = ResnetBlock(channels, channels, groups, act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The middle of the network; shape unchanged."""
        x = self.block_1(x)
        if self.attn_1 is not None:
            x = self.attn_1(x)
        return self.block_2(x)


class LDMEncoder(nn.Module):
    """``(B, in_channels, H, W) -> (B, out_channels, H / 2^(L-1), W / 2^(L-1))``.

    Parameters
    ----------
    in_channels, out_channels : int
        Image channels and output channels (``2 * latent_channels``: means, log-variances).
    channels : sequence of int
        Width of each resolution level ``L``, shallowest first.
    layers_per_block : int
        Residual blocks per level.
    groups : int
        GroupNorm groups.
    act : str
        Activation (``silu`` in Stable Diffusion).
    attention : bool
        Self-attention in the middle block.
    """

    def __init__(self, in_channels: int, out_channels: int, channels: Sequence[int],
                 layers_per_block: int, groups: int, act: str, attention: bool = True) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, channels[0], 3, padding=1)
        levels, width = [], channels[0]
        for i, ch in enumerate(channels):
            blocks = [ResnetBlock(width if j == 0 else ch, ch, groups, act)
                      for j in range(layers_per_block)]
            last = i == len(channels) - 1
            levels.append(Level(blocks, None if last else Downsample(ch), "downsample"))
            width = ch
        self.down = nn.ModuleList(levels)
        self.mid = Mid(width, groups, act, attention)
        self.norm_out = group_norm(width, groups)
        self.act = NormAct(act)
        self.conv_out = nn.Conv2d(width, out_channels, 3, padding=1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The full-resolution part: ``conv_in`` and the levels, images -> the map the
        middle block takes (each output position sees a bounded patch of the image)."""
        h = self.conv_in(x)
        for level in self.down:
            h = level(h)
        return h

    def head(self, h: torch.Tensor) -> torch.Tensor:
        """The lowest-resolution part: the middle block (its attention sees every
        position) and the output layers, :meth:`features` -> the posterior's parameters."""
        return self.conv_out(self.act(self.norm_out, self.mid(h)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images -> the posterior's parameter map."""
        return self.head(self.features(x))


class LDMDecoder(nn.Module):
    """``(B, in_channels, h, w) -> (B, out_channels, h * 2^(L-1), w * 2^(L-1))``.

    ``up[i]`` is the level at resolution ``i`` (``up[0]`` the shallowest), as in the
    original code; the forward pass runs them deepest first. Parameters as
    :class:`LDMEncoder`; each level has ``layers_per_block + 1`` residual blocks.
    """

    def __init__(self, in_channels: int, out_channels: int, channels: Sequence[int],
                 layers_per_block: int, groups: int, act: str, attention: bool = True) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, channels[-1], 3, padding=1)
        self.mid = Mid(channels[-1], groups, act, attention)
        levels: list[Level] = []
        width = channels[-1]
        for i in reversed(range(len(channels))):
            ch = channels[i]
            blocks = [ResnetBlock(width if j == 0 else ch, ch, groups, act)
                      for j in range(layers_per_block + 1)]
            levels.insert(0, Level(blocks, Upsample(ch) if i > 0 else None, "upsample"))
            width = ch
        self.up = nn.ModuleList(levels)
        self.norm_out = group_norm(channels[0], groups)
        self.act = NormAct(act)
        self.conv_out = nn.Conv2d(channels[0], out_channels, 3, padding=1)

    @property
    def last(self) -> nn.Parameter:
        """The weight of the last layer (where an adaptive GAN weight compares gradients)."""
        return self.conv_out.weight

    def body(self, z: torch.Tensor) -> torch.Tensor:
        """The lowest-resolution part: ``conv_in`` and the middle block (its attention
        sees every position), latent maps -> the map the levels take."""
        return self.mid(self.conv_in(z))

    def pixels(self, h: torch.Tensor) -> torch.Tensor:
        """The upsampling part: the levels and the output layers, :meth:`body` -> images
        (each output pixel sees a bounded patch of the map)."""
        for level in reversed(self.up):
            h = level(h)
        return self.conv_out(self.act(self.norm_out, h))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Latent maps -> images."""
        return self.pixels(self.body(z))
