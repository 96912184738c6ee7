"""TimeSeriesAnomalyDetector and windowing: scores peak at injected anomalies, any length."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from aekit.apps.timeseries import (
    TimeSeriesAnomalyDetector,
    sliding_windows,
    window_starts,
    windows_to_points,
)
from aekit.data.synthetic_series import make_series
from aekit.errors import ConfigError, DataError

FAST = dict(window=32, n_estimators=1, epochs=20, random_state=0)


@pytest.fixture(scope="module")
def series_pair():
    train = make_series(length=2000, n_channels=3, anomalies=None, seed=1, system_seed=0)
    test = make_series(length=2000, n_channels=3, n_per_kind=1, seed=2, system_seed=0)
    return train, test


@pytest.fixture(scope="module")
def fitted(series_pair):
    train, _ = series_pair
    return TimeSeriesAnomalyDetector(latent_dim=4, **FAST).fit(train.values)


def test_window_starts_cover_the_series():
    assert window_starts(10, 4, 3).tolist() == [0, 3, 6]
    assert window_starts(11, 4, 3).tolist() == [0, 3, 6, 7]  # the last window ends at T
    assert window_starts(3, 4, 1).tolist() == [0]
    with pytest.raises(ConfigError):
        window_starts(10, 0, 1)


def test_windows_and_mapping_back_are_inverse_on_constant_scores():
    v = np.arange(22, dtype=np.float32).reshape(11, 2)
    w, starts = sliding_windows(v, 4, 3)
    assert w.shape == (4, 2, 4)
    np.testing.assert_array_equal(w[1], v[3:7].T)
    # every window gives each position its own value: the mean over windows is the value
    np.testing.assert_allclose(windows_to_points(w[:, 0, :], starts, 11), v[:, 0])
    short, s0 = sliding_windows(v[:2], 4, 1)  # shorter than a window: edge-padded
    np.testing.assert_array_equal(short[0, 0], [0, 2, 2, 2])
    np.testing.assert_allclose(windows_to_points(short[:, 0, :], s0, 2), [0, 2])


def test_scores_peak_at_injected_anomalies(fitted, series_pair):
    _, test = series_pair
    scores = fitted.decision_function(test.values)
    assert scores.shape == (len(test.values),)
    assert roc_auc_score(test.labels, scores) > 0.85
    for e in test.events:  # each event stands out from the series' typical level
        assert scores[e.start:e.end].max() > np.quantile(scores, 0.9), e
    assert fitted.predict(test.values).shape == scores.shape
    assert fitted.labels_.mean() == pytest.approx(0.05, abs=0.01)


def test_explain_names_the_anomalous_channel(fitted, series_pair):
    _, test = series_pair
    contrib = fitted.explain(test.values)
    assert contrib.shape == test.values.shape
    spike = next(e for e in test.events if e.kind == "spike")
    assert contrib[spike.start].argmax() == spike.channel


def test_any_length_lists_and_determinism(fitted, series_pair):
    _, test = series_pair
    short = fitted.decision_function(test.values[:10])  # shorter than the window
    assert short.shape == (10,) and np.isfinite(short).all()
    both = fitted.decision_function([test.values[:500], test.values[500:777]])
    assert [len(b) for b in both] == [500, 277]
    np.testing.assert_array_equal(fitted.decision_function(test.values),
                                  fitted.decision_function(test.values))
    assert clone(fitted).get_params() == fitted.get_params()


def test_save_load_round_trip(fitted, series_pair, tmp_path):
    _, test = series_pair
    fitted.save(tmp_path / "ts")
    back = TimeSeriesAnomalyDetector.load(tmp_path / "ts")
    np.testing.assert_array_equal(back.decision_function(test.values),
                                  fitted.decision_function(test.values))
    assert back.threshold_ == fitted.threshold_


def test_gru_backbone_runs(series_pair):
    train, test = series_pair
    det = TimeSeriesAnomalyDetector(arch="gru", window=16, n_estimators=1, epochs=1,
                                    latent_dim=3).fit(train.values[:400])
    assert det.decision_function(test.values[:100]).shape == (100,)


def test_bad_inputs(fitted, series_pair):
    _, test = series_pair
    with pytest.raises(DataError, match="channels"):
        fitted.decision_function(test.values[:, :2])
    bad = test.values.copy()
    bad[5, 1] = np.nan
    with pytest.raises(DataError):
        fitted.decision_function(bad)
    with pytest.raises(ConfigError, match="arch"):
        TimeSeriesAnomalyDetector(arch="lstm").fit(test.values)
    with pytest.raises(DataError, match="same number of channels"):
        TimeSeriesAnomalyDetector(**FAST).fit([test.values, test.values[:, :2]])
