"""Ladder VAE (Sonderby, Raiko, Maaloe, Sonderby & Winther 2016).

L stochastic layers z_1 (bottom) ... z_L (top). Generative model, top-down:

    p(z_L) = N(0, I),   p(z_l | z_{l+1}) = N(mu_p,l, sigma_p,l^2),   p(x | z_1)

Inference shares the top-down path: a deterministic bottom-up pass d_l = f_l(d_{l-1})
gives (mu_hat_l, sigma_hat_l), which is merged with the prior's top-down parameters by
precision weighting,

    sigma_q,l^2 = 1 / (sigma_hat_l^-2 + sigma_p,l^-2),
    mu_q,l = (mu_hat_l sigma_hat_l^-2 + mu_p,l sigma_p,l^-2) sigma_q,l^2

(at the top, q(z_L | x) = N(mu_hat_L, sigma_hat_L^2)). The negative ELBO decomposes into

    -ELBO = E_q[-log p(x | z_1)] + sum_l E_q[ KL(q(z_l | .) || p(z_l | z_{l+1})) ]

with every KL in closed form at the sampled parent; each layer's KL is reported
(``kl1`` ... ``klL``) and they sum to ``kl``. Sums over dimensions per example, means over
the batch. KL warm-up (``kl_warmup_steps``), which the paper found necessary, applies to
every layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from aekit.errors import ConfigError
from aekit.latents import DiagonalGaussian, gaussian_kl
from aekit.models.base import Batch, Loss, unpack
from aekit.models.registry import register
from aekit.models.vae import VAE, VAEConfig
from aekit.nn.mlp import MLP


@dataclass
class LadderVAEConfig(VAEConfig):
    """Settings of the ladder VAE; ``latent_dims`` lists z_1 (bottom) ... z_L (top)."""

    latent_dims: tuple[int, ...] = (16, 8)  # sizes of z_1 ... z_L (at least two layers)
    ladder_hidden: int = 128  # width of each bottom-up / top-down MLP layer

    def __post_init__(self) -> None:
        self.latent_dims = tuple(int(d) for d in self.latent_dims)
        if len(self.latent_dims) < 2 or any(d < 1 for d in self.latent_dims):
            raise ConfigError(f"latent_dims needs at least two positive sizes, got "
                              f"{self.latent_dims}")
        if self.prior != "normal":
            raise ConfigError("ladder_vae has its own hierarchical prior; leave prior='normal'")
        self.latent_dim = self.latent_dims[-1]  # the top code is the model's embedding
        super().__post_init__()
        if self.ladder_hidden < 1:
            raise ConfigError(f"ladder_hidden must be >= 1, got {self.ladder_hidden}")
        if self.free_bits != 0:  # refused, not ignored: the per-layer KLs have no floor
            raise ConfigError("ladder_vae does not implement free_bits; leave it 0 (beta "
                              "and kl_warmup_steps apply)")


@register
class LadderVAE(VAE):
    """Hierarchical VAE with precision-weighted top-down inference."""

    name = "ladder_vae"
    Config = LadderVAEConfig

    def __init__(self, config: LadderVAEConfig) -> None:
        super().__init__(config)
        dims, h = config.latent_dims, config.ladder_hidden
        self.encoder = self._encoder(h)  # d_1 from x (MLP or conv by data shape)
        self.up = nn.ModuleList(MLP(h, (), h) for _ in dims[1:])  # d_l from d_{l-1}
        self.up_params = nn.ModuleList(nn.Linear(h, 2 * d) for d in dims)
        self.down = nn.ModuleList(MLP(dims[i + 1], (h,), 2 * dims[i])
                                  for i in range(len(dims) - 1))  # p(z_i | z_{i+1})
        self.decoder = self._decoder(dims[0])

    def _bottom_up(self, x: torch.Tensor) -> list[DiagonalGaussian]:
        d = torch.relu(self.encoder(x))
        ds = [d]
        for f in self.up:
            d = torch.relu(f(d))
            ds.append(d)
        return [DiagonalGaussian.from_params(p(d)) for p, d in zip(self.up_params, ds)]

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DiagonalGaussian:
        """q(z_L | x), the top layer's posterior (the lower layers depend on z_L)."""
        return self._bottom_up(x)[-1]

    def _top_down(self, x: torch.Tensor, sample: bool):
        """Posterior samples (or means) z_1..z_L and per-layer KL ``(B,)`` each."""
        hats = self._bottom_up(x)
        q_top = hats[-1]
        z = q_top.rsample() if sample else q_top.mu
        kls = [q_top.kl_standard_normal().sum(-1)]
        zs = [z]
        for level in range(len(hats) - 2, -1, -1):
            p = DiagonalGaussian.from_params(self.down[level](z))
            hat = hats[level]
            prec_hat, prec_p = torch.exp(-hat.logvar), torch.exp(-p.logvar)
            var_q = 1.0 / (prec_hat + prec_p)
            q = DiagonalGaussian((hat.mu * prec_hat + p.mu * prec_p) * var_q, torch.log(var_q))
            z = q.rsample() if sample else q.mu
            kls.append(gaussian_kl(q.mu, q.logvar, p.mu, p.logvar).sum(-1))
            zs.append(z)
        return zs[::-1], kls[::-1]  # bottom first

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """``recon + w * sum_l kl_l`` (w: the warmed-up beta); terms ``kl1``..``klL``, ``kl``."""
        x, _ = unpack(batch)
        zs, kls = self._top_down(x, sample=True)
        recon = self.likelihood.nll(self.decoder(zs[0]), x)
        kl = torch.stack(kls).sum(0)
        weight = self.kl_weight()
        terms = {"recon": recon.mean(), "kl": kl.mean()}
        terms.update({f"kl{i + 1}": k.mean() for i, k in enumerate(kls)})
        return Loss(recon.mean() + weight * kl.mean(), terms, per_example=recon + weight * kl)

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """E[x | z_1] with every layer at its posterior mean."""
        zs, _ = self._top_down(x, sample=False)
        return self.likelihood.mean(self.decoder(zs[0]))

    def sample(self, n: int, y: torch.Tensor | None = None) -> torch.Tensor:
        """Ancestral sampling: z_L ~ N(0, I), z_l ~ p(z_l | z_{l+1}), then E[x | z_1]."""
        z = self.prior.sample(n)
        for level in range(len(self.down) - 1, -1, -1):
            z = DiagonalGaussian.from_params(self.down[level](z)).rsample()
        return self.likelihood.mean(self.decoder(z))
