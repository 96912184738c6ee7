"""Ranking quality of anomaly scores against 0/1 labels, from one sort of the scores.

With the scores sorted in decreasing order and cut at every distinct value ``t_k``, let
``TP_k`` and ``FP_k`` count the positives and negatives scored ``>= t_k``, ``P`` and
``N`` the totals. Then

* ROC curve: ``FPR_k = FP_k / N``, ``TPR_k = TP_k / P`` from ``(0, 0)``; AUROC is its
  trapezoidal area ``sum_k (FPR_k - FPR_{k-1}) (TPR_k + TPR_{k-1}) / 2``;
* precision-recall: ``precision_k = TP_k / (TP_k + FP_k)``, ``recall_k = TPR_k``;
  AUPRC is the average precision ``sum_k (recall_k - recall_{k-1}) precision_k``
  (step interpolation, no trapezoid).

These are scikit-learn's ``roc_auc_score`` and ``average_precision_score`` (equal to
float rounding), but both areas and both curves come from one pass over the scores in
decreasing order, accumulated a block of sorted scores at a time, with the curves
thinned to about ``max_points``. :func:`ranking` sorts scores held in memory (one
``argsort``: for ten million scores about half the extra memory of scikit-learn's four
functions and a third of their time, measured); :class:`StreamingRanking` takes scores
chunk by chunk and sorts them on disk (:class:`aekit.data.external_sort.ExternalSort`),
so its memory does not grow with their number.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aekit.data.external_sort import RUN_ROWS, ExternalSort
from aekit.errors import DataError

__all__ = ["RUN_ROWS", "Ranking", "StreamingRanking", "ranking"]

# RUN_ROWS: (score, label) pairs a StreamingRanking holds before it sorts them and writes
# them to disk as one run, by default (ExternalSort's; tests may change it here)


@dataclass(frozen=True)
class Ranking:
    """ROC and precision-recall curves (one point per distinct score) and their areas."""

    fpr: np.ndarray
    tpr: np.ndarray
    recall: np.ndarray
    precision: np.ndarray
    auroc: float
    auprc: float


def ranking(labels: Any, scores: Any, max_points: int | None = None,
            block: int = 1 << 20) -> Ranking:
    """The :class:`Ranking` of ``scores`` (higher = more anomalous) against 0/1 ``labels``.

    Parameters
    ----------
    labels : array-like of shape (n,)
        1 for an anomaly, 0 otherwise; both must occur.
    scores : array-like of shape (n,)
        Finite scores.
    max_points : int, optional
        Keep at most about this many curve points, evenly spread over the cuts (the
        first and last kept); the areas always use every cut. Default: every cut.
    block : int
        Cuts are accumulated this many sorted scores at a time (bounds the temporaries).

    Returns
    -------
    Ranking
        ``fpr``/``tpr`` start at ``(0, 0)``; ``recall``/``precision`` have one point per
        kept cut, highest score first.
    """
    y, s = _checked(labels, scores)
    positives = int(y.sum(dtype=np.int64))
    order = np.argsort(s, kind="stable")[::-1]
    y_sorted, s_sorted = y.astype(np.int8)[order], s[order]
    del order
    cuts = _Cuts(positives, len(s) - positives, max_points)
    for start in range(0, len(s), block):
        cuts.add(s_sorted[start:start + block], y_sorted[start:start + block])
    return cuts.result()


class StreamingRanking:
    """The :class:`Ranking` of scores that arrive chunk by chunk, in memory that does not
    grow with their number: each ``run_rows`` (default :data:`RUN_ROWS`) (score, label)
    pairs are sorted and written to a temporary folder made in ``folder``, and
    :meth:`result` merges them a block at a time
    (:class:`~aekit.data.external_sort.ExternalSort`); fewer pairs stay in memory.
    The result equals :func:`ranking` of all the pairs (ties across chunks included).

    Use as a context manager, so that the temporary folder is removed however the block
    ends::

        with StreamingRanking(out_folder, max_points=20_000) as r:
            for labels, scores in chunks:
                r.add(labels, scores)
            curves = r.result()
    """

    def __init__(self, folder: str | Path, *, max_points: int | None = None,
                 run_rows: int | None = None, fan_in: int = 64, block: int = 1 << 15) -> None:
        self.max_points = max_points
        self._sort = ExternalSort(folder, run_rows=run_rows or RUN_ROWS, fan_in=fan_in,
                                  block=block)
        self.positives = 0

    @property
    def count(self) -> int:
        """Pairs added so far."""
        return self._sort.count

    def add(self, labels: Any, scores: Any) -> None:
        """Add a chunk of 0/1 ``labels`` and finite ``scores``."""
        y, s = _checked(labels, scores)
        self.positives += int(y.sum(dtype=np.int64))
        self._sort.add(s, y)

    def result(self) -> Ranking:
        """The :class:`Ranking` of every pair added."""
        negatives = self.count - self.positives
        cuts = _Cuts(self.positives, negatives, self.max_points)
        for part in self._sort.blocks():
            cuts.add(part["key"], part["tag"])
        return cuts.result()

    def close(self) -> None:
        """Remove the temporary files."""
        self._sort.close()

    def __enter__(self) -> StreamingRanking:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _checked(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise DataError(f"labels {y.shape} and scores {s.shape} differ in length")
    if not np.isin(y, (0, 1)).all():
        raise DataError("labels must be 0 or 1")
    if not np.isfinite(s).all():
        raise DataError("scores must be finite")
    return y, s


class _Cuts:
    """The areas and thinned curves of scores fed in decreasing order, a block at a time.

    A cut ends each run of equal scores; a block's last score is a cut unless the next
    block starts with the same score, so it waits (``pending``) for the next block. Curve
    points are kept at every ``stride``-th cut; when more than ``max_points`` are kept
    the stride doubles and every other kept point goes (the last cut is always kept).
    """

    def __init__(self, positives: int, negatives: int, max_points: int | None) -> None:
        if positives == 0 or negatives == 0:
            raise DataError("AUROC/AUPRC need both classes among the labels")
        self.positives, self.negatives = positives, negatives
        self.max_points = None if max_points is None else max(int(max_points), 2)
        self.auroc = self.auprc = 0.0
        self.prev_fpr = self.prev_tpr = 0.0
        self.seen = self.seen_tp = self.n_cuts = 0
        self.pending: tuple[float, int, int] | None = None  # score, TP, rows up to it
        self.stride = 1
        self.kept: list[np.ndarray] = []  # rows: cut index, fpr, tpr, precision
        self.n_kept = 0
        self.last: np.ndarray | None = None

    def add(self, scores: np.ndarray, labels: np.ndarray) -> None:
        if not len(scores):
            return
        tp = np.cumsum(labels, dtype=np.int64) + self.seen_tp
        ends = np.flatnonzero(scores[:-1] != scores[1:])
        tps, rows = tp[ends], ends + 1 + self.seen
        if self.pending is not None and self.pending[0] != scores[0]:
            tps, rows = np.r_[self.pending[1], tps], np.r_[self.pending[2], rows]
        self._cut(tps, rows)
        self.seen += len(scores)
        self.seen_tp = int(tp[-1])
        self.pending = (float(scores[-1]), self.seen_tp, self.seen)

    def _cut(self, tps: np.ndarray, rows: np.ndarray) -> None:
        if not len(tps):
            return
        fps = rows - tps
        tpr, fpr = tps / self.positives, fps / self.negatives
        precision = tps / rows
        self.auroc += float(np.sum(np.diff(fpr, prepend=self.prev_fpr)
                                   * (tpr + np.r_[self.prev_tpr, tpr[:-1]])) / 2)
        self.auprc += float(np.sum(np.diff(tpr, prepend=self.prev_tpr) * precision))
        self.prev_fpr, self.prev_tpr = float(fpr[-1]), float(tpr[-1])
        points = np.stack([self.n_cuts + np.arange(len(tps)), fpr, tpr, precision])
        self.n_cuts += len(tps)
        self.last = points[:, -1:]
        self._keep(points[:, points[0] % self.stride == 0])

    def _keep(self, points: np.ndarray) -> None:
        self.kept.append(points)
        self.n_kept += points.shape[1]
        while self.max_points is not None and self.n_kept > self.max_points:
            self.stride *= 2
            self.kept = [p[:, p[0] % self.stride == 0] for p in self.kept]
            self.n_kept = sum(p.shape[1] for p in self.kept)

    def result(self) -> Ranking:
        if self.pending is not None:
            self._cut(np.array([self.pending[1]]), np.array([self.pending[2]]))
            self.pending = None
        points = np.concatenate(self.kept, axis=1)
        if points[0, -1] != self.last[0, 0]:
            points = np.concatenate([points, self.last], axis=1)
        _, fpr, tpr, precision = points
        return Ranking(fpr=np.r_[0.0, fpr], tpr=np.r_[0.0, tpr], recall=tpr,
                       precision=precision, auroc=self.auroc, auprc=self.auprc)
