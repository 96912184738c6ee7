"""Maximum mean discrepancy between two samples (Gretton et al. 2012).

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
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from aekit.errors import ConfigError

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


def mmd_permutation_test(x: torch.Tensor, y: torch.Tensor, kernel: str = "imq",
                         scales: Sequence[float] = (1.0,), c_base: float | None = None,
                         permutations: int = 500,
                         generator: torch.Generator | None = None) -> tuple[float, float]:
    """Two-sample test of P = Q by permuting the pooled sample.

    Parameters
    ----------
    x, y : torch.Tensor
        Samples ``(n, d)`` and ``(m, d)``.
    kernel, scales, c_base
        As in :func:`kernel_matrix`.
    permutations : int
        Number of random relabellings of the pooled sample.
    generator : torch.Generator, optional
        Source of the permutations (for reproducible p-values).

    Returns
    -------
    (float, float)
        The observed ``MMD^2_u`` and the p-value ``(1 + #{perm >= observed}) / (1 + P)``.
    """
    n, m = x.shape[0], y.shape[0]
    z = torch.cat([x, y]).detach().cpu().double()  # float64 on the CPU, like the permutations
    k = kernel_matrix(z, z, kernel, scales, c_base)
    k0 = k - torch.diag(k.diagonal())
    labels = torch.cat([torch.ones(n), torch.zeros(m)]).double()
    perms = torch.stack([torch.randperm(n + m, generator=generator)
                         for _ in range(permutations)])
    s = torch.cat([labels[None], labels[perms]])  # (P + 1, n + m), row 0 = observed
    t = 1.0 - s
    sum_xx = ((s @ k0) * s).sum(1)
    sum_yy = ((t @ k0) * t).sum(1)
    sum_xy = ((s @ k) * t).sum(1)
    stats = sum_xx / (n * (n - 1)) + sum_yy / (m * (m - 1)) - 2 * sum_xy / (n * m)
    observed = stats[0]
    p_value = (1 + int((stats[1:] >= observed).sum())) / (1 + permutations)
    return float(observed), p_value
