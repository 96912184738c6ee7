"""Latent-space property optimisation on saved MOSES models, against its starting sample.

What it measures, for the issue's "the best QED found beats the best QED in the training
sample used to fit the property head, with the count of evaluations":

1. The ceiling (``--ceiling-size``): QED and penalised logP of the first N MOSES train
   molecules (max, 99.9th and 99th percentiles, and how many beat the starting
   sample's best), so that "beats its sample" can be read against what MOSES holds.
2. For each ``--run``, ``--property`` and ``--seed``: :meth:`MoleculeVAE.optimize` from
   the first ``--sample`` MOSES train molecules with a budget of ``--budget`` RDKit
   evaluations. The search is the same up to any multiple of its round (100
   evaluations), so the best after each of ``--checkpoints`` evaluations is read off the
   one run's curve. Reported: the best found against the sample's best, the evaluation
   at which a new molecule first beat it, the head's out-of-sample R^2, the wall time,
   and the top molecules, each marked novel or not (in all of MOSES train or not).
3. ``--head off``: the same search with the head's choice switched off
   (``OPT_PROPOSALS = 1``: each round decodes as many codes as it may score, so the
   head picks nothing), to show what the head adds.

Run::

    nice python benchmarks/bench_moses_optimize.py --run /work/cache/i14/run_100k \
        --ceiling-size 0 --out benchmarks/results/moses_optimize.md

Prints and writes the markdown file and a .json beside it.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from moses_common import read_column
from results_file import RESULTS, write_result
from tqdm.auto import tqdm

import aekit.apps.molecules as molecules
from aekit.apps.molecules import MoleculeVAE
from aekit.data.selfies_rings import largest_ring
from aekit.metrics.moses import molecule_property


def ceiling(smiles: list[str], properties: list[str], best: dict[str, float]
            ) -> list[dict[str, Any]]:
    """The top of each property's distribution over ``smiles`` (all maximised here)."""
    rows = []
    for prop in properties:
        values = np.array([molecule_property(s, prop)
                           for s in tqdm(smiles, desc=f"{prop} of MOSES train")])
        top = int(np.argmax(values))
        rows.append({"property": prop, "molecules": len(values), "max": float(values.max()),
                     "argmax": smiles[top], "p99.9": float(np.percentile(values, 99.9)),
                     "p99": float(np.percentile(values, 99)),
                     "above_sample_best": int((values > best[prop]).sum())})
    return rows


def best_at(curve: list[tuple[int, float]], n: int) -> float | None:
    """The best value after ``n`` evaluations (None if the run spent fewer)."""
    return curve[n - 1][1] if len(curve) >= n else None  # curve[k - 1]: after k


