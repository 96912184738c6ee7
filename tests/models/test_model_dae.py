"""Denoising AE: the loss reconstructs the CLEAN input from the corrupted one, noise only
in training mode."""

import numpy as np
import pytest
import torch

import aekit
from aekit.errors import ConfigError


@pytest.mark.parametrize("corruption,level", [("gaussian", 0.3), ("masking", 0.3),
                                              ("salt_pepper", 0.2)])
def test_loss_target_is_the_clean_input(digits, corruption, level):
    model = aekit.create("dae", data=digits, latent_dim=4, hidden_dims=(16,),
                         corruption=corruption, noise_level=level)
    model.train()
    x = digits.x[:32]
    seen = {}
    nll = model.likelihood.nll

    def spy(out, target):
        seen["target"] = target
        return nll(out, target)

    encode = model.encode

    def spy_encode(inp, y=None):
        seen["input"] = inp
        return encode(inp, y)

    model.likelihood.nll = spy
    model.encode = spy_encode
    torch.manual_seed(11)
    loss = model.loss(x)
    assert seen["target"] is x  # the NLL is against the clean batch itself
    assert not torch.equal(seen["input"], x)  # while the encoder saw a corrupted copy
    # and the whole loss is the manual computation with the same noise draw
    torch.manual_seed(11)
    x_tilde = model.corruption(x)
    assert torch.equal(seen["input"], x_tilde)
    expected = nll(model.decode_logits(encode(x_tilde)), x)
    torch.testing.assert_close(loss.per_example, expected)
    torch.testing.assert_close(loss.total, expected.mean())


def test_no_corruption_in_eval_mode_or_in_encode_embed_reconstruct(digits):
    model = aekit.create("dae", data=digits, latent_dim=4, hidden_dims=(16,), noise_level=0.5)
    x = digits.x[:8]

    def forbidden(*args, **kwargs):
        raise AssertionError("corruption applied outside training")

    clean = model.likelihood.nll(model.decode_logits(model.encode(x)), x)
    model.corruption = forbidden
    model.train()  # even in training mode, these use the clean input
    model.embed(x), model.reconstruct(x), model.encode(x)
    model.eval()
    torch.testing.assert_close(model.loss(x).per_example, clean)


def test_trained_dae_removes_noise(digits):
    model = aekit.create("dae", data=digits, latent_dim=16, hidden_dims=(64,),
                         corruption="masking", noise_level=0.3)
    aekit.Trainer(epochs=8, batch_size=128, lr=3e-3, val_fraction=0, checkpoint_every=0,
                  progress=False).fit(model, digits.x[:1500])
    x = digits.x[1500:]
    noisy = model.corruption(x, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        denoised = model.reconstruct(noisy)
    before = (noisy - x).square().mean().item()
    after = (denoised - x).square().mean().item()
    assert after < 0.6 * before, (before, after)


@pytest.mark.parametrize("corruption", ["gaussian", "masking", "salt_pepper"])
def test_smoke_training_on_digits(digits, corruption):
    model = aekit.create("dae", data=digits.x, latent_dim=6, hidden_dims=(32,),
                         corruption=corruption, noise_level=0.2)
    result = aekit.Trainer(epochs=2, batch_size=128, progress=False,
                           checkpoint_every=0).fit(model, digits.x[:512])
    assert np.isfinite(result.last()["loss"]) and np.isfinite(result.last("val")["loss"])
    assert model.embed(digits.x[:3]).shape == (3, 6)
    assert model.reconstruct(digits.x[:3]).shape == (3, 1, 8, 8)


def test_save_and_load_round_trip(digits, tmp_path):
    model = aekit.create("dae", data=digits, latent_dim=4, corruption="salt_pepper",
                         noise_level=0.1, value_range=(0, 1))
    model.save(tmp_path)
    loaded = aekit.load(tmp_path)
    assert loaded.config == model.config and loaded.config.value_range == (0.0, 1.0)
    assert torch.equal(loaded.reconstruct(digits.x[:4]), model.eval().reconstruct(digits.x[:4]))


@pytest.mark.parametrize("bad,match", [
    ({"corruption": "dropout"}, "corruption"),
    ({"corruption": "masking", "noise_level": 1.5}, "noise_level"),
    ({"corruption": "gaussian", "noise_level": -0.1}, "noise_level"),
    ({"corruption": "salt_pepper", "value_range": (1.0, 0.0)}, "value_range"),
    ({"corruption": "salt_pepper", "value_range": (0.0, 0.5, 1.0)}, "value_range"),
])
def test_bad_settings_name_the_parameter(bad, match):
    with pytest.raises(ConfigError, match=match):
        aekit.create("dae", input_shape=(64,), likelihood="bernoulli", **bad)
