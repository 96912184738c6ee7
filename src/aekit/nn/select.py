"""Pick encoder and decoder networks from the data's shape (the modality).

``arch="auto"`` chooses an MLP for vectors ``(D,)``, a 1-D conv net (``"seq"``) for
multichannel sequences ``(C, T)`` and a conv net for images ``(C, H, W)``; sequences can
use a GRU instead (``arch="gru"``), and any shape can be forced through an MLP with
``arch="mlp"``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from aekit.errors import ConfigError
from aekit.nn.conv2d import ConvDecoder, ConvEncoder
from aekit.nn.mlp import MLP
from aekit.nn.seq import GRUDecoder, GRUEncoder, SeqConvDecoder, SeqConvEncoder

ARCHS = ("auto", "mlp", "conv", "seq", "gru")


def resolve_arch(arch: str, input_shape: Sequence[int]) -> str:
    """The concrete architecture name for ``arch`` on data of ``input_shape``."""
    if arch not in ARCHS:
        raise ConfigError(f"arch={arch!r} is not one of {ARCHS}")
    shape = tuple(input_shape)
    if arch == "auto":
        return {3: "conv", 2: "seq"}.get(len(shape), "mlp")
    if arch in ("seq", "gru") and len(shape) != 2:
        raise ConfigError(
            f"arch={arch!r} needs sequences of shape (C, T); input_shape is {shape}"
        )
    if arch == "conv" and len(shape) != 3:
        raise ConfigError(
            f"arch='conv' needs images of shape (C, H, W); input_shape is {shape}"
        )
    return arch


def build_encoder(
    input_shape: Sequence[int],
    out_dim: int,
    *,
    arch: str = "auto",
    hidden_dims: Sequence[int] = (256, 128),
    base_channels: int = 32,
    act: str = "relu",
) -> nn.Module:
    """Network mapping ``(B, *input_shape)`` to ``(B, out_dim)``."""
    shape = tuple(input_shape)
    kind = resolve_arch(arch, shape)
    if kind == "conv":
        return ConvEncoder(shape, out_dim, base_channels=base_channels, act=act)
    if kind == "seq":
        return SeqConvEncoder(shape, out_dim, base_channels=base_channels, act=act)
    if kind == "gru":  # hidden size: the first of hidden_dims
        return GRUEncoder(shape, out_dim, hidden_size=tuple(hidden_dims or (64,))[0])
    return MLP(math.prod(shape), hidden_dims, out_dim, act=act)


def build_decoder(
    latent_dim: int,
    output_shape: Sequence[int],
    *,
    arch: str = "auto",
    hidden_dims: Sequence[int] = (256, 128),
    base_channels: int = 32,
    act: str = "relu",
) -> nn.Module:
    """Network mapping ``(B, latent_dim)`` to ``(B, *output_shape)`` decoder outputs."""
    shape = tuple(output_shape)
    kind = resolve_arch(arch, shape)
    if kind == "conv":
        return ConvDecoder(latent_dim, shape, base_channels=base_channels, act=act)
    if kind == "seq":
        return SeqConvDecoder(latent_dim, shape, base_channels=base_channels, act=act)
    if kind == "gru":
        return GRUDecoder(latent_dim, shape, hidden_size=tuple(hidden_dims or (64,))[0])
    return MLP(latent_dim, tuple(reversed(tuple(hidden_dims))), math.prod(shape), act=act,
               out_shape=shape)
