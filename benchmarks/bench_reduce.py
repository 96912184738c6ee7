"""AutoencoderReducer (contrastive t-SNE + reconstruction) vs PCA, t-SNE and UMAP.

One run, every method with its defaults, three parts:

* ``quality``: scikit-learn's digits (raw pixel values, as a new user would pass them)
  and the ODDS tables in ../shared/data/odds (standardised; labels = outlier flags) at
  2-D: trustworthiness and continuity at k=10 (on a fixed random subsample of at most
  ``--eval-rows`` rows when a table is larger, the same one for every method), 5-fold
  accuracy of 5-NN on the map, fit seconds. Methods: PCA, t-SNE (tables of at most
  ``--tsne-max-rows`` rows), UMAP (umap-learn), aekit with ``objective="reconstruction"``
  (the old default), ``objective="umap"``, its defaults (``objective="tsne"``) and its
  defaults without the head jitter (``jitter=0``).
* ``heldout``: the ``--sklearn`` data sets, fit on a stratified 80 %, map the other 20 %
  with ``transform``;
  5-NN accuracy of the held-out maps against the fitted maps (UMAP's ``transform`` is
  the reference; t-SNE has none), for aekit's default and the same without jitter.
* ``scale``: 50-D data (a mixture of 20 Gaussian blobs on a random 10-D subspace plus
  noise) of 10k, 100k and 1M rows: fit seconds, transform rows/s and peak RSS growth for
  aekit and UMAP (UMAP only up to ``--umap-max-rows``).

    nice python benchmarks/bench_reduce.py [--parts quality,heldout,scale] \
        [--out benchmarks/results/reduce.md]
    python benchmarks/bench_reduce.py --parts summarise --summarise a.md,b.md --out c.md
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np
import torch
from results_file import RESULTS
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE, trustworthiness
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.neighbors import KNeighborsClassifier

from aekit import AutoencoderReducer
from aekit.data import load_data

ODDS = Path(__file__).resolve().parents[2] / "shared" / "data" / "odds"
ODDS_SETS = "arrhythmia,cardio,ionosphere,letter,mnist,pendigits,pima,satellite,shuttle,vertebral"


def standardise(X):
    return (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1)


def continuity(X, Z, k=10):
    """Continuity (Venna and Kaski): trustworthiness with the two spaces swapped."""
    return trustworthiness(Z, X, n_neighbors=k)


def fit_pca(X, _seed):
    return PCA(2).fit_transform(X)


def fit_tsne(X, seed):
    return TSNE(2, random_state=seed).fit_transform(X)


def fit_umap(X, seed):
    import umap

    return umap.UMAP(random_state=seed).fit_transform(X)


TORCH_THREADS = [1]  # --threads


def torch_threads():
    """Set torch's threads back to --threads. umap-learn's numba (OpenMP layer) shares
    torch's libgomp and sets its thread count to the machine's cores, so without this every
    aekit fit after a UMAP fit in the same process runs two OpenMP threads whose barriers
    spin on the shared 2-core machine (measured: digits fit 2-3x slower)."""
    torch.set_num_threads(TORCH_THREADS[0])


def fit_aekit(**params):
    def fit(X, seed):
        torch_threads()
        return AutoencoderReducer(random_state=seed, **params).fit_transform(X)
    return fit


METHODS = [("PCA", fit_pca), ("t-SNE", fit_tsne), ("UMAP", fit_umap),
           ("aekit recon-only", fit_aekit(objective="reconstruction")),
           ("aekit umap", fit_aekit(objective="umap")),
           ("aekit tsne", fit_aekit(objective="tsne")),
           ("aekit tsne jitter=0", fit_aekit(objective="tsne", jitter=0.0))]
# the default is chosen among these by mean rank
CANDIDATES = ("aekit umap", "aekit tsne", "aekit tsne jitter=0")


def sklearn_sets(names):
    """``(name, X, y)`` of the named scikit-learn data sets: digits raw (0-16), the others
    standardised."""
    sets = []
    for name in names.split(","):
        loader = {"digits": load_digits, "breast_cancer": load_breast_cancer,
                  "wine": load_wine}.get(name)
        if loader is not None:
            X, y = loader(return_X_y=True)
            sets.append((name, X.astype(np.float64) if name == "digits" else standardise(X), y))
    return sets


def quality(args, lines, flush):
    sets = sklearn_sets(args.sklearn)
    for name in args.odds.split(","):
        path = Path(args.odds_dir) / f"{name}.mat"
        if name and path.is_file():
            d = load_data(path)
            sets.append((name, standardise(d.x.numpy().astype(np.float64)),
                         d.y.numpy().astype(int)))
    lines += ["### Map quality at 2-D", "",
              "| data | rows x cols | method | trust@10 | continuity@10 | 5-NN acc | fit s |",
              "|---|---|---|---|---|---|---|"]
    scores = {}  # (data, method) -> (trust, continuity, acc)
    for data_name, X, y in sets:
        rows = np.random.default_rng(0).permutation(len(X))[:args.eval_rows]
        for name, fit in METHODS:
            if name not in args.methods.split(",") or (
                    name == "t-SNE" and len(X) > args.tsne_max_rows):
                continue
            t = time.perf_counter()
            Z = fit(X, 0)
            seconds = time.perf_counter() - t
            Xe, Ze = X[rows], Z[rows]
            acc = cross_val_score(KNeighborsClassifier(5), Z, y, cv=5).mean()
            scores[data_name, name] = (trustworthiness(Xe, Ze, n_neighbors=10),
                                       continuity(Xe, Ze), acc)
            line = (f"| {data_name} | {X.shape[0]} x {X.shape[1]} | {name} | "
                    + " | ".join(f"{v:.4f}" for v in scores[data_name, name])
                    + f" | {seconds:.1f} |")
            print(line, flush=True)
            lines.append(line)
            flush()
    lines += rank_table(scores, [d for d, _, _ in sets])
    flush()


def rank_table(scores, data_sets):
    """Markdown lines: mean rank (1 = best) of the aekit candidates per measure over the
    data sets where all of them finished, and how often each is at least UMAP's."""
    lines = ["", "Mean rank of the aekit candidates (1 = best) over the data sets where "
             "both finished, per measure, and on how many each is at least UMAP's:", "",
             "| candidate | data sets | rank trust | rank continuity | rank 5-NN | mean | "
             "trust >= UMAP | continuity >= UMAP | 5-NN >= UMAP |",
             "|---|---|---|---|---|---|---|---|---|"]
    ran = [c for c in CANDIDATES if any((d, c) in scores for d in data_sets)]
    done = [d for d in data_sets if ran and all((d, c) in scores for c in ran)]
    ranks = {c: np.zeros(3) for c in ran}
    for d in done:
        table = np.array([scores[d, c] for c in ran])
        for i, c in enumerate(ran):
            ranks[c] += 1 + (table > table[i]).sum(0)
    with_umap = [d for d in done if (d, "UMAP") in scores]
    for c in ran:
        r = ranks[c] / max(len(done), 1)
        beats = [f"{sum(scores[d, c][m] >= scores[d, 'UMAP'][m] for d in with_umap)}"
                 f"/{len(with_umap)}" for m in range(3)]
        lines.append(f"| {c} | {', '.join(done)} | {r[0]:.2f} | {r[1]:.2f} | {r[2]:.2f} | "
                     f"{r.mean():.2f} | {' | '.join(beats)} |")
    lines.append("")
    return lines


