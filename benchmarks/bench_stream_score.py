"""Scoring (``--job detect``) or encoding (``--job reduce``) a large CSV chunk by chunk,
against the same work in memory.

Writes a CSV of ``--rows`` rows (an id column and 8 features; 1 % of the rows shifted off
the normal pattern, with a 0/1 ``is_anomaly`` column) under ``--dir``. Then

- detect: fits a detector on the first 20,000 rows (``aekit detect fit``); in one process
  (``--threads`` torch threads) times ``decision_function`` of the first ``--memory-rows``
  rows held in memory, then of the same rows read from a CSV chunk by chunk
  (``decision_function(path)``), and compares the scores; then runs ``aekit detect score``
  with ``--label-column`` on the first ``n`` rows for each ``n`` of ``--sizes`` (default:
  all ``--rows``), in chunks of 65,536 rows (scores, labels and the top 3 columns of every
  row written as they are computed; AUROC, AUPRC, curves, histogram and top rows gathered
  in fixed memory), measuring its wall time and peak resident memory with
  ``/usr/bin/time``, and compares the scores of the largest run with the in-memory ones;
  with ``--before SRC`` the same commands run again with ``PYTHONPATH=SRC`` (an older
  ``src`` folder, e.g. from ``git archive COMMIT src``) for a before/after table;
- reduce: the same for a reducer (reconstruction objective, fitted on the first 5,000 rows'
  features) and ``aekit reduce --transform`` of a features-only copy of the file.

Deletes the files at the end.

    nice python benchmarks/bench_stream_score.py --rows 10000000 --sizes 1000000,10000000
    nice python benchmarks/bench_stream_score.py --rows 10000000 --dir /work/cache/aekit_score
    nice python benchmarks/bench_stream_score.py --job reduce --rows 10000000
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
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


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS GB, output) of a command."""
    out = subprocess.run(["/usr/bin/time", "-f", "TIME %e %M", *cmd], check=True, env=env,
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


def fit_env() -> dict[str, str]:
    """The environment of the fitting commands: one torch thread (fitting is not what is
    measured, and on a busy 2-core machine two threads spin-wait for each other)."""
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--job", choices=["detect", "reduce"], default="detect",
                    help="detect: results/stream_score.md; reduce: results/"
                         "stream_transform.md")
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--memory-rows", type=int, default=1_000_000,
                    help="rows scored in memory (and from a file) in one process")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads of the in-process measurements (the chunked path "
                         "computes with one thread fewer than torch's default, at least 1)")
    ap.add_argument("--sizes", default=None,
                    help="detect: comma-separated row counts (each <= --rows) to run "
                         "`aekit detect score` on, for peak memory against rows")
    ap.add_argument("--before", default=None, metavar="SRC",
                    help="detect: also run the commands with PYTHONPATH=SRC (older code)")
    ap.add_argument("--title", default="",
                    help="words added to the section's heading (e.g. for a second file)")
    ap.add_argument("--dir", default="/work/cache/aekit_score")
    ap.add_argument("--out", default=None)
    ap.add_argument("--reuse", action="store_true",
                    help="use the rows.csv of --rows rows an interrupted run left in --dir")
    args = ap.parse_args()
    out_file = args.out or str(RESULTS / ("stream_score.md" if args.job == "detect"
                                          else "stream_transform.md"))
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    machine = describe()
    big = folder / "rows.csv"
    m = min(args.memory_rows, args.rows)
    try:
        if not (args.reuse and big.is_file()):
            write_csv(big, args.rows)
        size_gb = big.stat().st_size / 1e9
        sizes = sorted({min(int(n), args.rows) for n in args.sizes.split(",")}) \
            if args.sizes else [args.rows]
        table = detect_job(folder, big, m, args.threads, sizes, args.before) \
            if args.job == "detect" else reduce_job(folder, big, m, args.threads)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    what = "Scoring" if args.job == "detect" else "Encoding"
    title = f", {args.title}" if args.title else ""
    lines = [
        f"## {what} a large CSV chunk by chunk (issue 16 benchmark{title})", "",
        f"Command: `nice python benchmarks/bench_stream_score.py "
        f"{shlex.join(sys.argv[1:])}`", "",
        f"Machine: {machine}. A shared 2-core machine (other jobs ran at the same time), "
        "so times are indicative; in-memory and streamed rates of one row were measured "
        "back to back in one process.",
        f"Data: {args.rows:,} rows, an id, {FEATURES} features and a 0/1 label "
        f"({size_gb:.2f} GB of CSV). In-process rows: the first {m:,} rows with "
        f"{args.threads} torch thread(s); whole-command rows: wall time of the process, "
        "start-up and report included; peak RSS from `/usr/bin/time`; the fits ran with "
        "one torch thread.", *table]
    write_result(out_file, lines)


