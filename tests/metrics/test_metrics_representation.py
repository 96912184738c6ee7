"""Linear probe, k-NN accuracy and k-means NMI/ARI on codes."""

import numpy as np
import pytest

import aekit
from aekit.metrics.representation import (
    clustering_scores,
    knn_accuracy,
    linear_probe_accuracy,
    representation_scores,
)


def blobs(n=600, k=4, d=5, spread=0.1, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    centres = rng.normal(scale=5.0, size=(k, d))
    return centres[y] + spread * rng.normal(size=(n, d)), y


def test_separable_codes_score_perfectly():
    z, y = blobs()
    assert linear_probe_accuracy(z, y) == 1.0
    assert knn_accuracy(z, y) == 1.0
    c = clustering_scores(z, y)
    assert c["nmi"] == pytest.approx(1.0) and c["ari"] == pytest.approx(1.0)


def test_codes_unrelated_to_labels_score_near_chance():
    _, y = blobs()
    z = np.random.default_rng(1).normal(size=(len(y), 5))
    assert linear_probe_accuracy(z, y) < 0.4
    assert knn_accuracy(z, y) < 0.4
    c = clustering_scores(z, y)
    assert c["nmi"] < 0.05 and abs(c["ari"]) < 0.05


def test_explicit_test_split():
    z, y = blobs()
    zt, yt = blobs(n=100, seed=0)
    assert linear_probe_accuracy(z, y, test_codes=zt, test_labels=yt) == 1.0


def test_representation_scores_of_a_model(digits_flat):
    model = aekit.create("ae", data=digits_flat, latent_dim=4, arch="mlp", hidden_dims=(16,))
    scores = representation_scores(model, digits_flat.subset(np.arange(400)))
    assert set(scores) == {"linear_probe_accuracy", "knn_accuracy", "kmeans_nmi", "kmeans_ari"}
    assert scores["linear_probe_accuracy"] > 0.2  # even a random 4-d projection beats 0.1
