"""Held-out mapping of the reducer's encoder: variants measured against the default
and UMAP's transform (issue 17).

    nice python benchmarks/bench_reduce_heldout.py --data digits --folds 0,1,2 \
        --variants default,distil,UMAP --threads 1
    nice python benchmarks/bench_reduce_heldout.py --data digits --folds 0,1,2 \
        --variants '[{"epochs": 25}, {}];[{}, {"refine": 50, "distil": 1000}]'

For each data set (scikit-learn's digits raw, breast_cancer and wine standardised, or
ODDS tables standardised with their outlier flags as labels) and
each of the chosen folds of a stratified 5-fold split (seed ``--split-seed``), fit on the
other four folds (80 %, seed = the fold's number) and map the fold (20 %) with
``transform``; report the 5-NN accuracy of the held-out codes against the fitted codes
(``held-out``), the same for a non-parametric placement of the held-out rows (the
inverse-distance-weighted mean of the codes of their 15 nearest fitted rows in the
input, ``kNN place``: about where UMAP's transform starts before it optimises; a
diagnostic, not a candidate), the 5-NN accuracy of the fitted map itself (5-fold CV),
trustworthiness and continuity at k=10 of the fitted map, and the fit's CPU seconds.

A variant is a name of ``VARIANTS``, ``UMAP`` (umap-learn with its defaults), or a JSON
pair ``[reducer settings, stages]`` (see :class:`Staged`); several are separated by
commas, or by semicolons when one of them is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from bench_reduce import ODDS, sklearn_sets, standardise
from bench_reduce_refine import refine
from bench_reduce_seeds import scores
from results_file import RESULTS, write_result
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

from aekit import AutoencoderReducer
from aekit.apps.parametric_umap import fuzzy_knn_graph, infonce_tsne
from aekit.data import load_data


class Staged(AutoencoderReducer):
    """The reducer with two optional stages after its graph training (the refine +
    distil stage of issue 17, measured here, not adopted). Set ``stages`` after
    construction (scikit-learn's parameters are the reducer's own), a dict of:

    * ``refine``: passes over the edges moving the fitted rows' positions ``P``
      (starting at their codes) directly by Adam on ``L_nce(P)`` (learning rate
      ``refine_lr``, 0.05, falling linearly to 0), as t-SNE moves its points;
    * ``distil``: optimiser steps (Adam, learning rate ``lr``, 1e-3, falling to 0)
      training the encoder ``f`` and the decoder on ``P`` (the refined positions, or
      the codes after the graph training when there is no refinement)::

          L_distil = (1/B) sum_b || f(x~_b) - (P_i + t_b (P_j - P_i)) ||^2
                     + anchor * L_nce(f(x~), P_tails) + graph * L_nce(f(x~), f(x_tails))
                     + lambda * L_model(x) / D

      over edges ``(i, j)`` drawn by weight, with the head moved along its edge and
      jittered, ``x~_b = x_i + t_b (x_j - x_i) + (jitter rho_i / sqrt(D)) eps``,
      ``t_b ~ U(0, mix)`` (``mix`` 1), ``jitter`` the reducer's unless given. The
      ``anchor`` term pulls the moved row towards the fixed positions of its
      neighbours and away from the batch's other positions, as UMAP's transform places
      a new row against the fitted map (with ``clean``, the squared error is taken at
      the unmoved rows ``x_i`` against ``P_i`` instead, so the moved rows are placed by
      the anchor term alone); the reconstruction term trains the decoder on
      the final codes, so ``inverse_transform`` inverts the distilled map.
    """

    stages: ClassVar[dict] = {}

    def _train_graph(self, model, Xs, batch_size, seed):
        history = super()._train_graph(model, Xs, batch_size, seed)
        if not self.stages:
            return history
        opts = self.stages
        gen = torch.Generator().manual_seed(seed + 1)
        heads, tails, weights, rho = (torch.as_tensor(a) for a in
                                      fuzzy_knn_graph(Xs, self.n_neighbors))
        x = torch.as_tensor(Xs, dtype=torch.float32)
        model.float()
        with torch.no_grad():
            P = model.embed(x)
        if opts.get("refine"):
            P = refine(P, heads, tails, weights, opts.get("refine_lr", 0.05), opts["refine"],
                       batch_size, gen)
        if opts.get("distil"):
            distil(model, x, P, heads, tails, weights, rho.float(), opts, batch_size, gen,
                   float(self.reconstruction_weight), self.jitter)
        self._finish_model(model)
        return history


def distil(model, x, P, heads, tails, weights, rho, opts, batch, gen, lam, jitter):
    """Train ``model`` in place on ``L_distil`` (see :class:`Staged`) for ``opts["distil"]``
    steps of ``batch`` edges."""
    model.train()
    n, d = x.shape
    steps = opts["distil"]
    optimiser = torch.optim.Adam(model.parameters(), lr=opts.get("lr", 1e-3))
    decay = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: 1 - s / steps)
    mix, gamma, anchor = opts.get("mix", 1.0), opts.get("graph", 0.0), opts.get("anchor", 0.0)
    noise = (opts.get("jitter", jitter) * rho / d ** 0.5)
    for _ in range(steps):
        edges = torch.multinomial(weights, batch, replacement=True, generator=gen)
        i, j = heads[edges], tails[edges]
        t = mix * torch.rand(batch, 1, generator=gen)
        xi = x[i] + t * (x[j] - x[i]) + noise[i, None] * torch.randn(batch, d, generator=gen)
        target = P[i] + t * (P[j] - P[i])
        if opts.get("clean"):  # regress the rows themselves, only anchor the moved ones
            zi, zj, z_clean = model.embed(torch.cat([xi, x[j], x[i]])).chunk(3)
            loss = (z_clean - P[i]).square().sum(1).mean()
        else:
            zi, zj = model.embed(torch.cat([xi, x[j]])).chunk(2)
            loss = (zi - target).square().sum(1).mean()
        if gamma:
            loss = loss + gamma * infonce_tsne(zi, zj)
        if anchor:  # the mixed row against the fixed positions, as UMAP's transform places it
            loss = loss + anchor * infonce_tsne(zi, P[j])
        rows = torch.randint(n, (batch,), generator=gen)
        loss = loss + lam * model.loss(x[rows]).total / d
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        decay.step()


VARIANTS = {
    "default": ({}, {}),
    "jitter=1": ({"jitter": 1.0}, {}),
    "jitter=2": ({"jitter": 2.0}, {}),
    "distil": ({}, {"distil": 1000}),
    "refine+distil": ({}, {"refine": 50, "distil": 1000}),
    "distil jitter=1.5": ({}, {"distil": 1000, "jitter": 1.5}),
    "distil+anchor": ({}, {"distil": 1000, "anchor": 1.0}),
    "distil+anchor jitter=1.5": ({}, {"distil": 1000, "anchor": 1.0, "jitter": 1.5}),
    "distil 3000": ({}, {"distil": 3000}),
    "clean distil+anchor": ({}, {"distil": 1000, "anchor": 1.0, "clean": True}),
}


def make(name, seed):
    if name == "UMAP":
        import umap

        return umap.UMAP(random_state=seed)
    params, stages = VARIANTS[name] if name in VARIANTS else json.loads(name)
    est = Staged(random_state=seed, **params)
    est.stages = stages
    return est


def data_sets(names: str, odds_dir: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(name, X, y)``: scikit-learn's sets as bench_reduce.py loads them, and ODDS
    tables (standardised; labels = outlier flags) from ``odds_dir``."""
    sets = sklearn_sets(names)
    for name in names.split(","):
        if (odds_dir / f"{name}.mat").is_file():
            d = load_data(odds_dir / f"{name}.mat")
            sets.append((name, standardise(d.x.numpy().astype(np.float64)),
                         d.y.numpy().astype(int)))
    return sets


