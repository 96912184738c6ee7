"""Contractive autoencoder (Rifai, Vincent, Muller, Glorot & Bengio 2011).

    h = f(x),   L(x) = -log p(x | g(h)) + lambda * ||J_f(x)||_F^2,   J_f(x) = dh / dx

per example (the NLL summed over data dimensions), averaged over the batch. The
Frobenius norm of the encoder's Jacobian is computed in one of three ways
(``jacobian``):

* ``closed_form``, for a single sigmoid layer ``h = sigmoid(W x + b)`` (``hidden_dims=()``,
  ``code_activation="sigmoid"``, MLP):
  ``||J||_F^2 = sum_j (h_j (1 - h_j))^2 sum_i W_ji^2``, no autograd needed;
* ``exact``, for any encoder: the full Jacobian per example with
  ``torch.func.vmap(torch.func.jacrev(f))``, one reverse pass per code unit, so best for
  small codes and inputs;
* ``hutchinson``, for big inputs: the unbiased random-projection estimate
  ``||J||_F^2 = E_v ||v^T J||^2`` with ``v ~ N(0, I_K)``, averaged over
  ``n_projections`` vector-Jacobian products (one reverse pass each). It is an
  estimator: exact in expectation, noisy per step.

``auto`` picks ``closed_form`` when it applies and ``exact`` otherwise. All three
differentiate through the penalty (the gradient of lambda ||J||^2 reaches the weights).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from aekit.errors import ConfigError
from aekit.models.ae import AE, AEConfig
from aekit.models.base import Batch, Loss, unpack
from aekit.models.registry import register
from aekit.nn import activation, resolve_arch

JACOBIANS = ("auto", "closed_form", "exact", "hutchinson")
CODE_ACTIVATIONS = ("sigmoid", "tanh", "none")

Encoder = Callable[[torch.Tensor], torch.Tensor]


def jacobian_frobenius_sq(f: Encoder, x: torch.Tensor) -> torch.Tensor:
    """Exact ``||df/dx||_F^2`` per example, shape ``(B,)``, for a per-example map ``f``.

    ``f`` maps a batch ``(B, *shape)`` to ``(B, K)`` treating examples independently.
    """
    def one(xi: torch.Tensor) -> torch.Tensor:
        return f(xi.unsqueeze(0)).squeeze(0)

    jac = torch.func.vmap(torch.func.jacrev(one))(x)  # (B, K, *shape)
    return jac.square().flatten(1).sum(1)


def hutchinson_frobenius_sq(f: Encoder, x: torch.Tensor, n_projections: int = 1,
                            generator: torch.Generator | None = None) -> torch.Tensor:
    """Unbiased estimate of ``||df/dx||_F^2`` per example, shape ``(B,)``.

    Averages ``||v^T J||^2`` over ``n_projections`` draws of ``v ~ N(0, I_K)``, since
    ``E[v^T J J^T v] = tr(J J^T) = ||J||_F^2``. Each draw costs one vector-Jacobian
    product, whatever the input and code sizes.
    """
    h, vjp = torch.func.vjp(f, x)
    total = torch.zeros(len(x), dtype=h.dtype, device=h.device)
    for _ in range(n_projections):
        v = torch.randn(h.shape, generator=generator, dtype=h.dtype, device=h.device)
        (vj,) = vjp(v)
        total = total + vj.square().flatten(1).sum(1)
    return total / n_projections


def sigmoid_layer_frobenius_sq(h: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Closed-form ``||J||_F^2`` of ``h = sigmoid(W x + b)``: ``sum_j (h_j(1-h_j))^2 ||W_j||^2``.

    ``h`` is ``(B, K)``, ``weight`` is ``W`` of shape ``(K, D)``; returns ``(B,)``.
    """
    return (h * (1 - h)).square() @ weight.square().sum(1)


