"""Convolutional encoders and decoders that keep a spatial map (for quantized latents).

Unlike :class:`aekit.nn.ConvEncoder`, which ends in a vector, these networks map an
image to a grid of feature vectors and back, as VQ-VAE needs (van den Oord et al. 2017):

    encoder: (B, C_in, H, W) -> (B, C_out, h, w),   h = ceil(H / 2^k), w = ceil(W / 2^k)
    decoder: (B, C_in, h, w) -> (B, C_out, H, W)

with ``k`` stride-2 3x3 convolutions (ceil-halving, so 7 -> 4) and residual blocks
``x + conv1x1(act(conv3x3(act(x))))`` at the grid resolution. The decoder mirrors the
sizes exactly with transposed convolutions whose output padding is chosen per layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from aekit.nn.mlp import activation


def halved_sizes(height: int, width: int, times: int) -> list[tuple[int, int]]:
    """Sizes visited by ``times`` ceil-halvings, e.g. ``(28, 28), 2 -> [(28, 28), (14, 14),
    (7, 7)]``."""
    sizes = [(height, width)]
    for _ in range(times):
        h, w = sizes[-1]
        sizes.append(((h + 1) // 2, (w + 1) // 2))
    return sizes


class ResBlock(nn.Module):
    """``x + conv1x1(act(conv3x3(act(x))))`` at constant size and width."""

    def __init__(self, channels: int, act: str = "relu") -> None:
        super().__init__()
        self.body = nn.Sequential(activation(act), nn.Conv2d(channels, channels, 3, padding=1),
                                  activation(act), nn.Conv2d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Add the residual branch to ``x``."""
        return x + self.body(x)


class ConvMapEncoder(nn.Module):
    """``(B, in_channels, H, W) -> (B, out_channels, ceil(H / 2^k), ceil(W / 2^k))``.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and of the output map.
    channels : int
        Width of the hidden layers.
    downsample : int
        Number ``k`` of stride-2 layers (0 keeps the input resolution).
    res_blocks : int
        Residual blocks at the output resolution.
    act : str
        Hidden activation.
    """

    def __init__(self, in_channels: int, out_channels: int, channels: int = 32,
                 downsample: int = 2, res_blocks: int = 1, act: str = "relu") -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, channels, 3, padding=1)]
        for _ in range(downsample):
            layers += [activation(act), nn.Conv2d(channels, channels, 3, stride=2, padding=1)]
        layers += [ResBlock(channels, act) for _ in range(res_blocks)]
        layers += [activation(act), nn.Conv2d(channels, out_channels, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode a batch of images (or maps) to a smaller map."""
        return self.net(x)


class ConvMapDecoder(nn.Module):
    """``(B, in_channels, h, w) -> (B, out_channels, H, W)``, the mirror of the encoder.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input map and of the output.
    sizes : sequence of (int, int)
        Spatial sizes from the output's (first) to the input map's (last), as given by
        :func:`halved_sizes`; one transposed stride-2 layer per step.
    channels : int
        Width of the hidden layers.
    res_blocks : int
        Residual blocks at the input resolution.
    act : str
        Hidden activation.
    """

    def __init__(self, in_channels: int, out_channels: int, sizes: Sequence[tuple[int, int]],
                 channels: int = 32, res_blocks: int = 1, act: str = "relu") -> None:
        super().__init__()
        sizes = [tuple(s) for s in sizes]
        layers: list[nn.Module] = [nn.Conv2d(in_channels, channels, 3, padding=1)]
        layers += [ResBlock(channels, act) for _ in range(res_blocks)]
        for i in range(len(sizes) - 1, 0, -1):
            (h_out, w_out), (h_in, w_in) = sizes[i - 1], sizes[i]
            # a 3x3 transposed conv, stride 2, padding 1 gives 2 * (in - 1) + 1 + output_padding
            pad = (h_out - (2 * (h_in - 1) + 1), w_out - (2 * (w_in - 1) + 1))
            layers += [activation(act),
                       nn.ConvTranspose2d(channels, channels, 3, stride=2, padding=1,
                                          output_padding=pad)]
        layers += [activation(act), nn.Conv2d(channels, out_channels, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Decode a batch of maps to the output resolution."""
        return self.net(z)
