"""Built-in datasets that ship with the dependencies, so they need no download."""

from __future__ import annotations

import difflib
from functools import lru_cache

import numpy as np
import torch

from aekit.data.dataset import Dataset
from aekit.errors import DataError

__all__ = ["BUILTIN_NAMES", "load_builtin"]

BUILTIN_NAMES: tuple[str, ...] = ("digits", "digits_flat")
"""Names :func:`load_builtin` (and ``load_data``) accept."""


@lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as read-only arrays: images ``(N, 8, 8)`` in 0..16, targets."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.asarray(bunch.images, dtype=np.float64)
    target = np.asarray(bunch.target, dtype=np.int64)
    images.setflags(write=False)
    target.setflags(write=False)
    return images, target


def load_builtin(name: str) -> Dataset:
    """A built-in dataset by name.

    Parameters
    ----------
    name : str
        One of :data:`BUILTIN_NAMES` (case and surrounding spaces are ignored):

        ``digits``
            scikit-learn's copy of the UCI optical handwritten digits: 1797 real 8x8
            greyscale images, scaled from 0..16 to [0, 1], shape ``(1797, 1, 8, 8)``,
            labels 0-9 with class names ``"0"`` .. ``"9"``.
        ``digits_flat``
            The same images as 64-vectors, shape ``(1797, 64)``.

    Returns
    -------
    Dataset
        A fresh dataset (its tensors are not shared with earlier calls).

    Raises
    ------
    DataError
        The name is not a built-in; the message lists the known names.
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in BUILTIN_NAMES:
        close = difflib.get_close_matches(str(key), BUILTIN_NAMES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise DataError(
            f"unknown built-in dataset {name!r}; built-in datasets: "
            f"{', '.join(BUILTIN_NAMES)}{hint}"
        )
    images, target = _digits_arrays()
    x = torch.tensor(images / 16.0, dtype=torch.float32).unsqueeze(1)
    if key == "digits_flat":
        x = x.flatten(1).contiguous()
    return Dataset(
        x,
        torch.tensor(target, dtype=torch.int64),
        name=key,
        class_names=[str(k) for k in range(10)],
        meta={"format": "builtin", "source": "sklearn.datasets.load_digits"},
    )
