"""Denoiser and SignalDenoiser: they remove the noise they were trained on, better than
classical filters, in data units, and save, load and refuse bad input clearly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from aekit.apps.denoise import Denoiser, SignalDenoiser
from aekit.errors import AekitError, ConfigError, DataError
from aekit.metrics import psnr


@pytest.fixture(scope="module")
def split(digits):
    train, test = digits.split(0.2, seed=0)
    return train.x.numpy(), test.x.numpy()


@pytest.fixture(scope="module")
def gaussian_denoiser(split):
    return Denoiser("gaussian", 0.3, epochs=40).fit(split[0])


def _sines(length: int, seed: int = 0) -> np.ndarray:
    t = np.arange(length)
    return np.stack([np.sin(2 * np.pi * t / 50) + 0.5 * np.sin(2 * np.pi * t / 13),
                     np.sign(np.sin(2 * np.pi * (t + seed) / 200))], 1).astype(np.float32)


def test_gaussian_noise_removed_better_than_median_and_blur(gaussian_denoiser, split):
    """On held-out digits with noise of std 0.3: at least 4 dB over the noisy input and
    more than the best 3x3 median filter or Gaussian blur."""
    clean = split[1]
    noisy = gaussian_denoiser.corrupt(clean, seed=1)
    before = psnr(torch.from_numpy(clean), torch.from_numpy(noisy))
    after = gaussian_denoiser.score(clean, X_noisy=noisy)
    median = psnr(torch.from_numpy(clean), torch.from_numpy(
        ndimage.median_filter(noisy, size=(1, 1, 3, 3))))
    blur = max(psnr(torch.from_numpy(clean), torch.from_numpy(
        ndimage.gaussian_filter(noisy, sigma=(0, 0, s, s)))) for s in (0.5, 0.75, 1.0))
    assert after > before + 4
    assert after > max(median, blur) + 1


@pytest.mark.parametrize("noise,level", [("masking", 0.3), ("salt_pepper", 0.2)])
def test_masking_and_salt_pepper_are_removed(noise, level, split):
    den = Denoiser(noise, level, arch="mlp", epochs=30).fit(split[0])
    clean = split[1]
    noisy = den.corrupt(clean, seed=1)
    inside = (clean > 0) & (clean < 1)  # values the noise cannot leave as they were
    assert np.mean(noisy[inside] != clean[inside]) == pytest.approx(level, abs=0.03)
    before = psnr(torch.from_numpy(clean), torch.from_numpy(noisy))
    assert den.score(clean, X_noisy=noisy) > before + 3


def test_data_outside_unit_range_is_denoised_in_its_own_units(split):
    """Gaussian noise_level is in data units: for data x 100 + 50, noise of std 30 is the
    same problem as std 0.3 on the digits, and the output comes back in data units."""
    train, test = split[0] * 100 + 50, split[1] * 100 + 50
    den = Denoiser("gaussian", 30.0, arch="mlp", epochs=30).fit(train)
    noisy = den.corrupt(test, seed=2)
    assert np.std(noisy - test) == pytest.approx(30.0, rel=0.05)
    out = den.transform(noisy)
    assert out.shape == test.shape
    assert np.mean((out - test) ** 2) < 0.5 * np.mean((noisy - test) ** 2)
    assert abs(out.mean() - test.mean()) < 5


def test_masked_values_are_zeros_in_data_units():
    x = np.random.default_rng(0).normal(5.0, 2.0, size=(200, 12)).astype(np.float32)
    den = Denoiser("masking", 0.5, epochs=1).fit(x)
    noisy = den.corrupt(x, seed=0)
    masked = noisy != x
    assert abs(masked.mean() - 0.5) < 0.05 and np.all(noisy[masked] == 0)


def test_signal_denoiser_shrinks_the_error_and_keeps_shapes():
    rng = np.random.default_rng(0)
    clean = _sines(6000)
    den = SignalDenoiser(window=32, noise_level=0.5, epochs=15).fit(clean[:4000])
    test = clean[4000:]
    noisy = test + 0.5 * clean.std(0) * rng.standard_normal(test.shape).astype(np.float32)
    out = den.transform(noisy)
    assert out.shape == test.shape
    assert np.mean((out - test) ** 2) < np.mean((noisy - test) ** 2) / 5
    listed = den.transform([noisy[:500], noisy[500:]])
    assert [a.shape for a in listed] == [(500, 2), (1500, 2)]
    one = SignalDenoiser(window=16, epochs=1).fit(clean[:1000, 0])
    assert one.transform(noisy[:300, 0]).shape == (300,)
    assert one.transform(torch.from_numpy(noisy[:300, 0])).shape == (300,)  # a 1-D tensor
    assert one.corrupt(torch.from_numpy(noisy[:300, 0])).shape == (300,)
    with pytest.raises(DataError,
                       match=r"X has 2 features, but SignalDenoiser is expecting 1 features"):
        one.transform(noisy)


@pytest.mark.parametrize("cls,data", [
    (Denoiser, lambda split: split[0][:200]),
    (SignalDenoiser, lambda split: _sines(800)),
])
def test_save_load_round_trip(cls, data, split, tmp_path):
    x = data(split)
    den = cls(epochs=2).fit(x)
    den.save(tmp_path / "den")
    back = cls.load(tmp_path / "den")
    np.testing.assert_allclose(back.transform(x), den.transform(x), rtol=1e-5, atol=1e-6)
    other = SignalDenoiser if cls is Denoiser else Denoiser
    with pytest.raises(AekitError, match=f"holds a {cls.__name__}, not a {other.__name__}"):
        other.load(tmp_path / "den")
    with pytest.raises(AekitError, match="no estimator.json"):
        cls.load(tmp_path)


def test_bad_input_and_settings_are_named(split):
    bad = split[0][:50].copy()
    bad[3, 0, 2, 5] = np.nan
    with pytest.raises(DataError, match=r"X: 1 NaN value .*example 3 at \(0, 2, 5\)"):
        Denoiser(epochs=1).fit(bad)
    with pytest.raises(ConfigError, match="'noise' parameter of Denoiser .*Got 'speckle'"):
        Denoiser("speckle").fit(split[0][:50])
    with pytest.raises(ConfigError, match=r"noise_level .*masking.*\(0, 1\)"):
        Denoiser("masking", 1.5).fit(split[0][:50])
    with pytest.raises(AekitError, match="not fitted"):
        Denoiser().transform(split[1])
    den = Denoiser(epochs=1, arch="mlp").fit(split[0][:50])
    with pytest.raises(DataError, match=r"fitted on examples of shape \(1, 8, 8\)"):
        den.transform(split[1].reshape(len(split[1]), -1))
    with pytest.raises(ConfigError, match="window must be >= 2"):
        SignalDenoiser(window=1).fit(_sines(100))
    with pytest.raises(ConfigError, match=r"stride in \[1, window\]"):
        SignalDenoiser(window=16, stride=40).fit(_sines(100))


def test_fitting_leaves_the_callers_random_state_alone(split):
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    Denoiser(epochs=1, arch="mlp").fit(split[0][:64])
    torch.testing.assert_close(torch.rand(3), expected)
