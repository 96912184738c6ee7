"""Per-step cost of training the digits VAE at batch 64 on a GPU: eager vs CUDA graphs.

At batch 64 the MLP VAE's step is bound by the host (launching ~80 kernels through
PyTorch's dispatcher), not by the GPU. This measures the steady-state cost of one step
as the marginal cost between a short and a long ``Trainer.fit`` (so compiling and graph
recording, paid once per fit, drop out), for ``compile=False`` and ``compile=True``
(on CUDA: ``mode="reduce-overhead"``, CUDA graphs), and the fixed cost of a fit.

    python benchmarks/bench_gpu_steps.py [--short 20] [--long 120] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import time

import torch
from results_file import RESULTS, write_result

import aekit
from aekit.data import load_data


def fit_seconds(train, epochs: int, compile_: bool, batch: int) -> float:
    torch.manual_seed(0)
    model = aekit.create("vae", data=train, latent_dim=8, hidden_dims=(256, 128), arch="mlp",
                         likelihood="bernoulli")
    cfg = aekit.TrainConfig(epochs=epochs, batch_size=batch, val_fraction=0.0, progress=False,
                            checkpoint_every=0, device="cuda", compile=compile_)
    torch.cuda.synchronize()
    t = time.perf_counter()
    aekit.Trainer(cfg).fit(model, train)
    torch.cuda.synchronize()
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=int, default=20)
    parser.add_argument("--long", type=int, default=120)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--out", default=str(RESULTS / "gpu_steps.md"))
    args = parser.parse_args()
    train, _ = load_data("digits_flat").split(0.2, seed=0)
    steps_per_epoch = -(-len(train) // args.batch)
    rows = []
    for compile_ in (False, True):
        fit_seconds(train, 2, compile_, args.batch)  # warm-up: CUDA context, compile caches
        short = fit_seconds(train, args.short, compile_, args.batch)
        long = fit_seconds(train, args.long, compile_, args.batch)
        per_step = (long - short) / ((args.long - args.short) * steps_per_epoch)
        fixed = short - per_step * args.short * steps_per_epoch
        rows.append(f"| {'compile=True (CUDA graphs)' if compile_ else 'eager'} | "
                    f"{short:.2f} | {long:.2f} | {per_step * 1e3:.3f} | "
                    f"{args.batch / per_step:,.0f} | {fixed:.2f} |")
        print(rows[-1], flush=True)
    lines = [
        f"### Steady-state training step on the GPU, batch {args.batch}", "",
        f"Command: `python benchmarks/bench_gpu_steps.py --short {args.short} --long "
        f"{args.long}`", "",
        f"Device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}. The digits VAE "
        f"({len(train)} training digits, {steps_per_epoch} steps per epoch); the step cost is "
        f"(fit of {args.long} epochs - fit of {args.short}) / steps between, the fixed cost "
        "what remains of the short fit (setup, compiling, graph recording).", "",
        "| mode | fit s, short | fit s, long | ms per step | examples/s (steady) | "
        "fixed s per fit |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
    write_result(args.out, lines)


if __name__ == "__main__":
    main()
