"""PyOD's detector contract (apps/pyod_contract.py): formulas by hand, then PyOD's own
checks (ranges, shapes, stats bounds, errors) on both detectors.

PyOD is not imported here; benchmarks/pyod_contract.py compares with it.
"""

import math
import warnings

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from test_detect import planted  # tests/apps/test_detect.py: outliers off a 2-D plane

from aekit.apps.detect import AnomalyDetector
from aekit.apps.pyod_contract import PyODContractMixin, precision_at_n, rejection_quantiles
from aekit.apps.timeseries import TimeSeriesAnomalyDetector, default_window_detector
from aekit.data.synthetic_series import make_series
from aekit.errors import ConfigError, DataError


class ScoresOnly(PyODContractMixin):
    """The least a detector needs: training scores, a threshold, a contamination, and a
    decision function (here the identity on a vector of scores)."""

    def __init__(self, train, contamination, threshold=None):
        self.contamination = contamination
        self.threshold = threshold
        self.decision_scores_ = np.asarray(train, dtype=np.float64)
        self.threshold_ = (threshold if threshold is not None
                           else float(np.quantile(self.decision_scores_, 1 - contamination)))

    def decision_function(self, X):
        return np.asarray(X, dtype=np.float64)


def binom_tail_above(k, n, p):
    """P(Binomial(n, p) > k) by summing the probabilities."""
    return sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(k + 1, n + 1))


# -- formulas, by hand --------------------------------------------------------------------