def detect_job(folder: Path, big: Path, m: int, threads: int, sizes: list[int],
               before: str | None) -> list[str]:
    """In memory vs from a file in one process, then `aekit detect score` on the first
    ``n`` rows for each of ``sizes`` (and with the code in ``before``, if given)."""
    small, part = folder / "fit.csv", folder / "part.csv"
    aekit = [sys.executable, "-m", "aekit"]
    head(big, small, 20_001)
    head(big, part, m + 1)
    subprocess.run([*aekit, "detect", "fit", "--data", str(small), "--out",
                    str(folder / "det"), "--label-column", "is_anomaly",
                    "--id-column", "id", "--n-estimators", "1", "--epochs", "5",
                    # the score the recorded runs used (detect's default before stop 21;
                    # the latent_kth default selects 103 neighbours instead of 10)
                    "--score", "reconstruction+latent", "--quiet"], check=True, env=fit_env())
    det = in_process("detect", folder / "det", part, m, threads,
                     folder / "memory_scores.npy")
    runs = []
    for n in sizes:
        data = big
        if n < count_rows(big):
            data = folder / f"head{n}.csv"
            head(big, data, n + 1)
        for label, src in (("now", None), ("before", before)):
            if label == "before" and src is None:
                continue
            env = None if src is None else {**os.environ, "PYTHONPATH": str(Path(src))}
            out_csv = folder / f"scores_{label}_{n}.csv"
            seconds, peak, out = timed(
                [*aekit, "detect", "score", str(folder / "det"), "--data", str(data),
                 "--out", str(out_csv), "--report", str(folder / f"r_{label}_{n}.html"),
                 "--label-column", "is_anomaly", "--show", "3", "--chunk-rows", "65536"],
                env=env)
            print(out[-1500:])
            metrics = [x.split(":", 1)[1].strip() for x in out.splitlines() if "AUROC" in x]
            same = label == "now" or out_csv.read_bytes() == \
                (folder / f"scores_now_{n}.csv").read_bytes()
            runs.append((label, n, seconds, peak, metrics[0] if metrics else "", same))
            if n == sizes[-1] and label == "now":
                scored = count_rows(out_csv)
                cli_diff = float(np.abs(read_column(out_csv, 10, m)
                                        - np.load(folder / "memory_scores.npy")).max())
        for label in ("now", "before"):
            (folder / f"scores_{label}_{n}.csv").unlink(missing_ok=True)
        if data != big:
            data.unlink()
    lines = [
        "Detector: `aekit detect fit --n-estimators 1 --epochs 5` on the first 20,000 rows "
        "(score: reconstruction + latent k-NN); `aekit detect score --label-column "
        "is_anomaly --chunk-rows 65536 --show 3` also writes the top 3 columns of each row "
        "and the report (score histogram, ROC and precision-recall curves).", "",
        "| path | rows | seconds | rows/s | peak RSS GB | max abs difference from in memory "
        "|", "|---|---|---|---|---|---|",
        f"| `decision_function(array)`, in memory | {det['rows']:,} | {det['memory_s']:.1f} "
        f"| {rate(det['rows'], det['memory_s'])} | | 0 |",
        f"| `decision_function(path)`, chunks of a CSV | {det['rows']:,} | "
        f"{det['file_s']:.1f} | {rate(det['rows'], det['file_s'])} | | "
        f"{det['max_diff']:.1e} |",
        f"| `aekit detect score` (whole command) | {scored:,} | {runs_of(runs, 'now')[-1][2]:.0f}"
        f" | {rate(scored, runs_of(runs, 'now')[-1][2])} | {runs_of(runs, 'now')[-1][3]:.2f} |"
        f" {cli_diff:.1e} (first {m:,} rows, as written with 6 digits) |", "",
        "Peak memory of `aekit detect score` against the number of rows"
        + (f" (before: the code in `{before}`, run the same way; output files compared "
           "byte for byte)" if before else "") + ":", "",
        "| code | rows | seconds | rows/s | peak RSS GB | AUROC, AUPRC |"
        + (" same output as now |" if before else ""),
        "|---|---|---|---|---|---|" + ("---|" if before else "")]
    for label, n, seconds, peak, metrics, same in runs:
        lines.append(f"| {label} | {n:,} | {seconds:.0f} | {rate(n, seconds)} | {peak:.2f} | "
                     f"{metrics} |" + (f" {'yes' if same else 'NO'} |" if before else ""))
    return lines


