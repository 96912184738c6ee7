"""Turn user data into validated tensors, with errors that say exactly where the problem is.

Every loader funnels its arrays through :func:`as_float_tensor` (examples) and
:func:`labels_and_names` (labels), usually via :func:`build_dataset`. A problem is reported
as a :class:`~aekit.errors.DataError` whose message starts with the data's name (a file
path or a built-in name) and then names the rows and columns involved, for example::

    data.csv: column 'amount' has 3 NaN values (rows 17, 204, 981; lines 19, 206, 983)

Rows are 0-based positions among the examples. Loaders that read text files pass the
1-based file line of each row too, so the message can point into the file.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from aekit.data.dataset import Dataset
from aekit.errors import DataError

__all__ = [
    "MAX_LISTED",
    "as_examples",
    "as_float_tensor",
    "build_dataset",
    "check_labels",
    "check_sample_shape",
    "describe_rows",
    "encode_labels",
    "labels_and_names",
]

MAX_LISTED = 5
"""How many rows (or columns) an error message lists before it says how many there are."""

_MAX_KEPT_LABEL = 1 << 16  # integer labels below this are kept as they are
_FLOAT32_MAX = float(np.finfo(np.float32).max)


# --------------------------------------------------------------------------- helpers


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _listed(items: Sequence[Any], total: int | None = None) -> str:
    """``"1, 2, 3"``, or ``"1, 2, 3, 4, 5, ..."`` when there are more than MAX_LISTED."""
    total = len(items) if total is None else total
    shown = ", ".join(str(i) for i in items[:MAX_LISTED])
    return shown + (", ..." if total > MAX_LISTED else "")


def _line_of(row: int, lines: Sequence[int] | int | None) -> int | None:
    if lines is None:
        return None
    if isinstance(lines, int):
        return lines + row
    return int(lines[row]) if 0 <= row < len(lines) else None


def describe_rows(
    rows: np.ndarray | Sequence[int], lines: Sequence[int] | int | None = None
) -> str:
    """Rows for a message: ``"rows 2, 7"``, or ``"rows 2, 7; lines 4, 9"`` with file lines.

    Parameters
    ----------
    rows : sequence of int
        0-based row positions; the first :data:`MAX_LISTED` are shown, then ``...``.
    lines : sequence of int or int, optional
        The 1-based file line of every row, or the line of row 0 when rows are
        consecutive lines.

    Returns
    -------
    str
    """
    rows = [int(r) for r in rows]
    text = f"row{'s' if len(rows) > 1 else ''} {_listed(rows)}"
    if lines is not None:
        line_nos = [_line_of(r, lines) for r in rows[:MAX_LISTED]]
        if all(n is not None for n in line_nos):
            text += f"; line{'s' if len(rows) > 1 else ''} {_listed(line_nos, len(rows))}"
    return text


def _at_row(row: int, lines: Sequence[int] | int | None) -> str:
    line = _line_of(row, lines)
    return f"row {row}" + ("" if line is None else f" (line {line})")


def _column_label(j: int, feature_names: Sequence[str] | None) -> str:
    if feature_names is not None and 0 <= j < len(feature_names):
        return f"column {feature_names[j]!r}"
    return f"column {j}"


def _is_sequence(value: Any) -> bool:
    if isinstance(value, str | bytes | bytearray):
        return False
    if isinstance(value, np.ndarray | torch.Tensor):
        return value.ndim > 0
    return isinstance(value, Sequence)


def _ragged_error(data: Any, name: str) -> DataError:
    """Find the first place where nested sequences disagree in length, and say where."""
    level: list[tuple[tuple[int, ...], Any]] = [((), data)]
    while level:
        is_seq = [_is_sequence(v) for _, v in level]
        if not any(is_seq):
            break
        if not all(is_seq):
            seq_pos, seq_value = level[is_seq.index(True)]
            flat_pos = level[is_seq.index(False)][0]
            as_list = f"{_position(seq_pos)} is a list of {_plural(len(seq_value), 'value')}"
            as_value = f"{_position(flat_pos)} is a single value"
            if sum(is_seq) * 2 > len(is_seq):  # most are lists: the single value is odd
                return DataError(f"{name}: ragged data: {as_value} but {as_list}")
            return DataError(f"{name}: ragged data: {as_list} but {as_value}")
        lengths = [len(v) for _, v in level]
        expected, _ = Counter(lengths).most_common(1)[0]
        for (pos, _value), length in zip(level, lengths):
            if length != expected:
                like = next(p for (p, _), n in zip(level, lengths) if n == expected)
                return DataError(
                    f"{name}: ragged data: {_position(pos)} has {_plural(length, 'value')}, "
                    f"expected {expected} like {_position(like)}"
                )
        level = [((*pos, i), item) for pos, v in level for i, item in enumerate(v)]
    return DataError(f"{name}: ragged data: the examples do not all have the same shape")


def _position(pos: tuple[int, ...]) -> str:
    if not pos:
        return "the data"
    if len(pos) == 1:
        return f"row {pos[0]}"
    if len(pos) == 2:
        return f"row {pos[0]}, item {pos[1]}"
    return f"row {pos[0]}, item {pos[1:]}"


def _to_number(value: Any) -> float | None:
    """``float(value)`` or None when the value is not a number (strings like '1.5' count)."""
    if isinstance(value, bytes | bytearray):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if isinstance(value, str):
        value = value.strip()
    if value is None or isinstance(value, complex | np.complexfloating):
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _non_numeric_error(
    arr: np.ndarray,
    name: str,
    feature_names: Sequence[str] | None,
    lines: Sequence[int] | int | None,
) -> DataError:
    """Name the columns that hold non-numeric values, with a first example of each."""
    if arr.ndim == 0:
        return DataError(f"{name}: {arr.item()!r} is not a number")
    flat = arr.reshape(len(arr), -1)
    problems: list[str] = []
    n_bad_cols = 0
    for j in range(flat.shape[1]):
        bad_rows = [i for i in range(flat.shape[0]) if _to_number(flat[i, j]) is None]
        if not bad_rows:
            continue
        n_bad_cols += 1
        if len(problems) >= MAX_LISTED:
            continue
        i = bad_rows[0]
        value = flat[i, j]
        if isinstance(value, np.generic):
            value = value.item()
        if _is_sequence(value):
            return _ragged_error(arr.tolist(), name)
        where = _column_label(j, feature_names) if arr.ndim == 2 else f"position {j}"
        if arr.ndim == 1:
            where = "the data"
        count = _plural(len(bad_rows), "non-numeric value")
        problems.append(
            f"{where} is not numeric ({count}; first {value!r} in {_at_row(i, lines)})"
        )
    if not problems:
        return DataError(f"{name}: the data is not numeric (dtype {arr.dtype})")
    more = f"; and {n_bad_cols - len(problems)} more columns" if n_bad_cols > len(problems) else ""
    return DataError(f"{name}: " + "; ".join(problems) + more)


def _nonfinite_error(
    arr: np.ndarray,
    name: str,
    feature_names: Sequence[str] | None,
    lines: Sequence[int] | int | None,
    *,
    overflow: bool = False,
) -> DataError:
    """Count NaN and inf values per column and list the first rows that hold them."""
    bad_nan = np.isnan(arr)
    bad_inf = np.isinf(arr)
    suffix = ""
    if overflow:
        suffix = f"; values beyond float32's range (+-{_FLOAT32_MAX:.3g}) become inf"
    if arr.ndim <= 2:
        mat_nan = bad_nan.reshape(len(arr), -1)
        mat_inf = bad_inf.reshape(len(arr), -1)
        parts: list[str] = []
        n_entries = 0
        for j in range(mat_nan.shape[1]):
            for kind, mask in (("NaN", mat_nan[:, j]), ("inf", mat_inf[:, j])):
                rows = np.flatnonzero(mask)
                if len(rows) == 0:
                    continue
                n_entries += 1
                if len(parts) >= MAX_LISTED:
                    continue
                where = _column_label(j, feature_names) if arr.ndim == 2 else "the data"
                parts.append(
                    f"{where} has {_plural(len(rows), kind + ' value')} "
                    f"({describe_rows(rows, lines)})"
                )
        more = f"; and {n_entries - len(parts)} more columns" if n_entries > len(parts) else ""
        return DataError(f"{name}: " + "; ".join(parts) + more + suffix)
    parts = []
    for kind, mask in (("NaN", bad_nan), ("inf", bad_inf)):
        where = np.argwhere(mask)
        if len(where) == 0:
            continue
        shown = ", ".join(
            f"example {int(p[0])} at {tuple(int(k) for k in p[1:])}" for p in where[:MAX_LISTED]
        )
        more = ", ..." if len(where) > MAX_LISTED else ""
        examples = len(np.unique(where[:, 0]))
        parts.append(
            f"{_plural(len(where), kind + ' value')} in {_plural(examples, 'example')} "
            f"({shown}{more})"
        )
    return DataError(f"{name}: " + "; ".join(parts) + suffix)


# --------------------------------------------------------------------------- examples


def as_float_tensor(
    array: Any,
    *,
    name: str,
    feature_names: Sequence[str] | None = None,
    lines: Sequence[int] | int | None = None,
) -> torch.Tensor:
    """A finite, contiguous float32 tensor from an array-like, or a DataError saying where.

    Parameters
    ----------
    array : array-like
        A numpy array, a torch tensor, (nested) lists or tuples, or anything
        ``numpy.asarray`` accepts. Examples run along the first axis. Numeric strings
        (``"1.5"``) are accepted; booleans become 0/1.
    name : str
        Where the data came from (a file path, ``"array"`` ...); every message starts
        with it.
    feature_names : sequence of str, optional
        Column names of 2-D data, used instead of column numbers in messages.
    lines : sequence of int or int, optional
        The 1-based file line of each row (or of row 0, when rows are consecutive
        lines), reported next to row numbers by loaders of text files.

    Returns
    -------
    torch.Tensor
        float32, contiguous, on the CPU, same shape as the input, finite everywhere. Shares memory
        with the input when it already is a contiguous float32 array or tensor.

    Raises
    ------
    DataError
        The input is empty or a single value; nested lists are ragged (the message names
        the first row whose length differs and the expected length); values are not
        numeric (names each such column with its count and a first example with its
        row); values are NaN or infinite, or too large for float32 (names each column
        with the count and the first rows).
    """
    if isinstance(array, torch.Tensor):
        tensor = array.detach()
        if tensor.is_complex():
            raise DataError(f"{name}: complex values are not supported (dtype {tensor.dtype})")
        if tensor.ndim == 0:
            raise DataError(f"{name}: expected an array of examples, got the single value "
                            f"{tensor.item()!r}")
        if tensor.shape[0] == 0:
            raise DataError(f"{name}: the data is empty (0 examples)")
        if tensor.numel() == 0:
            raise DataError(f"{name}: the examples hold no values (shape {tuple(tensor.shape)})")
        original = tensor.cpu()
        tensor = original.to(torch.float32).contiguous()
        if not bool(torch.isfinite(tensor).all()):
            overflow = bool((torch.isfinite(original) & ~torch.isfinite(tensor)).any())
            raise _nonfinite_error(tensor.numpy(), name, feature_names, lines, overflow=overflow)
        return tensor

    if isinstance(array, np.ndarray):
        arr = array
    else:
        if hasattr(array, "to_numpy") and callable(array.to_numpy):
            array = array.to_numpy()  # pandas and friends, without importing them
        try:
            arr = np.asarray(array)
        except (ValueError, TypeError):
            raise _ragged_error(array, name) from None

    if arr.dtype.kind == "V" and arr.dtype.names:
        from numpy.lib import recfunctions

        try:
            arr = recfunctions.structured_to_unstructured(arr)
        except (TypeError, ValueError):
            raise DataError(f"{name}: the structured array's fields are not all numeric "
                            f"({', '.join(arr.dtype.names)})") from None
    if arr.ndim == 0:
        raise DataError(f"{name}: expected an array of examples, got the single value "
                        f"{arr.item()!r}")
    if arr.shape[0] == 0:
        raise DataError(f"{name}: the data is empty (0 examples)")
    if arr.size == 0:
        raise DataError(f"{name}: the examples hold no values (shape {arr.shape})")

    kind = arr.dtype.kind
    if kind == "c":
        raise DataError(f"{name}: complex values are not supported (dtype {arr.dtype})")
    if kind in "Mm":
        raise DataError(f"{name}: dates and times are not numeric (dtype {arr.dtype}); "
                        "convert them to numbers first")
    if kind in "OUSV":
        if kind == "O" and arr.ndim == 1 and any(_is_sequence(v) for v in arr[:1000]):
            raise _ragged_error(arr.tolist(), name)
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise _non_numeric_error(arr, name, feature_names, lines) from None
    elif kind not in "biuf":
        raise DataError(f"{name}: unsupported dtype {arr.dtype}")

    with np.errstate(over="ignore", invalid="ignore"):
        arr32 = arr.astype(np.float32, copy=False)
    if kind in "fOUSV" and not np.isfinite(arr32).all():
        overflow = bool((np.isfinite(arr) & ~np.isfinite(arr32)).any())
        raise _nonfinite_error(arr32, name, feature_names, lines, overflow=overflow)
    return torch.from_numpy(np.ascontiguousarray(arr32))


def as_examples(X: Any, name: str) -> torch.Tensor:
    """Examples along the first axis as a float32 CPU tensor ``(N, ...)`` with ``N >= 1``.

    Accepts what :func:`as_float_tensor` accepts, and an aekit Dataset (its ``x``). Raises
    a :class:`DataError` naming ``name`` (and the position of any non-finite or
    non-numeric value) otherwise, or when the data is not at least 2-D.
    """
    if hasattr(X, "x") and isinstance(X.x, torch.Tensor):  # an aekit Dataset
        X = X.x
    t = as_float_tensor(X, name=name)
    if t.ndim < 2:
        raise DataError(f"{name}: expected examples along the first axis, shape (N, ...); "
                        f"got shape {tuple(t.shape)} (use X.reshape(-1, 1) for one feature)")
    if len(t) == 0:
        raise DataError(f"{name}: no examples (shape {tuple(t.shape)})")
    return t.cpu()


def check_sample_shape(
    expected: Sequence[int], actual: Sequence[int], *, where: str
) -> None:
    """Raise a DataError when one example's shape differs from what a model expects.

    Parameters
    ----------
    expected : sequence of int
        The shape of one example the model was built for, e.g. ``(1, 8, 8)``.
    actual : sequence of int
        The shape of one example of the data, e.g. ``(64,)``.
    where : str
        The data's name, used in the message.

    Raises
    ------
    DataError
        ``"model expects examples of shape (1, 8, 8) but digits has (64,)"``, with a hint
        when the two shapes hold the same number of values.
    """
    expected, actual = tuple(int(k) for k in expected), tuple(int(k) for k in actual)
    if expected == actual:
        return
    message = f"model expects examples of shape {expected} but {where} has {actual}"
    if math.prod(expected) == math.prod(actual):
        message += (f" (both hold {math.prod(expected)} values, so reshaping the data to "
                    f"{expected} would fit)")
    raise DataError(message)


# --------------------------------------------------------------------------- labels


def _labels_array(values: Any, name: str) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    elif hasattr(values, "to_numpy") and callable(values.to_numpy):
        values = values.to_numpy()
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError):
        raise DataError(f"{name}: labels must be one value per example") from None
    if arr.ndim == 0:
        raise DataError(f"{name}: labels must be one value per example, got the single "
                        f"value {arr.item()!r}")
    if arr.ndim > 1:
        if math.prod(arr.shape[1:]) != 1:
            raise DataError(f"{name}: labels must be one value per example, got shape "
                            f"{arr.shape}")
        arr = arr.reshape(-1)
    return arr


def _integer_codes(values: np.ndarray) -> tuple[torch.Tensor, list[str]]:
    """Non-negative integers are kept; anything else is mapped to 0..K-1 in sorted order."""
    values = values.astype(np.int64)
    if len(values) and values.min() >= 0 and values.max() < _MAX_KEPT_LABEL:
        return torch.from_numpy(values.copy()), [str(k) for k in range(int(values.max()) + 1)]
    classes, codes = np.unique(values, return_inverse=True)
    return torch.from_numpy(codes.astype(np.int64)), [str(int(c)) for c in classes]


def _missing_labels_error(rows: np.ndarray, name: str) -> DataError:
    return DataError(f"{name}: {_plural(len(rows), 'label')} missing ({describe_rows(rows, None)})")


def encode_labels(values: Any, *, name: str = "labels") -> tuple[torch.Tensor, list[str]]:
    """Integer class codes for label values, and the name of each class.

    Parameters
    ----------
    values : array-like
        One label per example: integers, integer-valued floats, booleans, strings
        (numeric strings count as numbers) or other categories. Shape ``(N,)`` or
        ``(N, 1)``.
    name : str, optional
        Used in error messages.

    Returns
    -------
    codes : torch.Tensor
        int64, shape ``(N,)``. Non-negative integer labels (below 65536) are kept as they
        are, so label ``k`` is named ``class_names[k] == str(k)``; other labels (strings,
        negative or fractional numbers) are mapped to ``0..K-1`` in sorted order.
    class_names : list of str
        ``class_names[k]`` names code ``k``.

    Raises
    ------
    DataError
        Labels are missing (NaN, None or empty strings; the rows are named) or are not
        one value per example.
    """
    arr = _labels_array(values, name)
    kind = arr.dtype.kind
    if kind == "b":
        return torch.from_numpy(arr.astype(np.int64)), ["False", "True"]
    if kind in "iu":
        return _integer_codes(arr)
    if kind == "f":
        missing = np.flatnonzero(~np.isfinite(arr))
        if len(missing):
            raise _missing_labels_error(missing, name)
        if np.all(arr == np.round(arr)):
            return _integer_codes(arr)
        classes, codes = np.unique(arr, return_inverse=True)
        return torch.from_numpy(codes.astype(np.int64)), [f"{c:g}" for c in classes]
    if kind in "OUS":
        items = arr.tolist()
        texts = [
            v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in items
        ]
        missing = np.flatnonzero([
            v is None or (isinstance(v, str) and not v.strip())
            or (isinstance(v, float) and not math.isfinite(v))
            for v in texts
        ])
        if len(missing):
            raise _missing_labels_error(missing, name)
        numbers = [_to_number(v) for v in texts]
        if all(x is not None for x in numbers) and all(
            not isinstance(v, bool) for v in texts
        ):
            nums = np.asarray(numbers, dtype=np.float64)
            if np.isfinite(nums).all():
                return encode_labels(nums, name=name)
        strings = [v.strip() if isinstance(v, str) else str(v) for v in texts]
        classes, codes = np.unique(np.asarray(strings, dtype=str), return_inverse=True)
        return torch.from_numpy(codes.astype(np.int64)), [str(c) for c in classes]
    raise DataError(f"{name}: labels of dtype {arr.dtype} are not supported")


def labels_and_names(
    y: Any, n: int, *, name: str
) -> tuple[torch.Tensor | None, list[str] | None]:
    """Validated labels for ``n`` examples and their class names.

    Parameters
    ----------
    y : array-like or None
        Class labels ``(N,)`` (see :func:`encode_labels`), or float conditioning vectors
        ``(N, K)`` with ``K > 1``.
    n : int
        The number of examples.
    name : str
        The data's name, used in messages.

    Returns
    -------
    labels : torch.Tensor or None
        int64 ``(N,)`` class codes, or float32 ``(N, K)`` conditioning vectors.
    class_names : list of str or None
        The name of each class code (None for conditioning vectors or no labels).

    Raises
    ------
    DataError
        The number of labels differs from ``n``, labels are missing, or conditioning
        vectors hold NaN/inf or non-numeric values.
    """
    if y is None:
        return None, None
    shape = tuple(y.shape) if isinstance(y, torch.Tensor) else np.shape(y)
    if len(shape) == 2 and shape[1] > 1:
        cond = as_float_tensor(y, name=f"{name} (labels)")
        if len(cond) != n:
            raise DataError(f"{name}: {n} examples but {len(cond)} labels")
        return cond, None
    codes, class_names = encode_labels(y, name=f"{name} (labels)")
    if len(codes) != n:
        raise DataError(f"{name}: {n} examples but {len(codes)} labels")
    return codes, class_names


def check_labels(y: Any, n: int, *, name: str) -> torch.Tensor | None:
    """Labels as int64 codes of length ``n`` (strings and categories are encoded), or None.

    Parameters
    ----------
    y : array-like or None
        One label per example; see :func:`encode_labels`. A 2-D float array ``(N, K)``
        with ``K > 1`` is kept as float32 conditioning vectors.
    n : int
        The number of examples.
    name : str
        The data's name, used in messages.

    Returns
    -------
    torch.Tensor or None
        The labels (int64 ``(N,)``), conditioning vectors, or None when ``y`` is None.
        Use :func:`labels_and_names` to get the class names as well.

    Raises
    ------
    DataError
        See :func:`labels_and_names`.
    """
    return labels_and_names(y, n, name=name)[0]


# --------------------------------------------------------------------------- datasets


def build_dataset(
    x: Any,
    y: Any = None,
    *,
    name: str,
    feature_names: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
    meta: dict | None = None,
    lines: Sequence[int] | int | None = None,
) -> Dataset:
    """A validated :class:`Dataset` from raw examples and labels.

    Parameters
    ----------
    x : array-like
        Examples along the first axis; at least 2-D (``(N, D)``, ``(N, C, H, W)`` ...).
    y : array-like, optional
        Labels, see :func:`labels_and_names`.
    name : str
        The data's name.
    feature_names : sequence of str, optional
        One name per column of 2-D data.
    class_names : sequence of str, optional
        Names for the label codes; by default those found by :func:`encode_labels`.
    meta : dict, optional
        Extra information kept on the dataset.
    lines : sequence of int or int, optional
        File lines of the rows, for messages (see :func:`as_float_tensor`).

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        Anything :func:`as_float_tensor` or :func:`labels_and_names` rejects, a 1-D array
        (with a hint on how to reshape it), or feature names that do not match the
        columns.
    """
    tensor = as_float_tensor(x, name=name, feature_names=feature_names, lines=lines)
    if tensor.ndim == 1:
        n = len(tensor)
        raise DataError(
            f"{name}: expected examples along the first axis with shape (N, ...), got a 1-D "
            f"array of {n} values; reshape it to ({n}, 1) for {n} one-value examples or "
            f"(1, {n}) for a single example"
        )
    if feature_names is not None:
        feature_names = [str(f) for f in feature_names]
        if tensor.ndim != 2 or len(feature_names) != tensor.shape[1]:
            raise DataError(f"{name}: {len(feature_names)} feature names for examples of "
                            f"shape {tuple(tensor.shape[1:])}")
    labels, found_names = labels_and_names(y, len(tensor), name=name)
    if class_names is not None and labels is not None:
        class_names = [str(c) for c in class_names]
        if labels.dtype == torch.int64 and len(labels) and int(labels.max()) >= len(class_names):
            raise DataError(f"{name}: label {int(labels.max())} has no class name "
                            f"({len(class_names)} names given)")
        found_names = class_names
    return Dataset(
        tensor,
        labels,
        name=name,
        feature_names=None if feature_names is None else list(feature_names),
        class_names=found_names,
        meta=dict(meta or {}),
    )