def test_probabilities_by_hand():
    det = ScoresOnly(np.arange(1.0, 11.0), contamination=0.2)  # 1..10: mean 5.5, var 8.25
    proba = det.predict_proba(np.array([0.0, 5.5, 11.0]))
    np.testing.assert_allclose(proba[:, 1], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(proba.sum(1), 1.0)
    sigma = math.sqrt(8.25)
    s = np.array([5.5 - sigma, 5.5, 5.5 + sigma * math.sqrt(2) * 0.5])
    np.testing.assert_allclose(det.predict_proba(s, method="unify")[:, 1],
                               [0.0, 0.0, math.erf(0.5)])
    # constant training scores: linear keeps range 1, unify is the sigma -> 0 limit
    flat = ScoresOnly(np.full(5, 2.0), contamination=0.2)
    np.testing.assert_allclose(flat.predict_proba(np.array([1.5, 2.0, 2.5]))[:, 1],
                               [0.0, 0.0, 0.5])
    np.testing.assert_array_equal(flat.predict_proba(np.array([1.5, 2.0, 2.5]),
                                                     method="unify")[:, 1], [0, 0, 1])


def test_exceed_confidence_by_hand():
    train = np.arange(1.0, 11.0)  # n = 10, gamma = 0.2: labelled 1 above the 80% quantile
    det = ScoresOnly(train, contamination=0.2)
    s = np.array([0.0, 4.0, 10.0, 12.0])
    # p(s) = (1 + #{s_i <= s}) / (n + 2); P_out = P(Bin(10, p) > 10 - 2)
    p = np.array([1, 5, 11, 11]) / 12
    p_out = np.array([binom_tail_above(8, 10, q) for q in p])
    np.testing.assert_allclose(det.outlier_confidence(s), p_out, rtol=1e-12)
    labels = det.predict(s)
    np.testing.assert_array_equal(labels, [0, 0, 1, 1])
    np.testing.assert_allclose(det.predict_confidence(s),
                               np.where(labels == 1, p_out, 1 - p_out), rtol=1e-12)
    # an explicit threshold: gamma is the share of training scores above it (3 of 10)
    explicit = ScoresOnly(train, contamination=0.2, threshold=7.0)
    np.testing.assert_allclose(explicit.outlier_confidence(s),
                               [binom_tail_above(7, 10, q) for q in p], rtol=1e-12)


def test_rejection_quantiles_and_bounds_by_hand():
    n, g, T = 10, 0.2, 2.0  # k = floor(n g) - 1 = 1
    q1, q2 = rejection_quantiles(n, g, T)

    def cdf(q):
        return 1 - binom_tail_above(1, n, q)

    assert q1 < q2
    assert cdf(q1) == pytest.approx(1 - math.exp(-T), abs=1e-12)
    assert cdf(q2) == pytest.approx(math.exp(-T), abs=1e-12)

    n, g, T, delta = 1000, 0.1, 32.0, 0.1
    det = ScoresOnly(np.linspace(0, 1, n), contamination=g)
    q1, q2 = rejection_quantiles(n, g, T)
    rate, rate_bound, cost_bound = det.compute_rejection_stats(T=T, delta=delta, c_fp=2,
                                                               c_fn=3, c_r=0.5)
    right = min(1, (1001 - 0.1 * 1002) / 1000 + 32 * 1002 / math.sqrt(2 * 1000**3 * 32))
    left = max(0, (2 + 1000 * 0.9 * 1001) / 1000**2 - math.sqrt(
        0.5 * 1000**5 * (2000 * (-3 * 0.01 - 2000 * 0.81 + 0.4 - 3) + 32 * 1002**2 - 8))
        / 1000**4)
    assert rate == pytest.approx(q2 - q1, rel=1e-12)
    assert rate_bound == pytest.approx(right - left + 2 * math.sqrt(math.log(20) / 2000),
                                       rel=1e-12)
    assert cost_bound == pytest.approx(min(0.1, q1) * 2 + min(1 - q2, 0.1) * 3
                                       + (q2 - q1) * 0.5, rel=1e-12)
    # the default c_r (negative) is the contamination
    assert det.compute_rejection_stats(T=T)[2] == pytest.approx(
        min(0.1, q1) + min(1 - q2, 0.1) + (q2 - q1) * 0.1, rel=1e-12)


def test_rejection_rejects_the_expected_share_of_training_scores():
    rng = np.random.default_rng(0)
    det = ScoresOnly(rng.normal(size=2000), contamination=0.1)
    for T in (4.0, 32.0):
        labels, (rate, rate_bound, _) = det.predict_with_rejection(det.decision_scores_, T=T,
                                                                   return_stats=True)
        rejected = labels == -2
        # rejected where 2 |P_out - 1/2| <= 1 - 2 exp(-T); the rest keep predict's labels
        p_out = det.outlier_confidence(det.decision_scores_)
        np.testing.assert_array_equal(rejected, 2 * np.abs(p_out - 0.5) <= 1 - 2 * math.exp(-T))
        np.testing.assert_array_equal(labels[~rejected],
                                      det.predict(det.decision_scores_)[~rejected])
        assert abs(rejected.mean() - rate) < 2 / 2000
        assert rejected.mean() <= rate_bound
    few = ScoresOnly(rng.normal(size=5), contamination=0.1)  # n gamma < 1
    with pytest.raises(ConfigError, match="at least one"):
        few.compute_rejection_stats()


def test_precision_at_n():
    y = np.array([0, 1, 1, 0, 0])
    # n = 2 anomalies: the top 2 scores (0.7, 0.5) are flagged; one of them is an anomaly
    assert precision_at_n(y, np.array([0.1, 0.5, 0.3, 0.2, 0.7])) == 0.5
    assert precision_at_n(y, np.array([0.1, 0.5, 0.6, 0.2, 0.0])) == 1.0


# -- PyOD's contract checks, on both detectors ---------------------------------------------

@pytest.fixture(scope="module")
def tabular():
    X, y = planted(n=1200, n_out=60)
    order = np.random.default_rng(1).permutation(len(X))  # outliers in both parts
    X, y = X[order], y[order]
    det = AnomalyDetector(contamination=0.05, n_estimators=1, epochs=5, random_state=0)
    return det.fit(X[:1000]), X[1000:], y[1000:]


@pytest.fixture(scope="module")
def series():
    train = make_series(length=1500, n_channels=2, anomalies=None, seed=1, system_seed=0)
    test = make_series(length=600, n_channels=2, n_per_kind=1, seed=2, system_seed=0)
    det = TimeSeriesAnomalyDetector(window=32, detector=default_window_detector().set_params(
        epochs=2))
    return det.fit(train.values), test.values


def check_contract(det, X, n):
    """PyOD's test_prediction_* checks, for ``n`` examples (or time steps) in ``X``."""
    labels = det.predict(X)
    assert labels.shape == (n,)
    for method in ("linear", "unify"):
        proba = det.predict_proba(X, method=method)
        assert proba.shape == (n, 2) and proba.min() >= 0 and proba.max() <= 1
        np.testing.assert_allclose(proba.sum(1), 1.0)
    proba, conf = det.predict_proba(X, method="linear", return_confidence=True)
    assert conf.shape == (n,) and conf.min() >= 0 and conf.max() <= 1
    labels2, conf2 = det.predict(X, return_confidence=True)
    np.testing.assert_array_equal(labels2, labels)
    np.testing.assert_array_equal(conf2, conf)
    np.testing.assert_array_equal(det.predict_confidence(X), conf)
    rejected = det.predict_with_rejection(X)
    assert rejected.shape == (n,) and set(np.unique(rejected)) <= {-2, 0, 1}
    kept = rejected != -2
    np.testing.assert_array_equal(rejected[kept], labels[kept])
    # a larger T rejects a superset
    assert (det.predict_with_rejection(X, T=4) == -2)[~(rejected == -2)].sum() == 0
    _, stats = det.predict_with_rejection(X, return_stats=True)
    rate, rate_bound, cost_bound = stats
    assert 0 <= rate <= 1 and 0 <= rate_bound <= 1 and cost_bound >= 0
    assert rate <= rate_bound
    for method_err in ("something",):
        with pytest.raises(ValueError, match="method"):
            det.predict_proba(X, method=method_err)
    for kwargs, name in [({"delta": 0.0}, "delta"), ({"delta": 1.5}, "delta"),
                         ({"T": 0.5}, "T"), ({"c_fp": -1}, "c_fp"), ({"c_fn": -1}, "c_fn")]:
        with pytest.raises(ConfigError, match=name):
            det.predict_with_rejection(X, **kwargs)


def test_anomaly_detector_contract(tabular):
    det, X, y = tabular
    check_contract(det, X, len(X))
    # confident, non-rejected labels still find the planted outliers
    assert roc_auc_score(y, det.predict_proba(X)[:, 1]) > 0.9


def test_time_series_detector_contract_per_step(series):
    det, values = series
    check_contract(det, values, len(values))
    # a list of series gives one result per series
    out = det.predict_proba([values, values[:100]])
    assert [o.shape for o in out] == [(len(values), 2), (100, 2)]
    labels, conf = det.predict([values, values[:100]], return_confidence=True)
    assert [len(v) for v in labels] == [len(values), 100] == [len(c) for c in conf]
    assert [len(v) for v in det.predict_with_rejection([values, values[:7]])] == [
        len(values), 7]


def test_fit_predict_score_on_both_detectors():
    X, y = planted(n=300, n_out=15)
    det = AnomalyDetector(contamination=0.05, n_estimators=1, epochs=3, random_state=0)
    with pytest.warns(FutureWarning):
        auc = det.fit_predict_score(X, y)
    assert auc == pytest.approx(roc_auc_score(y, det.decision_scores_))
    with pytest.warns(FutureWarning):
        prc = det.fit_predict_score(X, y, scoring="prc_n_score")
    assert prc == precision_at_n(y, det.decision_scores_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with pytest.raises(NotImplementedError, match="scoring"):
            det.fit_predict_score(X, y, scoring="something")
        with pytest.raises(DataError, match="y: 299 labels"):
            det.fit_predict_score(X, y[:-1])
        with pytest.raises(DataError, match="0 \\(inlier\\) and 1"):
            det.fit_predict_score(X, y + 1)
        s = make_series(length=800, n_channels=2, n_per_kind=1, seed=2, system_seed=0)
        ts = TimeSeriesAnomalyDetector(window=16, detector=default_window_detector().set_params(
            epochs=1))
        auc = ts.fit_predict_score([s.values[:400], s.values[400:]],
                                   [s.labels[:400], s.labels[400:]])
        assert auc == pytest.approx(roc_auc_score(s.labels, ts.decision_scores_))


def test_not_fitted():
    for det in (AnomalyDetector(), TimeSeriesAnomalyDetector()):
        with pytest.raises(NotFittedError):
            det.compute_rejection_stats()
        with pytest.raises(NotFittedError):
            det.predict_proba(np.ones((3, 4)))
