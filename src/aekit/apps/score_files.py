"""Score a file with a fitted anomaly detector: the job behind ``aekit detect``.

:func:`fit_data` reads what a detector is fitted on (a table with a header, whose columns
the detector keeps, or any aekit data source). :func:`score_file` scores a table, a series
or any data source and writes, beside the input (never over it), the scores file (the
input rows in order plus ``anomaly_score``, ``anomaly_label`` and the top contributing
columns) and an HTML report (summary, score histogram with the threshold, the series with
its flagged spans shaded, ROC and precision-recall curves with labels). A table larger
than :data:`CHUNKED_BYTES` (or any with ``chunk_rows``) is read, scored and written chunk
by chunk, so memory stays that of one chunk whatever its length.
"""

from __future__ import annotations

import contextlib
import csv
import signal
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aekit.errors import ConfigError, DataError

TABLE_SUFFIXES = {".csv", ".tsv", ".txt", ".tab", ".gz"}
OUT_COLUMNS = ("anomaly_score", "anomaly_label")
CHUNKED_BYTES = 256 << 20  # tables larger than this are scored in chunks by default
CURVE_POINTS = 20_000  # points drawn of a report's ROC and precision-recall curves


@dataclass
class ScoredFile:
    """What :func:`score_file` did: its :class:`~aekit.metrics.score_summary.ScoreSummary`
    (counts, flagged, labels' curves, the most anomalous rows), the threshold used, the
    feature or channel names, whether a series was scored, AUROC / AUPRC when labels
    of both classes were given and, with ``arrival``, the threshold of the scores on
    arrival and how many steps it alerted."""

    summary: Any
    threshold: float
    names: list[str]
    series: bool
    metrics: dict[str, float] = field(default_factory=dict)
    arrival_threshold: float | None = None
    arrival_alerts: int | None = None

    @property
    def unit(self) -> str:
        """What a score is for: ``rows`` or ``time steps``."""
        return "time steps" if self.series else "rows"


def _is_table(source: str) -> bool:
    """Whether ``source`` is a delimited text table (read with its header)."""
    return Path(source).suffix.lower() in TABLE_SUFFIXES and Path(source).is_file()


def _feature_names(shape: tuple[int, ...], names: list[str] | None) -> list[str]:
    """``names`` when they fit ``shape``, else ``x0, x1, ...`` or ``pixel[i,j]`` names."""
    if names is not None and len(names) == int(np.prod(shape)):
        return list(names)
    if len(shape) == 1:
        return [f"x{j}" for j in range(shape[0])]
    return ["pixel[" + ",".join(map(str, idx)) + "]" for idx in np.ndindex(*shape)]


def fit_data(source: str, label_column: str | None, id_columns: list[str]):
    """``(data, id columns, labels)`` for fitting; ``data`` is a Dataset whose feature
    names (a table's columns) the detector keeps."""
    if _is_table(source):
        from aekit.data.columns import LabelledTable

        t = LabelledTable(source, label_column=label_column, id_columns=id_columns,
                          adds=OUT_COLUMNS)
        return t.data, t.plan.id_columns, t.y
    if id_columns:
        raise ConfigError("--id-column needs a CSV file with a header")
    from aekit.data import load_data

    ds = load_data(source, label_column=label_column)
    labels = None
    if ds.y is not None and ds.y.ndim == 1 and int(ds.y.max()) <= 1:
        labels = ds.y.numpy().astype(np.int64)
    return ds, [], labels


