"""Why anomaly detection fails on digits: one digit among the other nine (issue 13).

scikit-learn's digits (1797 images of 8x8 = 64 pixels, 10 balanced classes) with one
digit as the rare class, subsampled to ``--shares`` of the rows (10 %: the ``digits``
table of ``bench_tables.py``; 3 %: ``optdigits_like``, ODDS optdigits' share, where the
zeros are the outliers among digits 1-9), split 60/40 stratified (``random_state=trial``)
and standardised with the training part's statistics, exactly as ``bench_tables.py``
does. For each rare digit it measures, on the standardised pixels and on the default
``AnomalyDetector``:

* the rare class's size in the training part (against ``n_neighbors`` = 10);
* masking: the share of the rare test points' 10 nearest training rows that are rare
  points themselves;
* tightness: the rare class's mean distance to its own centroid over the mean of the
  same for the nine inlier digits (below 1: tighter than a typical digit);
* AUROC of the pixel-space k-NN distance (mean of 10) and of the distance to the m-th
  neighbour (m = 5 % of the training rows), of IsolationForest, and of each part of
  aekit's score (``reconstruction``, ``latent``, ``latent_kth``), of the former default
  ``reconstruction+latent`` and of the default ``reconstruction+latent_kth``;
* learned contamination: ``reconstruction+latent``'s AUROC on its own training part
  (below 0.5: the rare training points are scored as *more* normal than the inliers).

    python benchmarks/bench_digits.py [--trials 1] [--shares 0.1,0.03] [--threads 1]
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from bench_tables import rare_splits
from machine import describe
from results_file import RESULTS, write_result
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors

from aekit.apps.detect import KTH_SHARE, AnomalyDetector

COLUMNS = ("rare in train", "masking", "tightness", "pixel kNN", "pixel m-th", "IForest",
           "reconstruction", "latent", "latent_kth", "recon+latent", "recon+latent_kth",
           "recon+latent on train")


def tightness(x: np.ndarray, labels: np.ndarray, rare: int) -> float:
    """Mean distance to the own centroid of class ``rare`` over that of the other classes."""
    spread = {c: float(np.linalg.norm(x[labels == c] - x[labels == c].mean(0), axis=1).mean())
              for c in np.unique(labels)}
    return spread[rare] / float(np.mean([v for c, v in spread.items() if c != rare]))


def measure(share: float, trial: int) -> list[list[float]]:
    """One row of ``COLUMNS`` per rare digit."""
    rows = []
    for rare, x_tr, x_te, c_tr, y_te in rare_splits("digits", trial, share):
        is_rare = (c_tr == rare).astype(int)
        d_te, i_te = NearestNeighbors(n_neighbors=10).fit(x_tr).kneighbors(x_te)
        m = max(10, math.ceil(KTH_SHARE * len(x_tr)))
        far = NearestNeighbors(n_neighbors=m).fit(x_tr).kneighbors(x_te)[0][:, -1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            iforest = -IsolationForest(random_state=trial).fit(x_tr).score_samples(x_te)
        det = AnomalyDetector(random_state=trial,
                              score_type="reconstruction+latent+latent_kth").fit(x_tr)
        parts, own = det.score_parts(x_te), det.score_parts(x_tr)
        rows.append([
            float(is_rare.sum()), float(is_rare[i_te[y_te == 1]].mean()),
            tightness(x_tr, c_tr, rare),
            roc_auc_score(y_te, d_te.mean(1)), roc_auc_score(y_te, far),
            roc_auc_score(y_te, iforest),
            *(roc_auc_score(y_te, parts[p]) for p in ("reconstruction", "latent", "latent_kth")),
            roc_auc_score(y_te, parts["reconstruction"] + parts["latent"]),
            roc_auc_score(y_te, parts["reconstruction"] + parts["latent_kth"]),
            roc_auc_score(is_rare, own["reconstruction"] + own["latent"])])
        print(f"share {share:.2f} trial {trial} digit {rare}: "
              + " ".join(f"{v:.2f}" for v in rows[-1]), flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--trials", type=int, default=1)
    p.add_argument("--shares", type=lambda s: [float(v) for v in s.split(",")],
                   default=[0.1, 0.03])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=RESULTS / "anomaly_digits.md")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    t0, machine = time.perf_counter(), describe()
    tables = {s: np.mean([measure(s, t) for t in range(args.trials)], axis=0)
              for s in args.shares}
    cmd = (f"python benchmarks/bench_digits.py --trials {args.trials} --shares "
           f"{','.join(str(s) for s in args.shares)} --threads {args.threads}")
    lines = ["## Why detection fails on digits (one digit among the other nine)", "",
             f"`{cmd}`: {(time.perf_counter() - t0) / 60:.0f} min on a 2-core machine "
             f"shared with other jobs ({machine}). Columns: see the script's docstring; "
             f"values are means over {args.trials} trial(s).", ""]
    for share, table in tables.items():
        lines += [f"### rare digit subsampled to {share:.0%} of the rows", "",
                  "| rare digit | " + " | ".join(COLUMNS) + " |",
                  "|---|" + "---|" * len(COLUMNS)]
        for digit, row in enumerate(table):
            lines.append(f"| {digit} | {row[0]:.0f} | " + " | ".join(f"{v:.2f}" for v in row[1:])
                         + " |")
        lines.append("| **mean** | " + " | ".join(f"{v:.2f}" for v in table.mean(0)) + " |")
        lines.append("")
    write_result(args.out, lines)


if __name__ == "__main__":
    main()