def search(run: str, prop: str, seed: int, sample: list[str], budget: int,
           train: set[str], ablation: bool, ring_limit: int) -> dict[str, Any]:
    """One :meth:`MoleculeVAE.optimize` run and what the tables need from it."""
    est = MoleculeVAE.load(run).set_params(random_state=seed, verbose=False)
    if est.max_ring_size_ is None:  # saved before the ring guard: its learned limit
        est.max_ring_size_ = ring_limit
    saved = molecules.OPT_PROPOSALS
    molecules.OPT_PROPOSALS = 1 if ablation else saved
    try:
        t0 = time.perf_counter()
        res = est.optimize(sample, prop, budget=budget)
        seconds = time.perf_counter() - t0
    finally:
        molecules.OPT_PROPOSALS = saved
    return {"run": run, "property": prop, "seed": seed, "ablation": ablation,
            "seconds": seconds, "novel": [s not in train for s, _ in res.top],
            **res.to_dict()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default="/work/cache/moses")
    ap.add_argument("--run", nargs="+", default=["/work/cache/i14/run_100k"],
                    help="saved MoleculeVAE folders")
    ap.add_argument("--property", nargs="+", default=["qed", "penalized_logp"])
    ap.add_argument("--seed", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--sample", type=int, default=500,
                    help="first MOSES train molecules the search starts from")
    ap.add_argument("--budget", type=int, default=5000)
    ap.add_argument("--checkpoints", type=int, nargs="+", default=[100, 500, 1000, 2000, 5000])
    ap.add_argument("--ceiling-size", type=int, default=100000,
                    help="MOSES train molecules of the ceiling table (0: none)")
    ap.add_argument("--head", nargs="+", choices=["on", "off"], default=["on"],
                    help="the head picks what is scored (on) or not (off: an ablation)")
    ap.add_argument("--train-size", type=int, default=100000,
                    help="MOSES train molecules the runs were trained on: a run saved "
                    "before the ring guard gets its limit from them, as in bench_moses.py")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(RESULTS / "moses_optimize.md"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = Path(args.data_dir)
    train_list = read_column(data / "train.csv.gz")
    train = set(train_list)
    sample = train_list[:args.sample]
    sample_best = {p: max(molecule_property(s, p) for s in sample) for p in args.property}
    ring_limit = largest_ring(train_list[:args.train_size])

    rows = [search(run, prop, seed, sample, args.budget, train, head == "off", ring_limit)
            for head in args.head for run in args.run for prop in args.property
            for seed in args.seed]
    ceil = (ceiling(train_list[:args.ceiling_size], args.property, sample_best)
            if args.ceiling_size else [])

    md = ["## MOSES: latent-space property optimisation against its starting sample", "",
          f"`nice python benchmarks/bench_moses_optimize.py {' '.join(sys.argv[1:])}`", "",
          f"Hardware: {platform.processor() or platform.machine()}, a 2-core machine shared "
          f"with other jobs, torch threads {args.threads} (wall times are of that machine). "
          f"`MoleculeVAE.optimize(sample, property, budget={args.budget})` starts from the "
          f"first {args.sample} MOSES train molecules (scored, not counted as evaluations); "
          "each round proposes codes around the 10 best codes so far (perturbed and decoded "
          "greedily, or decoded by sampling at temperature 0.5), drops molecules already "
          "scored, lets the property head pick 100 of the new ones (from up to 500 "
          "decoded) and scores them with RDKit. Best after N evaluations is read off the "
          "run's curve (the search is the same up to every multiple of 100, so it is what "
          "a run with budget N finds). 'beaten at' is the evaluation whose molecule first "
          "had a strictly higher value than the sample's best (ties, e.g. positional "
          "isomers with the same QED, do not count). 'novel' counts top-10 molecules "
          f"absent from all {len(train)} MOSES train molecules.", ""]
    if ceil:
        md += [f"The ceiling: the property over the first {args.ceiling_size} MOSES train "
               "molecules.", "",
               "| property | molecules | max | 99.9th pct | 99th pct | sample's best | "
               "molecules above it | the max molecule |", "|---|---|---|---|---|---|---|---|",
               *[f"| {c['property']} | {c['molecules']} | {c['max']:.4f} | "
                 f"{c['p99.9']:.4f} | {c['p99']:.4f} | {sample_best[c['property']]:.4f} | "
                 f"{c['above_sample_best']} | `{c['argmax']}` |" for c in ceil], ""]
    marks = [n for n in args.checkpoints if n <= args.budget]
    md += ["| model | property | seed | head picks | sample's best | "
           + " | ".join(f"best @{n}" for n in marks)
           + " | beaten at | head R^2 | novel top-10 | seconds |",
           "|---|---|---|---|---|" + "---|" * len(marks) + "---|---|---|---|"]
    for r in rows:
        cells = [f"{v:.4f}" if v is not None else "-" for v in
                 (best_at(r["curve"], n) for n in marks)]
        md.append(f"| {Path(r['run']).name} | {r['property']} | {r['seed']} | "
                  f"{'off' if r['ablation'] else 'on'} | {r['train_best']:.4f} | "
                  + " | ".join(cells)
                  + f" | {r['evaluations_to_beat'] or 'not beaten'} | {r['head_r2']:.3f} | "
                  f"{sum(r['novel'])}/{len(r['novel'])} | {r['seconds']:.0f} |")
    md += ["", "Top molecules (best first; * = in MOSES train):", ""]
    for r in rows:
        if not r["ablation"]:
            md.append(f"- {Path(r['run']).name}, {r['property']}, seed {r['seed']}: " + ", ".join(
                f"`{s}`{'' if new else '*'} {v:.4f}"
                for (s, v), new in zip(r["top"][:3], r["novel"])))
    write_result(args.out, md)
    for r in rows:  # the curve where the best changed (the whole one is 5000 points)
        r["curve"] = [p for i, p in enumerate(r["curve"])
                      if i == 0 or p[1] != r["curve"][i - 1][1]]
    Path(args.out).with_suffix(".json").write_text(json.dumps(
        {"args": vars(args), "sample_best": sample_best, "ceiling": ceil, "runs": rows},
        indent=1))


if __name__ == "__main__":
    main()