def score_file(det: Any, source: str, out_path: Path, report_path: Path, *,
               label_column: str | None = None, id_columns: tuple[str, ...] = (),
               top: int = 3, threshold: float | None = None, show: int = 10,
               chunk_rows: int | None = None, arrival: bool = False) -> ScoredFile:
    """Score ``source`` with the fitted detector ``det``; write the scores to
    ``out_path`` and the report to ``report_path`` (both checked writable by the caller).

    ``top`` contributing columns are added per row, ``show`` most anomalous rows kept in
    the summary; ``threshold`` overrides the fitted one; ``chunk_rows`` asks for chunks
    (a table fitted by name, read from CSV/TSV or Parquet); ``arrival`` adds a series'
    ``arrival_score`` column (:meth:`TimeSeriesAnomalyDetector.arrival_scores`) and its
    ``arrival_label`` (above ``arrival_threshold_``, or above ``threshold`` when given)."""
    from aekit.apps.timeseries import TimeSeriesAnomalyDetector
    from aekit.metrics.score_summary import ScoreSummary, top_contributions

    series = isinstance(det, TimeSeriesAnomalyDetector)
    if arrival and not series:
        raise ConfigError("--arrival applies to series detectors (fitted with --series): "
                          "a table row's score is final when it is scored")
    thr = det.threshold_ if threshold is None else float(threshold)
    arrival_thr = arrival_scores = None
    if arrival:
        if threshold is None and not hasattr(det, "arrival_threshold_"):
            raise ConfigError("--arrival: this series detector was saved before scores on "
                              "arrival had their own threshold (arrival_threshold_); refit "
                              "it, or give --threshold for both")
        arrival_thr = det.arrival_threshold_ if threshold is None else thr
    chunked = _chunk_rows(det, source, chunk_rows, series)

    def summarise(labelled: bool) -> ScoreSummary:  # its spill folder: beside the output
        return ScoreSummary(thr, out_path.parent, labelled=labelled, top=show,
                            max_points=CURVE_POINTS)

    rows_out = scores = None
    if chunked:  # a table of any length: read, scored and written chunk by chunk
        with _sigterm_interrupts(), summarise(label_column is not None) as summary:
            names = _score_table_chunks(det, source, label_column, list(id_columns),
                                        out_path, top, chunked, summary)
            summary.finish()
    else:
        if series:
            rows_out, scores, arrival_scores, labels, names, contrib = _score_series(
                det, source, label_column)
            arrival_scores = arrival_scores if arrival else None
        else:
            rows_out, scores, labels, names, contrib, header = _score_table(
                det, source, label_column, list(id_columns))
        flagged = scores > thr
        idx, share = top_contributions(contrib, top) if top else (None, None)
        if series:
            _write_series_scores(out_path, rows_out, scores, flagged, idx, names,
                                 arrival_scores, arrival_thr)
        else:
            _write_table_scores(out_path, header, rows_out, scores, flagged, idx, names)
        with summarise(labels is not None) as summary:
            summary.add(scores, 0, labels,
                        **({} if idx is None else {"idx": idx, "share": share}))
            summary.finish()
    curves = summary.curves
    metrics = {} if curves is None else {"AUROC": curves.auroc, "AUPRC": curves.auprc}
    table = [{"rows": summary.count, "flagged": summary.flagged, "threshold": thr,
              **{k: round(v, 4) for k, v in metrics.items()}}]
    write_report(report_path, summary, f"anomaly scores: {Path(source).name}", table,
                 series=rows_out if series else None, scores=scores)
    alerts = None if arrival_scores is None else int((arrival_scores > arrival_thr).sum())
    return ScoredFile(summary, thr, list(names), series, metrics, arrival_thr, alerts)


def write_report(path: Path, summary: Any, title: str, table: list[dict[str, Any]],
                 series: Any = None, scores: np.ndarray | None = None) -> Path:
    """The HTML report of a :class:`~aekit.metrics.score_summary.ScoreSummary` (with a
    series, its ``scores`` too, for the series plot)."""
    from aekit.report import plots
    from aekit.report.html import Section
    from aekit.report.html import write_report as write_html

    threshold = summary.threshold
    with tempfile.TemporaryDirectory() as tmp:
        edges, counts = summary.hist.histogram()
        hist = plots.histogram(edges, Path(tmp) / "scores.png", counts=counts,
                               threshold=threshold, title="anomaly scores", xlabel="score")
        sections = [Section("Summary", table=table),
                    Section("Score distribution",
                            text=f"Scores above the threshold {threshold:.4g} are labelled "
                                 "anomalous.", images=[hist])]
        if series is not None:
            sections.insert(1, _series_section(series, scores, threshold, Path(tmp)))
        curves = summary.curves
        if curves is not None:
            roc = plots.line_plot(curves.fpr, {"ROC": curves.tpr,
                                               "chance": (np.array([0, 1]), np.array([0, 1]))},
                                  Path(tmp) / "roc.png", xlabel="false positive rate",
                                  ylabel="true positive rate", title="ROC curve")
            pr = plots.line_plot(curves.recall, {"PR": curves.precision},
                                 Path(tmp) / "pr.png", xlabel="recall",
                                 ylabel="precision", title="precision-recall curve")
            sections.append(Section("ROC and precision-recall", images=[roc, pr]))
        return write_html(path, title=title, sections=sections)


