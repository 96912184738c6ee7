"""Noise models of the denoising autoencoders: each has the rate / variance it is asked for.

Tolerances come from the sampling distribution of the statistic, at 5 standard
deviations (binomial counts) or the 1e-6 two-sided chi-square quantiles (variance), so a
correct implementation fails with probability < 1e-5 whatever the seed.
"""

import math

import pytest
import torch
from scipy import stats

from aekit.data.corruptions import (
    GaussianNoise,
    MaskingNoise,
    SaltAndPepperNoise,
    make_corruption,
)
from aekit.errors import ConfigError

N = 200_000  # values per statistical test


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _binomial_ok(count: int, n: int, p: float, z: float = 5.0) -> bool:
    return abs(count - n * p) <= z * math.sqrt(n * p * (1 - p))


@pytest.mark.parametrize("std", [0.1, 0.5, 2.0])
def test_gaussian_noise_has_requested_variance_and_zero_mean(std):
    x = torch.rand(N, dtype=torch.float64) * 3 - 1
    noise = GaussianNoise(std)(x, generator=_gen()) - x
    n = noise.numel()
    # (n - 1) s^2 / std^2 ~ chi2(n - 1)
    statistic = (n - 1) * noise.var().item() / std**2
    lo, hi = stats.chi2.ppf([0.5e-6, 1 - 0.5e-6], n - 1)
    assert lo < statistic < hi
    assert abs(noise.mean().item()) < 5 * std / math.sqrt(n)
    # and it is Gaussian: a KS test against N(0, std^2) does not reject
    assert stats.kstest(noise[:20_000].numpy() / std, "norm").pvalue > 1e-4


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.75])
def test_masking_zeroes_the_requested_fraction_and_keeps_the_rest(fraction):
    x = torch.rand(N) + 0.5  # no zeros before corruption
    out = MaskingNoise(fraction)(x, generator=_gen(1))
    zeroed = out == 0
    assert _binomial_ok(int(zeroed.sum()), N, fraction)
    assert torch.equal(out[~zeroed], x[~zeroed])


@pytest.mark.parametrize("fraction", [0.05, 0.4])
def test_salt_and_pepper_rate_coin_and_default_range(fraction):
    x = torch.rand(N) * 0.8 + 0.1  # strictly inside (0, 1)
    x[0], x[1] = 0.0, 1.0  # the min and max the defaults pick up
    out = SaltAndPepperNoise(fraction)(x, generator=_gen(2))
    inner = slice(2, None)
    changed = out[inner] != x[inner]
    k = int(changed.sum())
    assert _binomial_ok(k, N - 2, fraction)
    replaced = out[inner][changed]
    assert bool(((replaced == 0.0) | (replaced == 1.0)).all())  # min / max of x
    assert _binomial_ok(int((replaced == 1.0).sum()), k, 0.5)  # fair coin
    assert torch.equal(out[inner][~changed], x[inner][~changed])


def test_salt_and_pepper_uses_given_values():
    x = torch.zeros(10_000)
    out = SaltAndPepperNoise(0.5, low=-2.0, high=3.0)(x, generator=_gen(3))
    assert set(out.unique().tolist()) == {-2.0, 0.0, 3.0}


@pytest.mark.parametrize("noise", [GaussianNoise(0.3), MaskingNoise(0.3),
                                   SaltAndPepperNoise(0.3)])
def test_generator_makes_noise_reproducible_and_global_rng_is_the_default(noise):
    x = torch.rand(4, 1, 8, 8)
    a, b = noise(x, generator=_gen(7)), noise(x, generator=_gen(7))
    assert torch.equal(a, b) and a.shape == x.shape and a.dtype == x.dtype
    assert not torch.equal(a, noise(x, generator=_gen(8)))
    torch.manual_seed(5)
    c = noise(x)
    torch.manual_seed(5)
    assert torch.equal(c, noise(x))
    assert not torch.equal(noise(x), noise(x))  # fresh noise each call


def test_zero_noise_is_the_identity():
    x = torch.rand(100)
    for noise in (GaussianNoise(0.0), MaskingNoise(0.0), SaltAndPepperNoise(0.0)):
        assert torch.equal(noise(x), x)
    assert torch.equal(MaskingNoise(1.0)(x), torch.zeros_like(x))


def test_make_corruption_and_validation():
    assert make_corruption("gaussian", 0.2) == GaussianNoise(0.2)
    assert make_corruption("masking", 0.2) == MaskingNoise(0.2)
    assert make_corruption("salt_pepper", 0.2, (0.0, 1.0)) == SaltAndPepperNoise(0.2, 0.0, 1.0)
    with pytest.raises(ConfigError, match="not one of"):
        make_corruption("dropout", 0.2)
    with pytest.raises(ConfigError, match="std"):
        GaussianNoise(-1.0)
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        MaskingNoise(1.5)
    with pytest.raises(ConfigError, match="low < high"):
        SaltAndPepperNoise(0.1, low=1.0, high=0.0)
