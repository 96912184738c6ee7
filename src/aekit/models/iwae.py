"""Importance-weighted autoencoder (Burda, Grosse & Salakhutdinov 2016).

For any model with a Gaussian posterior q(z|x), a prior p(z) and a likelihood p(x|z):

    L_k(x) = E_{z_1..z_k ~ q(z|x)} [ log (1/k) sum_i p(x, z_i) / q(z_i | x) ]

computed as ``logsumexp_i(log p(x|z_i) + log p(z_i) - log q(z_i|x)) - log k``. L_1 is the
ELBO, L_k <= L_{k+1} <= log p(x) in expectation, and L_k -> log p(x) as k -> inf. The
``iwae`` model trains a VAE on -L_k (batch mean of per-example bounds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from aekit.errors import ConfigError
from aekit.models.base import Batch, Loss, unpack
from aekit.models.registry import register
from aekit.models.vae import VAE, VAEConfig


def log_weights(model: Any, x: torch.Tensor, k: int, y: torch.Tensor | None = None,
                chunk: int | None = None) -> torch.Tensor:
    """``log p(x, z_i) - log q(z_i | x)`` for ``k`` posterior samples per example, ``(k, B)``.

    All examples and samples go through the decoder together, ``chunk`` samples at a time
    (default: as many as keep a chunk under about 2**20 decoded values).
    """
    q = model.encode(x, y) if y is not None else model.encode(x)
    n_values = max(1, x[0].numel())
    chunk = chunk or max(1, min(k, (1 << 20) // max(1, len(x) * n_values)))
    parts = []
    for start in range(0, k, chunk):
        s = min(chunk, k - start)
        z = q.rsample(s)  # (s, B, K)
        flat = z.reshape(s * len(x), -1)
        yy = None if y is None else y.repeat(s, *([1] * (y.ndim - 1)))
        out = model.decode_logits(flat, yy) if yy is not None else model.decode_logits(flat)
        xs = x.unsqueeze(0).expand(s, *x.shape).reshape(s * len(x), *x.shape[1:])
        log_px = -model.likelihood.nll(out, xs).reshape(s, len(x))
        parts.append(log_px + model.prior.log_prob(z) - q.log_prob(z))
    return torch.cat(parts)


def importance_weighted_bound(model: Any, x: torch.Tensor, k: int,
                              y: torch.Tensor | None = None,
                              chunk: int | None = None) -> torch.Tensor:
    """Per-example L_k, shape ``(B,)``, in nats (a lower bound on log p(x))."""
    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")
    return torch.logsumexp(log_weights(model, x, k, y, chunk), 0) - math.log(k)


@dataclass
class IWAEConfig(VAEConfig):
    """Settings of the IWAE."""

    k: int = 5  # importance samples per example in the training bound

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.k < 1:
            raise ConfigError(f"k must be >= 1, got {self.k}")
        # -L_k has no separate KL term to weigh, warm up or floor: refused, not ignored.
        for name, off in (("beta", 1.0), ("kl_warmup_steps", 0), ("free_bits", 0.0)):
            if getattr(self, name) != off:
                raise ConfigError(f"iwae trains the importance-weighted bound, which has no "
                                  f"KL term: {name} must stay {off} (use vae or beta_vae "
                                  f"for {name})")


@register
class IWAE(VAE):
    """VAE trained on the k-sample importance-weighted bound -L_k."""

    name = "iwae"
    Config = IWAEConfig

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """``-L_k`` per example, averaged over the batch (``bound`` term = -L_k)."""
        x, y = unpack(batch)
        bound = importance_weighted_bound(self, x, self.config.k, y if self.conditional
                                          else None)
        total = -bound.mean()
        return Loss(total, {"bound": total}, per_example=-bound)
