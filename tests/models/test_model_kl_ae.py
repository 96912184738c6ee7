"""kl_ae: a spatial Gaussian latent, the beta-VAE objective plus a patch GAN whose weight
is the ratio of gradient norms at the decoder's last layer (its defining properties)."""

import pytest
import torch

import aekit
from aekit.errors import ConfigError
from aekit.models.kl_ae import adaptive_weight, hinge_discriminator_loss


def _model(data, **kw):
    torch.manual_seed(0)
    return aekit.create("kl_ae", data=data, latent_channels=3, downsample=1, **kw)


@pytest.mark.parametrize("shape,downsample,grid", [((1, 8, 8), 1, (4, 4)),
                                                   ((3, 20, 20), 2, (5, 5)),
                                                   ((1, 7, 9), 2, (2, 3))])
def test_the_latent_is_a_map_of_gaussians(shape, downsample, grid):
    model = aekit.create("kl_ae", input_shape=shape, latent_channels=2, downsample=downsample,
                         likelihood="bernoulli")
    x = torch.rand(5, *shape)
    assert model.config.latent_dim == 2 * grid[0] * grid[1]
    q = model.encode(x)
    assert q.mu.shape == q.logvar.shape == (5, model.config.latent_dim)
    assert model.latents(x).shape == (5, 2, *grid)
    torch.testing.assert_close(model.latents(x).flatten(1), q.mean)
    assert model.reconstruct(x).shape == x.shape and model.sample(3).shape == (3, *shape)


def test_without_the_gan_the_objective_is_the_beta_vae_one(digits):
    """disc_weight=0: one parameter group, loss = recon + beta * KL at the same draw."""
    model = _model(digits, disc_weight=0.0, beta=0.01)
    assert list(model.parameter_groups()) == ["model"] and model.discriminator is None
    x = digits.x[:32]
    torch.manual_seed(5)
    loss = model.group_loss("model", x)
    torch.manual_seed(5)
    q = model.encode(x)
    z = q.rsample()
    recon = model.likelihood.nll(model.decode_logits(z), x)
    kl = q.kl_standard_normal().sum(1)
    torch.testing.assert_close(loss.total, (recon + 0.01 * kl).mean())


def test_the_adversarial_weight_is_the_ratio_of_gradient_norms(digits):
    model = _model(digits, disc_weight=0.7)
    model.train()
    model.set_step(10)
    x = digits.x[:32]
    torch.manual_seed(1)
    loss = model.group_loss("autoencoder", x)
    torch.manual_seed(1)  # the same draw, recomputed by hand
    q = model.encode(x)
    logits = model.decode_logits(q.rsample())
    recon = model.likelihood.nll(logits, x).mean()
    gen = -model.discriminator(torch.sigmoid(logits)).flatten(1).sum(1).mean()
    last = model.decoder.last
    g_rec = torch.autograd.grad(recon, last, retain_graph=True)[0].norm()
    g_gen = torch.autograd.grad(gen, last, retain_graph=True)[0].norm()
    expected = 0.7 * g_rec / (g_gen + 1e-4)
    torch.testing.assert_close(loss.terms["adaptive_weight"], expected)
    torch.testing.assert_close(adaptive_weight(recon, gen, last, 0.7), expected)
    assert not loss.terms["adaptive_weight"].requires_grad  # a constant in the objective
    kl = q.kl_standard_normal().sum(1).mean()
    torch.testing.assert_close(loss.total, recon + model.config.beta * kl + expected * gen)


def test_hinge_loss_and_the_discriminator_start(digits):
    real, fake = torch.randn(4, 1, 2, 2), torch.randn(4, 1, 2, 2)
    by_hand = (torch.clamp(1 - real, min=0) + torch.clamp(1 + fake, min=0)).flatten(1).sum(1)
    torch.testing.assert_close(hinge_discriminator_loss(real, fake), by_hand)
    model = _model(digits, disc_start=100)
    model.train()
    x = digits.x[:16]
    model.set_step(99)  # before the start: no adversarial term, no discriminator gradient
    ae = model.group_loss("autoencoder", x)
    assert ae.terms["gen"] == 0 and ae.terms["adaptive_weight"] == 0  # same terms always
    model.group_loss("discriminator", x).total.backward()
    assert all(float(p.grad.abs().sum()) == 0 for p in model.discriminator.parameters())
    model.set_step(100)
    model.zero_grad()
    assert model.group_loss("autoencoder", x).terms["gen"] != 0
    model.group_loss("discriminator", x).total.backward()
    assert sum(float(p.grad.abs().sum()) for p in model.discriminator.parameters()) > 0


