"""Multi-layer perceptrons for vector data (and for flattened data of any shape)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from aekit.nn.cpu_linear import ONEDNN, linear_act

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


# activations whose gradient needs only their output, so they may overwrite their input
IN_PLACE = ("relu", "leaky_relu")


def activation(name: str, inplace: bool = False) -> nn.Module:
    """A fresh activation module by name (``relu``, ``gelu``, ``tanh``, ...).

    With ``inplace=True`` the activations in :data:`IN_PLACE` overwrite their input
    (the caller guarantees nothing else reads it); the others ignore the flag.
    """
    try:
        cls = ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}"
        ) from None
    return cls(inplace=True) if inplace and name in IN_PLACE else cls()


class MLP(nn.Sequential):
    """``in_dim -> hidden_dims... -> out_dim`` with an activation after each hidden layer.

    Inputs of shape ``(B, *in_shape)`` are flattened to ``(B, in_dim)`` first, so an
    MLP can encode images too. With ``hidden_dims=()`` it is a single affine map.
    ReLU-type activations work in place on their layer's fresh output (nothing else
    reads it), which saves a pass over memory per layer: about 15 % of the time of
    ``iwae_nll`` on digits. Without autograd on the CPU each large enough layer runs as
    one oneDNN call with its bias (and activation) fused (:mod:`aekit.nn.cpu_linear`);
    that path calls the layers' weights directly, so forward hooks registered on the
    Linear or activation modules (e.g. pruning, weight norm) are not run there.
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
            layers += [nn.Linear(d_in, d_out), activation(act, inplace=True)]
        layers.append(nn.Linear(dims[-1], out_dim))
        if out_shape is not None and tuple(out_shape) != (out_dim,):
            if math.prod(out_shape) != out_dim:
                raise ValueError(f"out_shape {tuple(out_shape)} does not hold {out_dim} values")
            layers.append(nn.Unflatten(1, tuple(out_shape)))
        super().__init__(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The layers in order; at inference on the CPU, each Linear fused with its
        activation."""
        if not ONEDNN or torch.is_grad_enabled() or x.device.type != "cpu":
            return super().forward(x)
        mods = list(self)
        i = 0
        while i < len(mods):
            if isinstance(mods[i], nn.Linear):
                act = mods[i + 1] if i + 1 < len(mods) and isinstance(mods[i + 1],
                                                                      _ACTIVATION_TYPES) else None
                x = linear_act(x, mods[i], act)
                i += 1 if act is None else 2
            else:
                x = mods[i](x)
                i += 1
        return x


_ACTIVATION_TYPES = tuple(ACTIVATIONS.values())
