"""IWAE NLL, negative ELBO and bits/dim against models whose log p(x) is known exactly."""

import math

import numpy as np
import pytest
import torch

import aekit
from aekit.errors import ConfigError
from aekit.metrics.likelihood import bits_per_dim, iwae_nll, negative_elbo

D, K, S = 5, 2, 0.5  # data dims, latent dims, decoder noise scale


def linear_gaussian_vae(w: torch.Tensor, b: torch.Tensor, exact_posterior: bool):
    """A VAE that is the linear-Gaussian model, so log p(x) is known in closed form.

    Generative model (aekit VAE, ``hidden_dims=()`` makes encoder and decoder affine)::

        z ~ N(0, I_K),    x | z ~ N(W z + b, s^2 I_D)

    Marginal: x = W z + b + s e with z, e independent standard normals, so x is Gaussian
    with mean b and covariance W W^T + s^2 I_D:

        log p(x) = log N(x; b, W W^T + s^2 I_D).

    Posterior (Bayes' rule for a linear-Gaussian model):

        p(z | x) = N(M^-1 W^T (x - b) / s^2, M^-1),    M = I_K + W^T W / s^2.

    The encoder outputs the exact posterior mean and, as a diagonal Gaussian, the
    diagonal of M^-1 (``exact_posterior=True`` needs W with orthogonal columns so that
    M^-1 is diagonal; otherwise q is the mean-field approximation and the ELBO is
    strictly below log p(x)).
    """
    model = aekit.create("vae", input_shape=(D,), latent_dim=K, arch="mlp", hidden_dims=(),
                         likelihood="gaussian", sigma=S)
    m = torch.eye(K) + w.T @ w / S**2
    m_inv = torch.linalg.inv(m)
    a = m_inv @ w.T / S**2  # posterior mean = a (x - b)
    if exact_posterior:
        assert torch.allclose(m_inv, torch.diag(torch.diag(m_inv)), atol=1e-6)
    enc, dec = model.encoder[-1], model.decoder[-1]
    with torch.no_grad():
        dec.weight.copy_(w)
        dec.bias.copy_(b)
        enc.weight.zero_()
        enc.weight[:K] = a
        enc.bias[:K] = -a @ b
        enc.bias[K:] = torch.log(torch.diag(m_inv))
    return model.eval()


def exact_nll(w, b, x):
    cov = w @ w.T + S**2 * torch.eye(D)
    dist = torch.distributions.MultivariateNormal(b.double(), cov.double())
    return -dist.log_prob(x.double())


def sample_data(w, b, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, K, generator=g)
    return z @ w.T + b + S * torch.randn(n, D, generator=g)


def correlated_decoder():
    """Nearly parallel columns: the posterior is strongly correlated, mean-field q is off."""
    g = torch.Generator().manual_seed(2)
    base = torch.randn(D, generator=g)
    w = torch.stack([base, 0.5 * base + 0.5 * torch.randn(D, generator=g)], dim=1)
    return w, torch.randn(D, generator=g)


def test_iwae_is_exact_when_the_posterior_is_exact():
    """With q = p(z|x) every importance weight equals p(x): the estimate is exact for any K."""
    q, _ = torch.linalg.qr(torch.randn(D, K, generator=torch.Generator().manual_seed(1)))
    w = q * torch.tensor([2.0, 0.7])  # orthogonal columns of different lengths
    b = torch.linspace(-1, 1, D)
    model = linear_gaussian_vae(w, b, exact_posterior=True)
    x = sample_data(w, b, 40)
    truth = exact_nll(w, b, x)
    for k in (1, 7, 100):
        est = iwae_nll(model, x, k=k, batch_size=16, reduction="none")
        torch.testing.assert_close(est, truth, atol=2e-4, rtol=0)
    # the ELBO equals log p(x) in expectation (KL(q || p(z|x)) = 0); its one-sample
    # reconstruction term is noisy, so average many samples
    assert negative_elbo(model, x, n_samples=400) == pytest.approx(float(truth.mean()),
                                                                     abs=0.03)


