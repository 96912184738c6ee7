"""The validated in-memory dataset every job and the trainer consume."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from aekit.errors import DataError


@dataclass
class Dataset:
    """Validated examples as one float32 tensor, with optional integer labels.

    Attributes
    ----------
    x : torch.Tensor
        float32, shape ``(N, *sample_shape)``: ``(N, D)`` for vectors, ``(N, C, H, W)``
        for images, ``(N, C, T)`` for multichannel sequences. Finite everywhere.
    y : torch.Tensor or None
        int64 class labels of shape ``(N,)`` (or float conditioning vectors ``(N, K)``).
    name : str
        Where the data came from (a file path or a built-in name), used in messages.
    feature_names : list of str or None
        Column names for tabular data.
    class_names : list of str or None
        Names of the label values, ``class_names[k]`` for label ``k``.
    """

    x: torch.Tensor
    y: torch.Tensor | None = None
    name: str = "array"
    feature_names: list[str] | None = None
    class_names: list[str] | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.x.ndim < 2:
            raise DataError(
                f"{self.name}: expected an array of examples with shape (N, ...), "
                f"got shape {tuple(self.x.shape)}"
            )
        if len(self.x) == 0:
            raise DataError(f"{self.name}: the data is empty (0 examples)")
        if self.y is not None and len(self.y) != len(self.x):
            raise DataError(
                f"{self.name}: {len(self.x)} examples but {len(self.y)} labels"
            )

    def __len__(self) -> int:
        return len(self.x)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one example, e.g. ``(64,)`` or ``(1, 8, 8)``."""
        return tuple(self.x.shape[1:])

    def subset(self, index: torch.Tensor) -> Dataset:
        """The examples at ``index`` (a 1-D long tensor), labels kept aligned."""
        return Dataset(
            x=self.x[index],
            y=None if self.y is None else self.y[index],
            name=self.name,
            feature_names=self.feature_names,
            class_names=self.class_names,
            meta=dict(self.meta),
        )

    def split(self, fraction: float, seed: int = 0) -> tuple[Dataset, Dataset]:
        """Random split into ``(rest, held_out)`` with ``fraction`` of examples held out."""
        if not 0.0 < fraction < 1.0:
            raise DataError(f"split fraction must be in (0, 1), got {fraction}")
        n_held = max(1, int(round(len(self) * fraction)))
        if n_held >= len(self):
            raise DataError(
                f"{self.name}: {len(self)} examples are too few to hold out {fraction:.0%}"
            )
        g = torch.Generator().manual_seed(seed)
        perm = torch.randperm(len(self), generator=g)
        return self.subset(perm[n_held:]), self.subset(perm[:n_held])
