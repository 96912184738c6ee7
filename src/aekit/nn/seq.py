"""Encoders and decoders for multichannel sequences shaped ``(C, T)`` (channels, time).

Two families:

* 1-D convolutions (``arch="seq"``, the default for 2-D input shapes): stride-2 kernel-3
  convolutions halve the length until it is at most ``min_size`` (28 -> 14 -> 7 -> 4),
  then a linear head maps the feature map to a vector. The decoder mirrors the encoder,
  choosing each transposed convolution's ``output_padding`` so every intermediate length
  matches, and ends at exactly ``T`` steps.
* Gated recurrent units (``arch="gru"``): the encoder reads the sequence step by step and
  maps its last hidden state to a vector; the decoder starts from a hidden state computed
  from the code, is fed the code at every step, and maps each hidden state to ``C``
  values.
"""

from __future__ import annotations

import torch
from torch import nn

from aekit.nn.conv2d import downsample_sizes
from aekit.nn.mlp import activation


def _plan(length: int, base_channels: int, max_channels: int,
          min_size: int) -> tuple[list[int], list[int]]:
    """Per-level lengths and channel counts shared by the conv encoder and decoder."""
    sizes = downsample_sizes(length, min_size)
    channels = [min(base_channels * 2**i, max_channels) for i in range(len(sizes))]
    return sizes, channels


class SeqConvEncoder(nn.Module):
    """``(B, C, T) -> (B, out_dim)``: strided 1-D conv stack, then a linear head."""

    def __init__(
        self,
        input_shape: tuple[int, int],
        out_dim: int,
        base_channels: int = 32,
        max_channels: int = 256,
        min_size: int = 4,
        act: str = "relu",
    ) -> None:
        super().__init__()
        c_in, length = input_shape
        sizes, channels = _plan(length, base_channels, max_channels, min_size)
        layers: list[nn.Module] = [nn.Conv1d(c_in, channels[0], 3, padding=1), activation(act)]
        for i in range(1, len(sizes)):
            layers += [nn.Conv1d(channels[i - 1], channels[i], 3, stride=2, padding=1),
                       activation(act)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(channels[-1] * sizes[-1], out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode a batch of sequences to vectors."""
        return self.head(self.features(x))


class SeqConvDecoder(nn.Module):
    """``(B, in_dim) -> (B, C, T)``, the exact mirror of :class:`SeqConvEncoder`."""

    def __init__(
        self,
        in_dim: int,
        output_shape: tuple[int, int],
        base_channels: int = 32,
        max_channels: int = 256,
        min_size: int = 4,
        act: str = "relu",
    ) -> None:
        super().__init__()
        c_out, length = output_shape
        sizes, channels = _plan(length, base_channels, max_channels, min_size)
        self.head = nn.Sequential(
            nn.Linear(in_dim, channels[-1] * sizes[-1]),
            nn.Unflatten(1, (channels[-1], sizes[-1])),
            activation(act),
        )
        layers: list[nn.Module] = []
        for i in range(len(sizes) - 1, 0, -1):
            # a kernel-3 transposed conv with padding 1 and stride 2 gives 2*(in-1)+1+pad
            out_pad = sizes[i - 1] - (2 * (sizes[i] - 1) + 1)
            layers += [nn.ConvTranspose1d(channels[i], channels[i - 1], 3, stride=2, padding=1,
                                          output_padding=out_pad),
                       activation(act)]
        layers.append(nn.Conv1d(channels[0], c_out, 3, padding=1))
        self.features = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Decode a batch of vectors to sequence-shaped decoder outputs."""
        return self.features(self.head(z))


class GRUEncoder(nn.Module):
    """``(B, C, T) -> (B, out_dim)``: a GRU over time, its last hidden state, a linear head."""

    def __init__(self, input_shape: tuple[int, int], out_dim: int, hidden_size: int = 64,
                 num_layers: int = 1) -> None:
        super().__init__()
        self.gru = nn.GRU(input_shape[0], hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode a batch of sequences to vectors."""
        _, h = self.gru(x.transpose(1, 2))  # h: (layers, B, hidden)
        return self.head(h[-1])


class GRUDecoder(nn.Module):
    """``(B, in_dim) -> (B, C, T)``: a GRU started from and fed with the code at each step."""

    def __init__(self, in_dim: int, output_shape: tuple[int, int], hidden_size: int = 64,
                 num_layers: int = 1) -> None:
        super().__init__()
        self.channels, self.length = output_shape
        self.num_layers = num_layers
        self.init = nn.Linear(in_dim, hidden_size * num_layers)
        self.gru = nn.GRU(in_dim, hidden_size, num_layers=num_layers, batch_first=True)
        self.out = nn.Linear(hidden_size, self.channels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Decode a batch of vectors to sequence-shaped decoder outputs."""
        b = z.shape[0]
        h0 = torch.tanh(self.init(z)).view(b, self.num_layers, -1).transpose(0, 1).contiguous()
        steps = z.unsqueeze(1).expand(b, self.length, z.shape[1])
        out, _ = self.gru(steps, h0)
        return self.out(out).transpose(1, 2)
