"""SD VAE on a GPU: aekit beside diffusers, same random full-width SD 1.x weights, same input.

    pip install --no-deps /path/to/diffusers-0.42.1-py3-none-any.whl   # if not installed
    python3 benchmarks/gpu_sd_vae.py --out gpu_sd_vae.md

Runs from the repository root (``src/`` is put on the path). For float32, float16 and
bfloat16 it times encode of a 512x512 image and decode of its 64x64 latent (median of 5
after warm-up, CUDA-synchronised), checks the outputs agree, and records the peak CUDA
memory of a 2048x2048 round trip whole and in 512-pixel tiles (float16). Finishes in
well under two minutes on one modern GPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

SD1 = {"block_out_channels": (128, 256, 512, 512), "layers_per_block": 2, "norm_num_groups": 32}


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn, reps: int = 5) -> float:
    fn()
    sync()
    times = []
    for _ in range(reps):
        sync()
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU (a dry run)")
    a = ap.parse_args()
    side, big_side, tile = (64, 128, 64) if a.smoke else (512, 2048, 512)
    from diffusers import AutoencoderKL

    from aekit.models.sd_vae import SDVAE, SDVAEConfig
    from aekit.models.sd_vae_weights import config_from_diffusers, diffusers_key_map

    dev = "cpu" if a.smoke else "cuda"
    torch.manual_seed(0)
    ref = AutoencoderKL(down_block_types=("DownEncoderBlock2D",) * 4,
                        up_block_types=("UpDecoderBlock2D",) * 4, sample_size=512, **SD1).eval()
    ours = SDVAE(SDVAEConfig(**config_from_diffusers({**ref.config,
                                                      "_class_name": "AutoencoderKL"})))
    theirs = ref.state_dict()
    ours.load_state_dict({k: theirs[v] for k, v in diffusers_key_map(ours).items()},
                         strict=False)
    ours.eval()
    rows = []
    x0 = torch.rand(1, 3, side, side, device=dev) * 2 - 1
    z0 = torch.randn(1, 4, side // 8, side // 8, device=dev)
    for name, dtype in [("float32", torch.float32), ("float16", torch.float16),
                        ("bfloat16", torch.bfloat16)]:
        if a.smoke and dtype == torch.float16:
            continue  # float16 convolutions are a CUDA thing
        ref.to(dev, dtype)
        ours.to(dev, dtype)
        x, z = x0.to(dtype), z0.to(dtype)
        with torch.inference_mode():
            diff = float((ours.encode(x).mean.float()
                          - ref.encode(x).latent_dist.mean.float()).abs().max())
            diff = max(diff, float((ours.decode_logits(z).float()
                                    - ref.decode(z).sample.float()).abs().max()))
            for op, fa, fd in [(f"encode {side}", lambda x=x: ours.encode(x),
                                lambda x=x: ref.encode(x)),
                               (f"decode {side // 8}", lambda z=z: ours.decode_logits(z),
                                lambda z=z: ref.decode(z))]:
                ta, td = timed(fa), timed(fd)
                rows.append({"dtype": name, "op": op, "aekit_ms": 1000 * ta,
                             "diffusers_ms": 1000 * td, "ratio": ta / td,
                             "max_abs_diff": diff})
                print(rows[-1], flush=True)
    mem = []
    big_dtype = torch.bfloat16 if a.smoke else torch.float16
    ours.to(dev, big_dtype)
    big = torch.rand(1, 3, big_side, big_side, device=dev, dtype=big_dtype) * 2 - 1
    for mode in ("whole", "tiled", "tiled, tiles see the image"):
        if mode != "whole":
            ours.enable_tiling(tile, context="tile" if mode == "tiled" else "image")
        if not a.smoke:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        t = time.perf_counter()
        try:
            with torch.inference_mode():
                ours.decode_logits(ours.encode(big).mean)
            sync()
            peak = 0.0 if a.smoke else torch.cuda.max_memory_allocated() / 2**30
            mem.append({"mode": mode, "seconds": time.perf_counter() - t, "peak_gib": peak})
        except torch.cuda.OutOfMemoryError:
            mem.append({"mode": mode, "seconds": float("nan"), "peak_gib": float("inf")})
        print(mem[-1], flush=True)
    gpu = "CPU smoke run" if a.smoke else torch.cuda.get_device_name()
    lines = [f"# SD VAE on {gpu} (torch {torch.__version__})", "",
             "`python3 benchmarks/gpu_sd_vae.py --out PATH`", "", "```json",
             json.dumps({"speed": rows, f"{big_side}_roundtrip_{big_dtype}": mem}, indent=1), "```"]
    Path(a.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
