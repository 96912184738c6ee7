"""Scoring and encoding a large CSV chunk by chunk, against the same work in memory.

Writes a CSV of ``--rows`` rows (an id column and 8 features; 1 % of the rows shifted off
the normal pattern, with a 0/1 ``is_anomaly`` column) under ``--dir`` and fits a detector
on its first 20,000 rows with ``aekit detect fit``. Then:

1. in one process (``--threads`` torch threads): ``decision_function`` of the first
   ``--memory-rows`` rows held in memory, then of the same rows read from a CSV chunk by
   chunk (``decision_function(path)``), each timed, and the largest difference between the
   two sets of scores;
2. ``aekit detect score`` on the whole file (chunked: scores, labels and the top 3
   columns of every row written as they are computed), its wall time and peak resident
   memory measured with ``/usr/bin/time``, its scores compared with the in-memory ones;
3. the same for ``aekit reduce --transform`` (a reducer fitted with the reconstruction
   objective on the first 5,000 rows' features, then every row of a features-only copy
   of the file encoded chunk by chunk), with its in-memory ``transform`` rate on
   ``--memory-rows`` rows.

Deletes the files at the end.

    nice python benchmarks/bench_stream_score.py --rows 10000000 --dir /work/cache/aekit_score
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from machine import describe
from results_file import RESULTS, write_result

FEATURES, CHUNK = 8, 500_000
NAMES = [f"f{j}" for j in range(FEATURES)]

IN_PROCESS = r"""
import json, sys, time
import numpy as np, torch
torch.set_num_threads(int(sys.argv[1]))
from aekit.apps.streaming import as_table
kind, fitted, path, n = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
names = [f"f{j}" for j in range(8)]
if kind == "detect":
    from aekit.apps.detect import load_detector
    est = load_detector(fitted)
    method = est.decision_function
    cols, skip = range(1, 9), 1
else:
    from aekit.apps.reduce import AutoencoderReducer
    est = AutoencoderReducer.load(fitted)
    method = est.transform
    cols, skip = range(8), 1
x = np.loadtxt(path, delimiter=",", usecols=cols, skiprows=skip, dtype=np.float32)
data = as_table(x, names) if getattr(est, "feature_names_in_", None) is not None else x
t = time.perf_counter(); memory = method(data); t_mem = time.perf_counter() - t
t = time.perf_counter(); streamed = method(path); t_file = time.perf_counter() - t
np.save(sys.argv[6], memory)
print(json.dumps({"rows": len(x), "memory_s": t_mem, "file_s": t_file,
                  "max_diff": float(np.abs(memory - streamed).max())}))
"""


def write_csv(path: Path, rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((3, FEATURES))
    with open(path, "w") as f:
        f.write("id," + ",".join(NAMES) + ",is_anomaly\n")
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            x = rng.standard_normal((n, 3)) @ w + 0.1 * rng.standard_normal((n, FEATURES))
            bad = rng.random(n) < 0.01
            x[bad] += rng.normal(0, 3, (int(bad.sum()), FEATURES))
            ids = np.arange(start, start + n)
            table = np.column_stack([ids, x, bad.astype(int)])
            np.savetxt(f, table, delimiter=",", fmt=["%d"] + ["%.5f"] * FEATURES + ["%d"])


def head(src: Path, dst: Path, lines: int, cols: slice | None = None) -> None:
    """The first ``lines`` lines of ``src`` (only the fields ``cols``) into ``dst``."""
    with open(src) as f, open(dst, "w") as g:
        for _ in range(lines):
            line = f.readline()
            if not line:
                break
            g.write(line if cols is None else ",".join(line.rstrip("\n").split(",")[cols])
                    + "\n")


def features_only(src: Path, dst: Path) -> None:
    """``src`` without its id and label columns, a block of lines at a time."""
    with open(src) as f, open(dst, "w") as g:
        while block := f.readlines(1 << 24):
            g.writelines(",".join(line.split(",")[1:1 + FEATURES]) + "\n" for line in block)


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS GB, output) of a command."""
    out = subprocess.run(["/usr/bin/time", "-f", "TIME %e %M", *cmd], check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("TIME "))
    _, seconds, kb = line.split()
    return float(seconds), int(kb) * 1024 / 1e9, out


