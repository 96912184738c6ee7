"""The GPU numbers: IWAE NLL (K = 1000, 1,000 digits) and VAE training, aekit vs pythae.

Runs the issue-4 likelihood benchmark and the issue-2 training benchmark on a CUDA
device, with both libraries in the same process on the same card:

* IWAE NLL: the VAE of ``bench_iwae_nll.py`` (trained on the CPU with the same seed and
  data), moved to the GPU; aekit's ``iwae_nll`` (its default passes, and 1,000 examples
  per pass) against pythae's ``VAE.get_nll(n_samples=K, batch_size=100)`` on the same
  weights and the same GPU tensor;
* training: the MLP VAE of ``bench_vae_digits.py`` at batch 64 and 1024, aekit (eager and
  ``compile=True``) and pythae's ``TrainingPipeline`` on the GPU.

Each measurement is repeated ``--repeats`` times, interleaved; tables show the median run.
The card's fp32 and tf32 matmul rates are measured first (8192^3 products).

    python benchmarks/bench_gpu.py [--epochs 20] [--repeats 3] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import statistics
import time
from importlib.metadata import PackageNotFoundError, version

import torch
from bench_iwae_nll import pythae_view, train_model
from bench_vae_digits import _sync, compare, split_digits
from results_file import RESULTS, write_result

from aekit.data import load_data
from aekit.metrics import iwae_nll


def matmul_tflops(n: int = 8192, tf32: bool = False) -> float:
    """Median of 10 timed n x n x n float32 products on the GPU, in TFLOP/s."""
    old = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    a, b = torch.randn(n, n, device="cuda"), torch.randn(n, n, device="cuda")
    for _ in range(3):
        a @ b
    times = []
    for _ in range(10):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        a @ b
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    torch.backends.cuda.matmul.allow_tf32 = old
    return 2 * n**3 / statistics.median(times) / 1e12


def timed(fn, device: str):
    """(seconds, result) of ``fn()``, synchronising the device before and after."""
    _sync(device)
    t = time.perf_counter()
    out = fn()
    _sync(device)
    return time.perf_counter() - t, out


def iwae_section(args) -> list[str]:
    data = load_data("digits_flat")
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    test, train = data.subset(perm[:args.n]), data.subset(perm[args.n:])
    model = train_model(train, args.iwae_epochs).to(args.device)
    x = test.x.to(args.device)
    peer = pythae_view(model)
    runs = {
        "aekit `iwae_nll`, defaults (100 examples x 1000 samples per pass)":
            lambda r: iwae_nll(model, x, k=args.k, seed=r),
        "aekit `iwae_nll`, batch_size=1000 (one pass of 10^6 samples)":
            lambda r: iwae_nll(model, x, k=args.k, batch_size=1000, seed=r),
    }
    if peer is not None:
        def pythae_run(r: int) -> float:
            torch.manual_seed(r)
            with torch.inference_mode():
                return -float(peer.get_nll(x, n_samples=args.k, batch_size=100))
        runs[f"pythae {version('pythae')} `VAE.get_nll`, batch_size=100"] = pythae_run
    for run in runs.values():  # warm-up: CUDA context, cuBLAS handles, kernels
        run(99)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for r in range(args.repeats):
        for name, run in runs.items():
            results[name].append(timed(lambda run=run, r=r: run(r), args.device))
            print(f"{name} run {r}: {results[name][-1][0]:.3f} s, "
                  f"{results[name][-1][1]:.3f} nats", flush=True)
    medians = {name: statistics.median(s for s, _ in res) for name, res in results.items()}
    lines = [f"### IWAE NLL, K={args.k}, {args.n} digits, on the GPU", "",
             f"The VAE of `bench_iwae_nll.py` ({args.iwae_epochs} epochs on the other "
             f"{len(train)} digits), moved to the GPU; both libraries score the same weights "
             "on the same GPU tensor.", "",
             "| implementation | median s | -log p(x) estimates (nats), per run |",
             "|---|---|---|"]
    for name, res in results.items():
        lines.append(f"| {name} | {medians[name]:.3f} | "
                     + ", ".join(f"{e:.3f}" for _, e in res) + " |")
    pythae_name = next((n for n in results if n.startswith("pythae")), None)
    if pythae_name:
        ours = min(v for n, v in medians.items() if n != pythae_name)
        lines += ["", f"Speed-up of aekit's faster setting over pythae: "
                  f"{medians[pythae_name] / ours:.0f}x."]
    return lines


def training_section(args) -> list[str]:
    train, test = split_digits()
    lines = [f"### MLP VAE training on digits, on the GPU ({args.epochs} epochs)", "",
             f"{len(train)} train / {len(test)} test digits (seed 0), lr 1e-3; one untimed "
             f"2-epoch warm-up per library, then {args.repeats} interleaved runs; median run; "
             "the ratio is the median of the per-round ratios to pythae. On a GPU "
             "`compile=True` uses CUDA graphs (`mode=\"reduce-overhead\"`).", "",
             "| library | batch | train s | examples/s | vs pythae | test -ELBO | test MSE |",
             "|---|---|---|---|---|---|---|"]
    for name, batch, r, ratio in compare(train, test, args.epochs, args.repeats, 1e-3,
                                         args.device):
        lines.append(f"| {name} | {batch} | {r['seconds']:.2f} | {r['ex_per_s']:.0f} | "
                     f"{ratio} | {r['nelbo']:.2f} | {r['mse']:.4f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="training benchmark epochs")
    parser.add_argument("--iwae-epochs", type=int, default=50, help="epochs of the IWAE model")
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--n", type=int, default=1000, help="examples evaluated")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--device", default="cuda", help="cpu only to try the script out")
    parser.add_argument("--out", default=str(RESULTS / "gpu.md"))
    args = parser.parse_args()
    if args.device == "cpu":
        print("\n".join(iwae_section(args) + training_section(args)))
        return
    if not torch.cuda.is_available():
        raise SystemExit("bench_gpu.py needs a CUDA device (torch.cuda.is_available() is False)")
    try:
        peer = f"pythae {version('pythae')}"
    except PackageNotFoundError:
        peer = "pythae not installed"
    props = torch.cuda.get_device_properties(0)
    fp32, tf32 = matmul_tflops(), matmul_tflops(tf32=True)
    lines = ["## GPU (issues 2 and 4)", "",
             f"Command: `python benchmarks/bench_gpu.py --epochs {args.epochs} "
             f"--repeats {args.repeats}` (run by `bash benchmarks/gpu_check.sh`, which runs "
             "the CUDA tests first and `bench_gpu_steps.py` after).", "",
             f"Device: {props.name} ({props.multi_processor_count} SMs, "
             f"{props.total_memory / 2**30:.0f} GiB), torch {torch.__version__}, {peer}. "
             f"Matmul rate (8192^3): fp32 {fp32:.1f} TFLOP/s, tf32 {tf32:.1f} TFLOP/s; aekit "
             "leaves torch's default (tf32 off for matmuls), so all runs are fp32.", ""]
    print("\n".join(lines), flush=True)
    lines += iwae_section(args) + [""]
    if not args.skip_training:
        lines += training_section(args)
    write_result(args.out, lines)


if __name__ == "__main__":
    main()
