"""The `aekit compare` leaderboard on digits, with pythae's implementations alongside.

Trains every model of ``--models`` with aekit and, when pythae is installed (the
``bench`` extra), pythae's implementation of each model both libraries have (ae, vae,
beta_vae, iwae, wae), all with the same MLP 64-256-128-(8) architecture, the same
80/20 split of the digits (seed 0), epochs, batch size and learning rate; every row is
scored by the same aekit metric code on the same test digits. Writes the leaderboard
(md, csv, html) to ``--out`` and its table to ``benchmarks/results/compare.md``.

    python benchmarks/bench_compare.py [--epochs 30] [--models vae,beta_vae,iwae,ae,wae]
        [--binarize fixed]

``--binarize 8bit`` instead keeps the grey levels as 8-bit values ``round(255 x) / 255``
and gives every model the discretised logistic likelihood (``likelihood=
"discretized_logistic"``, initial scale ``--sigma``), a probability over the 256 values,
so ``nll`` is -log P(x) and ``bits_per_dim`` is in the 8-bit convention (aekit rows only:
pythae has no such decoder).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import time
from pathlib import Path

import torch
from machine import describe
from results_file import RESULTS

from aekit.apps.leaderboard import compare, write_leaderboard
from aekit.data import load_data
from aekit.models import available


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="vae,beta_vae,iwae,ae,wae")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--k", type=int, default=1000, help="IWAE samples for the NLL column")
    parser.add_argument("--binarize", choices=["none", "fixed", "8bit"], default="fixed",
                        help="fixed: binarise the digits once, so nll is a true likelihood; "
                             "8bit: 8-bit digits and the discretised logistic likelihood")
    parser.add_argument("--sigma", type=float, default=0.1,
                        help="with --binarize 8bit: the logistic's initial scale")
    parser.add_argument("--out", default="runs/bench_compare")
    parser.add_argument("--results", default=str(RESULTS / "compare.md"))
    args = parser.parse_args()

    models = [m for m in args.models.split(",") if m in available()]
    missing = sorted(set(args.models.split(",")) - set(models))
    peers = ("pythae",) if importlib.util.find_spec("pythae") else ()
    data = load_data("digits")
    settings = None
    if args.binarize == "8bit":
        data = dataclasses.replace(data, x=torch.round(data.x * 255) / 255,
                                   name="digits-8bit")
        settings = {m: {"likelihood": "discretized_logistic", "sigma": args.sigma}
                    for m in models}
        peers = ()
    machine = describe()
    t0 = time.perf_counter()
    board = compare(models, data, epochs=args.epochs, batch_size=args.batch_size, k=args.k,
                    peers=peers, out_dir=args.out, progress=print, model_settings=settings,
                    binarize="fixed" if args.binarize == "fixed" else None)
    seconds = time.perf_counter() - t0
    paths = write_leaderboard(board, args.out)
    table = paths["md"].read_text().split("\n", 2)[2].strip()  # drop the page title
    notes = [f"Not registered in this checkout (skipped): {', '.join(missing)}."] \
        if missing else []
    if args.binarize == "8bit":
        notes.append(
            "Data: the digits' 17 grey levels as 8-bit values round(255 x) / 255 (not "
            "binarised). Every model decodes with the discretised logistic (Salimans et al. "
            "2017; one learned log-scale per pixel, initial scale "
            f"{args.sigma:g}): a probability over the 256 values, so nll is -log P(x) in "
            "nats and bits_per_dim = nll / (64 ln 2) is in the 8-bit convention of image "
            "models. pythae has no such decoder: aekit rows only. These numbers are not "
            "comparable with the binarised table.")
    elif not peers:
        notes.append("pythae is not installed (`pip install 'aekit[bench]'`): aekit rows only.")
    notes.append("train_s: wall-clock seconds on the machine above, which other jobs may "
                 "share (its load average at the start is given); compare them within one "
                 "run only.")
    text = "\n".join([
        "## Leaderboard on 8-bit digits, discretised logistic likelihood (issue 12)"
        if args.binarize == "8bit" else
        "## Leaderboard on digits, aekit vs pythae (issue 4 benchmark)", "",
        f"Command: `python benchmarks/bench_compare.py --epochs {args.epochs} --models "
        f"{args.models} --k {args.k} --binarize {args.binarize}"
        + (f" --sigma {args.sigma:g} --results {args.results}" if args.binarize == "8bit"
           else "") + f"` ({seconds:.0f} s in all).",
        "",
        f"Machine: {machine}.", "",
        table, "", *notes,
    ])
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(text.strip() + "\n")
    print(text)


if __name__ == "__main__":
    main()
