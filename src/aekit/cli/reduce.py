"""``aekit reduce``: a 2-D or 3-D map of any data, beside PCA's, plus the codes as CSV."""

from __future__ import annotations

from pathlib import Path

import click

from aekit.cli._common import (
    data_option,
    force_option,
    label_column_option,
    load_source,
    writable,
)
from aekit.errors import ConfigError


@click.command("reduce")
@data_option
@label_column_option
@click.option("--model", default="ae", show_default=True, help="Any aekit model name.")
@click.option("--dim", type=click.IntRange(1, 3), default=2, show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--out", default="map.png", show_default=True,
              help="PNG of the map; the codes go to the same name with .csv.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--transform", "transform_source", default=None, metavar="FILE",
              help="Also encode FILE (CSV/TSV, Parquet or .npy of any size, the columns of "
                   "--data) chunk by chunk into --transform-out.")
@click.option("--transform-out", default=None, metavar="OUT",
              help="Codes of --transform (.csv or .parquet), written chunk by chunk.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@force_option
def command(data_source, label_column, model, dim, epochs, out, seed, transform_source,
            transform_out, quiet, force) -> None:
    """Embed --data in DIM dimensions with an autoencoder and draw it beside PCA.

    \b
    Examples:
      aekit reduce --data digits --dim 2 --out digits_map.png
      aekit reduce --data table.csv --label-column class --model vae --dim 3
      aekit reduce --data sample.csv --transform big.csv --transform-out codes.csv
    """
    import numpy as np
    from sklearn.decomposition import PCA

    from aekit.apps.reduce import AutoencoderReducer
    from aekit.report.plots import latent_map

    out = writable(out, data_source, suffixes=(".png",), force=force)
    pca_path = out.with_name(out.stem + "_pca" + out.suffix)
    csv_path = out.with_suffix(".csv")
    writable(pca_path, data_source, force=force)
    writable(csv_path, data_source, force=force)
    if (transform_source is None) != (transform_out is None):
        raise ConfigError("--transform and --transform-out go together")
    if transform_out is not None:
        transform_out = writable(transform_out, data_source, transform_source,
                                 option="--transform-out", suffixes=(".csv", ".parquet"),
                                 force=force)
    data = load_source(data_source, label_column)
    X = data.x.flatten(1).numpy().astype(np.float64)
    reducer = AutoencoderReducer(n_components=dim, model=model, epochs=epochs,
                                 random_state=seed, verbose=not quiet)
    codes = reducer.fit_transform(X)
    labels = None if data.y is None else data.y.numpy()
    latent_map(codes, out, labels=labels, class_names=data.class_names,
               title=f"{model} ({dim}-D) on {Path(data.name).name}")
    latent_map(PCA(dim).fit_transform((X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1)),
               pca_path, labels=labels, class_names=data.class_names,
               title=f"PCA ({dim}-D) on {Path(data.name).name}")
    header = ",".join([f"ae{i}" for i in range(dim)] + (["label"] if labels is not None else []))
    table = codes if labels is None else np.column_stack([codes, labels])
    np.savetxt(csv_path, table, delimiter=",", header=header, comments="", fmt="%.6g")
    click.echo(f"wrote {out} (autoencoder), {pca_path} (PCA) and {csv_path} (codes)")
    if transform_source is not None:
        from aekit.apps.streaming import write_chunks

        names = [f"ae{i}" for i in range(dim)]
        n = write_chunks(transform_source, transform_out,
                         lambda c: dict(zip(names, reducer.transform(c.x.reshape(
                             len(c.x), -1)).T)), names, progress=not quiet)
        click.echo(f"wrote {transform_out} (codes of {n} rows of {transform_source})")
