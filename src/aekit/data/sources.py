"""``load_data``: one entry point for every data source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from aekit.data.builtin import BUILTIN_NAMES, load_builtin
from aekit.data.dataset import Dataset
from aekit.data.validate import as_float_tensor, check_labels
from aekit.errors import DataError

FORMATS = ".npy, .npz, .csv/.tsv/.txt, .mat, IDX (*-idx3-ubyte, *.idx, optionally .gz), " \
          "an image folder"


def _is_idx(path: Path) -> bool:
    name = path.name.removesuffix(".gz")
    return name.endswith(".idx") or "-idx" in name or name.endswith("ubyte")


def load_data(source: Any, *, label_column: str | int | None = None, y: Any = None,
              name: str | None = None, size: tuple[int, int] | int | None = None) -> Dataset:
    """Load and validate data from any supported source.

    Parameters
    ----------
    source : Dataset, array, tensor, str or Path
        An in-memory array or tensor (examples along the first axis), a built-in name
        (``digits``, ``digits_flat``), or a path: .npy, .npz, .csv (.tsv, .txt), .mat,
        MNIST-format IDX (labels found next to the images), or a folder of images.
    label_column : str or int, optional
        CSV column holding labels.
    y : array-like, optional
        Labels for an in-memory array.
    name : str, optional
        Name used in messages for in-memory data.
    size : int or (H, W), optional
        Resize images from a folder.
    """
    if isinstance(source, Dataset):
        return source
    if isinstance(source, np.ndarray | torch.Tensor | list | tuple):
        label = name or "array"
        x = as_float_tensor(source, name=label)
        return Dataset(x, check_labels(y, len(x), name=label), name=label)
    if not isinstance(source, str | Path):
        raise DataError(f"cannot load data from a {type(source).__name__}; pass an array, "
                        f"a tensor, a path or a built-in name ({', '.join(BUILTIN_NAMES)})")
    if isinstance(source, str) and source in BUILTIN_NAMES:
        return load_builtin(source)
    path = Path(source)
    if not path.exists():
        raise DataError(f"no such file or directory: {path} (built-in datasets: "
                        f"{', '.join(BUILTIN_NAMES)})")
    if path.is_dir():
        from aekit.data.images import load_image_folder

        return load_image_folder(path, size=size)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        from aekit.data.tabular import load_csv

        return load_csv(path, label_column=label_column)
    if suffix == ".npy":
        from aekit.data.tabular import load_npy

        return load_npy(path)
    if suffix == ".npz":
        from aekit.data.tabular import load_npz

        return load_npz(path)
    if suffix == ".mat":
        from aekit.data.mat import load_mat

        return load_mat(path)
    if _is_idx(path):
        from aekit.data.idx import load_idx_pair

        return load_idx_pair(path)
    raise DataError(f"{path}: unsupported format {suffix or '(no extension)'}; "
                    f"supported: {FORMATS}")
