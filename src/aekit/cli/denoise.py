"""``aekit denoise``: train a denoiser on clean data and show what it does; apply one."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click
import numpy as np

from aekit.cli._common import data_option, load_source, refuse_overwrite
from aekit.data.corruptions import CORRUPTIONS
from aekit.errors import ConfigError

SHOWN = 12  # test examples drawn in the report


@click.group("denoise")
def command() -> None:
    """Denoising: train a denoising autoencoder for a noise model, apply it to data.

    \b
    Examples:
      aekit denoise fit --data digits --noise gaussian --level 0.3 --out runs/denoise
      aekit denoise apply runs/denoise --data noisy.npy --out restored.npy
    """


@command.command("fit")
@data_option
@click.option("--out", required=True, help="Folder for the denoiser, its report and metrics.")
@click.option("--noise", type=click.Choice(list(CORRUPTIONS)), default="gaussian",
              show_default=True, help="The noise to remove.")
@click.option("--level", type=float, default=0.2, show_default=True,
              help="Gaussian std (data units) or the fraction of values hit.")
@click.option("--test-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=0.2, show_default=True,
              help="Share of --data held out to measure the denoising.")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Training epochs [default: about 3000 steps].")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, auto, ...")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def fit_command(data_source, out, noise, level, test_fraction, epochs, device, seed,
                quiet) -> None:
    """Train on the clean --data (minus a held-out part) and report on the held-out part.

    Writes the denoiser (an aekit model folder plus denoiser.json), metrics.json (PSNR and
    SSIM of the noisy and the denoised held-out data) and report.html (examples: clean,
    noisy, denoised).

    \b
    Examples:
      aekit denoise fit --data digits --noise gaussian --level 0.3 --out runs/denoise
      aekit denoise fit --data images/ --noise masking --level 0.4 --out runs/masks
    """
    import torch

    from aekit.apps.denoise import Denoiser
    from aekit.metrics import psnr, ssim

    data = load_source(data_source)
    refuse_overwrite(data_source, Path(out))
    train, test = data.split(test_fraction, seed=seed)
    den = Denoiser(noise, level, epochs=epochs, device=device, random_state=seed,
                   verbose=not quiet).fit(train.x)
    clean = test.x.numpy()
    noisy = den.corrupt(clean, seed=seed + 1)
    restored = den.transform(noisy)
    images = clean.ndim == 4 or clean.ndim == 3
    scores = {"noise": noise, "level": level, "train_examples": len(train),
              "test_examples": len(test)}
    for name, values in (("noisy", noisy), ("denoised", restored)):
        scores[f"psnr_{name}"] = psnr(test.x, torch.from_numpy(values),
                                      data_range=den.data_range_)
        if images:
            scores[f"ssim_{name}"] = ssim(test.x, torch.from_numpy(values),
                                          data_range=den.data_range_)
    out_dir = den.save(out)
    (out_dir / "metrics.json").write_text(json.dumps(scores, indent=2))
    report = _report(out_dir, clean[:SHOWN], noisy[:SHOWN], restored[:SHOWN], scores,
                     images, data_source)
    click.echo(f"PSNR on {len(test)} held-out examples: noisy {scores['psnr_noisy']:.2f} dB "
               f"-> denoised {scores['psnr_denoised']:.2f} dB")
    click.echo(f"wrote {out_dir} (denoiser, metrics.json) and {report}")


def _report(out: Path, clean: np.ndarray, noisy: np.ndarray, restored: np.ndarray,
            scores: dict, images: bool, source: str) -> Path:
    from aekit.report import plots
    from aekit.report.html import Section, write_report

    with tempfile.TemporaryDirectory() as tmp:
        if images:
            picture = plots.image_grid(np.concatenate([clean, noisy, restored]),
                                       Path(tmp) / "examples.png", nrow=len(clean),
                                       title="clean (top), noisy (middle), denoised (bottom)")
        else:
            picture = plots.reconstruction_pairs(clean, restored, Path(tmp) / "examples.png",
                                                 n=len(clean))
        table = [{"measure": k, "value": v} for k, v in scores.items()]
        return write_report(out / "report.html", title=f"Denoising {source}", sections=[
            Section("Held-out data", table=table),
            Section("Examples", text="Held-out examples with the training noise added, and "
                                     "what the denoiser made of them.", images=[picture]),
        ])


@command.command("apply")
@click.argument("denoiser", type=click.Path(file_okay=False))
@data_option
@click.option("--out", required=True, help="Where to write the denoised data (.npy).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, auto, ...")
def apply_command(denoiser, data_source, out, device) -> None:
    """Denoise --data with a denoiser written by `aekit denoise fit`; write a .npy file.

    \b
    Examples:
      aekit denoise apply runs/denoise --data noisy.npy --out restored.npy
    """
    from aekit.apps.denoise import Denoiser

    if not out.endswith(".npy"):
        raise ConfigError(f"--out {out}: the denoised data is written as a .npy file")
    refuse_overwrite(data_source, Path(out))
    den = Denoiser.load(denoiser, device=device)
    restored = den.transform(load_source(data_source).x)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    np.save(out, restored)
    click.echo(f"wrote {out}: {len(restored)} denoised examples of shape "
               f"{restored.shape[1:]}")
