"""Summaries of scores that arrive chunk by chunk, in memory that does not grow with
their number: an exact histogram of at most ``bins`` bins (:class:`StreamingHistogram`),
the highest scores with their rows (:class:`TopRows`), and both with the ranking
against labels (:class:`ScoreSummary`, what ``aekit detect score`` reports).

The histogram's bins are right-closed, ``(a + k w, a + (k + 1) w]``, anchored at ``a``
(a score threshold: then the bins with ``k >= 0`` hold exactly the scores above it). The
width ``w`` is set from the first chunk; whenever new scores fall outside the bins and
more than ``bins`` would be needed, ``w`` doubles and pairs of neighbouring bins merge
(exactly: ``ceil(v / 2w) - 1 = floor((ceil(v / w) - 1) / 2)``), so every count stays
exact and only the resolution coarsens.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from aekit.errors import ConfigError
from aekit.metrics.ranking import Ranking, StreamingRanking

__all__ = ["ScoreSummary", "StreamingHistogram", "TopRows", "top_contributions"]


class StreamingHistogram:
    """Exact counts of finite values in at most ``bins`` equal bins anchored at ``anchor``.

    Parameters
    ----------
    anchor : float
        A bin edge (e.g. the anomaly threshold); :attr:`above` counts values ``> anchor``.
    bins : int
        Most bins held (even, >= 4).
    """

    def __init__(self, anchor: float = 0.0, bins: int = 256) -> None:
        if bins < 4 or bins % 2:
            raise ConfigError(f"bins must be even and >= 4, got {bins}")
        self.anchor, self.bins = float(anchor), bins
        self.width: float | None = None
        self.first = 0  # index k of counts[0]
        self.counts = np.zeros(0, dtype=np.int64)
        self.count = self.above = self.non_finite = 0

    def _index(self, v: np.ndarray) -> np.ndarray:
        return np.ceil((v - self.anchor) / self.width).astype(np.int64) - 1

    def add(self, values: Any) -> None:
        """Count ``values`` (non-finite ones only in :attr:`non_finite`)."""
        v = np.asarray(values, dtype=np.float64).ravel()
        finite = np.isfinite(v)
        self.non_finite += int(v.size - finite.sum())
        v = v[finite]
        if not v.size:
            return
        self.count += v.size
        self.above += int((v > self.anchor).sum())
        if self.width is None:
            span = max(float(v.max()), self.anchor) - min(float(v.min()), self.anchor)
            self.width = span / (self.bins // 2) if span > 0 else 1.0
        k = self._index(v)
        lo, hi = int(k.min()), int(k.max()) + 1
        while max(hi, self.first + len(self.counts)) - min(lo, self.first) > self.bins:
            self._coarsen()
            k = self._index(v)
            lo, hi = int(k.min()), int(k.max()) + 1
        start = min(lo, self.first) if len(self.counts) else lo
        stop = max(hi, self.first + len(self.counts))
        counts = np.zeros(stop - start, dtype=np.int64)
        counts[self.first - start:self.first - start + len(self.counts)] = self.counts
        counts += np.bincount(k - start, minlength=stop - start)
        self.first, self.counts = start, counts

    def _coarsen(self) -> None:
        """Double the width: bins ``2j`` and ``2j + 1`` become bin ``j``."""
        counts, first = self.counts, self.first
        if first % 2:
            counts, first = np.r_[0, counts], first - 1
        if len(counts) % 2:
            counts = np.r_[counts, 0]
        self.counts, self.first = counts.reshape(-1, 2).sum(1), first // 2
        self.width *= 2

    def histogram(self, max_bins: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(edges, counts)`` from the first to the last non-empty bin, coarsened to at
        most ``max_bins`` bins (default: ``sqrt`` of the count, between 10 and 100)."""
        if max_bins is None:
            max_bins = min(100, max(10, int(math.sqrt(self.count))))
        saved = self.counts, self.first, self.width
        try:
            while True:
                nonzero = np.flatnonzero(self.counts)
                if not len(nonzero) or nonzero[-1] - nonzero[0] + 1 <= max(max_bins, 2):
                    break
                self._coarsen()
            if not len(nonzero):
                return np.zeros(0), np.zeros(0, dtype=np.int64)
            a, b = int(nonzero[0]), int(nonzero[-1]) + 1
            edges = self.anchor + self.width * np.arange(self.first + a, self.first + b + 1)
            return edges, self.counts[a:b].copy()
        finally:
            self.counts, self.first, self.width = saved


