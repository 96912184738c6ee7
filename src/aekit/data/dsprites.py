"""A dSprites-style generator: binary images of 2-D shapes with known generative factors.

Matthey et al.'s dSprites has five independent factors of variation; this module renders
the same design on any machine, without a download:

=============  =======  =====================================================
factor         values   meaning
=============  =======  =====================================================
shape          3        square, ellipse, heart
scale          6        linearly spaced in [0.5, 1]
orientation    40       linearly spaced in [0, 2 pi), radians
pos_x          32       linearly spaced in [0, 1] (left to right)
pos_y          32       linearly spaced in [0, 1] (top to bottom)
=============  =======  =====================================================

for 3 * 6 * 40 * 32 * 32 = 737,280 combinations, rendered as 64x64 binary images by
default. A pixel is on when its centre falls inside the shape: the shape's outline is
defined in its own frame (half-size 1; the square's corners are sqrt(2) from its centre),
scaled by ``scale * 0.17`` of the image side, rotated by the orientation and moved so
that its centre lies in ``[0.25, 0.75]`` of the image along each axis, so every shape
stays inside the image at any scale and orientation. Smaller
``resolution`` values (16, 32, ...) and fewer values per factor give fast test data.

Nothing is random but the choice of factor combinations, which is seeded, so the same
seed gives the same images on every machine.

>>> from aekit.data.dsprites import DSprites
>>> sprites = DSprites(resolution=16)
>>> data = sprites.sample(100, seed=0)
>>> data.x.shape, data.meta["factors"].shape
(torch.Size([100, 1, 16, 16]), (100, 5))
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from aekit.data.dataset import Dataset
from aekit.errors import ConfigError

__all__ = ["FACTOR_NAMES", "FACTOR_SIZES", "SHAPES", "DSprites", "dsprites_from_source"]

FACTOR_NAMES: tuple[str, ...] = ("shape", "scale", "orientation", "pos_x", "pos_y")
"""The generative factors, in the column order of every factor array."""

FACTOR_SIZES: tuple[int, ...] = (3, 6, 40, 32, 32)
"""Number of values of each factor in the full dSprites design."""

SHAPES: tuple[str, ...] = ("square", "ellipse", "heart")
"""The shapes, indexed by the ``shape`` factor."""

_HALF_SIZE = 0.17  # half-size of a shape at scale 1, as a fraction of the image side
_MARGIN = 0.25  # shape centres lie in [_MARGIN, 1 - _MARGIN] along each axis
_CHUNK_PIXELS = 1 << 24  # pixels rendered per vectorised chunk (bounds memory)


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether points ``(u, v)`` of the shape's own frame (half-size 1, v up) are inside it."""
    if shape == 0:  # square
        return np.maximum(np.abs(u), np.abs(v)) <= 1.0
    if shape == 1:  # ellipse, twice as wide as it is tall
        return u * u + (v / 0.5) ** 2 <= 1.0
    # heart: (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0, scaled so it spans about [-1, 1]^2
    x, y = u * 1.15, v * 1.15 + 0.1
    r = x * x + y * y - 1.0
    return r * r * r - x * x * y * y * y <= 0.0


