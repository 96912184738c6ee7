"""What the benchmark scripts say about the machine they ran on."""

from __future__ import annotations

import os
import platform
import time

import torch


def matmul_gflops(n: int = 2048, repeat: int = 10, trials: int = 5) -> float:
    """The best of ``trials`` timings of ``repeat`` n x n fp32 matmuls, in GFLOP/s."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = 0.0
    for _ in range(trials):
        t = time.perf_counter()
        for _ in range(repeat):
            a @ b
        best = max(best, 2 * n**3 * repeat / (time.perf_counter() - t) / 1e9)
    return best


def describe() -> str:
    """CPU, cores, torch threads and version, and the load average now."""
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"{torch.get_num_threads()} torch threads, torch {torch.__version__}, "
            f"load average {os.getloadavg()[0]:.1f} at start")
