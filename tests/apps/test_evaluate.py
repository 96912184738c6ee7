"""`aekit.apps.evaluate`: group selection and what is skipped for which model."""

import pytest
import torch

import aekit
from aekit.apps.evaluate import evaluate, parse_metrics
from aekit.errors import ConfigError

SMALL = {"latent_dim": 3, "arch": "mlp", "hidden_dims": (16,)}


def test_parse_metrics():
    assert parse_metrics("all") == ("nll", "elbo", "recon", "fid", "pr", "is", "collapse",
                                    "probe")
    assert parse_metrics("rd, nll") == ("nll", "rd")
    with pytest.raises(ConfigError, match="unknown metric 'fd'"):
        parse_metrics("fd")


@pytest.fixture(scope="module")
def split(digits):
    return digits.subset(torch.arange(0, 300)), digits.subset(torch.arange(300, 450))


def test_iwae_tightens_the_elbo_of_a_model(split):
    train, test = split
    model = aekit.create("vae", data=train, **SMALL)
    r = evaluate(model, test, metrics="nll,elbo", k=50)
    assert r.metrics["iwae_nll"] < r.metrics["negative_elbo"]
    assert r.metrics["iwae_bits_per_dim"] == pytest.approx(
        r.metrics["iwae_nll"] / (64 * 0.6931471805599453))


@pytest.mark.filterwarnings("ignore::aekit.metrics.collapse.PosteriorCollapseWarning")
def test_hierarchical_and_conditional_models_skip_what_does_not_apply(split):
    train, test = split
    ladder = aekit.create("ladder_vae", data=train, arch="mlp")
    r = evaluate(ladder, test, metrics="nll,elbo,collapse")
    assert "several latent layers" in r.skipped["nll"]
    assert r.metrics["negative_elbo"] > 0 and "active_units" in r.metrics
    cvae = aekit.create("cvae", data=train, **SMALL)
    r = evaluate(cvae, test, metrics="nll,probe,recon")
    assert "circular" in r.skipped["probe"] and "iwae_nll" in r.metrics
