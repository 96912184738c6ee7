"""Reconstruction quality: MSE, PSNR and SSIM for images; per-feature error for tables.

Every function compares originals ``x`` with reconstructions ``x_hat`` of the same shape
``(N, ...)``; :func:`reconstruction_scores` computes the reconstructions of a model
(``model.reconstruct``: E[x|z] at the posterior mean or code) and returns all that apply.

* ``mse``: mean over examples and values of ``(x - x_hat)^2``.
* ``psnr``: per example ``10 log10(R^2 / MSE_i)`` with data range ``R`` (1 for data in
  [0, 1]), averaged over examples; examples reconstructed exactly are left out.
* ``ssim``: structural similarity (Wang et al. 2004) with an ``11x11`` Gaussian window
  (sigma 1.5, shrunk to the image size for small images), ``C1 = (0.01 R)^2``,
  ``C2 = (0.03 R)^2``, over valid window positions, averaged over positions, channels
  and examples.
* ``per_feature_error``: mean squared and mean absolute error of each column of vector data.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from aekit.errors import ConfigError
from aekit.metrics._util import as_tensor, check_positive, condition, labels_of

__all__ = ["mse", "per_feature_error", "psnr", "reconstruction_scores", "reconstructions", "ssim"]


def _pair(x: Any, x_hat: Any) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = as_tensor(x, "x").double(), as_tensor(x_hat, "x_hat").double()
    if a.shape != b.shape:
        raise ConfigError(f"originals {tuple(a.shape)} and reconstructions {tuple(b.shape)} "
                          "differ in shape")
    return a, b


def mse(x: Any, x_hat: Any) -> float:
    """Mean squared error over all examples and values."""
    a, b = _pair(x, x_hat)
    return float((a - b).square().mean())


def psnr(x: Any, x_hat: Any, data_range: float = 1.0) -> float:
    """Mean over examples of ``10 log10(data_range^2 / MSE_i)`` in dB.

    Examples with zero error (infinite PSNR) are left out of the mean; ``inf`` is
    returned when every example is reconstructed exactly.
    """
    if data_range <= 0:
        raise ConfigError(f"data_range must be > 0, got {data_range}")
    a, b = _pair(x, x_hat)
    per = (a - b).square().flatten(1).mean(1)
    finite = per > 0
    if not bool(finite.any()):
        return math.inf
    return float((10 * torch.log10(data_range**2 / per[finite])).mean())


def _gaussian_window(size: int, sigma: float) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(x: Any, x_hat: Any, data_range: float = 1.0, window: int = 11,
         sigma: float = 1.5) -> float:
    """Mean structural similarity of image batches ``(N, C, H, W)`` or ``(N, H, W)``.

    Parameters
    ----------
    x, x_hat : tensor or array
        Originals and reconstructions.
    data_range : float
        Value range ``R`` of the data (1 for [0, 1]).
    window : int
        Side of the Gaussian window; reduced to the largest odd size that fits the image.
    sigma : float
        Standard deviation of the window (pixels).

    Returns
    -------
    float
        In [-1, 1]; 1 exactly when ``x_hat == x``.
    """
    a, b = _pair(x, x_hat)
    if a.ndim == 3:
        a, b = a[:, None], b[:, None]
    if a.ndim != 4:
        raise ConfigError(f"ssim needs images (N, C, H, W) or (N, H, W); got {tuple(a.shape)}")
    check_positive("window", window)
    size = min(window, a.shape[2], a.shape[3])
    size -= 1 - size % 2  # odd
    w = _gaussian_window(size, sigma).to(a)[None, None]
    n, c, h, wd = a.shape
    a, b = a.reshape(n * c, 1, h, wd), b.reshape(n * c, 1, h, wd)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, w)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1)
                                                     * (var_a + var_b + c2))
    return float(s.mean())


def per_feature_error(x: Any, x_hat: Any,
                      feature_names: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Mean squared and absolute error of each column of vector data ``(N, D)``.

    Returns
    -------
    dict
        ``{feature_name: {"mse": ..., "mae": ...}}`` in column order (names default to
        ``"0"``, ``"1"``, ...).
    """
    a, b = _pair(x, x_hat)
    a, b = a.flatten(1), b.flatten(1)
    names = feature_names or [str(i) for i in range(a.shape[1])]
    if len(names) != a.shape[1]:
        raise ConfigError(f"{len(names)} feature names for {a.shape[1]} features")
    sq = (a - b).square().mean(0).tolist()
    ab = (a - b).abs().mean(0).tolist()
    return {name: {"mse": s, "mae": m} for name, s, m in zip(names, sq, ab)}


def reconstructions(model: Any, data: Any, batch_size: int = 1024) -> torch.Tensor:
    """``model.reconstruct`` of every example of ``data`` (a Dataset or tensor), on CPU."""
    x = as_tensor(data)
    check_positive("batch_size", batch_size)
    y = condition(model, labels_of(data), "reconstruction")
    outs = []
    with torch.inference_mode():
        for i in range(0, len(x), batch_size):
            yi = None if y is None else y[i:i + batch_size].to(model.device)
            outs.append(model.reconstruct(x[i:i + batch_size].to(model.device), yi).cpu())
    return torch.cat(outs).reshape(x.shape)


def reconstruction_scores(model: Any, data: Any, batch_size: int = 1024) -> dict[str, Any]:
    """MSE and, for images, PSNR and SSIM; for vector data also the per-feature errors.

    The data range for PSNR/SSIM is 1 when the data lies in [0, 1], else ``max - min``.
    """
    x = as_tensor(data)
    x_hat = reconstructions(model, data, batch_size)
    scores: dict[str, Any] = {"mse": mse(x, x_hat)}
    lo, hi = float(x.min()), float(x.max())
    data_range = 1.0 if lo >= 0 and hi <= 1 else max(hi - lo, np.finfo(np.float32).eps)
    if x.ndim == 4 and x.shape[1] in (1, 3):
        scores["psnr"] = psnr(x, x_hat, data_range)
        scores["ssim"] = ssim(x, x_hat, data_range)
    elif x.ndim == 2:
        scores["per_feature"] = per_feature_error(x, x_hat, getattr(data, "feature_names", None))
    return scores
