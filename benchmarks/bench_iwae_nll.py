"""IWAE estimate of -log p(x) with K = 1000 on 1,000 digits: aekit vs pythae's ``get_nll``.

One VAE (MLP 64-256-128-(2x8) / 8-128-256-64, Bernoulli likelihood) is trained with aekit
on the 797 digits not evaluated; then the *same weights* are scored by both libraries on
the other 1,000 digits with K = 1000 importance samples per example:

* aekit: ``aekit.metrics.iwae_nll`` - batches of examples x chunks of samples, one
  tensor op per chunk;
* pythae: ``VAE.get_nll(data, n_samples=1000, batch_size=100)`` (its defaults for the
  batch), which loops over examples one at a time; pythae's VAE gets the aekit weights
  in plain torch layers, so both estimate the same quantity.

Each side runs ``--repeats`` times in the same process (interleaved); the table reports
the fastest run (the machine is shared) and the estimate of each run.

    python benchmarks/bench_iwae_nll.py [--epochs 50] [--k 1000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import re
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from bench_vae_digits import HIDDEN, LATENT, pythae_vae
from machine import describe, describe_rates, matmul_rates
from results_file import RESULTS
from torch import nn

import aekit
from aekit.data import load_data
from aekit.metrics import iwae_nll, negative_elbo

SECTION = "iwae"


def train_model(train, epochs: int):
    torch.manual_seed(0)
    model = aekit.create("vae", data=train, latent_dim=LATENT, hidden_dims=HIDDEN, arch="mlp",
                         likelihood="bernoulli")
    cfg = aekit.TrainConfig(epochs=epochs, batch_size=64, lr=1e-3, val_fraction=0.0,
                            progress=False, checkpoint_every=0)
    aekit.Trainer(cfg).fit(model, train)
    return model.eval()


def pythae_view(model):
    """pythae's VAE with the aekit model's weights in plain ``nn.Sequential`` networks
    (torch's own layer calls, as a pythae user would have; aekit's MLP would lend pythae
    its oneDNN inference path); None without pythae."""
    peer = pythae_vae(nn.Sequential(*model.encoder), nn.Sequential(*model.decoder))
    return None if peer is None else peer.eval()


def write_section(path: Path, text: str) -> None:
    """Replace this script's section of ``path`` (between markers), keeping the rest."""
    begin, end = f"<!-- {SECTION}:begin -->", f"<!-- {SECTION}:end -->"
    block = f"{begin}\n{text.strip()}\n{end}\n"
    old = path.read_text() if path.is_file() else ""
    if begin in old:
        new = re.sub(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", block, old,
                     flags=re.S)
    else:
        new = (old.rstrip() + "\n\n" if old.strip() else "") + block
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--n", type=int, default=1000, help="examples evaluated")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=100, help="aekit examples per pass")
    parser.add_argument("--out", default=str(RESULTS / "metrics.md"))
    args = parser.parse_args()

    machine, rates = describe(), matmul_rates()
    peak = max(rates.values())
    data = load_data("digits_flat")
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    test, train = data.subset(perm[:args.n]), data.subset(perm[args.n:])
    model = train_model(train, args.epochs)
    x = test.x
    with torch.inference_mode():
        nelbo = negative_elbo(model, x, n_samples=10)
    peer = pythae_view(model)

    ours, theirs = [], []
    for r in range(args.repeats):
        t = time.perf_counter()
        est = iwae_nll(model, x, k=args.k, batch_size=args.batch_size, seed=r)
        ours.append((time.perf_counter() - t, est))
        print(f"aekit run {r}: {ours[-1][0]:.2f} s, {est:.3f} nats", flush=True)
        if peer is not None:
            torch.manual_seed(r)
            t = time.perf_counter()
            with torch.inference_mode():
                log_p = peer.get_nll(x, n_samples=args.k, batch_size=100)
            theirs.append((time.perf_counter() - t, -float(log_p)))
            print(f"pythae run {r}: {theirs[-1][0]:.2f} s, {theirs[-1][1]:.3f} nats", flush=True)

    best_ours = min(s for s, _ in ours)
    dims = [LATENT, *reversed(HIDDEN), x.shape[1]]
    decoder_flop = 2 * args.n * args.k * sum(a * b for a, b in zip(dims[:-1], dims[1:]))
    lines = [
        f"## IWAE NLL, K={args.k}, {args.n} digits (issue 4 benchmark)", "",
        f"Command: `python benchmarks/bench_iwae_nll.py --epochs {args.epochs} --k {args.k} "
        f"--repeats {args.repeats}`", "",
        f"Machine: {machine}; fp32 2048^3 matmul rate {describe_rates(rates)}. "
        f"Model: MLP VAE 64-256-128-(2x{LATENT}), Bernoulli, trained "
        f"{args.epochs} epochs on the other {len(train)} digits; both libraries score the "
        f"same weights. Negative ELBO of these {args.n} digits (10 samples): {nelbo:.3f} "
        "nats.", "",
        "| implementation | settings | fastest s | -log p(x) estimates (nats), per run |",
        "|---|---|---|---|",
        f"| aekit `iwae_nll` | batch {args.batch_size} examples, chunks of "
        f"{max(1, (1 << 13) // args.batch_size)} samples | {best_ours:.2f} | "
        + ", ".join(f"{e:.3f}" for _, e in ours) + " |",
    ]
    if theirs:
        best_theirs = min(s for s, _ in theirs)
        lines.append(f"| pythae {version('pythae')} `VAE.get_nll` | n_samples {args.k}, "
                     f"batch_size 100 (one example at a time) | {best_theirs:.2f} | "
                     + ", ".join(f"{e:.3f}" for _, e in theirs) + " |")
        diff = abs(np.mean([e for _, e in ours]) - np.mean([e for _, e in theirs]))
        lines += ["", f"Speed-up: {best_theirs / best_ours:.1f}x; the mean estimates differ "
                  f"by {diff:.3f} nats (Monte-Carlo noise: different random draws)."]
    else:
        lines += ["", "pythae is not installed (`pip install 'aekit[bench]'`): only aekit "
                  "was timed."]
    lines += ["", f"The decoder alone is {decoder_flop / 1e9:.0f} GFLOP ({args.n} x {args.k} "
              f"samples); aekit's fastest run does it at {decoder_flop / best_ours / 1e9:.0f} "
              f"GFLOP/s overall, against the faster matmul rate of {peak:.0f} GFLOP/s (aekit's "
              "MLPs run through oneDNN at inference on the CPU, pythae's torch layers through "
              "`torch.mm`'s kernel). pythae also runs the encoder on each of the K copies of "
              "an example (about twice the arithmetic)."]
    text = "\n".join(lines)
    write_section(Path(args.out), text)
    print(text)


if __name__ == "__main__":
    main()
