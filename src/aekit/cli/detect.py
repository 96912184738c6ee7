"""``aekit detect``: fit an anomaly detector on a table (or a series) and score new data."""

from __future__ import annotations

import contextlib
import csv
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import numpy as np

from aekit.cli._common import force_option, parse_settings, writable
from aekit.errors import ConfigError, DataError

TABLE_SUFFIXES = {".csv", ".tsv", ".txt", ".tab", ".gz"}
OUT_COLUMNS = ("anomaly_score", "anomaly_label")
CHUNKED_BYTES = 256 << 20  # tables larger than this are scored in chunks by default
CURVE_POINTS = 20_000  # points drawn of a report's ROC and precision-recall curves


def _is_table(source: str) -> bool:
    return Path(source).suffix.lower() in TABLE_SUFFIXES and Path(source).is_file()


def _feature_names(shape: tuple[int, ...], names: list[str] | None) -> list[str]:
    if names is not None and len(names) == int(np.prod(shape)):
        return list(names)
    if len(shape) == 1:
        return [f"x{j}" for j in range(shape[0])]
    return ["pixel[" + ",".join(map(str, idx)) + "]" for idx in np.ndindex(*shape)]


def _report(path: Path, summary: Any, title: str, table: list[dict[str, Any]],
            series: Any = None, scores: np.ndarray | None = None) -> Path:
    """The HTML report of a :class:`~aekit.metrics.score_summary.ScoreSummary` (with a
    series, its ``scores`` too, for the series plot)."""
    from aekit.report import plots
    from aekit.report.html import Section, write_report

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
        return write_report(path, title=title, sections=sections)


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


@click.group("detect")
def command() -> None:
    """Anomaly detection: fit a detector on data, score new data.

    \b
    Examples:
      aekit detect fit --data train.csv --out detector --id-column id
      aekit detect score detector --data new.csv --out scores.csv --label-column is_fraud
      aekit detect fit --data nyc_taxi.csv --series --out ts_detector
    """


@command.command("fit")
@click.option("--data", "data_source", required=True, metavar="SOURCE",
              help="CSV with a header (or any aekit data source: .npy, digits, ...).")
@click.option("--out", required=True, help="Detector folder to write.")
@click.option("--label-column", default=None, metavar="NAME",
              help="Column with 0/1 labels: not used to fit, only to report AUROC/AUPRC.")
@click.option("--id-column", "id_columns", multiple=True, metavar="NAME",
              help="Column(s) that identify rows (not features); a column named id is one.")
@click.option("--model", default="ae", show_default=True,
              help="Backbone model(s), e.g. ae, vae, or ae,vae for a mixed ensemble.")
@click.option("--score", default=None,
              help="Score type [default: reconstruction+latent_kth; with --series the "
                   "window detector's reconstruction+latent].")
@click.option("--contamination", type=click.FloatRange(0, 0.5, min_open=True), default=None,
              help="Expected share of anomalies (sets the threshold) [default 0.1; 0.05 "
                   "for --series].")
@click.option("--n-estimators", type=click.IntRange(min=1), default=None,
              help="Models in the ensemble [default 3; 1 for --series].")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Training epochs [default: about 1000 steps; 10 for --series].")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Model setting, e.g. --set beta=2.")
@click.option("--series", is_flag=True,
              help="The data is one time series: timestamp, channel..., is_anomaly.")
@click.option("--window", type=click.IntRange(min=2), default=None,
              help="Window length (with --series) [default: one period of the series].")
@click.option("--arch", type=click.Choice(["seq", "gru"]), default=None,
              help="Sequence network on (channels, steps) windows (with --series) "
                   "[default: an MLP on flattened windows].")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@force_option
