"""Conditional VAE (Sohn, Lee & Yan 2015).

    q(z | x, y) = N(mu(x, y), diag sigma^2(x, y)),   p(z) = N(0, I),   p(x | z, y)

    -ELBO(x | y) = E_q[-log p(x | z, y)] + KL(q(z | x, y) || p(z))

summed over dimensions per example and averaged over the batch. The condition y is a
class label (``n_classes``, one-hot inside) or a float vector (``cond_dim``); the encoder
sees it next to the features of x, the decoder next to z, so ``sample(n, y)`` draws
examples of the requested class.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from aekit.errors import ConfigError, DataError
from aekit.latents import DiagonalGaussian
from aekit.models.registry import register
from aekit.models.vae import VAE, VAEConfig


@dataclass
class CVAEConfig(VAEConfig):
    """Settings of the conditional VAE: exactly one of n_classes / cond_dim."""

    n_classes: int | None = 10  # condition on a class label in [0, n_classes)
    cond_dim: int | None = None  # or on a float vector of this size (set n_classes=None)
    feature_dim: int = 128  # size of the encoder's features of x before y joins them

    def __post_init__(self) -> None:
        super().__post_init__()
        if (self.n_classes is None) == (self.cond_dim is None):
            raise ConfigError("set exactly one of n_classes (labels) and cond_dim (vectors); "
                              f"got n_classes={self.n_classes}, cond_dim={self.cond_dim}")
        if self.n_classes is not None and self.n_classes < 2:
            raise ConfigError(f"n_classes must be >= 2, got {self.n_classes}")
        if self.cond_dim is not None and self.cond_dim < 1:
            raise ConfigError(f"cond_dim must be >= 1, got {self.cond_dim}")
        if self.feature_dim < 1:
            raise ConfigError(f"feature_dim must be >= 1, got {self.feature_dim}")


@register
class CVAE(VAE):
    """VAE whose encoder and decoder are both conditioned on y."""

    name = "cvae"
    Config = CVAEConfig
    conditional = True

    def __init__(self, config: CVAEConfig) -> None:
        super().__init__(config)
        c = config.n_classes or config.cond_dim
        self.encoder = nn.Sequential(self._encoder(config.feature_dim), nn.ReLU())
        self.head = nn.Linear(config.feature_dim + c, 2 * config.latent_dim)
        self.decoder = self._decoder(config.latent_dim + c)

    def condition(self, y: torch.Tensor | int | None, n: int) -> torch.Tensor:
        """The condition as floats ``(n, C)``: one-hot labels or the given vectors."""
        c = self.config
        if y is None:
            wanted = (f"a class in [0, {c.n_classes})" if c.n_classes is not None
                      else f"vectors of size {c.cond_dim}")
            raise DataError(f"{self.name} is conditional: pass the condition y ({wanted})")
        if isinstance(y, int):
            y = torch.full((n,), y, dtype=torch.long)
        y = y.to(self.device)
        if c.n_classes is not None:
            y = y.long().reshape(-1)
            if len(y) and (int(y.min()) < 0 or int(y.max()) >= c.n_classes):
                raise DataError(f"labels must be in [0, {c.n_classes}); got "
                                f"{int(y.min())}..{int(y.max())}")
            return F.one_hot(y, c.n_classes).float()
        y = y.float().reshape(len(y), -1)
        if y.shape[1] != c.cond_dim:
            raise DataError(f"condition vectors must have {c.cond_dim} values, got {y.shape[1]}")
        return y

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DiagonalGaussian:
        """q(z | x, y)."""
        h = torch.cat([self.encoder(x), self.condition(y, len(x))], 1)
        return DiagonalGaussian.from_params(self.head(h))

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | int | None = None) -> torch.Tensor:
        return self.decoder(torch.cat([z, self.condition(y, len(z))], 1))

    def sample(self, n: int, y: torch.Tensor | int | None = None) -> torch.Tensor:
        """``n`` examples of condition ``y`` (a label, a label per sample, or vectors)."""
        z = self.prior.sample(n)
        return self.likelihood.mean(self.decode_logits(z, y))
