"""Multichannel time series in the common CSV layout ``timestamp, channel..., is_anomaly``.

One row per time step, in time order: an optional timestamp column (kept as text, never
parsed, so any format works), one numeric column per channel, and an optional 0/1 label
column. Every value is checked; a bad one is reported with its row and column.

    timestamp,temp,pressure,is_anomaly
    2024-01-01 00:00,20.1,1.02,0
    2024-01-01 00:01,20.3,1.01,0

The helpers every windowed series job shares live here too: ``sliding_windows`` cuts
overlapping windows ``(N, C, W)`` (the last window always ends at the series' end, and
series shorter than a window are padded by repeating their edge values);
``windows_to_points`` maps per-window, per-position values back to one per time step
(the mean over the windows covering it); ``as_series_list`` validates one series or a
list; ``dominant_period`` finds a series' period from its autocorrelation;
``flagged_spans`` lists the runs of flagged steps.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aekit.errors import ConfigError, DataError

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


# -- windows ------------------------------------------------------------------------------

def window_starts(length: int, window: int, stride: int) -> np.ndarray:
    """Start indices of the windows over ``length`` steps; the last ends at ``length``.

    A series shorter than ``window`` has the one start 0 (it is padded to ``window``).
    """
    if window < 1 or stride < 1:
        raise ConfigError(f"window and stride must be >= 1, got {window} and {stride}")
    if length <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, length - window + 1, stride, dtype=np.int64)
    if starts[-1] != length - window:
        starts = np.append(starts, length - window)
    return starts


def sliding_windows(values: np.ndarray, window: int, stride: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Overlapping windows of a series.

    Parameters
    ----------
    values : np.ndarray
        Shape ``(T, C)``.
    window, stride : int
        Window length and step between window starts.

    Returns
    -------
    windows : np.ndarray
        Shape ``(N, C, window)``, float32 (a copy, safe to modify).
    starts : np.ndarray
        The ``N`` start indices.
    """
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2 or len(values) == 0:
        raise DataError(f"a series must have shape (T, C) with T >= 1, got {values.shape}")
    t = len(values)
    if t < window:  # repeat the edge values so the one window is full
        values = np.concatenate([values, np.repeat(values[-1:], window - t, axis=0)])
    starts = window_starts(t, window, stride)
    view = np.lib.stride_tricks.sliding_window_view(values, window, axis=0)  # (T-W+1, C, W)
    return np.ascontiguousarray(view[starts]), starts


