"""Training on data larger than memory: a memory-mapped .npy bigger than half the RAM.

Writes a synthetic float32 .npy (rows of 256 values near a 8-dimensional manifold) of
``--gb`` gigabytes under ``--dir`` (streamed to disk: never held in memory), trains an MLP
autoencoder on it for one epoch through ``aekit.data.stream.MemmapSource`` and reports
the peak resident memory of the training process. Then compares examples/s of the
in-memory path and the memory-mapped path on a set that fits (``--small-rows`` rows),
each training in its own process, and deletes the files.

    nice python benchmarks/bench_stream.py --gb 13 --dir /work/cache/aekit_stream

Each training runs in a fresh subprocess (``--train``, one torch thread), so its peak RSS
(``VmHWM`` of /proc/self/status, which starts afresh at exec) is its own; a DataLoader
worker's peak is polled from /proc while it runs (it counts the pages it shares with the
training process too).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from machine import describe
from results_file import RESULTS, write_result

DIM, MANIFOLD, HIDDEN, CHUNK = 256, 8, 32, 50_000


def peak_rss_gb(pid: int | str = "self") -> float:
    """The high-water mark of a process's resident memory (VmHWM), in GB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e9
    return 0.0


class ChildPeaks(threading.Thread):
    """Polls the peak RSS of this process's children (DataLoader workers)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak, self.done = 0.0, threading.Event()

    def run(self) -> None:
        me = os.getpid()
        while not self.done.wait(0.5):
            for task in Path(f"/proc/{me}/task").iterdir():
                for pid in (task / "children").read_text().split():
                    with contextlib.suppress(OSError):
                        self.peak = max(self.peak, peak_rss_gb(pid))


def write_npy(path: Path, rows: int, seed: int = 0) -> None:
    """Rows of tanh(z W) + noise, written chunk by chunk after a .npy header."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((MANIFOLD, DIM), dtype=np.float32) / np.sqrt(MANIFOLD)
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f4", "fortran_order": False, "shape": (rows, DIM)})
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            z = rng.standard_normal((n, MANIFOLD), dtype=np.float32)
            x = np.tanh(z @ w) + 0.05 * rng.standard_normal((n, DIM), dtype=np.float32)
            f.write(x.astype(np.float32).tobytes())


def train(path: str, mode: str, batch: int, workers: int, epochs: int) -> dict:
    """One training run in this process; returns its numbers."""
    import torch

    import aekit
    from aekit.data.stream import MemmapSource

    torch.set_num_threads(1)  # two threads stall on a shared 2-core machine
    torch.manual_seed(0)
    children = ChildPeaks()
    children.start()
    data = torch.from_numpy(np.load(path)) if mode == "memory" else MemmapSource(path)
    model = aekit.create("ae", input_shape=(DIM,), latent_dim=MANIFOLD, arch="mlp",
                         hidden_dims=(HIDDEN,), likelihood="gaussian")
    cfg = aekit.TrainConfig(epochs=epochs, batch_size=batch, val_fraction=0.0,
                            workers=workers, progress=sys.stderr.isatty(), seed=0)
    t = time.perf_counter()
    result = aekit.Trainer(cfg).fit(model, data)
    seconds = time.perf_counter() - t
    children.done.set()
    rows = result.history[-1]
    n = len(data)
    return {"mode": mode, "rows": n, "gb": os.path.getsize(path) / 1e9, "workers": workers,
            "batch": batch, "epochs": epochs, "seconds": seconds,
            "examples_per_s": n * epochs / seconds, "loss": rows["loss"],
            "peak_rss_gb": peak_rss_gb(), "workers_peak_rss_gb": children.peak}


def run_child(path: Path, mode: str, batch: int, workers: int, epochs: int) -> dict:
    cmd = [sys.executable, __file__, "--train", str(path), "--mode", mode, "--batch",
           str(batch), "--workers", str(workers), "--epochs", str(epochs)]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    row = json.loads(out.strip().splitlines()[-1])
    print(row, flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--gb", type=float, default=13.0, help="size of the large file")
    ap.add_argument("--dir", default="/work/cache/aekit_stream")
    ap.add_argument("--small-rows", type=int, default=400_000)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--keep", action="store_true", help="keep the files")
    ap.add_argument("--reuse", action="store_true",
                    help="use files a --keep run left (same sizes) instead of writing them")
    ap.add_argument("--out", default=str(RESULTS / "stream.md"))
    ap.add_argument("--train", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="mmap", help=argparse.SUPPRESS)
    ap.add_argument("--workers", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--epochs", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.train:
        print(json.dumps(train(args.train, args.mode, args.batch, args.workers,
                               args.epochs)))
        return

    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    big, small = folder / "big.npy", folder / "small.npy"
    ram_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    machine = describe()
    try:
        t = time.perf_counter()
        for path, rows, seed in ((small, args.small_rows, 1),
                                 (big, int(args.gb * 1e9 / (DIM * 4)), 0)):
            if not (args.reuse and path.is_file()
                    and path.stat().st_size == 128 + rows * DIM * 4):
                write_npy(path, rows, seed)
        print(f"{big}: {big.stat().st_size / 1e9:.1f} GB ready after "
              f"{time.perf_counter() - t:.0f} s", flush=True)
        rows = [run_child(small, "memory", args.batch, 0, 2),
                run_child(small, "mmap", args.batch, 0, 2),
                run_child(small, "mmap", args.batch, 1, 2),
                run_child(big, "mmap", args.batch, 0, 1)]
    finally:
        if not args.keep:
            for p in (big, small):
                p.unlink(missing_ok=True)
    cmd = "nice python benchmarks/bench_stream.py " + " ".join(sys.argv[1:])
    lines = [
        "## Training on data larger than memory (issue 16 benchmark)", "",
        f"Command: `{cmd}`", "",
        f"Machine: {machine}; {ram_gb:.1f} GB RAM. A shared 2-core machine (other "
        "jobs ran at the same time), so the examples/s are indicative.",
        f"Data: float32 rows of {DIM} values near an {MANIFOLD}-dimensional manifold; model: "
        f"MLP autoencoder {DIM}-{HIDDEN}-{MANIFOLD}, Gaussian likelihood, batch {args.batch}. Each "
        "row is one training process; peak RSS is that process's high-water "
        "mark (`VmHWM`), the workers' column its DataLoader worker's (polled; it counts pages "
        "shared with the training process too).", "",
        "| data | path | rows | file GB | epochs | workers | examples/s | "
        "peak RSS GB | worker peak RSS GB | final loss |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {'large' if r['rows'] > args.small_rows else 'fits'} | "
            f"{'in memory' if r['mode'] == 'memory' else 'memory-mapped'} | {r['rows']:,} | "
            f"{r['gb']:.2f} | {r['epochs']} | {r['workers']} | "
            f"{r['examples_per_s']:,.0f} | {r['peak_rss_gb']:.2f} | "
            f"{r['workers_peak_rss_gb']:.2f} | {r['loss']:.2f} |")
    write_result(args.out, lines)
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
