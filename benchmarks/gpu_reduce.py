"""AutoencoderReducer at 1,000,000 rows x 50 on a GPU: fit time, transform rates, map quality.

Self-contained (imports aekit from ../src; needs torch with CUDA, numpy, scipy,
scikit-learn, safetensors, tqdm). Data: 20 Gaussian blobs on a random 10-D subspace of
50-D plus noise (the same generator as bench_reduce.py's scale part). Reports the fit
(graph on 50k rows + parametric UMAP + reconstruction, on the GPU), the reducer's own
``transform`` (CPU, float64, by design) and the fitted encoder run on the GPU in float32,
plus trustworthiness at k=10 and 5-NN accuracy (blob labels) of 5,000 mapped rows.

    python3 benchmarks/gpu_reduce.py --out gpu_reduce.md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.manifold import trustworthiness  # noqa: E402
from sklearn.model_selection import cross_val_score  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402

from aekit.apps.reduce import AutoencoderReducer  # noqa: E402


def blobs(n, seed=0):
    """``n`` rows x 50 and their blob labels."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (20, 10))
    basis = np.linalg.qr(rng.normal(size=(50, 10)))[0]
    labels = rng.integers(20, size=n)
    inner = centres[labels] + rng.normal(size=(n, 10))
    return (inner @ basis.T + 0.1 * rng.normal(size=(n, 50))).astype(np.float32), labels


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--device", default="cuda", help="cpu only for a smoke test")
    parser.add_argument("--epochs", type=int, default=None, help="default: the reducer's")
    args = parser.parse_args()
    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    X, y = blobs(args.rows)
    res = {"rows": args.rows, "cols": 50, "torch": torch.__version__,
           "device": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu"}
    red = AutoencoderReducer(device=args.device, epochs=args.epochs, random_state=0)
    sync()
    t = time.perf_counter()
    red.fit(X)
    sync()
    res["fit_s"] = round(time.perf_counter() - t, 2)
    res["graph_edges"] = int(red.n_graph_edges_)
    query = X[:200_000]
    t = time.perf_counter()
    codes = red.transform(query)
    res["transform_cpu_float64_rows_per_s"] = round(len(query) / (time.perf_counter() - t))
    encoder = red.model_.float().to(dev)
    xs = torch.as_tensor(red._scale(X).astype(np.float32), device=dev)
    with torch.inference_mode():
        encoder.embed(xs[:65536])  # warm-up
        sync()
        t = time.perf_counter()
        gpu_codes = torch.cat([encoder.embed(xs[i:i + 65536]) for i in range(0, len(xs), 65536)])
        sync()
    res["transform_gpu_float32_rows_per_s"] = round(len(xs) / (time.perf_counter() - t))
    res["gpu_vs_cpu_max_abs_diff"] = float(
        np.abs(gpu_codes[:len(codes)].double().cpu().numpy() - codes).max())
    red.model_.cpu().double()
    sub = np.random.default_rng(0).choice(args.rows, 5000, replace=False)
    Z = red.transform(X[sub])
    res["trust@10_5k_rows"] = round(float(trustworthiness(X[sub], Z, n_neighbors=10)), 4)
    res["5nn_acc_5k_rows"] = round(float(
        cross_val_score(KNeighborsClassifier(5), Z, y[sub], cv=5).mean()), 4)
    if dev.type == "cuda":
        res["peak_gpu_mem_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
    lines = ["## AutoencoderReducer on a GPU (benchmarks/gpu_reduce.py)", "",
             "| metric | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in res.items()]
    Path(args.out).write_text("\n".join(lines) + "\n\n```json\n" + json.dumps(res, indent=2)
                              + "\n```\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