def fit_command(data_source, out, label_column, id_columns, model, score, contamination,
                n_estimators, epochs, seed, settings, series, window, arch, quiet,
                force) -> None:
    """Fit a detector on --data (unlabelled; it may contain anomalies) into --out.

    \b
    Examples:
      aekit detect fit --data train.csv --out detector
      aekit detect fit --data train.csv --out detector --model vae --score elbo
      aekit detect fit --data nyc_taxi.csv --series --out ts_detector
    """
    from aekit.apps.detect import DEFAULT_SCORE, AnomalyDetector

    writable(out, data_source, folder=True, force=force)
    models = tuple(m.strip() for m in model.split(",") if m.strip())
    common = dict(model=models[0] if len(models) == 1 else models, n_estimators=n_estimators,
                  epochs=epochs, random_state=seed, verbose=not quiet,
                  model_params=parse_settings(settings) or None)
    if series:
        from aekit.apps.timeseries import TimeSeriesAnomalyDetector, default_window_detector
        from aekit.data.series import read_series_csv

        s = read_series_csv(data_source, label_column=label_column or "is_anomaly")
        inner = default_window_detector().set_params(**{k: v for k, v in dict(
            common, score_type=score).items() if v is not None})
        if arch:
            inner.set_params(model_params={**(inner.model_params or {}), "arch": arch})
        det = TimeSeriesAnomalyDetector(detector=inner, window=window or "auto",
                                        flatten=arch is None,
                                        contamination=contamination or 0.05).fit(s)
        det.save(out)
        labels, flagged = s.labels, int(det.labels_.sum())
        click.echo(f"fitted on {len(s)} time steps x {len(s.channel_names)} channels "
                   f"({', '.join(s.channel_names)}); window {det.window_}")
    else:
        data, ids, labels = _fit_data(data_source, label_column, list(id_columns))
        det = AnomalyDetector(contamination=contamination or 0.1,
                              score_type=score or DEFAULT_SCORE,
                              **{k: v for k, v in common.items() if v is not None}).fit(data)
        det.save(out)
        flagged = int(det.labels_.sum())
        click.echo(f"fitted on {len(data)} rows x {det.n_features_in_} features"
                   + (f" (id columns: {', '.join(ids)})" if ids else ""))
    click.echo(f"threshold {det.threshold_:.4g}: {flagged} of {len(det.labels_)} training "
               f"{'steps' if series else 'rows'} above it")
    if labels is not None:
        _print_metrics(labels, det.decision_scores_, "training data")
    click.echo(f"detector folder: {out}")
    click.echo(f"next: aekit detect score {out} --data NEW.csv --out scores.csv")


def _fit_data(source: str, label_column: str | None, id_columns: list[str]):
    """``(data, id columns, labels)`` for fitting; ``data`` is a Dataset whose feature
    names (a table's columns) the detector keeps."""
    if _is_table(source):
        from aekit.data.columns import LabelledTable

        t = LabelledTable(source, label_column=label_column, id_columns=id_columns,
                          adds=OUT_COLUMNS)
        return t.data, t.plan.id_columns, t.y
    if id_columns:
        raise ConfigError("--id-column needs a CSV file with a header")
    from aekit.cli._common import load_source

    ds = load_source(source, label_column)
    labels = None
    if ds.y is not None and ds.y.ndim == 1 and int(ds.y.max()) <= 1:
        labels = ds.y.numpy().astype(np.int64)
    return ds, [], labels


def _print_metrics(labels: np.ndarray, scores: np.ndarray, what: str) -> None:
    from aekit.metrics.ranking import ranking

    if labels.min() == labels.max():
        click.echo(f"{what}: every label is {labels[0]}; AUROC/AUPRC need both classes")
        return
    curves = ranking(labels, scores)
    _echo_areas(curves, int(labels.sum()), len(labels), what)


def _echo_areas(curves: Any, positives: int, n: int, what: str) -> dict[str, float]:
    m = {"AUROC": curves.auroc, "AUPRC": curves.auprc}
    click.echo(f"{what}: AUROC {m['AUROC']:.4f}  AUPRC {m['AUPRC']:.4f} "
               f"({positives} anomalies in {n})")
    return m


@command.command("score")
@click.argument("detector_dir")
@click.option("--data", "data_source", required=True, metavar="SOURCE",
              help="CSV with the columns the detector was fitted on (any order).")
@click.option("--out", required=True, help="Scores CSV to write (never the input).")
@click.option("--label-column", default=None, metavar="NAME",
              help="Column with 0/1 labels: report AUROC/AUPRC and the curves.")
@click.option("--id-column", "id_columns", multiple=True, metavar="NAME",
              help="Column(s) passed through to --out unscored; a column named id is one.")
@click.option("--top", type=click.IntRange(min=0), default=3, show_default=True,
              help="Top contributing columns to add per row.")
@click.option("--threshold", type=float, default=None,
              help="Score threshold for the label [default: the fitted one].")
@click.option("--report", "report_path", default=None,
              help="HTML report path [default: report.html next to --out].")
@click.option("--show", type=click.IntRange(min=0), default=10, show_default=True,
              help="Most anomalous rows to print.")
@click.option("--chunk-rows", type=click.IntRange(min=1), default=None,
              help="Read and write the table this many rows at a time, so memory stays at "
                   "one chunk [default: 65536-row chunks for tables over 256 MB].")