def test_iwae_converges_to_log_likelihood_and_elbo_is_below():
    w, b = correlated_decoder()
    model = linear_gaussian_vae(w, b, exact_posterior=False)
    x = sample_data(w, b, 60, seed=3)
    truth = float(exact_nll(w, b, x).mean())
    nelbo = negative_elbo(model, x, n_samples=200)
    assert nelbo > truth + 0.1  # -ELBO >= -log p(x), strictly for a wrong posterior

    def gap(k, seeds):  # expected bound gap, averaged over independent estimates
        return float(np.mean([iwae_nll(model, x, k=k, seed=s) for s in range(seeds)])) - truth

    gap1, gap2 = gap(1, 40), gap(2, 40)
    assert gap1 == pytest.approx(nelbo - truth, abs=0.05)  # K = 1 is the ELBO
    assert gap1 > gap2 > 0  # the bound tightens with K
    assert abs(gap(5000, 1)) < 0.02  # and converges to log p(x)


def test_iwae_bernoulli_decoder_matches_quadrature():
    """One latent dimension: log p(x) = log integral N(z; 0, 1) prod_d Bern(x_d | z) dz."""
    model = aekit.create("vae", input_shape=(6,), latent_dim=1, arch="mlp", hidden_dims=(),
                         likelihood="bernoulli")
    g = torch.Generator().manual_seed(4)
    wd, bd = torch.randn(6, 1, generator=g) * 2, torch.randn(6, generator=g)
    with torch.no_grad():
        model.decoder[-1].weight.copy_(wd)
        model.decoder[-1].bias.copy_(bd)
        model.encoder[-1].weight.mul_(0.1)
        model.encoder[-1].bias.zero_()
    model.eval()
    x = (torch.rand(30, 6, generator=g) < 0.5).float()
    zs = torch.linspace(-10, 10, 20001, dtype=torch.float64)
    logits = zs[:, None] * wd.double().T + bd.double()  # (Z, 6)
    log_lik = -(torch.nn.functional.binary_cross_entropy_with_logits(
        logits[:, None, :].expand(-1, len(x), -1), x.double()[None].expand(len(zs), -1, -1),
        reduction="none").sum(-1))  # (Z, N)
    log_prior = -0.5 * zs**2 - 0.5 * math.log(2 * math.pi)
    integrand = torch.exp(log_lik + log_prior[:, None])
    truth = -torch.log(torch.trapezoid(integrand, zs, dim=0))
    est = iwae_nll(model, x, k=50_000, batch_size=30, reduction="none")  # q ~ prior: many K
    assert float((est - truth).abs().max()) < 0.03
    assert abs(float((est - truth).mean())) < 0.01
    assert float(negative_elbo(model, x, n_samples=100)) > float(truth.mean())


def test_chunks_of_samples_merge_exactly():
    """One sample per chunk: only an exact log-sum-exp merge recovers the K-sample bound.

    Averaging the chunks' bounds instead would return the ELBO (K = 1), which is more
    than 0.05 nats above log p(x) here.
    """
    w, b = correlated_decoder()
    model = linear_gaussian_vae(w, b, exact_posterior=False)
    x = sample_data(w, b, 60, seed=3)
    truth = float(exact_nll(w, b, x).mean())
    one_per_chunk = iwae_nll(model, x, k=2000, batch_size=60, max_samples_per_pass=60)
    assert abs(one_per_chunk - truth) < 0.03
    with pytest.raises(ConfigError, match="k must be"):
        iwae_nll(model, x, k=0)


def test_bits_per_dim():
    assert bits_per_dim(64 * math.log(2), (1, 8, 8)) == pytest.approx(1.0)
    assert bits_per_dim(np.log(2.0) * 3, 3) == pytest.approx(1.0)


def test_likelihood_metrics_refuse_models_without_a_posterior(digits_flat):
    ae = aekit.create("ae", data=digits_flat, latent_dim=2, arch="mlp", hidden_dims=(8,))
    with pytest.raises(ConfigError, match="prior|posterior"):
        iwae_nll(ae, digits_flat.x[:4], k=2)


def test_bits_per_dim_of_a_categorical_likelihood_counts_positions_not_classes():
    """A (V, L) one-hot example holds L variables: the class axis is not data."""
    model = aekit.create("vae", input_shape=(5, 7), likelihood="categorical", arch="mlp",
                         hidden_dims=(8,), latent_dim=2)
    nll = 7 * math.log(5.0)  # uniform over 5 classes at 7 positions
    assert bits_per_dim(nll, (5, 7), model.likelihood) == pytest.approx(math.log2(5))
    assert bits_per_dim(nll, (1, 8, 8), aekit.create(
        "vae", input_shape=(1, 8, 8), likelihood="bernoulli").likelihood) == pytest.approx(
        nll / (64 * math.log(2)))
