"""The reconstruction terms are true NLLs: they equal torch.distributions' log_prob."""

import math

import pytest
import torch
from torch.distributions import Bernoulli, Independent, Normal

from aekit.errors import ConfigError
from aekit.likelihoods import (
    BernoulliLikelihood,
    GaussianLikelihood,
    choose_likelihood,
    make_likelihood,
)


def test_bernoulli_nll_equals_log_prob():
    out, x = torch.randn(5, 1, 4, 4), torch.randint(0, 2, (5, 1, 4, 4)).float()
    lik = BernoulliLikelihood()
    expected = -Independent(Bernoulli(logits=out), 3).log_prob(x)
    torch.testing.assert_close(lik.nll(out, x), expected)
    torch.testing.assert_close(lik.distribution(out).log_prob(x), -expected)
    torch.testing.assert_close(lik.mean(out), torch.sigmoid(out))


@pytest.mark.parametrize("learn", [False, True])
def test_gaussian_nll_equals_log_prob_with_constants(learn):
    out, x = torch.randn(6, 10), torch.randn(6, 10)
    lik = GaussianLikelihood((10,), sigma=0.3, learn_scale=learn)
    expected = -Independent(Normal(out, torch.full_like(out, 0.3)), 1).log_prob(x)
    torch.testing.assert_close(lik.nll(out, x), expected)
    torch.testing.assert_close(-lik.distribution(out).log_prob(x), expected)
    # the constant is there: a perfect reconstruction still costs D * (log sigma + log(2 pi)/2)
    zero = lik.nll(x, x)
    const = 10 * (math.log(0.3) + 0.5 * math.log(2 * math.pi))
    torch.testing.assert_close(zero, torch.full((6,), const))


def test_learned_scale_is_a_parameter_and_is_clamped():
    lik = GaussianLikelihood((3,), learn_scale=True, min_log_scale=-2.0)
    assert any(p is lik.log_scale for p in lik.parameters())
    with torch.no_grad():
        lik.log_scale.fill_(-50.0)
    assert torch.isfinite(lik.nll(torch.zeros(2, 3), torch.ones(2, 3))).all()
    assert torch.allclose(lik.distribution(torch.zeros(1, 3)).base_dist.scale,
                          torch.full((1, 3), math.exp(-2.0)))


def test_choose_likelihood_from_data():
    assert choose_likelihood(torch.rand(10, 3)) == "bernoulli"
    assert choose_likelihood(torch.randn(10, 3)) == "gaussian_learned"


def test_make_likelihood_rejects_unknown_and_unresolved_auto():
    with pytest.raises(ConfigError, match="likelihood='nope'"):
        make_likelihood("nope", (3,))
    with pytest.raises(ConfigError, match="resolved from data"):
        make_likelihood("auto", (3,))
