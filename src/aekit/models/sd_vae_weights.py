"""Load Stable Diffusion VAE weights into :class:`aekit.models.sd_vae.SDVAE`.

Two sources, both read with ``safetensors`` (nothing is unpickled on any path):

* a diffusers ``AutoencoderKL`` folder: ``config.json`` (``_class_name: AutoencoderKL``)
  and ``diffusion_pytorch_model.safetensors`` (:func:`load_diffusers`, also reached
  through ``aekit.load(FOLDER)``);
* an original latent-diffusion / Stable Diffusion checkpoint in safetensors, the VAE's
  tensors under ``first_stage_model.`` (a whole SD checkpoint) or at the top level (a
  VAE-only file) (:func:`load_ldm`).

Every tensor of the model's networks is mapped to one name of the file by an explicit
key map (:func:`diffusers_key_map`, :func:`ldm_key_map`); each name must be there with
the model's shape, and every VAE tensor of the file must be used: a missing or extra
name, or a shape that differs, is one error that names it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open

from aekit.errors import AekitError, ConfigError
from aekit.models.sd_vae import SDVAE, SDVAEConfig

__all__ = ["DIFFUSERS_WEIGHTS", "config_from_diffusers", "diffusers_key_map", "ldm_key_map",
           "load_diffusers", "load_ldm", "network_keys", "tensor_shapes"]

DIFFUSERS_WEIGHTS = "diffusion_pytorch_model.safetensors"
NETWORK_PREFIXES = ("encoder.", "decoder.", "quant_conv.", "post_quant_conv.")
LDM_PREFIX = "first_stage_model."

# diffusers' attention names (current, and before diffusers 0.14) for ours
_ATTN = {"norm": ("group_norm", "group_norm"), "q": ("to_q", "query"), "k": ("to_k", "key"),
         "v": ("to_v", "value"), "proj_out": ("to_out.0", "proj_attn")}


def network_keys(model: SDVAE) -> dict[str, torch.Tensor]:
    """The model's network tensors (encoder, decoder, quant convs) by name."""
    return {k: v for k, v in model.state_dict().items() if k.startswith(NETWORK_PREFIXES)}


def _diffusers_name(key: str, levels: int, old_attention: bool) -> str:
    """Our name -> diffusers' name."""
    k = re.sub(r"^encoder\.down\.(\d+)\.block\.", r"encoder.down_blocks.\1.resnets.", key)
    k = re.sub(r"^encoder\.down\.(\d+)\.downsample\.", r"encoder.down_blocks.\1.downsamplers.0.",
               k)
    k = re.sub(r"^decoder\.up\.(\d+)\.",
               lambda m: f"decoder.up.{levels - 1 - int(m.group(1))}.", k)
    k = re.sub(r"^decoder\.up\.(\d+)\.block\.", r"decoder.up_blocks.\1.resnets.", k)
    k = re.sub(r"^decoder\.up\.(\d+)\.upsample\.", r"decoder.up_blocks.\1.upsamplers.0.", k)
    k = re.sub(r"\.mid\.block_1\.", ".mid_block.resnets.0.", k)
    k = re.sub(r"\.mid\.block_2\.", ".mid_block.resnets.1.", k)
    k = re.sub(r"\.mid\.attn_1\.(norm|q|k|v|proj_out)\.",
               lambda m: f".mid_block.attentions.0.{_ATTN[m.group(1)][int(old_attention)]}.", k)
    k = k.replace(".nin_shortcut.", ".conv_shortcut.")
    k = re.sub(r"^(encoder|decoder)\.norm_out\.", r"\1.conv_norm_out.", k)
    return k


def diffusers_key_map(model: SDVAE, old_attention: bool = False) -> dict[str, str]:
    """``{our name: diffusers name}`` for every network tensor of ``model``
    (``old_attention``: the attention names diffusers used before version 0.14)."""
    levels = len(model.config.block_out_channels)
    return {k: _diffusers_name(k, levels, old_attention) for k in network_keys(model)}


def ldm_key_map(model: SDVAE, prefix: str = LDM_PREFIX) -> dict[str, str]:
    """``{our name: original name}``: the original code's names, under ``prefix``."""
    return {k: prefix + k for k in network_keys(model)}


