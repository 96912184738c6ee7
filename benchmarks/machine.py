"""What the benchmark scripts say about the machine they ran on."""

from __future__ import annotations

import os
import platform
import time

import torch


def _rate(fn, flop: float, repeat: int, trials: int) -> float:
    fn()
    best = 0.0
    for _ in range(trials):
        t = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = max(best, flop * repeat / (time.perf_counter() - t) / 1e9)
    return best


def matmul_rates(n: int = 2048, repeat: int = 10, trials: int = 5) -> dict[str, float]:
    """GFLOP/s of an n x n x n float32 product (best of ``trials`` timings of ``repeat``),
    through ``torch.mm`` (MKL's sgemm on x86; its AVX2 code on AMD processors) and, where
    torch has it, through oneDNN (``mkldnn._linear_pointwise``, AVX-512 where present)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    rates = {"torch.mm": _rate(lambda: a @ b, 2 * n**3, repeat, trials)}
    op = getattr(getattr(torch.ops, "mkldnn", None), "_linear_pointwise", None)
    if op is not None and torch.backends.mkldnn.is_available():
        with torch.inference_mode():
            rates["oneDNN"] = _rate(lambda: op(a, b, None, "none", [], ""), 2 * n**3,
                                    repeat, trials)
    return rates


def matmul_gflops(n: int = 2048, repeat: int = 10, trials: int = 5) -> float:
    """The machine's float32 matmul rate in GFLOP/s: the faster of the kernels above."""
    return max(matmul_rates(n, repeat, trials).values())


def describe_rates(rates: dict[str, float]) -> str:
    """``torch.mm 212, oneDNN 454 GFLOP/s`` style text."""
    return ", ".join(f"{k} {v:.0f}" for k, v in rates.items()) + " GFLOP/s"


def describe() -> str:
    """CPU, cores, torch threads and version, and the load average now."""
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"{torch.get_num_threads()} torch threads, torch {torch.__version__}, "
            f"load average {os.getloadavg()[0]:.1f} at start")
