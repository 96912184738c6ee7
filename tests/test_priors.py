"""Learned priors: densities normalise, samples match them, MC KL is unbiased."""

import pickle

import pytest
import torch

import aekit
from aekit.errors import ConfigError
from aekit.latents import DiagonalGaussian
from aekit.priors import MixtureOfGaussians, Prior, StandardNormal, VampPrior


def _grid_integral(prior, half=9.0, step=0.04):
    ticks = torch.arange(-half, half, step) + step / 2
    zz = torch.cartesian_prod(ticks, ticks)
    with torch.no_grad():
        return (prior.log_prob(zz).exp().sum() * step * step).item()


def _trained_like_mog():
    torch.manual_seed(0)
    prior = MixtureOfGaussians(2, 4)
    with torch.no_grad():
        prior.means.copy_(torch.tensor([[-3.0, 0.0], [2.0, 2.0], [0.0, -2.0], [1.0, 0.5]]))
        prior.logvars.copy_(torch.log(torch.tensor([[0.5, 1.0], [0.2, 0.3], [1.5, 0.4],
                                                     [0.1, 0.1]])))
        prior.logits.copy_(torch.tensor([0.5, -1.0, 0.0, 1.0]))
    return prior


def test_mog_normalises_and_samples_match():
    prior = _trained_like_mog()
    assert _grid_integral(prior) == pytest.approx(1.0, abs=2e-3)
    torch.manual_seed(1)
    samples = prior.sample(200_000)
    weights = torch.softmax(prior.logits, 0)
    torch.testing.assert_close(samples.mean(0), (weights[:, None] * prior.means).sum(0),
                               atol=0.02, rtol=0)


def test_vamp_normalises_and_samples_match():
    torch.manual_seed(0)
    model = aekit.create("vae", input_shape=(6,), likelihood="gaussian", latent_dim=2,
                         prior="vamp", prior_components=5, hidden_dims=(16,))
    assert isinstance(model.prior, VampPrior)
    assert _grid_integral(model.prior) == pytest.approx(1.0, abs=2e-3)
    with torch.no_grad():
        q = model.encode(model.prior.pseudo_inputs)
        samples = model.prior.sample(200_000)
    torch.testing.assert_close(samples.mean(0), q.mu.mean(0), atol=0.02, rtol=0)
    # the encoder is stored once, under the model, not again under the prior
    assert not any(k.startswith("prior.encoder") for k in model.state_dict())
    again = pickle.loads(pickle.dumps(model))
    z = torch.randn(4, 2)
    torch.testing.assert_close(again.prior.log_prob(z), model.prior.log_prob(z))


def test_monte_carlo_kl_is_unbiased_against_closed_form():
    q = DiagonalGaussian(torch.randn(3, 4), torch.randn(3, 4) * 0.3)
    prior = StandardNormal(4)
    z = q.rsample(100_000)
    mc = Prior.kl(prior, q, z).mean(0)  # the generic Monte-Carlo estimator
    torch.testing.assert_close(mc, prior.kl(q, z), atol=0.03, rtol=0.02)


@pytest.mark.parametrize("prior", ["mog", "vamp"])
def test_vae_with_learned_prior_trains_and_round_trips(prior, digits_flat, tmp_path):
    data = digits_flat.subset(torch.arange(300))
    model = aekit.create("vae", data=data, latent_dim=3, prior=prior, hidden_dims=(32,))
    before = [p.detach().clone() for p in model.prior.parameters()]
    result = aekit.Trainer(epochs=2, progress=False).fit(model, data)
    # the prior is learned: its own parameters moved
    assert any(not torch.equal(a, b) for a, b in zip(before, model.prior.parameters()))
    assert all(torch.isfinite(torch.tensor(v)) for k, v in result.last("val").items()
               if isinstance(v, float))
    model.save(tmp_path / "m")
    loaded = aekit.load(tmp_path / "m")
    z = torch.randn(5, 3)
    torch.testing.assert_close(loaded.prior.log_prob(z), model.prior.log_prob(z))


def test_bad_prior_settings():
    with pytest.raises(ConfigError, match="prior='flat'"):
        aekit.create("vae", input_shape=(4,), prior="flat")
    with pytest.raises(ConfigError, match="vamp"):
        aekit.create("cvae", input_shape=(4,), prior="vamp")
