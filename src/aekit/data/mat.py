"""ODDS-style MATLAB files: ``X`` (examples) and ``y`` (1 = outlier)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from aekit.data.dataset import Dataset
from aekit.data.validate import as_float_tensor
from aekit.errors import DataError


def load_mat(path: str | Path) -> Dataset:
    """An ODDS ``.mat`` file; labels 0 = inlier, 1 = outlier."""
    from scipy.io import loadmat

    path = Path(path)
    try:
        mat = loadmat(path)
    except NotImplementedError:
        raise DataError(f"{path}: MATLAB v7.3 files are HDF5; re-save with "
                        "save('-v7') or convert to .npz") from None
    except (ValueError, OSError, TypeError) as e:
        raise DataError(f"{path}: cannot read MATLAB file ({e})") from None
    keys = [k for k in mat if not k.startswith("__")]
    if "X" not in mat:
        raise DataError(f"{path}: no variable 'X' (found {', '.join(keys)})")
    x = as_float_tensor(np.asarray(mat["X"], dtype=np.float64), name=str(path))
    y = None
    if "y" in mat:
        y = torch.from_numpy(np.asarray(mat["y"]).reshape(-1).astype(np.int64))
        if len(y) != len(x):
            raise DataError(f"{path}: {len(x)} rows in X but {len(y)} in y")
    return Dataset(x, y, name=str(path), class_names=None if y is None
                   else ["inlier", "outlier"])
