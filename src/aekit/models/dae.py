"""Denoising autoencoder (Vincent, Larochelle, Bengio & Manzagol 2008).

    x_tilde ~ C(x_tilde | x)   (additive Gaussian, masking or salt-and-pepper noise)

    L(x) = -log p(x | g(f(x_tilde)))

the reconstruction NLL of the CLEAN input from the code of the corrupted one, summed
over data dimensions per example and averaged over the batch. The corruption is drawn
only in training mode (``model.train()``): in eval mode ``loss`` is the clean
reconstruction NLL, and ``encode`` / ``embed`` / ``reconstruct`` never corrupt, so a
trained model maps a noisy input to its clean estimate with ``reconstruct(x_noisy)``.
The noise models live in :mod:`aekit.data.corruptions`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from aekit.data.corruptions import CORRUPTIONS, Corruption, make_corruption
from aekit.errors import ConfigError
from aekit.models.ae import AE, AEConfig
from aekit.models.base import Autoencoder, Batch, Loss, unpack
from aekit.models.registry import register


def denoising_loss(model: Autoencoder, x: torch.Tensor,
                   corruption: Corruption | None) -> Loss:
    """``-log p(x | g(f(C(x))))`` per example, batch mean as the total.

    ``x`` is corrupted with ``corruption`` only when ``model.training`` (and a
    corruption is given); the NLL target is always the clean ``x``.
    """
    x_in = corruption(x) if corruption is not None and model.training else x
    recon = model.likelihood.nll(model.decode_logits(model.encode(x_in)), x)  # (B,)
    total = recon.mean()
    return Loss(total, {"recon": total}, per_example=recon)


@dataclass
class DAEConfig(AEConfig):
    """Settings of the denoising autoencoder: the AE's plus the noise model."""

    corruption: str = "masking"  # gaussian | masking | salt_pepper
    noise_level: float = 0.25  # Gaussian std (>= 0), or the fraction masked / salted (0-1)
    value_range: tuple[float, float] | None = None  # salt-and-pepper (low, high); None: min/max

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.corruption not in CORRUPTIONS:
            raise ConfigError(f"corruption={self.corruption!r} is not one of {CORRUPTIONS}")
        if self.corruption == "gaussian" and not self.noise_level >= 0:
            raise ConfigError(f"noise_level (the Gaussian std) must be >= 0, "
                              f"got {self.noise_level}")
        if self.corruption != "gaussian" and not 0 <= self.noise_level <= 1:
            raise ConfigError(f"noise_level (the fraction of values corrupted) must be in "
                              f"[0, 1] for {self.corruption}, got {self.noise_level}")
        if self.value_range is not None:
            vr = tuple(float(v) for v in self.value_range)
            if len(vr) != 2 or not vr[0] < vr[1]:
                raise ConfigError(f"value_range must be (low, high) with low < high, "
                                  f"got {self.value_range}")
            self.value_range = (vr[0], vr[1])


@register
class DAE(AE):
    """Autoencoder trained to reconstruct the clean input from a corrupted copy."""

    name = "dae"
    Config = DAEConfig

    def __init__(self, config: DAEConfig) -> None:
        super().__init__(config)
        self.corruption = make_corruption(config.corruption, config.noise_level,
                                          config.value_range)

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """``recon`` = -log p(x | g(f(x_tilde))) (x_tilde corrupted in training mode only)."""
        x, _ = unpack(batch)
        return denoising_loss(self, x, self.corruption)