def knn_place(Xf, Zf, Xh, k=15):
    """Held-out rows placed at the distance-weighted mean code of their k nearest fitted
    rows (in the input)."""
    dist, idx = NearestNeighbors(n_neighbors=k).fit(Xf).kneighbors(Xh)
    w = 1 / np.maximum(dist, 1e-12)
    return (Zf[idx] * w[..., None]).sum(1) / w.sum(1, keepdims=True)


HEADER = ["| data | variant | folds | held-out 5-NN | kNN place 5-NN | fitted 5-NN | "
          "trust@10 | continuity@10 | fit CPU s |", "|---|---|---|---|---|---|---|---|---|"]


def summarise(paths: list[str]) -> list[str]:
    """Markdown lines: per data set, the means of each variant over the folds the
    default ran (variants that did not run all of them are left out), from the per-fold
    rows of the result files ``paths``."""
    runs: dict[tuple[str, str], dict[int, list[float]]] = {}
    for path in paths:
        for row in Path(path).read_text().splitlines():
            cells = [c.strip() for c in row.strip().strip("|").split("|")]
            if len(cells) == 9 and cells[2].isdigit():
                runs.setdefault((cells[0], cells[1]), {})[int(cells[2])] = [
                    float(v) for v in cells[3:]]
    lines = list(HEADER)
    for data in dict.fromkeys(d for d, _ in runs):
        folds = sorted(runs.get((data, "default"), {}))
        names = [v for d, v in runs if d == data and set(folds) <= set(runs[d, v])]
        for name in sorted(names, key=lambda v: (v != "default", v == "UMAP")):
            m = np.mean([runs[data, name][f] for f in folds], 0)
            lines.append(f"| {data} | {name} | {','.join(map(str, folds))} | "
                         + " | ".join(f"{v:.4f}" for v in m[:5]) + f" | {m[5]:.1f} |")
    return lines


