"""Headroom of a non-parametric refinement stage after the reducer's fit (issue 17).

    nice python benchmarks/bench_reduce_refine.py --seed 0 --threads 1

Fits aekit's default reducer on scikit-learn's digits (raw, 1797 x 64), then moves the
training rows' map positions directly (as t-SNE and UMAP do, no network) on the same
objective, the contrastive t-SNE loss ``L_nce`` over the same fuzzy k-NN graph, with
Adam at a learning rate falling linearly to 0. Reports trustworthiness and continuity
at k=10 and 5-NN accuracy (5-fold CV) of the encoder's map and of each refined map, and
the refinement's CPU seconds. It measures what such a stage could give before its
positions are distilled back into the encoder (not done here: ``transform`` would need
that). Writes benchmarks/results/reduce_refine.md.
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from bench_reduce_seeds import scores
from results_file import RESULTS, write_result
from sklearn.datasets import load_digits

from aekit import AutoencoderReducer
from aekit.apps.parametric_umap import fuzzy_knn_graph, infonce_tsne
from aekit.apps.reduce import common_scale

SETTINGS = [(0.05, 50, 512), (0.05, 50, 2048)]  # (learning rate, passes, edges per step)


def refine(P: torch.Tensor, heads: torch.Tensor, tails: torch.Tensor, weights: torch.Tensor,
           lr: float, passes: int, batch: int, gen: torch.Generator) -> torch.Tensor:
    """Positions ``P`` (float32) moved by Adam on ``L_nce`` over edges drawn by weight
    from ``gen``, the learning rate falling linearly to 0."""
    Z = torch.nn.Parameter(P.clone())
    optimiser = torch.optim.Adam([Z], lr=lr)
    steps = passes * (len(weights) // batch)
    decay = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: 1 - s / steps)
    for _ in range(passes):
        order = torch.multinomial(weights, len(weights), replacement=True, generator=gen)
        for start in range(0, len(weights) - batch + 1, batch):
            edges = order[start:start + batch]
            loss = infonce_tsne(Z[heads[edges]], Z[tails[edges]])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            decay.step()
    return Z.detach()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(RESULTS / "reduce_refine.md"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    X, y = load_digits(return_X_y=True)
    lines = ["## Refining the training rows' map positions after the fit: headroom on digits "
             "(issue 17)", "",
             f"Command: `nice python benchmarks/bench_reduce_refine.py --seed {args.seed} "
             f"--threads {args.threads} --out {args.out}`", "",
             f"torch {args.threads} thread(s); shared 2-core machine, load average "
             f"{os.getloadavg()[0]:.1f} at the start. One seed: the 5-NN accuracy's spread "
             "over seeds is about 0.009 (reduce_seeds).", "",
             "| map | trust@10 | continuity@10 | 5-NN acc | CPU s |", "|---|---|---|---|---|"]
    cpu = time.process_time()
    reducer = AutoencoderReducer(random_state=args.seed).fit(X)
    Z0 = reducer.train_codes_
    lines.append("| aekit default (encoder) | "
                 + " | ".join(f"{v:.4f}" for v in scores(X, y, Z0))
                 + f" | {time.process_time() - cpu:.1f} (fit) |")
    print(lines[-1], flush=True)
    Xs = (X - X.mean(0)) / common_scale(X)
    heads, tails, weights, _ = (torch.as_tensor(a) for a in fuzzy_knn_graph(Xs, 15))
    for lr, passes, batch in SETTINGS:
        cpu = time.process_time()
        Z = refine(torch.as_tensor(Z0, dtype=torch.float32), heads, tails, weights, lr,
                   passes, batch, torch.Generator().manual_seed(args.seed)).double().numpy()
        lines.append(f"| refined: lr {lr}, {passes} passes, {batch} edges/step | "
                     + " | ".join(f"{v:.4f}" for v in scores(X, y, Z))
                     + f" | {time.process_time() - cpu:.1f} |")
        print(lines[-1], flush=True)
    write_result(args.out, lines)


if __name__ == "__main__":
    main()
