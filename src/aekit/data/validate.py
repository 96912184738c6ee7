"""Turn user arrays into validated float32 tensors, with errors that say where."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from aekit.errors import DataError

MAX_LISTED = 5


def _where(indices: np.ndarray, row_offset: int, row_word: str) -> str:
    shown = ", ".join(str(int(i) + row_offset) for i in indices[:MAX_LISTED])
    more = f", ... ({len(indices)} in all)" if len(indices) > MAX_LISTED else ""
    plural = "s" if len(indices) > 1 else ""
    return f"{row_word}{plural} {shown}{more}"


def _column_name(j: int, feature_names: Sequence[str] | None) -> str:
    return f"column {feature_names[j]!r}" if feature_names is not None else f"column {j}"


def _ragged_error(data: Any, name: str) -> DataError:
    lengths = [len(r) if hasattr(r, "__len__") else 1 for r in data]
    expected = max(set(lengths), key=lengths.count)
    bad = next(i for i, n in enumerate(lengths) if n != expected)
    return DataError(f"{name}: ragged data: row {bad} has {lengths[bad]} values, "
                     f"expected {expected} like most rows")


def as_float_tensor(array: Any, *, name: str, feature_names: Sequence[str] | None = None,
                    row_offset: int = 0, row_word: str = "row") -> torch.Tensor:
    """A finite, contiguous float32 tensor from an array-like, or a DataError saying where.

    ``row_offset`` and ``row_word`` let file loaders report positions in their own terms
    (e.g. ``row_offset=2, row_word="line"`` for a CSV with a header).
    """
    if isinstance(array, torch.Tensor):
        arr = array.detach().cpu().numpy()
    else:
        try:
            arr = np.asarray(array)
        except ValueError:
            raise _ragged_error(array, name) from None
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (ValueError, TypeError):
            if arr.ndim == 1 and len(arr) and hasattr(arr[0], "__len__"):
                raise _ragged_error(arr, name) from None
            flat = arr.reshape(len(arr), -1) if arr.ndim else arr.reshape(1, 1)
            for i, row in enumerate(flat):
                for j, value in enumerate(row):
                    try:
                        float(value)
                    except (ValueError, TypeError):
                        raise DataError(
                            f"{name}: {_column_name(j, feature_names)} is not numeric "
                            f"({row_word} {i + row_offset} holds {value!r})") from None
            raise DataError(f"{name}: data is not numeric") from None
    if arr.dtype.kind in "USb" and arr.dtype != bool:
        raise DataError(f"{name}: data is not numeric (dtype {arr.dtype})")
    if arr.dtype.kind not in "fiub":
        raise DataError(f"{name}: unsupported dtype {arr.dtype}")
    if arr.size == 0 or (arr.ndim and arr.shape[0] == 0):
        raise DataError(f"{name}: the data is empty (0 examples)")
    arr = arr.astype(np.float32, copy=False)
    bad = ~np.isfinite(arr)
    if bad.any():
        flat_bad = bad.reshape(len(arr), -1) if arr.ndim > 1 else bad[:, None]
        cols = np.flatnonzero(flat_bad.any(0))
        msgs = []
        for j in cols[:MAX_LISTED]:
            rows = np.flatnonzero(flat_bad[:, j])
            vals = arr.reshape(len(arr), -1)[rows, j] if arr.ndim > 1 else arr[rows]
            kind = "NaN" if np.isnan(vals).all() else ("inf" if np.isinf(vals).all()
                                                       else "NaN/inf")
            msgs.append(f"{_column_name(j, feature_names) if arr.ndim == 2 else f'feature {j}'}"
                        f" has {len(rows)} {kind} value{'s' if len(rows) > 1 else ''} "
                        f"({_where(rows, row_offset, row_word)})")
        more = f"; {len(cols)} columns in all" if len(cols) > MAX_LISTED else ""
        raise DataError(f"{name}: " + "; ".join(msgs) + more)
    return torch.from_numpy(np.ascontiguousarray(arr))


def encode_labels(values: Any) -> tuple[torch.Tensor, list[str]]:
    """Integer codes ``0..K-1`` for label values (numbers or strings) and the K names."""
    arr = np.asarray(values).reshape(-1)
    classes, codes = np.unique(arr.astype(str) if arr.dtype == object else arr,
                               return_inverse=True)
    names = [str(int(c)) if isinstance(c, np.floating) and float(c).is_integer() else str(c)
             for c in classes]
    return torch.from_numpy(codes.astype(np.int64)), names


def check_labels(y: Any, n: int, *, name: str) -> torch.Tensor | None:
    """Labels as int64 codes of length ``n`` (strings are encoded), or None."""
    if y is None:
        return None
    codes, _ = encode_labels(y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else y)
    if len(codes) != n:
        raise DataError(f"{name}: {n} examples but {len(codes)} labels")
    return codes


def check_sample_shape(expected: Sequence[int], actual: Sequence[int], *, where: str) -> None:
    """Raise when one example's shape differs from what a model expects."""
    if tuple(expected) != tuple(actual):
        raise DataError(f"model expects examples of shape {tuple(expected)} but {where} has "
                        f"{tuple(actual)}")
