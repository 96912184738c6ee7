"""Corruption (noise) models for denoising autoencoders (Vincent et al. 2008, 2010).

Each corruption is a small callable ``c(x, generator=None) -> x_tilde`` of the same shape
as ``x`` that draws fresh noise on every call; every value of ``x`` is corrupted
independently:

* :class:`GaussianNoise` ``(std)``: ``x_tilde = x + eps``, ``eps ~ N(0, std^2)``;
* :class:`MaskingNoise` ``(fraction)``: each value is set to 0 with probability
  ``fraction`` (so on average that fraction of the values is zeroed);
* :class:`SaltAndPepperNoise` ``(fraction, low, high)``: each value is chosen with
  probability ``fraction`` and then set to ``low`` or ``high`` by a fair coin flip
  (``low`` / ``high`` default to the batch's minimum and maximum).

Randomness comes from ``generator`` (a ``torch.Generator`` on ``x``'s device) when one is
given, else from torch's global generator, which the trainer seeds and checkpoints.

>>> import torch
>>> from aekit.data.corruptions import make_corruption
>>> noise = make_corruption("masking", 0.5)
>>> noise(torch.ones(2, 3), generator=torch.Generator().manual_seed(0)).shape
torch.Size([2, 3])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from aekit.errors import ConfigError

CORRUPTIONS = ("gaussian", "masking", "salt_pepper")


def _uniform(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)


@dataclass(frozen=True)
class GaussianNoise:
    """Additive isotropic Gaussian noise: ``x + std * eps``, ``eps ~ N(0, I)``."""

    std: float  # standard deviation of the added noise (>= 0)

    def __post_init__(self) -> None:
        if not (self.std >= 0 and math.isfinite(self.std)):
            raise ConfigError(f"noise std must be a finite value >= 0, got {self.std}")

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A corrupted copy of ``x`` (same shape and dtype)."""
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        return x + self.std * noise


@dataclass(frozen=True)
class MaskingNoise:
    """Masking noise: each value is zeroed independently with probability ``fraction``."""

    fraction: float  # probability that a value is set to 0, in [0, 1]

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0:
            raise ConfigError(f"masking fraction must be in [0, 1], got {self.fraction}")

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A corrupted copy of ``x`` with about ``fraction`` of its values set to 0."""
        keep = _uniform(x, generator) >= self.fraction
        return x * keep


@dataclass(frozen=True)
class SaltAndPepperNoise:
    """Salt-and-pepper noise: each value, with probability ``fraction``, becomes ``low``
    or ``high`` (a fair coin decides which).

    ``low`` and ``high`` default to ``x.min()`` and ``x.max()`` of the tensor corrupted.
    """

    fraction: float  # probability that a value is replaced, in [0, 1]
    low: float | None = None  # "pepper" value; None = the minimum of the input
    high: float | None = None  # "salt" value; None = the maximum of the input

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0:
            raise ConfigError(f"salt-and-pepper fraction must be in [0, 1], got {self.fraction}")
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ConfigError(
                f"salt-and-pepper value range must have low < high, got ({self.low}, {self.high})")

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A corrupted copy of ``x`` with about ``fraction`` of its values set to low/high."""
        low = x.min() if self.low is None else torch.tensor(self.low, dtype=x.dtype,
                                                              device=x.device)
        high = x.max() if self.high is None else torch.tensor(self.high, dtype=x.dtype,
                                                                device=x.device)
        u = _uniform(x, generator)
        coin = _uniform(x, generator) < 0.5
        replaced = torch.where(coin, high, low)
        return torch.where(u < self.fraction, replaced, x)


Corruption = GaussianNoise | MaskingNoise | SaltAndPepperNoise


def make_corruption(name: str, level: float,
                    value_range: tuple[float, float] | None = None) -> Corruption:
    """Build a corruption by name.

    Parameters
    ----------
    name : str
        ``"gaussian"``, ``"masking"`` or ``"salt_pepper"``.
    level : float
        The noise standard deviation (gaussian) or the fraction of corrupted values
        (masking, salt_pepper).
    value_range : (float, float), optional
        ``(low, high)`` for salt-and-pepper; None uses each input's min and max.
        Ignored by the other corruptions.
    """
    if name == "gaussian":
        return GaussianNoise(level)
    if name == "masking":
        return MaskingNoise(level)
    if name == "salt_pepper":
        low, high = value_range if value_range is not None else (None, None)
        return SaltAndPepperNoise(level, low, high)
    raise ConfigError(f"corruption={name!r} is not one of {CORRUPTIONS}")
