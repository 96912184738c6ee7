"""``aekit denoise``: train a denoiser on clean data and show what it does; apply one."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click
import numpy as np

from aekit.cli._common import data_option, force_option, load_source, writable
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
      aekit denoise fit --data sensors.csv --series --window 64 --level 0.5 --out runs/sig
      aekit denoise apply runs/sig --data noisy_sensors.csv --out restored.csv
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
@click.option("--series", is_flag=True,
              help="--data is one series CSV (timestamp, channel...): a SignalDenoiser; "
                   "--level is then in units of each channel's std; the last "
                   "--test-fraction of the steps is held out.")
@click.option("--window", type=click.IntRange(min=2), default=None,
              help="Window length (with --series) [default: 64].")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@force_option
def fit_command(data_source, out, noise, level, test_fraction, epochs, device, seed, series,
                window, quiet, force) -> None:
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

    writable(out, data_source, folder=True, force=force)
    if series:
        _fit_series(data_source, out, noise, level, test_fraction, epochs, device, seed,
                    window or 64, quiet)
        return
    if window is not None:
        raise ConfigError("--window applies to series (with --series)")
    data = load_source(data_source)
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


def _fit_series(source: str, out: str, noise: str, level: float, test_fraction: float,
                epochs: int | None, device: str, seed: int, window: int, quiet: bool) -> None:
    """``fit --series``: a SignalDenoiser on the first part of the series, measured on the
    rest: MSE, and SNR per channel (the clean channel's variance over the error's mean
    square, so an offset in the data does not inflate it), noisy vs denoised. A label
    column (``is_anomaly``) and a ``timestamp`` column are not channels."""
    from aekit.apps.denoise import SignalDenoiser
    from aekit.data.series import Series, read_series_csv
    from aekit.report import plots

    s = read_series_csv(source)
    n_test = max(1, int(round(test_fraction * len(s))))
    if len(s) - n_test < window:
        raise ConfigError(f"{source}: {len(s)} steps leave {len(s) - n_test} for training, "
                          f"fewer than one window of {window}; lower --window or "
                          "--test-fraction")
    train, clean = s.values[:-n_test], s.values[-n_test:]
    den = SignalDenoiser(window=window, noise=noise, noise_level=level, epochs=epochs,
                         device=device, random_state=seed, verbose=not quiet).fit(
        Series(train, s.channel_names, name=source))
    noisy = den.corrupt(clean, seed=seed + 1)
    restored = den.transform(noisy)
    scores = {"noise": noise, "level": level, "window": window, "train_steps": len(train),
              "test_steps": n_test, "channels": s.channel_names}
    variance = clean.astype(np.float64).var(0)
    for name, values in (("noisy", noisy), ("denoised", restored)):
        err = ((values.astype(np.float64) - clean) ** 2).mean(0)
        snr = 10 * np.log10(np.maximum(variance, 1e-300) / np.maximum(err, 1e-300))
        scores[f"mse_{name}"] = float(err.mean())
        scores[f"snr_db_{name}"] = float(snr.mean())
        scores[f"snr_db_per_channel_{name}"] = [round(float(v), 3) for v in snr]
    out_dir = den.save(out)
    (out_dir / "metrics.json").write_text(json.dumps(scores, indent=2))
    shown = slice(0, min(n_test, 8 * window))
    with tempfile.TemporaryDirectory() as tmp:
        picture = plots.line_plot(np.arange(shown.stop), {
            "noisy": noisy[shown, 0], "clean": clean[shown, 0],
            "denoised": restored[shown, 0]}, Path(tmp) / "series.png", xlabel="held-out step",
            ylabel=s.channel_names[0], title=f"{s.channel_names[0]}: clean, noisy, denoised")
        report = _write(out_dir, scores, picture, source)
    click.echo(f"SNR on {n_test} held-out steps (mean over channels): noisy "
               f"{scores['snr_db_noisy']:.2f} dB -> denoised {scores['snr_db_denoised']:.2f} dB")
    click.echo(f"wrote {out_dir} (denoiser, metrics.json) and {report}")


def _write(out: Path, scores: dict, picture: Path, source: str) -> Path:
    from aekit.report.html import Section, write_report

    table = [{"measure": k, "value": v} for k, v in scores.items()]
    return write_report(out / "report.html", title=f"Denoising {source}", sections=[
        Section("Held-out data", table=table),
        Section("Examples", text="Held-out data with the training noise added, and what the "
                                 "denoiser made of it.", images=[picture]),
    ])


def _report(out: Path, clean: np.ndarray, noisy: np.ndarray, restored: np.ndarray,
            scores: dict, images: bool, source: str) -> Path:
    from aekit.report import plots

    with tempfile.TemporaryDirectory() as tmp:
        if images:
            picture = plots.image_grid(np.concatenate([clean, noisy, restored]),
                                       Path(tmp) / "examples.png", nrow=len(clean),
                                       title="clean (top), noisy (middle), denoised (bottom)")
        else:
            picture = plots.reconstruction_pairs(clean, restored, Path(tmp) / "examples.png",
                                                 n=len(clean))
        return _write(out, scores, picture, source)


@command.command("apply")
@click.argument("denoiser", type=click.Path(file_okay=False))
@data_option
@click.option("--out", required=True,
              help="Where to write the denoised data: .npy, or .csv for a series CSV.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, auto, ...")
@force_option
def apply_command(denoiser, data_source, out, device, force) -> None:
    """Denoise --data with a denoiser written by `aekit denoise fit`.

    Examples (images or vectors) are written as .npy; a series denoiser reads a series
    CSV and writes one with the same timestamps and channel names.

    \b
    Examples:
      aekit denoise apply runs/denoise --data noisy.npy --out restored.npy
      aekit denoise apply runs/sig --data noisy_sensors.csv --out restored.csv
    """
    from aekit.apps.denoise import SignalDenoiser, load_denoiser

    writable(out, data_source, denoiser, suffixes=(".npy", ".csv"), force=force)
    den = load_denoiser(denoiser, device=device)
    if isinstance(den, SignalDenoiser):
        from aekit.data.series import Series, read_series_csv, write_series_csv

        if not out.endswith(".csv"):
            raise ConfigError(f"--out {out}: a series denoiser writes a .csv file")
        s = read_series_csv(data_source, channels=den.channel_names_)
        restored = den.transform(s.values)
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        write_series_csv(out, Series(restored, s.channel_names, s.timestamps, s.labels,
                                     name=out))
        click.echo(f"wrote {out}: {len(restored)} denoised steps of "
                   f"{len(s.channel_names)} channel(s)")
        return
    if not out.endswith(".npy"):
        raise ConfigError(f"--out {out}: the denoised data is written as a .npy file")
    restored = den.transform(load_source(data_source).x)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    np.save(out, restored)
    click.echo(f"wrote {out}: {len(restored)} denoised examples of shape "
               f"{restored.shape[1:]}")
