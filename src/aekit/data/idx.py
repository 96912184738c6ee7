"""MNIST-format IDX files (LeCun's format), gzipped or not.

An IDX file is a 4-byte magic number ``00 00 TT DD`` (``TT`` the data type code, ``DD``
the number of dimensions), ``DD`` big-endian uint32 sizes, then the values, big-endian,
in C order. MNIST, Fashion-MNIST, KMNIST and EMNIST are distributed this way, as pairs
such as ``train-images-idx3-ubyte.gz`` and ``train-labels-idx1-ubyte.gz``.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from aekit.data.dataset import Dataset
from aekit.data.validate import build_dataset, encode_labels
from aekit.errors import DataError

__all__ = ["IDX_TYPES", "find_labels_file", "load_idx_pair", "read_idx"]

IDX_TYPES: dict[int, tuple[str, str]] = {
    0x08: (">u1", "unsigned byte"),
    0x09: (">i1", "signed byte"),
    0x0B: (">i2", "short"),
    0x0C: (">i4", "int"),
    0x0D: (">f4", "float"),
    0x0E: (">f8", "double"),
}
"""IDX data type code -> (numpy dtype, name)."""

_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it is gzip data (whatever its name)."""
    if not path.exists():
        raise DataError(f"no such file: {path}")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not an IDX file")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except EOFError:
            raise DataError(f"{path}: truncated gzip file (it ends before the compressed "
                            "data does); download it again") from None
        except (OSError, zlib.error) as e:
            raise DataError(f"{path}: corrupt gzip file ({e})") from None
    return raw


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in an IDX file.

    Parameters
    ----------
    path : str or Path
        An IDX file, optionally gzip-compressed (detected from its content, not its name).

    Returns
    -------
    numpy.ndarray
        A writable array in native byte order with the file's shape and dtype
        (uint8, int8, int16, int32, float32 or float64).

    Raises
    ------
    DataError
        The file is missing or unreadable, is not gzip/IDX data (bad magic number or
        unknown type code), or is truncated or has trailing bytes; the message names
        the file.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataError(f"{path}: not an IDX file (only {len(raw)} bytes)")
    if raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number 0x{raw[:4].hex()}; IDX "
                        "files start with two zero bytes, a type code and a dimension count)")
    code, ndim = raw[2], raw[3]
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X} {n}" for c, (_, n) in IDX_TYPES.items())
        raise DataError(f"{path}: not an IDX file (bad magic number 0x{raw[:4].hex()}: "
                        f"unknown data type code 0x{code:02X}; known: {known})")
    if ndim == 0:
        raise DataError(f"{path}: bad magic number 0x{raw[:4].hex()}: 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX file: the header needs {header} bytes for "
                        f"{ndim} dimensions, the file has {len(raw)}")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype_code, type_name = IDX_TYPES[code]
    dtype = np.dtype(dtype_code)
    count = math.prod(dims)
    need = count * dtype.itemsize
    have = len(raw) - header
    if have < need:
        raise DataError(f"{path}: truncated IDX file: shape {dims} of {type_name}s needs "
                        f"{need} data bytes, the file has {have}")
    if have > need:
        raise DataError(f"{path}: corrupt IDX file: {have - need} bytes left over after the "
                        f"data for shape {dims} of {type_name}s")
    arr = np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def find_labels_file(images_path: str | Path) -> Path | None:
    """The labels file that belongs next to an images file, if there is one.

    ``train-images-idx3-ubyte[.gz]`` -> ``train-labels-idx1-ubyte[.gz]`` (with or
    without ``.gz``), likewise ``t10k-images.idx3-ubyte`` or ``faces_images.idx``.

    Parameters
    ----------
    images_path : str or Path
        The images file.

    Returns
    -------
    Path or None
        The existing labels file, or None when the name has no ``images`` part or no
        such file exists.
    """
    images_path = Path(images_path)
    name = images_path.name
    if "images" not in name.lower():
        return None
    base = name.removesuffix(".gz")
    i = base.lower().rfind("images")
    stem = base[:i] + ("Labels" if base[i] == "I" else "labels") + base[i + len("images"):]
    stem = stem.replace("idx3", "idx1")
    for candidate in (stem, stem + ".gz"):
        p = images_path.with_name(candidate)
        if p.is_file() and p != images_path:
            return p
    return None


def load_idx_pair(
    images_path: str | Path, labels_path: str | Path | None = None
) -> Dataset:
    """IDX images as a Dataset, with their labels.

    Parameters
    ----------
    images_path : str or Path
        IDX file of examples: ``(N, H, W)`` images become ``(N, 1, H, W)``; ``(N, D)``
        vectors and ``(N, C, H, W)`` arrays are kept as they are. Unsigned bytes are
        scaled from 0..255 to [0, 1]; other types keep their values.
    labels_path : str or Path, optional
        IDX file of ``N`` labels. By default the matching labels file next to the
        images (see :func:`find_labels_file`) is used when it exists.

    Returns
    -------
    Dataset
        ``meta`` holds ``format="idx"`` and ``labels_file`` (a path or None).

    Raises
    ------
    DataError
        Either file is unreadable or malformed, the images file is 1-D (a labels file),
        or the two files disagree on the number of examples.
    """
    images_path = Path(images_path)
    arr = read_idx(images_path)
    if arr.ndim == 1:
        raise DataError(f"{images_path}: holds {len(arr)} single values, which looks like a "
                        "labels file; pass the images file (e.g. train-images-idx3-ubyte) "
                        "and its labels are found next to it")
    x = arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else arr
    if x.ndim == 3:
        x = x[:, None]
    if labels_path is None:
        labels_path = find_labels_file(images_path)
    y = class_names = None
    if labels_path is not None:
        labels_path = Path(labels_path)
        labels = read_idx(labels_path)
        if labels.ndim != 1 and math.prod(labels.shape[1:]) != 1:
            raise DataError(f"{labels_path}: expected one label per image, got shape "
                            f"{labels.shape}")
        if len(labels) != len(arr):
            raise DataError(f"{labels_path}: {len(labels)} labels for {len(arr)} images in "
                            f"{images_path}")
        y, class_names = encode_labels(labels, name=str(labels_path))
    return build_dataset(
        x,
        y,
        name=str(images_path),
        class_names=class_names,
        meta={"format": "idx", "labels_file": None if labels_path is None else str(labels_path)},
    )
