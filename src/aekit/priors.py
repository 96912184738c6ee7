"""Priors p(z) over the latent code.

Every prior exposes ``log_prob(z)`` (summed over latent dimensions), ``sample(n)`` and
``kl(q, z)``, the per-example ``KL(q(z|x) || p(z))``: in closed form where one exists
(the standard normal), otherwise the single-sample Monte-Carlo estimate
``log q(z|x) - log p(z)`` at the reparameterised sample ``z`` the model already drew.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from aekit.errors import ConfigError
from aekit.latents import DiagonalGaussian, gaussian_log_prob

LOG_2PI = math.log(2 * math.pi)


class Prior(nn.Module):
    """Base class for p(z) on ``latent_dim`` dimensions."""

    closed_form_kl: bool = False

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """``log p(z)`` summed over the last dimension."""
        raise NotImplementedError

    def sample(self, n: int) -> torch.Tensor:
        """``n`` draws from p(z), shape ``(n, latent_dim)``."""
        raise NotImplementedError

    def kl(self, q: DiagonalGaussian, z: torch.Tensor) -> torch.Tensor:
        """Per-example ``KL(q || p)``, shape ``(B,)``; Monte-Carlo at ``z`` by default."""
        return q.log_prob(z) - self.log_prob(z)

    def _device(self) -> torch.device:
        buffers = list(self.buffers()) + list(self.parameters())
        return buffers[0].device if buffers else torch.device("cpu")


class StandardNormal(Prior):
    """p(z) = N(0, I); its KL to a diagonal Gaussian posterior has a closed form."""

    closed_form_kl = True

    def __init__(self, latent_dim: int) -> None:
        super().__init__(latent_dim)
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return -0.5 * (z.square() + LOG_2PI).sum(-1)

    def sample(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, device=self._anchor.device)

    def kl(self, q: DiagonalGaussian, z: torch.Tensor) -> torch.Tensor:
        return q.kl_standard_normal().sum(-1)


class MixtureOfGaussians(Prior):
    """p(z) = sum_k pi_k N(z; m_k, diag(exp(s_k))), all parts learned.

    Means start spread as N(0, I) draws, variances at 1, weights uniform.
    """

    def __init__(self, latent_dim: int, n_components: int = 10) -> None:
        super().__init__(latent_dim)
        self.means = nn.Parameter(torch.randn(n_components, latent_dim))
        self.logvars = nn.Parameter(torch.zeros(n_components, latent_dim))
        self.logits = nn.Parameter(torch.zeros(n_components))

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        # z (..., K) against every component (C, K) -> (..., C)
        per = gaussian_log_prob(z.unsqueeze(-2), self.means, self.logvars)
        return torch.logsumexp(per + torch.log_softmax(self.logits, -1), -1)

    def sample(self, n: int) -> torch.Tensor:
        k = torch.multinomial(torch.softmax(self.logits, -1), n, replacement=True)
        eps = torch.randn(n, self.latent_dim, device=self.means.device)
        return self.means[k] + torch.exp(0.5 * self.logvars[k]) * eps


class VampPrior(Prior):
    """VampPrior (Tomczak & Welling 2018): p(z) = 1/C sum_k q(z | u_k).

    The pseudo-inputs u_k are learned examples in data space; the posterior q is the
    model's own encoder, bound after construction with :meth:`bind` (a plain reference,
    so the encoder's weights are stored once, under the model).
    """

    def __init__(self, latent_dim: int, input_shape: tuple[int, ...],
                 n_components: int = 50) -> None:
        super().__init__(latent_dim)
        self.pseudo_inputs = nn.Parameter(torch.rand(n_components, *input_shape))
        self._encode = None

    def bind(self, encode) -> VampPrior:
        """Use ``encode(x) -> DiagonalGaussian`` as the posterior that forms the mixture."""
        object.__setattr__(self, "_encode", encode)
        return self

    def _components(self) -> DiagonalGaussian:
        if self._encode is None:
            raise RuntimeError("VampPrior needs the model's encoder: call bind(model.encode)")
        return self._encode(self.pseudo_inputs)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        q = self._components()
        per = gaussian_log_prob(z.unsqueeze(-2), q.mu, q.logvar)  # (..., C)
        return torch.logsumexp(per, -1) - math.log(len(q.mu))

    def sample(self, n: int) -> torch.Tensor:
        q = self._components()
        k = torch.randint(0, len(q.mu), (n,), device=q.mu.device)
        return q.mu[k] + q.std[k] * torch.randn_like(q.mu[k])


PRIORS = ("normal", "mog", "vamp")


def make_prior(name: str, latent_dim: int, *, input_shape: tuple[int, ...] = (),
               n_components: int = 10) -> Prior:
    """A prior by name: ``normal``, ``mog`` (mixture of Gaussians) or ``vamp``."""
    if name == "normal":
        return StandardNormal(latent_dim)
    if name == "mog":
        return MixtureOfGaussians(latent_dim, n_components)
    if name == "vamp":
        return VampPrior(latent_dim, tuple(input_shape), n_components)
    raise ConfigError(f"prior={name!r} is not one of {PRIORS}")
