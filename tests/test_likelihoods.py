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


def test_categorical_nll_equals_log_prob_of_one_hot_tokens():
    """(B, V, L): one categorical per position over V classes; the NLL is the summed
    cross-entropy, equal to torch's OneHotCategorical log_prob and to F.cross_entropy."""
    torch.manual_seed(0)
    out = torch.randn(4, 6, 9)
    tokens = torch.randint(6, (4, 9))
    x = torch.nn.functional.one_hot(tokens, 6).movedim(-1, 1).float()
    lik = make_likelihood("categorical", (6, 9))
    nll = lik.nll(out, x)
    torch.testing.assert_close(nll, -lik.distribution(out).log_prob(x.movedim(1, -1)))
    ce = torch.nn.functional.cross_entropy(out, tokens, reduction="none").sum(1)
    torch.testing.assert_close(nll, ce)
    torch.testing.assert_close(lik.mean(out).sum(1), torch.ones(4, 9))
    with pytest.raises(ConfigError, match="needs examples of shape"):
        make_likelihood("categorical", (6,))


def test_a_vae_with_the_categorical_likelihood_learns_token_sequences():
    """One-hot sequences (V=5 tokens, L=10) drawn from 4 patterns: after training, the
    argmax of the reconstruction gives back the tokens (chance would be 1/5)."""
    import aekit

    torch.manual_seed(0)
    patterns = torch.randint(5, (4, 10))
    tokens = patterns[torch.randint(4, (256,))]
    x = torch.nn.functional.one_hot(tokens, 5).movedim(-1, 1).float()
    model = aekit.create("vae", input_shape=(5, 10), arch="gru", likelihood="categorical",
                         latent_dim=4, hidden_dims=(32,))
    aekit.Trainer(epochs=120, batch_size=64, lr=3e-3, progress=False, val_fraction=0.0,
                  checkpoint_every=0).fit(model, x)
    with torch.no_grad():
        accuracy = (model.reconstruct(x).argmax(1) == tokens).float().mean().item()
    assert accuracy > 0.95, accuracy


def _grid():
    from aekit.likelihoods import LEVELS

    return torch.arange(LEVELS, dtype=torch.float64) / (LEVELS - 1)


@pytest.mark.parametrize("loc,log_scale", [(0.5, -3.0), (-0.2, -1.0), (1.3, -5.0),
                                           (0.37, -7.0), (0.0, 2.0), (0.999, -6.5)])
def test_discretized_logistic_probabilities_of_the_256_levels_sum_to_one(loc, log_scale):
    """The defining property: a probability over the 8-bit values, also where the mass
    sits in one bin, beyond an end of [0, 1], or spreads over all of them."""
    from aekit.likelihoods import DiscretizedLogistic

    levels = _grid()
    d = DiscretizedLogistic(torch.full((256,), loc, dtype=torch.float64),
                            torch.full((256,), math.exp(log_scale), dtype=torch.float64))
    p = d.log_prob(levels).exp()
    assert float(p.sum()) == pytest.approx(1.0, abs=1e-9)
    assert float(p.min()) >= 0
    # the mean as a sum of tail probabilities equals sum_k (k/255) P(k)
    assert float(d.mean[0]) == pytest.approx(float((levels * p).sum()), abs=1e-9)


def test_discretized_logistic_mean_in_chunks_equals_the_mean_in_one_pass(monkeypatch):
    from aekit import likelihoods
    from aekit.likelihoods import DiscretizedLogistic

    d = DiscretizedLogistic(torch.rand(4, 64, dtype=torch.float64) * 1.2 - 0.1,
                            torch.rand(4, 64, dtype=torch.float64) * 0.3 + 1e-3)
    whole = d.mean
    monkeypatch.setattr(likelihoods, "MEAN_CHUNK", 256 * 7)  # 7 edges per pass
    torch.testing.assert_close(d.mean, whole)