def summarise(args, lines, flush):
    """Rank the candidates over the quality tables of several result files (runs of the
    quality part split across processes)."""
    scores, data_sets = {}, []
    for path in args.summarise.split(","):
        for row in Path(path).read_text().splitlines():
            cells = [c.strip() for c in row.strip("|").split("|")]
            if len(cells) == 7 and " x " in cells[1] and cells[3][:1].isdigit():
                scores[cells[0], cells[2]] = tuple(float(v) for v in cells[3:6])
                data_sets += [cells[0]] if cells[0] not in data_sets else []
    lines += [f"### Candidates ranked over {args.summarise}"]
    lines += rank_table(scores, data_sets)
    flush()


def heldout(args, lines, flush):
    import umap

    lines += ["### Held-out rows through transform (fit 80 %, map 20 %)", "",
              "| data | method | 5-NN acc of held-out vs fitted | 5-NN acc (5-fold) of fitted "
              "| transform s |", "|---|---|---|---|---|"]
    for data_name, X, y in sklearn_sets(args.sklearn):
        Xf, Xh, yf, yh = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
        for name, est in [("UMAP", umap.UMAP(random_state=0)),
                          ("aekit (default)", AutoencoderReducer(random_state=0)),
                          ("aekit jitter=0", AutoencoderReducer(jitter=0.0, random_state=0))]:
            torch_threads()
            Zf = est.fit_transform(Xf)
            t = time.perf_counter()
            Zh = est.transform(Xh)
            seconds = time.perf_counter() - t
            acc = KNeighborsClassifier(5).fit(Zf, yf).score(Zh, yh)
            cv = cross_val_score(KNeighborsClassifier(5), Zf, yf, cv=5).mean()
            line = f"| {data_name} | {name} | {acc:.4f} | {cv:.4f} | {seconds:.3f} |"
            print(line, flush=True)
            lines.append(line)
            flush()
    lines.append("")