@dataclass
class CAEConfig(AEConfig):
    """Settings of the contractive autoencoder."""

    contractive_weight: float = 0.1  # lambda, the weight of ||J_f(x)||_F^2
    code_activation: str = "sigmoid"  # applied to the code: sigmoid | tanh | none
    jacobian: str = "auto"  # auto | closed_form (one sigmoid layer) | exact | hutchinson
    n_projections: int = 1  # random projections per step (jacobian="hutchinson")

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (self.contractive_weight >= 0 and math.isfinite(self.contractive_weight)):
            raise ConfigError(f"contractive_weight must be a finite value >= 0, "
                              f"got {self.contractive_weight}")
        if self.code_activation not in CODE_ACTIVATIONS:
            raise ConfigError(f"code_activation={self.code_activation!r} is not one of "
                              f"{CODE_ACTIVATIONS}")
        if self.jacobian not in JACOBIANS:
            raise ConfigError(f"jacobian={self.jacobian!r} is not one of {JACOBIANS}")
        if self.n_projections < 1:
            raise ConfigError(f"n_projections must be >= 1, got {self.n_projections}")
        if self.jacobian == "closed_form" and not self.single_sigmoid_layer:
            raise ConfigError(
                "jacobian='closed_form' needs a single sigmoid layer encoder: "
                "hidden_dims=(), code_activation='sigmoid' and an MLP (arch='mlp', or 'auto' "
                f"on vectors); got hidden_dims={self.hidden_dims}, "
                f"code_activation={self.code_activation!r}, arch={self.arch!r}")

    @property
    def single_sigmoid_layer(self) -> bool:
        """True when the encoder is ``sigmoid(W x + b)``, so the closed form applies."""
        return (not self.hidden_dims and self.code_activation == "sigmoid"
                and resolve_arch(self.arch, self.input_shape) == "mlp")

    @property
    def jacobian_method(self) -> str:
        """The concrete method ``auto`` resolves to."""
        if self.jacobian != "auto":
            return self.jacobian
        return "closed_form" if self.single_sigmoid_layer else "exact"


@register
class CAE(AE):
    """Autoencoder with the contractive penalty lambda * ||J_f(x)||_F^2 on its encoder."""

    name = "cae"
    Config = CAEConfig

    def __init__(self, config: CAEConfig) -> None:
        super().__init__(config)
        if config.code_activation != "none":
            self.encoder = nn.Sequential(self.encoder, activation(config.code_activation))

    def jacobian_norm_sq(self, x: torch.Tensor, method: str | None = None,
                         h: torch.Tensor | None = None) -> torch.Tensor:
        """``||J_f(x)||_F^2`` per example, shape ``(B,)``.

        Parameters
        ----------
        x : torch.Tensor
            Inputs ``(B, *input_shape)``.
        method : str, optional
            ``closed_form``, ``exact`` or ``hutchinson``; default: the config's.
        h : torch.Tensor, optional
            ``f(x)`` if already computed (reused by the closed form).
        """
        method = method or self.config.jacobian_method
        if method == "closed_form":
            if not self.config.single_sigmoid_layer:
                raise ConfigError("jacobian method 'closed_form' needs a single sigmoid layer "
                                  "encoder (hidden_dims=(), code_activation='sigmoid', mlp)")
            linear = next(m for m in self.encoder.modules() if isinstance(m, nn.Linear))
            return sigmoid_layer_frobenius_sq(self.encoder(x) if h is None else h,
                                              linear.weight)
        if method == "exact":
            return jacobian_frobenius_sq(self.encoder, x)
        if method == "hutchinson":
            return hutchinson_frobenius_sq(self.encoder, x, self.config.n_projections)
        raise ConfigError(f"jacobian method {method!r} is not one of {JACOBIANS[1:]}")

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """``recon + contractive_weight * ||J_f(x)||_F^2``; terms ``recon`` and
        ``contractive`` (the unweighted batch-mean squared Frobenius norm)."""
        x, _ = unpack(batch)
        h = self.encoder(x)
        recon = self.likelihood.nll(self.decoder(h), x)  # (B,)
        jac = self.jacobian_norm_sq(x, h=h)  # (B,)
        per_example = recon + self.config.contractive_weight * jac
        return Loss(per_example.mean(), {"recon": recon.mean(), "contractive": jac.mean()},
                    per_example=per_example)