def windows_to_points(scores: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Per-time-step scores from per-window, per-position scores.

    Parameters
    ----------
    scores : np.ndarray
        Shape ``(N, W)``: the score each window gives to each of its positions.
    starts : np.ndarray
        The windows' start indices (from :func:`sliding_windows`).
    length : int
        Number of time steps ``T`` of the original series (positions beyond it, the
        padding of a short series, are dropped).

    Returns
    -------
    np.ndarray
        Shape ``(T,)``: for each step, the mean of the scores of the windows covering it.
    """
    scores = np.asarray(scores, dtype=np.float64)
    n, w = scores.shape
    total = np.zeros(max(length, int(starts.max()) + w))
    count = np.zeros_like(total)
    for offset in range(w):  # W vectorised passes; starts are distinct, so += is exact
        total[starts + offset] += scores[:, offset]
        count[starts + offset] += 1.0
    return (total / np.maximum(count, 1.0))[:length]


def _sklearn_check(item: Any, where: str) -> None:
    """scikit-learn's checks of an array-like (complex values, objects that are not
    numbers, no channels) with its wording, which estimator checks look for; NaN and inf
    are left to :func:`~aekit.data.validate.as_float_tensor`, whose message names the
    step and channel."""
    from sklearn.utils import check_array

    if isinstance(item, torch.Tensor):
        return
    try:
        check_array(item, ensure_2d=False, allow_nd=True, ensure_all_finite=False,
                    dtype="numeric", input_name=where)
    except TypeError as e:  # a value that is no number at all (a dict, a list, ...)
        raise TypeError(f"{where}: {e}") from None
    except ValueError as e:
        if "complex" in str(e).lower() or "feature(s)" in str(e) or "sample(s)" in str(e):
            raise DataError(f"{where}: {e}") from None


def as_series_list(X: Any, name: str) -> tuple[list[np.ndarray], bool]:
    """``(list of (T, C) float32 arrays, whether X was a single series)``.

    ``X`` is one series (``(T,)``, ``(T, C)``, a :class:`Series`) or a list/tuple of them;
    ``name`` is used in messages.
    """
    from aekit.data.validate import as_float_tensor

    single = not isinstance(X, list | tuple)
    items = [X] if single else list(X)
    if not items:
        raise DataError(f"{name}: no series given")
    out = []
    for k, item in enumerate(items):
        where = name if single else f"{name}[{k}]"
        if isinstance(item, Series):
            item = item.values
        _sklearn_check(item, where)
        arr = as_float_tensor(item, name=where).cpu().numpy()
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise DataError(f"{where}: a series must have shape (T, C) (time steps, "
                            f"channels), got {arr.shape}")
        out.append(arr)
    return out, single


def dominant_period(values: np.ndarray, *, min_period: int = 4, max_period: int | None = None,
                    min_strength: float = 0.2) -> int | None:
    """The series' dominant period in steps, from its autocorrelation; ``None`` if none.

    The series (``(T,)`` or ``(T, C)``; channels are averaged after standardising each) is
    detrended by differencing out a moving average one ``max_period`` long, and its
    autocorrelation ``r(k)`` is computed with the FFT. The period is the lag
    ``k in [min_period, max_period]`` of the first local maximum of ``r`` after ``r`` first
    drops below zero (so the slow decay of a smooth series is not mistaken for a period)
    that reaches 80 % of the highest such maximum (so a multiple of the period is not
    taken for it); ``None`` when that peak is below ``min_strength``.

    Parameters
    ----------
    values : np.ndarray
        The series.
    min_period, max_period : int
        Lags searched; ``max_period`` defaults to a third of the length (at least three
        periods must fit).
    min_strength : float
        Smallest autocorrelation a period must have.

    Returns
    -------
    int or None
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    t = len(x)
    max_period = t // 3 if max_period is None else min(int(max_period), t // 3)
    if max_period < min_period:
        return None
    sd = x.std(0)
    keep = sd > 1e-12 * (1 + np.abs(x.mean(0)))
    if not keep.any():
        return None
    x = ((x[:, keep] - x[:, keep].mean(0)) / sd[keep]).mean(1)
    # a centred moving average over 2 * max_period + 1 steps removes trends, keeps periods
    k = 2 * max_period + 1
    c = np.cumsum(np.concatenate([[0.0], np.pad(x, max_period, mode="reflect")]))
    x = x - (c[k:] - c[:-k]) / k
    x -= x.mean()
    n = 1 << int(np.ceil(np.log2(2 * t)))
    f = np.fft.rfft(x, n)
    acf = np.fft.irfft(f * np.conj(f), n)[:max_period + 2]
    if acf[0] <= 0:
        return None
    acf = acf / acf[0] * t / (t - np.arange(len(acf)))  # unbiased: each lag's own overlap
    negative = np.flatnonzero(acf[1:] < 0)
    if not len(negative):
        return None
    lags = np.arange(max(min_period, int(negative[0]) + 1), max_period + 1)
    peaks = lags[(acf[lags] >= acf[lags - 1]) & (acf[lags] >= acf[lags + 1])]
    if not len(peaks):
        return None
    top = acf[peaks].max()
    best = int(peaks[np.argmax(acf[peaks] >= 0.8 * top)])  # the period, not a multiple
    return best if acf[best] >= min_strength else None


def flagged_spans(flags: np.ndarray) -> list[tuple[int, int]]:
    """The runs of consecutive true steps of ``flags`` ``(T,)``, as ``[start, end)`` pairs."""
    f = np.asarray(flags).astype(bool).reshape(-1).astype(np.int8)
    edges = np.diff(np.concatenate([[0], f, [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))