def in_process(kind: str, fitted: Path, path: Path, n: int, threads: int,
               out: Path) -> dict:
    res = subprocess.run([sys.executable, "-c", IN_PROCESS, str(threads), kind, str(fitted),
                          str(path), str(n), str(out)], check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    return json.loads(res.strip().splitlines()[-1])


def read_column(path: Path, column: int | tuple[int, ...], rows: int) -> np.ndarray:
    return np.loadtxt(path, delimiter=",", skiprows=1, max_rows=rows, usecols=column,
                      dtype=np.float64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--memory-rows", type=int, default=1_000_000,
                    help="rows scored in memory (and from a file) in one process")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads of the in-process measurements (the chunked path "
                         "computes with one thread fewer than torch's default, at least 1)")
    ap.add_argument("--dir", default="/work/cache/aekit_score")
    ap.add_argument("--out", default=str(RESULTS / "stream_score.md"))
    ap.add_argument("--reuse", action="store_true",
                    help="score a rows.csv an interrupted run left in --dir")
    args = ap.parse_args()
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    machine = describe()
    big, small = folder / "rows.csv", folder / "fit.csv"
    part = folder / "part.csv"
    aekit = [sys.executable, "-m", "aekit"]
    m = min(args.memory_rows, args.rows)
    try:
        if not (args.reuse and big.is_file()):
            write_csv(big, args.rows)
        head(big, small, 20_001)
        head(big, part, m + 1)
        subprocess.run([*aekit, "detect", "fit", "--data", str(small), "--out",
                        str(folder / "det"), "--label-column", "is_anomaly",
                        "--id-column", "id", "--n-estimators", "1", "--epochs", "5",
                        "--quiet"], check=True)
        det = in_process("detect", folder / "det", part, m, args.threads,
                         folder / "memory_scores.npy")
        seconds, peak, out = timed([*aekit, "detect", "score", str(folder / "det"), "--data",
                                    str(big), "--out", str(folder / "scores.csv"),
                                    "--label-column", "is_anomaly", "--show", "0"])
        print(out[-2000:])
        with open(folder / "scores.csv") as f:
            scored = sum(1 for _ in f) - 1
        cli_diff = float(np.abs(read_column(folder / "scores.csv", 10, m)
                                - np.load(folder / "memory_scores.npy")).max())
        size_gb = big.stat().st_size / 1e9
        (folder / "scores.csv").unlink()

        # reduce: a features-only copy (a reducer maps every column of its input)
        feats, feats_fit, feats_part = (folder / n for n in
                                        ("feats.csv", "feats_fit.csv", "feats_part.csv"))
        features_only(big, feats)
        big.unlink()
        head(feats, feats_fit, 5_001)
        head(feats, feats_part, m + 1)
        r_seconds, r_peak, r_out = timed(
            [*aekit, "reduce", "--data", str(feats_fit), "--dim", "2", "--epochs", "5",
             "--objective", "reconstruction",
             "--out", str(folder / "map.png"), "--transform", str(feats), "--transform-out",
             str(folder / "codes.csv"), "--quiet"])
        with open(folder / "codes.csv") as f:
            encoded = sum(1 for _ in f) - 1
        red = in_process("reduce", folder / "map_reducer", feats_part, m, args.threads,
                         folder / "memory_codes.npy")
        red_cli_diff = float(np.abs(read_column(folder / "codes.csv", (0, 1), m)
                                    - np.load(folder / "memory_codes.npy")).max())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    metrics = [x for x in out.splitlines() if "AUROC" in x or "AUPRC" in x]
    rate = lambda n, s: f"{n / s:,.0f}"
    lines = [
        "## Scoring and encoding a large CSV chunk by chunk (issue 16 benchmark)", "",
        f"Command: `nice python benchmarks/bench_stream_score.py "
        f"{' '.join(sys.argv[1:])}`", "",
        f"Machine: {machine}. A shared 2-core machine (other jobs ran at the same time), "
        "so times are indicative; in-memory and streamed rates of one row were measured "
        "back to back in one process.",
        f"Data: {args.rows:,} rows, an id, {FEATURES} features and a 0/1 label "
        f"({size_gb:.2f} GB of CSV). Detector: `aekit detect fit --n-estimators 1 --epochs "
        "5` on the first 20,000 rows (score reconstruction + latent k-NN); `aekit detect "
        "score` also writes the top 3 columns of each row. Reducer: `aekit reduce --dim 2 "
        "--epochs 5 --objective reconstruction` (transform is the encoder either way) on "
        "the first 5,000 rows' features, then `--transform` of every row "
        "(the file without its id and label columns). In-process rows: the first "
        f"{m:,} rows with {args.threads} torch thread(s); whole-command rows: wall time of "
        "the process, start-up, fitting (reduce) and report included; peak RSS from "
        "`/usr/bin/time`.", "",
        "| job | path | rows | seconds | rows/s | peak RSS GB | max abs difference from "
        "in memory |", "|---|---|---|---|---|---|---|",
        f"| detect | `decision_function(array)`, in memory | {det['rows']:,} | "
        f"{det['memory_s']:.1f} | {rate(det['rows'], det['memory_s'])} | | 0 |",
        f"| detect | `decision_function(path)`, chunks of a CSV | {det['rows']:,} | "
        f"{det['file_s']:.1f} | {rate(det['rows'], det['file_s'])} | | "
        f"{det['max_diff']:.1e} |",
        f"| detect | `aekit detect score` (whole command) | {scored:,} | {seconds:.0f} | "
        f"{rate(scored, seconds)} | {peak:.2f} | {cli_diff:.1e} (first {m:,} rows, as "
        "written, 6 digits) |",
        f"| reduce | `transform(array)`, in memory | {red['rows']:,} | {red['memory_s']:.1f}"
        f" | {rate(red['rows'], red['memory_s'])} | | 0 |",
        f"| reduce | `transform(path)`, chunks of a CSV | {red['rows']:,} | "
        f"{red['file_s']:.1f} | {rate(red['rows'], red['file_s'])} | | "
        f"{red['max_diff']:.1e} |",
        f"| reduce | `aekit reduce --transform` (whole command, fit included) | "
        f"{encoded:,} | {r_seconds:.0f} | {rate(encoded, r_seconds)} | {r_peak:.2f} | "
        f"{red_cli_diff:.1e} (first {m:,} rows, as written) |", "",
        *([f"Scores against the labels: {' '.join(x.split())}" for x in metrics])]
    write_result(args.out, lines)


if __name__ == "__main__":
    main()
