"""Anomaly detection on multichannel time series: a window detector run over the series.

:class:`TimeSeriesAnomalyDetector` cuts a series into windows, hands them to a window
detector (an :class:`~aekit.apps.detect.AnomalyDetector`, given as a parameter) and
gives every time step ``t`` the mean, over the windows ``w_{t+j}`` that end at ``t .. t +
delay``, of the score each window gives to *its position of t*:

    s_t = 1/(d+1) sum_{j=0..d} [ score(w_{t+j}) + lambda (W r_{t+j}[W-1-j] - sum_i r_{t+j}[i]) ]

(``d = delay``, ``W`` the window, ``lambda = local``, ``r_e[i]`` the reconstruction part's
contribution of position ``i`` of window ``w_e``, summed over channels; :meth:`explain`
splits the same sum by channel).
The window's score is shared over its positions, shifted towards those it reconstructs
worst; ``local=0`` gives each step the plain mean of the window scores. The default is
one configuration for every series, chosen on the NAB series (see the docs page and
``benchmarks/bench_nab.py``):

* the window is one period of the series, found from the autocorrelation of the
  training series (:func:`aekit.data.series.dominant_period`), clipped to
  [``MIN_WINDOW``, ``MAX_WINDOW``]; ``FALLBACK_WINDOW`` steps when there is no period;
* windows are standardised with the training mean and std of the series (so they keep
  their *level*); ``normalize="window"`` z-normalises each window instead (its *shape*
  only: each channel minus its window mean, divided by its window std floored at
  ``STD_FLOOR`` training stds so a flat stretch is not blown up into noise), and
  ``"both"`` stacks the two views as channels. On NAB the level view wins (mean AUROC
  0.610, against 0.597 for both and 0.507 for shape alone: most NAB anomalies are
  level changes);
* the window detector is a small MLP autoencoder on the flattened window (cheap: at most
  ``MAX_TRAIN_WINDOWS`` windows, ``EPOCHS`` epochs), scored by its reconstruction error
  plus the distance of a window's code to its nearest training codes (the
  matrix-profile idea, in code space).

Scores come a bounded ``delay`` late: step ``t``'s score depends only on steps ``<= t +
delay`` (the first window is padded at the front with the first value), so
:class:`SeriesStream` scores points as they arrive, without re-scoring history, returns
each step's score ``delay`` steps after it, and gives the same scores as a batch call.
The default ``delay="auto"`` is ``window - 1`` (at most ``MAX_WINDOW - 1`` steps) and the
default ``local`` is ``LOCAL``. A window scored at its last step stays high for a whole
window after a short anomaly, on steps labelled normal; averaging the windows that
contain a step centres that bump on the anomaly, and the local share puts it on the
positions the windows reconstruct worst (``benchmarks/bench_nab.py``, ``nab_local.md``,
one run: synthetic series 0.921 -> 0.948 mean AUROC, NAB 0.629 -> 0.641, 25 -> 26 top-1
hits, against half a window late with ``local=0``). It was chosen on those same series;
a rule that never scores a variant where it was picked (``bench_nab.py --heldout``,
``nab_heldout.md``) picks it for 2 of 5 folds leaving one category out and for none
leaving one series out (max pooling variants instead), and its picks still beat the
baselines held out. ``delay=0`` gives causal scores on arrival. With the default delay,
:meth:`SeriesStream.provisional` scores the steps not yet final from the windows seen so
far, so an alert can fire on arrival (:meth:`TimeSeriesAnomalyDetector.arrival_scores`)
and be confirmed or withdrawn by the final score (``nab_arrival.md``, one run: on
arrival NAB 0.606 mean AUROC with 22 top-1 hits, synthetic 0.900; final 0.641, 26, 0.948;
alerts on arrival above their own fitted threshold ``arrival_threshold_``: 83 % of those
on NAB confirmed, a NAB anomaly window's first alert known a median 31 steps after its
start on arrival, 50 from the final score).
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import _fit_context, clone
from sklearn.utils._param_validation import Interval, StrOptions

from aekit.apps.base import AutoencoderEstimator
from aekit.apps.detect import FOLDER_READERS, AnomalyDetector, parse_score
from aekit.apps.pyod_contract import PyODContractMixin
from aekit.data.series import Series, as_series_list, dominant_period
from aekit.errors import AekitError, ConfigError, DataError

MIN_WINDOW = 8
MAX_WINDOW = 128
FALLBACK_WINDOW = 32
STD_FLOOR = 0.1  # a window's std is floored at this share of the training series' std
MAX_TRAIN_WINDOWS = 2048  # the training stride is chosen to keep at most this many
NORMALIZE = ("both", "window", "series")
LOCAL = 0.25  # the default share of a step's own position in the window scores it gets
EPOCHS = 10  # of the default window detector: at most 640 steps of batch 32
WINDOW_DETECTOR = "window_detector"  # subfolder of a saved detector holding the window one


def default_window_detector() -> AnomalyDetector:
    """The window detector :class:`TimeSeriesAnomalyDetector` uses when given none."""
    return AnomalyDetector(n_estimators=1, score_type="reconstruction+latent", standardize=False,
                           epochs=EPOCHS, batch_size=32, latent_dim=8, hidden_dims=(64,))


def delayed_mean(scores: np.ndarray, delay: int, final: bool = True) -> np.ndarray:
    """Step ``t``'s delayed score: the mean of ``scores[t .. t + delay]`` along axis 0.

    ``scores[t]`` is the score of the window ending at ``t``; the mean is over the windows
    that end within ``delay`` steps after ``t``, so the score of ``t`` is known at step ``t
    + delay``. ``final``: the last ``delay`` steps get the mean of the windows there are
    (the end of the series); otherwise they are left out (they wait for more steps), and
    the output has ``len(scores) - delay`` rows (none if that is not positive).
    """
    scores = np.asarray(scores)
    n = len(scores)
    if delay == 0:
        return scores.copy()
    ready = max(n - delay, 0)
    out = (np.lib.stride_tricks.sliding_window_view(scores, delay + 1, axis=0).mean(-1)
           if ready else scores[:0].astype(np.float64))
    if not final:
        return out
    tail = [scores[t:].mean(0) for t in range(ready, n)]
    return np.concatenate([out, np.asarray(tail, dtype=out.dtype).reshape(-1, *scores.shape[1:])])


def delayed_positions(values: np.ndarray, final: bool = True) -> np.ndarray:
    """Step ``t``'s delayed score from per-window values ``(N, delay + 1, ...)``: row
    ``e``, column ``j`` is what the window ending at ``e`` gives to step ``e - j`` (a
    number, or an array such as one value per channel); step ``t`` gets the mean of
    ``values[t + j, j]`` over ``j = 0 .. delay``. ``final``: the last ``delay`` steps get
    the mean over the windows there are; otherwise they are left out and the output has
    ``N - delay`` rows (none if that is not positive). With equal columns it is
    :func:`delayed_mean` of one of them.
    """
    n, width = values.shape[:2]
    size = n if final else max(n - width + 1, 0)
    total, count = np.zeros((size, *values.shape[2:])), np.zeros(size)
    for j in range(width):
        stop = max(0, min(size, n - j))
        total[:stop] += values[j:j + stop, j]
        count[:stop] += 1
    return total / np.maximum(count, 1).reshape(-1, *[1] * (values.ndim - 2))


def causal_windows(values: np.ndarray, window: int, first: np.ndarray | None = None
                   ) -> np.ndarray:
    """The windows ``(T, C, window)`` ending at every step of ``values`` ``(T, C)``.

    Window ``t`` holds steps ``t - window + 1 .. t``; steps before the start are the
    series' first value (``first``, default ``values[0]``), so a window only ever looks
    back in time.
    """
    values = np.asarray(values, dtype=np.float32)
    start = values[:1] if first is None else np.asarray(first, np.float32).reshape(1, -1)
    padded = np.concatenate([np.repeat(start, window - 1, axis=0), values])
    view = np.lib.stride_tricks.sliding_window_view(padded, window, axis=0)  # (T, C, W)
    return np.ascontiguousarray(view)


def _channel_names(X: Any) -> np.ndarray | None:
    """The channel names of a :class:`~aekit.data.series.Series` (or a list of them with
    the same names) or of a DataFrame with string columns; ``None`` for bare arrays."""
    items = X if isinstance(X, list | tuple) else [X]
    names = []
    for item in items:
        if isinstance(item, Series):
            names.append(tuple(item.channel_names))
        elif hasattr(item, "columns") and all(isinstance(c, str) for c in item.columns):
            names.append(tuple(item.columns))
        else:
            return None
    if len(set(names)) > 1:
        raise DataError(f"X: the series have different channels: {sorted(set(names))}")
    return np.asarray(names[0], dtype=object)


class TimeSeriesAnomalyDetector(PyODContractMixin, AutoencoderEstimator):
    """Per-time-step anomaly scores for multichannel series of any length.

    Parameters
    ----------
    detector : AnomalyDetector, optional
        The window detector (cloned, then fitted on windows ``(2C, window)``, or ``(C,
        window)`` with ``normalize`` ``"window"``/``"series"``); default
        :func:`default_window_detector`. Its own ``contamination`` and ``threshold`` apply
        to windows and play no part in the per-step labels.
    window : int or "auto"
        Window length in steps; ``"auto"``: one period of the training series.
    normalize : {"both", "window", "series"}
        What the window detector sees: the z-normalised window (shape), the window
        standardised with the series' training statistics (level), or both stacked.
    stride : int, optional
        Step between training windows; default: 1, or larger to keep at most
        ``MAX_TRAIN_WINDOWS`` windows.
    delay : int or "auto"
        Step ``t``'s score is the mean of the scores of the windows ending at ``t .. t +
        delay`` (at most ``window - 1``), so it is known ``delay`` steps after ``t``;
        ``0``: causal, the score of the window ending at ``t``; ``"auto"``: ``window - 1``,
        every window that contains ``t``.
    local : float
        ``lambda`` in the objective above, in [0, 1]: how far each window's score is
        shifted towards the positions it reconstructs worst before a step takes its
        position's share; ``0``: the plain mean of the window scores. Above 0 it needs a
        reconstruction part in the window detector's ``score_type``.
    flatten : bool
        Give the window detector flat vectors (its network is then an MLP, cheap to
        train) rather than ``(channels, steps)`` sequences (1-D conv or GRU, set by the
        detector's ``model_params={"arch": ...}``).
    contamination : float
        Expected share of anomalous time steps in the training series, in (0, 0.5]; sets
        ``threshold_`` to that upper quantile of the training steps' scores.
    threshold : float, optional
        An explicit per-step score threshold; overrides ``contamination``, for the final
        scores and the scores on arrival alike.

    Attributes
    ----------
    window_ : int
        The window length used.
    delay_ : int
        How many steps late a step's score is (see ``delay``).
    local_ : float
        The ``local`` share the scores use (0 for folders saved before it existed).
    detector_ : AnomalyDetector
        The fitted window detector.
    decision_scores_ : np.ndarray
        Per-time-step scores of the training series (concatenated).
    threshold_ : float
    arrival_threshold_ : float
        The threshold of :meth:`arrival_scores` (:meth:`arrival_predict`): the same upper
        ``contamination`` quantile, of the training steps' scores on arrival (``threshold``
        when given). Absent from folders saved before it (arrival labels are refused).
    labels_ : np.ndarray
    n_channels_ : int
    n_features_in_ : int
        The same as ``n_channels_`` (scikit-learn's name: a series is a table whose rows
        are time steps).
    feature_names_in_ : np.ndarray
        The channel names, when ``fit`` got a :class:`~aekit.data.series.Series` or a
        DataFrame; later calls with named channels must give the same ones, in order.

    Examples
    --------
    >>> from aekit.data.synthetic_series import make_series
    >>> s = make_series(length=1200, n_channels=3, n_per_kind=1, seed=0)
    >>> det = TimeSeriesAnomalyDetector().fit(s.values)
    >>> det.decision_function(s.values).shape
    (1200,)
    """

    _parameter_constraints: ClassVar[dict] = {
        "detector": [AnomalyDetector, None],
        "window": [Interval(Integral, 2, None, closed="left"), StrOptions({"auto"})],
        "normalize": [StrOptions(set(NORMALIZE))],
        "stride": [Interval(Integral, 1, None, closed="left"), None],
        "delay": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "local": [Interval(Real, 0, 1, closed="both")],
        "flatten": ["boolean"],
        "contamination": [Interval(Real, 0, 0.5, closed="right")],
        "threshold": [Interval(Real, -math.inf, math.inf, closed="neither"), None],
    }
    _saved_values: ClassVar[tuple[str, ...]] = (
        "n_channels_", "feature_names_in_", "window_", "delay_", "local_", "threshold_",
        "arrival_threshold_")
    _saved_arrays: ClassVar[tuple[str, ...]] = ("mean_", "scale_", "decision_scores_")
    _unsaved_params: ClassVar[tuple[str, ...]] = ("detector",)  # saved as window_detector/

    def __init__(
        self,
        detector: AnomalyDetector | None = None,
        window: int | str = "auto",
        normalize: str = "series",
        stride: int | None = None,
        delay: int | str = "auto",
        local: float = LOCAL,
        flatten: bool = True,
        contamination: float = 0.05,
        threshold: float | None = None,
    ) -> None:
        self.detector = detector
        self.window = window
        self.normalize = normalize
        self.stride = stride
        self.delay = delay
        self.local = local
        self.flatten = flatten
        self.contamination = contamination
        self.threshold = threshold

    # -- fitting --------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> TimeSeriesAnomalyDetector:
        """Fit on one series ``(T, C)`` or a list of series (labels ``y`` are ignored).

        A :class:`~aekit.data.series.Series` or a DataFrame gives its channel names to
        ``feature_names_in_``.
        """
        series, _ = as_series_list(X, "X")
        channels = {s.shape[1] for s in series}
        if len(channels) > 1:
            raise DataError(f"X: all series need the same number of channels, got "
                            f"{sorted(channels)}")
        self.n_channels_ = self.n_features_in_ = channels.pop()
        names = _channel_names(X)
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        allv = np.concatenate(series).astype(np.float64)
        self.mean_ = allv.mean(0)
        std = allv.std(0)
        self.scale_ = np.where(std > 1e-8 * (1 + np.abs(self.mean_)), std, 1.0)
        if self.window == "auto":
            longest = max(series, key=len)
            period = dominant_period(longest, min_period=MIN_WINDOW, max_period=MAX_WINDOW)
            self.window_ = FALLBACK_WINDOW if period is None else period
        else:
            self.window_ = int(self.window)
        self.delay_ = (self.window_ - 1 if self.delay == "auto"
                       else min(int(self.delay), self.window_ - 1))
        inner = self.detector if self.detector is not None else default_window_detector()
        if self.local > 0 and "reconstruction" not in parse_score(inner.score_type):
            raise ConfigError(f"local={self.local} shares window scores by reconstruction "
                              f"error, but the window detector's score_type="
                              f"{inner.score_type!r} has no reconstruction part; set local=0")
        self.local_ = float(self.local)
        windows = [self._inputs(causal_windows(s, self.window_)) for s in series]
        n = sum(len(w) for w in windows)
        stride = int(self.stride) if self.stride else max(1, math.ceil(n / MAX_TRAIN_WINDOWS))
        train = np.concatenate([w[::stride] for w in windows])
        self.detector_ = clone(inner).fit(train)
        values = [self._window_values(w) for w in windows]
        self.decision_scores_ = np.concatenate([delayed_positions(v) for v in values])
        arrival = np.concatenate([v[:, 0] for v in values]).astype(np.float64)
        self.threshold_, self.arrival_threshold_ = (
            (float(self.threshold),) * 2 if self.threshold is not None else
            (self._quantile(self.decision_scores_), self._quantile(arrival)))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)
        return self

    def _quantile(self, scores: np.ndarray) -> float:
        """The threshold ``contamination`` gives: that upper quantile of ``scores``."""
        return float(np.quantile(scores, 1 - self.contamination))

    def _inputs(self, windows: np.ndarray) -> np.ndarray:
        """The window detector's inputs ``(N, C or 2C, W)`` from raw windows ``(N, C, W)``."""
        mean, scale = self.mean_[:, None], self.scale_[:, None]
        parts = []
        if self.normalize in ("both", "window"):
            mu = windows.mean(2, keepdims=True)
            sd = np.maximum(windows.std(2, keepdims=True), STD_FLOOR * scale)
            parts.append((windows - mu) / sd)
        if self.normalize in ("both", "series"):
            parts.append((windows - mean) / scale)
        out = np.concatenate(parts, axis=1).astype(np.float32)
        return out.reshape(len(out), -1) if self.flatten else out

    # -- scoring --------------------------------------------------------------------------
    def _window_values(self, inputs: np.ndarray) -> np.ndarray:
        """``(N, delay_ + 1)``: column ``j`` of row ``e`` is what the window ending at ``e``
        gives to step ``e - j``: its score plus ``local_`` times (``W`` times the
        reconstruction contribution of that position minus the window's total)."""
        if not self.local_:
            return self._shared_values(self.detector_.decision_function(inputs), None)
        return self._shared_values(*self._position_contributions(inputs, scores=True))

    def _shared_values(self, scores: np.ndarray, contrib: np.ndarray | None) -> np.ndarray:
        """:meth:`_window_values` from the window scores and the contributions
        ``(N, C, W)`` of :meth:`_position_contributions` (not read when ``local_`` is 0:
        every position then gets the window's score)."""
        width = self.delay_ + 1
        if not self.local_:
            return np.broadcast_to(scores[:, None], (len(scores), width))
        per_position = contrib.sum(1)
        shift = (self.window_ * per_position[:, ::-1][:, :width]
                 - per_position.sum(1, keepdims=True))
        return scores[:, None] + self.local_ * shift

    def _checked(self, X: Any) -> tuple[list[np.ndarray], bool]:
        self._check_fitted()
        series, single = as_series_list(X, "X")
        names, fitted = _channel_names(X), getattr(self, "feature_names_in_", None)
        if names is not None and fitted is not None and not np.array_equal(names, fitted):
            raise DataError(f"X: channels {names.tolist()}, the detector was fitted on "
                            f"{fitted.tolist()} (same names, same order)")
        for k, s in enumerate(series):
            if s.shape[1] != self.n_channels_:
                raise DataError(f"X{'' if single else f'[{k}]'} has {s.shape[1]} features, "
                                f"but {type(self).__name__} is expecting "
                                f"{self.n_channels_} features as input (one per channel)")
        return series, single

    def decision_function(self, X: Any) -> np.ndarray | list[np.ndarray]:
        """Per-time-step scores ``(T,)`` of a series (a list of arrays for a list).

        Step ``t``'s score is the mean, over the windows ending at ``t .. t + delay_``
        (fewer at the end of the series), of the score each gives to its position of
        ``t`` (the module's objective).
        """
        series, single = self._checked(X)
        scores = [delayed_positions(values) for values in self._series_values(series)]
        return scores[0] if single else scores

    def arrival_scores(self, X: Any) -> np.ndarray | list[np.ndarray]:
        """Per-time-step scores ``(T,)`` as each step arrives: what the window ending at
        ``t`` alone gives to its position of ``t`` (the objective's ``j = 0`` term, with
        the same ``local_`` share), i.e. ``decision_function`` of the series cut at ``t``
        (its last value) and the provisional score :meth:`SeriesStream.provisional` gives
        the newest step. With ``delay_ = 0`` it is ``decision_function``; otherwise the
        final score of ``t`` replaces it ``delay_`` steps later. Its threshold is
        ``arrival_threshold_`` (:meth:`arrival_predict`)."""
        series, single = self._checked(X)
        scores = [values[:, 0].astype(np.float64) for values in self._series_values(series)]
        return scores[0] if single else scores

    def arrival_predict(self, X: Any) -> np.ndarray | list[np.ndarray]:
        """Alerts on arrival ``(T,)``, 0/1: :meth:`arrival_scores` above
        ``arrival_threshold_``, the threshold fitted for them as ``threshold_`` is for the
        final scores. The final labels (:meth:`predict`) confirm or withdraw them."""
        self._check_fitted()
        if not hasattr(self, "arrival_threshold_"):
            raise ConfigError("this series detector was saved before scores on arrival had "
                              "their own threshold (arrival_threshold_): refit it to get "
                              "arrival labels")
        thr, scores = self.arrival_threshold_, self.arrival_scores(X)
        if isinstance(scores, list):
            return [(s > thr).astype(np.int64) for s in scores]
        return (scores > thr).astype(np.int64)

    def _series_values(self, series: list[np.ndarray]) -> list[np.ndarray]:
        """:meth:`_window_values` of the windows ending at every step of each series."""
        return [self._window_values(self._inputs(causal_windows(s, self.window_)))
                for s in series]

    def explain(self, X: Any) -> np.ndarray | list[np.ndarray]:
        """Per-step, per-channel contributions ``(T, C)`` to the reconstruction part of
        step ``t``'s score, as the module's objective forms it: with ``r_e[c, i]`` the
        window detector's contribution (:meth:`AnomalyDetector.explain`) of position
        ``i`` of channel ``c`` of the window ending at ``e`` (summed over the channel's
        views), channel ``c`` of step ``t`` gets

            e_t[c] = 1/(d+1) sum_{j=0..d} [ (1 - lambda) sum_i r_{t+j}[c, i]
                                            + lambda W r_{t+j}[c, W-1-j] ]

        (fewer windows at the end of a series). Summed over channels it is the
        reconstruction part of ``decision_function`` up to a constant: ``score(w) =
        sum_{c,i} r_w[c, i] - k + other(w)``, with ``k`` the window detector's training
        median of that part over its spread and ``other`` its score parts that are not
        reconstruction (the latent ones, which belong to a window, not a channel), so
        ``decision_function(X) = explain(X).sum(1) - k + delayed_mean(other, delay_)``.
        Non-negative; which channel is off."""
        series, single = self._checked(X)
        out = [self._explained(self._position_contributions(
            self._inputs(causal_windows(s, self.window_)))) for s in series]
        return out[0] if single else out

    def _explained(self, contrib: np.ndarray) -> np.ndarray:
        """:meth:`explain` of one series from its contributions ``(N, C, W)``."""
        total = contrib.sum(2)  # (N, C): each channel's share of the window's score
        own = contrib[:, :, ::-1][:, :, :self.delay_ + 1].transpose(0, 2, 1)  # (N, d+1, C)
        return delayed_positions((1 - self.local_) * total[:, None, :]
                                 + self.local_ * self.window_ * own)

    def score_all(self, X: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(decision_function(X), arrival_scores(X), explain(X))`` of one series from
        one pass of the window detector over its windows (the three calls run it two or
        three times). With ``local_ = 0`` the scores come from the window detector's
        ``score_and_explain``, equal to its ``decision_function`` up to rounding."""
        series, single = self._checked(X)
        if not single:
            raise ValueError("score_all takes one series; call it once per series")
        inputs = self._inputs(causal_windows(series[0], self.window_))
        scores, contrib = self._position_contributions(inputs, scores=True)
        values = self._shared_values(scores, contrib)
        return (delayed_positions(values), values[:, 0].astype(np.float64),
                self._explained(contrib))

    def _position_contributions(self, inputs: np.ndarray, scores: bool = False
                                ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """The window detector's contributions per window, channel and position ``(N, C,
        W)`` (summed over a channel's views); with ``scores``, ``(window scores,
        contributions)`` from the same pass."""
        if scores:
            window_scores, contrib = self.detector_.score_and_explain(inputs)
        else:
            contrib = self.detector_.explain(inputs)
        views = contrib.size // (len(contrib) * self.n_channels_ * self.window_)
        contrib = contrib.reshape(len(contrib), views, self.n_channels_, self.window_).sum(
            1, dtype=np.float64)
        return (window_scores, contrib) if scores else contrib

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit on ``X`` and return ``labels_``."""
        return self.fit(X).labels_

    def stream(self, history: Any = None) -> SeriesStream:
        """A :class:`SeriesStream` that scores points as they arrive.

        ``history`` (optional, ``(T, C)``) is the series so far: its last ``window_ - 1``
        steps start the stream, as if the stream had seen them (their scores are not
        given). Scores come ``delay_`` steps late (see :class:`SeriesStream`).
        """
        self._check_fitted()
        return SeriesStream(self, history)

    # -- persistence ----------------------------------------------------------------------
    def _saved_models(self) -> dict[str, Any]:
        return {}  # the networks are the window detector's, saved in its own folder

    def save(self, directory: str | Path) -> Path:
        """Write the fitted detector to a folder, no pickle: the estimators' format
        (``estimator.json`` + ``estimator.safetensors``), with the window detector in
        ``window_detector/`` in its own format (written first; ``estimator.json`` last)."""
        self._check_fitted()
        directory = Path(directory)
        self.detector_.save(directory / WINDOW_DETECTOR)
        return super().save(directory)

    @classmethod
    def load(cls, directory: str | Path, device: str | None = None
             ) -> TimeSeriesAnomalyDetector:
        """Read a detector written by :meth:`save`; its ``detector`` parameter becomes an
        unfitted clone of the loaded window detector."""
        det = super().load(directory, device=device)
        det.detector_ = AnomalyDetector.load(Path(directory) / WINDOW_DETECTOR, device=device)
        det.detector = clone(det.detector_)
        return det

    def _restore_state(self, values: dict[str, Any], arrays: dict[str, np.ndarray],
                       models: dict[str, Any], device: str | None) -> None:
        for key, value in {**values, **arrays}.items():
            setattr(self, key, value)
        self.window_, self.n_channels_ = int(self.window_), int(self.n_channels_)
        if "delay_" not in values:  # a folder written before the delay: causal scores
            self.delay = self.delay_ = 0
        if "local_" not in values:  # written before the local share: plain window means
            self.local = self.local_ = 0.0
        self.delay_, self.local_ = int(self.delay_), float(self.local_)
        self.n_features_in_ = self.n_channels_
        for key in ("threshold_", "arrival_threshold_"):
            if key in values and not math.isfinite(float(values[key])):
                raise AekitError(f"the series {key} is {values[key]}; the file is damaged "
                                 "(refit, or pass a --threshold)")
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)