class DSprites:
    """Renderer and sampler of dSprites-style images.

    Parameters
    ----------
    resolution : int
        Image side in pixels (64 for dSprites; 16 or 32 for fast tests).
    factor_sizes : mapping of str to int, optional
        Fewer values for some factors, e.g. ``{"orientation": 8, "pos_x": 8, "pos_y": 8}``;
        each must be between 1 and its full size. ``shape`` may use 1 to 3 shapes.

    Attributes
    ----------
    factor_sizes : tuple of int
        Number of values of each factor, in :data:`FACTOR_NAMES` order.
    factor_names : tuple of str
        :data:`FACTOR_NAMES`.
    discrete_factors : tuple of int
        Indices of categorical factors (``(0,)``: the shape).
    """

    factor_names = FACTOR_NAMES
    discrete_factors = (0,)  # shape is categorical; the other factors are ordered

    def __init__(self, resolution: int = 64,
                 factor_sizes: Mapping[str, int] | None = None) -> None:
        if not isinstance(resolution, int) or resolution < 4:
            raise ConfigError(f"resolution must be an integer >= 4, got {resolution!r}")
        sizes = dict(zip(FACTOR_NAMES, FACTOR_SIZES))
        for name, size in (factor_sizes or {}).items():
            if name not in sizes:
                raise ConfigError(f"factor_sizes: unknown factor {name!r}; factors are "
                                  f"{', '.join(FACTOR_NAMES)}")
            full = dict(zip(FACTOR_NAMES, FACTOR_SIZES))[name]
            if not isinstance(size, int) or not 1 <= size <= full:
                raise ConfigError(f"factor_sizes[{name!r}] must be an integer in [1, {full}], "
                                  f"got {size!r}")
            sizes[name] = size
        self.resolution = resolution
        self.factor_sizes: tuple[int, ...] = tuple(sizes[n] for n in FACTOR_NAMES)
        self.scales = np.linspace(0.5, 1.0, sizes["scale"]) if sizes["scale"] > 1 \
            else np.array([1.0])
        self.orientations = np.linspace(0.0, 2 * math.pi, sizes["orientation"], endpoint=False)
        self.positions_x = np.linspace(0.0, 1.0, sizes["pos_x"]) if sizes["pos_x"] > 1 \
            else np.array([0.5])
        self.positions_y = np.linspace(0.0, 1.0, sizes["pos_y"]) if sizes["pos_y"] > 1 \
            else np.array([0.5])

    @property
    def num_combinations(self) -> int:
        """How many distinct factor combinations exist (737,280 for the full design)."""
        return math.prod(self.factor_sizes)

    def factor_values(self, factors: np.ndarray) -> np.ndarray:
        """Factor indices ``(n, 5)`` -> their values (shape index, scale, radians, x, y)."""
        f = self._check_factors(factors)
        return np.stack([f[:, 0].astype(np.float64), self.scales[f[:, 1]],
                         self.orientations[f[:, 2]], self.positions_x[f[:, 3]],
                         self.positions_y[f[:, 4]]], axis=1)

    def _check_factors(self, factors: np.ndarray | Sequence[Sequence[int]]) -> np.ndarray:
        f = np.asarray(factors)
        if f.ndim != 2 or f.shape[1] != len(FACTOR_NAMES):
            raise ConfigError(f"factors must have shape (n, {len(FACTOR_NAMES)}) in the order "
                              f"{', '.join(FACTOR_NAMES)}; got {f.shape}")
        f = f.astype(np.int64)
        sizes = np.asarray(self.factor_sizes)
        bad = (f < 0) | (f >= sizes)
        if bad.any():
            row, col = map(int, np.argwhere(bad)[0])
            raise ConfigError(f"factor {FACTOR_NAMES[col]!r} of row {row} is {f[row, col]}; "
                              f"it must be in [0, {sizes[col] - 1}]")
        return f

    def render(self, factors: np.ndarray | Sequence[Sequence[int]]) -> np.ndarray:
        """Images for factor index rows.

        Parameters
        ----------
        factors : array of int, shape ``(n, 5)``
            Indices of (shape, scale, orientation, pos_x, pos_y), each in
            ``[0, factor_sizes[j])``.

        Returns
        -------
        np.ndarray
            float32 ``(n, 1, resolution, resolution)`` with values 0 and 1.
        """
        f = self._check_factors(factors)
        values = self.factor_values(f)
        r = self.resolution
        centres = ((np.arange(r) + 0.5) / r).astype(np.float32)
        py, px = np.meshgrid(centres, centres, indexing="ij")  # row = y (down), col = x
        out = np.zeros((len(f), 1, r, r), dtype=np.float32)
        chunk = max(1, _CHUNK_PIXELS // (r * r))
        for start in range(0, len(f), chunk):
            sl = slice(start, start + chunk)
            scale, theta, x, y = (values[sl, k, None, None].astype(np.float32)
                                  for k in range(1, 5))
            cx = _MARGIN + x * (1 - 2 * _MARGIN)
            cy = _MARGIN + y * (1 - 2 * _MARGIN)
            dx, dy = px[None] - cx, -(py[None] - cy)  # shape frame: v points up
            cos, sin = np.cos(theta), np.sin(theta)
            half = _HALF_SIZE * scale
            u = (cos * dx + sin * dy) / half  # rotate by -theta, then unscale
            v = (-sin * dx + cos * dy) / half
            shapes = f[sl, 0]
            for s in np.unique(shapes):
                rows = np.nonzero(shapes == s)[0]
                out[start + rows, 0] = _inside(int(s), u[rows], v[rows])
        return out

    def sample_factors(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """``n`` factor combinations drawn uniformly at random (with replacement).

        Parameters
        ----------
        n : int
            How many rows.
        rng : numpy Generator or int seed, optional
            The source of randomness.

        Returns
        -------
        np.ndarray
            int64 ``(n, 5)`` factor indices.
        """
        rng = np.random.default_rng(rng)
        return np.stack([rng.integers(0, s, size=n) for s in self.factor_sizes], axis=1)

    def all_factors(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Rows ``start:stop`` of the full factor product, in C order (pos_y fastest)."""
        stop = self.num_combinations if stop is None else min(stop, self.num_combinations)
        idx = np.arange(start, stop)
        return np.stack(np.unravel_index(idx, self.factor_sizes), axis=1).astype(np.int64)

    def sample(self, n: int, seed: int = 0) -> Dataset:
        """A :class:`Dataset` of ``n`` random images (factor combinations drawn with ``seed``).

        ``y`` is the shape index (0 square, 1 ellipse, 2 heart); ``meta["factors"]`` holds
        the int64 factor indices ``(n, 5)`` and ``meta["factor_names"]`` their names.
        """
        if n < 1:
            raise ConfigError(f"n must be >= 1, got {n}")
        factors = self.sample_factors(n, seed)
        x = torch.from_numpy(self.render(factors))
        return Dataset(x, torch.from_numpy(factors[:, 0].copy()),
                       name=f"dsprites{self.resolution}",
                       class_names=list(SHAPES[: self.factor_sizes[0]]),
                       meta={"factors": factors, "factor_names": list(FACTOR_NAMES),
                             "factor_sizes": list(self.factor_sizes), "format": "generated"})


def dsprites_from_source(source: str, n: int = 10_000, seed: int = 0) -> tuple[DSprites, Dataset]:
    """Parse ``dsprites`` or ``dsprites:RES`` (e.g. ``dsprites:32``) into a generator + sample.

    Raises
    ------
    ConfigError
        If the resolution part is not an integer >= 4.
    """
    name, _, res = source.partition(":")
    if name.strip().lower() != "dsprites":
        raise ConfigError(f"{source!r} is not a dsprites source (dsprites or dsprites:RES)")
    try:
        resolution = int(res) if res else 64
    except ValueError:
        raise ConfigError(f"{source!r}: the resolution after ':' must be an integer") from None
    sprites = DSprites(resolution=resolution)
    return sprites, sprites.sample(n, seed=seed)
