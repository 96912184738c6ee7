"""sd_vae: the Stable Diffusion VAE equals diffusers' AutoencoderKL on the same weights
(its defining property), loads diffusers folders and original checkpoints with checked
key maps, tiles large images, and trains (whole, or the decoder alone) like every model."""

import json
import math

import pytest
import torch
from diffusers import AutoencoderKL
from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint
from safetensors.torch import load_file, save_file

import aekit
from aekit.errors import AekitError, ConfigError, DataError
from aekit.models.sd_vae import SDVAE, SDVAEConfig
from aekit.models.sd_vae_weights import (
    config_from_diffusers,
    diffusers_key_map,
    load_diffusers,
    load_ldm,
)

SD1 = {"block_out_channels": (128, 256, 512, 512), "layers_per_block": 2, "latent_channels": 4,
       "norm_num_groups": 32, "sample_size": 512, "scaling_factor": 0.18215}
SMALL = {"block_out_channels": (32, 64, 64), "layers_per_block": 1, "latent_channels": 4,
         "norm_num_groups": 8, "sample_size": 32, "shift_factor": 0.1}
TOL = 1e-4


def _diffusers_vae(settings: dict, folder=None, seed: int = 0) -> AutoencoderKL:
    """A diffusers AutoencoderKL with random weights (norms too), saved to ``folder``."""
    n = len(settings["block_out_channels"])
    torch.manual_seed(seed)
    vae = AutoencoderKL(down_block_types=("DownEncoderBlock2D",) * n,
                        up_block_types=("UpDecoderBlock2D",) * n, **settings).eval()
    with torch.no_grad():
        for p in vae.parameters():
            p.add_(0.05 * torch.randn_like(p))
    if folder is not None:
        vae.save_pretrained(folder)
    return vae


