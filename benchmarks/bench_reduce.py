"""AutoencoderReducer (AE, VAE) vs PCA and t-SNE: trustworthiness, kNN accuracy, reconstruction.

Digits (scikit-learn's 1797 8x8 images) and, when present, ODDS sets from
../shared/data/odds (labels = outlier flags). For each method and dimension (2, 10):
trustworthiness (sklearn.manifold, 10 neighbours), 5-fold kNN accuracy (k=5) in the
embedding, mean summed squared reconstruction error on standardised features (where the
method can reconstruct), and fit time.

    python benchmarks/bench_reduce.py [--out benchmarks/results/reduce.md]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from results_file import RESULTS
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE, trustworthiness
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from aekit import AutoencoderReducer
from aekit.data import load_data

ODDS = Path(__file__).resolve().parents[2] / "shared" / "data" / "odds"


def standardise(X):
    return (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1)


def evaluate(name, fit, X, y, dim):
    t = time.perf_counter()
    Z, recon = fit(X, dim)
    seconds = time.perf_counter() - t
    row = {"method": name, "dim": dim, "seconds": seconds,
           "trust": trustworthiness(X, Z, n_neighbors=10),
           "knn": cross_val_score(KNeighborsClassifier(5), Z, y, cv=5).mean(),
           "recon": np.nan if recon is None else ((X - recon) ** 2).sum(1).mean()}
    return row


def fit_pca(X, dim):
    p = PCA(dim).fit(X)
    Z = p.transform(X)
    return Z, p.inverse_transform(Z)


def fit_ae(model):
    def fit(X, dim):
        r = AutoencoderReducer(n_components=dim, model=model, hidden_dims=(256, 128),
                               epochs=150, learning_rate=2e-3, random_state=0,
                               scale=False).fit(X)
        Z = r.transform(X)
        return Z, r.inverse_transform(Z)
    return fit


def fit_tsne(X, dim):
    if dim > 3:
        raise ValueError("t-SNE is for 2-3 dims")
    return TSNE(dim, random_state=0, init="pca").fit_transform(X), None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(RESULTS / "reduce.md"))
    parser.add_argument("--odds", default="cardio,satellite,pendigits")
    args = parser.parse_args()
    torch.set_num_threads(1)
    sets = [("digits", standardise(load_data("digits_flat").x.numpy().astype(np.float64)),
             load_data("digits_flat").y.numpy())]
    for name in args.odds.split(","):
        if (ODDS / f"{name}.mat").is_file():
            d = load_data(ODDS / f"{name}.mat")
            sets.append((name, standardise(d.x.numpy().astype(np.float64)), d.y.numpy()))
    methods = [("PCA", fit_pca), ("AE", fit_ae("ae")), ("VAE", fit_ae("vae")),
               ("t-SNE", fit_tsne)]
    lines = ["## Dimensionality reduction (issue 5 benchmark)", "",
             f"Command: `python benchmarks/bench_reduce.py --odds {args.odds}`", "",
             "Features standardised; AE/VAE: AutoencoderReducer, MLP 256-128, 150 epochs, "
             "lr 2e-3, batch 64, seed 0, 1 torch thread. Trust = trustworthiness "
             "(10 neighbours); kNN = 5-fold accuracy of 5-NN on the embedding; recon = mean "
             "summed squared error per row (standardised units).", "",
             "| data | dim | method | trust | kNN acc | recon | fit s |",
             "|---|---|---|---|---|---|---|"]
    for data_name, X, y in sets:
        for dim in [d for d in (2, 10) if d < X.shape[1]]:
            for name, fit in methods:
                if name == "t-SNE" and (dim > 3 or len(X) > 3000):
                    continue
                r = evaluate(name, fit, X, y, dim)
                line = (f"| {data_name} | {dim} | {name} | {r['trust']:.3f} | {r['knn']:.3f} | "
                        f"{r['recon']:.2f} | {r['seconds']:.1f} |")
                print(line, flush=True)
                lines.append(line)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
