"""``aekit interpolate``: walk between the codes of two inputs (linear and spherical)."""

from __future__ import annotations

import click
import torch

from aekit.cli._common import (
    data_option,
    existing_run,
    force_option,
    label_column_option,
    load_source,
    writable,
)
from aekit.errors import ConfigError


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Straight line between codes ``a`` and ``b`` (``(K,)`` each) at fractions ``t``."""
    return a + t[:, None] * (b - a)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (White 2016): the great circle between ``a`` and ``b``.

    Falls back to :func:`lerp` when the codes are (anti)parallel.
    """
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if omega.abs() < 1e-6 or (torch.pi - omega).abs() < 1e-6:
        return lerp(a, b, t)
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega)[:, None] * a + torch.sin(t * omega)[:, None] * b) / so


@click.command("interpolate")
@click.argument("run_dir")
@data_option
@label_column_option
@click.option("--from", "i", type=click.IntRange(min=0), required=True, help="First example.")
@click.option("--to", "j", type=click.IntRange(min=0), required=True, help="Second example.")
@click.option("--steps", type=click.IntRange(min=2, max=64), default=10, show_default=True)
@click.option("--out", default="interpolation.png", show_default=True)
@force_option
def command(run_dir, data_source, label_column, i, j, steps, out, force) -> None:
    """Decode codes between examples I and J of --data (top row linear, bottom spherical).

    \b
    Example:
      aekit interpolate runs/quickstart --data digits --from 0 --to 7 --out walk.png
    """
    import aekit
    from aekit.report.plots import image_grid

    writable(out, run_dir, data_source, suffixes=(".png",), force=force)
    model = aekit.load(existing_run(run_dir))
    data = load_source(data_source, label_column)
    if data.sample_shape != tuple(model.config.input_shape):
        raise ConfigError(f"{model.name} in {run_dir} expects examples of shape "
                          f"{tuple(model.config.input_shape)}, but {data.name} has "
                          f"{data.sample_shape}")
    for idx, flag in ((i, "--from"), (j, "--to")):
        if idx >= len(data):
            raise ConfigError(f"{flag} {idx} is out of range: {data.name} has {len(data)} "
                              "examples")
    if model.conditional:
        raise ConfigError("interpolate works on unconditional models; "
                          f"{model.name!r} needs a label per code")
    with torch.inference_mode():
        codes = model.embed(data.x[[i, j]].to(model.device))
        if codes.ndim != 2:
            raise ConfigError(f"{model.name!r} codes have shape {tuple(codes.shape[1:])}; "
                              "interpolation needs vector codes")
        t = torch.linspace(0, 1, steps, device=codes.device)
        path = torch.cat([lerp(codes[0], codes[1], t), slerp(codes[0], codes[1], t)])
        frames = model.likelihood.mean(model.decode_logits(path)).cpu()
    if frames.ndim != 4:
        raise ConfigError("interpolate draws images; this model's data are not images")
    written = image_grid(frames, out, nrow=steps)
    click.echo(f"wrote {steps}-step linear (top) and spherical (bottom) interpolation "
               f"from example {i} to {j} to {written}")
