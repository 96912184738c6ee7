"""ONNX export: onnxruntime reproduces PyTorch's encoder, decoder and reconstruction."""

import pytest
import torch

import aekit
from aekit.apps.export import export_onnx, onnx_max_error, part_module
from aekit.errors import ConfigError

MODELS = {
    "mlp_vae": ("vae", dict(input_shape=(64,), arch="mlp", hidden_dims=(32,))),
    "conv_vae": ("vae", dict(input_shape=(1, 8, 8), arch="conv", base_channels=8)),
    "vqvae": ("vqvae", dict(input_shape=(1, 8, 8), base_channels=8, num_codes=16)),
}


@pytest.mark.parametrize("key", list(MODELS))
def test_exported_encoder_and_decoder_match_pytorch_within_1e_5(key, tmp_path):
    name, settings = MODELS[key]
    torch.manual_seed(0)
    model = aekit.create(name, latent_dim=4, **settings)
    for part in ("encoder", "decoder"):
        path = export_onnx(model, tmp_path / f"{part}.onnx", part)
        # batch 5 at run time, 2 at export: the batch axis is dynamic
        assert onnx_max_error(model, path, part, batch=5) <= 1e-5, part


def test_forward_is_the_reconstruction():
    torch.manual_seed(0)
    model = aekit.create("vqvae", latent_dim=4, **MODELS["vqvae"][1]).eval()
    x = torch.rand(3, 1, 8, 8)
    assert torch.equal(model(x), model.reconstruct(x))


def test_conditional_models_and_unknown_parts_are_refused():
    model = aekit.create("cvae", input_shape=(4,), n_classes=3, latent_dim=2)
    with pytest.raises(ConfigError, match="conditional"):
        part_module(model)
    with pytest.raises(ConfigError, match="part='middle'"):
        part_module(aekit.create("ae", input_shape=(4,), latent_dim=2), "middle")
