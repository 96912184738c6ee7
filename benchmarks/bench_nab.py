"""Time-series anomaly detection on real labelled series (NAB) and on synthetic ones.

NAB protocol (``../shared/data/nab/README.md``): every detector is fitted on the first
15 % of a series (NAB's probationary period, taken as normal), scores every step, and is
judged on the remaining 85 %: per-step AUROC and AUPRC against the anomaly windows, and
whether the top-scoring step lies inside a window (top-1 hit). Synthetic protocol (the
systems of ``bench_timeseries.py``): fit on a contaminated training series, score a test
series of the same system.

Detectors (each window-based one uses the same window: one period of the training part,
``aekit.data.series.dominant_period`` clipped as aekit clips it, and gives step ``t``
the score of the window ending at ``t``):

* ``aekit``: ``TimeSeriesAnomalyDetector()`` with its defaults (scores ``window - 1``
  steps late, a quarter of each window's score shared by position);
* ``mp-train``: matrix-profile discords, ``stumpy.stump`` AB-join of the series against
  its training part (each window's z-normalised distance to its nearest training
  window); on several channels the mean over channels;
* ``mp-self``: the classic discord score, ``stumpy.stump`` self-join of the whole series
  (sees the future and the anomalies themselves);
* ``iforest-windows``: scikit-learn's IsolationForest on the flattened standardised
  windows;
* ``rolling-z``: ``|x_t - mean| / std`` over the previous 64 steps, max over channels;
* variants of aekit's scoring, for the question why causal scores lost AUROC on the
  synthetic series (``--detectors aekit,aekit-window32,aekit-spread,aekit-recent8``):
  a fixed 32-step window, the window scores spread back over the steps they cover (not
  causal), a causal score from the last 8 positions of each window, and two scales
  (``aekit-2scales``, ``aekit-2scales-max``: the default plus a 32-step window detector
  where the period is longer, scores added or their maximum; ``aekit-2scales16``: a
  16-step one);
* delays (``aekit-causal``, ``aekit-delay4/8/16``, ``aekit-delay-quarter/half/full``):
  step ``t`` gets the mean causal score of the windows ending at ``t .. t + delay``, as
  ``TimeSeriesAnomalyDetector(delay=...)`` gives it (``aekit`` is the default,
  ``window - 1``); ``--diagnose`` shows per synthetic system and anomaly kind where the causal
  score loses;
* how a step's score pools the windows that contain it (``aekit-max-*``: the maximum of
  the window scores, not the mean; ``aekit-pos-*``: each window's score shared over its
  positions by their reconstruction error, the old non-causal detector's way;
  ``aekit-posrec-*``: the positions' reconstruction error alone; ``aekit-mix-*``,
  ``aekit-mix25-*``: half / a quarter localised, the rest the window mean, i.e.
  ``TimeSeriesAnomalyDetector(local=0.5 / 0.25)``; ``aekit-maxmix*``: the same with the
  maximum), each half a window or ``window - 1`` steps late. ``aekit-delay-half`` is the
  former default (``local=0``, half a window late);
* ``aekit-arrival``: the default's score of each step when it arrives, before the later
  windows (``arrival_scores``, the provisional score ``SeriesStream`` gives the newest
  step), from the default's fit; with it the results file says how many alerts on
  arrival the final scores confirm and how soon each labelled anomaly window is alerted
  on arrival and by the final score.

    python benchmarks/bench_nab.py [--data-dir ../shared/data/nab] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from bench_timeseries import rolling_z
from machine import describe
from results_file import RESULTS, write_result
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score

from aekit.apps.detect import AnomalyDetector, choose_by_leave_one_out
from aekit.apps.timeseries import (
    FALLBACK_WINDOW,
    MAX_WINDOW,
    MIN_WINDOW,
    TimeSeriesAnomalyDetector,
    causal_windows,
    default_window_detector,
    delayed_mean,
    delayed_positions,
)
from aekit.data.series import dominant_period, flagged_spans, read_series_csv
from aekit.data.synthetic_series import ANOMALY_KINDS, make_series

REPO = Path(__file__).resolve().parent.parent
TRAIN_SHARE = 0.15
Detector = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


def load_nab(data_dir: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, values (T, 1), labels (T,))`` of every series listed in windows.json."""
    windows = json.loads((data_dir / "windows.json").read_text())
    out = []
    for name in sorted(windows):
        s = read_series_csv(data_dir / name)
        stamps = np.array(s.timestamps, dtype="datetime64[s]")
        labels = np.zeros(len(s), dtype=np.int64)
        for lo, hi in windows[name]:
            labels[(stamps >= np.datetime64(lo[:19])) & (stamps <= np.datetime64(hi[:19]))] = 1
        out.append((name, s.values, labels))
    return out


def window_for(train: np.ndarray) -> int:
    """The window aekit's default would choose for this training series."""
    period = dominant_period(train, min_period=MIN_WINDOW, max_period=MAX_WINDOW)
    return FALLBACK_WINDOW if period is None else period


def _at_end(window_scores: np.ndarray, length: int, m: int) -> np.ndarray:
    """Per-step scores from scores of windows starting at 0, 1, ...: each step gets the
    window ending at it; the first ``m - 1`` steps the first window's score."""
    out = np.empty(length)
    out[m - 1:] = window_scores[:length - m + 1]
    out[:m - 1] = window_scores[0]
    return out


