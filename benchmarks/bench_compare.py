"""The `aekit compare` leaderboard on digits, with pythae's implementations alongside.

Trains every model of ``--models`` with aekit and, when pythae is installed (the
``bench`` extra), pythae's implementation of each model both libraries have (ae, vae,
beta_vae, iwae, wae), all with the same MLP 64-256-128-(8) architecture, the same
80/20 split of the digits (seed 0), epochs, batch size and learning rate; every row is
scored by the same aekit metric code on the same test digits. Writes the leaderboard
(md, csv, html) to ``--out`` and its table to ``benchmarks/results/compare.md``.

    python benchmarks/bench_compare.py [--epochs 30] [--models vae,beta_vae,iwae,ae,wae]
        [--binarize fixed]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

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
    parser.add_argument("--binarize", choices=["none", "fixed"], default="fixed",
                        help="fixed: binarise the digits once, so nll is a true likelihood")
    parser.add_argument("--out", default="runs/bench_compare")
    parser.add_argument("--results", default=str(RESULTS / "compare.md"))
    args = parser.parse_args()

    models = [m for m in args.models.split(",") if m in available()]
    missing = sorted(set(args.models.split(",")) - set(models))
    peers = ("pythae",) if importlib.util.find_spec("pythae") else ()
    data = load_data("digits")
    machine = describe()
    t0 = time.perf_counter()
    board = compare(models, data, epochs=args.epochs, batch_size=args.batch_size, k=args.k,
                    peers=peers, out_dir=args.out, progress=print,
                    binarize=None if args.binarize == "none" else args.binarize)
    seconds = time.perf_counter() - t0
    paths = write_leaderboard(board, args.out)
    table = paths["md"].read_text().split("\n", 2)[2].strip()  # drop the page title
    notes = [f"Not registered in this checkout (skipped): {', '.join(missing)}."] \
        if missing else []
    if not peers:
        notes.append("pythae is not installed (`pip install 'aekit[bench]'`): aekit rows only.")
    notes.append("train_s: wall-clock seconds on the machine above, which other jobs may "
                 "share (its load average at the start is given); compare them within one "
                 "run only.")
    text = "\n".join([
        "## Leaderboard on digits, aekit vs pythae (issue 4 benchmark)", "",
        f"Command: `python benchmarks/bench_compare.py --epochs {args.epochs} --models "
        f"{args.models} --k {args.k} --binarize {args.binarize}` ({seconds:.0f} s in all).",
        "",
        f"Machine: {machine}.", "",
        table, "", *notes,
    ])
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(text.strip() + "\n")
    print(text)


if __name__ == "__main__":
    main()