def optimise_place(Xf, Zf, Xh, Zh, k=15, passes=100, batch=512, seed=0):
    """Held-out codes ``Zh`` moved against the fixed fitted map ``Zf`` (a diagnostic of
    what UMAP's transform does after its first placement, not a candidate for
    ``transform``): Adam (0.05, falling to 0) on ``L_nce`` over the edges from each
    held-out row to its k nearest fitted rows in the input, drawn by inverse distance,
    with the batch's other fitted positions as negatives."""
    dist, idx = NearestNeighbors(n_neighbors=k).fit(Xf).kneighbors(Xh)
    w = torch.as_tensor(1 / np.maximum(dist, 1e-12)).flatten()
    heads = torch.arange(len(Xh)).repeat_interleave(k)
    tails = torch.as_tensor(idx).flatten()
    fixed = torch.as_tensor(Zf, dtype=torch.float32)
    Z = torch.nn.Parameter(torch.as_tensor(Zh, dtype=torch.float32).clone())
    optimiser = torch.optim.Adam([Z], lr=0.05)
    per_pass = max(1, len(w) // batch)
    decay = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: 1 - s / (passes * per_pass))
    gen = torch.Generator().manual_seed(seed)
    for _ in range(passes * per_pass):
        edges = torch.multinomial(w, batch, replacement=True, generator=gen)
        loss = infonce_tsne(Z[heads[edges]], fixed[tails[edges]])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        decay.step()
    return Z.detach().numpy().astype(np.float64)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="digits,breast_cancer,wine")
    parser.add_argument("--folds", default="0,1,2,3,4")
    parser.add_argument("--odds-dir", default=str(ODDS))
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(RESULTS / "reduce_heldout_variants.md"))
    parser.add_argument("--optimise-place", action="store_true",
                        help="Also report the held-out 5-NN after moving the encoder's "
                        "held-out codes against the fixed fitted map (optimise_place), as "
                        "a row of its own.")
    parser.add_argument("--summarise", default="",
                        help="Result files (comma-separated) whose per-fold rows are "
                        "averaged over the folds the default ran; no fits.")
    args = parser.parse_args()
    if args.summarise:
        write_result(args.out, [
            "## Held-out mapping: variants of the reducer, summary (issue 17)", "",
            f"Command: `python benchmarks/bench_reduce_heldout.py --summarise "
            f"{args.summarise} --out {args.out}`", "",
            "Means over the folds the default ran on each data set (variants that did not "
            "run all of them are left out; per-fold rows and the commands that made them: "
            "the files named).", "",
            *summarise(args.summarise.split(","))])
        return
    torch.set_num_threads(args.threads)
    folds = [int(f) for f in args.folds.split(",")]
    variants = args.variants.split(";") if ";" in args.variants else args.variants.split(",")
    lines = ["## Held-out mapping: variants of the reducer (issue 17)", "",
             f"Command: `nice python benchmarks/bench_reduce_heldout.py --data {args.data} "
             f"--odds-dir {args.odds_dir} --folds {args.folds} --split-seed {args.split_seed} "
             f"--variants '{args.variants}' --threads {args.threads} "
             + ("--optimise-place " if args.optimise_place else "") + f"--out {args.out}`", "",
             f"torch {args.threads} thread(s); 2-core machine, load average "
             f"{os.getloadavg()[0]:.1f} at the start.", "",
             *HEADER]
    summary = []
    for data_name, X, y in data_sets(args.data, Path(args.odds_dir)):
        split = list(StratifiedKFold(5, shuffle=True, random_state=args.split_seed).split(X, y))
        for name in variants:
            rows = []
            for fold in folds:
                fit_idx, held_idx = split[fold]
                Xf, Xh, yf, yh = X[fit_idx], X[held_idx], y[fit_idx], y[held_idx]
                torch.set_num_threads(args.threads)
                cpu = time.process_time()
                est = make(name, fold)
                Zf = est.fit_transform(Xf)  # UMAP: its embedding, not a transform of Xf
                cpu = time.process_time() - cpu
                clf = KNeighborsClassifier(5).fit(Zf, yf)
                held = clf.score(est.transform(Xh), yh)
                placed = clf.score(knn_place(Xf, Zf, Xh), yh)
                trust, cont, fitted = scores(Xf, yf, Zf)
                rows.append((held, placed, fitted, trust, cont, cpu))
                line = (f"| {data_name} | {name} | {fold} | "
                        + " | ".join(f"{v:.4f}" for v in rows[-1][:5]) + f" | {cpu:.1f} |")
                print(line, flush=True)
                lines.append(line)
                if args.optimise_place and name != "UMAP":
                    moved = clf.score(optimise_place(Xf, Zf, Xh, est.transform(Xh), seed=fold),
                                      yh)
                    line = (f"| {data_name} | {name}, held-out codes optimised | {fold} | "
                            f"{moved:.4f} | " + " | ".join(f"{v:.4f}" for v in rows[-1][1:5])
                            + f" | {cpu:.1f} |")
                    print(line, flush=True)
                    lines.append(line)
            m = np.mean(rows, 0)
            summary.append(f"| {data_name} | {name} | mean {args.folds} | "
                           + " | ".join(f"{v:.4f}" for v in m[:5]) + f" | {m[5]:.1f} |")
            print(summary[-1], flush=True)
            write_result(args.out, [*lines, "", "Means over the folds:", "", *lines[6:8],
                                    *summary])


if __name__ == "__main__":
    main()
