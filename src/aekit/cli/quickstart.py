"""``aekit quickstart``: a VAE on the built-in digits, with a report, in about a minute."""

from __future__ import annotations

import time

import click

from aekit.cli._common import force_option
from aekit.train import TrainConfig

QUICKSTART_MODEL = {"latent_dim": 8, "arch": "mlp", "hidden_dims": (256, 128)}


@click.command("quickstart")
@click.option("--out", default="runs/quickstart", show_default=True, help="Run folder.")
@click.option("--epochs", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@force_option
def command(out: str, epochs: int, quiet: bool, force: bool) -> None:
    """Train a VAE on scikit-learn's 8x8 digits and write a report.

    \b
    Example:
      aekit quickstart            # then open runs/quickstart/report.html
    """
    from aekit.cli.train import print_summary
    from aekit.data import load_data
    from aekit.runs import train_run

    start = time.perf_counter()
    data = load_data("digits")
    click.echo(f"training a VAE on {len(data)} digits (8x8, Bernoulli likelihood) ...")
    run = train_run("vae", data, out, model_settings=dict(QUICKSTART_MODEL),
                    train_config=TrainConfig(epochs=epochs, batch_size=64, lr=2e-3,
                                             progress=not quiet), overwrite=force)
    print_summary(run)
    click.echo(f"\ndone in {time.perf_counter() - start:.0f} s; open {run.folder / 'report.html'}")
