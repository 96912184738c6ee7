"""Latent variables: the diagonal Gaussian posterior q(z | x) and its KL terms.

    q(z|x) = N(mu, diag(exp(logvar))),   z = mu + exp(logvar / 2) * eps,  eps ~ N(0, I)

    KL(q || N(0, I)) = 1/2 sum_j [ mu_j^2 + exp(logvar_j) - 1 - logvar_j ]   (per example)

Log-variances are clamped to ``[-LOGVAR_CLAMP, LOGVAR_CLAMP]`` before use, which keeps
exp() finite and is the first line of defence against NaN losses.
"""

from __future__ import annotations

import math

import torch
from torch.distributions import Independent, Normal

LOGVAR_CLAMP = 15.0
LOG_2PI = math.log(2 * math.pi)


class DiagonalGaussian:
    """q(z | x) with mean ``mu`` and log-variance ``logvar``, both ``(B, K)``."""

    def __init__(self, mu: torch.Tensor, logvar: torch.Tensor) -> None:
        self.mu = mu
        self.logvar = logvar.clamp(-LOGVAR_CLAMP, LOGVAR_CLAMP)

    @classmethod
    def from_params(cls, params: torch.Tensor) -> DiagonalGaussian:
        """Split an encoder output ``(B, 2K)`` into mean and log-variance."""
        mu, logvar = params.chunk(2, dim=-1)
        return cls(mu, logvar)

    @property
    def mean(self) -> torch.Tensor:
        """The posterior mean (the deterministic code)."""
        return self.mu

    @property
    def std(self) -> torch.Tensor:
        """The posterior standard deviation."""
        return torch.exp(0.5 * self.logvar)

    def rsample(self, n: int | None = None) -> torch.Tensor:
        """Reparameterised sample(s): ``(B, K)``, or ``(n, B, K)`` when ``n`` is given."""
        shape = self.mu.shape if n is None else (n, *self.mu.shape)
        eps = torch.randn(shape, dtype=self.mu.dtype, device=self.mu.device)
        return self.mu + self.std * eps

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """``log q(z | x)`` summed over latent dimensions; ``z`` is ``(..., B, K)``."""
        return gaussian_log_prob(z, self.mu, self.logvar)

    def kl_standard_normal(self) -> torch.Tensor:
        """Closed-form ``KL(q || N(0, I))`` per latent dimension, shape ``(B, K)``."""
        return 0.5 * (self.mu.square() + self.logvar.exp() - 1.0 - self.logvar)

    def as_distribution(self) -> Independent:
        """The same posterior as a ``torch.distributions`` object."""
        return Independent(Normal(self.mu, self.std, validate_args=False), 1,
                           validate_args=False)


def gaussian_log_prob(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``log N(z; mu, diag(exp(logvar)))`` summed over the last dimension."""
    return -0.5 * (((z - mu).square() * torch.exp(-logvar)) + logvar + LOG_2PI).sum(-1)


def gaussian_kl(mu_q: torch.Tensor, logvar_q: torch.Tensor, mu_p: torch.Tensor,
                logvar_p: torch.Tensor) -> torch.Tensor:
    """Closed-form ``KL(N(mu_q, e^logvar_q) || N(mu_p, e^logvar_p))`` per dimension."""
    return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p).square())
                  * torch.exp(-logvar_p) - 1.0)
