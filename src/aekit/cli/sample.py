"""``aekit sample``: a PNG grid of new examples from a generative model."""

from __future__ import annotations

import click
import torch

from aekit.cli._common import existing_run, force_option, writable
from aekit.errors import ConfigError


@click.command("sample")
@click.argument("run_dir")
@click.option("-n", "n", type=click.IntRange(min=1, max=10_000), default=64, show_default=True)
@click.option("--out", default="samples.png", show_default=True, help="PNG file to write.")
@click.option("--label", type=int, default=None, help="Class to generate (conditional models).")
@click.option("--seed", type=int, default=0, show_default=True)
@force_option
def command(run_dir: str, n: int, out: str, label: int | None, seed: int,
            force: bool) -> None:
    """Draw N samples from the model in RUN_DIR and save them as a grid.

    \b
    Examples:
      aekit sample runs/quickstart -n 64 --out grid.png
      aekit sample runs/cvae -n 16 --label 3 --out threes.png
    """
    import aekit
    from aekit.report.plots import image_grid

    writable(out, run_dir, suffixes=(".png",), force=force)
    model = aekit.load(existing_run(run_dir))
    if not model.generative:
        raise ConfigError(f"{run_dir}: model {model.name!r} is not generative (no prior to "
                          "sample from); try vae, beta_vae or another generative model")
    if label is not None and not model.conditional:
        raise ConfigError(f"--label needs a conditional model; {model.name!r} is not")
    if model.conditional and label is None:
        raise ConfigError(f"{model.name!r} is conditional: pass --label")
    torch.manual_seed(seed)
    with torch.inference_mode():
        y = None if label is None else torch.full((n,), label, dtype=torch.long)
        samples = model.sample(n, y)
    if samples.ndim == 2:
        side = int(samples.shape[1] ** 0.5)
        if side * side != samples.shape[1]:
            raise ConfigError(f"samples are {samples.shape[1]}-vectors, not images; "
                              "use the Python API (model.sample) for non-image data")
        samples = samples.reshape(n, 1, side, side)
    path = image_grid(samples, out)
    click.echo(f"wrote {n} samples to {path}")
