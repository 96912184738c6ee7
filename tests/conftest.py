"""Fixtures shared by the whole suite: small real data, seeded."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from aekit.data.dataset import Dataset

# The suite's models are tiny: one intra-op thread is as fast as two, and it keeps the
# run time steady when other processes share the cores (OpenMP threads stall under
# oversubscription).
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture(scope="session")
def digits() -> Dataset:
    """scikit-learn's 1797 real 8x8 digits in [0, 1], shape (N, 1, 8, 8), labels 0-9."""
    d = load_digits()
    x = torch.tensor(d.images / 16.0, dtype=torch.float32).unsqueeze(1)
    return Dataset(x, torch.tensor(d.target), name="digits",
                   class_names=[str(k) for k in range(10)])


@pytest.fixture(scope="session")
def digits_flat(digits: Dataset) -> Dataset:
    """The same digits as 64-vectors."""
    return Dataset(digits.x.flatten(1), digits.y, name="digits_flat",
                   class_names=digits.class_names)