@force_option
def score_command(detector_dir, data_source, out, label_column, id_columns, top, threshold,
                  report_path, show, chunk_rows, force) -> None:
    """Score --data with a fitted detector; write --out (input rows, in order, plus
    anomaly_score, anomaly_label and the top contributing columns) and a report.

    \b
    Examples:
      aekit detect score detector --data new.csv --out scores.csv
      aekit detect score detector --data test.csv --out scores.csv --label-column y
    """
    from aekit.apps.detect import load_detector
    from aekit.apps.timeseries import TimeSeriesAnomalyDetector
    from aekit.metrics.score_summary import ScoreSummary, top_contributions

    out_path = writable(out, data_source, detector_dir, suffixes=(".csv",), force=force)
    report = writable(report_path or out_path.parent / "report.html", data_source,
                      detector_dir, option="--report", suffixes=(".html",), force=force)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    det = load_detector(detector_dir)
    series = isinstance(det, TimeSeriesAnomalyDetector)
    thr = det.threshold_ if threshold is None else float(threshold)
    chunked = _chunk_rows(det, data_source, chunk_rows, series)

    def summarise(labelled: bool) -> ScoreSummary:  # its spill folder: beside --out
        return ScoreSummary(thr, out_path.parent, labelled=labelled, top=show,
                            max_points=CURVE_POINTS)

    rows_out = scores = None
    if chunked:  # a table of any length: read, scored and written chunk by chunk
        with _sigterm_interrupts(), summarise(label_column is not None) as summary:
            names = _score_table_chunks(det, data_source, label_column, list(id_columns),
                                        out_path, top, chunked, summary)
            summary.finish()
        what = "rows"
    else:
        if series:
            rows_out, scores, labels, names, contrib = _score_series(
                det, data_source, label_column, out_path)
            what = "time steps"
        else:
            rows_out, scores, labels, names, contrib, header = _score_table(
                det, data_source, label_column, list(id_columns))
            what = "rows"
        flagged = scores > thr
        idx, share = top_contributions(contrib, top) if top else (None, None)
        if series:
            _write_series_scores(out_path, rows_out, scores, flagged, idx, names)
        else:
            _write_table_scores(out_path, header, rows_out, scores, flagged, idx, names)
        with summarise(labels is not None) as summary:
            summary.add(scores, 0, labels,
                        **({} if idx is None else {"idx": idx, "share": share}))
            summary.finish()
    click.echo(f"scored {summary.count} {what}: {summary.flagged} above the threshold "
               f"{thr:.4g}")
    metrics = {}
    if summary.curves is not None:
        metrics = _echo_areas(summary.curves, summary.positives, summary.count, "labels")
    elif summary.labelled and summary.count:
        click.echo(f"labels: every label is {int(summary.positives > 0)}; AUROC/AUPRC need "
                   "both classes")
    if summary.top.k and summary.count:
        click.echo(f"\nmost anomalous {what} (top contributing "
                   f"{'channels' if series else 'columns'}, share of the "
                   "reconstruction error):")
        extras = summary.top.extras
        for r, (i, score) in enumerate(zip(summary.top.rows, summary.top.scores)):
            tops = "" if "idx" not in extras else ", ".join(
                f"{names[j]} {s:.0%}" for j, s in zip(extras["idx"][r], extras["share"][r]))
            click.echo(f"  {'step' if series else 'row'} {i + 1:>6}  score "
                       f"{score:10.4g}  {tops}")
    table = [{"rows": summary.count, "flagged": summary.flagged, "threshold": thr,
              **{k: round(v, 4) for k, v in metrics.items()}}]
    _report(report, summary, f"anomaly scores: {Path(data_source).name}", table,
            series=rows_out if series else None, scores=scores)
    click.echo(f"\nscores: {out_path}\nreport: {report}")


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
    from aekit.cli._common import load_source

    ds = load_source(source, label_column)
    labels = None
    if label_column is not None and ds.y is not None:
        labels = ds.y.numpy().astype(np.int64)
        if labels.max() > 1:
            raise DataError(f"{source}: label column {label_column!r} must hold 0/1")
    rows = [[str(i)] for i in range(len(ds))]
    names = list(names) if names is not None else _feature_names(ds.sample_shape, None)
    scores, contrib = det.score_and_explain(ds)
    return rows, scores, labels, names, contrib, ["row"]


def _score_series(det, source: str, label_column: str | None, out: Path):
    from aekit.data.series import read_series_csv

    names = getattr(det, "feature_names_in_", None)
    s = read_series_csv(source, channels=None if names is None else list(names),
                        label_column=label_column or "is_anomaly")
    scores = det.decision_function(s)
    return s, scores, s.labels, s.channel_names, det.explain(s)


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
                         names) -> None:
    from aekit.data.series import write_series_csv
    from aekit.io import atomic_path

    extra: dict[str, np.ndarray] = {"anomaly_score": scores,
                                    "anomaly_label": flagged.astype(np.int64)}
    if idx is not None:
        for j in range(idx.shape[1]):
            extra[f"top_{j + 1}"] = np.array([names[c] for c in idx[:, j]], dtype=object)
    with atomic_path(path) as tmp:
        write_series_csv(tmp, series, extra=extra)
