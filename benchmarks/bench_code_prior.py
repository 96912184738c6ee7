"""VQ-VAE code priors: held-out log-likelihood of the codes, empirical vs transformer.

Trains the VQ-VAE on the digits (80 % / 20 %, seed 0) once with each ``code_prior`` and
reports the negative log-likelihood (nats per image) that the prior gives the codes of
the held-out digits, for a 2 x 2 and a 4 x 4 code grid (downsample 2 and 1). A lower
value is a prior that predicts real code configurations better, which is what sampling
draws from.

    python benchmarks/bench_code_prior.py [--epochs 30]
"""

from __future__ import annotations

import argparse
import time

import torch
from machine import describe
from results_file import RESULTS, write_result

import aekit
from aekit.data import load_data


def held_out_nll(model, codes: torch.Tensor) -> float:
    with torch.no_grad():
        if model.config.code_prior == "transformer":
            return float(-model.prior.log_prob(codes).mean())
        probs = model.prior.probs()
        return float(-torch.log(probs.gather(1, codes.t()).clamp_min(1e-12)).sum(0).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default=str(RESULTS / "code_prior.md"))
    args = parser.parse_args()
    machine = describe()
    train, test = load_data("digits").split(0.2, seed=0)
    rows = []
    for downsample, num_codes in ((2, 128), (1, 32)):
        for prior in ("empirical", "transformer"):
            torch.manual_seed(0)
            model = aekit.create("vqvae", data=train, downsample=downsample,
                                 num_codes=num_codes, code_prior=prior)
            cfg = aekit.TrainConfig(epochs=args.epochs, progress=False, checkpoint_every=0,
                                    val_fraction=0.0)
            t = time.perf_counter()
            aekit.Trainer(cfg).fit(model, train)
            seconds = time.perf_counter() - t
            model.eval()
            codes = model.codes(test.x)
            grid = "x".join(str(s) for s in model.layout.grid)
            rows.append(f"| {grid} | {num_codes} | {prior} | {held_out_nll(model, codes):.2f} | "
                        f"{seconds:.1f} |")
            print(rows[-1], flush=True)
    write_result(args.out, [
        "## VQ-VAE code priors", "",
        f"Command: `python benchmarks/bench_code_prior.py --epochs {args.epochs}`", "",
        f"Machine: {machine}. Digits, {len(train)} train / {len(test)} held-out (seed 0); "
        f"{args.epochs} epochs per model; negative log-likelihood of the held-out digits' "
        "codes under the model's code prior (nats per image; lower is better).", "",
        "| code grid | codes | code_prior | held-out code NLL | train s |",
        "|---|---|---|---|---|", *rows,
    ])


if __name__ == "__main__":
    main()
