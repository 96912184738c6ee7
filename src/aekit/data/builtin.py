"""Built-in datasets that need no download."""

from __future__ import annotations

import torch

from aekit.data.dataset import Dataset
from aekit.errors import DataError

BUILTIN_NAMES = ("digits", "digits_flat")


def load_builtin(name: str) -> Dataset:
    """A built-in dataset by name.

    ``digits``: scikit-learn's 1797 real 8x8 handwritten digits (UCI), scaled to [0, 1],
    shape ``(N, 1, 8, 8)``, labels 0-9. ``digits_flat``: the same as 64-vectors.
    """
    if name not in BUILTIN_NAMES:
        raise DataError(f"unknown built-in dataset {name!r}; built-ins: "
                        f"{', '.join(BUILTIN_NAMES)}")
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images / 16.0, dtype=torch.float32).unsqueeze(1)
    if name == "digits_flat":
        x = x.flatten(1)
    return Dataset(x, torch.tensor(d.target, dtype=torch.int64), name=name,
                   class_names=[str(k) for k in range(10)])
