"""Train the MLP VAE on digits and record throughput, test -ELBO and test MSE.

Fixed split (scikit-learn digits, 80 % train / 20 % test with seed 0), batch 64 and
batch 1024, 50 epochs, the same 64-256-128-(2x8) / 8-128-256-64 MLP with a Bernoulli
likelihood. With pythae installed (the `bench` extra) its VAE is trained in the same
process with the same architecture, data, epochs, batch size and learning rate.

Also measures the machine's fp32 matmul rate (a 2048^3 product through torch.mm and
through oneDNN, the faster counting; before and after the runs) and reports the
fraction of it reached by training, counted in model FLOPs (2 per multiply-add, 3x the
forward pass for forward + backward).

    python benchmarks/bench_vae_digits.py [--epochs 50] [--repeats 3] [--threads N] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch
from machine import describe, describe_rates, matmul_rates
from results_file import RESULTS, write_result
from torch import nn

import aekit
from aekit.data import load_data

LATENT, HIDDEN = 8, (256, 128)


def model_flops_per_example(d: int = 64) -> float:
    dims_enc = [d, *HIDDEN, 2 * LATENT]
    dims_dec = [LATENT, *reversed(HIDDEN), d]
    macs = sum(a * b for a, b in zip(dims_enc[:-1], dims_enc[1:]))
    macs += sum(a * b for a, b in zip(dims_dec[:-1], dims_dec[1:]))
    return 3 * 2 * macs


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def split_digits():
    data = load_data("digits_flat")
    train, test = data.split(0.2, seed=0)
    return train, test


def run_aekit(train, test, epochs: int, batch: int, lr: float, compile_: bool,
              device: str = "cpu") -> dict:
    torch.manual_seed(0)
    model = aekit.create("vae", data=train, latent_dim=LATENT, hidden_dims=HIDDEN, arch="mlp",
                         likelihood="bernoulli")
    cfg = aekit.TrainConfig(epochs=epochs, batch_size=batch, lr=lr, val_fraction=0.0,
                            progress=False, checkpoint_every=0, compile=compile_, device=device)
    t = time.perf_counter()
    aekit.Trainer(cfg).fit(model, train)
    _sync(device)
    seconds = time.perf_counter() - t
    model.eval()
    torch.manual_seed(1)
    x = test.x.to(device)
    with torch.inference_mode():
        nelbo = np.mean([model.loss(x).total.item() for _ in range(10)])
        mse = torch.mean((model.reconstruct(x) - x) ** 2).item()
    return {"seconds": seconds, "ex_per_s": len(train) * epochs / seconds, "nelbo": nelbo,
            "mse": mse}


def pythae_vae(encoder: nn.Module, decoder: nn.Module):
    """pythae's Bernoulli VAE around an encoder net (x -> [mu, log var]) and a decoder net
    (z -> logits); None without pythae installed."""
    try:
        from pythae.models import VAE, VAEConfig
        from pythae.models.base.base_utils import ModelOutput
        from pythae.models.nn import BaseDecoder, BaseEncoder
    except ImportError:
        return None

    class Enc(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.net = encoder

        def forward(self, x):
            mu, logvar = self.net(x.reshape(len(x), -1)).chunk(2, -1)
            return ModelOutput(embedding=mu, log_covariance=logvar)

    class Dec(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.net = decoder

        def forward(self, z):
            return ModelOutput(reconstruction=torch.sigmoid(self.net(z)))

    config = VAEConfig(input_dim=(64,), latent_dim=LATENT, reconstruction_loss="bce")
    return VAE(config, encoder=Enc(), decoder=Dec())


def run_pythae(train, test, epochs: int, batch: int, lr: float,
               device: str = "cpu") -> dict | None:
    try:
        from pythae.pipelines import TrainingPipeline
        from pythae.trainers import BaseTrainerConfig
    except ImportError:
        return None
    torch.manual_seed(0)
    model = pythae_vae(
        nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                      nn.Linear(128, 2 * LATENT)),
        nn.Sequential(nn.Linear(LATENT, 128), nn.ReLU(), nn.Linear(128, 256), nn.ReLU(),
                      nn.Linear(256, 64)))
    with tempfile.TemporaryDirectory() as out:
        tcfg = BaseTrainerConfig(output_dir=out, num_epochs=epochs, learning_rate=lr,
                                 per_device_train_batch_size=batch,
                                 per_device_eval_batch_size=batch, no_cuda=device == "cpu",
                                 steps_saving=None)
        pipe = TrainingPipeline(model=model, training_config=tcfg)
        t = time.perf_counter()
        pipe(train_data=train.x.numpy(), eval_data=None)
        _sync(device)
        seconds = time.perf_counter() - t
    model.eval()
    torch.manual_seed(1)
    with torch.inference_mode():
        x = test.x.to(device)
        nelbo = np.mean([model({"data": x}).loss.item() for _ in range(10)])
        q = model.encoder(x)
        mse = torch.mean((model.decoder(q.embedding).reconstruction - x) ** 2).item()
    return {"seconds": seconds, "ex_per_s": len(train) * epochs / seconds, "nelbo": nelbo,
            "mse": mse}


def compare(train, test, epochs: int, repeats: int, lr: float, device: str = "cpu",
            batches: tuple[int, ...] = (64, 1024)) -> list[tuple[str, int, dict, str]]:
    """Train aekit (eager and compiled) and pythae, ``repeats`` interleaved runs each per
    batch size after an untimed 2-epoch warm-up; (name, batch, median run, median of the
    per-round ratios to pythae) per library and batch size."""
    runners = {
        "aekit": lambda e, b: run_aekit(train, test, e, b, lr, False, device),
        "aekit, compile=True": lambda e, b: run_aekit(train, test, e, b, lr, True, device),
        "pythae": lambda e, b: run_pythae(train, test, e, b, lr, device),
    }
    measured = []
    for batch in batches:
        for run in runners.values():  # untimed warm-up (allocator, BLAS, compile caches)
            run(2, batch)
        results: dict[str, list[dict]] = {name: [] for name in runners}
        for _ in range(repeats):  # interleaved, so drift in machine speed hits all
            for name, run in runners.items():
                r = run(epochs, batch)
                if r is not None:
                    results[name].append(r)
        pythae = results["pythae"]
        for name, runs in results.items():
            if not runs:
                continue
            r = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
            ratio = ""
            if pythae and name != "pythae":
                ratios = sorted(a["ex_per_s"] / b["ex_per_s"] for a, b in zip(runs, pythae))
                ratio = f"{ratios[len(ratios) // 2]:.2f}x"
            measured.append((name, batch, r, ratio))
            print(name, batch, r, ratio, flush=True)
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs per library, interleaved; the median is reported")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--out", default=str(RESULTS / "vae_digits.md"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    train, test = split_digits()
    rates = matmul_rates()
    flops = model_flops_per_example()
    machine = describe()
    measured = compare(train, test, args.epochs, args.repeats, args.lr)
    rates = {k: max(v, rates[k]) for k, v in matmul_rates().items()}  # before and after
    peak = max(rates.values())
    rows = [f"| {name} | {batch} | {r['seconds']:.2f} | {r['ex_per_s']:.0f} | {ratio} | "
            f"{r['nelbo']:.2f} | {r['mse']:.4f} | {100 * r['ex_per_s'] * flops / peak / 1e9:.1f} |"
            for name, batch, r, ratio in measured]
    lines = [
        "## MLP VAE on digits (issue 2 benchmark)", "",
        f"Command: `python benchmarks/bench_vae_digits.py --epochs {args.epochs} "
        f"--repeats {args.repeats}" + (f" --threads {args.threads}" if args.threads else "")
        + "`", "",
        f"Machine: {machine}; fp32 2048^3 matmul rate {describe_rates(rates)} (best of "
        "5 timings before and after the runs; the % column counts against the faster).",
        f"Data: digits, {len(train)} train / {len(test)} test (seed 0); {args.epochs} epochs; "
        f"lr {args.lr}; model FLOPs per example per step {flops / 1e3:.1f} k. Each library "
        f"first runs an untimed 2-epoch warm-up; then {args.repeats} timed runs of each, "
        "interleaved; the table shows the median run, and the ratio is the median of the "
        "per-round ratios to pythae. Times include everything `fit` does (compiling too).", "",
        "| library | batch | train s | examples/s | vs pythae | test -ELBO (nats) | test MSE "
        "| % of matmul peak |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
    ]
    write_result(args.out, lines)


if __name__ == "__main__":
    main()