def mp_train(train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
    import stumpy

    m = window_for(train)
    per_channel = []
    for c in range(test.shape[1]):
        mp = stumpy.stump(test[:, c].astype(np.float64), m,
                          train[:, c].astype(np.float64), ignore_trivial=False)[:, 0]
        per_channel.append(_at_end(np.asarray(mp, np.float64), len(test), m))
    return np.mean(per_channel, 0)


def mp_self(train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
    import stumpy

    m = window_for(train)
    per_channel = []
    for c in range(test.shape[1]):
        mp = np.asarray(stumpy.stump(test[:, c].astype(np.float64), m)[:, 0], np.float64)
        mp[~np.isfinite(mp)] = np.nanmax(mp[np.isfinite(mp)])
        per_channel.append(_at_end(mp, len(test), m))
    return np.mean(per_channel, 0)


def iforest_windows(train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
    m = window_for(train)
    mu, sd = train.mean(0), train.std(0) + 1e-12
    w_tr = causal_windows((train - mu) / sd, m)
    w_te = causal_windows((test - mu) / sd, m)
    forest = IsolationForest(random_state=seed).fit(w_tr.reshape(len(w_tr), -1))
    return -forest.score_samples(w_te.reshape(len(w_te), -1))


_DEFAULT: dict[tuple[int, int], TimeSeriesAnomalyDetector] = {}


def _default_fit(train: np.ndarray, seed: int) -> TimeSeriesAnomalyDetector:
    """``TimeSeriesAnomalyDetector()`` with its defaults, its window detector seeded
    ``seed``, fitted on ``train``: one fit per series, shared by ``aekit`` and
    ``aekit-arrival`` (the last one only is kept)."""
    key = (hash(train.tobytes()), seed)
    if key not in _DEFAULT:
        _DEFAULT.clear()
        _DEFAULT[key] = TimeSeriesAnomalyDetector(detector=_seeded(seed)).fit(train)
    return _DEFAULT[key]


def aekit_default(train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
    """``TimeSeriesAnomalyDetector()``'s defaults, its window detector seeded ``seed``."""
    return _default_fit(train, seed).decision_function(test)


def aekit_arrival(train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
    """The default's score of each step when it arrives (``arrival_scores``: the window
    ending at the step alone, the same ``local`` share; what ``SeriesStream.provisional``
    gives the newest step), from the default's fit; checked equal to the scores of the
    same fit with ``delay_ = 0`` (the causal score with the local share)."""
    det = _default_fit(train, seed)
    arrival = det.arrival_scores(test)
    causal = clone_fitted(det, delay_=0).decision_function(test)
    if not np.allclose(arrival, causal, rtol=1e-6, atol=1e-9):
        raise AssertionError("arrival scores differ from the delay-0 scores of the same fit")
    final = det.decision_function(test)
    _ALERTS.append({"arrival": arrival > det.threshold_, "final": final > det.threshold_,
                    "delay": det.delay_})
    return arrival


ARRIVAL_NOTE = (
    "`aekit` is the default (`delay=\"auto\"`: each step's score final `window - 1` steps "
    "late, `local=0.25`); `aekit-arrival` is the score the same fit gives each step when it "
    "arrives (`arrival_scores`: the window ending at the step alone, what "
    "`SeriesStream.provisional()` gives the newest step; checked equal to the same fit's "
    "scores with `delay_ = 0`), so its seconds are only scoring.")
_ALERTS: list[dict] = []  # per aekit-arrival run: flags on arrival and final, delay, labels


def alerts_line(alerts: list[dict], scored: str) -> list[str]:
    """How the alerts on arrival (provisional score above the fitted threshold) fared, as
    lines of a results file (none without ``aekit-arrival`` runs): how many the final
    score confirms, and per labelled anomaly window (after ``start``) how soon each
    score's first alert in it is known (an arrival alert at once, a final one ``delay``
    steps after its step)."""
    if not alerts:
        return []
    raised = sum(int(a["arrival"].sum()) for a in alerts)
    confirmed = sum(int((a["arrival"] & a["final"]).sum()) for a in alerts)
    final = sum(int(a["final"].sum()) for a in alerts)
    first: dict[str, list[float]] = {"arrival": [], "final": []}
    for a in alerts:
        labels = a["labels"][a["start"]:]
        for lo, hi in flagged_spans(labels.astype(bool)):
            for kind, late in (("arrival", 0), ("final", a["delay"])):
                hits = np.flatnonzero(a[kind][a["start"] + lo:a["start"] + hi])
                first[kind].append(hits[0] + late if len(hits) else np.nan)
    arr, fin = np.array(first["arrival"]), np.array(first["final"])
    both = ~np.isnan(arr) & ~np.isnan(fin)
    lag = (f"where both, the first alert is known {np.median(arr[both]):.0f} steps after the "
           f"window starts on arrival against {np.median(fin[both]):.0f} for the final "
           f"score (medians over {int(both.sum())} windows; earlier on arrival in "
           f"{int((arr[both] < fin[both]).sum())}, later in "
           f"{int((arr[both] > fin[both]).sum())})" if both.any() else
           "no window has an alert of both")
    return ["", f"Alerts at the fitted threshold (`threshold_`, every step of the "
            f"{len(alerts)} {scored}): {raised:,} steps alerted on "
            f"arrival, {confirmed:,} of them ({confirmed / max(raised, 1):.0%}) confirmed by "
            f"the final score, the rest withdrawn; {final:,} steps flagged by the final "
            f"score, {confirmed / max(final, 1):.0%} of them already on arrival.", "",
            f"Per labelled anomaly window ({len(arr)}): an alert inside it on arrival in "
            f"{int((~np.isnan(arr)).sum())}, by the final score in "
            f"{int((~np.isnan(fin)).sum())}; {lag}."]


def clone_fitted(det: TimeSeriesAnomalyDetector, **attrs: object) -> TimeSeriesAnomalyDetector:
    """A shallow copy of a fitted detector with fitted attributes replaced."""
    out = copy.copy(det)
    for k, v in attrs.items():
        setattr(out, k, v)
    return out


def _seeded(seed: int) -> AnomalyDetector:
    """The default window detector with ``random_state=seed`` (0 is its default)."""
    return default_window_detector().set_params(random_state=seed)


def aekit_window32(train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
    """The causal default (``delay=0``) with a fixed 32-step window instead of one
    period."""
    return TimeSeriesAnomalyDetector(window=32, delay=0, local=0).fit(train).decision_function(test)


_CAUSAL: dict[tuple[int, int, int], tuple[np.ndarray, int, float, np.ndarray]] = {}


def _causal_scores(train: np.ndarray, test: np.ndarray, seed: int
                   ) -> tuple[np.ndarray, int, float, np.ndarray]:
    """The causal scores (``delay=0``) of ``test``, the window, the seconds of fit +
    score and the per-position reconstruction contributions ``(T, window)`` of each
    window (summed over channels), computed once per series (one fit, one scoring pass)
    and shared by the delayed and per-position variants (window detector seeded
    ``seed``)."""
    key = (hash(train.tobytes()), hash(test.tobytes()), seed)
    if key not in _CAUSAL:
        t0 = time.perf_counter()
        det = TimeSeriesAnomalyDetector(detector=_seeded(seed), delay=0, local=0).fit(train)
        scores, contrib = det.detector_.score_and_explain(
            det._inputs(causal_windows(test, det.window_)))
        _CAUSAL[key] = (scores, det.window_, time.perf_counter() - t0,
                        contrib.reshape(len(test), det.n_channels_, -1).sum(1))
    return _CAUSAL[key]


def aekit_delayed(delay: Callable[[int], int]) -> Detector:
    """Step ``t`` gets the mean causal score of the windows ending at ``t .. t +
    delay(window)`` (:func:`aekit.apps.timeseries.delayed_mean`), as
    ``TimeSeriesAnomalyDetector(delay=...)`` does; from the cached causal scores (the
    seconds reported are those of the shared fit + score)."""
    def run(train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
        scores, window, _, _ = _causal_scores(train, test, seed)
        return delayed_mean(scores, delay(window))
    return run


def aekit_delayed_max(delay: Callable[[int], int]) -> Detector:
    """Step ``t`` gets the maximum (not the mean) causal score of the windows ending at
    ``t .. t + delay(window)`` (fewer at the end); from the cached causal scores."""
    def run(train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
        scores, window, _, _ = _causal_scores(train, test, seed)
        return delayed_max(scores, delay(window))
    return run


def _by_position(per_position: np.ndarray, delay: int) -> np.ndarray:
    """``(T, delay + 1)``: column ``j`` of row ``e`` is the score the window ending at
    ``e`` gives to its position ``W - 1 - j`` (step ``e - j``), as
    :func:`aekit.apps.timeseries.delayed_positions` takes it."""
    return per_position[:, ::-1][:, :delay + 1]


def delayed_max(scores: np.ndarray, delay: int) -> np.ndarray:
    """Step ``t``'s score: the maximum of ``scores[t .. t + delay]`` (fewer at the end)."""
    tail = np.concatenate([scores, np.full(delay, -np.inf)])
    return np.lib.stride_tricks.sliding_window_view(tail, delay + 1).max(1)


def aekit_mixed(delay: Callable[[int], int], local: float = 0.5,
                pool: Callable[[np.ndarray, int], np.ndarray] = delayed_mean) -> Detector:
    """``1 - local`` of the window-level score (the ``pool``, mean or maximum, of the
    window scores ending at ``t .. t + delay``, per position: divided by the window) and
    ``local`` of :func:`aekit_positions`' localised one, both ``delay(window)`` steps
    late; from the cached causal fit."""
    def run(train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
        scores, window, _, contrib = _causal_scores(train, test, seed)
        d = delay(window)
        per_position = contrib + (scores - contrib.sum(1))[:, None] / window
        return ((1 - local) * pool(scores, d) / window
                + local * delayed_positions(_by_position(per_position, d)))
    return run


def aekit_positions(delay: Callable[[int], int], latent: bool = True) -> Detector:
    """Localised, ``delay(window)`` steps late: each window's score is shared over its
    positions, each position getting its own reconstruction contribution (summed over
    channels) plus ``1/window`` of the rest of the window's score (its latent part), as
    the detector before the causal one did; step ``t`` gets the mean of its shares of
    the windows ending at ``t .. t + delay(window)``
    (:func:`aekit.apps.timeseries.delayed_positions`); ``window - 1`` is the old
    detector's mean over all the windows covering a step. ``latent=False``: the
    reconstruction contributions alone. From the cached causal fit."""
    def run(train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
        scores, window, _, contrib = _causal_scores(train, test, seed)
        rest = (scores - contrib.sum(1))[:, None] / window if latent else 0.0
        return delayed_positions(_by_position(contrib + rest, delay(window)))
    return run


def aekit_spread(train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
    """Not causal: step ``t`` gets the mean score of the windows that cover it (the
    windows ending at ``t .. t + window - 1``), as the detector before the causal one did."""
    det = TimeSeriesAnomalyDetector(delay=0, local=0).fit(train)
    s = det.decision_function(test)
    tail = np.concatenate([s, np.full(det.window_ - 1, s[-1])])
    return np.lib.stride_tricks.sliding_window_view(tail, det.window_).mean(1)


def aekit_recent(train: np.ndarray, test: np.ndarray, seed: int, last: int = 8
                 ) -> np.ndarray:
    """Causal, localised: the reconstruction error of only the last ``last`` positions of
    the window ending at ``t`` (robustly standardised on the training part), plus the
    default's latent part of that window."""
    from aekit.apps.detect import _robust_scale

    det = TimeSeriesAnomalyDetector(delay=0, local=0).fit(train)

    def parts(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        inputs = det._inputs(causal_windows(x, det.window_))
        contrib = det.detector_.explain(inputs).reshape(len(x), det.n_channels_, -1)
        return contrib[:, :, -last:].sum((1, 2)), det.detector_.score_parts(inputs)["latent"]

    med, spread = _robust_scale(parts(train)[0])
    recent, latent = parts(test)
    return (recent - med) / spread + latent


def aekit_two_scales(train: np.ndarray, test: np.ndarray, seed: int, short: int = 32,
                     combine: Callable[..., np.ndarray] = np.add) -> np.ndarray:
    """Causal, two scales: the default (one period) and, when the period is longer than
    ``short`` steps, a second detector on ``short``-step windows; their scores (each
    already in robust training units) added, or ``combine``d."""
    det = TimeSeriesAnomalyDetector(delay=0, local=0).fit(train)
    scores = det.decision_function(test)
    if det.window_ <= short:
        return scores
    return combine(scores, TimeSeriesAnomalyDetector(window=short, delay=0, local=0).fit(train)
                   .decision_function(test))


DETECTORS: dict[str, Detector] = {
    "aekit": aekit_default,
    "aekit-arrival": aekit_arrival,
    "aekit-window32": aekit_window32,
    "aekit-spread": aekit_spread,
    "aekit-causal": aekit_delayed(lambda w: 0),
    "aekit-delay4": aekit_delayed(lambda w: min(4, w - 1)),
    "aekit-delay8": aekit_delayed(lambda w: min(8, w - 1)),
    "aekit-delay16": aekit_delayed(lambda w: min(16, w - 1)),
    "aekit-delay-quarter": aekit_delayed(lambda w: w // 4),
    "aekit-delay-half": aekit_delayed(lambda w: w // 2),
    "aekit-delay-full": aekit_delayed(lambda w: w - 1),
    "aekit-max-quarter": aekit_delayed_max(lambda w: w // 4),
    "aekit-max-half": aekit_delayed_max(lambda w: w // 2),
    "aekit-max-full": aekit_delayed_max(lambda w: w - 1),
    "aekit-pos-quarter": aekit_positions(lambda w: w // 4),
    "aekit-pos-half": aekit_positions(lambda w: w // 2),
    "aekit-pos-full": aekit_positions(lambda w: w - 1),
    "aekit-posrec-half": aekit_positions(lambda w: w // 2, latent=False),
    "aekit-posrec-full": aekit_positions(lambda w: w - 1, latent=False),
    "aekit-mix-half": aekit_mixed(lambda w: w // 2),
    "aekit-mix-full": aekit_mixed(lambda w: w - 1),
    "aekit-mix25-half": aekit_mixed(lambda w: w // 2, local=0.25),
    "aekit-mix25-full": aekit_mixed(lambda w: w - 1, local=0.25),
    "aekit-maxmix-half": aekit_mixed(lambda w: w // 2, pool=delayed_max),
    "aekit-maxmix-full": aekit_mixed(lambda w: w - 1, pool=delayed_max),
    "aekit-maxmix25-full": aekit_mixed(lambda w: w - 1, local=0.25, pool=delayed_max),
    "aekit-recent8": aekit_recent,
    "aekit-2scales": aekit_two_scales,
    "aekit-2scales-max": lambda tr, te, k: aekit_two_scales(tr, te, k, combine=np.maximum),
    "aekit-2scales16": lambda tr, te, k: aekit_two_scales(tr, te, k, short=16),
    "mp-train": mp_train,
    "mp-self": mp_self,
    "iforest-windows": iforest_windows,
    "rolling-z": lambda tr, te, k: rolling_z(tr, te),
}


CANDIDATES: dict[str, dict] = {  # --select: the configurations the default was chosen from
    "series, reconstruction+latent": dict(normalize="series"),
    "both, reconstruction+latent": dict(normalize="both"),
    "window, reconstruction+latent": dict(normalize="window"),
    "series, reconstruction": dict(normalize="series", detector=dict(score_type="reconstruction")),
    "series, latent": dict(normalize="series", detector=dict(score_type="latent")),
}


def candidate(config: dict) -> Detector:
    """A detector running TimeSeriesAnomalyDetector with one candidate configuration."""
    def run(train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
        kw = dict(config)
        inner = kw.pop("detector", None)
        if inner is not None:
            kw["detector"] = default_window_detector().set_params(**inner)
        return TimeSeriesAnomalyDetector(delay=0, local=0, **kw).fit(train).decision_function(test)
    return run


def select(data_dir: Path) -> list[str]:
    """Leave-one-series-out choice among CANDIDATES: for each series, the candidate with
    the best mean AUROC on the other series, and its AUROC on the held-out one."""
    for name, config in CANDIDATES.items():
        DETECTORS[name] = candidate(config)
    rows = run_nab(data_dir, list(CANDIDATES), None)
    rows = {k: r for k, r in rows.items() if not np.isnan(r[next(iter(CANDIDATES))]["auroc"])}
    auroc = {c: np.array([r[c]["auroc"] for r in rows.values()]) for c in CANDIDATES}
    lines = ["| candidate | mean AUROC | top-1 hits |", "|---|---|---|"]
    lines += [f"| {c} | {auroc[c].mean():.3f} | "
              f"{int(sum(r[c]['hit'] for r in rows.values()))} of {len(rows)} |"
              for c in CANDIDATES]
    lines += ["", "| held-out series | chosen on the others | its AUROC |", "|---|---|---|"]
    held, _ = choose_by_leave_one_out({c: dict(zip(rows, a, strict=True))
                                       for c, a in auroc.items()})
    lines += [f"| {key} | {best} | {score:.3f} |" for key, best, score in held]
    lines.append(f"| **leave-one-series-out mean** | | "
                 f"**{np.mean([h[2] for h in held]):.3f}** |")
    return lines


VARIANTS = [  # --heldout: the ways to pool window scores the default was chosen from
    "aekit-delay-half", "aekit-delay-full", "aekit-max-half", "aekit-max-full",
    "aekit-pos-quarter", "aekit-pos-half", "aekit-pos-full", "aekit-posrec-half",
    "aekit-posrec-full", "aekit-mix-half", "aekit-mix-full", "aekit-mix25-half",
    "aekit-mix25-full", "aekit-maxmix-half", "aekit-maxmix-full", "aekit-maxmix25-full"]
DEFAULT_VARIANT = "aekit-mix25-full"  # what TimeSeriesAnomalyDetector() computes
BASELINES = ["aekit", "iforest-windows", "mp-train", "mp-self", "rolling-z"]


def _cell(rows: dict[str, dict], keys: list[str], name: str) -> str:
    """``mean AUROC / hits`` of one detector over the series ``keys``."""
    return (f"{np.mean([rows[k][name]['auroc'] for k in keys]):.3f} / "
            f"{int(sum(rows[k][name]['hit'] for k in keys))}")


def _category(key: str) -> str:
    """The fold of a series when leaving one category out: NAB's folder, or synthetic."""
    return "synthetic" if key.startswith("synthetic") else key.split("/")[0]


def _picks(rows: dict[str, dict], fold_of: Callable[[str], str]
           ) -> tuple[dict[str, list[str]], dict[str, dict[str, float]], dict[str, str], str]:
    """Folds, each variant's mean AUROC per fold, the pick for each held-out fold (best
    mean over the other folds' means, :func:`aekit.apps.detect.choose_by_leave_one_out`)
    and the variant best over all folds."""
    folds: dict[str, list[str]] = {}
    for key in rows:
        folds.setdefault(fold_of(key), []).append(key)
    fold_auroc = {v: {f: float(np.mean([rows[k][v]["auroc"] for k in keys]))
                      for f, keys in folds.items()} for v in VARIANTS}
    held, overall = choose_by_leave_one_out(fold_auroc)
    return folds, fold_auroc, {fold: best for fold, best, _ in held}, overall


def held_out(rows: dict[str, dict], fold_of: Callable[[str], str]) -> list[str]:
    """Choose among VARIANTS without scoring a variant on the data it was chosen on.

    The series (``rows``, those with an anomaly) are grouped into folds by ``fold_of``;
    for each fold, the variant with the best mean over the *other* folds of their mean
    AUROC (each fold weighs the same) is picked and scored on the held-out fold, beside
    the default and the baselines on the same series. The pooled row: over all series,
    each scored by the pick of its own fold."""
    folds, fold_auroc, pick, overall = _picks(rows, fold_of)
    n_default = sum(best == DEFAULT_VARIANT for best in pick.values())
    head = ["held-out fold", "series", "picked on the other folds", "pick AUROC / hits",
            *(f"{b} AUROC / hits" for b in BASELINES)]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for fold, keys in folds.items():
        cells = [fold, str(len(keys)), pick[fold],
                 _cell(rows, keys, pick[fold]), *(_cell(rows, keys, b) for b in BASELINES)]
        lines.append("| " + " | ".join(cells) + " |")
    keys = list(rows)
    pooled = [rows[k][pick[fold_of(k)]] for k in keys]
    lines.append("| " + " | ".join([
        "**pooled held-out**", str(len(keys)), f"the default in {n_default} of {len(folds)}",
        f"**{np.mean([m['auroc'] for m in pooled]):.3f} / {int(sum(m['hit'] for m in pooled))}**",
        *(f"**{_cell(rows, keys, b)}**" for b in BASELINES)]) + " |")
    lines += ["", f"Chosen on all folds at once: {overall} (the default is {DEFAULT_VARIANT}). "
              "Pooled AUPRC: held-out picks "
              f"{np.mean([m['auprc'] for m in pooled]):.3f}, "
              + ", ".join(f"{b} {np.mean([rows[k][b]['auprc'] for k in keys]):.3f}"
                          for b in BASELINES) + "."]
    if len(folds) <= 10:
        names = list(folds)
        lines += ["", "Each variant's mean AUROC per fold (what the picks compare):", "",
                  "| variant | " + " | ".join(names) + " | mean of folds |",
                  "|---" * (len(names) + 2) + "|"]
        lines += [f"| {v} | " + " | ".join(f"{fold_auroc[v][f]:.3f}" for f in names)
                  + f" | {np.mean(list(fold_auroc[v].values())):.3f} |" for v in VARIANTS]
    else:
        counts = {v: sum(b == v for b in pick.values()) for v in VARIANTS}
        lines += ["", "Folds picking each variant: " + ", ".join(
            f"{v} {c}" for v, c in sorted(counts.items(), key=lambda x: -x[1]) if c) + "."]
    return lines


def heldout_check(data_dir: Path, systems: int, length: int) -> list[str]:
    """One run of VARIANTS and BASELINES on NAB and the synthetic systems, then the
    choice of a variant left one category out (NAB's four, the synthetic series the
    fifth) and left one series out."""
    names = VARIANTS + BASELINES
    rows = {**run_nab(data_dir, names, None), **run_synthetic(systems, length, names)}
    rows = {k: r for k, r in rows.items() if not np.isnan(r[VARIANTS[0]]["auroc"])}
    for key, r in rows.items():  # the default's scores, computed twice (the variant's
        # are the default's divided by the window), must agree up to float rounding
        if abs(r["aekit"]["auroc"] - r[DEFAULT_VARIANT]["auroc"]) > 1e-4:
            raise AssertionError(f"{key}: aekit {r['aekit']['auroc']} != "
                                 f"{DEFAULT_VARIANT} {r[DEFAULT_VARIANT]['auroc']}")
    return ["## Leave one category out", "", *held_out(rows, _category),
            "", "## Leave one series out", "", *held_out(rows, lambda k: k)]


def seed_runs(data_dir: Path, seeds: list[int], systems: int, length: int) -> list[str]:
    """The must-show comparison over ``seeds``, and the held-out choice per seed.

    aekit's default (the window detector's ``random_state``; its scores are
    ``DEFAULT_VARIANT``'s, from the one fit per series all VARIANTS share) and
    IsolationForest on windows (the forest's ``random_state``) once per seed; matrix
    profile and rolling z-score are deterministic and run once. Per seed, the variant
    picked leaving one category / one series out and its pooled held-out AUROC."""
    fixed = ["mp-train", "mp-self", "rolling-z"]
    runs: dict[str, list[dict[str, dict]]] = {n: [] for n in ["aekit", "iforest-windows", *fixed]}
    picks = []
    for i, seed in enumerate(seeds):
        _CAUSAL.clear()
        names = VARIANTS + ["iforest-windows"] + (fixed if i == 0 else [])
        rows = {**run_nab(data_dir, names, None, seed),
                **(run_synthetic(systems, length, names, seed) if systems else {})}
        rows = {k: r for k, r in rows.items() if not np.isnan(r[VARIANTS[0]]["auroc"])}
        for n in runs:
            if n != "aekit" and n not in names:
                continue
            runs[n].append({k: r[DEFAULT_VARIANT if n == "aekit" else n]
                            for k, r in rows.items()})
        for protocol, fold_of in (("category", _category), ("series", lambda k: k)):
            folds, _, pick, overall = _picks(rows, fold_of)
            counts = {v: sum(b == v for b in pick.values()) for v in VARIANTS}
            held = np.mean([rows[k][pick[fold_of(k)]]["auroc"] for k in rows])
            picks.append(f"| {seed} | one {protocol} out | " + ", ".join(
                f"{v} {c}" for v, c in sorted(counts.items(), key=lambda x: -x[1]) if c)
                + f" (of {len(folds)}) | {overall} | {held:.3f} | "
                f"{np.mean([r[DEFAULT_VARIANT]['auroc'] for r in rows.values()]):.3f} |")

    def spread(values: list[float], fmt: str) -> str:
        return (f"{np.mean(values):{fmt}} [{min(values):{fmt}}, {max(values):{fmt}}]"
                if len(values) > 1 else f"{values[0]:{fmt}}")

    nab = [k for k in runs["aekit"][0] if not k.startswith("synthetic")]
    synth = [k for k in runs["aekit"][0] if k.startswith("synthetic")]
    lines = ["| detector | seeds | NAB mean AUROC per seed | NAB mean AUROC: mean [min, max] "
             "| NAB top-1 hits per seed | hits: mean [min, max] | NAB mean AUPRC: mean "
             "[min, max] | synthetic mean AUROC: mean [min, max] |", "|---" * 8 + "|"]
    for n, per_seed in runs.items():
        auroc = [float(np.mean([r[k]["auroc"] for k in nab])) for r in per_seed]
        auprc = [float(np.mean([r[k]["auprc"] for k in nab])) for r in per_seed]
        hits = [float(sum(r[k]["hit"] for k in nab)) for r in per_seed]
        syn = [float(np.mean([r[k]["auroc"] for k in synth])) for r in per_seed] if synth else []
        lines.append(f"| {n} | {','.join(map(str, seeds)) if n not in fixed else 'deterministic'}"
                     f" | {', '.join(f'{a:.3f}' for a in auroc)} | {spread(auroc, '.3f')} | "
                     f"{', '.join(f'{h:.0f}' for h in hits)} | {spread(hits, '.1f')} | "
                     f"{spread(auprc, '.3f')} | {spread(syn, '.3f') if syn else 'not run'} |")
    return [*lines, "", "The held-out choice among the pooling variants (`--heldout`) per seed, "
            "on the series of this run:", "",
            "| seed | protocol | folds picking each variant | best on all folds | pooled "
            "held-out AUROC | the default's AUROC on the same series |",
            "|---|---|---|---|---|---|", *picks]


def timing(data_dir: Path, repeats: int) -> list[str]:
    """Seconds of fit + score of the default on the first 10,000 steps of NYC taxi."""
    x = read_series_csv(data_dir / "realKnownCause" / "nyc_taxi.csv").values[:10_000]
    lines = ["| fitted on | scored | window | fit + score seconds (median of "
             f"{repeats}) | min | max | CPU seconds (median) |", "|---|---|---|---|---|---|---|"]
    for n_fit in (len(x), int(TRAIN_SHARE * len(x))):
        sec, cpu = [], []
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            det = TimeSeriesAnomalyDetector().fit(x[:n_fit])
            det.decision_function(x)
            sec.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        lines.append(f"| {n_fit} steps | {len(x)} steps | {det.window_} | "
                     f"{np.median(sec):.2f} | {min(sec):.2f} | {max(sec):.2f} | "
                     f"{np.median(cpu):.2f} |")
    return lines


def auprc_diagnosis(data_dir: Path) -> list[str]:
    """Why the local share lowers NAB AUPRC: per series, from one fit, the default
    (``local=0.25``), the same delay without the local share (``local=0``) and the
    former default (``local=0``, half a window late): AUPRC, precision among the 10
    top-scoring steps, R-precision (precision among as many top steps as there are
    labelled ones) and recall at 5 % false positives (labelled steps above the 95th
    percentile of the normal steps' scores), then the means and how many series each
    change loses on."""
    compared = {"default": DEFAULT_VARIANT, "local=0": "aekit-delay-full",
                "former": "aekit-delay-half"}
    stats: dict[str, dict[str, dict[str, float]]] = {}
    for series_name, values, labels in load_nab(data_dir):
        n_train = int(TRAIN_SHARE * len(values))
        y = labels[n_train:]
        if y.min() == y.max():
            continue
        stats[series_name] = {}
        for short, name in compared.items():
            s = DETECTORS[name](values[:n_train], values, 0)[n_train:]
            order = np.argsort(-s, kind="stable")
            stats[series_name][short] = {
                "AUPRC": float(average_precision_score(y, s)),
                "P@10": float(y[order[:10]].mean()),
                "R-prec": float(y[order[:int(y.sum())]].mean()),
                "recall@5%": float((s[y == 1] > np.quantile(s[y == 0], 0.95)).mean()),
                "window": float(window_for(values[:n_train])),
                "labelled": float(y.mean())}
        print(series_name, {k: round(v["AUPRC"], 3) for k, v in stats[series_name].items()},
              flush=True)
    metrics = ["AUPRC", "P@10", "R-prec", "recall@5%"]
    head = ["series", "window", "labelled share", *(f"{m} {c}" for m in metrics
                                                  for c in compared)]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    by_loss = sorted(stats, key=lambda k: stats[k]["default"]["AUPRC"]
                     - stats[k]["local=0"]["AUPRC"])
    for key in by_loss:
        r = stats[key]
        lines.append(f"| {key} | {r['default']['window']:.0f} | {r['default']['labelled']:.3f} | "
                     + " | ".join(f"{r[c][m]:.3f}" for m in metrics for c in compared) + " |")
    lines.append("| **mean** | | | " + " | ".join(
        f"**{np.mean([r[c][m] for r in stats.values()]):.3f}**"
        for m in metrics for c in compared) + " |")
    lines += ["", "| change | metric | series where it falls | rises | mean change |",
              "|---|---|---|---|---|"]
    for a, b, what in (("local=0", "default", "adding the local share (same delay)"),
                       ("former", "local=0", "window - 1 instead of half a window (local=0)"),
                       ("former", "default", "former default -> default")):
        for m in metrics:
            d = np.array([r[b][m] - r[a][m] for r in stats.values()])
            lines.append(f"| {what} | {m} | {int((d < -1e-9).sum())} | {int((d > 1e-9).sum())}"
                         f" | {d.mean():+.3f} |")
    return lines


def diagnose(systems: int, length: int) -> list[str]:
    """Where the causal score loses on the synthetic series: per system, AUROC over all
    steps, over the steps outside the ``window - 1`` steps after each anomaly (the
    "tail", labelled normal, where a window ending there still holds the anomaly), and
    per anomaly kind (that kind's steps against the normal ones), for delays 0, a
    quarter, half and all but one of the window (one fit per system)."""
    lines = ["| system | window | delay | AUROC | AUROC without the tails | tail steps "
             "(of normal) | " + " | ".join(ANOMALY_KINDS) + " |",
             "|---|---|---|---|---|---|" + "---|" * len(ANOMALY_KINDS)]
    for k in range(systems):
        train = make_series(length=length, seed=1000 + k, system_seed=k)
        test = make_series(length=length, seed=2000 + k, system_seed=k)
        det = TimeSeriesAnomalyDetector(delay=0, local=0).fit(train.values)
        causal, w, y = det.decision_function(test.values), det.window_, test.labels
        tail = np.zeros(len(y), bool)
        for e in test.events:
            tail[e.end:e.end + w - 1] = True
        tail &= y == 0
        for name, d in (("0", 0), ("window/4", w // 4), ("window/2", w // 2),
                        ("window - 1", w - 1)):
            s = delayed_mean(causal, d)
            kinds = []
            for kind in ANOMALY_KINDS:
                steps = np.zeros(len(y), bool)
                for e in test.events:
                    steps[e.start:e.end] |= e.kind == kind
                keep = steps | (y == 0)
                kinds.append(f"{roc_auc_score(steps[keep], s[keep]):.3f}")
            lines.append(f"| {k} | {w} | {name} | {roc_auc_score(y, s):.3f} | "
                         f"{roc_auc_score(y[~tail], s[~tail]):.3f} | {int(tail.sum())} of "
                         f"{int((y == 0).sum())} | " + " | ".join(kinds) + " |")
    return lines


def evaluate(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """AUROC, AUPRC and top-1 hit of per-step scores (NaN where a class is missing)."""
    if labels.min() == labels.max():
        return {"auroc": float("nan"), "auprc": float("nan"), "hit": float("nan")}
    return {"auroc": float(roc_auc_score(labels, scores)),
            "auprc": float(average_precision_score(labels, scores)),
            "hit": float(labels[int(np.argmax(scores))])}


def run_nab(data_dir: Path, names: list[str], only: str | None, seed: int = 0
            ) -> dict[str, dict]:
    """Per series, per detector (seeded ``seed``): metrics and seconds."""
    rows: dict[str, dict] = {}
    for series_name, values, labels in load_nab(data_dir):
        if only and only not in series_name:
            continue
        n_train = int(TRAIN_SHARE * len(values))
        train = values[:n_train]
        rows[series_name] = {"length": len(values), "window": window_for(train)}
        for name in names:
            t0 = time.perf_counter()
            scores = DETECTORS[name](train, values, seed)
            sec = time.perf_counter() - t0
            if name == "aekit-arrival":
                _ALERTS[-1].update(labels=labels, start=n_train)
            m = evaluate(labels[n_train:], scores[n_train:])
            rows[series_name][name] = {**m, "seconds": sec}
            print(f"{series_name:<55} {name:<16} AUROC {m['auroc']:.3f} AUPRC "
                  f"{m['auprc']:.3f} hit {m['hit']:.0f} {sec:6.1f}s", flush=True)
    return rows


def run_synthetic(systems: int, length: int, names: list[str], seed: int = 0
                  ) -> dict[str, dict]:
    """Per synthetic system, per detector (seeded ``seed``): metrics and seconds."""
    rows: dict[str, dict] = {}
    for k in range(systems):
        train = make_series(length=length, seed=1000 + k, system_seed=k)
        test = make_series(length=length, seed=2000 + k, system_seed=k)
        key = f"synthetic system {k} ({length} steps, 4 channels)"
        rows[key] = {"length": length, "window": window_for(train.values)}
        for name in names:
            t0 = time.perf_counter()
            scores = DETECTORS[name](train.values, test.values, seed)
            sec = time.perf_counter() - t0
            if name == "aekit-arrival":
                _ALERTS[-1].update(labels=test.labels, start=0)
            rows[key][name] = {**evaluate(test.labels, scores), "seconds": sec}
            print(f"{key:<55} {name:<16} AUROC {rows[key][name]['auroc']:.3f} "
                  f"{sec:6.1f}s", flush=True)
    return rows


def table(rows: dict[str, dict], names: list[str]) -> list[str]:
    """Per-series AUROC / AUPRC / hit, then means and the hit count."""
    head = ["series", "T", "window", *(f"{n} AUROC" for n in names),
            *(f"{n} AUPRC" for n in names), *(f"{n} hit" for n in names)]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for key, r in rows.items():
        cells = [key, str(r["length"]), str(r["window"])]
        cells += [f"{r[n]['auroc']:.3f}" for n in names]
        cells += [f"{r[n]['auprc']:.3f}" for n in names]
        cells += ["" if np.isnan(r[n]["hit"]) else "yes" if r[n]["hit"] else "no"
                  for n in names]
        lines.append("| " + " | ".join(cells) + " |")
    mean = ["**mean**", "", ""]
    mean += [f"**{np.nanmean([r[n]['auroc'] for r in rows.values()]):.3f}**" for n in names]
    mean += [f"**{np.nanmean([r[n]['auprc'] for r in rows.values()]):.3f}**" for n in names]
    mean += [f"**{int(np.nansum([r[n]['hit'] for r in rows.values()]))}**" for n in names]
    lines.append("| " + " | ".join(mean) + " |")
    return lines


def summary(rows: dict[str, dict], names: list[str]) -> list[str]:
    lines = ["| detector | mean AUROC | mean AUPRC | top-1 hits | mean seconds per series |",
             "|---|---|---|---|---|"]
    for n in names:
        v = [r[n] for r in rows.values()]
        lines.append(f"| {n} | {np.nanmean([x['auroc'] for x in v]):.3f} | "
                     f"{np.nanmean([x['auprc'] for x in v]):.3f} | "
                     f"{int(np.nansum([x['hit'] for x in v]))} of "
                     f"{int(np.sum(~np.isnan([x['hit'] for x in v])))} | "
                     f"{np.mean([x['seconds'] for x in v]):.2f} |")
    return lines


def _report(out: str | None, default: str, title: str, lines: list[str]) -> None:
    """Write a results file: ``# title``, then ``lines`` (to ``out``, or ``default`` in
    benchmarks/results)."""
    write_result(out or RESULTS / default, [f"# {title}", "", *lines])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data" / "nab"),
                   help="folder with NAB's windows.json and the series CSVs "
                        "[default: ../shared/data/nab next to the repository]")
    p.add_argument("--detectors", default="aekit,mp-train,mp-self,iforest-windows,rolling-z",
                   help="comma-separated subset of " + ", ".join(DETECTORS))
    p.add_argument("--only", default=None, help="only series whose name contains this")
    p.add_argument("--no-nab", action="store_true", help="only the synthetic series")
    p.add_argument("--systems", type=int, default=3, help="synthetic systems (0: none)")
    p.add_argument("--length", type=int, default=4000, help="synthetic series length")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--select", action="store_true",
                   help="instead: run the candidate default configurations, leave one "
                        "series out (writes results/nab_selection.md)")
    p.add_argument("--heldout", action="store_true",
                   help="instead: run the pooling variants the default was chosen from and "
                        "the baselines once, pick a variant leaving one category / one "
                        "series out (writes results/nab_heldout.md)")
    p.add_argument("--seeds", default=None, metavar="S0,S1,...",
                   help="instead: aekit's default and IsolationForest on windows over these "
                        "seeds beside the deterministic baselines (writes "
                        "results/nab_seeds.md)")
    p.add_argument("--auprc", action="store_true",
                   help="instead: per NAB series, where the local share gains or loses "
                        "AUPRC (writes results/nab_auprc.md)")
    p.add_argument("--diagnose", action="store_true",
                   help="instead: per synthetic system, AUROC with and without the steps "
                        "after each anomaly and per anomaly kind, for several delays "
                        "(writes results/nab_diagnosis.md)")
    p.add_argument("--timing", type=int, default=0, metavar="REPEATS",
                   help="instead: time fit + score of 10,000 steps (writes "
                        "results/nab_timing.md)")
    p.add_argument("--out", default=None,
                   help="result file [default: benchmarks/results/nab.md]")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    machine = describe()
    names = [n.strip() for n in args.detectors.split(",") if n.strip()]
    unknown = [n for n in names if n not in DETECTORS]
    if unknown:
        p.error(f"unknown detector(s) {unknown}; choose from {list(DETECTORS)}")
    data_dir = Path(args.data_dir)
    if not (data_dir / "windows.json").is_file():
        p.error(f"--data-dir {data_dir}: no windows.json there")
    if args.timing:
        rows = timing(data_dir, args.timing)
        _report(args.out, "nab_timing.md",
                "Time-series detector: fit + score of a 10,000-step series", [
            f"`python benchmarks/bench_nab.py --timing {args.timing} --threads "
            f"{args.threads}`", "", f"{machine}; not niced, but on a shared machine (other "
            "jobs ran beside it). Series: the first 10,000 steps of NAB's nyc_taxi.csv; "
            "`TimeSeriesAnomalyDetector()` with its defaults, fitted on all of them or on "
            "the first 15 % (the NAB protocol), then scoring all 10,000. CPU seconds (all "
            "threads of the process) are less affected by the other jobs than wall "
            f"seconds; the load average was {os.getloadavg()[0]:.0f} at the end.", "",
            *rows])
        return
    if args.heldout:
        _report(args.out, "nab_heldout.md",
                "A held-out check of the time-series default (NAB + synthetic)", [
            f"`python benchmarks/bench_nab.py --heldout --systems {args.systems} --length "
            f"{args.length} --threads {args.threads}`", "",
            f"{machine}. The default (`{DEFAULT_VARIANT}`: window - 1 steps late, "
            "`local=0.25`) was chosen by hand among the pooling variants below, looking at "
            "all the NAB series and the synthetic systems at once. Here the choice is made "
            "by rule, never scoring a variant on the data it was picked on: per fold, the "
            "variant with the best mean AUROC on the other folds (each fold's mean AUROC "
            "weighing the same), scored on the held-out fold beside the default and the "
            "baselines on the same series. One run, seed 0: the variants share one fit per "
            "series (`aekit` is a second fit, checked equal to "
            f"`{DEFAULT_VARIANT}`). Series with no anomaly window are left out; hits: "
            "top-1 hits in the fold.", "",
            *heldout_check(data_dir, args.systems, args.length)])
        return
    if args.seeds:
        seeds = [int(x) for x in args.seeds.split(",")]
        _report(args.out, "nab_seeds.md", "The NAB comparison over several seeds", [
            f"`python benchmarks/bench_nab.py --seeds {args.seeds} --systems {args.systems} "
            f"--length {args.length} --threads {args.threads}`", "",
            f"{machine}. NAB protocol as in nab.md (35 series with an anomaly window); "
            f"synthetic: {args.systems} systems of {args.length} steps. aekit: "
            "`TimeSeriesAnomalyDetector()` with its window detector's `random_state` set "
            f"to the seed (0 is the default), computed as `{DEFAULT_VARIANT}` from the one "
            "fit per series that the pooling variants share (`--heldout` checks the two "
            "equal); iforest-windows: the forest's `random_state`.", "",
            *seed_runs(data_dir, seeds, args.systems, args.length)])
        return
    if args.auprc:
        _report(args.out, "nab_auprc.md", "Where the local share loses NAB AUPRC", [
            f"`python benchmarks/bench_nab.py --auprc --threads {args.threads}`", "",
            f"{machine}. One fit per series (seed 0), three ways to turn its window scores "
            f"into step scores: the default (`{DEFAULT_VARIANT}`: window - 1 steps late, "
            "`local=0.25`), the same delay with `local=0` (`aekit-delay-full`) and the "
            "former default (`aekit-delay-half`: half a window late, `local=0`). No "
            "tuning: a look at what each change does to the ranking. Series ordered by "
            "the AUPRC the local share costs (most first).", "",
            *auprc_diagnosis(data_dir)])
        return
    if args.diagnose:
        _report(args.out, "nab_diagnosis.md",
                "Where causal series scores lose AUROC on the synthetic series", [
            f"`python benchmarks/bench_nab.py --diagnose --systems {args.systems} --length "
            f"{args.length} --threads {args.threads}`", "",
            f"{machine}. `TimeSeriesAnomalyDetector(delay=0, local=0)` fitted on each system's "
            "training series; the test series' causal scores (the window ending at each "
            "step) averaged over the windows ending within `delay` steps after each step "
            "(`delayed_mean`). Tails: the `window - 1` normal steps after each anomaly.", "",
            *diagnose(args.systems, args.length)])
        return
    if args.select:
        _report(args.out, "nab_selection.md",
                "Choosing the time-series default (NAB, leave one series out)", [
            f"`python benchmarks/bench_nab.py --select --threads {args.threads}`", "",
            f"{machine}. Each candidate is TimeSeriesAnomalyDetector(window='auto', "
            "delay=0, local=0) with the default window detector "
            "(`default_window_detector()`) with the score named; "
            "series with no anomaly window are left out. The default is the candidate "
            "most folds choose.", "", *select(data_dir)])
        return
    t0 = time.perf_counter()
    nab = {} if args.no_nab else run_nab(data_dir, names, args.only)
    nab_alerts = list(_ALERTS)
    _ALERTS.clear()
    synth = run_synthetic(args.systems, args.length, names) if args.systems else {}
    cmd = (f"python benchmarks/bench_nab.py --detectors {','.join(names)} --systems "
           f"{args.systems} --length {args.length} --threads {args.threads}"
           + (f" --only {args.only}" if args.only else "")
           + (" --no-nab" if args.no_nab else "")
           + (f" --out {args.out}" if args.out else ""))
    title = ("Time-series scoring variants: why causal scores lost AUROC on the synthetic "
             "series" if all(n.startswith("aekit") for n in names)
             else "Time-series anomaly detection on real series (NAB)")
    lines = [f"# {title}", "", f"`{cmd}`", "",
             f"{machine}; total {(time.perf_counter() - t0) / 60:.1f} min "
             "(a shared machine: other jobs ran beside it, so seconds are upper bounds)."]
    if "aekit-arrival" in names:
        lines += ["", ARRIVAL_NOTE]
    if nab:
        lines += ["", f"NAB: {len(nab)} series (one, ec2_cpu_utilization_c6585a, has no "
                  "anomaly window and gets no score); fit on the first 15 %, per-step "
                  "AUROC/AUPRC on the rest, top-1 hit = the highest-scoring step of the rest "
                  "lies in an anomaly window.", "", *summary(nab, names), "",
                  *table(nab, names)]
        lines += alerts_line(nab_alerts, "series, their training 15 % included")
    if synth:
        lines += ["", f"Synthetic (`bench_timeseries.py` systems, {args.length} steps, 4 "
                  "channels, 10 anomalies of 5 kinds; fit on a contaminated training series, "
                  "score a test series).", "", *summary(synth, names), "",
                  *table(synth, names)]
        lines += alerts_line(_ALERTS, "test series")
    write_result(args.out or RESULTS / "nab.md", lines)


if __name__ == "__main__":
    main()
