"""Sparse AE: the KL / L1 penalties follow their formulas; mean activation converges to rho."""

import math

import numpy as np
import pytest
import torch

import aekit
from aekit.errors import ConfigError
from aekit.models.sparse_ae import kl_sparsity


def _hand_kl(h: np.ndarray, rho: float) -> float:
    total = 0.0
    for j in range(h.shape[1]):
        q = h[:, j].mean()
        total += rho * math.log(rho / q) + (1 - rho) * math.log((1 - rho) / (1 - q))
    return total


def test_kl_penalty_equals_the_formula_by_hand():
    h = np.array([[0.1, 0.9, 0.5], [0.3, 0.7, 0.5], [0.2, 0.8, 0.02]])
    for rho in (0.05, 0.2, 0.5):
        got = kl_sparsity(torch.tensor(h, dtype=torch.float64), rho).item()
        assert got == pytest.approx(_hand_kl(h, rho), rel=1e-12)
    # zero exactly when every unit's mean activation is rho
    assert kl_sparsity(torch.full((4, 3), 0.05), 0.05).item() == pytest.approx(0.0, abs=1e-7)


def test_model_loss_adds_the_weighted_penalty(digits):
    x = digits.x[:32]
    kl = aekit.create("sparse_ae", data=digits, latent_dim=6, hidden_dims=(16,),
                      rho=0.1, sparsity_weight=2.5)
    loss = kl.loss(x)
    h = kl.encode(x).detach().double().numpy()
    assert ((h > 0) & (h < 1)).all()  # sigmoid code units
    assert loss.terms["sparsity"].item() == pytest.approx(_hand_kl(h, 0.1), rel=1e-4)
    torch.testing.assert_close(loss.total, loss.terms["recon"] + 2.5 * loss.terms["sparsity"])
    torch.testing.assert_close(loss.per_example.mean(), loss.total)

    l1 = aekit.create("sparse_ae", data=digits, latent_dim=6, hidden_dims=(16,),
                      penalty="l1", sparsity_weight=0.5)
    loss = l1.loss(x)
    h = l1.encode(x).detach()
    recon = l1.likelihood.nll(l1.decode_logits(h), x)
    torch.testing.assert_close(loss.per_example, recon + 0.5 * h.abs().sum(1))
    torch.testing.assert_close(loss.terms["sparsity"], h.abs().sum(1).mean())


def test_mean_activation_converges_to_rho(digits):
    rho = 0.05
    model = aekit.create("sparse_ae", data=digits, arch="mlp", hidden_dims=(64,), latent_dim=16,
                         rho=rho, sparsity_weight=3.0)
    with torch.no_grad():
        before = model.encode(digits.x).mean(0)
    aekit.Trainer(epochs=10, batch_size=128, lr=3e-3, val_fraction=0, checkpoint_every=0,
                  progress=False).fit(model, digits)
    with torch.no_grad():
        after = model.encode(digits.x).mean(0)  # rho_hat_j over all the data
    assert abs(before.mean().item() - rho) > 0.3  # sigmoids start near 0.5
    assert abs(after.mean().item() - rho) < 0.02
    assert (after - rho).abs().max().item() < 0.03  # every unit, not just on average


def test_l1_penalty_shrinks_activations(digits):
    def mean_activation(weight: float) -> float:
        torch.manual_seed(0)
        model = aekit.create("sparse_ae", data=digits, arch="mlp", hidden_dims=(32,),
                             latent_dim=16, penalty="l1", sparsity_weight=weight)
        aekit.Trainer(epochs=3, batch_size=128, lr=3e-3, val_fraction=0, checkpoint_every=0,
                      progress=False).fit(model, digits.x[:600])
        with torch.no_grad():
            return model.encode(digits.x[:600]).mean().item()

    assert mean_activation(1.0) < 0.5 * mean_activation(0.0)


def test_smoke_training_on_digits(digits):
    model = aekit.create("sparse_ae", data=digits.x, latent_dim=8, hidden_dims=(32,))
    result = aekit.Trainer(epochs=2, batch_size=128, progress=False,
                           checkpoint_every=0).fit(model, digits.x[:512])
    row = result.last()
    assert all(np.isfinite(row[k]) for k in ("loss", "recon", "sparsity", "mean_activation"))
    assert np.isfinite(result.last("val")["loss"])
    assert model.embed(digits.x[:3]).shape == (3, 8)
    assert model.reconstruct(digits.x[:3]).shape == (3, 1, 8, 8)


@pytest.mark.parametrize("bad", [{"rho": 0.0}, {"rho": 1.0}, {"sparsity_weight": -1.0},
                                 {"penalty": "l2"}])
def test_bad_settings_name_the_parameter(bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        aekit.create("sparse_ae", input_shape=(64,), likelihood="bernoulli", **bad)