class SeriesStream:
    """Scores points of a series as they arrive (from :meth:`TimeSeriesAnomalyDetector.stream`).

    It keeps only the last ``window - 1`` steps and the values of the windows of the last
    ``delay`` steps; :meth:`score_new` scores the new points' windows and nothing else, so
    each call costs in proportion to the points it is given. A step's score needs the
    windows ending up to ``delay`` steps after it, so scores come ``delay`` steps late:
    each call returns the scores of the steps that became final, oldest first, and
    :meth:`flush` those of the last ``delay`` steps once the series ends. All the scores
    returned, in order, equal those of ``decision_function`` on the whole series (after
    ``history``, whose steps the stream does not score). Meanwhile :meth:`provisional`
    gives the steps still waiting their scores from the windows seen so far, so a step
    can raise an alert on arrival that its final score confirms or withdraws::

        final = stream.score_new(x)       # the steps that became final
        early = stream.provisional()      # the rest, up to the newest step of x
    """

    def __init__(self, detector: TimeSeriesAnomalyDetector, history: Any = None) -> None:
        self.detector = detector
        self._tail: np.ndarray | None = None  # the last window - 1 steps seen
        self._first: np.ndarray | None = None  # the series' first step (front padding)
        self._pending = np.zeros((0, detector.delay_ + 1))  # values of windows not yet used
        if history is not None:
            self._push(history)

    @property
    def delay(self) -> int:
        """How many steps after a point its score is returned."""
        return self.detector.delay_

    def _push(self, x: Any) -> tuple[np.ndarray, int]:
        """Append steps; return (kept tail + the new steps, length of that tail)."""
        (values,), _ = self.detector._checked(x)
        if self._first is None:
            self._first = values[0]
        tail = self._tail if self._tail is not None else values[:0]
        joined = np.concatenate([tail, values])
        self._tail = joined[max(0, len(joined) - (self.detector.window_ - 1)):]
        return joined, len(tail)

    def score_new(self, x: Any) -> np.ndarray:
        """Give ``n`` new steps ``(n, C)`` (or ``(n,)`` for one channel); get the scores of
        the steps that became final: ``n`` of them once ``delay`` steps have been seen
        (fewer before), ending ``delay`` steps before the newest one."""
        det = self.detector
        joined, n_tail = self._push(x)
        windows = causal_windows(joined, det.window_, first=self._first)[n_tail:]
        pending = np.concatenate([self._pending, det._window_values(det._inputs(windows))])
        out = delayed_positions(pending, final=False)
        self._pending = pending[len(out):]
        return out

    def provisional(self) -> np.ndarray:
        """The provisional scores of the steps not yet final (the up to ``delay`` steps
        after those :meth:`score_new` has returned, ending at the newest one), oldest
        first: each the mean over the windows seen so far that contain it, exactly what
        :meth:`flush` would return if the series ended now, but nothing is consumed. The
        newest step's uses only the window ending at it
        (:meth:`TimeSeriesAnomalyDetector.arrival_scores`); each later window moves a
        step's score towards its final one, which :meth:`score_new` returns ``delay``
        steps after the step. An alert on arrival is the newest step's provisional score
        above ``arrival_threshold_`` (:meth:`TimeSeriesAnomalyDetector.arrival_predict`),
        confirmed or withdrawn by the final score."""
        return delayed_positions(self._pending)

    def flush(self) -> np.ndarray:
        """The scores of the last ``delay`` steps, at the end of the series (the mean over
        the windows there are, as ``decision_function`` gives them); the stream then
        holds no pending step."""
        out = self.provisional()
        self._pending = self._pending[:0]
        return out


FOLDER_READERS["TimeSeriesAnomalyDetector"] = TimeSeriesAnomalyDetector.load
