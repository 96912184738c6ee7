"""Pick encoder and decoder networks from the data's shape (the modality).

``arch="auto"`` chooses an MLP for vectors ``(D,)`` and a conv net for images
``(C, H, W)``; any shape can be forced through an MLP with ``arch="mlp"``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from aekit.errors import ConfigError
from aekit.nn.conv2d import ConvDecoder, ConvEncoder
from aekit.nn.mlp import MLP

ARCHS = ("auto", "mlp", "conv")


def resolve_arch(arch: str, input_shape: Sequence[int]) -> str:
    """The concrete architecture name for ``arch`` on data of ``input_shape``."""
    if arch not in ARCHS:
        raise ConfigError(f"arch={arch!r} is not one of {ARCHS}")
    shape = tuple(input_shape)
    if arch == "auto":
        return "conv" if len(shape) == 3 else "mlp"
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
    if resolve_arch(arch, shape) == "conv":
        return ConvEncoder(shape, out_dim, base_channels=base_channels, act=act)
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
    if resolve_arch(arch, shape) == "conv":
        return ConvDecoder(latent_dim, shape, base_channels=base_channels, act=act)
    return MLP(latent_dim, tuple(reversed(tuple(hidden_dims))), math.prod(shape), act=act,
               out_shape=shape)
