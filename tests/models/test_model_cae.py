"""Contractive AE: the closed-form Jacobian norm equals autograd's, and the penalty
contracts the encoder."""

import numpy as np
import pytest
import torch

import aekit
from aekit.errors import ConfigError
from aekit.models.cae import hutchinson_frobenius_sq, jacobian_frobenius_sq


def _single_layer_cae(**kw):
    return aekit.create("cae", input_shape=(1, 8, 8), arch="mlp", hidden_dims=(), latent_dim=12,
                        likelihood="bernoulli", **kw)


def _jacobian_by_loop(f, x):
    """||J||_F^2 per example with plain torch.autograd.functional.jacobian, one at a time."""
    out = []
    for xi in x:
        jac = torch.autograd.functional.jacobian(lambda v: f(v.unsqueeze(0)).squeeze(0), xi)
        out.append(jac.square().sum())
    return torch.stack(out)


def test_closed_form_equals_the_autograd_jacobian_norm(digits):
    model = _single_layer_cae()
    assert model.config.jacobian_method == "closed_form"
    x = digits.x[:16]
    closed = model.jacobian_norm_sq(x, "closed_form")
    exact = model.jacobian_norm_sq(x, "exact")
    torch.testing.assert_close(closed, exact, atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(closed, _jacobian_by_loop(model.encoder, x),
                                   atol=1e-5, rtol=1e-5)
    # in float64 they agree to rounding, and so do their gradients w.r.t. the weights
    model = model.double()
    x = x.double()
    closed, exact = model.jacobian_norm_sq(x, "closed_form"), model.jacobian_norm_sq(x, "exact")
    torch.testing.assert_close(closed, exact, atol=1e-12, rtol=1e-10)
    params = list(model.encoder.parameters())
    for g_closed, g_exact in zip(torch.autograd.grad(closed.sum(), params),
                                 torch.autograd.grad(exact.sum(), params)):
        torch.testing.assert_close(g_closed, g_exact, atol=1e-12, rtol=1e-10)


def test_exact_path_works_for_any_encoder(digits):
    model = aekit.create("cae", data=digits, arch="mlp", hidden_dims=(16,), latent_dim=4)
    assert model.config.jacobian_method == "exact"
    x = digits.x[:6]
    with torch.no_grad():
        torch.testing.assert_close(jacobian_frobenius_sq(model.encoder, x),
                                   _jacobian_by_loop(model.encoder, x), atol=1e-6, rtol=1e-5)
    conv = aekit.create("cae", data=digits, arch="conv", base_channels=4, latent_dim=3)
    with torch.no_grad():
        torch.testing.assert_close(conv.jacobian_norm_sq(x), _jacobian_by_loop(conv.encoder, x),
                                   atol=1e-6, rtol=1e-5)


def test_hutchinson_estimator_is_unbiased(digits):
    model = aekit.create("cae", data=digits, arch="mlp", hidden_dims=(16,), latent_dim=6)
    x = digits.x[:4].double()
    model = model.double()
    g = torch.Generator().manual_seed(0)
    n = 4000
    with torch.no_grad():
        exact = jacobian_frobenius_sq(model.encoder, x)
        draws = torch.stack([hutchinson_frobenius_sq(model.encoder, x, 1, generator=g)
                             for _ in range(n)])
    # each draw is unbiased; the mean of n draws is within 5 standard errors
    se = draws.std(0) / n**0.5
    assert ((draws.mean(0) - exact).abs() < 5 * se).all(), (draws.mean(0), exact, se)


def test_penalty_lowers_the_jacobian_norm(digits):
    train, test = digits.x[:1000], digits.x[1000:1400]

    def trained_norm(weight: float) -> float:
        torch.manual_seed(0)
        model = _single_layer_cae(contractive_weight=weight)
        aekit.Trainer(epochs=5, batch_size=64, lr=3e-3, val_fraction=0, checkpoint_every=0,
                      progress=False).fit(model, train)
        with torch.no_grad():
            return model.jacobian_norm_sq(test, "exact").mean().item()

    plain, contractive = trained_norm(0.0), trained_norm(1.0)
    assert contractive < 0.75 * plain, (plain, contractive)


@pytest.mark.parametrize("hidden,jacobian", [((), "auto"), ((16,), "exact"),
                                             ((16,), "hutchinson")])
def test_smoke_training_on_digits(digits, hidden, jacobian):
    model = aekit.create("cae", data=digits.x, arch="mlp", hidden_dims=hidden, latent_dim=6,
                         jacobian=jacobian, n_projections=2)
    result = aekit.Trainer(epochs=2, batch_size=128, progress=False,
                           checkpoint_every=0).fit(model, digits.x[:512])
    row = result.last()
    assert all(np.isfinite(row[k]) for k in ("loss", "recon", "contractive"))
    assert np.isfinite(result.last("val")["contractive"])  # eval runs under inference_mode
    assert model.embed(digits.x[:3]).shape == (3, 6)
    assert model.reconstruct(digits.x[:3]).shape == (3, 1, 8, 8)
    loss = model.loss(digits.x[:8])
    torch.testing.assert_close(loss.total, loss.terms["recon"] + 0.1 * loss.terms["contractive"])


@pytest.mark.parametrize("bad,match", [
    ({"contractive_weight": -1.0}, "contractive_weight"),
    ({"jacobian": "numeric"}, "jacobian"),
    ({"jacobian": "closed_form", "hidden_dims": (8,)}, "closed_form"),
    ({"jacobian": "closed_form", "code_activation": "tanh"}, "closed_form"),
    ({"code_activation": "relu6"}, "code_activation"),
    ({"n_projections": 0}, "n_projections"),
])
def test_bad_settings_name_the_parameter(bad, match):
    settings = {"hidden_dims": (), **bad}
    with pytest.raises(ConfigError, match=match):
        aekit.create("cae", input_shape=(64,), likelihood="bernoulli", **settings)
