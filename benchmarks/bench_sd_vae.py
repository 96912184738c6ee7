"""SD VAE on the CPU: aekit beside diffusers, tiling, and real images.

    nice python benchmarks/bench_sd_vae.py [--size 256] [--big 2048] [--steps 300]
        [--reps 7] [--threads 1] [--sections speed,tiling,real,seams]

1. speed: encode / decode time of aekit's sd_vae and diffusers' AutoencoderKL on the same
   random full-width SD 1.x weights and the same input (``--reps`` interleaved rounds
   after a warm-up of each, ``--threads`` torch threads for both; medians with the range,
   and the median and range of the per-round ratio);
2. tiling: a ``--big`` square image round-tripped whole and in 512-pixel tiles with a
   reduced-width VAE (widths 32, 64, 64, 64: the full-width 2048 decode is ~40 TFLOP):
   peak resident memory of each (one subprocess per mode), the largest difference away
   from tile borders and along them;
3. real images (scikit-image's astronaut, coffee, chelsea; scikit-learn's china, flower):
   a small sd_vae trained here for ``--steps`` steps on random 64x64 crops of them (random
   weights prove plumbing only), then round-tripped whole; PSNR / SSIM;
4. seams: a full-width SD 1.x sd_vae trained here briefly (``--seam-steps`` steps on
   random ``--seam-crop`` crops of four of those photographs; astronaut held out), then
   astronaut (resized to ``--seam-size``) round-tripped whole and in ``--seam-tile``-pixel
   tiles by aekit and, on the same weights, by diffusers' ``enable_tiling``: tiled vs
   whole max / mean |diff|, PSNR between them, and the edge energy at tile borders.

Writes benchmarks/results/sd_vae_speed.md (speed), sd_vae.md (tiling), sd_vae_real.md
(real images) and sd_vae_seams.md (seams).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

SD1 = {"block_out_channels": (128, 256, 512, 512), "layers_per_block": 2, "norm_num_groups": 32}
NARROW = {"block_out_channels": (32, 64, 64, 64), "layers_per_block": 2, "norm_num_groups": 32}


def diffusers_vae(settings: dict, seed: int = 0):
    from diffusers import AutoencoderKL

    n = len(settings["block_out_channels"])
    torch.manual_seed(seed)
    return AutoencoderKL(down_block_types=("DownEncoderBlock2D",) * n,
                         up_block_types=("UpDecoderBlock2D",) * n, sample_size=512,
                         **settings).eval()


def aekit_twin(ref):
    from aekit.models.sd_vae import SDVAE, SDVAEConfig
    from aekit.models.sd_vae_weights import config_from_diffusers, diffusers_key_map

    model = SDVAE(SDVAEConfig(**config_from_diffusers({**ref.config,
                                                       "_class_name": "AutoencoderKL"})))
    theirs = ref.state_dict()
    model.load_state_dict({k: theirs[v] for k, v in diffusers_key_map(model).items()},
                          strict=False)
    return model.eval()


def interleaved(a, b, reps: int = 5) -> dict[str, list[float]]:
    """Seconds of ``a`` and ``b`` timed in alternation after a warm-up of each, and the
    per-round ratios a / b (fair under a changing machine load)."""
    a()
    b()
    ta, tb = [], []
    for _ in range(reps):
        for fn, times in ((a, ta), (b, tb)):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
    return {"a": ta, "b": tb, "ratio": [x / y for x, y in zip(ta, tb)]}


def spread(values: list[float]) -> str:
    """``median [min, max]``."""
    return f"{statistics.median(values):.3g} [{min(values):.3g}, {max(values):.3g}]"


@torch.inference_mode()
def speed(size: int, reps: int) -> list[dict]:
    ref = diffusers_vae(SD1)
    ours = aekit_twin(ref)
    torch.manual_seed(1)
    x = torch.rand(1, 3, size, size) * 2 - 1
    z = torch.randn(1, 4, size // 8, size // 8)
    rows = []
    for what, a, d in [("encode", lambda: ours.encode(x).mean,
                        lambda: ref.encode(x).latent_dist.mean),
                       ("decode", lambda: ours.decode_logits(z), lambda: ref.decode(z).sample)]:
        diff = float((a() - d()).abs().max())
        t = interleaved(a, d, reps)
        rows.append({"op": what, "aekit_s": spread(t["a"]), "diffusers_s": spread(t["b"]),
                     "ratio aekit/diffusers": spread(t["ratio"]), "max_abs_diff": diff})
    return rows


def big_roundtrip(mode: str, side: int) -> dict:
    """Run in a subprocess: one roundtrip, its output and peak RSS."""
    ref = diffusers_vae(NARROW)
    model = aekit_twin(ref)
    if mode.startswith("tiled"):  # tiled: tiles that see themselves; tiled-image: the image
        model.enable_tiling(512, context="image" if mode == "tiled-image" else "tile")
    torch.manual_seed(2)
    x = torch.rand(1, 3, side, side) * 2 - 1
    t = time.perf_counter()
    with torch.inference_mode():
        out = model.decode_logits(model.encode(x).mean)
    sec = time.perf_counter() - t
    np.save(f"/tmp/sd_vae_{mode}.npy", out.numpy())
    return {"mode": mode, "seconds": sec,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def tiling(side: int) -> tuple[list[dict], list[dict]]:
    rows = []
    for mode in ("whole", "tiled", "tiled-image"):
        res = subprocess.run([sys.executable, __file__, "--child", mode, "--big", str(side)],
                             capture_output=True, text=True, check=True)
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
    whole = np.load("/tmp/sd_vae_whole.npy")
    # 512-px tiles, overlap 0.25: blended tiles start every 384 px and blend over 128;
    # tiles in context own 384-px cores (margin 64) that meet without a band: count 16 px
    # about each core border as border
    bands = {"tiled": (384, 128), "tiled-image": (384, 16)}
    stats = [{"mode": mode, **seam_stats(whole, np.load(f"/tmp/sd_vae_{mode}.npy"), *bands[mode])}
             for mode in bands]
    return rows, stats


def border_mask(n: int, start: int, every: int, before: int, after: int) -> np.ndarray:
    """Pixels ``s - before .. s + after - 1`` about every tile border ``s = start, start +
    every, ...`` of an ``n``-pixel side."""
    mask = np.zeros(n, dtype=bool)
    for s in range(start, n, every):
        mask[max(0, s - before):s + after] = True
    return mask


def borders_of(model, n: int) -> np.ndarray:
    """The tile-border pixels of a decoded side of ``n`` pixels: a blend band and half a
    band either side (``context="tile"``), or 8 pixels either side of where two cores meet
    (``context="image"``)."""
    if model.tile_context == "image":
        core, _ = model._context_plan()
        return border_mask(n, core, core, 8, 8)
    plan = model._tile_plan(decoding=True)
    return border_mask(n, plan.keep, plan.keep, plan.blend // 2, plan.blend + plan.blend // 2)


def seam_stats(whole: np.ndarray, tiled: np.ndarray, rows: np.ndarray,
               cols: np.ndarray) -> dict:
    """Largest |tiled - whole| away from and along tile borders (``rows`` / ``cols``: the
    border pixels of each side, :func:`borders_of`)."""
    err = np.abs(whole - tiled).max(axis=(0, 1))  # (H, W)
    border = rows[:, None] | cols[None, :]
    return {"max_err_away_from_borders": float(err[~border].max()) if (~border).any() else 0,
            "max_err_along_borders": float(err[border].max()), "mean_err": float(err.mean())}


@torch.inference_mode()
def tiled_vs_whole(model, image: np.ndarray, tile: int, context: str,
                   overlap: float = 0.25) -> dict:
    """Seam statistics of a trained model's round trip of one image, tiled (tiles that see
    ``context``: themselves, or the image) vs whole."""
    x = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 127.5 - 1
    f = model.config.factor
    x = x[..., :x.shape[2] // f * f, :x.shape[3] // f * f]
    whole = model.disable_tiling().decode_logits(model.encode(x).mean)
    t0 = time.perf_counter()
    model.enable_tiling(tile, overlap, context=context)
    tiled = model.decode_logits(model.encode(x).mean)
    sec = time.perf_counter() - t0
    rows, cols = borders_of(model, x.shape[2]), borders_of(model, x.shape[3])
    model.disable_tiling()
    return {"image": f"{x.shape[3]}x{x.shape[2]}", "tile_px": tile, "overlap": overlap,
            "context": context, "seconds": round(sec, 1),
            "mean_abs_tiled_vs_whole": float((tiled - whole).abs().mean()),
            **seam_stats(whole.numpy(), tiled.numpy(), rows, cols),
            **edge_energy(whole.numpy(), tiled.numpy(), rows, cols)}


def diffusers_twin(model):
    """diffusers' AutoencoderKL holding ``model``'s weights (the key map read backwards)."""
    from diffusers import AutoencoderKL

    from aekit.models.sd_vae_weights import diffusers_key_map

    c = model.config
    n = len(c.block_out_channels)
    ref = AutoencoderKL(down_block_types=("DownEncoderBlock2D",) * n,
                        up_block_types=("UpDecoderBlock2D",) * n,
                        block_out_channels=c.block_out_channels,
                        layers_per_block=c.layers_per_block, norm_num_groups=c.norm_num_groups,
                        latent_channels=c.latent_channels, sample_size=c.input_shape[1])
    ours = model.state_dict()
    ref.load_state_dict({v: ours[k] for k, v in diffusers_key_map(model).items()}, strict=True)
    return ref.eval()


def edge_energy(whole: np.ndarray, tiled: np.ndarray, rows: np.ndarray,
                cols: np.ndarray) -> dict:
    """Mean |difference of neighbouring pixels| in the tiled output over the same in the
    whole-image output ("edge ratio", 1 = no added edges), across tile borders (a pair of
    neighbours with a border pixel, ``rows`` / ``cols`` as :func:`seam_stats`) and
    elsewhere. A visible seam shows as a ratio above 1 at the borders only."""
    at, away = [], []
    for axis, mask in ((2, rows), (3, cols)):
        dt = np.abs(np.diff(tiled, axis=axis)).mean(axis=tuple(a for a in range(4) if a != axis))
        dw = np.abs(np.diff(whole, axis=axis)).mean(axis=tuple(a for a in range(4) if a != axis))
        border = mask[:-1] | mask[1:]  # dt[r] is between pixels r and r + 1
        at.append((dt[border], dw[border]))
        away.append((dt[~border], dw[~border]))
    ratio = lambda parts: float(sum(t.sum() for t, _ in parts) / sum(w.sum() for _, w in parts))
    return {"edge_ratio_at_borders": ratio(at), "edge_ratio_elsewhere": ratio(away)}


def seams(steps: int, crop: int, size: int, tile: int, lr: float,
          overlap: float) -> tuple[list[dict], float, float]:
    """Tiled vs whole round trips of held-out astronaut through a briefly trained
    full-width SD 1.x sd_vae: aekit's tiles that see themselves and diffusers' tiling on
    the same weights (overlap 0.25, as diffusers), and aekit's tiles that see the image
    (``overlap``)."""
    from PIL import Image

    from aekit.metrics.reconstruction import psnr

    imgs = real_images()
    held = imgs.pop("astronaut")
    t0 = time.perf_counter()
    model = train_on_crops(imgs, steps, crop=crop, lr=lr, batch=4, **SD1)
    train_s = time.perf_counter() - t0
    ref = diffusers_twin(model)
    im = np.asarray(Image.fromarray(held).resize((size, size), Image.LANCZOS))
    x = torch.from_numpy(im.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    pix = lambda t: ((t.double().clamp(-1, 1) + 1) / 2).numpy()
    masks, outs, secs = {}, {}, {}
    with torch.inference_mode():
        whole = model.disable_tiling().decode_logits(model.encode(x).mean)
        for name, ov, context in (("aekit, tiles see themselves", 0.25, "tile"),
                                  ("aekit, tiles see the image", overlap, "image")):
            model.enable_tiling(tile, ov, context=context)
            t = time.perf_counter()
            outs[name] = model.decode_logits(model.encode(x).mean)
            secs[name] = time.perf_counter() - t
            masks[name] = borders_of(model, size)
        masks["diffusers"] = masks["aekit, tiles see themselves"]
        ref.tile_sample_min_size, ref.tile_latent_min_size = tile, tile // 8
        ref.enable_tiling()
        t = time.perf_counter()
        outs["diffusers"] = ref.decode(ref.encode(x).latent_dist.mean).sample
        secs["diffusers"] = time.perf_counter() - t
        model.disable_tiling()
    rows = []
    w = whole.numpy()
    for name in ("aekit, tiles see themselves", "diffusers", "aekit, tiles see the image"):
        tiled = outs[name].numpy()
        diff = np.abs(w - tiled)
        rows.append({"tiling": name, "seconds": round(secs[name], 1),
                     "psnr_whole_vs_image": psnr(pix(x), pix(whole)),
                     "psnr_tiled_vs_image": psnr(pix(x), pix(outs[name])),
                     "max_abs_tiled_vs_whole": float(diff.max()),
                     "mean_abs_tiled_vs_whole": float(diff.mean()),
                     "psnr_tiled_vs_whole": psnr(pix(whole), pix(outs[name])),
                     **seam_stats(w, tiled, masks[name], masks[name]),
                     **edge_energy(w, tiled, masks[name], masks[name])})
    same = float((outs["aekit, tiles see themselves"] - outs["diffusers"]).abs().max())
    return rows, train_s, same


def real_images() -> dict[str, np.ndarray]:
    from skimage import data
    from sklearn.datasets import load_sample_images

    imgs = {n: getattr(data, n)() for n in ("astronaut", "coffee", "chelsea")}
    sk = load_sample_images()
    imgs.update({"china": sk.images[0], "flower": sk.images[1]})
    return imgs


def train_on_crops(imgs: dict[str, np.ndarray], steps: int, crop: int = 64,
                   lr: float = 1e-3, batch: int = 8, **settings):
    """An sd_vae (``settings``) trained for ``steps`` Adam steps on batches of random
    ``crop x crop`` crops of ``imgs``, L1 reconstruction."""
    from tqdm.auto import tqdm

    import aekit

    torch.manual_seed(0)
    model = aekit.create("sd_vae", input_shape=(3, crop, crop), recon="l1", sigma=0.1,
                         **settings)
    opt = torch.optim.Adam([p for g in model.parameter_groups().values() for p in g], lr=lr)
    xs = [torch.from_numpy(np.array(a)).permute(2, 0, 1).float() / 127.5 - 1
          for a in imgs.values()]
    g = torch.Generator().manual_seed(0)
    model.train()
    for _ in tqdm(range(steps), desc="train sd_vae on crops"):
        parts = []
        for _ in range(batch):
            x = xs[int(torch.randint(len(xs), (1,), generator=g))]
            i = int(torch.randint(x.shape[1] - crop, (1,), generator=g))
            j = int(torch.randint(x.shape[2] - crop, (1,), generator=g))
            parts.append(x[:, i:i + crop, j:j + crop])
        loss = model.loss(torch.stack(parts))
        opt.zero_grad()
        loss.total.backward()
        opt.step()
    return model.eval()


SMALL = {"block_out_channels": (32, 64, 64), "layers_per_block": 1, "norm_num_groups": 16}


def quality(model, imgs: dict[str, np.ndarray], out_dir: Path) -> list[dict]:
    from PIL import Image

    from aekit.apps.sd_vae import roundtrip

    paths = []
    for name, a in imgs.items():
        p = out_dir / f"{name}.png"
        Image.fromarray(a).save(p)
        paths.append(p)
    return roundtrip(model, paths, out_dir / "roundtrip")


def table(rows: list[dict]) -> str:
    keys = list(rows[0])
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)
    return "\n".join(["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
                     + ["| " + " | ".join(fmt(r[k]) for k in keys) + " |" for r in rows])


def write(path: str, lines: list[str]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(lines) + "\n")
    print(f"wrote {path}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--reps", type=int, default=7, help="interleaved rounds of the speed test")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (both libraries)")
    ap.add_argument("--big", type=int, default=2048)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--seam-steps", type=int, default=30)
    ap.add_argument("--seam-crop", type=int, default=32)
    ap.add_argument("--seam-lr", type=float, default=3e-4)
    ap.add_argument("--seam-size", type=int, default=256)
    ap.add_argument("--seam-tile", type=int, default=128)
    ap.add_argument("--seam-overlap", type=float, default=0.5,
                    help="overlap of the tiles that see the image in the seams section")
    ap.add_argument("--sections", default="speed,tiling,real,seams",
                    help="comma-separated: speed (-> results/sd_vae_speed.md), tiling "
                         "(-> results/sd_vae.md), real "
                         "(-> results/sd_vae_real.md), seams (-> results/sd_vae_seams.md)")
    ap.add_argument("--child", default=None, choices=["whole", "tiled", "tiled-image"])
    ap.add_argument("--results", default="benchmarks/results")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.child:
        print(json.dumps(big_roundtrip(a.child, a.big)))
        return
    sections = set(a.sections.split(","))
    load0 = os.getloadavg()[0]
    command = (f"`nice python benchmarks/bench_sd_vae.py --size {a.size} --reps {a.reps} "
               f"--threads {a.threads} --big {a.big} --steps {a.steps} --seam-steps "
               f"{a.seam_steps} --seam-crop {a.seam_crop} --seam-lr {a.seam_lr} --seam-size "
               f"{a.seam_size} --seam-tile {a.seam_tile} --seam-overlap {a.seam_overlap} "
               f"--sections {a.sections}`")

    def machine() -> str:
        return (f"Machine: {a.threads} torch thread(s) for both libraries, torch "
                f"{torch.__version__}, run with nice on a 2-core machine shared with "
                f"three other engineers' jobs (load average {load0:.1f} at the start, "
                f"{os.getloadavg()[0]:.1f} at the end): absolute seconds are noisy.")

    if "speed" in sections:
        rows = speed(a.size, a.reps)
        write(f"{a.results}/sd_vae_speed.md", [
            f"### SD VAE speed beside diffusers, CPU: full-width SD 1.x, random weights, one "
            f"{a.size}x{a.size} image (issue 15 benchmark)", "", command, "", machine(), "",
            f"{a.reps} interleaved rounds after a warm-up of each; median [min, max] seconds "
            "and the median [min, max] of the per-round ratio (which means more than the "
            "seconds under a changing load); max_abs_diff: largest "
            "difference between the two libraries' outputs.", "", table(rows), ""])
        print(table(rows), flush=True)
    lines = ["## Stable Diffusion VAE, CPU (issue 15 benchmark)", "", command, ""]
    if "tiling" in sections:
        trows, stats = tiling(a.big)
        lines += [f"### {a.big}x{a.big} round trip, whole vs 512-px tiles (reduced widths "
                  f"{NARROW['block_out_channels']}, random weights)", "", machine(), "",
                  table(trows), "", table(stats), "",
                  "Modes: whole; tiled (512-px tiles that see only themselves, as "
                  "diffusers' tiling); tiled-image (tiles that see the image: middle block "
                  "whole, the image's GroupNorm statistics, 384-px cores kept). Random "
                  "weights: the middle block's attention is global, so tiles that see only "
                  "themselves differ from the whole image everywhere.", ""]
        print(table(trows), table(stats), sep="\n", flush=True)
        write(f"{a.results}/sd_vae.md", lines)
    if "real" in sections:
        imgs = real_images()
        model = train_on_crops(imgs, a.steps, **SMALL)
        out_dir = Path("/tmp/sd_vae_bench")
        out_dir.mkdir(exist_ok=True)
        q = quality(model, imgs, out_dir)
        seam = [tiled_vs_whole(model, imgs["astronaut"], 128, context, overlap)
                for overlap in (0.25, 0.5) for context in ("tile", "image")]
        write(f"{a.results}/sd_vae_real.md", [
            "### SD VAE: real images (issue 15 benchmark)", "", command, "", machine(), "",
            f"scikit-image's astronaut, coffee, chelsea and scikit-learn's china, flower, "
            f"round-tripped whole through a small sd_vae trained here ({a.steps} Adam steps "
            "on batches of 8 random 64x64 crops of these same images; widths (32, 64, 64), "
            "f = 4, L1 reconstruction). Random weights prove plumbing only; this model "
            "shows the pipeline on real pixels, it is not Stable Diffusion's VAE.", "",
            table(q), "",
            "The same model on astronaut, encoded and decoded whole and in 128-pixel tiles "
            "overlapping by a quarter or a half of a tile: tiles that see only themselves "
            "(context tile, diffusers' tiling: each tile's own GroupNorm statistics and "
            "attention, overlaps blended) or the image (context image: the middle block "
            "whole, the image's GroupNorm statistics, cores with half the overlap as "
            "margin kept); seconds for the tiled encode + decode; pixels in [-1, 1]; "
            "borders: a blend band and half a band either side, or 8 pixels either side "
            "of where two cores meet; edge ratio: mean |neighbour difference| of the tiled "
            "output over that of the whole output, across the borders and elsewhere (1 = "
            "no added edges):", "", table(seam), ""])
        print(table(q), table(seam), sep="\n", flush=True)
    if "seams" in sections:
        rows, train_s, same = seams(a.seam_steps, a.seam_crop, a.seam_size, a.seam_tile,
                                    a.seam_lr, a.seam_overlap)
        write(f"{a.results}/sd_vae_seams.md", [
            "### SD VAE: seams of tiled coding, full-width SD 1.x (issue 15 benchmark)", "",
            command, "", machine(), "",
            f"A full-width SD 1.x sd_vae (widths 128, 256, 512, 512; 84 M weights) trained "
            f"here only briefly: {a.seam_steps} Adam steps (lr {a.seam_lr}) on batches of 4 "
            f"random {a.seam_crop}x{a.seam_crop} crops of scikit-image's coffee and chelsea "
            f"and scikit-learn's china and flower, L1 reconstruction ({train_s / 60:.0f} "
            "min on this machine). It is not Stable Diffusion's VAE (those weights cannot be "
            "downloaded here) and reconstructs poorly; it is the best honestly available "
            "stand-in, better than random weights because its activations have a trained "
            "scale.", "",
            f"Held-out scikit-image astronaut, resized to {a.seam_size}x{a.seam_size}, "
            f"encoded (posterior mean) and decoded whole and in {a.seam_tile}-pixel tiles: "
            "tiles that see only themselves, blended over a quarter tile, by aekit and by "
            "diffusers' `enable_tiling` on the same weights; and aekit's tiles that see the "
            f"image (overlap {a.seam_overlap}, half of it as margin). Seconds for the tiled "
            "encode + decode; differences on pixels in [-1, 1]; PSNR on pixels in [0, 1]; "
            "borders as in sd_vae_real.md; edge ratio: mean |neighbour difference| of the "
            "tiled output over that of the whole output, across the borders and elsewhere "
            "(1 = no added edges).", "",
            table(rows), "",
            f"aekit's tiled output and diffusers' tiled output differ by at most {same:.2g}.",
            ""])
        print(table(rows), same, sep="\n", flush=True)


if __name__ == "__main__":
    main()
