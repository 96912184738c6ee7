"""``aekit export``: a trained model as an ONNX file, checked with onnxruntime."""

from __future__ import annotations

import click

from aekit.cli._common import existing_run, force_option, writable


@click.command("export")
@click.argument("run_dir")
@click.option("--onnx", "onnx_path", required=True, metavar="FILE",
              help="ONNX file to write.")
@click.option("--part", type=click.Choice(["model", "encoder", "decoder"]), default="model",
              show_default=True,
              help="model: x -> reconstruction; encoder: x -> code; decoder: code -> x.")
@force_option
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
    out = writable(onnx_path, folder, option="--onnx", suffixes=(".onnx",), force=force)
    model = aekit.load(folder, device="cpu")
    export_onnx(model, out, part)
    error = onnx_max_error(model, out, part)
    click.echo(f"wrote {out} ({part}); onnxruntime vs PyTorch on 5 random inputs: "
               f"max |difference| = {error:.2e}")