class TopRows:
    """The ``k`` highest scores seen and their 0-based row numbers (ties: the earlier row
    first, as a stable sort), with any per-row extras (arrays along the rows); holds at
    most ``k`` rows plus those of the chunk being added."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.scores = np.zeros(0)
        self.rows = np.zeros(0, dtype=np.int64)
        self.extras: dict[str, np.ndarray] = {}

    def add(self, scores: Any, start: int, **extras: Any) -> None:
        """Add a chunk of ``scores`` whose first row is row ``start``."""
        s = np.asarray(scores, dtype=np.float64).ravel()
        if not self.k or not s.size:
            return
        if s.size > self.k:  # only this chunk's best (every tie of its k-th) can make it
            kth = np.partition(s, s.size - self.k)[s.size - self.k]
            pick = np.flatnonzero(s >= kth)
        else:
            pick = np.arange(s.size)
        rows = np.r_[self.rows, start + pick]
        s = np.r_[self.scores, s[pick]]
        order = np.lexsort((rows, -s))[:self.k]
        self.scores, self.rows = s[order], rows[order]
        for name, value in extras.items():
            value = np.asarray(value)[pick]
            old = self.extras.get(name, value[:0])
            self.extras[name] = np.concatenate([old, value])[order]


class ScoreSummary:
    """What a report of anomaly scores shows, gathered chunk by chunk in fixed memory: the
    count above ``threshold``, a :class:`StreamingHistogram` anchored at it, the ``top``
    highest-scoring rows (:class:`TopRows`) and, with labels, the
    :class:`~aekit.metrics.ranking.Ranking` (areas over every score, curves thinned to
    ``max_points``; the (score, label) pairs are sorted on disk in a temporary folder made
    in ``folder`` when they outgrow memory: :class:`~aekit.metrics.ranking.StreamingRanking`).

    Use as a context manager (the temporary folder is removed however the block ends);
    :meth:`finish` computes the ranking.
    """

    def __init__(self, threshold: float, folder: str | Path, *, labelled: bool,
                 top: int = 10, max_points: int | None = None) -> None:
        self.threshold = float(threshold)
        self.hist = StreamingHistogram(anchor=self.threshold)
        self.top = TopRows(top)
        self.labelled = labelled
        self._ranking = StreamingRanking(folder, max_points=max_points) if labelled else None
        self.curves: Ranking | None = None

    @property
    def count(self) -> int:
        """Scores added."""
        return self.hist.count + self.hist.non_finite

    @property
    def flagged(self) -> int:
        """Scores above the threshold."""
        return self.hist.above

    @property
    def positives(self) -> int:
        """Labels equal to 1 (0 without labels)."""
        return 0 if self._ranking is None else self._ranking.positives

    def add(self, scores: Any, start: int, labels: Any = None, **extras: Any) -> None:
        """Add the scores (and labels) of rows ``start, start + 1, ...``; ``extras`` are
        per-row arrays kept for the top rows."""
        self.hist.add(scores)
        self.top.add(scores, start, **extras)
        if self._ranking is not None:
            self._ranking.add(labels, scores)

    def finish(self) -> Ranking | None:
        """The ranking against the labels (None without labels or with one class)."""
        if self._ranking is not None and 0 < self.positives < self._ranking.count:
            self.curves = self._ranking.result()
        return self.curves

    def close(self) -> None:
        """Remove the temporary files."""
        if self._ranking is not None:
            self._ranking.close()

    def __enter__(self) -> ScoreSummary:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def top_contributions(contrib: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the indices of the ``k`` largest of its contributions (``contrib`` of shape
    ``(n, *shape)``, flattened per row; ties to the lower index) and their shares of the
    row's total (where the total is not positive, the contributions themselves)."""
    flat = contrib.reshape(len(contrib), -1)
    k = min(k, flat.shape[1])
    idx = np.argsort(-flat, axis=1, kind="stable")[:, :k]
    total = flat.sum(1, keepdims=True)
    share = np.take_along_axis(flat, idx, 1) / np.where(total > 0, total, 1.0)
    return idx, share
