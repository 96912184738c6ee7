"""The parametric UMAP objective: a fuzzy k-NN graph of the inputs and the cross-entropy
between its edge weights and the similarities of the codes.

Sainburg, McInnes and Gentner, "Parametric UMAP embeddings for representation and
semisupervised learning", Neural Computation 33 (2021); McInnes, Healy and Melville,
"UMAP: Uniform Manifold Approximation and Projection" (2018).

High-dimensional side (computed once, :func:`fuzzy_knn_graph`). For each row ``i`` with
exact Euclidean neighbours ``j_1..j_{k-1}`` (itself excluded), ``rho_i`` is the distance
to its nearest neighbour and ``sigma_i`` solves
``sum_j exp(-max(0, d_ij - rho_i) / sigma_i) = log2(k)``; the directed weights
``w_ij = exp(-max(0, d_ij - rho_i) / sigma_i)`` are symmetrised by the fuzzy union
``p_ij = w_ij + w_ji - w_ij w_ji``.

Low-dimensional side: ``q_ij = 1 / (1 + a ||z_i - z_j||^(2b))`` with ``(a, b)`` fitted
to ``min_dist`` (:func:`find_ab`). The loss (:func:`umap_cross_entropy`) is the UMAP
cross-entropy ``sum_ij p_ij log(p_ij / q_ij) + (1 - p_ij) log((1 - p_ij) / (1 - q_ij))``
estimated by sampling: edges ``(i, j)`` drawn with probability proportional to ``p_ij``
contribute ``-log q_ij`` (attraction), and for each of them ``m`` negative pairs
``(i, j')`` (the batch's tails shuffled) contribute ``-log(1 - q_ij')`` (repulsion)::

    L_umap = (1 / B) [ sum_{b=1..B} -log q(z_i_b, z_j_b)
                       + sum_{b=1..B} sum_{r=1..m} -log(1 - q(z_i_b, z_j_{pi_r(b)})) ]

summed over the batch's positive and negative pairs and divided by the number of
positive edges ``B``, so one positive edge carries ``m`` repulsions as in UMAP.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from scipy import sparse
from scipy.optimize import curve_fit

from aekit.apps.retrieval import knn_search

__all__ = ["NEGATIVE_SAMPLE_RATE", "find_ab", "fuzzy_knn_graph", "infonce_tsne",
           "umap_cross_entropy"]

NEGATIVE_SAMPLE_RATE = 5  # negative pairs per positive edge (UMAP's default)
EPS = 1e-4  # q is clipped to [EPS, 1 - EPS] in the logs (as parametric UMAP does)
SMOOTH_ITERS = 64  # bisection steps for sigma_i


@lru_cache(maxsize=32)
def find_ab(min_dist: float, spread: float = 1.0) -> tuple[float, float]:
    """``(a, b)`` of ``q(d) = 1 / (1 + a d^(2b))`` fitted (least squares on
    ``d`` in ``[0, 3 spread]``) to the curve that is 1 up to ``min_dist`` and
    ``exp(-(d - min_dist) / spread)`` beyond, as UMAP does."""
    d = np.linspace(0, spread * 3, 300)
    target = np.where(d < min_dist, 1.0, np.exp(-(d - min_dist) / spread))
    (a, b), _ = curve_fit(lambda x, a, b: 1.0 / (1.0 + a * x ** (2 * b)), d, target)
    return float(a), float(b)


def _smooth_knn(dists: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``rho`` and ``sigma`` of every row of ``dists`` (its ``k - 1`` neighbour distances,
    nearest first), by bisection on ``sum_j exp(-max(0, d_j - rho) / sigma) = log2(k)``;
    ``sigma`` is floored at 1e-3 of the row's mean distance (UMAP's rule)."""
    target = math.log2(k)
    positive = np.where(dists > 0, dists, np.inf)
    rho = positive.min(1)
    rho[~np.isfinite(rho)] = 0.0
    excess = np.maximum(dists - rho[:, None], 0.0)
    lo = np.zeros(len(dists))
    hi = np.full(len(dists), np.inf)
    mid = np.ones(len(dists))
    for _ in range(SMOOTH_ITERS):
        total = np.exp(-excess / mid[:, None]).sum(1)
        too_big = total > target
        hi = np.where(too_big, mid, hi)
        lo = np.where(too_big, lo, mid)
        mid = np.where(np.isfinite(hi), (lo + hi) / 2, mid * 2)
    mean = dists.mean(1)
    floor = 1e-3 * np.where(rho > 0, mean, dists.mean())
    return rho, np.maximum(mid, floor)