def tensor_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor in a safetensors file (read from its header)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            keys = f.keys()
            return {n: tuple(f.get_slice(n).get_shape()) for n in keys}
    except (SafetensorError, OSError) as e:
        raise AekitError(f"{path}: cannot read safetensors weights ({e})") from None


def _assign(model: SDVAE, key_map: Mapping[str, str], source: Path, prefix: str) -> SDVAE:
    """Copy every mapped tensor of ``source`` into ``model``, checking names and shapes."""
    ours = network_keys(model)
    try:
        with safe_open(str(source), framework="pt") as f:
            names = set(f.keys())
            missing = [theirs for theirs in key_map.values() if theirs not in names]
            if missing:
                raise AekitError(f"{source}: tensor {missing[0]!r} is missing ({len(missing)} "
                                 "missing in all); the file does not hold this VAE")
            spaces = tuple(prefix + p for p in NETWORK_PREFIXES)
            extra = sorted(n for n in names - set(key_map.values()) if n.startswith(spaces))
            if extra:
                raise AekitError(f"{source}: tensor {extra[0]!r} is not part of the model "
                                 f"({len(extra)} extra in all); check the config")
            state: dict[str, torch.Tensor] = {}
            for key, theirs in key_map.items():
                t = f.get_tensor(theirs)
                want = ours[key].shape
                if t.shape != want and t.shape == (*want, 1, 1):  # 1x1 conv -> linear
                    t = t.reshape(want)
                if t.shape != want:
                    raise AekitError(f"{source}: tensor {theirs!r} has shape {tuple(t.shape)}, "
                                     f"the model expects {tuple(want)} ({key})")
                if not t.dtype.is_floating_point or not bool(torch.isfinite(t).all()):
                    raise AekitError(f"{source}: tensor {theirs!r} is not finite floating "
                                     "point")
                state[key] = t.to(ours[key].dtype)
    except (SafetensorError, OSError) as e:
        raise AekitError(f"{source}: cannot read safetensors weights ({e})") from None
    model.load_state_dict(state, strict=False)
    return model


def config_from_diffusers(cfg: Mapping[str, Any], where: str = "config.json") -> dict[str, Any]:
    """SDVAE settings from a diffusers ``AutoencoderKL`` config; refuses what differs."""
    if cfg.get("_class_name") != "AutoencoderKL":
        raise ConfigError(f"{where}: _class_name is {cfg.get('_class_name')!r}, not "
                          "'AutoencoderKL'")
    levels = list(cfg.get("block_out_channels", (64,)))
    down = list(cfg.get("down_block_types", ("DownEncoderBlock2D",)))
    up = list(cfg.get("up_block_types", ("UpDecoderBlock2D",)))
    if set(down) != {"DownEncoderBlock2D"} or set(up) != {"UpDecoderBlock2D"} or \
            len(down) != len(levels) or len(up) != len(levels):
        raise ConfigError(f"{where}: down_block_types {down} / up_block_types {up}: only "
                          f"DownEncoderBlock2D / UpDecoderBlock2D, one per level, are supported")
    if cfg.get("in_channels", 3) != cfg.get("out_channels", 3):
        raise ConfigError(f"{where}: in_channels {cfg.get('in_channels')} differs from "
                          f"out_channels {cfg.get('out_channels')}; sd_vae reconstructs its input")
    for name in ("latents_mean", "latents_std"):
        if cfg.get(name) is not None:
            raise ConfigError(f"{where}: {name} is set; per-channel latent statistics are not "
                              "supported (only scaling_factor and shift_factor)")
    size = cfg.get("sample_size", 32)
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    return {
        "input_shape": (int(cfg.get("in_channels", 3)), int(h), int(w)),
        "latent_channels": int(cfg.get("latent_channels", 4)),
        "block_out_channels": tuple(int(c) for c in levels),
        "layers_per_block": int(cfg.get("layers_per_block", 1)),
        "norm_num_groups": int(cfg.get("norm_num_groups", 32)),
        "activation": str(cfg.get("act_fn", "silu")),
        "mid_attention": bool(cfg.get("mid_block_add_attention", True)),
        "use_quant_conv": bool(cfg.get("use_quant_conv", True)),
        "use_post_quant_conv": bool(cfg.get("use_post_quant_conv", True)),
        "scaling_factor": float(cfg.get("scaling_factor", 0.18215)),
        "shift_factor": (None if cfg.get("shift_factor") is None
                         else float(cfg["shift_factor"])),
    }


