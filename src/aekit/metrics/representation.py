"""Representation quality of codes: linear probe, k-NN accuracy, k-means NMI/ARI.

All functions take codes ``(N, K)`` (e.g. ``model.embed(x)``) and integer labels ``(N,)``
that the model never saw during training.

* ``linear_probe_accuracy``: multinomial logistic regression (scikit-learn, L2, C = 1) on
  standardised codes, fitted on a training part and scored (accuracy) on a test part.
* ``knn_accuracy``: accuracy of a k-nearest-neighbour vote (Euclidean, on standardised
  codes), same split.
* ``trustworthiness``: how well the code keeps each point's nearest neighbours
  (Venna & Kaski 2001; scikit-learn's implementation), 1 = every neighbour in code space
  was a neighbour in data space.
* ``clustering_scores``: k-means with as many clusters as classes on standardised codes
  (10 restarts), compared with the labels by normalised mutual information (NMI,
  arithmetic normalisation) and the adjusted Rand index (ARI).

The split is given explicitly (``test_codes``/``test_labels``) or drawn by
``test_fraction`` with ``seed``, stratified by label.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aekit.errors import ConfigError, DataError
from aekit.metrics._util import as_tensor, embed, labels_of, to_numpy

__all__ = ["clustering_scores", "knn_accuracy", "linear_probe_accuracy",
           "representation_scores", "trustworthiness"]


def trustworthiness(data: Any, codes: Any, *, n_neighbors: int = 10) -> float:
    """Trustworthiness of ``codes`` ``(N, K)`` as an embedding of ``data`` ``(N, ...)``."""
    from sklearn.manifold import trustworthiness as _trust

    x = to_numpy(as_tensor(data)).reshape(len(to_numpy(as_tensor(data))), -1)
    z = to_numpy(as_tensor(codes)).reshape(len(x), -1)
    if not 1 <= n_neighbors < len(x) / 2:
        raise ConfigError(f"n_neighbors must be in [1, {len(x) / 2:.0f}), got {n_neighbors}")
    return float(_trust(x, z, n_neighbors=n_neighbors))


def _labels(y: Any) -> np.ndarray:
    arr = np.asarray(y.detach().cpu().numpy() if hasattr(y, "detach") else y)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise DataError("representation metrics need integer class labels of shape (N,)")
    return arr


def _split(codes: Any, labels: Any, test_codes: Any, test_labels: Any, test_fraction: float,
           seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Standardised train/test codes (statistics of the training part) and labels."""
    z, y = to_numpy(codes), _labels(labels)
    if z.ndim != 2 or len(z) != len(y):
        raise ConfigError(f"codes must be (N, K) with one label each; got {z.shape} codes and "
                          f"{len(y)} labels")
    if test_codes is not None:
        zt, yt = to_numpy(test_codes), _labels(test_labels)
    else:
        from sklearn.model_selection import train_test_split

        if not 0 < test_fraction < 1:
            raise ConfigError(f"test_fraction must be in (0, 1), got {test_fraction}")
        counts = np.bincount(y - y.min())
        stratify = y if counts[counts > 0].min() >= 2 else None
        z, zt, y, yt = train_test_split(z, y, test_size=test_fraction, random_state=seed,
                                        stratify=stratify)
    mean, std = z.mean(0), z.std(0)
    std[std < 1e-12] = 1.0
    return (z - mean) / std, y, (zt - mean) / std, yt


def linear_probe_accuracy(codes: Any, labels: Any, *, test_codes: Any = None,
                          test_labels: Any = None, test_fraction: float = 0.3,
                          seed: int = 0) -> float:
    """Test accuracy of a logistic-regression probe on the codes (see module docstring)."""
    from sklearn.linear_model import LogisticRegression

    z, y, zt, yt = _split(codes, labels, test_codes, test_labels, test_fraction, seed)
    if len(np.unique(y)) < 2:
        raise DataError("the linear probe needs at least two classes in the training part")
    clf = LogisticRegression(max_iter=2000)
    clf.fit(z, y)
    return float((clf.predict(zt) == yt).mean())


def knn_accuracy(codes: Any, labels: Any, *, k: int = 5, test_codes: Any = None,
                 test_labels: Any = None, test_fraction: float = 0.3, seed: int = 0) -> float:
    """Test accuracy of a k-nearest-neighbour classifier on the codes."""
    from sklearn.neighbors import KNeighborsClassifier

    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")
    z, y, zt, yt = _split(codes, labels, test_codes, test_labels, test_fraction, seed)
    clf = KNeighborsClassifier(n_neighbors=min(k, len(z)))
    clf.fit(z, y)
    return float((clf.predict(zt) == yt).mean())


def clustering_scores(codes: Any, labels: Any, *, n_clusters: int | None = None,
                      seed: int = 0) -> dict[str, float]:
    """k-means on standardised codes vs the labels: ``{"nmi": ..., "ari": ...}``.

    ``n_clusters`` defaults to the number of distinct labels.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    z, y = to_numpy(codes), _labels(labels)
    if z.ndim != 2 or len(z) != len(y):
        raise ConfigError(f"codes must be (N, K) with one label each; got {z.shape} codes and "
                          f"{len(y)} labels")
    std = z.std(0)
    std[std < 1e-12] = 1.0
    z = (z - z.mean(0)) / std
    k = n_clusters or len(np.unique(y))
    if not 1 <= k <= len(z):
        raise ConfigError(f"n_clusters must be in [1, {len(z)}], got {k}")
    pred = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(z)
    return {"nmi": float(normalized_mutual_info_score(y, pred)),
            "ari": float(adjusted_rand_score(y, pred))}


def representation_scores(model: Any, train: Any, test: Any | None = None, *, k: int = 5,
                          seed: int = 0, batch_size: int = 1024) -> dict[str, float]:
    """Probe, k-NN and clustering scores of ``model.embed`` codes.

    Parameters
    ----------
    model : Autoencoder
        Any model (codes are ``model.embed(x)``).
    train : Dataset
        Labelled examples the probes are fitted on (and clustered).
    test : Dataset, optional
        Labelled examples the probes are scored on; default: a stratified 30 % of ``train``.
    k : int
        Neighbours for the k-NN vote.
    seed : int
        Seeds the split and k-means.
    batch_size : int
        Encoder batch size.

    Returns
    -------
    dict
        ``linear_probe_accuracy``, ``knn_accuracy``, ``kmeans_nmi``, ``kmeans_ari``.
    """
    y = labels_of(train)
    if y is None:
        raise DataError("representation metrics need labelled data (e.g. --label-column)")
    z = embed(model, as_tensor(train), y, batch_size)
    split: dict[str, Any] = {"seed": seed}
    if test is not None:
        if labels_of(test) is None:
            raise DataError("the test data of the probes has no labels")
        split.update(test_codes=embed(model, as_tensor(test), labels_of(test), batch_size),
                     test_labels=labels_of(test))
    cluster = clustering_scores(z, y, seed=seed)
    return {"linear_probe_accuracy": linear_probe_accuracy(z, y, **split),
            "knn_accuracy": knn_accuracy(z, y, k=k, **split),
            "kmeans_nmi": cluster["nmi"], "kmeans_ari": cluster["ari"]}
