"""MNIST-format IDX files (LeCun's format), gzipped or not."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import torch

from aekit.data.dataset import Dataset
from aekit.data.validate import as_float_tensor
from aekit.errors import DataError

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in an IDX file: magic ``00 00 TYPE NDIM``, big-endian sizes, data."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(IDX_TYPES[raw[2]])
    need = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header < need:
        raise DataError(f"{path}: truncated IDX file: {len(raw) - header} data bytes, "
                        f"{need} needed for shape {dims}")
    return np.frombuffer(raw, dtype=dtype, count=int(np.prod(dims)), offset=header).reshape(dims)


def labels_path_for(images_path: Path) -> Path | None:
    """``train-labels-idx1-ubyte[.gz]`` next to ``train-images-idx3-ubyte[.gz]``, if present."""
    name = images_path.name
    if "images" not in name:
        return None
    stem = name.replace("images", "labels").replace("idx3", "idx1")
    for cand in (stem, stem.removesuffix(".gz"), stem + ".gz"):
        p = images_path.with_name(cand)
        if p.is_file():
            return p
    return None


def load_idx_pair(images_path: str | Path, labels_path: str | Path | None = None) -> Dataset:
    """IDX images (scaled to [0, 1] when uint8) as ``(N, 1, H, W)``, with their labels."""
    images_path = Path(images_path)
    arr = read_idx(images_path)
    x = arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else arr
    if x.ndim == 3:
        x = x[:, None]
    tensor = as_float_tensor(x, name=str(images_path))
    labels_path = Path(labels_path) if labels_path else labels_path_for(images_path)
    y = None
    if labels_path is not None:
        y = torch.from_numpy(read_idx(labels_path).astype(np.int64).reshape(-1))
        if len(y) != len(tensor):
            raise DataError(f"{labels_path}: {len(y)} labels for {len(tensor)} images in "
                            f"{images_path}")
    names = None if y is None else [str(k) for k in range(int(y.max()) + 1)]
    return Dataset(tensor, y, name=str(images_path), class_names=names)
