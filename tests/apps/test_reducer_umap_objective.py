"""The graph objectives of the reducer: the fuzzy graph, UMAP's cross-entropy and the
contrastive t-SNE loss."""

import math

import numpy as np
import torch

from aekit.apps.parametric_umap import (
    _smooth_knn,
    find_ab,
    fuzzy_knn_graph,
    infonce_tsne,
    umap_cross_entropy,
)


def test_find_ab_matches_umaps_constants():
    # umap-learn's find_ab_params(1.0, 0.1) gives a = 1.577, b = 0.8951
    a, b = find_ab(0.1)
    assert abs(a - 1.577) < 0.01 and abs(b - 0.8951) < 0.005


def test_smooth_knn_solves_the_log2k_equation():
    rng = np.random.default_rng(0)
    dists = np.sort(rng.uniform(0.5, 3.0, size=(50, 14)), axis=1)
    rho, sigma = _smooth_knn(dists, 15)
    np.testing.assert_allclose(rho, dists[:, 0])
    total = np.exp(-np.maximum(dists - rho[:, None], 0) / sigma[:, None]).sum(1)
    np.testing.assert_allclose(total, math.log2(15), rtol=1e-6)


def test_fuzzy_graph_is_a_symmetric_union_of_neighbourhoods():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (40, 5)), rng.normal(20, 1, (40, 5))])
    heads, tails, w, rho = fuzzy_knn_graph(X, 10)
    G = np.zeros((80, 80))
    G[heads, tails] = w
    np.testing.assert_allclose(G, G.T, atol=1e-6)
    assert (w > 0).all() and (w <= 1 + 1e-6).all()
    assert not G[:40, 40:].any()  # no edge between the two far-apart clusters
    assert np.isclose(G.max(1), 1).all()  # each row's nearest neighbour has weight 1
    assert (np.diag(G) == 0).all()
    d = np.linalg.norm(X[:, None] - X[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    np.testing.assert_allclose(rho, d.min(1), rtol=1e-3)  # nearest-neighbour distances (float32)


def test_cross_entropy_prefers_close_edges_and_far_negatives():
    a, b = find_ab(0.1)
    gen = torch.Generator().manual_seed(0)
    heads = torch.randn(64, 2) * 10
    near = umap_cross_entropy(heads, heads + 0.01, a, b, gen)
    far = umap_cross_entropy(heads, heads + 5.0, a, b, gen)
    assert near < far
    collapsed = umap_cross_entropy(torch.zeros(64, 2), torch.zeros(64, 2), a, b, gen)
    assert collapsed > near  # all points on one spot: the repulsion pays


def by_hand_nce(heads, tails, kernel, alpha=1.0):
    """-mean_b log(k(h_b, t_b)^alpha / [sum_c k(h_b, t_c) + sum_{c != b} k(h_b, h_c)]),
    written out pair by pair."""
    losses = []
    for b in range(len(heads)):
        normaliser = sum(kernel(heads[b], t) for t in tails) + sum(
            kernel(heads[b], heads[c]) for c in range(len(heads)) if c != b)
        losses.append(-torch.log(kernel(heads[b], tails[b]) ** alpha / normaliser))
    return torch.stack(losses).mean()


def cauchy(z, w):
    return 1 / (1 + ((z - w) ** 2).sum())


def test_infonce_tsne_is_the_cross_entropy_of_cauchy_similarities():
    """The batch's other tails and other heads are each edge's negatives."""
    gen = torch.Generator().manual_seed(0)
    heads, tails = torch.randn(6, 2, generator=gen), torch.randn(6, 2, generator=gen)
    torch.testing.assert_close(infonce_tsne(heads, tails), by_hand_nce(heads, tails, cauchy))
    spread = torch.randn(64, 2, generator=gen) * 10
    assert infonce_tsne(spread, spread + 0.01) < infonce_tsne(spread, spread.roll(1, 0))


def test_dof_gives_the_heavy_tailed_kernel_and_tends_to_the_gaussian():
    """dof = nu: q = (1 + d^2 / nu)^(-nu) (Kobak et al. 2019); nu = 1 is the Cauchy kernel,
    and as nu grows q tends to exp(-d^2), SNE's Gaussian kernel."""
    gen = torch.Generator().manual_seed(3)
    heads, tails = torch.randn(6, 2, generator=gen), torch.randn(6, 2, generator=gen)

    def t15(z, w):
        return (1 + ((z - w) ** 2).sum() / 1.5) ** -1.5

    def gauss(z, w):
        return torch.exp(-((z - w) ** 2).sum())

    torch.testing.assert_close(infonce_tsne(heads, tails, dof=1.5), by_hand_nce(heads, tails, t15))
    torch.testing.assert_close(infonce_tsne(heads, tails, dof=1.0), infonce_tsne(heads, tails))
    torch.testing.assert_close(infonce_tsne(heads, tails, dof=1e6),
                               by_hand_nce(heads, tails, gauss), rtol=1e-4, atol=1e-4)


def test_exaggeration_weights_the_attraction_only():
    gen = torch.Generator().manual_seed(1)
    heads, tails = torch.randn(6, 2, generator=gen), torch.randn(6, 2, generator=gen)
    torch.testing.assert_close(infonce_tsne(heads, tails, exaggeration=4.0),
                               by_hand_nce(heads, tails, cauchy, alpha=4.0))
    a, b = find_ab(0.1)
    plain = umap_cross_entropy(heads, tails, a, b, torch.Generator().manual_seed(2))
    doubled = umap_cross_entropy(heads, tails, a, b, torch.Generator().manual_seed(2),
                                 exaggeration=2.0)
    attract = -torch.log((1 / (1 + a * ((heads - tails) ** 2).sum(1) ** b))
                         .clamp(1e-4, 1 - 1e-4)).sum() / len(heads)
    torch.testing.assert_close(doubled - plain, attract)  # one more attraction term