def load_diffusers(folder: str | Path, device: str | None = None, **settings: Any) -> SDVAE:
    """An :class:`SDVAE` with the weights of a diffusers ``AutoencoderKL`` folder, in eval
    mode; ``settings`` override or add SDVAE settings (e.g. ``train_encoder=False``)."""
    folder = Path(folder)
    config_path, weights = folder / "config.json", folder / DIFFUSERS_WEIGHTS
    if not config_path.is_file() and (folder / "vae" / "config.json").is_file():
        raise AekitError(f"{folder}: a diffusers pipeline folder; its VAE is in {folder / 'vae'}")
    try:
        cfg = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AekitError(f"{folder}: no config.json here; is this a diffusers VAE "
                         "folder?") from None
    except json.JSONDecodeError as e:
        raise AekitError(f"{config_path}: invalid JSON ({e})") from None
    if not weights.is_file():
        found = sorted(p.name for p in folder.glob("diffusion_pytorch_model*"))
        hint = (f" (found {', '.join(found)}; only .safetensors weights are read, never "
                "pickled .bin files)") if found else ""
        raise AekitError(f"{folder}: no {DIFFUSERS_WEIGHTS}{hint}")
    model = SDVAE(SDVAEConfig(**{**config_from_diffusers(cfg, str(config_path)), **settings}))
    old = any(".attentions.0.query." in k for k in tensor_shapes(weights))
    _assign(model, diffusers_key_map(model, old_attention=old), weights, "")
    if device is not None:
        model.to(device)
    return model.eval()


def _infer_ldm_config(names: Mapping[str, tuple[int, ...]], prefix: str) -> dict[str, Any]:
    """Architecture settings read off the tensor shapes of an original checkpoint."""
    p = prefix + "encoder."
    levels = sorted({int(m.group(1)) for n in names
                     if (m := re.match(re.escape(p) + r"down\.(\d+)\.", n))})
    blocks = {int(m.group(1)) for n in names
              if (m := re.match(re.escape(p) + r"down\.0\.block\.(\d+)\.", n))}
    try:
        widths = tuple(names[f"{p}down.{i}.block.0.conv2.weight"][0] for i in levels)
        in_ch = names[f"{p}conv_in.weight"][1]
        latent = names[f"{prefix}decoder.conv_in.weight"][1]
    except KeyError as e:
        raise AekitError(f"tensor {e.args[0]!r} is missing: not a latent-diffusion "
                         "autoencoder checkpoint") from None
    return {"input_shape": (in_ch, 256, 256), "block_out_channels": widths,
            "layers_per_block": len(blocks), "latent_channels": latent,
            "mid_attention": f"{p}mid.attn_1.q.weight" in names,
            "use_quant_conv": f"{prefix}quant_conv.weight" in names,
            "use_post_quant_conv": f"{prefix}post_quant_conv.weight" in names}


def load_ldm(path: str | Path, device: str | None = None, **settings: Any) -> SDVAE:
    """An :class:`SDVAE` with the VAE of an original Stable Diffusion / latent-diffusion
    checkpoint in safetensors (tensors under ``first_stage_model.``, or a VAE-only file),
    in eval mode. The architecture is read off the tensor shapes; ``settings`` give what
    the file cannot tell: ``scaling_factor`` (0.18215 by default, SDXL 0.13025),
    ``shift_factor``, ``norm_num_groups``, ``input_shape``."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise AekitError(f"{path}: only .safetensors checkpoints are read (a .ckpt or .pt is "
                         "pickled and could run code); convert it to safetensors first")
    if not path.is_file():
        raise AekitError(f"{path}: no such file")
    names = tensor_shapes(path)
    prefix = LDM_PREFIX if any(n.startswith(LDM_PREFIX) for n in names) else ""
    try:
        config = SDVAEConfig(**{**_infer_ldm_config(names, prefix), **settings})
    except AekitError as e:
        raise AekitError(f"{path}: {e}") from None
    model = SDVAE(config)
    _assign(model, ldm_key_map(model, prefix), path, prefix)
    if device is not None:
        model.to(device)
    return model.eval()
