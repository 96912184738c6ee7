"""Helpers shared by the data tests: writers for small IDX, image and MATLAB files."""

from __future__ import annotations

import gzip
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

IDX_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}


def _idx_bytes(arr: np.ndarray) -> bytes:
    """An array in IDX format, written by hand: magic, big-endian dims, big-endian data."""
    code = IDX_CODES[arr.dtype]
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


@pytest.fixture
def idx_bytes() -> Callable[[np.ndarray], bytes]:
    """``idx_bytes(arr)``: the bytes of an IDX file holding ``arr``."""
    return _idx_bytes


@pytest.fixture
def write_idx() -> Callable[[Path, np.ndarray], Path]:
    """``write_idx(path, arr)``: writes an IDX file, gzipped when the name ends in .gz."""

    def write(path: Path, arr: np.ndarray) -> Path:
        data = _idx_bytes(arr)
        if path.suffix == ".gz":
            data = gzip.compress(data)
        path.write_bytes(data)
        return path

    return write


@pytest.fixture
def write_image() -> Callable[..., Path]:
    """``write_image(path, array, mode=None)``: saves a uint8 array with PIL."""

    def write(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        image = Image.fromarray(array)
        if mode is not None:
            image = image.convert(mode)
        image.save(path)
        return path

    return write


MOSES_300 = Path(__file__).parent / "moses_300.csv"  # first 300 molecules of MOSES test


@pytest.fixture(scope="module")
def mols() -> list[str]:
    """The molecules of moses_300.csv (reading them needs the chem extra)."""
    from aekit.data.molecules import read_smiles

    return read_smiles(MOSES_300).smiles
