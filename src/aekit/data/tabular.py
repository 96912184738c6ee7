"""Tabular files: CSV (and TSV), .npy and .npz."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from aekit.data.dataset import Dataset
from aekit.data.validate import as_float_tensor, encode_labels
from aekit.errors import DataError


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_csv_table(path: str | Path) -> tuple[list[str] | None, list[list[str]], int]:
    """Header (or None), rows of strings, and the file line number of the first data row."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file") from None
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise DataError(f"{path}: the file is empty")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = [r for r in csv.reader(lines, dialect) if r]
    header = None
    first_line = 1
    if rows and not all(_is_number(c) for c in rows[0] if c.strip()):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
        first_line = 2
    if not rows:
        raise DataError(f"{path}: no data rows")
    width = len(header) if header is not None else len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise DataError(f"{path}: line {i + first_line} has {len(row)} fields, "
                            f"expected {width}")
    return header, rows, first_line


def load_csv(path: str | Path, *, label_column: str | int | None = None,
             columns: list[str] | None = None) -> Dataset:
    """A CSV file as a Dataset; ``label_column`` (name or index) becomes the labels.

    Errors name the column and the file line: a non-numeric cell, an empty (missing)
    cell, NaN/inf values, a ragged line, an unknown column.
    """
    path = Path(path)
    header, rows, first_line = read_csv_table(path)
    names = header or [f"x{j}" for j in range(len(rows[0]))]
    y, class_names = None, None
    keep = list(range(len(names)))
    if label_column is not None:
        if isinstance(label_column, int) or (isinstance(label_column, str)
                                             and label_column.isdigit() and header is None):
            li = int(label_column)
            if not 0 <= li < len(names):
                raise DataError(f"{path}: label column {li} is out of range "
                                f"({len(names)} columns)")
        elif label_column in names:
            li = names.index(label_column)
        else:
            raise DataError(f"{path}: no column {label_column!r}; columns: {', '.join(names)}")
        y, class_names = encode_labels([r[li].strip() for r in rows])
        keep.remove(li)
    if columns is not None:
        missing = [c for c in columns if c not in names]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(map(repr, missing))}; "
                            f"columns: {', '.join(names)}")
        keep = [names.index(c) for c in columns]
    feature_names = [names[j] for j in keep]
    values = np.empty((len(rows), len(keep)), dtype=np.float64)
    for i, row in enumerate(rows):
        for k, j in enumerate(keep):
            cell = row[j].strip()
            if cell == "" or cell.lower() in ("na", "nan", "null", "none"):
                values[i, k] = np.nan
                continue
            try:
                values[i, k] = float(cell)
            except ValueError:
                raise DataError(f"{path}: column {names[j]!r} is not numeric (line "
                                f"{i + first_line} holds {cell!r})") from None
    x = as_float_tensor(values, name=str(path), feature_names=feature_names,
                        row_offset=first_line, row_word="line")
    return Dataset(x, y, name=str(path), feature_names=feature_names, class_names=class_names)


def load_npy(path: str | Path) -> Dataset:
    """A ``.npy`` array of examples (never unpickled)."""
    path = Path(path)
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as e:
        raise DataError(f"{path}: cannot read ({e}); object arrays are refused because "
                        "loading them would unpickle") from None
    return Dataset(as_float_tensor(arr, name=str(path)), name=str(path))


X_KEYS, Y_KEYS = ("x", "X", "data", "images", "features"), ("y", "Y", "labels", "targets")


def load_npz(path: str | Path, *, x_key: str | None = None, y_key: str | None = None) -> Dataset:
    """A ``.npz`` archive: examples under ``x``/``X``/``data`` (or its only array), labels
    under ``y``/``labels`` when present."""
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise DataError(f"{path}: cannot read ({e})") from None
    with archive:
        keys = list(archive.keys())
        if x_key is None:
            found = [k for k in X_KEYS if k in keys]
            if found:
                x_key = found[0]
            elif len(keys) == 1:
                x_key = keys[0]
            else:
                raise DataError(f"{path}: which array holds the examples? keys: "
                                f"{', '.join(keys)} (name it x)")
        if x_key not in keys:
            raise DataError(f"{path}: no array {x_key!r}; keys: {', '.join(keys)}")
        if y_key is None:
            y_key = next((k for k in Y_KEYS if k in keys), None)
        try:
            x = archive[x_key]
            y = archive[y_key] if y_key is not None else None
        except ValueError as e:
            raise DataError(f"{path}: cannot read ({e})") from None
    tensor = as_float_tensor(x, name=f"{path}[{x_key}]")
    codes, names = (None, None) if y is None else encode_labels(y)
    if codes is not None and len(codes) != len(tensor):
        raise DataError(f"{path}: {len(tensor)} examples but {len(codes)} labels")
    return Dataset(tensor, codes, name=str(path), class_names=names)
