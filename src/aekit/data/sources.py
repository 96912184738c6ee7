"""``load_data``: the one entry point for every data source.

It accepts what a user has at hand (a built-in name, an array, a file or a folder) and
returns a validated :class:`~aekit.data.dataset.Dataset`, or raises a
:class:`~aekit.errors.DataError` that says what is wrong and where.
"""

from __future__ import annotations

import dataclasses
import difflib
import gzip
import re
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aekit.data.builtin import BUILTIN_NAMES, load_builtin
from aekit.data.dataset import Dataset
from aekit.data.validate import as_float_tensor, build_dataset, labels_and_names
from aekit.errors import ConfigError, DataError

__all__ = ["FORMATS", "detect_format", "load_data"]

FORMATS = (
    ".npy, .npz, .csv/.tsv/.txt (optionally .gz), .mat, IDX (e.g. train-images-idx3-ubyte "
    "or *.idx, optionally .gz), or a folder of images (.png, .jpg, .bmp, .gif)"
)
"""The supported sources, as listed in error messages."""

_SUFFIX_FORMATS = {
    ".npy": "npy",
    ".npz": "npz",
    ".csv": "csv",
    ".tsv": "csv",
    ".tab": "csv",
    ".txt": "csv",
    ".mat": "mat",
    ".idx": "idx",
}
_IDX_NAME = re.compile(r"(^|[-_.])idx\d?([-_.]|$)")


def _looks_like_idx(head: bytes, size: int | None) -> bool:
    """IDX magic (00 00 type ndim) with a header that fits the file."""
    if len(head) < 8 or head[0] or head[1] or head[2] not in (8, 9, 11, 12, 13, 14):
        return False
    ndim = head[3]
    if not 1 <= ndim <= 8 or len(head) < 4 + 4 * ndim:
        return False
    if size is None:
        return True
    itemsize = {8: 1, 9: 1, 11: 2, 12: 4, 13: 4, 14: 8}[head[2]]
    count = 1
    for k in range(ndim):
        count *= int.from_bytes(head[4 + 4 * k: 8 + 4 * k], "big")
    return 4 + 4 * ndim + count * itemsize == size


def _sniff(path: Path) -> str | None:
    """Guess the format of a file with an unknown name from its first bytes."""
    try:
        with path.open("rb") as f:
            head = f.read(64)
        size = path.stat().st_size
        if head[:2] == b"\x1f\x8b":  # only IDX files are read gzipped
            with gzip.open(path, "rb") as g:
                inner = g.read(64)
            return "idx" if _looks_like_idx(inner, None) else None
    except (OSError, EOFError, zlib.error):
        return None
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "npz"
    if head.startswith(b"MATLAB"):
        return "mat"
    if _looks_like_idx(head, size):
        return "idx"
    return None


def detect_format(path: str | Path) -> str | None:
    """The loader a path needs, from its name or, failing that, its content.

    Parameters
    ----------
    path : str or Path
        An existing file or folder.

    Returns
    -------
    str or None
        ``"images"`` (a folder), ``"npy"``, ``"npz"``, ``"csv"`` (also TSV and text),
        ``"mat"``, ``"idx"``, or None when the format is not recognised.
    """
    path = Path(path)
    if path.is_dir():
        return "images"
    name = path.name.lower()
    inner = name.removesuffix(".gz")
    suffix = Path(inner).suffix
    if suffix in _SUFFIX_FORMATS and not (name.endswith(".gz") and suffix in (".npy", ".npz")):
        return _SUFFIX_FORMATS[suffix]
    if _IDX_NAME.search(inner) or inner.endswith("ubyte"):
        return "idx"
    return _sniff(path)


def _check_option(value: Any, option: str, applies_to: str, fmt: str) -> None:
    if value is not None:
        raise ConfigError(f"{option}= applies to {applies_to} only, not to {fmt} data")


def _validated(data: Dataset) -> Dataset:
    """The dataset itself when it already is valid; a float32 copy when its dtype differs."""
    if data.x.dtype == torch.float32 and bool(torch.isfinite(data.x).all()):
        return data  # on any device
    x = as_float_tensor(data.x, name=data.name, feature_names=data.feature_names)
    return dataclasses.replace(data, x=x, meta=dict(data.meta))


def _with_labels(data: Dataset, y: Any) -> Dataset:
    labels, class_names = labels_and_names(y, len(data), name=data.name)
    return dataclasses.replace(data, y=labels, class_names=class_names, meta=dict(data.meta))


def _missing_path_error(source: str | Path) -> DataError:
    text = str(source)
    hint = ""
    if isinstance(source, str) and "/" not in text and "\\" not in text and "." not in text:
        close = difflib.get_close_matches(text.lower(), BUILTIN_NAMES, n=1)
        if close:
            hint = f"; did you mean the built-in {close[0]!r}?"
    return DataError(f"no such file or directory: {text} (built-in datasets: "
                     f"{', '.join(BUILTIN_NAMES)}){hint}")


