"""Posterior-collapse diagnostics detect a deliberately collapsed model."""

import math
import warnings

import pytest
import torch

import aekit
from aekit.errors import ConfigError
from aekit.metrics.collapse import (
    PosteriorCollapseWarning,
    active_units,
    collapse_report,
    kl_per_dimension,
    mutual_information,
)


def vae_with_last_layer(latent_dim=4, live=()):
    """A VAE whose encoder output is zero except the means of the ``live`` dimensions.

    Zero weights and bias make q(z_j|x) = N(0, 1) for every x on a dead dimension j:
    exactly the prior, the definition of a collapsed unit. Live dimensions get a mean
    that depends on x.
    """
    torch.manual_seed(0)
    model = aekit.create("vae", input_shape=(64,), latent_dim=latent_dim, arch="mlp",
                         hidden_dims=(32,), likelihood="bernoulli")
    last = model.encoder[-1]
    with torch.no_grad():
        w = last.weight.clone()
        last.weight.zero_()
        last.bias.zero_()
        for j in live:
            last.weight[j] = 10.0 * w[j]  # mean of z_j varies with x
    return model.eval()


def test_fully_collapsed_model_is_detected_with_a_warning(digits_flat):
    model = vae_with_last_layer(live=())
    kl = kl_per_dimension(model, digits_flat)
    torch.testing.assert_close(kl, torch.zeros(4, dtype=torch.float64))
    assert active_units(model, digits_flat) == 0
    with pytest.warns(PosteriorCollapseWarning, match="posterior collapse"):
        report = collapse_report(model, digits_flat)
    assert report.collapsed and report.active_units == 0
    assert report.collapsed_dims == [0, 1, 2, 3]
    assert abs(report.mutual_information) < 0.05


def test_partially_collapsed_model_names_its_dead_dimensions(digits_flat):
    model = vae_with_last_layer(live=(1, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error", PosteriorCollapseWarning)  # no warning: 2 units live
        report = collapse_report(model, digits_flat)
    assert not report.collapsed
    assert report.active_units == 2 and report.collapsed_dims == [0, 2]
    kl = torch.tensor(report.kl_per_dim)
    assert kl[[0, 2]].abs().max() < 1e-9 and kl[[1, 3]].min() > 0.05
    assert report.kl_total == pytest.approx(float(kl.sum()))
    assert report.mutual_information > 0.3


def test_mutual_information_is_bounded_by_log_n(digits_flat):
    model = vae_with_last_layer(live=(0, 1, 2, 3))
    n = 300
    with torch.no_grad():
        model.encoder[-1].bias[4:] = -12.0  # tiny posterior variance: near-deterministic codes
    mi = mutual_information(model, digits_flat.x[:n])
    assert 0.9 * math.log(n) < mi <= math.log(n) + 1e-6


def test_collapse_metrics_need_a_gaussian_posterior(digits_flat):
    model = aekit.create("ae", input_shape=(64,), latent_dim=3, arch="mlp", hidden_dims=(16,),
                         likelihood="bernoulli")
    with pytest.raises(ConfigError, match="Gaussian posterior"):
        collapse_report(model, digits_flat)
    assert 0 <= active_units(model, digits_flat) <= 3  # activity works on any code


def test_a_trained_model_collapses_under_a_huge_kl_weight(digits_flat):
    """beta = 50 makes the KL term dominate: training drives q(z|x) to the prior."""
    data = digits_flat.subset(torch.arange(600))
    cfg = aekit.TrainConfig(epochs=15, lr=3e-3, progress=False, val_fraction=0.0,
                            checkpoint_every=0)
    reports, warned = {}, {}
    for beta in (1.0, 50.0):
        torch.manual_seed(0)
        model = aekit.create("beta_vae", data=data, beta=beta, latent_dim=4, arch="mlp",
                             hidden_dims=(64,))
        aekit.Trainer(cfg).fit(model, data)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            reports[beta] = collapse_report(model.eval(), data)
        warned[beta] = any(issubclass(w.category, PosteriorCollapseWarning) for w in caught)
    healthy, collapsed = reports[1.0], reports[50.0]
    assert healthy.active_units >= 2 and not healthy.collapsed and not warned[1.0]
    assert collapsed.active_units == 0 and collapsed.collapsed and warned[50.0]
    assert max(collapsed.kl_per_dim) < 0.01 < max(healthy.kl_per_dim)
    assert collapsed.mutual_information < 0.05 < healthy.mutual_information
