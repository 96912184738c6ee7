"""Linear autoencoder: PCA learned by gradient descent (Bourlard & Kamp 1988).

    z = W_e x + b_e,   x_hat = W_d z + b_d,
    L(x) = -log N(x; x_hat, sigma^2 I) = ||x - x_hat||^2 / (2 sigma^2) + const

summed over data dimensions per example and averaged over the batch. Bourlard & Kamp
(1988) showed that the optimum of this squared error with a k-dimensional code is
reached when the decoder's column space span(W_d) is the span of the top-k principal
directions of the (centred) training data, and Baldi & Hornik (1989) that every other
critical point is a saddle, so gradient descent finds it. The columns of W_d are a
basis of that subspace, not necessarily the orthonormal eigenvectors themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from aekit.errors import ConfigError
from aekit.models.ae import AE, AEConfig
from aekit.models.registry import register

LINEAR_LIKELIHOODS = ("gaussian", "gaussian_learned")


@dataclass
class LinearAEConfig(AEConfig):
    """Settings of the linear autoencoder; only ``latent_dim`` (k) really matters."""

    arch: str = "mlp"  # examples are flattened; "mlp" (or "auto") is the only choice
    hidden_dims: tuple[int, ...] = ()  # must stay empty: one affine map each way
    likelihood: str = "gaussian"  # gaussian (fixed sigma: exact PCA) | gaussian_learned

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.hidden_dims:
            raise ConfigError(
                f"hidden_dims must be () for linear_ae (one linear map each way), "
                f"got {self.hidden_dims}")
        if self.arch not in ("auto", "mlp"):
            raise ConfigError(f"arch must be 'mlp' for linear_ae, got {self.arch!r}")
        self.arch = "mlp"
        if self.likelihood not in LINEAR_LIKELIHOODS:
            raise ConfigError(
                f"likelihood must be one of {LINEAR_LIKELIHOODS} for linear_ae "
                f"(a Gaussian is what makes it PCA), got {self.likelihood!r}")


@register
class LinearAE(AE):
    """Linear encoder and decoder trained on the Gaussian NLL (squared error).

    Reductions as in :class:`~aekit.models.ae.AE`: summed over data dimensions per
    example, averaged over the batch.
    """

    name = "linear_ae"
    Config = LinearAEConfig

    @property
    def decoder_linear(self) -> nn.Linear:
        """The decoder's single affine map ``z -> W_d z + b_d``."""
        return next(m for m in self.decoder if isinstance(m, nn.Linear))

    def decoder_basis(self) -> torch.Tensor:
        """Orthonormal basis ``(D, k)`` of span(W_d), the learned principal subspace."""
        q, _ = torch.linalg.qr(self.decoder_linear.weight.detach())
        return q
