"""``aekit reduce``: a 2-D or 3-D map of any data beside PCA's, the codes as CSV and the
fitted reducer as a folder; ``aekit reduce apply`` maps new files with a saved reducer."""

from __future__ import annotations

from pathlib import Path

import click

from aekit.cli._common import (
    data_option,
    force_option,
    image_size_option,
    label_column_option,
    load_source,
    writable,
)
from aekit.errors import ConfigError


def _write_codes(path: Path, codes, labels) -> None:
    """The codes (and labels, when known) as CSV with a header ``ae0,ae1,...[,label]``."""
    import numpy as np

    from aekit.io import atomic_path

    header = ",".join([f"ae{i}" for i in range(codes.shape[1])]
                      + (["label"] if labels is not None else []))
    table = codes if labels is None else np.column_stack([codes, labels])
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        np.savetxt(f, table, delimiter=",", header=header, comments="", fmt="%.6g")


def _rows(data) -> tuple:
    """``(X as float64 rows, labels or None)`` of a loaded data set."""
    import numpy as np

    X = data.x.flatten(1).numpy().astype(np.float64)
    return X, None if data.y is None else data.y.numpy()


@click.group("reduce", invoke_without_command=True)
@click.option("--data", "data_source", default=None, metavar="SOURCE",
              help="Built-in name (digits), or a .npy/.npz/.csv/.mat/IDX file or image "
                   "folder (required unless a subcommand is given).")
@image_size_option
@label_column_option
@click.option("--model", default="ae", show_default=True, help="Any aekit model name.")
@click.option("--dim", type=click.IntRange(1, 3), default=2, show_default=True)
@click.option("--objective", type=click.Choice(["tsne", "umap", "reconstruction"]),
              default="tsne", show_default=True,
              help="Keep neighbourhoods (umap, or tsne: contrastive t-SNE) or only "
                   "reconstruct.")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Passes over the graph's edges (tsne, umap) or rows (reconstruction); "
                   "default: 75 passes capped at about 5000 steps (tsne, umap), 100 "
                   "passes (reconstruction).")
@click.option("--out", default="map.png", show_default=True,
              help="PNG of the map; the codes go to the same name with .csv.")
@click.option("--save", "save_dir", default=None, metavar="DIR",
              help="Folder for the fitted reducer (default: the --out name with _reducer).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--transform", "transform_source", default=None, metavar="FILE",
              help="Also encode FILE (CSV/TSV, Parquet or .npy of any size, the columns of "
                   "--data) chunk by chunk into --transform-out.")
@click.option("--transform-out", default=None, metavar="OUT",
              help="Codes of --transform (.csv or .parquet), written chunk by chunk.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@force_option
@click.pass_context
def command(ctx, data_source, label_column, model, dim, objective, epochs, out, save_dir,
            seed, transform_source, transform_out, quiet, force) -> None:
    """Embed --data in DIM dimensions with an autoencoder, draw it beside PCA, and save
    the fitted reducer so that `aekit reduce apply` can map new files.

    \b
    Examples:
      aekit reduce --data digits --dim 2 --out digits_map.png
      aekit reduce --data table.csv --label-column class --model vae --dim 3
      aekit reduce --data sample.csv --transform big.csv --transform-out codes.csv
      aekit reduce apply --reducer digits_map_reducer --data new.csv --out new_codes.csv
    """
    if ctx.invoked_subcommand is not None:
        return
    if data_source is None:
        raise click.UsageError("Missing option '--data' (or a subcommand: apply).")
    import numpy as np
    from sklearn.decomposition import PCA

    from aekit.apps.reduce import AutoencoderReducer
    from aekit.report.plots import latent_map

    out = writable(out, data_source, suffixes=(".png",), force=force)
    pca_path = writable(out.with_name(out.stem + "_pca" + out.suffix), data_source, force=force)
    csv_path = writable(out.with_suffix(".csv"), data_source, force=force)
    save_dir = writable(save_dir or out.with_name(out.stem + "_reducer"), data_source,
                        option="--save", folder=True, force=force)
    if (transform_source is None) != (transform_out is None):
        raise ConfigError("--transform and --transform-out go together")
    if transform_out is not None:
        transform_out = writable(transform_out, data_source, transform_source,
                                 option="--transform-out", suffixes=(".csv", ".parquet"),
                                 force=force)
    data = load_source(data_source, label_column)
    X, labels = _rows(data)
    reducer = AutoencoderReducer(n_components=dim, objective=objective, model=model,
                                 epochs=epochs, random_state=seed, verbose=not quiet)
    codes = reducer.fit_transform(X)
    name = Path(data.name).name
    latent_map(codes, out, labels=labels, class_names=data.class_names,
               title=f"{model} ({objective}, {dim}-D) on {name}")
    latent_map(PCA(dim).fit_transform((X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1)),
               pca_path, labels=labels, class_names=data.class_names,
               title=f"PCA ({dim}-D) on {name}")
    _write_codes(csv_path, codes, labels)
    reducer.save(save_dir)
    click.echo(f"wrote {out} (autoencoder), {pca_path} (PCA), {csv_path} (codes) and "
               f"{save_dir} (the fitted reducer)")

    if transform_source is not None:
        from aekit.apps.streaming import write_chunks

        names = [f"ae{i}" for i in range(dim)]
        n = write_chunks(transform_source, transform_out,
                         lambda c: dict(zip(names, reducer.transform(c.x.reshape(
                             len(c.x), -1)).T)), names, progress=not quiet)
        click.echo(f"wrote {transform_out} (codes of {n} rows of {transform_source})")

@command.command("apply")
@click.option("--reducer", "reducer_dir", required=True, metavar="DIR",
              help="A folder written by `aekit reduce` (or AutoencoderReducer.save).")
@data_option
@label_column_option
@click.option("--out", required=True, help="CSV of the codes (ae0, ae1, ...[, label]).")
@click.option("--plot", default=None, metavar="PNG",
              help="Also draw the new rows' map (coloured by --label-column, if any).")
@force_option
def apply(reducer_dir, data_source, label_column, out, plot, force) -> None:
    """Map the rows of --data with a saved reducer (its encoder; nothing is re-fitted).

    \b
    Example:
      aekit reduce apply --reducer digits_map_reducer --data new.csv --out new_codes.csv
    """
    from aekit.apps.reduce import AutoencoderReducer
    from aekit.errors import DataError
    from aekit.report.plots import latent_map

    out = writable(out, data_source, reducer_dir, suffixes=(".csv",), force=force)
    if plot:
        plot = writable(plot, data_source, reducer_dir, option="--plot", suffixes=(".png",),
                        force=force)
    reducer = AutoencoderReducer.load(reducer_dir)
    data = load_source(data_source, label_column)
    X, labels = _rows(data)
    if X.shape[1] != reducer.n_features_in_:
        raise DataError(f"{data_source}: rows have {X.shape[1]} values, but the reducer in "
                        f"{reducer_dir} was fitted on {reducer.n_features_in_}")
    codes = reducer.transform(X)
    _write_codes(out, codes, labels)
    if plot:
        latent_map(codes, plot, labels=labels, class_names=data.class_names,
                   title=f"{Path(data.name).name} through {Path(reducer_dir).name}")
    click.echo(f"wrote {out} ({len(codes)} rows x {codes.shape[1]} codes)"
               + (f" and {plot}" if plot else ""))
