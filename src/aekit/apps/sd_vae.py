"""Stable Diffusion VAE jobs: round-trip images (PSNR / SSIM, side-by-side report), encode
images to latents and decode latents to images.

Images are read as RGB, mapped to [-1, 1] (the VAE's pixel range) and padded by
reflection to a multiple of the model's factor ``f`` (the padding is cropped off again),
so any image size works; large images go through in tiles when the model's tiling is on
(:meth:`aekit.models.sd_vae.SDVAE.enable_tiling`). Latents are written as ``.npy`` or
``.safetensors`` (tensor ``latents``), scaled as a diffusion model sees them
(``scaling_factor * (z - shift_factor)``) unless ``scaled=False``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from aekit.errors import ConfigError, DataError
from aekit.metrics.reconstruction import psnr, ssim

__all__ = ["DTYPES", "decode_file", "encode_images", "load_latents", "load_vae", "read_image",
           "roundtrip", "save_latents", "to_pixels"]

LATENT_SUFFIXES = (".npy", ".safetensors")
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def load_vae(weights: str | Path, device: str = "auto", dtype: str = "float32",
             tile: int = 0, overlap: float = 0.25, tile_context: str = "tile") -> Any:
    """An SD VAE from a diffusers folder, an aekit ``sd_vae`` folder or an original SD
    ``.safetensors`` checkpoint, on ``device`` in ``dtype``, tiling images larger than
    ``tile`` pixels (0: no tiling) with tiles that see only themselves
    (``tile_context="tile"``, as diffusers) or the whole image (``"image"``, no seams; see
    ``SDVAE.enable_tiling``). Half precision needs a device that runs it (CUDA; bfloat16
    also on CPU)."""
    from aekit.devices import resolve_device
    from aekit.io import load
    from aekit.models.sd_vae_weights import load_ldm

    path = Path(weights)
    if dtype not in DTYPES:
        raise ConfigError(f"dtype={dtype!r} is not one of {sorted(DTYPES)}")
    dev = resolve_device(device)
    if dtype == "float16" and not dev.startswith("cuda"):
        raise ConfigError(f"float16 runs on CUDA only; on {dev} use bfloat16 or float32")
    if path.is_dir():
        model = load(path)
        if model.name != "sd_vae":
            raise ConfigError(f"{path}: holds a {model.name!r} model, not an SD VAE (sd_vae)")
    elif path.suffix == ".safetensors":
        model = load_ldm(path)
    else:
        raise ConfigError(f"--weights {path}: expected a diffusers or aekit model folder, or "
                          "an original Stable Diffusion .safetensors checkpoint")
    model = model.to(dev, DTYPES[dtype]).eval()
    if tile:
        model.enable_tiling(tile, overlap, tile_context)
    elif tile_context != "tile":
        raise ConfigError(f"tile_context={tile_context!r} is used only with tiling (tile > 0)")
    return model


def read_image(path: str | Path) -> torch.Tensor:
    """An image file as ``(1, 3, H, W)`` float32 in [-1, 1]."""
    try:
        with Image.open(path) as im:
            a = np.asarray(im.convert("RGB"), dtype=np.float32)
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(f"{path}: not a readable image ({e})") from None
    return torch.from_numpy(a / 127.5 - 1.0).permute(2, 0, 1).unsqueeze(0).contiguous()


def to_pixels(x: torch.Tensor) -> np.ndarray:
    """``(B, 3, H, W)`` in [-1, 1] -> ``(B, 3, H, W)`` in [0, 1] (clipped), float64."""
    return ((x.detach().double().cpu().clamp(-1, 1) + 1) / 2).numpy()


def _padded(x: torch.Tensor, f: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    ph, pw = (-h) % f, (-w) % f
    if not ph and not pw:
        return x
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


@torch.no_grad()
def _reconstruct(model: Any, x: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    dev = model.device
    dtype = next(model.parameters()).dtype
    q = model.encode(_padded(x, model.config.factor).to(dev, dtype))
    return model.decode_logits(q.mean)[..., :h, :w].float().cpu()


def roundtrip(model: Any, images: Sequence[str | Path], out_dir: str | Path) -> list[dict]:
    """Encode and decode each image (posterior mean); write ``NAME.png`` (original |
    reconstruction) per image and ``report.html`` to ``out_dir``; returns one row per
    image with its ``psnr`` (dB) and ``ssim`` on pixels in [0, 1]."""
    from tqdm.auto import tqdm

    from aekit.report.html import Section, write_report
    from aekit.report.plots import image_strip

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows, pictures = [], []
    for path in tqdm(list(images), desc="round trip", unit="image", disable=len(images) < 2):
        x = read_image(path)
        x_hat = _reconstruct(model, x)
        a, b = to_pixels(x), to_pixels(x_hat)
        row = {"image": Path(path).name, "size": f"{x.shape[3]}x{x.shape[2]}",
               "psnr": psnr(a, b), "ssim": ssim(a, b)}
        rows.append(row)
        pictures.append(image_strip(np.concatenate([a, b]), out / f"{Path(path).stem}.png",
                                    captions=["original", "reconstruction"]))
    write_report(out / "report.html", title="SD VAE round trip", sections=[
        Section("PSNR and SSIM", text="Posterior mean decoded; pixels in [0, 1].", table=rows),
        Section("Original | reconstruction", images=list(pictures))])
    return rows


@torch.no_grad()
def encode_images(model: Any, images: Sequence[str | Path], sample: bool = False,
                  scaled: bool = True) -> torch.Tensor:
    """Latents ``(N, c, h, w)`` of images of one size (posterior means, or samples)."""
    xs = [read_image(p) for p in images]
    sizes = {tuple(x.shape[-2:]) for x in xs}
    if len(sizes) > 1:
        raise DataError(f"images differ in size ({sorted(sizes)}); encode them one by one")
    f = model.config.factor
    if any(s % f for s in next(iter(sizes))):
        raise DataError(f"{images[0]}: size {next(iter(sizes))} is not a multiple of {f}; "
                        "crop or pad it first")
    x = torch.cat(xs).to(model.device)
    if scaled:
        return model.latents(x, sample=sample).cpu()
    q = model.encode(x)
    return (q.rsample() if sample else q.mean).cpu()


def save_latents(latents: torch.Tensor, path: str | Path) -> Path:
    """Write latents to ``.npy`` or ``.safetensors`` (tensor ``latents``)."""
    path = Path(path)
    if path.suffix not in LATENT_SUFFIXES:
        raise ConfigError(f"--out {path}: latents are written as {' or '.join(LATENT_SUFFIXES)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".npy":
        np.save(path, latents.float().numpy())
    else:
        from safetensors.torch import save_file

        save_file({"latents": latents.float().contiguous()}, str(path))
    return path


def load_latents(path: str | Path, channels: int) -> torch.Tensor:
    """Latents ``(N, channels, h, w)`` from ``.npy`` or ``.safetensors`` (a single tensor,
    or one named ``latents``)."""
    path = Path(path)
    if path.suffix == ".npy":
        try:
            z = torch.from_numpy(np.load(path, allow_pickle=False))
        except ValueError as e:
            raise DataError(f"{path}: not a numeric .npy array ({e})") from None
    elif path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            tensors = load_file(str(path))
        except SafetensorError as e:
            raise DataError(f"{path}: cannot read safetensors ({e})") from None
        if "latents" not in tensors and len(tensors) != 1:
            raise DataError(f"{path}: holds {sorted(tensors)}; expected one tensor or one "
                            "named 'latents'")
        z = tensors.get("latents", next(iter(tensors.values())))
    else:
        raise DataError(f"{path}: latents must be .npy or .safetensors")
    if z.ndim == 3:
        z = z.unsqueeze(0)
    if z.ndim != 4 or z.shape[1] != channels or not z.dtype.is_floating_point:
        raise DataError(f"{path}: latents must be float (N, {channels}, h, w); got "
                        f"{z.dtype} {tuple(z.shape)}")
    if not bool(torch.isfinite(z).all()):
        raise DataError(f"{path}: latents contain NaN or inf")
    return z.float()


@torch.no_grad()
def decode_file(model: Any, path: str | Path, scaled: bool = True) -> np.ndarray:
    """Images ``(N, 3, H, W)`` in [0, 1] decoded from a latents file."""
    z = load_latents(path, model.config.latent_channels).to(model.device)
    x = model.decode_latents(z) if scaled else model.decode_logits(z)
    return to_pixels(x)
