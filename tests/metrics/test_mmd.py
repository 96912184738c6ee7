"""MMD: the U-statistic is unbiased (mean = true MMD^2, 0 for equal laws), > 0 for shifts."""

import math

import pytest
import torch

from aekit.errors import ConfigError
from aekit.metrics.mmd import mmd_permutation_test
from aekit.objectives import kernel_matrix, mmd2_unbiased

DRAWS, N, D = 4000, 10, 2


def _mean_and_se(values: torch.Tensor) -> tuple[float, float]:
    return values.mean().item(), (values.std() / math.sqrt(values.numel())).item()


def _biased_mmd2(x, y, kernel):
    """The V-statistic (diagonal included), whose expectation exceeds MMD^2."""
    return (kernel_matrix(x, x, kernel).mean((-1, -2)) + kernel_matrix(y, y, kernel)
            .mean((-1, -2)) - 2 * kernel_matrix(x, y, kernel).mean((-1, -2)))


def test_hand_computed_example():
    x = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    y = torch.tensor([[0.0], [2.0], [3.0]], dtype=torch.float64)

    def k(a, b):
        return 2.0 / (2.0 + (a - b) ** 2)  # IMQ with c = 2 * d = 2

    xs, ys = [0.0, 1.0], [0.0, 2.0, 3.0]
    kxx = sum(k(a, b) for i, a in enumerate(xs) for j, b in enumerate(xs) if i != j) / 2
    kyy = sum(k(a, b) for i, a in enumerate(ys) for j, b in enumerate(ys) if i != j) / 6
    kxy = sum(k(a, b) for a in xs for b in ys) / 6
    assert mmd2_unbiased(x, y).item() == pytest.approx(kxx + kyy - 2 * kxy, rel=1e-12)
    rbf = math.exp(-1.0 / 2.0)  # the only x-x pair, RBF with c = 2
    assert kernel_matrix(x, x, "rbf")[0, 1].item() == pytest.approx(rbf, rel=1e-12)


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_unbiased_zero_for_the_same_distribution(kernel):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(DRAWS, N, D, generator=g, dtype=torch.float64)
    y = torch.randn(DRAWS, N, D, generator=g, dtype=torch.float64)
    est = mmd2_unbiased(x, y, kernel)
    mean, se = _mean_and_se(est)
    v_mean, v_se = _mean_and_se(_biased_mmd2(x, y, kernel))
    print(f"{kernel}: U-statistic mean {mean:.5f} +- {se:.5f} (negative in "
          f"{(est < 0).float().mean():.0%} of draws); V-statistic mean {v_mean:.5f} +- {v_se:.5f}")
    assert abs(mean) < 4 * se  # expectation = the true MMD^2 = 0
    assert (est < 0).float().mean() > 0.3  # single estimates are often negative
    # the biased V-statistic on the same draws is clearly positive: the check has power
    assert v_mean > 10 * v_se


def test_unbiased_equals_the_closed_form_for_a_gaussian_shift():
    # x ~ N(0, I), y ~ N(delta, I), RBF k = exp(-||u||^2 / c): with u = a - b ~ N(m, 2 I),
    # E k = (1 + 4 / c)^(-d / 2) exp(-||m||^2 / (c + 4)), so
    # MMD^2 = 2 (1 + 4 / c)^(-d / 2) (1 - exp(-||delta||^2 / (c + 4)))
    c, shift = 2.0 * D, 0.7
    truth = 2 * (1 + 4 / c) ** (-D / 2) * (1 - math.exp(-shift**2 / (c + 4)))
    g = torch.Generator().manual_seed(1)
    x = torch.randn(DRAWS, N, D, generator=g, dtype=torch.float64)
    y = torch.randn(DRAWS, N, D, generator=g, dtype=torch.float64)
    y[..., 0] += shift
    mean, se = _mean_and_se(mmd2_unbiased(x, y, "rbf"))
    print(f"shift 0.7, RBF: true MMD^2 {truth:.5f}, mean estimate {mean:.5f} +- {se:.5f}")
    assert abs(mean - truth) < 4 * se
    assert truth > 10 * se  # a real shift, resolved by the check


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_positive_for_shifted_samples(kernel):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(500, 3, generator=g)
    same = mmd2_unbiased(x, torch.randn(500, 3, generator=g), kernel).item()
    shifted = mmd2_unbiased(x, torch.randn(500, 3, generator=g) + 1.0, kernel).item()
    assert shifted > 0.05 and shifted > 20 * abs(same)


def test_scales_sum_kernels():
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(20, 2, generator=g), torch.randn(30, 2, generator=g) + 0.5
    both = mmd2_unbiased(x, y, scales=(0.5, 2.0))
    torch.testing.assert_close(both, mmd2_unbiased(x, y, scales=(0.5,))
                               + mmd2_unbiased(x, y, scales=(2.0,)))


def test_permutation_test_rejects_shift_not_equality():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(100, 2, generator=g)
    _, p_same = mmd_permutation_test(x, torch.randn(100, 2, generator=g), generator=g)
    _, p_shift = mmd_permutation_test(x, torch.randn(100, 2, generator=g) + 0.5, generator=g)
    assert p_same > 0.05
    assert p_shift < 0.01


def test_permutation_statistic_matches_the_estimator():
    g = torch.Generator().manual_seed(5)
    x, y = torch.randn(40, 3, generator=g), torch.randn(30, 3, generator=g)
    stat, _ = mmd_permutation_test(x, y, kernel="rbf", permutations=10, generator=g)
    assert stat == pytest.approx(mmd2_unbiased(x.double(), y.double(), "rbf").item(), rel=1e-9)


def test_bad_arguments():
    x = torch.randn(5, 2)
    with pytest.raises(ConfigError, match="kernel"):
        mmd2_unbiased(x, x, kernel="laplace")
    with pytest.raises(ConfigError, match="scales"):
        mmd2_unbiased(x, x, scales=(0.0,))
    with pytest.raises(ConfigError, match="at least 2"):
        mmd2_unbiased(x[:1], x)