def _max(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


@pytest.fixture(scope="module")
def full_width() -> AutoencoderKL:
    """Stable Diffusion's VAE architecture at full width (84 M random weights), built once;
    norms and biases perturbed so that a swapped name cannot hide behind ones and zeros."""
    torch.manual_seed(0)
    vae = AutoencoderKL(down_block_types=("DownEncoderBlock2D",) * 4,
                        up_block_types=("UpDecoderBlock2D",) * 4, **SD1).eval()
    with torch.no_grad():
        for p in vae.parameters():
            if p.ndim == 1:
                p.add_(0.05 * torch.randn_like(p))
    return vae


def _check_parity(ref: AutoencoderKL, model, size, seed: int = 1) -> None:
    """encode mean / std, decode and the scaled latents equal diffusers' within TOL."""
    torch.manual_seed(seed)
    x = torch.rand(2, 3, *size) * 2 - 1
    f = 2 ** (len(ref.config.block_out_channels) - 1)
    with torch.no_grad():
        q_ref, q = ref.encode(x).latent_dist, model.encode(x)
        assert q.mean.shape == q_ref.mean.shape == (2, 4, size[0] // f, size[1] // f)
        assert _max(q.mean, q_ref.mean) <= TOL and _max(q.std, q_ref.std) <= TOL
        z = q_ref.mean + 0.5 * torch.randn_like(q_ref.mean)
        assert _max(model.decode_logits(z), ref.decode(z).sample) <= TOL
        shift = ref.config.shift_factor or 0.0  # what a diffusion model sees, and back
        lat = model.latents(x)
        assert _max(lat, (q_ref.mean - shift) * ref.config.scaling_factor) <= TOL
        assert _max(model.decode_latents(lat), ref.decode(q_ref.mean).sample) <= TOL


@pytest.mark.parametrize("scaling", [0.18215, 0.13025], ids=["sd1", "sdxl"])
def test_full_width_sd_and_sdxl_vaes_equal_diffusers(full_width, scaling):
    full_width.register_to_config(scaling_factor=scaling)
    cfg = {**full_width.config, "_class_name": "AutoencoderKL"}
    model = SDVAE(SDVAEConfig(**config_from_diffusers(cfg)))
    assert model.config.scaling_factor == scaling
    theirs = full_width.state_dict()
    model.load_state_dict({k: theirs[v] for k, v in diffusers_key_map(model).items()},
                          strict=False)
    _check_parity(full_width, model.eval(), (16, 24))


@pytest.mark.parametrize("settings", [SMALL, {**SMALL, "scaling_factor": 0.13025,
                                              "shift_factor": None}], ids=["shift", "sdxl"])
def test_a_diffusers_folder_loads_and_equals_diffusers_at_96x160(tmp_path, settings):
    ref = _diffusers_vae(settings, tmp_path)
    model = aekit.load(tmp_path)
    assert model.name == "sd_vae" and model.config.shift_factor == settings["shift_factor"]
    _check_parity(ref, model, (96, 160))


def test_tiled_and_sliced_coding_equal_diffusers_enable_tiling(tmp_path):
    ref = _diffusers_vae(SMALL, tmp_path)
    ref.enable_tiling()
    ref.enable_slicing()
    model = load_diffusers(tmp_path).enable_tiling(32).enable_slicing()
    x = torch.rand(2, 3, 96, 80) * 2 - 1
    with torch.no_grad():
        q_ref, q = ref.encode(x).latent_dist, model.encode(x)
        assert _max(q.mean, q_ref.mean) <= TOL and _max(q.std, q_ref.std) <= TOL
        z = torch.randn(2, 4, 24, 20)
        assert _max(model.decode_logits(z), ref.decode(z).sample) <= TOL


def test_tiles_that_see_the_image_code_a_photograph_as_whole():
    """context="image": the middle block (attention) runs on the whole latent map, the
    tiles' GroupNorms use the image's statistics (gathered norm by norm) and each tile
    keeps its core. Where the margin (half the overlap, here 8 latent positions) covers
    the receptive field, tiled coding equals whole coding: no seams. Diffusers' tiling
    (context="tile") differs by far more; the switches are checked."""
    from sklearn.datasets import load_sample_image

    torch.manual_seed(0)
    model = SDVAE(SDVAEConfig(input_shape=(3, 64, 64), block_out_channels=(16, 32, 32),
                              layers_per_block=1, norm_num_groups=8)).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim == 1:  # norms not at ones and zeros, as a trained network's are not
                p.add_(0.1 * torch.randn_like(p))
    img = load_sample_image("china.jpg")[100:260, 100:292]
    x = torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        z = model.encode(x).mean
        pixels = model.decode_logits(z)
        seen = model.enable_tiling(128, 0.5, context="image")
        assert _max(seen.encode(x).mean, z) <= 1e-4
        assert _max(seen.decode_logits(z), pixels) <= 1e-4
        alone = model.enable_tiling(128, 0.5, context="tile")
        assert _max(alone.encode(x).mean, z) > 0.1 and _max(alone.decode_logits(z), pixels) > 0.1
    assert all(m._pooled is None for m in model.modules() if hasattr(m, "_pooled"))
    with pytest.raises(ConfigError, match="context must be 'tile' or 'image'"):
        model.enable_tiling(32, context="global")


def test_an_original_sd_checkpoint_loads_with_the_original_names(tmp_path):
    """Our LDM key map is the original one: diffusers' own converter reads the file we
    write from it, and load_ldm reads it back; unrelated sub-models are left alone."""
    ref = _diffusers_vae(SMALL, tmp_path / "d")
    model = load_diffusers(tmp_path / "d")
    state = {f"first_stage_model.{k}": (v.reshape(*v.shape, 1, 1) if ".attn_1." in k
                                        and v.ndim == 2 else v).contiguous()
             for k, v in model.state_dict().items() if k.startswith(("encoder", "decoder",
                                                                     "quant", "post_quant"))}
    state["model.diffusion_model.input_blocks.0.0.weight"] = torch.zeros(2, 2)
    save_file(state, tmp_path / "sd.safetensors")
    converted = convert_ldm_vae_checkpoint(load_file(tmp_path / "sd.safetensors"),
                                           dict(ref.config))
    missing, unexpected = ref.load_state_dict(converted, strict=True), None
    assert unexpected is None and not missing.missing_keys
    loaded = load_ldm(tmp_path / "sd.safetensors", norm_num_groups=8, shift_factor=0.1)
    assert loaded.config.block_out_channels == (32, 64, 64)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert _max(loaded.encode(x).mean, ref.encode(x).latent_dist.mean) <= TOL


def test_key_map_names_every_tensor_once(tmp_path):
    ref = _diffusers_vae(SMALL, tmp_path)
    model = load_diffusers(tmp_path)
    mapping = diffusers_key_map(model)
    assert sorted(mapping.values()) == sorted(ref.state_dict())
    old = diffusers_key_map(model, old_attention=True)
    assert "decoder.mid_block.attentions.0.proj_attn.weight" in old.values()


def _rewrite(folder, change):
    path = folder / "diffusion_pytorch_model.safetensors"
    state = load_file(path)
    change(state)
    save_file(state, path)


@pytest.mark.parametrize("change,message", [
    (lambda s: s.pop("decoder.up_blocks.0.resnets.1.conv2.bias"),
     "'decoder.up_blocks.0.resnets.1.conv2.bias' is missing"),
    (lambda s: s.__setitem__("encoder.down_blocks.0.resnets.7.conv1.weight", torch.zeros(1)),
     "'encoder.down_blocks.0.resnets.7.conv1.weight' is not part of the model"),
    (lambda s: s.__setitem__("quant_conv.weight", torch.zeros(8, 8, 3, 3)),
     "'quant_conv.weight' has shape (8, 8, 3, 3), the model expects (8, 8, 1, 1)"),
    (lambda s: s["post_quant_conv.bias"].fill_(float("nan")), "'post_quant_conv.bias' is not "
                                                               "finite"),
])
def test_a_file_that_does_not_match_is_refused_naming_the_tensor(tmp_path, change, message):
    _diffusers_vae(SMALL, tmp_path)
    _rewrite(tmp_path, change)
    with pytest.raises(AekitError, match=message.replace("(", r"\(").replace(")", r"\)")):
        aekit.load(tmp_path)


def test_no_pickle_and_clear_folder_errors(tmp_path):
    _diffusers_vae(SMALL, tmp_path / "vae")
    with pytest.raises(AekitError, match="pipeline folder; its VAE is in"):
        load_diffusers(tmp_path)
    (tmp_path / "vae" / "diffusion_pytorch_model.safetensors").rename(
        tmp_path / "vae" / "diffusion_pytorch_model.bin")
    with pytest.raises(AekitError, match="never pickled .bin"):
        aekit.load(tmp_path / "vae")
    (tmp_path / "x.ckpt").write_bytes(b"\x80\x04")
    with pytest.raises(AekitError, match="only .safetensors checkpoints"):
        load_ldm(tmp_path / "x.ckpt")
    cfg = json.loads((tmp_path / "vae" / "config.json").read_text())
    with pytest.raises(ConfigError, match="only DownEncoderBlock2D"):
        config_from_diffusers({**cfg, "down_block_types": ["DownBlock2D"] * 3})
    with pytest.raises(ConfigError, match="latents_mean is set"):
        config_from_diffusers({**cfg, "latents_mean": [0.0] * 4})


def test_save_and_load_round_trip_and_bad_sizes(tmp_path):
    model = aekit.create("sd_vae", input_shape=(3, 16, 16), block_out_channels=(32, 32),
                         layers_per_block=1, norm_num_groups=8)
    model.save(tmp_path / "m")
    back = aekit.load(tmp_path / "m")
    x = torch.rand(2, 3, 16, 24) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(back.encode(x).mean, model.eval().encode(x).mean)
        assert back.reconstruct(x).shape == x.shape
    with pytest.raises(DataError, match="multiples of 2"):
        model.encode(torch.zeros(1, 3, 15, 16))
    with pytest.raises(ConfigError, match="does not use hidden_dims"):
        aekit.create("sd_vae", hidden_dims=(8,))
    with pytest.raises(ConfigError, match="recon must be one of"):
        aekit.create("sd_vae", recon="l3")


def test_objective_and_decoder_only_fine_tuning():
    """L1 recon is the Laplace NLL; train_encoder=False steps the decoder alone, so the
    latent space (encoder, quant_conv) is exactly what it was."""
    model = aekit.create("sd_vae", input_shape=(3, 16, 16), block_out_channels=(32, 32),
                         layers_per_block=1, norm_num_groups=8, recon="l1", sigma=0.5,
                         beta=0.01, train_encoder=False, disc_weight=0.5, disc_layers=2)
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    torch.manual_seed(3)
    loss = model.group_loss("autoencoder", x)
    torch.manual_seed(3)
    q = model.encode(x)
    out = model.decode_logits(q.rsample())
    recon = (x - out).abs().flatten(1).sum(1) / 0.5 + 768 * math.log(2 * 0.5)
    kl = 0.5 * (q.mu**2 + q.logvar.exp() - 1 - q.logvar).flatten(1).sum(1)
    torch.testing.assert_close(loss.terms["recon"], recon.mean())
    torch.testing.assert_close(loss.terms["kl"], kl.mean())
    groups = model.parameter_groups()
    frozen = {id(p) for p in model.frozen_parameters()}
    assert list(groups) == ["autoencoder", "discriminator"]
    assert not frozen & {id(p) for p in groups["autoencoder"]}
    enc = {k: v.clone() for k, v in model.state_dict().items() if k.startswith(("encoder",
                                                                                 "quant_conv"))}
    dec = model.decoder.conv_out.weight.clone()
    aekit.Trainer(epochs=1, batch_size=4, progress=False).fit(model, x)
    for k, v in enc.items():
        assert torch.equal(model.state_dict()[k], v), k
    assert not torch.equal(model.decoder.conv_out.weight, dec)


def test_perceptual_term_needs_local_lpips_weights(monkeypatch, tmp_path):
    """Without the lpips package or its cached backbone, perceptual_weight > 0 is refused
    naming what is missing; with them, w * D * LPIPS joins the reconstruction term and the
    LPIPS network stays out of the saved weights."""
    import sys
    import types

    small = {"input_shape": (3, 16, 16), "block_out_channels": (32, 32),
             "layers_per_block": 1, "norm_num_groups": 8, "perceptual_weight": 0.1}
    monkeypatch.setitem(sys.modules, "lpips", None)
    with pytest.raises(ConfigError, match="needs the 'lpips' package"):
        aekit.create("sd_vae", **small)

    class FakeLPIPS(torch.nn.Module):  # a stand-in distance: the plumbing is what is tested
        def __init__(self, net, pretrained, verbose):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(()))

        def forward(self, a, b):
            return self.w * (a - b).square().mean((1, 2, 3), keepdim=True)

    monkeypatch.setitem(sys.modules, "lpips", types.SimpleNamespace(LPIPS=FakeLPIPS))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(ConfigError, match="vgg backbone weights at .*vgg16-397923af.pth"):
        aekit.create("sd_vae", **small)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "vgg16-397923af.pth").write_bytes(b"")
    model = aekit.create("sd_vae", **small)
    x, out = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    pixel = 0.5 * (x - out).square().flatten(1).sum(1) + 768 * 0.5 * math.log(2 * math.pi)
    expect = pixel + 0.1 * 768 * (x - out).square().mean((1, 2, 3))
    torch.testing.assert_close(model.likelihood.nll(out, x), expect)
    assert not any("lpips" in k for k in model.state_dict())


