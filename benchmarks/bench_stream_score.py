"""``aekit detect score`` on a 10-million-row CSV: time and peak memory.

Writes a CSV of ``--rows`` rows (an id column and 8 features; 1 % of the rows shifted
off the normal pattern, with a 0/1 ``is_anomaly`` column) under ``--dir``, fits a detector
on its first 20,000 rows with ``aekit detect fit``, then scores the whole file with
``aekit detect score`` (which reads and writes it in chunks), measuring that process's
wall time and peak resident memory with ``/usr/bin/time``; deletes the files.

    nice python benchmarks/bench_stream_score.py --rows 10000000 --dir /work/cache/aekit_score
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from machine import describe
from results_file import RESULTS, write_result

FEATURES, CHUNK = 8, 500_000


def write_csv(path: Path, rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((3, FEATURES))
    with open(path, "w") as f:
        f.write("id," + ",".join(f"f{j}" for j in range(FEATURES)) + ",is_anomaly\n")
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            x = rng.standard_normal((n, 3)) @ w + 0.1 * rng.standard_normal((n, FEATURES))
            bad = rng.random(n) < 0.01
            x[bad] += rng.normal(0, 3, (int(bad.sum()), FEATURES))
            ids = np.arange(start, start + n)
            table = np.column_stack([ids, x, bad.astype(int)])
            np.savetxt(f, table, delimiter=",", fmt=["%d"] + ["%.5f"] * FEATURES + ["%d"])


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS GB, output) of a command."""
    out = subprocess.run(["/usr/bin/time", "-f", "TIME %e %M", *cmd], check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("TIME "))
    _, seconds, kb = line.split()
    return float(seconds), int(kb) * 1024 / 1e9, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--dir", default="/work/cache/aekit_score")
    ap.add_argument("--out", default=str(RESULTS / "stream_score.md"))
    ap.add_argument("--reuse", action="store_true",
                    help="score a rows.csv an interrupted run left in --dir")
    args = ap.parse_args()
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    machine = describe()
    big, small = folder / "rows.csv", folder / "fit.csv"
    aekit = [sys.executable, "-m", "aekit"]
    try:
        if not (args.reuse and big.is_file()):
            write_csv(big, args.rows)
        with open(big) as f, open(small, "w") as g:
            for _ in range(20_001):
                g.write(f.readline())
        subprocess.run([*aekit, "detect", "fit", "--data", str(small), "--out",
                        str(folder / "det"), "--label-column", "is_anomaly",
                        "--id-column", "id", "--n-estimators", "1", "--epochs", "5",
                        "--quiet"], check=True)
        seconds, peak, out = timed([*aekit, "detect", "score", str(folder / "det"), "--data",
                                    str(big), "--out", str(folder / "scores.csv"),
                                    "--label-column", "is_anomaly", "--show", "0"])
        print(out)
        with open(folder / "scores.csv") as f:
            scored = sum(1 for _ in f) - 1
        size_gb = big.stat().st_size / 1e9
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    metrics = [x for x in out.splitlines() if "AUROC" in x or "AUPRC" in x]
    lines = ["## `aekit detect score` on a 10-million-row CSV (issue 16 benchmark)", "",
             f"Command: `nice python benchmarks/bench_stream_score.py "
             f"{' '.join(sys.argv[1:])}`", "",
             f"Machine: {machine}. A shared 2-core machine (other jobs ran at the same "
             "time), so times are indicative.",
             f"Data: {args.rows:,} rows, an id, {FEATURES} features and a 0/1 label "
             f"({size_gb:.2f} GB of CSV); detector: `aekit detect fit --n-estimators 1 "
             "--epochs 5` on the first 20,000 rows; scoring adds the top 3 columns of each "
             "row (default `--top 3`).", "",
             "| rows scored | wall s | rows/s | peak RSS GB |", "|---|---|---|---|",
             f"| {scored:,} | {seconds:.0f} | {scored / seconds:,.0f} | {peak:.2f} |", "",
             *([f"Scores against the labels: {' '.join(m.split())}" for m in metrics])]
    write_result(args.out, lines)


if __name__ == "__main__":
    main()
