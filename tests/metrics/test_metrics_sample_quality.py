"""FID, precision/recall, Inception Score and the feature extractors."""

import numpy as np
import pytest
import scipy.linalg
import torch

from aekit.errors import ConfigError, DataError
from aekit.metrics.features import DatasetClassifier, ModuleFeatures
from aekit.metrics.inception import FIDInceptionV3, inception_v3_features
from aekit.metrics.sample_quality import (
    fid,
    frechet_distance,
    gaussian_fit,
    inception_score,
    precision_recall,
)


def scipy_frechet(mu1, s1, mu2, s2):
    """The textbook formula with scipy's general matrix square root."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * np.real(covmean)))


def random_gaussian(rng, d):
    a = rng.normal(size=(d, d))
    return rng.normal(size=d), a @ a.T / d + 0.1 * np.eye(d)


@pytest.mark.parametrize("d", [1, 3, 16])
def test_frechet_matches_scipy_on_known_gaussians(d):
    rng = np.random.default_rng(d)
    (mu1, s1), (mu2, s2) = random_gaussian(rng, d), random_gaussian(rng, d)
    ours = frechet_distance(mu1, s1, mu2, s2)
    assert ours == pytest.approx(scipy_frechet(mu1, s1, mu2, s2), rel=1e-8, abs=1e-9)


def test_frechet_closed_form_for_isotropic_gaussians():
    # N(m1, a^2 I) vs N(m2, b^2 I) in d dims: ||m1 - m2||^2 + d (a - b)^2
    d, a, b = 5, 0.5, 2.0
    m1, m2 = np.zeros(d), np.full(d, 3.0)
    expected = 9.0 * d + d * (a - b) ** 2
    assert frechet_distance(m1, a**2 * np.eye(d), m2, b**2 * np.eye(d)) == \
        pytest.approx(expected)


def test_fid_of_a_set_with_itself_is_zero_and_fid_is_symmetric():
    rng = np.random.default_rng(0)
    a = torch.tensor(rng.normal(size=(500, 8)), dtype=torch.float32)
    b = torch.tensor(rng.normal(loc=0.5, size=(400, 8)), dtype=torch.float32)
    identity = ModuleFeatures(lambda x: x, name="identity")
    assert fid(a, a, identity).value == pytest.approx(0.0, abs=1e-6)
    ab, ba = fid(a, b, identity).value, fid(b, a, identity).value
    assert ab > 1.0
    assert ab == pytest.approx(ba, rel=1e-9)
    # and it is the Frechet distance of the Gaussian fits, as scipy computes it
    assert ab == pytest.approx(scipy_frechet(*gaussian_fit(a), *gaussian_fit(b)), rel=1e-6)


def test_fid_sample_estimate_approaches_population_value():
    rng = np.random.default_rng(1)
    (mu1, s1), (mu2, s2) = random_gaussian(rng, 4), random_gaussian(rng, 4)
    x1 = rng.multivariate_normal(mu1, s1, size=20000)
    x2 = rng.multivariate_normal(mu2, s2, size=20000)
    estimate = fid(x1, x2, ModuleFeatures(lambda x: x)).value
    assert estimate == pytest.approx(frechet_distance(mu1, s1, mu2, s2), rel=0.05)


def test_metric_names_never_call_a_custom_extractor_fid():
    assert ModuleFeatures(lambda x: x, name="digits").metric_name == "FID-digits"
    assert ModuleFeatures(lambda x: x, name="inception", standard=True).metric_name == "FID"


def test_precision_recall_on_identical_and_disjoint_sets():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 4))
    same = precision_recall(real, real, k=3)
    assert same == {"precision": 1.0, "recall": 1.0}
    far = precision_recall(real, real + 100.0, k=3)
    assert far == {"precision": 0.0, "recall": 0.0}
    # generated points covering only a small part of the data: precise, low recall
    part = real[real[:, 0] > 1.0]
    pr = precision_recall(real, part, k=3)
    assert pr["precision"] > 0.9 and pr["recall"] < 0.4


def test_inception_score_bounds():
    n, c = 1000, 10
    uniform = np.full((n, c), 1.0 / c)
    assert inception_score(uniform)[0] == pytest.approx(1.0)
    confident = np.eye(c)[np.arange(n) % c]  # sure of each class, all classes equally used
    assert inception_score(confident)[0] == pytest.approx(c, rel=1e-6)


def test_dataset_classifier_features_and_probs(digits):
    sub = digits.subset(torch.arange(600))
    clf = DatasetClassifier.fit(sub, epochs=10, seed=0)
    assert clf.metric_name == "FID-digits"
    assert clf.accuracy > 0.8
    f = clf.features(sub.x[:7])
    assert f.shape == (7, 128) and bool((f >= 0).all())  # ReLU features
    p = clf.probs(sub.x[:7])
    torch.testing.assert_close(p.sum(1), torch.ones(7))
    # deterministic given the seed
    again = DatasetClassifier.fit(sub, epochs=10, seed=0)
    torch.testing.assert_close(again.features(sub.x[:7]), f)


def test_dataset_classifier_needs_labels(digits):
    with pytest.raises(DataError, match="labels"):
        DatasetClassifier.fit(digits.x[:50])


def test_inception_network_loads_matching_weights_and_rejects_others(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    net = FIDInceptionV3()
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    good = tmp_path / "inception.safetensors"
    save_file(state, str(good))
    fx = inception_v3_features(good)
    assert fx.metric_name == "FID"
    feats = fx.features(torch.rand(1, 1, 8, 8))  # grey, small: resized to 299x299, 3 channels
    assert feats.shape == (1, 2048)
    assert fx.probs(torch.rand(1, 3, 16, 16)).shape == (1, 1008)
    bad = tmp_path / "bad.safetensors"
    save_file({"fc.weight": torch.zeros(3, 3)}, str(bad))
    with pytest.raises(ConfigError, match="not the FID Inception"):
        inception_v3_features(bad)


def test_inception_without_weights_says_where_to_get_them(tmp_path):
    with pytest.raises(ConfigError, match="pt_inception-2015-12-05"):
        inception_v3_features(None)
    with pytest.raises(ConfigError, match="no such Inception weights"):
        inception_v3_features(tmp_path / "missing.pth")
