"""``aekit train``: train any registered model on any data source."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click

from aekit.cli._common import (
    data_option,
    force_option,
    label_column_option,
    load_source,
    parse_settings,
)
from aekit.train import TrainConfig

STREAM_BYTES = 256 << 20  # a .npy file larger than this is streamed, not loaded


def print_summary(run) -> None:
    """Where the report is, and a short table of the final metrics."""
    click.echo(f"\nrun folder: {run.folder}")
    click.echo(f"report:     {run.folder / 'report.html'}")
    rows = [(s, run.result.last(s)) for s in ("train", "val") if run.result.last(s)]
    keys = [k for k in rows[0][1] if k not in ("epoch", "step", "split", "lr", "time",
                                                 "examples_per_s")]
    widths = [max(14, len(k) + 2) for k in keys]
    click.echo("\n" + f"{'split':<7}" + "".join(f"{k:>{w}}" for k, w in zip(keys, widths)))
    for split, row in rows:  # a term may exist in training only (e.g. a GAN's)
        click.echo(f"{split:<7}" + "".join(f"{row[k]:>{w}.4f}" if k in row else f"{'-':>{w}}"
                                           for k, w in zip(keys, widths)))


@click.command("train")
@click.argument("model")
@data_option
@label_column_option
@click.option("--out", default=None, help="Run folder [default: runs/MODEL].")
@click.option("--latent-dim", type=click.IntRange(min=1), default=None, help="Size of z.")
@click.option("--epochs", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3,
              show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, mps.")
@click.option("--val-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.1,
              show_default=True)
@click.option("--patience", type=click.IntRange(min=1), default=None,
              help="Early-stopping patience in epochs (off by default).")
@click.option("--checkpoint-every", type=click.IntRange(min=0), default=1, show_default=True)
@click.option("--grad-clip", type=click.FloatRange(min=0, min_open=True), default=None)
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Any model setting, e.g. --set beta=4 --set 'hidden_dims=(512,256)'.")
@click.option("--pretrain-epochs", type=click.IntRange(min=0), default=0, show_default=True,
              help="Greedy layer-wise pretraining epochs per layer first (sdae).")
@click.option("--resume", is_flag=True,
              help="Continue the run in --out from its checkpoint, with its own model settings.")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default="fp32",
              show_default=True, help="Autocast precision (fp16 adds a gradient scaler).")
@click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True,
              help="Training processes on this machine (runs torchrun; --batch-size stays "
                   "the global batch, split between them).")
@click.option("--stream", is_flag=True,
              help="Read --data a batch at a time, never whole: a .npy file (memory-mapped), "
                   "a folder of .npy/.npz shards or a .parquet file [default: on for shard "
                   "folders, Parquet and .npy files over 256 MB].")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@force_option
def command(model, data_source, label_column, out, latent_dim, epochs, batch_size, lr, seed,
            device, val_fraction, patience, checkpoint_every, grad_clip, settings,
            pretrain_epochs, resume, precision, nproc, stream, quiet, force) -> None:
    """Train MODEL (see `aekit models`) on --data and write a run folder.

    \b
    Examples:
      aekit train vae --data digits --epochs 50 --latent-dim 8
      aekit train beta_vae --data images/ --set beta=4 --set 'hidden_dims=(512,256)'
      aekit train vae --data digits --out runs/vae --epochs 80 --resume
      aekit train sdae --data digits --pretrain-epochs 10 --epochs 20
      aekit train vae --data digits --nproc 2     (= torchrun --standalone
                                                    --nproc_per_node 2 -m aekit train ...)
      aekit train ae --data big.npy --batch-size 4096      (streamed: never loaded whole)
    """
    from aekit.models import get_class
    from aekit.runs import train_run
    from aekit.train.distributed import main_process

    get_class(model)  # unknown names fail before any data is read
    if nproc > 1:
        sys.exit(_torchrun(nproc, sys.argv))
    data = training_data(data_source, label_column, stream)
    model_settings = parse_settings(settings)
    if latent_dim is not None:
        model_settings["latent_dim"] = latent_dim
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=device,
                      val_fraction=val_fraction, early_stopping_patience=patience,
                      checkpoint_every=checkpoint_every, grad_clip=grad_clip,
                      progress=not quiet, precision=precision)
    run = train_run(model, data, out or f"runs/{model}", model_settings=model_settings,
                    train_config=cfg, resume=resume, pretrain_epochs=pretrain_epochs,
                    overwrite=force, inputs=(data_source,))
    if main_process():
        print_summary(run)


def training_data(source: str, label_column: str | None, stream: bool):
    """``--data`` loaded (a :class:`~aekit.data.Dataset`) or, when asked or when it is a
    folder of .npy/.npz shards, a Parquet file or a .npy file over ``STREAM_BYTES``, opened
    as a streamed source read a batch at a time (:func:`aekit.data.stream.open_stream`)."""
    from aekit.data.stream import open_stream

    path = Path(source)
    shards = path.is_dir() and any(p.suffix in (".npy", ".npz") for p in path.iterdir())
    large_npy = path.suffix == ".npy" and path.is_file() and \
        path.stat().st_size > STREAM_BYTES
    if stream or shards or path.suffix == ".parquet" or large_npy:
        return open_stream(path, label_column=label_column)
    return load_source(source, label_column)


def torchrun_command(nproc: int, argv: list[str]) -> list[str]:
    """The torchrun command line that runs ``aekit train`` (``argv`` as the user typed it,
    from ``train`` on, or with the program name first) in ``nproc`` processes."""
    args = argv[argv.index("train") + 1:]
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            kept.append(arg)
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={nproc}", "-m", "aekit", "train", *kept]


def _torchrun(nproc: int, argv: list[str]) -> int:
    from aekit.errors import ConfigError

    if "LOCAL_RANK" in os.environ:
        raise ConfigError("--nproc starts torchrun, but this already runs under torchrun: "
                          "drop --nproc")
    return subprocess.call(torchrun_command(nproc, argv))
