"""Ladder VAE: KL per layer, and the ELBO decomposition sums to the total."""

import pytest
import torch

import aekit
from aekit.errors import ConfigError
from aekit.latents import gaussian_kl


def test_kl_per_layer_and_decomposition(digits):
    model = aekit.create("ladder_vae", data=digits, latent_dims=(8, 4, 2), ladder_hidden=32,
                         base_channels=8)
    loss = model.loss(digits.x[:32])
    for key in ("recon", "kl", "kl1", "kl2", "kl3"):
        assert key in loss.terms
    torch.testing.assert_close(loss.terms["kl1"] + loss.terms["kl2"] + loss.terms["kl3"],
                               loss.terms["kl"])
    torch.testing.assert_close(loss.terms["recon"] + loss.terms["kl"], loss.total)
    assert all(loss.terms[f"kl{i}"] >= 0 for i in (1, 2, 3))
    assert loss.per_example.shape == (32,)
    torch.testing.assert_close(loss.per_example.mean(), loss.total)


def test_precision_weighted_merge_and_gaussian_kl():
    # KL between identical Gaussians is 0; against N(0,1) it matches the closed form
    mu, lv = torch.randn(5, 3), torch.randn(5, 3)
    torch.testing.assert_close(gaussian_kl(mu, lv, mu, lv), torch.zeros(5, 3))
    ref = 0.5 * (mu ** 2 + lv.exp() - 1 - lv)
    torch.testing.assert_close(gaussian_kl(mu, lv, torch.zeros(5, 3), torch.zeros(5, 3)), ref)


def test_trains_with_warmup_and_samples(digits_flat, tmp_path):
    data = digits_flat.subset(torch.arange(400))
    model = aekit.create("ladder_vae", data=data, latent_dims=(8, 4), ladder_hidden=64,
                         hidden_dims=(64,), kl_warmup_steps=50)
    result = aekit.Trainer(epochs=3, progress=False).fit(model, data)
    assert {"kl1", "kl2"} <= set(result.last("val"))
    assert model.sample(5).shape == (5, 64)
    assert model.embed(data.x[:3]).shape == (3, 4)
    model.save(tmp_path / "m")
    loaded = aekit.load(tmp_path / "m")
    assert torch.equal(loaded.reconstruct(data.x[:4]), model.reconstruct(data.x[:4]))


def test_needs_two_layers():
    with pytest.raises(ConfigError, match="at least two"):
        aekit.create("ladder_vae", input_shape=(4,), latent_dims=(3,))


def test_ladder_vae_refuses_free_bits_it_does_not_implement():
    with pytest.raises(ConfigError, match="does not implement free_bits"):
        aekit.create("ladder_vae", input_shape=(6,), likelihood="gaussian", free_bits=0.5)