def test_discretized_logistic_matches_the_logistic_cdf_per_bin_and_in_float32():
    from aekit.likelihoods import DiscretizedLogistic

    loc, scale = torch.tensor(0.4, dtype=torch.float64), torch.tensor(0.05, dtype=torch.float64)
    levels = _grid()
    h = 0.5 / 255
    cdf = torch.distributions.TransformedDistribution(
        torch.distributions.Uniform(torch.tensor(0.0, dtype=torch.float64),
                                    torch.tensor(1.0, dtype=torch.float64)),
        [torch.distributions.transforms.SigmoidTransform().inv,
         torch.distributions.transforms.AffineTransform(loc, scale)]).cdf
    inner = cdf(levels[1:-1] + h) - cdf(levels[1:-1] - h)
    d = DiscretizedLogistic(loc.expand(256), scale.expand(256))
    got = d.log_prob(levels).exp()
    torch.testing.assert_close(got[1:-1], inner)
    assert float(got[0]) == pytest.approx(float(cdf(levels[0] + h)))
    assert float(got[-1]) == pytest.approx(float(1 - cdf(levels[-1] - h)))
    # float32 (as models train): still a distribution, no -inf for narrow bins
    d32 = DiscretizedLogistic(torch.full((256,), 0.4), torch.full((256,), math.exp(-7)))
    lp = d32.log_prob(levels.float())
    assert torch.isfinite(lp).all() and float(lp.exp().sum()) == pytest.approx(1.0, abs=1e-5)


def test_discretized_logistic_likelihood_nll_is_bits_per_dim_in_the_256_convention():
    """nll equals the summed -log P of the distribution object; a near-uniform model
    scores 8 bits/dim; samples lie on the grid; only 8-bit data counts as normalised."""
    from aekit.metrics.likelihood import bits_per_dim

    lik = make_likelihood("discretized_logistic", (1, 4, 4))
    out = torch.rand(3, 1, 4, 4)
    x = torch.randint(0, 256, (3, 1, 4, 4)).float() / 255
    torch.testing.assert_close(lik.nll(out, x), -lik.distribution(out).log_prob(x))
    assert lik.mean(out).shape == out.shape and lik.log_scale.requires_grad
    # a smooth logistic puts about density x bin width (1/255) in each inner bin, so
    # -log P(k) is the -log density of the values k on the 0..255 scale: bits/dim in the
    # convention of 8-bit image models (a density on [0, 1] data plus D log 256 in bits)
    smooth = make_likelihood("discretized_logistic", (1, 4, 4), sigma=0.2)
    loc = torch.full_like(x, 0.45)
    inner = x.clamp(0.1, 0.9)
    density = torch.distributions.TransformedDistribution(
        torch.distributions.Uniform(0.0, 1.0),
        [torch.distributions.transforms.SigmoidTransform().inv,
         torch.distributions.transforms.AffineTransform(0.45, 0.2)]).log_prob(inner)
    with torch.no_grad():
        nll = smooth.nll(loc, inner)
    torch.testing.assert_close(nll, -(density - math.log(255)).flatten(1).sum(1),
                               rtol=1e-4, atol=1e-3)
    assert bits_per_dim(float(nll.mean()), (1, 4, 4), smooth) == pytest.approx(
        float(nll.mean()) / (16 * math.log(2)))
    draws = lik.distribution(out).sample((2,))
    assert draws.shape == (2, 3, 1, 4, 4)
    assert torch.equal(draws * 255, (draws * 255).round())
    assert lik.normalised_on(x) and not lik.normalised_on(torch.rand(3, 1, 4, 4))


def test_a_vae_with_the_discretized_logistic_likelihood_learns_8_bit_digits(digits):
    import aekit
    from aekit.metrics.likelihood import bits_per_dim, negative_elbo

    x = torch.round(digits.x[:512] * 255) / 255  # digits' 17 grey levels on the 8-bit grid
    torch.manual_seed(0)
    model = aekit.create("vae", data=x, likelihood="discretized_logistic", sigma=0.1,
                         latent_dim=4, arch="mlp", hidden_dims=(64,))
    before = negative_elbo(model, x)
    aekit.Trainer(epochs=15, batch_size=64, lr=3e-3, progress=False, val_fraction=0.0,
                  checkpoint_every=0).fit(model, x)
    after = negative_elbo(model, x)
    assert model.likelihood.normalised_on(x)
    bpd = [bits_per_dim(v, x.shape[1:], model.likelihood) for v in (before, after)]
    assert bpd[1] < bpd[0] - 2
