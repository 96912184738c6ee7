"""Seed-to-seed spread of the digits 2-D map: aekit's default reducer beside UMAP (and
t-SNE with ``--tsne``).

    nice python benchmarks/bench_reduce_seeds.py --seeds 0,1,2,3,4 --threads 1
    nice python benchmarks/bench_reduce_seeds.py --params '{"jitter": 1.0}' --no-umap \
        --out benchmarks/results/reduce_seeds_jitter1.md
    nice python benchmarks/bench_reduce_seeds.py --no-umap --no-aekit --tsne \
        --out benchmarks/results/reduce_seeds_tsne.md

For each seed, fit on scikit-learn's digits (raw, 1797 x 64) and report trustworthiness
and continuity at k=10 and the 5-NN accuracy of the map (5-fold CV), as bench_reduce.py
does for one seed, and the fit's wall and CPU seconds (CPU: all the process's threads,
less sensitive to other jobs on a shared machine); then the mean and the range over
seeds. ``--params`` gives aekit settings other than the defaults (a JSON object of
AutoencoderReducer arguments). Writes benchmarks/results/reduce_seeds.md.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.manifold import TSNE, trustworthiness
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from aekit import AutoencoderReducer

RESULTS = Path(__file__).resolve().parent / "results"


def scores(X: np.ndarray, y: np.ndarray, Z: np.ndarray) -> tuple[float, float, float]:
    """Trustworthiness@10, continuity@10 and 5-NN accuracy (5-fold CV) of map ``Z``."""
    return (trustworthiness(X, Z, n_neighbors=10), trustworthiness(Z, X, n_neighbors=10),
            cross_val_score(KNeighborsClassifier(5), Z, y, cv=5).mean())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(RESULTS / "reduce_seeds.md"))
    parser.add_argument("--params", default="{}",
                        help="aekit settings, a JSON object of AutoencoderReducer arguments")
    parser.add_argument("--no-umap", action="store_true", help="no UMAP rows")
    parser.add_argument("--no-aekit", action="store_true", help="no aekit rows")
    parser.add_argument("--tsne", action="store_true",
                        help="add scikit-learn's t-SNE with its defaults")
    args = parser.parse_args()
    import umap

    X, y = load_digits(return_X_y=True)
    params = json.loads(args.params)
    label = f"aekit {params}" if params else "aekit (default)"
    fits = {} if args.no_aekit else {
        label: lambda s: AutoencoderReducer(random_state=s, **params).fit_transform(X)}
    if not args.no_umap:
        fits["UMAP"] = lambda s: umap.UMAP(random_state=s).fit_transform(X)
    if args.tsne:
        fits["t-SNE"] = lambda s: TSNE(2, random_state=s).fit_transform(X)
    load0 = os.getloadavg()[0]
    lines = [f"## Digits 2-D over seeds: {' vs '.join(fits)} (issue 17)", "",
             f"Command: `nice python benchmarks/bench_reduce_seeds.py --seeds {args.seeds} "
             f"--threads {args.threads}"
             + (f" --params '{args.params}'" if params else "")
             + (" --no-umap" if args.no_umap else "") + (" --no-aekit" if args.no_aekit else "")
             + (" --tsne" if args.tsne else "")
             + f" --out {Path(args.out).resolve().relative_to(RESULTS.parents[1])}`", "",
             f"torch {args.threads} thread(s), reset before every aekit fit (umap-learn's "
             f"numba changes it); 2-core machine, load average {load0:.1f} at the start.", "",
             "| method | seed | trust@10 | continuity@10 | 5-NN acc | fit s | fit CPU s |",
             "|---|---|---|---|---|---|---|"]
    per: dict[str, list[tuple[float, float, float]]] = {name: [] for name in fits}
    for name, fit in fits.items():
        for seed in (int(s) for s in args.seeds.split(",")):
            torch.set_num_threads(args.threads)
            t, cpu = time.perf_counter(), time.process_time()
            Z = fit(seed)
            sec, cpu = time.perf_counter() - t, time.process_time() - cpu
            per[name].append(scores(X, y, Z))
            line = (f"| {name} | {seed} | "
                    + " | ".join(f"{v:.4f}" for v in per[name][-1]) + f" | {sec:.1f} | {cpu:.1f} |")
            print(line, flush=True)
            lines.append(line)
    lines += ["", "| method | trust@10 mean [min, max] | continuity@10 | 5-NN acc |",
              "|---|---|---|---|"]
    for name, rows in per.items():
        a = np.array(rows)
        lines.append(f"| {name} | " + " | ".join(
            f"{a[:, j].mean():.4f} [{a[:, j].min():.4f}, {a[:, j].max():.4f}]"
            for j in range(3)) + " |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines[-4:]))


if __name__ == "__main__":
    main()
