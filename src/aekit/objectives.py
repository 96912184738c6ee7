"""Sample-based estimators that a model's objective and a metric both use.

Two families share them: the Wasserstein autoencoder trains on the MMD and the metrics
test two samples with it; the IWAE trains on the importance-weighted bound and the
likelihood metrics estimate log p(x) with it. They live here, below both.

**Maximum mean discrepancy** between two samples (Gretton et al. 2012).

    MMD^2(P, Q) = E k(x, x') + E k(y, y') - 2 E k(x, y),    x, x' ~ P,  y, y' ~ Q

estimated without bias by the U-statistic

    MMD^2_u = 1/(n(n-1)) sum_{i != j} k(x_i, x_j) + 1/(m(m-1)) sum_{i != j} k(y_i, y_j)
              - 2/(nm) sum_{i, j} k(x_i, y_j)

whose expectation is exactly MMD^2 (0 when P = Q, so single estimates can be negative).
Kernels, with ``c = scale * c_base`` and ``c_base = 2 d`` by default (Tolstikhin et al.
2018: 2 d sigma_z^2 for a unit-variance prior on d dimensions):

    inverse multiquadratic (``"imq"``):  k(x, y) = c / (c + ||x - y||^2)
    Gaussian RBF (``"rbf"``):            k(x, y) = exp(-||x - y||^2 / c)

Several scales may be given; their kernels are summed (still a kernel), which is how
Wasserstein autoencoders use the IMQ kernel. Inputs may carry leading batch dimensions
``(..., n, d)`` to estimate many MMDs at once.

**The importance-weighted bound** (Burda, Grosse & Salakhutdinov 2016). For any model
with a Gaussian posterior q(z|x), a prior p(z) and a likelihood p(x|z):

    L_k(x) = E_{z_1..z_k ~ q(z|x)} [ log (1/k) sum_i p(x, z_i) / q(z_i | x) ]

computed as ``logsumexp_i(log p(x|z_i) + log p(z_i) - log q(z_i|x)) - log k``. L_1 is the
ELBO, L_k <= L_{k+1} <= log p(x) in expectation, and L_k -> log p(x) as k -> inf.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from aekit.errors import ConfigError

__all__ = [
    "KERNELS",
    "WAE_SCALES",
    "importance_weighted_bound",
    "kernel_matrix",
    "log_weights",
    "mmd2_unbiased",
    "squared_distances",
]

KERNELS = ("imq", "rbf")
WAE_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)  # the scales of Tolstikhin et al.'s code


def squared_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``||x_i - y_j||^2`` for ``x (..., n, d)`` and ``y (..., m, d)``, shape ``(..., n, m)``."""
    d2 = (x.square().sum(-1)[..., :, None] + y.square().sum(-1)[..., None, :]
          - 2 * x @ y.transpose(-1, -2))
    return d2.clamp_min(0.0)


def kernel_matrix(x: torch.Tensor, y: torch.Tensor, kernel: str = "imq",
                  scales: Sequence[float] = (1.0,), c_base: float | None = None) -> torch.Tensor:
    """Summed kernel ``sum_s k_s(x_i, y_j)``, shape ``(..., n, m)``.

    Parameters
    ----------
    x, y : torch.Tensor
        Samples ``(..., n, d)`` and ``(..., m, d)``.
    kernel : str
        ``"imq"`` or ``"rbf"``.
    scales : sequence of float
        Multipliers of ``c_base``; one kernel per scale, summed.
    c_base : float, optional
        Base kernel width ``c``; default ``2 * d``.
    """
    if kernel not in KERNELS:
        raise ConfigError(f"kernel={kernel!r} is not one of {KERNELS}")
    if not scales or any(s <= 0 for s in scales):
        raise ConfigError(f"scales must be positive numbers, got {tuple(scales)}")
    base = 2.0 * x.shape[-1] if c_base is None else c_base
    d2 = squared_distances(x, y)
    out = torch.zeros_like(d2)
    for s in scales:
        c = s * base
        out = out + (c / (c + d2) if kernel == "imq" else torch.exp(-d2 / c))
    return out


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor, kernel: str = "imq",
                  scales: Sequence[float] = (1.0,), c_base: float | None = None) -> torch.Tensor:
    """The unbiased U-statistic estimate of MMD^2 between samples ``x`` and ``y``.

    Parameters
    ----------
    x, y : torch.Tensor
        Samples ``(..., n, d)`` and ``(..., m, d)`` with ``n, m >= 2``.
    kernel, scales, c_base
        As in :func:`kernel_matrix`.

    Returns
    -------
    torch.Tensor
        Shape ``(...)``; its expectation is the true MMD^2, so it can be negative.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> x, y = torch.randn(200, 2, generator=g), torch.randn(200, 2, generator=g) + 1.0
    >>> bool(mmd2_unbiased(x, y) > 0.05)
    True
    """
    n, m = x.shape[-2], y.shape[-2]
    if n < 2 or m < 2:
        raise ConfigError(f"the unbiased MMD needs at least 2 points per sample, got {n}, {m}")
    kxx = kernel_matrix(x, x, kernel, scales, c_base)
    kyy = kernel_matrix(y, y, kernel, scales, c_base)
    kxy = kernel_matrix(x, y, kernel, scales, c_base)
    sum_xx = kxx.sum((-1, -2)) - kxx.diagonal(dim1=-2, dim2=-1).sum(-1)
    sum_yy = kyy.sum((-1, -2)) - kyy.diagonal(dim1=-2, dim2=-1).sum(-1)
    return sum_xx / (n * (n - 1)) + sum_yy / (m * (m - 1)) - 2 * kxy.sum((-1, -2)) / (n * m)


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
