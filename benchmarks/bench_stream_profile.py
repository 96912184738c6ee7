"""Where the time of `aekit detect score` in chunks goes (issue 16 benchmark).

Writes a CSV of ``--rows`` rows as ``bench_stream_score.py`` does (an id, 8 features, a
0/1 label), fits a detector on its first 20,000 rows, then runs ``aekit detect score``
(``--label-column --chunk-rows 65536 --show 3``) in this process under cProfile and
splits the wall time of the command into its parts: scoring (``score_and_explain``),
the top columns, formatting and writing the output rows, reading the labels, the
fixed-memory summary (histogram, top rows, external ranking), the report, and waiting
for the reader thread (the part of parsing the CSV that scoring did not hide). Parsing
alone (the reader thread's work, ``ChunkReader`` with the label column) and the start-up
of ``python -m aekit --help`` are timed separately.

    nice python benchmarks/bench_stream_profile.py --rows 1000000
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench_stream_score import fit_env, head, write_csv
from machine import describe
from results_file import RESULTS, write_result

PARTS = [  # (what, "module:qualified name")
    ("scoring: `score_and_explain`", "aekit.apps.detect:AnomalyDetector.score_and_explain"),
    ("top columns of each row (`top_contributions`)",
     "aekit.metrics.score_summary:top_contributions"),
    ("writing rows (`ChunkWriter.write`)", "aekit.data.chunks:ChunkWriter.write"),
    ("reading labels (`parse_binary_labels`)", "aekit.data.columns:parse_binary_labels"),
    ("summary: histogram, top rows, runs (`ScoreSummary.add`)",
     "aekit.metrics.score_summary:ScoreSummary.add"),
    ("summary: merging the runs (`ScoreSummary.finish`)",
     "aekit.metrics.score_summary:ScoreSummary.finish"),
    ("the report (`write_report`)", "aekit.apps.score_files:write_report"),
    ("waiting for the reader thread", "concurrent.futures:Future.result"),
]


def _code_key(spec: str) -> tuple[str, int, str]:
    """cProfile's key (file, first line, name) of the function ``module:qualname``."""
    import importlib

    module, name = spec.split(":")
    fn = importlib.import_module(module)
    for part in name.split("."):
        fn = getattr(fn, part)
    code = fn.__code__
    return code.co_filename, code.co_firstlineno, code.co_name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dir", default="/tmp/aekit_profile")
    ap.add_argument("--out", default=str(RESULTS / "stream_score_profile.md"))
    args = ap.parse_args()
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    machine = describe()
    try:
        lines = profile(folder, args.rows)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    write_result(args.out, [
        "## Where the time of `aekit detect score` in chunks goes (issue 16 benchmark)", "",
        f"Command: `nice python benchmarks/bench_stream_profile.py "
        f"{' '.join(sys.argv[1:])}`", "",
        f"Machine: {machine}. A shared 2-core machine (other engineers' jobs ran at the same "
        "time), so the seconds are indicative; the shares show where the time goes.",
        f"Data: {args.rows:,} rows as in `bench_stream_score.py`; detector fitted on the "
        "first 20,000 (1 model, 5 epochs). The command ran in one process under cProfile "
        "(which adds its own overhead to Python-level calls); parts are cumulative times "
        "of the main thread.", "", *lines])


def profile(folder: Path, rows: int) -> list[str]:
    from aekit.cli import cli
    from aekit.data.chunks import ChunkReader

    big, small = folder / "rows.csv", folder / "fit.csv"
    write_csv(big, rows)
    head(big, small, 20_001)
    subprocess.run([sys.executable, "-m", "aekit", "detect", "fit", "--data", str(small),
                    "--out", str(folder / "det"), "--id-column", "id", "--label-column",
                    "is_anomaly", "--n-estimators", "1", "--epochs", "5",
                    "--score", "reconstruction+latent", "--quiet"],  # as recorded (pre stop 21)
                   check=True, env=fit_env())
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "aekit", "--help"], check=True,
                   stdout=subprocess.DEVNULL)
    startup = time.perf_counter() - t
    t = time.perf_counter()
    for _ in ChunkReader(big, features=[f"f{j}" for j in range(8)], keep=["is_anomaly"],
                         rows=65_536, text=True):
        pass
    parse = time.perf_counter() - t
    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    try:
        cli.main(["detect", "score", str(folder / "det"), "--data", str(big), "--out",
                  str(folder / "out" / "s.csv"), "--label-column", "is_anomaly",
                  "--chunk-rows", "65536", "--show", "3"], standalone_mode=False)
    finally:
        prof.disable()
    wall = time.perf_counter() - t
    stats = pstats.Stats(prof).stats
    out = ["| part | seconds | share of the command |", "|---|---|---|"]
    known = 0.0
    for what, spec in PARTS:
        entry = stats.get(_code_key(spec))
        seconds = entry[3] if entry else 0.0  # cumulative time
        known += seconds
        out.append(f"| {what} | {seconds:.1f} | {seconds / wall:.0%} |")
    out += [f"| the rest (CLI, checks, progress bar, threads) | {wall - known:.1f} | "
            f"{(wall - known) / wall:.0%} |",
            f"| **whole command, in process** | {wall:.1f} | 100% |", "",
            f"Separately: parsing the CSV alone (`ChunkReader`, 65,536-row chunks, the label "
            f"column and the rows' text; the reader thread's work) {parse:.1f} s "
            f"({rows / parse:,.0f} rows/s); start-up of `python -m aekit --help` "
            f"{startup:.1f} s."]
    return out


if __name__ == "__main__":
    main()