def _load_path(
    path: Path, *, label_column: str | int | None, size: int | tuple[int, int] | None
) -> Dataset:
    fmt = detect_format(path)
    if fmt is None:
        suffix = "".join(path.suffixes[-2:]) or "(no extension)"
        raise DataError(f"{path}: unsupported format {suffix}; supported: {FORMATS}")
    if fmt != "csv":
        _check_option(label_column, "label_column", "CSV files", fmt)
    if fmt != "images":
        _check_option(size, "size", "image folders", fmt)
    if fmt == "images":
        from aekit.data.images import load_image_folder

        return load_image_folder(path, size=size)
    if fmt == "csv":
        from aekit.data.tabular import load_csv

        return load_csv(path, label_column=label_column)
    if fmt == "npy":
        from aekit.data.tabular import load_npy

        return load_npy(path)
    if fmt == "npz":
        from aekit.data.tabular import load_npz

        return load_npz(path)
    if fmt == "mat":
        from aekit.data.mat import load_mat

        return load_mat(path)
    from aekit.data.idx import load_idx_pair

    return load_idx_pair(path)


def load_data(
    source: Any,
    *,
    label_column: str | int | None = None,
    y: Any = None,
    name: str | None = None,
    size: int | tuple[int, int] | None = None,
) -> Dataset:
    """Load and validate data from any supported source.

    Parameters
    ----------
    source : Dataset, array-like, str or Path
        - a :class:`Dataset`: returned as it is (converted to float32 if needed);
        - a numpy array, torch tensor, nested list or data frame: examples along the
          first axis;
        - a built-in name: ``"digits"`` (``(1797, 1, 8, 8)`` images) or
          ``"digits_flat"`` (``(1797, 64)``);
        - a path: ``.npy``, ``.npz``, ``.csv``/``.tsv``/``.txt`` (delimiter guessed,
          optionally gzipped), ``.mat`` (ODDS layout), an MNIST-format IDX file such as
          ``train-images-idx3-ubyte[.gz]`` or ``*.idx`` (the matching
          ``train-labels-idx1-ubyte[.gz]`` next to it supplies labels), or a folder of
          images (class sub-folders become labels). Files with other names are
          recognised by their content when possible.
    label_column : str or int, optional
        CSV column holding labels (name or 0-based index).
    y : array-like, optional
        Labels for the examples (replacing any the source has).
    name : str, optional
        Name used in messages and stored on the dataset (default: the path, the
        built-in name, or ``"array"``).
    size : int or (height, width), optional
        Resize the images of a folder.

    Returns
    -------
    Dataset
        Validated: ``x`` is a finite float32 tensor of shape ``(N, ...)`` and labels, if
        any, are int64 ``(N,)`` with class names.

    Raises
    ------
    DataError
        The path does not exist (the built-in names are listed), its format is not
        supported (the formats are listed), or the data is invalid (the message names
        the file, row and column).
    ConfigError
        ``label_column`` or ``size`` is given for a source it does not apply to.
    """
    if isinstance(source, Dataset):
        data = _validated(source)
        if y is not None:
            data = _with_labels(data, y)
        if name is not None and name != data.name:
            data = dataclasses.replace(data, name=name, meta=dict(data.meta))
        return data

    if isinstance(source, str | Path):
        if isinstance(source, str) and source.strip().lower() in BUILTIN_NAMES:
            _check_option(label_column, "label_column", "CSV files", "built-in")
            _check_option(size, "size", "image folders", "built-in")
            data = load_builtin(source)
        else:
            path = Path(source).expanduser()
            if not path.exists():
                raise _missing_path_error(source)
            data = _load_path(path, label_column=label_column, size=size)
        if y is not None:
            data = _with_labels(data, y)
        if name is not None:
            data = dataclasses.replace(data, name=name, meta=dict(data.meta))
        return data

    if isinstance(source, np.ndarray | torch.Tensor | list | tuple) or hasattr(
        source, "__array__"
    ) or hasattr(source, "to_numpy"):
        _check_option(label_column, "label_column", "CSV files", "in-memory")
        _check_option(size, "size", "image folders", "in-memory")
        columns = getattr(source, "columns", None)
        feature_names = [str(c) for c in columns] if columns is not None else None
        label = name or "array"
        x = as_float_tensor(source, name=label, feature_names=feature_names)
        if feature_names is not None and (x.ndim != 2 or len(feature_names) != x.shape[1]):
            feature_names = None
        return build_dataset(x, y, name=label, feature_names=feature_names,
                             meta={"format": "array"})

    raise DataError(
        f"cannot load data from a {type(source).__name__}; pass an array, a tensor, a path "
        f"or a built-in name ({', '.join(BUILTIN_NAMES)})"
    )
