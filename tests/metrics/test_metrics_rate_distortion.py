"""Rate + distortion is the negative ELBO; a beta sweep trades one for the other."""

import pytest
import torch

import aekit
from aekit.metrics.likelihood import negative_elbo
from aekit.metrics.rate_distortion import (
    plot_rate_distortion,
    rate_distortion,
    rate_distortion_sweep,
)
from aekit.train import TrainConfig


def test_rate_plus_distortion_is_the_negative_elbo(digits_flat):
    model = aekit.create("vae", data=digits_flat, latent_dim=3, arch="mlp", hidden_dims=(16,))
    x = digits_flat.x[:200]
    rate, distortion = rate_distortion(model, x, batch_size=64, seed=3)
    assert rate > 0 and distortion > 0
    # same seed and batches: the same posterior draws as the ELBO's
    assert rate + distortion == pytest.approx(negative_elbo(model, x, batch_size=64, seed=3),
                                              rel=1e-5)


def test_beta_sweep_trades_rate_for_distortion(digits_flat, tmp_path):
    data = digits_flat.subset(torch.arange(400))
    cfg = TrainConfig(epochs=8, batch_size=64, lr=3e-3, val_fraction=0.0, progress=False,
                      checkpoint_every=0)
    points = rate_distortion_sweep(data, betas=(0.1, 8.0), model="beta_vae",
                                   model_settings={"latent_dim": 4, "hidden_dims": (32,),
                                                   "arch": "mlp"}, train_config=cfg)
    low, high = points
    assert (low.beta, high.beta) == (0.1, 8.0)
    assert low.rate > high.rate and low.distortion < high.distortion
    assert low.negative_elbo == pytest.approx(low.rate + low.distortion)
    png = plot_rate_distortion(points, tmp_path / "rd.png", marked={"x": (1.0, 30.0)})
    assert png.is_file() and png.stat().st_size > 1000
