"""Posterior collapse diagnostics for models with a Gaussian posterior q(z|x).

* ``kl_per_dimension``: for each latent dimension j, the mean over examples of the
  closed-form ``KL(q(z_j|x) || N(0, 1))`` in nats. With the standard normal prior these
  sum to the model's KL term; with a learned prior they measure the distance to N(0, 1)
  per dimension (a learned prior has no per-dimension KL).
* ``activity``: ``A_j = Cov_x(E_q[z_j | x])``, the variance over examples of each
  posterior mean (or code); ``active_units`` counts ``A_j > 0.01`` (Burda et al. 2016).
* ``mutual_information``: an estimate of I(x; z) under q(x, z) = p_data(x) q(z|x)::

      I(x; z) = E_x E_q(z|x)[log q(z|x)] - E_q(z)[log q(z)],
      q(z) ~= 1/N sum_n q(z | x_n)

  (Hoffman & Johnson 2016; estimator of He et al. 2019), with one z per example and the
  aggregate posterior over the same N examples. It is at most log N.

:func:`collapse_report` combines them and warns (:class:`PosteriorCollapseWarning`)
when no latent dimension is active.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import torch

from aekit.errors import ConfigError
from aekit.latents import DiagonalGaussian, gaussian_log_prob
from aekit.metrics._util import as_tensor, check_positive, embed, labels_of, posteriors

__all__ = [
    "ACTIVE_THRESHOLD",
    "CollapseReport",
    "PosteriorCollapseWarning",
    "active_units",
    "activity",
    "collapse_report",
    "kl_per_dimension",
    "mutual_information",
]

ACTIVE_THRESHOLD = 0.01  # Burda et al.'s activity threshold on Cov_x(E_q[z_j])
LOG_2PI_E = math.log(2 * math.pi) + 1.0


class PosteriorCollapseWarning(UserWarning):
    """The model's posterior ignores the input (no active latent dimension)."""


def kl_per_dimension(model: Any, data: Any, batch_size: int = 1024) -> torch.Tensor:
    """Mean ``KL(q(z_j|x) || N(0, 1))`` over examples, per latent dimension ``(K,)``, nats."""
    mu, logvar = posteriors(model, as_tensor(data), labels_of(data), batch_size)
    return DiagonalGaussian(mu, logvar).kl_standard_normal().double().mean(0)


def activity(model: Any, data: Any, batch_size: int = 1024) -> torch.Tensor:
    """``Cov_x(E_q[z_j|x])`` per dimension ``(K,)``: variance over examples of the code.

    Uses ``model.embed`` (the posterior mean, or the code of a deterministic model).
    """
    codes = embed(model, as_tensor(data), labels_of(data), batch_size).double()
    if len(codes) < 2:
        raise ConfigError("activity needs at least 2 examples")
    return codes.var(0)


def active_units(model: Any, data: Any, threshold: float = ACTIVE_THRESHOLD,
                 batch_size: int = 1024) -> int:
    """Number of latent dimensions with ``Cov_x(E_q[z_j|x]) > threshold`` (Burda et al.)."""
    return int((activity(model, data, batch_size) > threshold).sum())


def mutual_information(model: Any, data: Any, batch_size: int = 1024,
                       seed: int | None = 0) -> float:
    """Estimate of I(x; z) in nats under the encoder (see the module docstring).

    Parameters
    ----------
    model : Autoencoder
        A model whose ``encode`` returns a DiagonalGaussian.
    data : Dataset or tensor
        The N examples; the aggregate posterior is their mixture, so the estimate is
        at most ``log N``. Cost is O(N^2 K), computed in blocks.
    batch_size : int
        Encoder batch size.
    seed : int or None
        Seeds the posterior samples (None: the global generator).
    """
    mu, logvar = posteriors(model, as_tensor(data), labels_of(data), batch_size)
    mu, logvar = mu.double(), logvar.double()
    n, k = mu.shape
    g = torch.Generator().manual_seed(seed) if seed is not None else None
    z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=g, dtype=mu.dtype)
    neg_entropy = (-0.5 * (LOG_2PI_E + logvar).sum(1)).mean()
    block = max(1, (1 << 22) // max(1, n * k))
    log_qz = []
    for i in range(0, n, block):
        lp = gaussian_log_prob(z[i:i + block, None, :], mu[None], logvar[None])  # (b, N)
        log_qz.append(torch.logsumexp(lp, dim=1) - math.log(n))
    return float(neg_entropy - torch.cat(log_qz).mean())


@dataclass
class CollapseReport:
    """Posterior-collapse diagnostics of a model on some data.

    Attributes
    ----------
    latent_dim : int
        Number of latent dimensions K.
    kl_per_dim : list of float
        Mean ``KL(q(z_j|x) || N(0, 1))`` per dimension, nats.
    kl_total : float
        Their sum.
    activity : list of float
        ``Cov_x(E_q[z_j|x])`` per dimension.
    active_units : int
        Dimensions with activity above ``threshold``.
    mutual_information : float
        Estimated I(x; z), nats.
    collapsed_dims : list of int
        Inactive dimensions (activity <= threshold).
    collapsed : bool
        True when no dimension is active: the posterior ignores the input.
    threshold : float
        The activity threshold used.
    """

    latent_dim: int
    kl_per_dim: list[float]
    kl_total: float
    activity: list[float]
    active_units: int
    mutual_information: float
    collapsed_dims: list[int]
    collapsed: bool
    threshold: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        return asdict(self)


def collapse_report(model: Any, data: Any, threshold: float = ACTIVE_THRESHOLD,
                    batch_size: int = 1024, warn: bool = True, seed: int = 0) -> CollapseReport:
    """KL per dimension, active units and I(x; z), with a warning on full collapse.

    Parameters
    ----------
    model : Autoencoder
        A VAE-family model (Gaussian posterior).
    data : Dataset or tensor
        Examples to diagnose on (a few thousand are plenty).
    threshold : float
        Activity threshold for an active unit (0.01 as in Burda et al.).
    batch_size : int
        Encoder batch size.
    warn : bool
        Issue a :class:`PosteriorCollapseWarning` when no unit is active.
    seed : int
        Seeds the posterior samples of the mutual-information estimate.
    """
    if threshold < 0:
        raise ConfigError(f"threshold must be >= 0, got {threshold}")
    check_positive("batch_size", batch_size)
    kl = kl_per_dimension(model, data, batch_size)
    act = activity(model, data, batch_size)
    active = act > threshold
    report = CollapseReport(
        latent_dim=len(kl), kl_per_dim=kl.tolist(), kl_total=float(kl.sum()),
        activity=act.tolist(), active_units=int(active.sum()),
        mutual_information=mutual_information(model, data, batch_size, seed),
        collapsed_dims=[int(i) for i in torch.nonzero(~active).flatten()],
        collapsed=not bool(active.any()), threshold=threshold)
    if warn and report.collapsed:
        warnings.warn(
            f"posterior collapse: none of the {report.latent_dim} latent dimensions is active "
            f"(Cov_x(E_q[z_j]) <= {threshold}), total KL {report.kl_total:.3g} nats, "
            f"I(x; z) ~ {report.mutual_information:.3g} nats: the decoder ignores z. Try "
            "kl_warmup_steps, free_bits, a smaller beta or a weaker decoder.",
            PosteriorCollapseWarning, stacklevel=2)
    return report
