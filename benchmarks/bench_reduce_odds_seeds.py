"""Seed-to-seed spread of the 2-D maps of the ODDS tables: aekit's default reducer beside
UMAP with its defaults, both at every seed.

    nice python benchmarks/bench_reduce_odds_seeds.py --odds pima,arrhythmia \
        --seeds 0,1,2 --out benchmarks/results/reduce_odds_seeds_a.md
    python benchmarks/bench_reduce_odds_seeds.py --summarise a.md,b.md \
        --out benchmarks/results/reduce_odds_seeds.md
    nice python benchmarks/bench_reduce_odds_seeds.py --params '{"dof": 1.5}' \
        --out benchmarks/results/reduce_odds_seeds_dof.md

The protocol is bench_reduce.py's quality part (standardised tables, trustworthiness and
continuity at k=10 on the same fixed subsample of at most ``--eval-rows`` rows), repeated
for each seed of both methods. The result gives every (table, method, seed) row, the mean
and range over seeds, and on how many tables aekit is at least UMAP's: per seed (each
seed a run of its own, as bench_reduce.py's one run is seed 0) and on the mean over seeds.
``--summarise`` reads the per-seed rows of several such files (tables split between
processes) and writes the summary over all of them; it also reads the UMAP and
``aekit tsne`` rows of bench_reduce.py's quality results (one run at seed 0, the same
protocol) as seed 0, so that run need not be repeated. ``--params`` (JSON) fits aekit with
those settings instead of its defaults, labelled by them (e.g. ``aekit (dof=1.5)``).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np
from bench_reduce import ODDS, ODDS_SETS, continuity, fit_aekit, fit_umap, standardise
from results_file import RESULTS
from sklearn.manifold import trustworthiness

from aekit.data import load_data

HEADER = ["| data | rows x cols | method | seed | trust@10 | continuity@10 | fit s |",
          "|---|---|---|---|---|---|---|"]
ROW = re.compile(r"^\| (\w+) \| (\d+) x (\d+) \| (UMAP|aekit \([^)]*\)) \| (\d+) \| "
                 r"([\d.]+) \| ([\d.]+) \| ([\d.]+) \|")
QUALITY_ROW = re.compile(r"^\| (\w+) \| (\d+) x (\d+) \| (UMAP|aekit tsne) \| ([\d.]+) \| "
                         r"([\d.]+) \| [\d.]+ \| ([\d.]+) \|")  # bench_reduce.py, seed 0


def row_line(name: str, shape: tuple, method: str, seed: int, trust: float, cont: float,
             seconds: float) -> str:
    """One per-seed row of the result table (the form ROW reads back)."""
    return (f"| {name} | {shape[0]} x {shape[1]} | {method} | {seed} | {trust:.4f} | "
            f"{cont:.4f} | {seconds:.1f} |")


def aekit_label(params: dict) -> str:
    """``aekit (default)``, or ``aekit (dof=1.5, ...)`` with the settings of --params."""
    return f"aekit ({', '.join(f'{k}={v}' for k, v in params.items()) or 'default'})"


def measure(args: argparse.Namespace, lines: list[str], flush) -> list[tuple]:
    """Fit both methods at every seed on every table; per-seed rows
    ``(table, method, seed, trust, continuity)``."""
    params = json.loads(args.params)
    methods = {"UMAP": fit_umap, aekit_label(params): fit_aekit(**params)}
    lines += HEADER
    rows = []
    for name in args.odds.split(","):
        d = load_data(Path(args.odds_dir) / f"{name}.mat")
        X = standardise(d.x.numpy().astype(np.float64))
        sub = np.random.default_rng(0).permutation(len(X))[:args.eval_rows]
        for method, fit in methods.items():
            for seed in (int(s) for s in args.seeds.split(",")):
                t = time.perf_counter()
                Z = fit(X, seed)
                seconds = time.perf_counter() - t
                trust = trustworthiness(X[sub], Z[sub], n_neighbors=10)
                cont = continuity(X[sub], Z[sub])
                rows.append((name, method, seed, trust, cont))
                line = row_line(name, X.shape, method, seed, trust, cont, seconds)
                print(line, flush=True)
                lines.append(line)
                flush()
    return rows


def summary(rows: list[tuple]) -> list[str]:
    """Markdown: mean [min, max] over seeds per table and method, and the tables where
    aekit is at least UMAP's, per seed and on the means."""
    tables = list(dict.fromkeys(r[0] for r in rows))
    ours = next(r[1] for r in rows if r[1] != "UMAP")
    seeds = sorted({r[2] for r in rows})
    val = {(t, m, s): (tr, co) for t, m, s, tr, co in rows}
    out = ["", "Mean [min, max] over seeds:", "",
           "| data | method | trust@10 | continuity@10 |", "|---|---|---|---|"]
    means = {}
    for t in tables:
        for m in ("UMAP", ours):
            a = np.array([val[t, m, s] for s in seeds if (t, m, s) in val])
            means[t, m] = a.mean(0)
            out.append(f"| {t} | {m} | " + " | ".join(
                f"{a[:, j].mean():.4f} [{a[:, j].min():.4f}, {a[:, j].max():.4f}]"
                for j in range(2)) + " |")

    def wins(get) -> str:
        won = [t for t in tables if get(t, ours) is not None
               and get(t, "UMAP") is not None
               and round(get(t, ours), 4) >= round(get(t, "UMAP"), 4)]
        return f"{len(won)}/{len(tables)} ({', '.join(won) or 'none'})"

    out += ["", "Tables where aekit is at least UMAP's (values rounded to 4 places):", "",
            "| comparison | trust@10 | continuity@10 |", "|---|---|---|"]
    for s in seeds:
        out.append(f"| seed {s} | " + " | ".join(
            wins(lambda t, m, j=j, s=s: val[t, m, s][j] if (t, m, s) in val else None)
            for j in range(2)) + " |")
    out.append("| mean over seeds | " + " | ".join(
        wins(lambda t, m, j=j: means[t, m][j]) for j in range(2)) + " |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--odds", default=ODDS_SETS)
    parser.add_argument("--odds-dir", default=str(ODDS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--eval-rows", type=int, default=5000)
    parser.add_argument("--params", default="{}",
                        help="aekit's settings as JSON (default: its defaults).")
    parser.add_argument("--summarise", default="",
                        help="Result files of this script (comma-separated) to summarise "
                        "together instead of fitting.")
    parser.add_argument("--out", default=str(RESULTS / "reduce_odds_seeds.md"))
    args = parser.parse_args()
    command = ("python benchmarks/bench_reduce_odds_seeds.py "
               + (f"--summarise {args.summarise}" if args.summarise else
                  f"--odds '{args.odds}' --seeds {args.seeds}"
                  + (f" --params '{args.params}'" if args.params != "{}" else ""))
               + f" --out {args.out}")
    lines = ["## ODDS maps over seeds: aekit's default vs UMAP (issue 17)", "",
             f"Command: `nice {command}`", "",
             f"UMAP with its defaults, {aekit_label(json.loads(args.params))}; tables "
             "standardised; torch 1 thread.", ""]

    def flush() -> None:
        Path(args.out).write_text("\n".join(lines) + "\n")

    if args.summarise:
        rows = []
        lines += HEADER
        for path in args.summarise.split(","):
            for line in Path(path).read_text().splitlines():
                m, q = ROW.match(line), QUALITY_ROW.match(line)
                if m:
                    lines.append(line)
                    rows.append((m[1], m[4], int(m[5]), float(m[6]), float(m[7])))
                elif q and q[1] in ODDS_SETS.split(","):
                    method = "UMAP" if q[4] == "UMAP" else "aekit (default)"
                    rows.append((q[1], method, 0, float(q[5]), float(q[6])))
                    lines.append(row_line(q[1], (q[2], q[3]), *rows[-1][1:], float(q[7])))
    else:
        rows = measure(args, lines, flush)
    tail = summary(rows)
    lines += tail
    flush()
    print("\n".join(tail))


if __name__ == "__main__":
    main()
