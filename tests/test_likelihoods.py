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
