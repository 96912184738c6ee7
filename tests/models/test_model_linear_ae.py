"""Linear AE: its decoder spans the top-k PCA subspace (Bourlard & Kamp 1988)."""

import numpy as np
import pytest
import torch
from scipy.linalg import subspace_angles

import aekit
from aekit.errors import ConfigError
from aekit.likelihoods import GaussianLikelihood


def _correlated_gaussian(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """10-D Gaussian with a known covariance: a random rotation of a spectrum whose top 3
    eigenvalues (9, 6, 4) are well separated from the rest (<= 1)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((10, 10)))
    eig = np.array([9.0, 6.0, 4.0, 1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2])
    cov = q @ np.diag(eig) @ q.T
    return rng.multivariate_normal(np.full(10, 2.0), cov, size=n), q[:, :3]


def test_decoder_spans_the_top_k_pca_subspace():
    x, true_top = _correlated_gaussian()
    k = 3
    data = torch.tensor(x, dtype=torch.float32)
    model = aekit.create("linear_ae", data=data, latent_dim=k)
    # full-batch Adam: 500 steps of the exact gradient
    aekit.Trainer(epochs=500, batch_size=len(data), lr=0.1, val_fraction=0,
                  checkpoint_every=0, progress=False).fit(model, data)
    xc = x - x.mean(0)
    evals, evecs = np.linalg.eigh(xc.T @ xc / len(x))
    pca_top = evecs[:, np.argsort(evals)[::-1][:k]]
    basis = model.decoder_basis().numpy()
    angles = np.degrees(subspace_angles(basis, pca_top))
    assert angles.max() < 1.0, angles
    # the encoder learns the same subspace (its row space), and the population subspace
    # is recovered up to the sampling error of 2000 examples
    enc = next(m for m in model.encoder if isinstance(m, torch.nn.Linear)).weight.detach()
    assert np.degrees(subspace_angles(enc.T.numpy(), pca_top)).max() < 1.0
    assert np.degrees(subspace_angles(basis, true_top)).max() < 3.0


def test_linear_ae_is_linear_with_a_gaussian_likelihood(digits):
    model = aekit.create("linear_ae", data=digits.x, latent_dim=4)  # digits are in [0, 1]
    assert isinstance(model.likelihood, GaussianLikelihood)
    assert model.likelihood.name == "gaussian"
    assert [type(m) for m in model.encoder] == [torch.nn.Flatten, torch.nn.Linear]
    # linear: f(a x1 + b x2) - f(0) = a (f(x1) - f(0)) + b (f(x2) - f(0))
    x1, x2, zero = digits.x[:1], digits.x[1:2], torch.zeros_like(digits.x[:1])
    with torch.no_grad():
        lhs = model.reconstruct(2 * x1 - 3 * x2) - model.reconstruct(zero)
        rhs = 2 * (model.reconstruct(x1) - model.reconstruct(zero)) \
            - 3 * (model.reconstruct(x2) - model.reconstruct(zero))
    torch.testing.assert_close(lhs, rhs, atol=1e-5, rtol=1e-5)


def test_linear_ae_loss_is_half_squared_error_plus_constant(digits):
    model = aekit.create("linear_ae", data=digits.x, latent_dim=4)
    x = digits.x[:16]
    loss = model.loss(x)
    sq = (model.reconstruct(x) - x).square().flatten(1).sum(1)
    torch.testing.assert_close(loss.per_example, 0.5 * sq + 0.5 * 64 * np.log(2 * np.pi))


def test_smoke_training_on_digits(digits):
    model = aekit.create("linear_ae", data=digits.x, latent_dim=5)
    result = aekit.Trainer(epochs=2, batch_size=128, progress=False,
                           checkpoint_every=0).fit(model, digits.x[:512])
    assert np.isfinite(result.last()["loss"]) and np.isfinite(result.last("val")["loss"])
    assert model.embed(digits.x[:3]).shape == (3, 5)
    assert model.reconstruct(digits.x[:3]).shape == (3, 1, 8, 8)


@pytest.mark.parametrize("bad,match", [({"hidden_dims": (8,)}, "hidden_dims"),
                                       ({"likelihood": "bernoulli"}, "likelihood"),
                                       ({"arch": "conv"}, "arch")])
def test_bad_settings_name_the_parameter(bad, match):
    with pytest.raises(ConfigError, match=match):
        aekit.create("linear_ae", input_shape=(1, 8, 8), **bad)
