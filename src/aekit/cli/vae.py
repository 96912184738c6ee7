"""``aekit vae``: round-trip images through a Stable Diffusion VAE, encode images to latents,
decode latents to images."""

from __future__ import annotations

from pathlib import Path

import click

from aekit.cli._common import writable
from aekit.errors import ConfigError

weights_option = click.option(
    "--weights", required=True, metavar="PATH",
    help="diffusers AutoencoderKL folder, aekit sd_vae folder, or SD .safetensors checkpoint.")
device_option = click.option("--device", default="auto", show_default=True,
                             help="auto, cpu, cuda, mps.")
dtype_option = click.option("--dtype", type=click.Choice(["float32", "float16", "bfloat16"]),
                            default="float32", show_default=True,
                            help="Compute precision (float16 on CUDA only).")
tile_option = click.option("--tile", type=click.IntRange(min=0), default=512, show_default=True,
                           help="Code images larger than this many pixels per side in "
                                "tiles (0: whole images).")
tile_context_option = click.option(
    "--tile-context", type=click.Choice(["image", "tile"]), default=None,
    help="What a tile sees: the whole image (the lowest-resolution layers run whole, the "
         "GroupNorm statistics pooled over the tiles, tiles cropped instead of blended: equal "
         "to coding the image whole, no seams, about 5-10x the time; the default with "
         "tiling), or only itself (as diffusers' enable_tiling: faster, visible seams).")
force_option = click.option("--force", is_flag=True, help="Overwrite existing outputs.")
scaled_option = click.option("--scaled/--unscaled", default=True, show_default=True,
                             help="Latents as a diffusion model sees them: "
                                  "scaling_factor * (z - shift_factor).")


def _tile_context(tile: int, tile_context: str | None) -> str:
    """``--tile-context``, defaulting to the image; refused without tiling."""
    if tile_context is not None and not tile:
        raise ConfigError("--tile-context is used only with tiling (--tile > 0)")
    return tile_context or ("image" if tile else "tile")


@click.group("vae")
def command() -> None:
    """Stable Diffusion VAE: round trip, encode, decode.

    \b
    Examples:
      aekit vae roundtrip photo.png --weights sd-vae-ft-mse --out rt/
      aekit vae encode photo.png --weights sd-vae-ft-mse --out latents.npy
      aekit vae decode latents.npy --weights sd-vae-ft-mse --out decoded/
    """


@command.command("roundtrip")
@click.argument("images", nargs=-1, required=True)
@weights_option
@click.option("--out", required=True, help="Folder for the side-by-side PNGs and report.html.")
@device_option
@dtype_option
@tile_option
@tile_context_option
@force_option
def roundtrip_command(images: tuple[str, ...], weights: str, out: str, device: str, dtype: str,
                      tile: int, tile_context: str | None, force: bool) -> None:
    """Encode and decode IMAGES; print PSNR / SSIM per image and write a report."""
    from aekit.apps.sd_vae import load_vae, roundtrip

    owned = ("report.html", *(f"{Path(i).stem}.png" for i in images))
    out_dir = writable(out, *images, weights, folder=True, owned=owned, force=force)
    model = load_vae(weights, device, dtype, tile, tile_context=_tile_context(tile, tile_context))
    rows = roundtrip(model, images, out_dir)
    for r in rows:
        click.echo(f"{r['image']}  {r['size']}  PSNR {r['psnr']:.2f} dB  SSIM {r['ssim']:.4f}")
    click.echo(f"wrote {out_dir / 'report.html'}")


@command.command("encode")
@click.argument("images", nargs=-1, required=True)
@weights_option
@click.option("--out", required=True, help="Latents file: .npy or .safetensors.")
@click.option("--sample", is_flag=True, help="Draw z ~ q(z|x) instead of the posterior mean.")
@scaled_option
@device_option
@dtype_option
@tile_option
@tile_context_option
@force_option
def encode_command(images: tuple[str, ...], weights: str, out: str, sample: bool, scaled: bool,
                   device: str, dtype: str, tile: int, tile_context: str | None,
                   force: bool) -> None:
    """Encode IMAGES (all of one size) to one latents array (N, c, h, w)."""
    from aekit.apps.sd_vae import LATENT_SUFFIXES, encode_images, load_vae, save_latents

    path = writable(out, *images, weights, suffixes=LATENT_SUFFIXES, force=force)
    model = load_vae(weights, device, dtype, tile, tile_context=_tile_context(tile, tile_context))
    z = encode_images(model, images, sample=sample, scaled=scaled)
    save_latents(z, path)
    click.echo(f"wrote latents {tuple(z.shape)} to {path}")


@command.command("decode")
@click.argument("latents")
@weights_option
@click.option("--out", required=True, help="Folder for the decoded PNGs.")
@scaled_option
@device_option
@dtype_option
@tile_option
@tile_context_option
@force_option
def decode_command(latents: str, weights: str, out: str, scaled: bool, device: str, dtype: str,
                   tile: int, tile_context: str | None, force: bool) -> None:
    """Decode a LATENTS file (.npy or .safetensors) to PNG images."""
    from PIL import Image

    from aekit.apps.sd_vae import decode_file, load_vae

    out_dir = writable(out, latents, weights, folder=True, force=force)
    model = load_vae(weights, device, dtype, tile, tile_context=_tile_context(tile, tile_context))
    x = decode_file(model, latents, scaled=scaled)
    out_dir.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(x):
        a = (img.transpose(1, 2, 0) * 255).round().astype("uint8")
        Image.fromarray(a).save(out_dir / f"{Path(latents).stem}_{i:03d}.png")
    click.echo(f"wrote {len(x)} images to {out_dir}")
