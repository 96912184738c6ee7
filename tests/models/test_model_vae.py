"""AE, VAE and beta-VAE: protocol, objective, defining properties."""

import pytest
import torch

import aekit
from aekit.errors import ConfigError
from aekit.latents import DiagonalGaussian


@pytest.mark.parametrize("arch,shape", [("mlp", (64,)), ("conv", (1, 8, 8)),
                                        ("conv", (1, 28, 28)), ("conv", (3, 64, 64)),
                                        ("conv", (2, 13, 7))])
def test_encoders_and_decoders_fit_any_shape(arch, shape):
    model = aekit.create("vae", input_shape=shape, latent_dim=4, arch=arch,
                         likelihood="bernoulli", hidden_dims=(32,), base_channels=8)
    x = torch.rand(3, *shape)
    q = model.encode(x)
    assert isinstance(q, DiagonalGaussian) and q.mu.shape == (3, 4)
    assert model.reconstruct(x).shape == x.shape
    assert model.sample(2).shape == (2, *shape)
    assert model.decode(q.mean).mean.shape == x.shape


def test_arch_auto_picks_by_shape():
    assert isinstance(aekit.create("ae", input_shape=(1, 8, 8), likelihood="bernoulli")
                      .encoder, aekit.nn.ConvEncoder)
    assert isinstance(aekit.create("ae", input_shape=(10,), likelihood="gaussian")
                      .encoder, aekit.nn.MLP)


def test_vae_loss_is_recon_plus_kl_per_example_summed(digits):
    model = aekit.create("vae", data=digits, latent_dim=3, arch="mlp", hidden_dims=(16,))
    x = digits.x[:8]
    torch.manual_seed(1)
    loss = model.loss(x)
    torch.manual_seed(1)
    q = model.encode(x)
    z = q.rsample()
    recon = torch.nn.functional.binary_cross_entropy_with_logits(
        model.decode_logits(z), x, reduction="none").sum((1, 2, 3))
    kl = 0.5 * (q.mu ** 2 + q.logvar.exp() - 1 - q.logvar).sum(1)
    torch.testing.assert_close(loss.terms["recon"], recon.mean())
    torch.testing.assert_close(loss.terms["kl"], kl.mean())
    torch.testing.assert_close(loss.total, (recon + kl).mean())
    torch.testing.assert_close(loss.per_example, recon + kl)


def test_beta_vae_with_beta_one_equals_vae(digits):
    torch.manual_seed(3)
    vae = aekit.create("vae", data=digits, latent_dim=3, arch="mlp")
    torch.manual_seed(3)
    bvae = aekit.create("beta_vae", data=digits, latent_dim=3, arch="mlp", beta=1.0)
    for a, b in zip(vae.state_dict().values(), bvae.state_dict().values()):
        assert torch.equal(a, b)
    torch.manual_seed(0)
    la = vae.loss(digits.x[:16])
    torch.manual_seed(0)
    lb = bvae.loss(digits.x[:16])
    assert torch.equal(la.total, lb.total)


def test_beta_weights_the_kl(digits):
    model = aekit.create("beta_vae", data=digits, latent_dim=3, arch="mlp", beta=4.0)
    loss = model.loss(digits.x[:16])
    torch.testing.assert_close(loss.total, loss.terms["recon"] + 4.0 * loss.terms["kl"])


def test_capacity_schedule_reaches_cmax_at_configured_step(digits):
    model = aekit.create("beta_vae", data=digits, latent_dim=3, arch="mlp",
                         capacity_max=25.0, capacity_steps=1000, gamma=100.0)
    for step, expected in [(0, 0.0), (500, 12.5), (1000, 25.0), (5000, 25.0)]:
        model.set_step(step)
        assert model.capacity() == pytest.approx(expected)
    model.set_step(1000)
    loss = model.loss(digits.x[:16])
    torch.testing.assert_close(
        loss.total, loss.terms["recon"] + 100.0 * (loss.terms["kl"] - 25.0).abs())
    assert loss.terms["capacity"].item() == pytest.approx(25.0)


def test_kl_warmup_and_free_bits(digits):
    model = aekit.create("vae", data=digits, latent_dim=3, arch="mlp", kl_warmup_steps=100)
    model.set_step(0)
    assert model.kl_weight() == 0.0
    model.set_step(50)
    assert model.kl_weight() == pytest.approx(0.5)
    fb = aekit.create("vae", data=digits, latent_dim=3, arch="mlp", free_bits=5.0)
    loss = fb.loss(digits.x[:16])
    # each dimension's KL counts as at least 5 nats in the objective; logged kl is the true one
    assert loss.total.item() >= loss.terms["recon"].item() + 3 * 5.0 - 1e-4
    assert loss.terms["kl"].item() < 15.0


def test_ae_is_deterministic_and_has_no_prior(digits):
    model = aekit.create("ae", data=digits, latent_dim=5)
    x = digits.x[:4]
    assert torch.equal(model.embed(x), model.embed(x))
    with pytest.raises(NotImplementedError, match="not a generative model"):
        model.sample(2)


def test_deep_autoencoder_is_a_config():
    model = aekit.create("ae", input_shape=(784,), hidden_dims=(1000, 500, 250), latent_dim=30,
                         likelihood="bernoulli")
    linears = [m for m in model.encoder if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [1000, 500, 250, 30]


@pytest.mark.parametrize("bad", [{"latent_dim": 0}, {"beta": -1.0}, {"arch": "rnn"},
                                 {"likelihood": "poisson"}, {"sigma": 0.0}])
def test_bad_settings_name_the_parameter(bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        aekit.create("vae", input_shape=(4,), **bad)


def test_unknown_model_and_parameter():
    with pytest.raises(ConfigError, match="available models"):
        aekit.create("nope", input_shape=(4,))
    with pytest.raises(ConfigError, match="no parameter 'latent'"):
        aekit.create("vae", input_shape=(4,), latent=3)
