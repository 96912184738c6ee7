"""``aekit detect``: fit an anomaly detector on a table (or a series) and score new data."""

from __future__ import annotations

import click
import numpy as np

from aekit.cli._common import force_option, parse_settings, writable
from aekit.errors import ConfigError


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
@click.option("--delay", default=None, metavar="STEPS|auto",
              help="With --series: a step's score is the mean over the windows ending "
                   "within this many steps after it, so it is final that many steps late "
                   "(0: causal, on arrival) [default: auto, window - 1].")
@click.option("--arch", type=click.Choice(["seq", "gru"]), default=None,
              help="Sequence network on (channels, steps) windows (with --series) "
                   "[default: an MLP on flattened windows].")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@force_option
def fit_command(data_source, out, label_column, id_columns, model, score, contamination,
                n_estimators, epochs, seed, settings, series, window, delay, arch, quiet,
                force) -> None:
    """Fit a detector on --data (unlabelled; it may contain anomalies) into --out.

    \b
    Examples:
      aekit detect fit --data train.csv --out detector
      aekit detect fit --data train.csv --out detector --model vae --score elbo
      aekit detect fit --data nyc_taxi.csv --series --out ts_detector
    """
    from aekit.apps.detect import DEFAULT_SCORE, AnomalyDetector
    from aekit.apps.score_files import fit_data

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
        local = {} if "reconstruction" in inner.score_type else {"local": 0.0}  # needs one
        det = TimeSeriesAnomalyDetector(detector=inner, window=window or "auto",
                                        delay=_delay(delay), flatten=arch is None, **local,
                                        contamination=contamination or 0.05).fit(s)
        det.save(out)
        labels, flagged = s.labels, int(det.labels_.sum())
        click.echo(f"fitted on {len(s)} time steps x {len(s.channel_names)} channels "
                   f"({', '.join(s.channel_names)}); window {det.window_}, scores "
                   f"{det.delay_} steps late")
    else:
        if delay is not None:
            raise ConfigError("--delay is used only with --series")
        data, ids, labels = fit_data(data_source, label_column, list(id_columns))
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


def _delay(value: str | None) -> int | str:
    """``--delay``: a count of steps or ``auto``."""
    if value is None or value == "auto":
        return "auto"
    if not value.isdigit():
        raise ConfigError(f"--delay must be a number of steps >= 0 or 'auto', got {value!r}")
    return int(value)


def _print_metrics(labels: np.ndarray, scores: np.ndarray, what: str) -> None:
    from aekit.metrics.ranking import ranking

    if labels.min() == labels.max():
        click.echo(f"{what}: every label is {labels[0]}; AUROC/AUPRC need both classes")
        return
    curves = ranking(labels, scores)
    _echo_areas({"AUROC": curves.auroc, "AUPRC": curves.auprc}, int(labels.sum()),
                len(labels), what)


def _echo_areas(m: dict[str, float], positives: int, n: int, what: str) -> None:
    click.echo(f"{what}: AUROC {m['AUROC']:.4f}  AUPRC {m['AUPRC']:.4f} "
               f"({positives} anomalies in {n})")


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
@click.option("--arrival", is_flag=True,
              help="With a series detector: add the column arrival_score, each step's "
                   "score when it arrived (the window ending at it alone), beside its "
                   "final anomaly_score.")
@force_option
def score_command(detector_dir, data_source, out, label_column, id_columns, top, threshold,
                  report_path, show, chunk_rows, arrival, force) -> None:
    """Score --data with a fitted detector; write --out (input rows, in order, plus
    anomaly_score, anomaly_label and the top contributing columns) and a report.

    \b
    Examples:
      aekit detect score detector --data new.csv --out scores.csv
      aekit detect score detector --data test.csv --out scores.csv --label-column y
      aekit detect score ts_detector --data new_series.csv --out scores.csv --arrival
    """
    from aekit.apps.detect import load_detector
    from aekit.apps.score_files import score_file

    out_path = writable(out, data_source, detector_dir, suffixes=(".csv",), force=force)
    report = writable(report_path or out_path.parent / "report.html", data_source,
                      detector_dir, option="--report", suffixes=(".html",), force=force)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    done = score_file(load_detector(detector_dir), data_source, out_path, report,
                      label_column=label_column, id_columns=id_columns, top=top,
                      threshold=threshold, show=show, chunk_rows=chunk_rows,
                      arrival=arrival)
    summary, what = done.summary, done.unit
    click.echo(f"scored {summary.count} {what}: {summary.flagged} above the threshold "
               f"{done.threshold:.4g}")
    if done.metrics:
        _echo_areas(done.metrics, summary.positives, summary.count, "labels")
    elif summary.labelled and summary.count:
        click.echo(f"labels: every label is {int(summary.positives > 0)}; AUROC/AUPRC need "
                   "both classes")
    if summary.top.k and summary.count:
        click.echo(f"\nmost anomalous {what} (top contributing "
                   f"{'channels' if done.series else 'columns'}, share of the "
                   "reconstruction error):")
        extras = summary.top.extras
        for r, (i, score) in enumerate(zip(summary.top.rows, summary.top.scores)):
            tops = "" if "idx" not in extras else ", ".join(
                f"{done.names[j]} {s:.0%}" for j, s in zip(extras["idx"][r],
                                                           extras["share"][r]))
            click.echo(f"  {'step' if done.series else 'row'} {i + 1:>6}  score "
                       f"{score:10.4g}  {tops}")
    click.echo(f"\nscores: {out_path}\nreport: {report}")
