"""Denoising benchmark: aekit's Denoiser / SignalDenoiser against classical filters.

Images: scikit-learn's digits (80 % train / 20 % test, seed 0), corrupted on the test
side by the noise each model was trained for. Baselines: a 3x3 median filter and a
Gaussian blur whose width is chosen on the training images (the best of 0.4-1.5 px).
Reported: PSNR and SSIM against the clean test images.

Signals: two channels (a sum of two sines; a square wave), 20,000 steps, the first 15,000
for training; the last 5,000 get Gaussian noise of 0.5 x each channel's std. Baselines:
a centred moving average and a Savitzky-Golay filter, each with its window (and order)
chosen on the training part. Reported: MSE against the clean signal and the SNR in dB
(per channel, the clean channel's variance over the error's mean square; averaged).

    python benchmarks/bench_denoise.py [--out FILE.md]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from machine import describe
from results_file import RESULTS, write_result
from scipy import ndimage, signal

from aekit.apps.denoise import Denoiser, SignalDenoiser
from aekit.data import load_data
from aekit.metrics import psnr, ssim

IMAGE_NOISES = [("gaussian", 0.3), ("gaussian", 0.5), ("salt_pepper", 0.2), ("masking", 0.3)]
BLUR_SIGMAS = (0.4, 0.6, 0.8, 1.0, 1.5)


def _quality(clean: np.ndarray, out: np.ndarray) -> tuple[float, float]:
    a, b = torch.from_numpy(clean), torch.from_numpy(np.ascontiguousarray(out, np.float32))
    return psnr(a, b), ssim(a, b)


def images() -> list[str]:
    data = load_data("digits")
    train, test = data.split(0.2, seed=0)
    xtr, xte = train.x.numpy(), test.x.numpy()
    rows = []
    for noise, level in IMAGE_NOISES:
        t = time.perf_counter()
        den = Denoiser(noise, level).fit(xtr)
        seconds = time.perf_counter() - t
        noisy_tr, noisy_te = den.corrupt(xtr, seed=1), den.corrupt(xte, seed=2)
        sigma = max(BLUR_SIGMAS, key=lambda s: psnr(torch.from_numpy(xtr), torch.from_numpy(
            ndimage.gaussian_filter(noisy_tr, sigma=(0, 0, s, s)))))
        outs = {
            "noisy input": noisy_te,
            "median 3x3": ndimage.median_filter(noisy_te, size=(1, 1, 3, 3)),
            f"Gaussian blur (sigma {sigma})": ndimage.gaussian_filter(
                noisy_te, sigma=(0, 0, sigma, sigma)),
            f"aekit Denoiser (fit {seconds:.0f} s)": den.transform(noisy_te),
        }
        for name, out in outs.items():
            p, s = _quality(xte, out)
            rows.append(f"| {noise} {level} | {name} | {p:.2f} | {s:.3f} |")
            print(rows[-1], flush=True)
    return rows


def _signals(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(20000)
    clean = np.stack([np.sin(2 * np.pi * t / 50) + 0.5 * np.sin(2 * np.pi * t / 13),
                      np.sign(np.sin(2 * np.pi * t / 200))], 1).astype(np.float32)
    rng = np.random.default_rng(seed)
    noisy = clean + 0.5 * clean.std(0) * rng.standard_normal(clean.shape).astype(np.float32)
    return clean, noisy


def _moving_average(x: np.ndarray, w: int) -> np.ndarray:
    return ndimage.uniform_filter1d(x, size=w, axis=0, mode="nearest")


def signals() -> list[str]:
    clean, noisy = _signals()
    tr, te = slice(0, 15000), slice(15000, None)

    def mse(out: np.ndarray, part: slice) -> float:
        return float(np.mean((out - clean[part]) ** 2))

    w_ma = min(range(3, 40, 2), key=lambda w: mse(_moving_average(noisy[tr], w), tr))
    sg = min(((w, o) for w in range(5, 61, 4) for o in (2, 3, 4) if o < w),
             key=lambda p: mse(signal.savgol_filter(noisy[tr], p[0], p[1], axis=0), tr))
    t = time.perf_counter()
    den = SignalDenoiser(window=64, noise_level=0.5).fit(clean[tr])
    seconds = time.perf_counter() - t
    outs = {
        "noisy input": noisy[te],
        f"moving average (window {w_ma})": _moving_average(noisy[te], w_ma),
        f"Savitzky-Golay (window {sg[0]}, order {sg[1]})": signal.savgol_filter(
            noisy[te], sg[0], sg[1], axis=0),
        f"aekit SignalDenoiser (fit {seconds:.0f} s)": den.transform(noisy[te]),
    }
    variance = clean[te].astype(np.float64).var(0)  # per channel: offsets do not count
    rows = []
    for name, out in outs.items():
        per_channel = ((out - clean[te]) ** 2).mean(0)
        snr = float(np.mean(10 * np.log10(variance / per_channel)))
        rows.append(f"| {name} | {mse(out, te):.5f} | {snr:.2f} |")
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(RESULTS / "denoise.md"))
    args = parser.parse_args()
    machine = describe()
    image_rows, signal_rows = images(), signals()
    write_result(args.out, [
        "## Denoising (images and signals)", "",
        "Command: `python benchmarks/bench_denoise.py`", "",
        f"Machine: {machine}. Default settings of `aekit.Denoiser` / `aekit.SignalDenoiser` "
        "(about 3000 training steps); baselines tuned on the training data.", "",
        "### Digits (359 test images, 8x8)", "",
        "| noise | method | PSNR (dB) | SSIM |", "|---|---|---|---|", *image_rows, "",
        "### Two-channel signal (5,000 test steps, Gaussian noise 0.5 std)", "",
        "| method | MSE | SNR (dB, mean over channels) |", "|---|---|---|", *signal_rows,
    ])


if __name__ == "__main__":
    main()
