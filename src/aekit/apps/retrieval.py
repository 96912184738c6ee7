"""Nearest-neighbour search in code space (brute force, chunked), two ways.

Codes are low-dimensional (2 to a few dozen values) and the reference sets are at most
the training data, so brute force is fast enough up to ~10^5-10^6 references and needs
no index library. Two routines, for two needs:

* :func:`exact_neighbors` (the reducer's ``nearest``): which references, in order, at
  what distance. Float64 and direct differences (not the ``|a|^2 - 2ab + |b|^2``
  expansion, which loses precision for near-identical points, so a point's distance to
  itself is exactly 0), and a full stable sort (ties broken by index).
* :func:`mean_knn_distance` (the anomaly detector's latent score, run on every scored
  row): only the mean distance to the k nearest. Squared distances from one matrix
  product per block of queries and a partial ``topk`` instead of per-pair differences
  and a full sort, at float32 rounding, which a score does not mind.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from aekit.errors import ConfigError

__all__ = ["exact_neighbors", "knn_search", "mean_knn_distance"]

KNN_CHUNK = 256  # queries per block of mean_knn_distance (distances stay in cache)


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


def knn_search(queries: torch.Tensor, refs: torch.Tensor, k: int,
               exclude: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Euclidean distances to, and indices of, the ``k`` nearest references of each query.

    ``exclude[i]`` (>= 0) is the index of a reference equal to query ``i`` (itself), which
    is skipped. Squared distances come from one matrix product of augmented vectors,
    ``[q, |q|^2, 1] . [-2 r, 1, |r|^2] = |q - r|^2``, over blocks of ``KNN_CHUNK``
    queries, so each block's distance matrix stays in the CPU caches (memory is
    ``KNN_CHUNK * len(refs)`` values). Both outputs have shape ``(n_queries, k)``,
    nearest first.
    """
    ones_r = torch.ones(len(refs), 1, dtype=refs.dtype, device=refs.device)
    r_aug = torch.cat([-2 * refs, ones_r, refs.square().sum(1, keepdim=True)], 1).T
    ones_q = torch.ones(len(queries), 1, dtype=queries.dtype, device=queries.device)
    q_aug = torch.cat([queries, queries.square().sum(1, keepdim=True), ones_q], 1)
    dists, idx = [], []
    for i in range(0, len(queries), KNN_CHUNK):
        d2 = (q_aug[i:i + KNN_CHUNK] @ r_aug).clamp_min_(0)
        if exclude is not None:
            ex = exclude[i:i + KNN_CHUNK]
            rows = torch.nonzero(ex >= 0).squeeze(1)
            d2[rows, ex[rows]] = float("inf")
        top = torch.topk(d2, k, dim=1, largest=False)
        dists.append(top.values.sqrt_())
        idx.append(top.indices)
    return torch.cat(dists), torch.cat(idx)


def mean_knn_distance(queries: torch.Tensor, refs: torch.Tensor, k: int,
                      exclude: torch.Tensor | None = None) -> torch.Tensor:
    """Mean Euclidean distance from each query to its ``k`` nearest references
    (:func:`knn_search`; ``exclude[i]`` >= 0 is a reference skipped for query ``i``)."""
    return knn_search(queries, refs, k, exclude)[0].mean(1)
