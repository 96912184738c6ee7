"""Small helpers shared by the metric modules: batching, data coercion, codes."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from aekit.errors import ConfigError, DataError


def as_tensor(data: Any, name: str = "data") -> torch.Tensor:
    """The float32 tensor of ``data`` (a Dataset, tensor or array)."""
    x = getattr(data, "x", data)
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise DataError(f"{name}: expected a Dataset, tensor or array, got {type(data).__name__}")
    if x.ndim < 1 or len(x) == 0:
        raise DataError(f"{name}: no examples (shape {tuple(x.shape)})")
    return x.float()


def labels_of(data: Any) -> torch.Tensor | None:
    """The labels of a Dataset, or None."""
    return getattr(data, "y", None)


def check_positive(name: str, value: int) -> None:
    """Raise :class:`ConfigError` unless ``value`` is an integer >= 1."""
    if not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")


def condition(model: Any, y: torch.Tensor | None, name: str = "metric") -> torch.Tensor | None:
    """The condition to pass to a conditional model (its labels), else None."""
    if model.conditional:
        if y is None:
            raise DataError(f"{name}: model {model.name!r} is conditional and needs labels; "
                            "the data has none")
        return y
    return None


def posteriors(model: Any, x: torch.Tensor, y: torch.Tensor | None = None,
               batch_size: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior means and log-variances ``(N, K)`` of every example.

    Raises
    ------
    ConfigError
        If the model is not ``probabilistic`` (its ``encode`` gives no Gaussian q(z|x)).
    """
    check_positive("batch_size", batch_size)
    if not model.probabilistic:
        raise ConfigError(f"model {model.name!r} has no Gaussian posterior q(z|x); "
                          "this metric needs a VAE-family model")
    y = condition(model, y)
    mus, logvars = [], []
    with torch.inference_mode():
        for i in range(0, len(x), batch_size):
            yi = None if y is None else y[i:i + batch_size].to(model.device)
            q = model.encode(x[i:i + batch_size].to(model.device), yi)
            mus.append(q.mu.flatten(1).cpu())
            logvars.append(q.logvar.flatten(1).cpu())
    return torch.cat(mus), torch.cat(logvars)


def embed(model: Any, x: torch.Tensor, y: torch.Tensor | None = None,
          batch_size: int = 1024) -> torch.Tensor:
    """Deterministic codes ``model.embed(x)`` of every example, flattened to ``(N, K)``."""
    check_positive("batch_size", batch_size)
    y = condition(model, y)
    outs = []
    with torch.inference_mode():
        for i in range(0, len(x), batch_size):
            yi = None if y is None else y[i:i + batch_size].to(model.device)
            outs.append(model.embed(x[i:i + batch_size].to(model.device), yi).flatten(1).cpu())
    return torch.cat(outs)


def to_numpy(a: Any) -> np.ndarray:
    """A float64 numpy array from a tensor or array."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().double().numpy()
    return np.asarray(a, dtype=np.float64)
