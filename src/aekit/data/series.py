"""Multichannel time series in the common CSV layout ``timestamp, channel..., is_anomaly``.

One row per time step, in time order: an optional timestamp column (kept as text, never
parsed, so any format works), one numeric column per channel, and an optional 0/1 label
column. Every value is checked; a bad one is reported with its row and column.

    timestamp,temp,pressure,is_anomaly
    2024-01-01 00:00,20.1,1.02,0
    2024-01-01 00:01,20.3,1.01,0
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aekit.errors import DataError

TIMESTAMP_COLUMN = "timestamp"
LABEL_COLUMN = "is_anomaly"


@dataclass
class Series:
    """A multichannel series read from (or ready to write to) CSV.

    Attributes
    ----------
    values : np.ndarray
        float32, shape ``(T, C)``, finite.
    channel_names : list of str
        One name per column of ``values``.
    timestamps : list of str or None
        The timestamp column as written, if there was one.
    labels : np.ndarray or None
        int64 0/1 labels ``(T,)``, if there was a label column.
    name : str
        Where the series came from, used in messages.
    """

    values: np.ndarray
    channel_names: list[str]
    timestamps: list[str] | None = None
    labels: np.ndarray | None = None
    name: str = "series"

    def __len__(self) -> int:
        return len(self.values)


def read_series_csv(
    path: str | Path,
    *,
    timestamp_column: str | None = TIMESTAMP_COLUMN,
    label_column: str | None = LABEL_COLUMN,
    channels: list[str] | None = None,
) -> Series:
    """Read a series CSV with a header row.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    timestamp_column : str or None
        Name of the timestamp column; used when present, ignored when absent.
    label_column : str or None
        Name of the 0/1 label column; used when present, ignored when absent.
    channels : list of str, optional
        The channel columns to read, in this order; they must all be present and no other
        column may be (besides timestamp and label), so a model fitted on some channels
        cannot silently score different ones. Default: every other column, in file order.

    Returns
    -------
    Series

    Raises
    ------
    DataError
        Missing or unexpected columns, empty file, non-numeric or non-finite values,
        labels other than 0/1.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not a UTF-8 text CSV (byte {e.start}: {e.reason}); "
                        "a series file is a CSV with a header row") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise DataError(f"{path}: the file is empty")
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise DataError(f"{path}: duplicate column name(s) {dup}")
    body = rows[1:]
    if not body:
        raise DataError(f"{path}: a header but no data rows")
    special = {c for c in (timestamp_column, label_column) if c is not None and c in header}
    found = [h for h in header if h not in special]
    if channels is None:
        channels = found
    else:
        missing = [c for c in channels if c not in header]
        extra = [c for c in found if c not in channels]
        if missing:
            raise DataError(f"{path}: missing channel column(s) {missing}; "
                            f"the model was fitted on {channels}")
        if extra:
            raise DataError(f"{path}: unexpected column(s) {extra}; the model was fitted on "
                            f"{channels} (plus optional {timestamp_column!r}/{label_column!r})")
    if not channels:
        raise DataError(f"{path}: no channel columns (header: {header})")
    index = {h: i for i, h in enumerate(header)}
    values = np.empty((len(body), len(channels)), dtype=np.float64)
    for r, row in enumerate(body):
        line = r + 2  # 1-based, after the header
        if len(row) != len(header):
            raise DataError(f"{path}, line {line}: {len(row)} fields, the header has "
                            f"{len(header)}")
        for j, name in enumerate(channels):
            cell = row[index[name]].strip()
            try:
                v = float(cell)
            except ValueError:
                raise DataError(f"{path}, line {line}, column {name!r}: {cell!r} is not a "
                                "number") from None
            if not math.isfinite(v):
                raise DataError(f"{path}, line {line}, column {name!r}: {cell!r} is not a "
                                "finite number")
            values[r, j] = v
    timestamps = ([row[index[timestamp_column]].strip() for row in body]
                  if timestamp_column in special else None)
    labels = None
    if label_column in special:
        raw = [row[index[label_column]].strip() for row in body]
        bad = next((i for i, v in enumerate(raw) if v not in ("0", "1", "0.0", "1.0")), None)
        if bad is not None:
            raise DataError(f"{path}, line {bad + 2}, column {label_column!r}: labels must be "
                            f"0 or 1, got {raw[bad]!r}")
        labels = np.array([int(float(v)) for v in raw], dtype=np.int64)
    return Series(values.astype(np.float32), list(channels), timestamps, labels, str(path))


def write_series_csv(path: str | Path, series: Series, *,
                     timestamp_column: str = TIMESTAMP_COLUMN,
                     label_column: str = LABEL_COLUMN,
                     extra: dict[str, np.ndarray] | None = None) -> Path:
    """Write ``series`` in the same layout (timestamps default to 0..T-1).

    ``extra`` adds columns after the channels (for example per-timestamp scores).
    """
    path = Path(path)
    n = len(series)
    stamps = series.timestamps if series.timestamps is not None else [str(i) for i in range(n)]
    extra = {k: np.asarray(v) for k, v in (extra or {}).items()}
    header = [timestamp_column, *series.channel_names]
    if series.labels is not None:
        header.append(label_column)
    header += list(extra)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i in range(n):
            row = [stamps[i], *(f"{float(v):.9g}" for v in series.values[i])]  # float32-exact
            if series.labels is not None:
                row.append(str(int(series.labels[i])))
            row += [f"{float(col[i]):.6g}" if np.issubdtype(col.dtype, np.floating)
                    else str(col[i]) for col in extra.values()]
            w.writerow(row)
    return path
