"""The diagonal Gaussian posterior: closed-form KL, reparameterisation, gradients."""

import torch
from torch.distributions import Normal, kl_divergence

from aekit.latents import DiagonalGaussian
from aekit.priors import StandardNormal


def test_closed_form_kl_matches_monte_carlo_and_torch():
    mu, logvar = torch.randn(4, 3), torch.randn(4, 3) * 0.5
    q = DiagonalGaussian(mu, logvar)
    closed = q.kl_standard_normal().sum(-1)
    ref = kl_divergence(Normal(mu, q.std), Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(closed, ref)
    z = q.rsample(200_000)  # (S, B, K)
    mc = (q.log_prob(z) - StandardNormal(3).log_prob(z)).mean(0)
    torch.testing.assert_close(mc, closed, atol=0.02, rtol=0.02)


def test_rsample_has_posterior_moments_and_gradients_reach_both_params():
    mu = torch.tensor([[1.0, -2.0]], requires_grad=True)
    logvar = torch.tensor([[0.0, -1.0]], requires_grad=True)
    q = DiagonalGaussian(mu, logvar)
    z = q.rsample(100_000)
    torch.testing.assert_close(z.mean(0), mu.detach(), atol=0.02, rtol=0)
    torch.testing.assert_close(z.var(0), logvar.detach().exp(), atol=0.02, rtol=0.02)
    (z ** 2).mean().backward()
    assert mu.grad is not None and mu.grad.abs().sum() > 0
    assert logvar.grad is not None and logvar.grad.abs().sum() > 0


def test_log_prob_matches_torch_distribution():
    q = DiagonalGaussian(torch.randn(5, 4), torch.randn(5, 4))
    z = torch.randn(5, 4)
    torch.testing.assert_close(q.log_prob(z), q.as_distribution().log_prob(z))


def test_logvar_is_clamped():
    q = DiagonalGaussian(torch.zeros(1, 2), torch.tensor([[1e4, -1e4]]))
    assert torch.isfinite(q.kl_standard_normal()).all()
    assert torch.isfinite(q.rsample()).all()
