"""The rate-distortion job: a beta sweep trades rate for distortion."""

import pytest
import torch

from aekit.apps.rate_distortion import plot_rate_distortion, rate_distortion_sweep
from aekit.train import TrainConfig


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
