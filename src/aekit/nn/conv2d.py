"""Convolutional encoders and decoders for images of any size and channel count.

The encoder halves the spatial size with stride-2 3x3 convolutions until both sides are
at most ``min_size`` (ceil-division, so 28 -> 14 -> 7 -> 4), then maps the feature map to
a vector. The decoder mirrors it exactly: transposed convolutions whose
``output_padding`` is chosen per layer so every intermediate size matches the encoder's,
ending at the input's own height and width without cropping.
"""

from __future__ import annotations

import torch
from torch import nn

from aekit.nn.mlp import activation


def downsample_sizes(size: int, min_size: int = 4) -> list[int]:
    """Spatial sizes visited by the encoder, e.g. ``28 -> [28, 14, 7, 4]``."""
    sizes = [size]
    while sizes[-1] > min_size:
        sizes.append((sizes[-1] + 1) // 2)
    return sizes


def _plan(
    input_shape: tuple[int, int, int], base_channels: int, max_channels: int, min_size: int
) -> tuple[list[tuple[int, int]], list[int]]:
    """Per-level ``(h, w)`` sizes and channel counts shared by encoder and decoder."""
    _, h, w = input_shape
    hs, ws = downsample_sizes(h, min_size), downsample_sizes(w, min_size)
    n = max(len(hs), len(ws))
    hs += [hs[-1]] * (n - len(hs))
    ws += [ws[-1]] * (n - len(ws))
    sizes = list(zip(hs, ws))
    channels = [min(base_channels * 2**i, max_channels) for i in range(n)]
    return sizes, channels


class ConvEncoder(nn.Module):
    """``(B, C, H, W) -> (B, out_dim)``: strided conv stack, then a linear head."""

    def __init__(
        self,
        input_shape: tuple[int, int, int],
        out_dim: int,
        base_channels: int = 32,
        max_channels: int = 256,
        min_size: int = 4,
        act: str = "relu",
    ) -> None:
        super().__init__()
        sizes, channels = _plan(input_shape, base_channels, max_channels, min_size)
        layers: list[nn.Module] = [nn.Conv2d(input_shape[0], channels[0], 3, padding=1),
                                   activation(act)]
        for i in range(1, len(sizes)):
            stride = (2 if sizes[i][0] < sizes[i - 1][0] else 1,
                      2 if sizes[i][1] < sizes[i - 1][1] else 1)
            layers += [nn.Conv2d(channels[i - 1], channels[i], 3, stride=stride, padding=1),
                       activation(act)]
        self.features = nn.Sequential(*layers)
        h, w = sizes[-1]
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(channels[-1] * h * w, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode a batch of images to vectors."""
        return self.head(self.features(x))


class ConvDecoder(nn.Module):
    """``(B, in_dim) -> (B, out_channels, H, W)``, the exact mirror of :class:`ConvEncoder`."""

    def __init__(
        self,
        in_dim: int,
        output_shape: tuple[int, int, int],
        base_channels: int = 32,
        max_channels: int = 256,
        min_size: int = 4,
        act: str = "relu",
    ) -> None:
        super().__init__()
        sizes, channels = _plan(output_shape, base_channels, max_channels, min_size)
        h, w = sizes[-1]
        self.head = nn.Sequential(
            nn.Linear(in_dim, channels[-1] * h * w),
            nn.Unflatten(1, (channels[-1], h, w)),
            activation(act),
        )
        layers: list[nn.Module] = []
        for i in range(len(sizes) - 1, 0, -1):
            (h_out, w_out), (h_in, w_in) = sizes[i - 1], sizes[i]
            stride = (2 if h_out > h_in else 1, 2 if w_out > w_in else 1)
            # a 3x3 transposed conv with padding 1 gives stride*(in-1)+1+output_padding
            out_pad = (h_out - (stride[0] * (h_in - 1) + 1), w_out - (stride[1] * (w_in - 1) + 1))
            layers += [
                nn.ConvTranspose2d(channels[i], channels[i - 1], 3, stride=stride, padding=1,
                                   output_padding=out_pad),
                activation(act),
            ]
        layers.append(nn.Conv2d(channels[0], output_shape[0], 3, padding=1))
        self.features = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Decode a batch of vectors to image-shaped decoder outputs."""
        return self.features(self.head(z))
