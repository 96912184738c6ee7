"""bf16 (and fp16) autocast against fp32: training speed on one GPU, same model and data.

Trains the same models on the same synthetic data with ``TrainConfig(precision=...)``
for a few epochs each and reports the steady-state examples/s (the median of the epochs
after the first, which includes warm-up and cuDNN autotuning) and the final training
loss. Two models: a conv VAE on 3x64x64 images (convolutions) and a wide MLP VAE on
1024-vectors at a large batch (matrix products). Finishes in under 2 minutes on an H200.

    PYTHONPATH=src python3 benchmarks/gpu_precision.py --out /tmp/gpu_out/gpu_precision.md
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

import aekit

CASES = {
    "conv VAE, 3x64x64, batch 256": dict(
        shape=(3, 64, 64), n=16_384, batch=256,
        settings=dict(arch="conv", base_channels=64, latent_dim=64)),
    "MLP VAE 1024-2048-2048-64, batch 4096": dict(
        shape=(1024,), n=131_072, batch=4096,
        settings=dict(arch="mlp", hidden_dims=(2048, 2048), latent_dim=64)),
}


def run(case: dict, precision: str, epochs: int) -> dict:
    g = torch.Generator().manual_seed(0)
    x = torch.rand((case["n"], *case["shape"]), generator=g)
    torch.manual_seed(0)
    model = aekit.create("vae", input_shape=case["shape"], likelihood="bernoulli",
                         **case["settings"])
    cfg = aekit.TrainConfig(epochs=epochs, batch_size=case["batch"], val_fraction=0.0,
                            precision=precision, device="cuda", progress=False, seed=0)
    t = time.perf_counter()
    result = aekit.Trainer(cfg).fit(model, x)
    torch.cuda.synchronize()
    rates = [r["examples_per_s"] for r in result.history[1:]]
    return {"precision": precision, "examples_per_s": statistics.median(rates),
            "first_epoch_s": result.history[0]["time"], "loss": result.history[-1]["loss"],
            "seconds": time.perf_counter() - t}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True, help="markdown file to write (JSON beside it)")
    ap.add_argument("--epochs", type=int, default=4)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device")
    name = torch.cuda.get_device_name()
    precisions = ["fp32", "bf16", "fp16"]
    if not torch.cuda.is_bf16_supported():
        precisions.remove("bf16")
    rows = []
    for label, case in CASES.items():
        for p in precisions:
            r = run(case, p, args.epochs)
            r["case"] = label
            rows.append(r)
            print(json.dumps(r), flush=True)
    lines = ["## bf16 / fp16 against fp32 training on one GPU (issue 16)", "",
             f"Command: `PYTHONPATH=src python3 benchmarks/gpu_precision.py --out "
             f"{args.out}`", "",
             f"Device: {name}, torch {torch.__version__}; TF32 matmul "
             f"{'on' if torch.backends.cuda.matmul.allow_tf32 else 'off'} (torch's default), "
             f"cuDNN TF32 {'on' if torch.backends.cudnn.allow_tf32 else 'off'}. "
             f"{args.epochs} epochs each; examples/s is the median of epochs 2..{args.epochs} "
             "(data in GPU memory, synthetic uniform values).", "",
             "| model | precision | examples/s | vs fp32 | first epoch s | final loss |",
             "|---|---|---|---|---|---|"]
    for label in CASES:
        base = next(r for r in rows if r["case"] == label and r["precision"] == "fp32")
        for r in (r for r in rows if r["case"] == label):
            lines.append(f"| {label} | {r['precision']} | {r['examples_per_s']:,.0f} | "
                         f"{r['examples_per_s'] / base['examples_per_s']:.2f}x | "
                         f"{r['first_epoch_s']:.2f} | {r['loss']:.2f} |")
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    Path(args.out).with_suffix(".json").write_text(json.dumps(rows, indent=2))
    print(text)


if __name__ == "__main__":
    main()