def runs_of(runs: list[tuple], label: str) -> list[tuple]:
    return [r for r in runs if r[0] == label]


def count_rows(path: Path) -> int:
    """Data rows of a CSV with a header line."""
    with open(path, "rb") as f:
        return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 24), b"")) - 1


def reduce_job(folder: Path, big: Path, m: int, threads: int) -> list[str]:
    """In memory vs from a file in one process, then `aekit reduce --transform` of all
    rows (of a features-only copy: a reducer maps every column of its input)."""
    feats, feats_fit, feats_part = (folder / n for n in
                                    ("feats.csv", "feats_fit.csv", "feats_part.csv"))
    features_only(big, feats)
    big.unlink()
    head(feats, feats_fit, 5_001)
    head(feats, feats_part, m + 1)
    aekit = [sys.executable, "-m", "aekit"]
    subprocess.run([*aekit, "reduce", "--data", str(feats_fit), "--dim", "2", "--epochs", "5",
                    "--objective", "reconstruction", "--out", str(folder / "map.png"),
                    "--quiet"], check=True, env=fit_env())
    red = in_process("reduce", folder / "map_reducer", feats_part, m, threads,
                     folder / "memory_codes.npy")
    seconds, peak, _ = timed(
        [*aekit, "reduce", "--data", str(feats_fit), "--dim", "2", "--epochs", "5",
         "--objective", "reconstruction", "--out", str(folder / "map2.png"), "--transform",
         str(feats), "--transform-out", str(folder / "codes.csv"), "--quiet"],
        env=fit_env())
    with open(folder / "codes.csv") as f:
        encoded = sum(1 for _ in f) - 1
    diff = float(np.abs(read_column(folder / "codes.csv", (0, 1), m)
                        - np.load(folder / "memory_codes.npy")).max())
    return [
        "Reducer: `aekit reduce --dim 2 --epochs 5 --objective reconstruction` (transform "
        "is the encoder either way) on the first 5,000 rows' features; then `--transform` "
        "of every row of the file without its id and label columns.", "",
        "| path | rows | seconds | rows/s | peak RSS GB | max abs difference from in memory "
        "|", "|---|---|---|---|---|---|",
        f"| `transform(array)`, in memory | {red['rows']:,} | {red['memory_s']:.1f} | "
        f"{rate(red['rows'], red['memory_s'])} | | 0 |",
        f"| `transform(path)`, chunks of a CSV | {red['rows']:,} | {red['file_s']:.1f} | "
        f"{rate(red['rows'], red['file_s'])} | | {red['max_diff']:.1e} |",
        f"| `aekit reduce --transform` (whole command, its fit included) | {encoded:,} | "
        f"{seconds:.0f} | {rate(encoded, seconds)} | {peak:.2f} | {diff:.1e} (first "
        f"{m:,} rows, as written) |", "",
        "The whole command ran with one torch thread (`OMP_NUM_THREADS=1`), its fit too."]


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}"


if __name__ == "__main__":
    main()
