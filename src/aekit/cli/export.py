"""``aekit export``: a trained model as an ONNX file, checked with onnxruntime."""

from __future__ import annotations

from pathlib import Path

import click

from aekit.cli._common import existing_run
from aekit.errors import ConfigError


@click.command("export")
@click.argument("run_dir")
@click.option("--onnx", "onnx_path", required=True, metavar="FILE",
              help="ONNX file to write.")
@click.option("--part", type=click.Choice(["model", "encoder", "decoder"]), default="model",
              show_default=True,
              help="model: x -> reconstruction; encoder: x -> code; decoder: code -> x.")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
def command(run_dir: str, onnx_path: str, part: str, force: bool) -> None:
    """Export the model in RUN_DIR to ONNX (dynamic batch), and check the file against
    PyTorch with onnxruntime on random inputs.

    \b
    Examples:
      aekit export runs/vae --onnx vae.onnx
      aekit export runs/vae --onnx encoder.onnx --part encoder
    """
    import aekit
    from aekit.apps.export import export_onnx, onnx_max_error

    folder = existing_run(run_dir)
    out = Path(onnx_path)
    if out.exists() and not force:
        raise ConfigError(f"{out} exists; pass --force to overwrite it")
    if out.resolve().parent == folder.resolve() and out.name in ("config.json",
                                                                 "model.safetensors"):
        raise ConfigError(f"--onnx {out} is a file of the model folder it reads")
    model = aekit.load(folder, device="cpu")
    export_onnx(model, out, part)
    error = onnx_max_error(model, out, part)
    click.echo(f"wrote {out} ({part}); onnxruntime vs PyTorch on 5 random inputs: "
               f"max |difference| = {error:.2e}")
