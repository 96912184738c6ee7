"""MSE, PSNR, SSIM and per-feature error."""

import math

import pytest
import torch

import aekit
from aekit.metrics.reconstruction import (
    mse,
    per_feature_error,
    psnr,
    reconstruction_scores,
    ssim,
)


def test_mse_and_psnr_known_values():
    x = torch.zeros(4, 1, 8, 8)
    x_hat = torch.full_like(x, 0.1)
    assert mse(x, x_hat) == pytest.approx(0.01)
    assert psnr(x, x_hat) == pytest.approx(20.0)  # 10 log10(1 / 0.01)
    assert psnr(x, x) == math.inf


def test_ssim_identity_symmetry_and_noise():
    torch.manual_seed(0)
    x = torch.rand(6, 1, 16, 16)
    assert ssim(x, x) == pytest.approx(1.0)
    noisy = (x + 0.2 * torch.randn_like(x)).clamp(0, 1)
    s = ssim(x, noisy)
    assert s < 0.9 and s == pytest.approx(ssim(noisy, x))
    assert ssim(x, (x + 0.5 * torch.randn_like(x)).clamp(0, 1)) < s


def test_ssim_of_constant_images_follows_the_luminance_term():
    # constant images a and b: variances and covariance vanish, SSIM = (2ab + C1)/(a^2+b^2+C1)
    a, b, c1 = 0.2, 0.6, 0.01**2
    got = ssim(torch.full((1, 1, 11, 11), a), torch.full((1, 1, 11, 11), b))
    assert got == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-6)


def test_per_feature_error():
    x = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    x_hat = torch.tensor([[1.0, 1.0], [2.0, 1.0]])
    err = per_feature_error(x, x_hat, ["a", "b"])
    assert err == {"a": {"mse": 0.5, "mae": 0.5}, "b": {"mse": 2.0, "mae": 1.0}}


def test_reconstruction_scores_by_modality(digits, digits_flat):
    img = aekit.create("ae", data=digits, latent_dim=3, arch="mlp", hidden_dims=(16,))
    s = reconstruction_scores(img, digits.subset(torch.arange(50)))
    assert set(s) == {"mse", "psnr", "ssim"}
    vec = aekit.create("ae", data=digits_flat, latent_dim=3, arch="mlp", hidden_dims=(16,))
    s = reconstruction_scores(vec, digits_flat.subset(torch.arange(50)))
    assert set(s) == {"mse", "per_feature"} and len(s["per_feature"]) == 64