def _series_section(series: Any, scores: np.ndarray, threshold: float, tmp: Path):
    """The report's plot of a series over its scores, with the flagged spans listed."""
    from aekit.data.series import flagged_spans
    from aekit.report import plots
    from aekit.report.html import Section

    png = plots.series_scores(series.values, scores, tmp / "series.png", threshold=threshold,
                              labels=series.labels, channel_names=series.channel_names,
                              title=Path(series.name).name)
    spans = flagged_spans(scores > threshold)
    stamps = series.timestamps or [str(i + 1) for i in range(len(scores))]
    listed = "; ".join(f"{stamps[a]} to {stamps[b - 1]}" for a, b in spans[:20])
    more = f" (and {len(spans) - 20} more)" if len(spans) > 20 else ""
    return Section("Series and scores",
                   text=f"{len(spans)} flagged span(s), shaded: {listed}{more}." if spans
                   else "No step is above the threshold.", images=[png])


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (``kill``, a job scheduler's stop) interrupts like Ctrl-C meanwhile, so that
    the half-written output and the sorted runs on disk are removed on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _chunk_rows(det, source: str, chunk_rows: int | None, series: bool) -> int | None:
    """Rows per chunk when the table is scored in chunks (asked, or a large table): for a
    detector fitted on a table (it knows its columns) scoring a CSV/TSV or Parquet file."""
    from aekit.data.chunks import CHUNK_ROWS, is_chunkable

    if series or getattr(det, "feature_names_in_", None) is None \
            or not is_chunkable(source):
        if chunk_rows is not None:
            raise ConfigError("--chunk-rows applies to detectors fitted on a table, scoring "
                              "a CSV/TSV or Parquet file")
        return None
    if chunk_rows is None and Path(source).stat().st_size > CHUNKED_BYTES:
        return CHUNK_ROWS
    return chunk_rows


def _score_table_chunks(det, source: str, label_column: str | None, id_columns: list[str],
                        out_path: Path, top: int, rows: int, summary: Any) -> list[str]:
    """Score a table of any length chunk by chunk, writing each chunk's rows (input
    columns, score, label, top columns) as it is done and adding its scores (and labels)
    to ``summary``; returns the feature names."""
    from aekit.apps.streaming import as_table, file_features, write_chunks
    from aekit.data.chunks import ChunkReader
    from aekit.data.columns import parse_binary_labels, plan_columns
    from aekit.metrics.score_summary import top_contributions

    fitted = file_features(det)
    plan = plan_columns(source, ChunkReader(source, features=fitted).header,
                        features=fitted, label_column=label_column, id_columns=id_columns,
                        adds=OUT_COLUMNS)
    features = plan.features
    k = min(top, len(features))
    tops = [f"top_{j + 1}" for j in range(k)]
    thr = summary.threshold
    names = np.array(features, dtype=object)
    score_text = "{:.6g}".format

    def compute(chunk) -> dict[str, Any]:
        s, contrib = det.score_and_explain(as_table(chunk.x, features, source))
        labels = None if label_column is None else parse_binary_labels(
            chunk.kept[label_column], label_column, source, first_row=chunk.start + 1)
        out: dict[str, Any] = {"anomaly_score": list(map(score_text, s.tolist())),
                               "anomaly_label": (s > thr).astype(np.int64)}
        extras = {}
        if k:
            idx, share = top_contributions(contrib, k)
            out.update({t: names[idx[:, j]] for j, t in enumerate(tops)})
            extras = {"idx": idx, "share": share}
        summary.add(s, chunk.start, labels, **extras)
        return out

    write_chunks(source, out_path, compute, [*OUT_COLUMNS, *tops], features=features,
                 keep=plan.header, values=[label_column] if label_column else [], rows=rows,
                 progress=True)
    return features


def _score_table(det, source: str, label_column: str | None, id_columns: list[str]):
    names = getattr(det, "feature_names_in_", None)
    if _is_table(source):
        from aekit.data.columns import LabelledTable

        t = LabelledTable(source, features=None if names is None else list(names),
                          label_column=label_column, id_columns=id_columns, adds=OUT_COLUMNS)
        scores, contrib = det.score_and_explain(t.data)
        return t.rows, scores, t.y, t.plan.features, contrib, t.plan.header
    from aekit.data import load_data

    ds = load_data(source, label_column=label_column)
    labels = None
    if label_column is not None and ds.y is not None:
        labels = ds.y.numpy().astype(np.int64)
        if labels.max() > 1:
            raise DataError(f"{source}: label column {label_column!r} must hold 0/1")
    rows = [[str(i)] for i in range(len(ds))]
    names = list(names) if names is not None else _feature_names(ds.sample_shape, None)
    scores, contrib = det.score_and_explain(ds)
    return rows, scores, labels, names, contrib, ["row"]


def _score_series(det, source: str, label_column: str | None):
    from aekit.data.series import read_series_csv

    names = getattr(det, "feature_names_in_", None)
    s = read_series_csv(source, channels=None if names is None else list(names),
                        label_column=label_column or "is_anomaly")
    scores, arrival, contrib = det.score_all(s)  # one pass of the window detector
    return s, scores, arrival, s.labels, s.channel_names, contrib


def _write_table_scores(path: Path, header: list[str], rows: list[list[str]],
                        scores: np.ndarray, flagged: np.ndarray, idx, names) -> None:
    from aekit.io import atomic_path

    k = 0 if idx is None else idx.shape[1]
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([*header, *OUT_COLUMNS, *(f"top_{j + 1}" for j in range(k))])
        for i, row in enumerate(rows):
            tops = [] if idx is None else [names[j] for j in idx[i]]
            w.writerow([*row, f"{scores[i]:.6g}", int(flagged[i]), *tops])


def _write_series_scores(path: Path, series, scores: np.ndarray, flagged: np.ndarray, idx,
                         names, arrival: np.ndarray | None = None,
                         arrival_threshold: float | None = None) -> None:
    from aekit.data.series import write_series_csv
    from aekit.io import atomic_path

    extra: dict[str, np.ndarray] = {"anomaly_score": scores,
                                    "anomaly_label": flagged.astype(np.int64)}
    if arrival is not None:
        extra["arrival_score"] = arrival
        extra["arrival_label"] = (arrival > arrival_threshold).astype(np.int64)
    if idx is not None:
        for j in range(idx.shape[1]):
            extra[f"top_{j + 1}"] = np.array([names[c] for c in idx[:, j]], dtype=object)
    with atomic_path(path) as tmp:
        write_series_csv(tmp, series, extra=extra)
