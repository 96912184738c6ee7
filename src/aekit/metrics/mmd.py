"""Two-sample test with the maximum mean discrepancy (the estimator is in
:mod:`aekit.objectives`, shared with the Wasserstein autoencoder).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from aekit.objectives import kernel_matrix

__all__ = ["mmd_permutation_test"]


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