def test_training_steps_both_groups_and_latents_can_be_standardised(digits, tmp_path):
    model = _model(digits)
    disc_before = [p.detach().clone() for p in model.discriminator.parameters()]
    cfg = aekit.TrainConfig(epochs=3, batch_size=64, progress=False, checkpoint_every=0,
                            val_fraction=0.0)
    row = aekit.Trainer(cfg).fit(model, digits).last()
    assert {"autoencoder.recon", "autoencoder.gen", "discriminator.disc"} <= set(row)
    assert any(not torch.equal(a, b) for a, b in zip(disc_before,
                                                     model.discriminator.parameters()))
    x = digits.x[:500]
    scale = model.latent_scale(x)
    assert model.latents(x, sample=True, scale=scale).std().item() == pytest.approx(1, abs=0.05)
    model.save(tmp_path / "m")
    back = aekit.load(tmp_path / "m")
    torch.testing.assert_close(back.latents(x[:8]), model.latents(x[:8]))


def test_the_discriminator_may_start_in_the_middle_of_an_epoch(digits):
    """The logged terms are the same before and after disc_start (the trainer stacks one
    row of terms per step)."""
    data = digits.subset(torch.arange(40))
    model = _model(data, disc_start=3)
    cfg = aekit.TrainConfig(epochs=2, batch_size=8, progress=False, checkpoint_every=0,
                            val_fraction=0.0)
    row = aekit.Trainer(cfg).fit(model, data).last()
    assert row["autoencoder.gen"] != 0


def test_free_bits_stay_in_the_objective_with_the_gan(digits):
    model = _model(digits, beta=1.0, free_bits=0.5)
    model.train()
    model.set_step(5)
    x = digits.x[:32]
    torch.manual_seed(2)
    loss = model.group_loss("autoencoder", x)
    torch.manual_seed(2)
    q = model.encode(x)
    z = q.rsample()
    logits = model.decode_logits(z)
    base = model.objective(model.likelihood.nll(logits, x), model.kl_dims(q, z))
    gen = -model.discriminator(torch.sigmoid(logits)).flatten(1).sum(1).mean()
    torch.testing.assert_close(loss.total, base.total + loss.terms["adaptive_weight"] * gen)


def test_settings_are_checked():
    with pytest.raises(ConfigError, match=r"3 x 4 x 4 map \(48 values\), not latent_dim=16"):
        aekit.create("kl_ae", input_shape=(1, 8, 8), latent_channels=3, downsample=1,
                     latent_dim=16)
    with pytest.raises(ConfigError, match=r"works on images \(C, H, W\)"):
        aekit.create("kl_ae", input_shape=(64,))
    with pytest.raises(ConfigError, match="arch='mlp' is not available"):
        aekit.create("kl_ae", input_shape=(1, 8, 8), arch="mlp")
    with pytest.raises(ConfigError, match="disc_layers must be >= 1"):
        aekit.create("kl_ae", input_shape=(1, 8, 8), disc_layers=0)
    with pytest.raises(ConfigError, match=r"disc_layers=4 halves the image 4 times.*<= 3"):
        aekit.create("kl_ae", input_shape=(1, 8, 8), disc_layers=4)
    with pytest.raises(ConfigError, match="need disc_weight=0"):
        aekit.create("kl_ae", input_shape=(1, 1, 16), downsample=0)
    thin = aekit.create("kl_ae", input_shape=(1, 1, 16), downsample=0, disc_weight=0)
    assert thin.latents(torch.rand(0, 1, 1, 16)).shape == (0, 4, 1, 16)
    with pytest.raises(ConfigError, match="batch_size must be >= 1"):
        thin.latents(torch.rand(2, 1, 1, 16), batch_size=0)
    assert not thin.latents(torch.rand(3, 1, 1, 16)).requires_grad