def blobs(n, seed=0):
    """``n`` rows x 50: 20 Gaussian blobs on a random 10-D subspace, plus noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (20, 10))
    basis = np.linalg.qr(rng.normal(size=(50, 10)))[0]
    X = np.empty((n, 50), dtype=np.float32)
    for i in range(0, n, 100_000):
        m = min(100_000, n - i)
        inner = centres[rng.integers(20, size=m)] + rng.normal(size=(m, 10))
        X[i:i + m] = inner @ basis.T + 0.1 * rng.normal(size=(m, 50))
    return X


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scale(args, lines, flush):
    import umap

    lines += ["### Fit and transform time, 50-D blobs", "",
              "Wall seconds, and CPU seconds of the process (all its threads; less "
              f"sensitive to other jobs on the machine). Load average at the start: "
              f"{os.getloadavg()[0]:.1f}.", "",
              "| rows | method | fit s | fit CPU s | transform rows/s | transform rows/CPU s "
              "| peak RSS MB after fit |",
              "|---|---|---|---|---|---|---|"]
    for n in [int(s) for s in args.sizes.split(",")]:
        X = blobs(n)
        query = blobs(100_000, seed=1)
        runs = [("aekit (default)", AutoencoderReducer(random_state=0))]
        if n <= args.umap_max_rows:
            runs.append(("UMAP", umap.UMAP(random_state=0)))
        for name, est in runs:
            torch_threads()
            t, cpu = time.perf_counter(), time.process_time()
            est.fit(X)
            fit_s, fit_cpu = time.perf_counter() - t, time.process_time() - cpu
            t, cpu = time.perf_counter(), time.process_time()
            est.transform(query)
            rate = len(query) / (time.perf_counter() - t)
            rate_cpu = len(query) / max(time.process_time() - cpu, 1e-9)
            line = (f"| {n:,} | {name} | {fit_s:.1f} | {fit_cpu:.1f} | {rate:,.0f} | "
                    f"{rate_cpu:,.0f} | {rss_mb():,.0f} |")
            print(line, flush=True)
            lines.append(line)
            flush()
        if n > args.umap_max_rows:
            lines.append(f"| {n:,} | UMAP | not run (> --umap-max-rows) | | | | |")
    lines.append("")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(RESULTS / "reduce.md"))
    parser.add_argument("--parts", default="quality,heldout,scale")
    parser.add_argument("--sklearn", default="digits,breast_cancer,wine",
                        help="scikit-learn data sets of the quality part (digits raw, "
                        "breast_cancer and wine standardised); '' for none.")
    parser.add_argument("--odds", default=ODDS_SETS)
    parser.add_argument("--odds-dir", default=str(ODDS))
    parser.add_argument("--summarise", default="",
                        help="Result files (comma-separated) whose quality tables the "
                        "'summarise' part ranks together.")
    parser.add_argument("--methods", default=",".join(name for name, _ in METHODS),
                        help="Methods of the quality part, comma-separated.")
    parser.add_argument("--eval-rows", type=int, default=5000)
    parser.add_argument("--tsne-max-rows", type=int, default=2000)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--umap-max-rows", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--title", default="Dimensionality reduction: aekit vs PCA, t-SNE, "
                        "UMAP (issue 17)")
    args = parser.parse_args()
    TORCH_THREADS[0] = args.threads
    torch_threads()
    lines = [f"## {args.title}", "",
             f"Command: `nice python benchmarks/bench_reduce.py --parts {args.parts} "
             f"--sklearn '{args.sklearn}' --odds '{args.odds}' --methods '{args.methods}' "
             f"--odds-dir {args.odds_dir} --sizes {args.sizes} "
             f"--umap-max-rows {args.umap_max_rows} "
             + (f"--summarise {args.summarise} " if args.summarise else "") +
             f"--threads {args.threads} --out {args.out}`", "",
             "Every method with its defaults, seed 0; timings from a shared 2-core machine "
             f"(other jobs running), torch with {args.threads} thread(s).", ""]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)

    def flush() -> None:  # rewritten after every row, so a cut-short run keeps its rows
        Path(args.out).write_text("\n".join(lines) + "\n")

    parts = {"quality": quality, "heldout": heldout, "scale": scale, "summarise": summarise}
    for part in args.parts.split(","):
        parts[part](args, lines, flush)
    flush()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
