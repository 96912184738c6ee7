"""``aekit eval``: measure a trained model; write the results to an evaluation folder
beside the run (never into the run folder it reads)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from aekit.cli._common import (
    data_option,
    existing_run,
    force_option,
    label_column_option,
    load_source,
    writable,
)
from aekit.errors import ConfigError


def parse_betas(text: str) -> tuple[float, ...]:
    """``"0.1,1,4"`` -> ``(0.1, 1.0, 4.0)``."""
    try:
        betas = tuple(float(b) for b in text.split(",") if b.strip())
    except ValueError:
        raise ConfigError(f"--rd-betas expects numbers separated by commas, got {text!r}") \
            from None
    if not betas or any(b < 0 for b in betas):
        raise ConfigError(f"--rd-betas needs at least one value >= 0, got {text!r}")
    return betas


def evaluation_split(run_dir: Path, data, split: str):
    """``(eval_data, train_data or None, description)`` for the ``--split`` choice.

    ``auto`` reproduces the run's validation split when ``data`` is the data the run was
    trained on (same name and size as in ``data.json``), else uses all of ``data``.
    """
    if split == "all":
        return data, None, "all examples"
    record_path, cfg_path = run_dir / "data.json", run_dir / "train_config.json"
    same = False
    if record_path.is_file() and cfg_path.is_file():
        record = json.loads(record_path.read_text(encoding="utf-8"))
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
        same = (record.get("source") == data.name and record.get("examples") == len(data)
                and record.get("val", 0) > 0)
    if not same:
        if split == "val":
            raise ConfigError(f"--split val: {run_dir} was not trained on {data.name} with a "
                              "validation split (see its data.json); use --split all")
        return data, None, "all examples (not the data the run was trained on)"
    train, val = data.split(cfg["val_fraction"], seed=cfg["seed"])
    return val, train, f"the run's validation split ({len(val)} of {len(data)} examples)"


@click.command("eval")
@click.argument("run_dir")
@data_option
@label_column_option
@click.option("--metrics", "metric_spec", default="all", show_default=True,
              help="all, or a comma list of: nll, elbo, recon, fid, pr, is, collapse, probe, "
                   "disentanglement, rd.")
@click.option("--split", type=click.Choice(["auto", "val", "all"]), default="auto",
              show_default=True,
              help="auto: the run's validation split when --data is its training data.")
@click.option("--k", "k", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Importance samples per example for the IWAE NLL.")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--inception-weights", type=click.Path(dir_okay=False), default=None,
              help="pytorch-fid's pt_inception-2015-12-05-6726825d.pth: report the standard "
                   "FID instead of FID-<data>.")
@click.option("--n-samples", type=click.IntRange(min=10), default=None,
              help="Generated samples for fid/pr/is [default: as many as evaluation examples].")
@click.option("--rd-betas", default="0.1,0.3,1,3,10", show_default=True,
              help="KL weights of the rate-distortion sweep (rd).")
@click.option("--rd-epochs", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--n-examples", type=click.IntRange(min=100), default=5000, show_default=True,
              help="Examples generated when --data is dsprites.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--no-report", is_flag=True, help="Write metrics.json only.")
@click.option("--out", "out", default=None, metavar="DIR",
              help="Evaluation folder: metrics.json, report.html, plots/ "
                   "[default: RUN_DIR-eval beside the run].")
@force_option
def command(run_dir, data_source, label_column, metric_spec, split, k, batch_size,
            inception_weights, n_samples, rd_betas, rd_epochs, n_examples, seed, device,
            no_report, out, force) -> None:
    """Evaluate the model in RUN_DIR on --data; write metrics.json, plots and a report
    (the run's report with an Evaluation part) to --out. RUN_DIR is only read.

    \b
    Examples:
      aekit eval runs/quickstart --data digits          # writes runs/quickstart-eval/
      aekit eval runs/vae --data digits --metrics nll,collapse --k 5000 --out runs/vae-nll
      aekit eval runs/bvae --data digits --metrics rd --rd-betas 0.5,1,4 --rd-epochs 30
      aekit eval runs/dsprites --data dsprites:32 --metrics disentanglement,collapse
    """
    import aekit
    from aekit.apps.evaluate import (
        EVAL_FILES,
        default_eval_dir,
        evaluate,
        parse_metrics,
        write_evaluation,
    )

    folder = existing_run(run_dir)
    groups = parse_metrics(metric_spec)
    betas = parse_betas(rd_betas)
    out_dir = writable(default_eval_dir(folder) if out is None else out, folder,
                       data_source, *([inception_weights] if inception_weights else []),
                       folder=True, owned=EVAL_FILES, force=force)
    model = aekit.load(folder, device=device)
    ground_truth = None
    if data_source.strip().lower().split(":")[0] == "dsprites":
        from aekit.data.dsprites import dsprites_from_source

        ground_truth, data = dsprites_from_source(data_source, n=n_examples, seed=seed)
        eval_data, train_data, where = data, None, f"{n_examples} generated examples"
    else:
        data = load_source(data_source, label_column)
        eval_data, train_data, where = evaluation_split(folder, data, split)
    if eval_data.sample_shape != tuple(model.config.input_shape):
        raise ConfigError(f"{model.name} in {folder} expects examples of shape "
                          f"{tuple(model.config.input_shape)}, but {data.name} has "
                          f"{eval_data.sample_shape}")
    extractor = None
    if inception_weights is not None:
        from aekit.metrics.inception import inception_v3_features

        extractor = inception_v3_features(inception_weights, device=device)
    click.echo(f"evaluating {model.name} from {folder} on {where} of {data.name}")
    result = evaluate(model, eval_data, metrics=groups, train_data=train_data, k=k,
                      batch_size=batch_size, extractor=extractor, n_fake=n_samples,
                      ground_truth=ground_truth, rd_betas=betas, rd_epochs=rd_epochs,
                      seed=seed, plot_dir=None if no_report else out_dir / "plots",
                      progress=lambda msg: click.echo(f"  {msg}"))
    path = write_evaluation(out_dir, result, report=not no_report, run_dir=folder)
    click.echo("")
    for name, value in result.metrics.items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        click.echo(f"  {name:<28}{shown:>14}")
    for name, reason in result.skipped.items():
        click.echo(f"  skipped {name}: {reason}")
    click.echo(f"\nwrote {path}" + ("" if no_report else f" and {out_dir / 'report.html'}"))