def fuzzy_knn_graph(X: np.ndarray, n_neighbors: int, device: str = "cpu"
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The symmetric fuzzy k-NN graph of the rows of ``X`` (see the module docstring).

    Neighbours are exact (:func:`aekit.apps.retrieval.knn_search`, float32), on
    ``device``. ``n_neighbors`` counts the row itself, as in UMAP, and is cut to
    ``len(X)``.

    Returns
    -------
    heads, tails : ndarray of int64, shape (n_edges,)
        Both directions of every edge with a positive weight.
    weights : ndarray of float32, shape (n_edges,)
        ``p_ij`` in (0, 1].
    rho : ndarray of float64, shape (n_rows,)
        Each row's distance to its nearest neighbour at a positive distance (0 when
        there is none).
    """
    n = len(X)
    k = min(int(n_neighbors), n)
    x = torch.as_tensor(np.asarray(X, dtype=np.float32), device=device)
    dist, idx = knn_search(x, x, k - 1, exclude=torch.arange(n, device=device))
    dist, idx = dist.double().cpu().numpy(), idx.cpu().numpy()
    rho, sigma = _smooth_knn(dist, k)
    w = np.exp(-np.maximum(dist - rho[:, None], 0.0) / sigma[:, None])
    directed = sparse.coo_matrix((w.ravel(), (np.repeat(np.arange(n), k - 1), idx.ravel())),
                                 shape=(n, n)).tocsr()
    directed.sum_duplicates()
    transpose = directed.T.tocsr()
    union = (directed + transpose - directed.multiply(transpose)).tocoo()
    keep = union.data > 0
    return (union.row[keep].astype(np.int64), union.col[keep].astype(np.int64),
            union.data[keep].astype(np.float32), rho)


def umap_cross_entropy(z_head: torch.Tensor, z_tail: torch.Tensor, a: float, b: float,
                       generator: torch.Generator | None = None,
                       negative_sample_rate: int = NEGATIVE_SAMPLE_RATE,
                       exaggeration: float = 1.0) -> torch.Tensor:
    """The sampled UMAP cross-entropy of one batch of ``B`` positive edges (scalar).

    ``z_head[b]`` and ``z_tail[b]`` are the codes of edge ``b``'s ends, shape
    ``(B, d)``; the negatives pair every head with ``negative_sample_rate`` random
    permutations of the tails (drawn from ``generator``). Attraction and repulsion
    terms are summed and divided by ``B`` (see the module docstring); ``exaggeration``
    multiplies the attraction terms (1 is UMAP's loss).
    """
    n = len(z_head)
    perms = torch.cat([torch.randperm(n, generator=generator, device=z_tail.device)
                       for _ in range(negative_sample_rate)])
    heads = torch.cat([z_head, z_head.repeat(negative_sample_rate, 1)])
    tails = torch.cat([z_tail, z_tail[perms]])
    d2 = (heads - tails).square().sum(1)
    q = 1.0 / (1.0 + a * d2.clamp_min(1e-12).pow(b))
    q = q.clamp(EPS, 1 - EPS)
    attract = -torch.log(q[:n]).sum()
    repel = -torch.log1p(-q[n:]).sum()
    return (exaggeration * attract + repel) / n


def infonce_tsne(z_head: torch.Tensor, z_tail: torch.Tensor,
                 exaggeration: float = 1.0, dof: float = 1.0) -> torch.Tensor:
    """Contrastive (InfoNCE) t-SNE loss of one batch of ``B`` edges, with the batch's
    other codes (heads and tails) as negatives (scalar, mean over edges).

    Damrich, Böhm, Hamprecht and Kobak, "From t-SNE to UMAP with contrastive learning"
    (ICLR 2023): with the Cauchy kernel ``q(z, z') = 1 / (1 + ||z - z'||^2)`` and ``m``
    negatives per edge, ``-log[q(z_i, z_j) / (q(z_i, z_j) + sum_r q(z_i, z_r))]``
    approaches t-SNE's normalised KL objective as ``m`` grows; here the negatives of
    edge ``b`` are the other ``B - 1`` tails and the other ``B - 1`` heads, so
    ``m = 2B - 2``::

        L_nce = -(1 / B) sum_b log( q(z_i_b, z_j_b)^alpha
                                    / [sum_c q(z_i_b, z_j_c) + sum_{c != b} q(z_i_b, z_i_c)] )

    ``alpha = exaggeration`` weights the attraction (the numerator) against the
    repulsion (the normaliser), as t-SNE's early exaggeration multiplies its affinities;
    ``alpha = 1`` is the plain contrastive loss. ``dof = nu`` generalises the kernel to
    Kobak et al.'s heavy-tailed t-SNE kernel ("Heavy-tailed kernels reveal a finer
    cluster structure in t-SNE visualisations", ECML PKDD 2019),
    ``q(z, z') = (1 + ||z - z'||^2 / nu)^(-nu)``: ``nu = 1`` is the Cauchy kernel, larger
    ``nu`` has lighter tails (towards the Gaussian ``exp(-||z - z'||^2)`` of SNE as
    ``nu`` grows) and tears fewer neighbourhoods apart, smaller ``nu`` separates clusters
    further.
    """
    logits = -dof * torch.log1p(torch.cdist(z_head, torch.cat([z_tail, z_head])).square() / dof)
    logits[:, len(z_head):].fill_diagonal_(-math.inf)  # a head is not its own negative
    return (torch.logsumexp(logits, 1) - exaggeration * logits.diagonal()).mean()
