"""Building blocks by data modality: MLPs for vectors, conv nets for images."""

from aekit.nn.conv2d import ConvDecoder, ConvEncoder
from aekit.nn.mlp import MLP, activation
from aekit.nn.select import ARCHS, build_decoder, build_encoder, resolve_arch

__all__ = [
    "ARCHS",
    "MLP",
    "ConvDecoder",
    "ConvEncoder",
    "activation",
    "build_decoder",
    "build_encoder",
    "resolve_arch",
]
