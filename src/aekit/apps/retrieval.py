"""Exact nearest-neighbour search in code space (brute force, chunked).

Codes of a reducer are low-dimensional (2 to a few dozen values) and the reference set
is the training data, so exact search by brute force is fast enough up to ~10^5-10^6
references and needs no index library. Distances are Euclidean, computed by direct
differences (not the ``|a|^2 - 2ab + |b|^2`` expansion, which loses precision for
near-identical points, so a point's distance to itself is exactly 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from aekit.errors import ConfigError

__all__ = ["exact_neighbors"]


def exact_neighbors(queries: Any, references: Any, k: int, *,
                    chunk_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest references of each query, nearest first.

    Parameters
    ----------
    queries : array-like of shape (n_queries, d)
    references : array-like of shape (n_references, d)
    k : int
        Neighbours per query, in ``[1, n_references]``.
    chunk_size : int
        Queries compared at once (memory is ``chunk_size * n_references`` floats).

    Returns
    -------
    indices : ndarray of int64, shape (n_queries, k)
        Rows of ``references``; ties are broken by the lower index.
    distances : ndarray of float64, shape (n_queries, k)
        Euclidean distances, non-decreasing along each row.
    """
    q = torch.as_tensor(np.asarray(queries, dtype=np.float64))
    r = torch.as_tensor(np.asarray(references, dtype=np.float64))
    if q.ndim != 2 or r.ndim != 2 or q.shape[1] != r.shape[1]:
        raise ConfigError(f"queries {tuple(q.shape)} and references {tuple(r.shape)} must be "
                          "2-D with the same number of columns")
    if not 1 <= k <= len(r):
        raise ConfigError(f"k must be in [1, {len(r)}] (the number of references), got {k}")
    idx, dist = [], []
    for i in range(0, len(q), chunk_size):
        d = torch.cdist(q[i:i + chunk_size], r, compute_mode="donot_use_mm_for_euclid_dist")
        order = torch.argsort(d, dim=1, stable=True)[:, :k]
        idx.append(order)
        dist.append(torch.gather(d, 1, order))
    if not idx:
        return np.empty((0, k), dtype=np.int64), np.empty((0, k))
    return torch.cat(idx).numpy(), torch.cat(dist).numpy()
