"""Multi-layer perceptrons for vector data (and for flattened data of any shape)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


def activation(name: str) -> nn.Module:
    """A fresh activation module by name (``relu``, ``gelu``, ``tanh``, ...)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}"
        ) from None


class MLP(nn.Sequential):
    """``in_dim -> hidden_dims... -> out_dim`` with an activation after each hidden layer.

    Inputs of shape ``(B, *in_shape)`` are flattened to ``(B, in_dim)`` first, so an
    MLP can encode images too. With ``hidden_dims=()`` it is a single affine map.
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dims: Sequence[int],
        out_dim: int,
        act: str = "relu",
        out_shape: Sequence[int] | None = None,
    ) -> None:
        layers: list[nn.Module] = [nn.Flatten()]
        dims = [in_dim, *hidden_dims]
        for d_in, d_out in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(d_in, d_out), activation(act)]
        layers.append(nn.Linear(dims[-1], out_dim))
        if out_shape is not None and tuple(out_shape) != (out_dim,):
            if math.prod(out_shape) != out_dim:
                raise ValueError(f"out_shape {tuple(out_shape)} does not hold {out_dim} values")
            layers.append(nn.Unflatten(1, tuple(out_shape)))
        super().__init__(*layers)
