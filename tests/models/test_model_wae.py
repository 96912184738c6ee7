"""WAE: the objective is recon + lambda * MMD (or the GAN penalty); the penalty matches codes
to the prior; smoke and save/load. The estimator itself: tests/metrics/test_mmd.py."""

import pytest
import torch

import aekit
from aekit.errors import ConfigError
from aekit.objectives import WAE_SCALES, mmd2_unbiased


def _fit(model, data, epochs):
    return aekit.Trainer(epochs=epochs, batch_size=64, lr=2e-3, val_fraction=0,
                         checkpoint_every=0, progress=False).fit(model, data)


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_loss_is_recon_plus_lambda_mmd(digits_flat, kernel):
    model = aekit.create("wae", data=digits_flat, latent_dim=3, hidden_dims=(32,), lam=7.0,
                         kernel=kernel)
    x = digits_flat.x[:32]
    torch.manual_seed(5)
    loss = model.loss(x)
    torch.manual_seed(5)
    z = model.encode(x)
    prior = torch.randn(32, 3)
    mmd = mmd2_unbiased(z, prior, kernel, WAE_SCALES)
    recon = model.likelihood.nll(model.decode_logits(z), x)
    torch.testing.assert_close(loss.terms["mmd"], mmd)
    torch.testing.assert_close(loss.terms["recon"], recon.mean())
    torch.testing.assert_close(loss.total, recon.mean() + 7.0 * mmd)
    torch.testing.assert_close(loss.per_example, recon + 7.0 * mmd)


def test_the_penalty_pulls_codes_to_the_prior(digits_flat):
    g = torch.Generator().manual_seed(1)
    prior = torch.randn(500, 4, generator=g)
    mmd = {}
    for lam in (0.0, 10.0):
        torch.manual_seed(0)
        model = aekit.create("wae", data=digits_flat, latent_dim=4, hidden_dims=(64,), lam=lam)
        _fit(model, digits_flat, epochs=10)
        with torch.no_grad():
            mmd[lam] = mmd2_unbiased(model.embed(digits_flat.x[:500]), prior).item()
    print(f"MMD^2 codes vs prior after 10 epochs: lam=0 {mmd[0.0]:.4f}, lam=10 {mmd[10.0]:.4f}")
    assert mmd[10.0] < 0.2 * mmd[0.0]


def test_gan_penalty_groups(digits_flat):
    model = aekit.create("wae", data=digits_flat, latent_dim=3, hidden_dims=(32,),
                         penalty="gan", lam=2.0, disc_hidden_dims=(16,))
    groups = model.parameter_groups()
    assert list(groups) == ["autoencoder", "discriminator"]
    disc = {id(p) for p in model.discriminator.parameters()}
    assert {id(p) for p in groups["discriminator"]} == disc
    assert not disc & {id(p) for p in groups["autoencoder"]}
    x = digits_flat.x[:16]
    d = model.group_loss("discriminator", x)
    d.total.backward()
    assert all(p.grad is None for p in model.encoder.parameters())  # codes are detached
    assert all(p.grad is not None for p in model.discriminator.parameters())
    ae = model.group_loss("autoencoder", x)
    torch.testing.assert_close(ae.total, ae.terms["recon"] + 2.0 * ae.terms["gen"])
    with pytest.raises(ConfigError, match="no parameter group"):
        model.group_loss("generator", x)


@pytest.mark.parametrize("settings", [dict(), dict(penalty="gan"), dict(kernel="rbf")])
def test_smoke(digits, settings):
    model = aekit.create("wae", data=digits, latent_dim=4, base_channels=8, **settings)
    result = _fit(model, digits.x[:256], epochs=2)
    assert all(torch.isfinite(torch.tensor(v)) for k, v in result.last().items()
               if k != "split")
    x = digits.x[:5]
    assert model.encode(x).shape == (5, 4)
    assert model.reconstruct(x).shape == x.shape
    assert model.sample(3).shape == (3, 1, 8, 8)


@pytest.mark.parametrize("penalty", ["mmd", "gan"])
def test_save_load_round_trip(digits_flat, tmp_path, penalty):
    model = aekit.create("wae", data=digits_flat, latent_dim=3, hidden_dims=(32,),
                         penalty=penalty, kernel_scales=(1.0, 2.0))
    _fit(model, digits_flat.x[:128], epochs=1)
    model.eval().save(tmp_path)
    loaded = aekit.load(tmp_path)
    assert loaded.config == model.config
    x = digits_flat.x[:8]
    assert torch.equal(loaded.embed(x), model.embed(x))
    assert torch.equal(loaded.reconstruct(x), model.reconstruct(x))


@pytest.mark.parametrize("bad", [{"penalty": "kl"}, {"lam": -1.0}, {"kernel": "laplace"},
                                 {"kernel_scales": ()}, {"disc_hidden_dims": (0,)}])
def test_bad_settings_name_the_parameter(bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        aekit.create("wae", input_shape=(4,), likelihood="gaussian", **bad)
