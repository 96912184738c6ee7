"""Sample quality: Frechet distance (FID), precision/recall, Inception Score.

All three compare feature vectors of real and generated examples, computed by a
pluggable :class:`~aekit.metrics.features.FeatureExtractor` (see that module for the
naming rule: ``FID`` only with the standard Inception-v3 weights, ``FID-<dataset>``
with a classifier trained on the data).

Frechet distance between Gaussian fits N(m1, S1), N(m2, S2) of two feature sets
(Heusel et al. 2017)::

    d^2 = ||m1 - m2||^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^(1/2))

computed in float64 with Tr((S1 S2)^(1/2)) = sum_i sqrt(lambda_i) over the eigenvalues of
the symmetric PSD matrix S1^(1/2) S2 S1^(1/2) (same eigenvalues as S1 S2), so no
complex square roots appear and the result is symmetric up to rounding.

Improved precision and recall (Kynkaanniemi et al. 2019): each real feature gets a ball
reaching its k-th nearest real neighbour; precision is the fraction of generated
features inside at least one real ball, recall the fraction of real features inside at
least one generated ball (balls from the generated set's own k-NN radii).

Inception Score (Salimans et al. 2016): exp(E_x KL(p(y|x) || p(y))), averaged over
``splits`` equal parts, with p(y|x) from the extractor's classifier head.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from aekit.errors import ConfigError
from aekit.metrics._util import as_tensor, check_positive, to_numpy
from aekit.metrics.features import as_extractor

__all__ = [
    "FrechetResult",
    "fid",
    "frechet_distance",
    "gaussian_fit",
    "inception_score",
    "precision_recall",
]


def gaussian_fit(features: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(F,)`` and unbiased covariance ``(F, F)`` of features ``(N, F)``, float64.

    Raises
    ------
    ConfigError
        With fewer than 2 feature vectors.
    """
    f = to_numpy(features)
    if f.ndim != 2 or len(f) < 2:
        raise ConfigError(f"a Gaussian fit needs at least 2 feature vectors (N, F); got shape "
                          f"{f.shape}")
    return f.mean(0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def _sqrt_psd(s: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric PSD matrix (negative eigenvalues -> 0)."""
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:
    """Squared Frechet (2-Wasserstein) distance between N(mu1, sigma1) and N(mu2, sigma2).

    Parameters
    ----------
    mu1, mu2 : array ``(F,)``
        Means.
    sigma1, sigma2 : array ``(F, F)``
        Covariances (symmetric PSD).

    Returns
    -------
    float
        ``||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))``, >= 0.
    """
    mu1, mu2 = to_numpy(mu1).reshape(-1), to_numpy(mu2).reshape(-1)
    s1, s2 = np.atleast_2d(to_numpy(sigma1)), np.atleast_2d(to_numpy(sigma2))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (len(mu1), len(mu1)):
        raise ConfigError(f"mismatched Gaussians: means {mu1.shape} and {mu2.shape}, "
                          f"covariances {s1.shape} and {s2.shape}")
    root1 = _sqrt_psd(s1)
    inner = root1 @ s2 @ root1
    eig = np.linalg.eigvalsh((inner + inner.T) / 2)
    tr_sqrt = float(np.sqrt(np.clip(eig, 0.0, None)).sum())
    d2 = float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)
    return max(d2, 0.0)


@dataclass
class FrechetResult:
    """A Frechet distance and what it was computed with.

    Attributes
    ----------
    name : str
        ``"FID"`` (standard Inception features) or ``"FID-<dataset>"``.
    value : float
        The squared Frechet distance between the two Gaussian fits.
    n_real, n_fake : int
        Number of feature vectors on each side.
    """

    name: str
    value: float
    n_real: int
    n_fake: int


def fid(real: Any, fake: Any, extractor: Any) -> FrechetResult:
    """Frechet distance between the features of ``real`` and ``fake`` examples.

    Parameters
    ----------
    real, fake : Dataset, tensor or array
        Examples (the same shape per example); at least 2 of each, and in practice
        many more than the feature dimension for a stable covariance.
    extractor : FeatureExtractor, nn.Module or callable
        Computes the features; its ``metric_name`` names the result.

    Returns
    -------
    FrechetResult
    """
    fx = as_extractor(extractor)
    fr, ff = fx.features(as_tensor(real, "real")), fx.features(as_tensor(fake, "fake"))
    value = frechet_distance(*gaussian_fit(fr), *gaussian_fit(ff))
    return FrechetResult(fx.metric_name, value, len(fr), len(ff))


def _kth_nn_radii(f: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    """Distance from each row of ``f`` to its k-th nearest other row."""
    radii = []
    for i in range(0, len(f), chunk):
        d = torch.cdist(f[i:i + chunk], f)
        radii.append(d.kthvalue(k + 1, dim=1).values)  # +1: the point itself is at 0
    return torch.cat(radii)


def _coverage(queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor,
              chunk: int) -> float:
    """Fraction of ``queries`` inside at least one ball (centres, radii)."""
    inside = []
    for i in range(0, len(queries), chunk):
        d = torch.cdist(queries[i:i + chunk], centres)
        inside.append((d <= radii[None]).any(1))
    return float(torch.cat(inside).double().mean())


def precision_recall(real_features: Any, fake_features: Any, k: int = 3,
                     chunk: int = 1024) -> dict[str, float]:
    """Improved precision and recall of generated features (Kynkaanniemi et al. 2019).

    Parameters
    ----------
    real_features, fake_features : tensor or array ``(N, F)`` / ``(M, F)``
        Feature vectors (e.g. ``extractor.features(x)``).
    k : int
        Neighbourhood size for the manifold radii (3 in the paper).
    chunk : int
        Rows per distance block (bounds memory at ``chunk * N`` floats).

    Returns
    -------
    dict
        ``{"precision": p, "recall": r}``, each in [0, 1].
    """
    check_positive("k", k)
    real = torch.as_tensor(to_numpy(real_features))
    fake = torch.as_tensor(to_numpy(fake_features))
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ConfigError(f"features must be (N, F) with the same F; got {tuple(real.shape)} "
                          f"and {tuple(fake.shape)}")
    if len(real) <= k or len(fake) <= k:
        raise ConfigError(f"precision/recall with k={k} needs more than {k} feature vectors "
                          f"on each side; got {len(real)} real and {len(fake)} generated")
    real_r = _kth_nn_radii(real, k, chunk)
    fake_r = _kth_nn_radii(fake, k, chunk)
    return {"precision": _coverage(fake, real, real_r, chunk),
            "recall": _coverage(real, fake, fake_r, chunk)}


def inception_score(probs: Any, splits: int = 10) -> tuple[float, float]:
    """Inception Score from class probabilities ``p(y|x)`` ``(N, C)``.

    Parameters
    ----------
    probs : tensor or array ``(N, C)``
        Rows summing to 1 (e.g. ``extractor.probs(samples)``).
    splits : int
        The score is computed on this many equal parts; mean and standard deviation are
        returned (Salimans et al. use 10).

    Returns
    -------
    tuple of float
        ``(mean, std)`` of ``exp(mean_x KL(p(y|x) || p(y)))`` over the splits; between 1
        and the number of classes.
    """
    check_positive("splits", splits)
    p = to_numpy(probs)
    if p.ndim != 2 or len(p) < splits:
        raise ConfigError(f"probs must be (N, C) with N >= splits={splits}; got {p.shape}")
    scores = []
    for part in np.array_split(p, splits):
        marginal = part.mean(0, keepdims=True)
        kl = np.sum(part * (np.log(np.clip(part, 1e-12, None))
                            - np.log(np.clip(marginal, 1e-12, None))), axis=1)
        scores.append(float(np.exp(kl.mean())))
    return float(np.mean(scores)), float(np.std(scores))
