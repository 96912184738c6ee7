"""Rate and distortion of VAE-family models (the beta sweep that traces the curve by
training one model per beta is a job: :mod:`aekit.apps.rate_distortion`).

For a model with posterior q(z|x), prior p(z) and decoder p(x|z) (Alemi et al. 2018)::

    rate        R = E_x KL(q(z|x) || p(z))          (nats; closed form for N(0, I),
                                                     else a Monte-Carlo estimate)
    distortion  D = E_x E_q(z|x)[-log p(x|z)]        (nats, summed over data dims)

so that -ELBO = R + D. Training with ``beta * KL`` for several beta values moves the
model along the rate-distortion curve: small beta gives high rate and low distortion.
"""

from __future__ import annotations

from typing import Any

import torch

from aekit.errors import ConfigError
from aekit.metrics._util import as_tensor, check_positive, condition, labels_of
from aekit.rng import private_rng

__all__ = ["rate_distortion"]


def rate_distortion(model: Any, data: Any, *, n_samples: int = 1, batch_size: int = 512,
                    seed: int | None = 0) -> tuple[float, float]:
    """``(rate, distortion)`` of ``model`` on ``data`` in nats per example.

    Parameters
    ----------
    model : Autoencoder
        A model with a Gaussian posterior and a ``prior``.
    data : Dataset or tensor
        Evaluation examples.
    n_samples : int
        Posterior samples per example for the distortion (and a Monte-Carlo rate).
    batch_size : int
        Examples per forward pass.
    seed : int or None
        Seeds the posterior samples (None: the global generator).
    """
    check_positive("n_samples", n_samples)
    check_positive("batch_size", batch_size)
    if not model.probabilistic:
        raise ConfigError(f"model {model.name!r} has no Gaussian posterior and prior: "
                          "rate-distortion needs a VAE-family model")
    if model.hierarchical:
        raise ConfigError(f"{model.name!r} has several latent layers; rate-distortion here "
                          "needs a single latent (its per-layer KL is in its loss terms)")
    x = as_tensor(data)
    y = condition(model, labels_of(data), "rate-distortion")
    rate = distortion = 0.0
    with torch.inference_mode(), private_rng(seed, model.device):
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size].to(model.device)
            yb = None if y is None else y[i:i + batch_size].to(model.device)
            q = model.encode(xb, yb)
            for _ in range(n_samples):
                z = q.rsample()
                rate += float(model.prior.kl(q, z).sum()) / n_samples
                nll = model.likelihood.nll(model.decode_logits(z, yb), xb)
                distortion += float(nll.sum()) / n_samples
    return rate / len(x), distortion / len(x)
