"""Anomaly detection on multichannel time series, and the windowing it rests on.

``sliding_windows`` cuts overlapping windows ``(N, C, W)`` (the last window always ends at
the series' end, and series shorter than a window are padded by repeating their edge
values); ``windows_to_points`` maps per-window, per-position scores back to one score per
time step, averaging over every window that covers the step.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator

from aekit.apps.detect import SCORE_CHUNK, AnomalyDetector
from aekit.apps.pyod_contract import PyODContractMixin
from aekit.errors import AekitError, ConfigError, DataError


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


def _as_series_list(X: Any, name: str) -> tuple[list[np.ndarray], bool]:
    """``(list of (T, C) float32 arrays, whether X was a single series)``."""
    from aekit.data.series import Series
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
        arr = as_float_tensor(item, name=where).cpu().numpy()
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise DataError(f"{where}: a series must have shape (T, C) (time steps, "
                            f"channels), got {arr.shape}")
        out.append(arr)
    return out, single


class TimeSeriesAnomalyDetector(PyODContractMixin, BaseEstimator):
    """Per-time-step anomaly scores for multichannel series of any length.

    The series is standardised per channel with the training statistics, cut into
    sliding windows ``(C, window)``, and an :class:`~aekit.apps.detect.AnomalyDetector`
    with a 1-D conv (``arch="seq"``) or GRU (``arch="gru"``) autoencoder is fitted on the
    windows (robust trimmed training, an ensemble over seeds). To score, every window
    (stride ``score_stride``) is reconstructed; each time step's score is the mean, over
    the windows covering it, of that window's reconstruction error at the step (summed
    over channels, robustly standardised), plus the window's other score parts (e.g. the
    latent density) shared equally over its steps. Series shorter than a window are
    padded by repeating their last value.

    Parameters
    ----------
    window : int
        Window length in time steps.
    stride : int, optional
        Step between training windows; default ``max(1, window // 16)``.
    score_stride : int
        Step between scored windows (1: every step is covered by ``window`` windows).
    arch : {"seq", "gru"}
        1-D convolutional or recurrent encoder/decoder.
    contamination, threshold, model, n_estimators, latent_dim, score, robust_fraction,
    n_neighbors, epochs, batch_size, learning_rate, model_params, random_state, device,
    verbose
        As for :class:`~aekit.apps.detect.AnomalyDetector` (applied to windows); the
        threshold and labels are per time step. ``score`` defaults to
        ``"reconstruction"``, which localises anomalies in time best.

    Attributes
    ----------
    decision_scores_ : np.ndarray
        Per-time-step scores of the training series (concatenated).
    threshold_ : float
    labels_ : np.ndarray
    n_channels_ : int
    detector_ : AnomalyDetector
        The window detector.

    Examples
    --------
    >>> from aekit.data.synthetic_series import make_series
    >>> s = make_series(length=1200, n_channels=3, n_per_kind=1, seed=0)
    >>> det = TimeSeriesAnomalyDetector(window=32, n_estimators=1, epochs=2).fit(s.values)
    >>> det.decision_function(s.values).shape
    (1200,)
    """

    def __init__(
        self,
        window: int = 64,
        stride: int | None = None,
        score_stride: int = 1,
        arch: str = "seq",
        contamination: float = 0.05,
        threshold: float | None = None,
        model: str | Sequence[str] = "ae",
        n_estimators: int = 3,
        latent_dim: int | None = None,
        score: str = "reconstruction",
        robust_fraction: float = 0.25,
        n_neighbors: int = 10,
        epochs: int | None = None,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        model_params: dict[str, Any] | None = None,
        random_state: int = 0,
        device: str = "cpu",
        verbose: bool = False,
    ) -> None:
        self.window = window
        self.stride = stride
        self.score_stride = score_stride
        self.arch = arch
        self.contamination = contamination
        self.threshold = threshold
        self.model = model
        self.n_estimators = n_estimators
        self.latent_dim = latent_dim
        self.score = score
        self.robust_fraction = robust_fraction
        self.n_neighbors = n_neighbors
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.model_params = model_params
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _inner(self) -> AnomalyDetector:
        return AnomalyDetector(
            contamination=self.contamination, model=self.model,
            n_estimators=self.n_estimators, latent_dim=self.latent_dim,
            hidden_dims=(64,), score=self.score, robust_fraction=self.robust_fraction,
            n_neighbors=self.n_neighbors, standardize=False, epochs=self.epochs,
            batch_size=self.batch_size, learning_rate=self.learning_rate,
            model_params={"arch": self.arch, "base_channels": 16, **(self.model_params or {})},
            random_state=self.random_state, device=self.device, verbose=self.verbose)

    def fit(self, X: Any, y: Any = None) -> TimeSeriesAnomalyDetector:
        """Fit on one series ``(T, C)`` or a list of series (labels ``y`` are ignored)."""
        if self.arch not in ("seq", "gru"):
            raise ConfigError(f"arch must be 'seq' or 'gru', got {self.arch!r}")
        for name in ("window", "score_stride"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.stride is not None and int(self.stride) < 1:
            raise ConfigError(f"stride must be >= 1 or None, got {self.stride!r}")
        if not 0 < self.contamination <= 0.5:
            raise ConfigError(f"contamination must be in (0, 0.5], got {self.contamination!r}")
        series, _ = _as_series_list(X, "X")
        channels = {s.shape[1] for s in series}
        if len(channels) > 1:
            raise DataError(f"X: all series need the same number of channels, got "
                            f"{sorted(channels)}")
        self.n_channels_ = channels.pop()
        allv = np.concatenate(series).astype(np.float64)
        self.mean_ = allv.mean(0)
        std = allv.std(0)
        self.scale_ = np.where(std > 1e-8 * (1 + np.abs(self.mean_)), std, 1.0)
        stride = int(self.stride) if self.stride else max(1, int(self.window) // 16)
        windows = np.concatenate([sliding_windows(self._standardise(s), int(self.window),
                                                  stride)[0] for s in series])
        self.detector_ = self._inner().fit(windows)
        self.decision_scores_ = np.concatenate([self._score_one(s) for s in series])
        self.threshold_ = (float(self.threshold) if self.threshold is not None else
                           float(np.quantile(self.decision_scores_, 1 - self.contamination)))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)
        return self

    def _standardise(self, values: np.ndarray) -> np.ndarray:
        return ((values - self.mean_) / self.scale_).astype(np.float32)

    def _score_one(self, values: np.ndarray, per_channel: bool = False) -> np.ndarray:
        """Per-step scores ``(T,)`` of one series, or per-step, per-channel contributions
        ``(T, C)`` of its reconstruction part when ``per_channel``."""
        window = int(self.window)
        windows, starts = sliding_windows(self._standardise(values), window,
                                          int(self.score_stride))
        per_position = []
        for i in range(0, len(windows), SCORE_CHUNK):
            contrib, offset = self.detector_._score_terms(
                torch.from_numpy(windows[i:i + SCORE_CHUNK]))
            if per_channel:
                per_position.append(contrib.numpy())  # (n, C, W)
            else:
                per_position.append((contrib.sum(1) + offset[:, None] / window).numpy())
        scores = np.concatenate(per_position)
        if per_channel:
            return np.stack([windows_to_points(scores[:, c], starts, len(values))
                             for c in range(scores.shape[1])], axis=1)
        return windows_to_points(scores, starts, len(values))

    def _check_fitted(self) -> None:
        if not hasattr(self, "detector_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this TimeSeriesAnomalyDetector is not fitted yet; "
                                 "call fit(X) first")

    def decision_function(self, X: Any) -> np.ndarray | list[np.ndarray]:
        """Per-time-step scores ``(T,)`` of a series (a list of arrays for a list)."""
        self._check_fitted()
        series, single = self._checked(X)
        scores = [self._score_one(s) for s in series]
        return scores[0] if single else scores

    def _checked(self, X: Any) -> tuple[list[np.ndarray], bool]:
        series, single = _as_series_list(X, "X")
        for k, s in enumerate(series):
            if s.shape[1] != self.n_channels_:
                raise DataError(f"X{'' if single else f'[{k}]'}: {s.shape[1]} channels, the "
                                f"detector was fitted on {self.n_channels_}")
        return series, single

    def explain(self, X: Any) -> np.ndarray | list[np.ndarray]:
        """Per-step, per-channel contributions ``(T, C)`` to the reconstruction part of
        the score (mapped back from the windows like the scores): which channel is off."""
        self._check_fitted()
        series, single = self._checked(X)
        out = [self._score_one(s, per_channel=True) for s in series]
        return out[0] if single else out

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit on ``X`` and return ``labels_``."""
        return self.fit(X).labels_

    # -- persistence ----------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write the fitted detector to a folder (JSON + safetensors, nothing pickled)."""
        from aekit.apps.detect import save_detector

        self._check_fitted()
        params = {k: list(v) if isinstance(v, tuple) else v
                  for k, v in self.get_params(deep=False).items()}
        extra = {"series": {"params": params, "n_channels": self.n_channels_,
                            "threshold": self.threshold_}}
        tensors = {"series.mean": torch.from_numpy(np.asarray(self.mean_, np.float64)),
                   "series.scale": torch.from_numpy(np.asarray(self.scale_, np.float64)),
                   "series.decision_scores": torch.from_numpy(self.decision_scores_)}
        return save_detector(self, directory, kind="TimeSeriesAnomalyDetector", extra=extra,
                             extra_tensors=tensors, inner=self.detector_)

    @classmethod
    def load(cls, directory: str | Path, device: str | None = None
             ) -> TimeSeriesAnomalyDetector:
        """Read a detector written by :meth:`save`."""
        from aekit.apps.detect import load_detector

        det = load_detector(directory, device=device)
        if not isinstance(det, cls):
            raise AekitError(f"{directory}: holds a {type(det).__name__}, not a {cls.__name__}")
        return det

    @classmethod
    def _from_folder(cls, doc: dict, tensors: dict, directory: Path,
                     device: str | None) -> TimeSeriesAnomalyDetector:
        from aekit.apps.detect import _restore_detector

        info = doc["series"]
        params = dict(info["params"])
        if isinstance(params.get("model"), list):
            params["model"] = tuple(params["model"])
        det = cls(**params)
        det.detector_ = _restore_detector(doc["detector"], tensors, directory, device=device)
        det.n_channels_ = int(info["n_channels"])
        det.mean_ = tensors["series.mean"].numpy()
        det.scale_ = tensors["series.scale"].numpy()
        det.decision_scores_ = tensors["series.decision_scores"].numpy()
        det.threshold_ = float(info["threshold"])
        if not np.isfinite(det.threshold_):
            raise AekitError(f"{directory}: the series threshold is {det.threshold_}; the "
                             "detector file is damaged")
        det.labels_ = (det.decision_scores_ > det.threshold_).astype(np.int64)
        return det
