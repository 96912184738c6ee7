"""Variational autoencoder (Kingma & Welling 2014; Rezende et al. 2014).

    q(z|x) = N(mu(x), diag sigma^2(x)),   p(z) = N(0, I),   z = mu + sigma * eps

    -ELBO(x) = E_q[-log p(x|z)] + KL(q(z|x) || p(z))

estimated with one reparameterised sample; both terms are summed over dimensions per
example and averaged over the batch, and the KL is closed-form for the standard
normal prior (``prior="mog"`` or ``"vamp"`` give learned priors, whose KL is
estimated by Monte Carlo at the same sample: log q(z|x) - log p(z)). ``beta`` weights
the KL (beta = 1 is the ELBO). Two guards against posterior collapse are settings:

* ``kl_warmup_steps``: the KL weight ramps linearly from 0 to beta over that many steps;
* ``free_bits``: each latent dimension's batch-mean KL counts as at least that many nats
  in the training objective (Kingma et al. 2016); the logged ``kl`` is always the true KL.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from aekit.errors import ConfigError
from aekit.latents import DiagonalGaussian
from aekit.models.base import Autoencoder, Batch, Loss, ModelConfig, unpack
from aekit.models.registry import register
from aekit.priors import PRIORS, VampPrior, make_prior
from aekit.schedules import linear_ramp


@dataclass
class VAEConfig(ModelConfig):
    """Settings of the VAE family."""

    beta: float = 1.0  # weight of the KL term (1 = the ELBO)
    kl_warmup_steps: int = 0  # steps over which the KL weight ramps from 0 to beta
    free_bits: float = 0.0  # per-dimension KL floor (nats) in the objective
    prior: str = "normal"  # p(z): normal | mog (mixture of Gaussians) | vamp (VampPrior)
    prior_components: int = 10  # mixture components (mog) or pseudo-inputs (vamp)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.beta < 0:
            raise ConfigError(f"beta must be >= 0, got {self.beta}")
        if self.kl_warmup_steps < 0:
            raise ConfigError(f"kl_warmup_steps must be >= 0, got {self.kl_warmup_steps}")
        if self.free_bits < 0:
            raise ConfigError(f"free_bits must be >= 0, got {self.free_bits}")
        if self.prior not in PRIORS:
            raise ConfigError(f"prior={self.prior!r} is not one of {PRIORS}")
        if self.prior_components < 1:
            raise ConfigError(f"prior_components must be >= 1, got {self.prior_components}")


@register
class VAE(Autoencoder):
    """Gaussian-posterior VAE trained on the negative ELBO."""

    name = "vae"
    Config = VAEConfig
    generative = True
    probabilistic = True
    kl_weighted = True

    def __init__(self, config: VAEConfig) -> None:
        super().__init__(config)
        self.encoder = self._encoder(2 * config.latent_dim)
        self.decoder = self._decoder()
        self.prior = make_prior(config.prior, config.latent_dim,
                                input_shape=config.input_shape,
                                n_components=config.prior_components)
        if isinstance(self.prior, VampPrior):
            if self.conditional:
                raise ConfigError("prior='vamp' needs an unconditional encoder; use "
                                  "prior='mog' with conditional models")
            self.prior.bind(self.encode)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DiagonalGaussian:
        """The posterior q(z | x)."""
        return DiagonalGaussian.from_params(self.encoder(x))

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z)

    def kl_weight(self) -> float:
        """Current KL weight: beta, ramped from 0 during warm-up."""
        if self.config.kl_warmup_steps <= 0:  # no read of the step: torch.compile would
            return self.config.beta  # guard on its value and re-trace every step
        return linear_ramp(self.step, self.config.kl_warmup_steps, 0.0, self.config.beta)

    def elbo_terms(self, x: torch.Tensor, y: torch.Tensor | None = None):
        """Per-example ``recon`` = -log p(x|z) and per-dimension KL ``(B, K)`` (or ``(B, 1)``
        for a prior with no closed form), at one reparameterised sample."""
        q = self.encode(x, y)
        z = q.rsample()
        recon = self.likelihood.nll(self.decode_logits(z, y), x)  # (B,)
        return recon, self.kl_dims(q, z)

    def kl_dims(self, q: DiagonalGaussian, z: torch.Tensor) -> torch.Tensor:
        """KL(q || p) per latent dimension ``(B, K)`` in closed form, or ``(B, 1)`` as the
        Monte-Carlo estimate at ``z`` when the prior has no closed form."""
        if self.prior.closed_form_kl:
            return q.kl_standard_normal()
        return self.prior.kl(q, z).unsqueeze(-1)

    def objective(self, recon: torch.Tensor, kl_dims: torch.Tensor) -> Loss:
        """Combine per-example terms into the (warmed-up, free-bits) training loss."""
        kl = kl_dims.sum(-1)  # (B,)
        if self.config.free_bits > 0:
            kl_train = kl_dims.mean(0).clamp(min=self.config.free_bits).sum()
        else:
            kl_train = kl.mean()
        weight = self.kl_weight()
        total = recon.mean() + weight * kl_train
        return Loss(total, {"recon": recon.mean(), "kl": kl.mean()},
                    per_example=recon + weight * kl)

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """``recon + beta * kl``, the negative ELBO when beta = 1 (terms: batch means)."""
        x, y = unpack(batch)
        return self.objective(*self.elbo_terms(x, y))

    def sample(self, n: int, y: torch.Tensor | None = None) -> torch.Tensor:
        """E[x | z] for ``n`` codes z ~ p(z)."""
        z = self.prior.sample(n)
        return self.likelihood.mean(self.decode_logits(z, y))
