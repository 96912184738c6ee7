"""IWAE: L_k >= ELBO and increases with k (in expectation) on a trained model."""

import pytest
import torch

import aekit
from aekit.errors import ConfigError
from aekit.models.iwae import importance_weighted_bound


@pytest.fixture(scope="module")
def trained_vae(digits_flat):
    torch.manual_seed(0)
    model = aekit.create("vae", data=digits_flat, latent_dim=4, hidden_dims=(64,))
    aekit.Trainer(epochs=8, progress=False, val_fraction=0).fit(model, digits_flat)
    return model.eval()


def test_bound_with_k1_is_the_elbo_in_expectation(trained_vae, digits_flat):
    x = digits_flat.x[:300]
    torch.manual_seed(1)
    with torch.no_grad():
        l1 = torch.stack([importance_weighted_bound(trained_vae, x, 1) for _ in range(50)])
        elbo = torch.stack([-trained_vae.loss(x).per_example for _ in range(50)])
    assert abs(l1.mean() - elbo.mean()) < 0.1


def test_bound_increases_with_k_and_exceeds_elbo(trained_vae, digits_flat):
    x = digits_flat.x[:300]
    torch.manual_seed(2)
    with torch.no_grad():
        means = [importance_weighted_bound(trained_vae, x, k).mean().item()
                 for k in (1, 5, 50, 500)]
    assert means == sorted(means), means
    assert means[-1] - means[0] > 0.2


def test_chunking_does_not_change_the_estimate(trained_vae, digits_flat):
    x = digits_flat.x[:20]
    torch.manual_seed(3)
    a = importance_weighted_bound(trained_vae, x, 64, chunk=64)
    torch.manual_seed(3)
    b = importance_weighted_bound(trained_vae, x, 64, chunk=64)
    torch.testing.assert_close(a, b)
    torch.manual_seed(3)
    c = importance_weighted_bound(trained_vae, x, 64, chunk=7)
    assert (a.mean() - c.mean()).abs() < 0.5


def test_iwae_model_trains_on_the_bound(digits_flat):
    model = aekit.create("iwae", data=digits_flat, latent_dim=4, hidden_dims=(32,), k=4)
    loss = model.loss(digits_flat.x[:32])
    assert torch.isfinite(loss.total) and loss.per_example.shape == (32,)
    result = aekit.Trainer(epochs=2, progress=False).fit(model, digits_flat.subset(
        torch.arange(400)))
    assert result.last("val")["loss"] < result.history[1]["loss"] + 50
    with pytest.raises(ConfigError, match="k must be"):
        aekit.create("iwae", data=digits_flat, k=0)


@pytest.mark.parametrize("setting", [{"beta": 2.0}, {"free_bits": 0.1},
                                     {"kl_warmup_steps": 100}])
def test_iwae_refuses_the_kl_settings_its_bound_would_ignore(setting):
    """-L_k has no separate KL term: beta, free bits and warm-up are refused, not ignored."""
    with pytest.raises(ConfigError, match="no KL term"):
        aekit.create("iwae", input_shape=(6,), likelihood="gaussian", **setting)