class Opaque:  # an object a weights-only loader must refuse
    pass


def test_lpips_weight_files_are_read_weights_only(monkeypatch, tmp_path):
    """lpips reads its .pth files with torch.load; aekit forces torch's weights-only
    loader around it, so plain tensors load and any other pickled object is refused with
    one line, and the environment is left as it was."""
    import os
    import sys
    import types

    plain, opaque = tmp_path / "plain.pth", tmp_path / "opaque.pth"
    torch.save({"w": torch.ones(2)}, plain)
    torch.save({"w": Opaque()}, opaque)
    seen = {}

    class ReadsWeights(torch.nn.Module):  # stands in for lpips.LPIPS: reads a .pth file
        path = plain  # as torch.hub does for torchvision's backbone: weights_only=False

        def __init__(self, net, pretrained, verbose):
            super().__init__()
            seen["env"] = os.environ.get("TORCH_FORCE_WEIGHTS_ONLY_LOAD")
            self.w = torch.nn.Parameter(torch.load(self.path, weights_only=False)["w"])

    monkeypatch.setitem(sys.modules, "lpips", types.SimpleNamespace(LPIPS=ReadsWeights))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.delenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", raising=False)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "alexnet-owt-7be5be79.pth").write_bytes(b"")
    small = {"input_shape": (3, 16, 16), "block_out_channels": (32, 32), "layers_per_block": 1,
             "norm_num_groups": 8, "perceptual_weight": 0.1, "perceptual_net": "alex"}
    aekit.create("sd_vae", **small)
    assert seen["env"] == "1" and "TORCH_FORCE_WEIGHTS_ONLY_LOAD" not in os.environ
    ReadsWeights.path = opaque
    with pytest.raises(ConfigError, match="weights-only loader only"):
        aekit.create("sd_vae", **small)
    assert "TORCH_FORCE_WEIGHTS_ONLY_LOAD" not in os.environ
