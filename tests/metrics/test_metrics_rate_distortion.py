"""Rate + distortion is the negative ELBO."""

import pytest

import aekit
from aekit.metrics.likelihood import negative_elbo
from aekit.metrics.rate_distortion import rate_distortion


def test_rate_plus_distortion_is_the_negative_elbo(digits_flat):
    model = aekit.create("vae", data=digits_flat, latent_dim=3, arch="mlp", hidden_dims=(16,))
    x = digits_flat.x[:200]
    rate, distortion = rate_distortion(model, x, batch_size=64, seed=3)
    assert rate > 0 and distortion > 0
    # same seed and batches: the same posterior draws as the ELBO's
    assert rate + distortion == pytest.approx(negative_elbo(model, x, batch_size=64, seed=3),
                                              rel=1e-5)
