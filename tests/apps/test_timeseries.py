"""TimeSeriesAnomalyDetector, windowing and period detection: scores peak at injected
anomalies, any length, causal scores, streaming equals batch."""

import json

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from aekit.apps.detect import AnomalyDetector, load_detector
from aekit.apps.timeseries import (
    TimeSeriesAnomalyDetector,
    causal_windows,
    default_window_detector,
    delayed_mean,
    delayed_positions,
)
from aekit.data.series import (
    Series,
    dominant_period,
    flagged_spans,
    sliding_windows,
    window_starts,
    windows_to_points,
)
from aekit.data.synthetic_series import make_series
from aekit.errors import AekitError, ConfigError, DataError


@pytest.fixture(scope="module")
def series_pair():
    train = make_series(length=2000, n_channels=3, anomalies=None, seed=1, system_seed=0)
    test = make_series(length=2000, n_channels=3, n_per_kind=1, seed=2, system_seed=0)
    return train, test


@pytest.fixture(scope="module")
def fitted(series_pair):
    train, _ = series_pair
    return TimeSeriesAnomalyDetector().fit(train.values)


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


def test_causal_windows_look_back_only():
    v = np.arange(10, dtype=np.float32).reshape(5, 2)
    w = causal_windows(v, 3)
    assert w.shape == (5, 2, 3)
    np.testing.assert_array_equal(w[4], v[2:5].T)  # window t ends at t
    np.testing.assert_array_equal(w[0, 0], [0, 0, 0])  # front-padded with the first value
    np.testing.assert_array_equal(w[1, 1], [1, 1, 3])


@pytest.mark.parametrize("period", [12, 37, 90])
def test_period_detection_finds_a_planted_period(period):
    rng = np.random.default_rng(period)
    t = np.arange(3000)
    shape = np.where((t % period) < period // 3, 1.0, -0.5)  # a non-sinusoidal season
    trend = 0.002 * t  # a slow trend must not hide it
    x = np.stack([shape + trend + 0.3 * rng.normal(size=len(t)),
                  -shape + 0.3 * rng.normal(size=len(t))], axis=1)
    assert dominant_period(x, max_period=128) == period


def test_period_detection_says_none_without_a_period():
    rng = np.random.default_rng(0)
    assert dominant_period(rng.normal(size=2000)) is None  # white noise
    assert dominant_period(np.cumsum(rng.normal(size=2000))) is None  # a random walk
    assert dominant_period(np.ones(500)) is None  # constant
    assert dominant_period(np.sin(np.arange(20)), min_period=4) == 6  # period 2 pi
    assert dominant_period(np.sin(np.arange(11)), min_period=4) is None  # too short


def test_flagged_spans():
    assert flagged_spans(np.array([0, 1, 1, 0, 0, 1])) == [(1, 3), (5, 6)]
    assert flagged_spans(np.zeros(4)) == []


def test_scores_peak_at_injected_anomalies(fitted, series_pair):
    _, test = series_pair
    scores = fitted.decision_function(test.values)
    assert scores.shape == (len(test.values),)
    assert 8 <= fitted.window_ <= 128
    # a step's score averages the windows ending up to delay_ steps after it: it is up
    # from delay_ steps before a short anomaly to a window after it
    assert roc_auc_score(test.labels, scores) > 0.6
    near = np.zeros(len(scores), bool)
    lo, hi = fitted.delay_, fitted.window_
    for e in test.events:
        near[e.start - lo:e.end + hi] = True
    assert roc_auc_score(near, scores) > 0.75
    near[:fitted.window_] = True  # the first window is padded with the first value
    typical = np.quantile(scores[~near], 0.95)
    for e in test.events:  # the gross events stand out from the normal steps
        if e.kind in ("spike", "level_shift", "frequency"):
            assert scores[e.start - lo:e.end + hi].max() > typical, e
    assert fitted.predict(test.values).shape == scores.shape
    assert fitted.labels_.mean() == pytest.approx(0.05, abs=0.01)


def test_planted_period_sets_the_window():
    t = np.arange(1500)
    x = np.sin(2 * np.pi * t / 25) + 0.05 * np.random.default_rng(0).normal(size=len(t))
    assert TimeSeriesAnomalyDetector().fit(x).window_ == 25
    assert TimeSeriesAnomalyDetector(window=16).fit(x).window_ == 16


def test_explain_sums_to_the_reconstruction_part(fitted, series_pair):
    _, test = series_pair
    contrib = fitted.explain(test.values)
    assert contrib.shape == test.values.shape and (contrib >= 0).all()
    # the score is the reconstruction part (summed contributions) plus terms that do not
    # depend on the channels: with the latent part and the local share switched off they
    # differ by a constant
    recon = clone(fitted).set_params(local=0, detector=default_window_detector().set_params(
        score_type="reconstruction")).fit(series_pair[0].values)
    diff = recon.decision_function(test.values) - recon.explain(test.values).sum(1)
    np.testing.assert_allclose(diff, diff[0], atol=1e-6 * np.abs(diff).max())


def test_explain_adds_up_to_the_score_with_the_local_share(fitted, series_pair):
    """explain() splits the reconstruction part of the score step t gets, local share
    included, by channel: the score is the contributions' sum, minus the window
    detector's reconstruction offset, plus the delayed mean of its latent part."""
    _, test = series_pair
    x = test.values[:400]
    assert fitted.local_ == 0.25 and fitted.delay_ == fitted.window_ - 1
    contrib = fitted.explain(x)
    assert contrib.shape == x.shape and (contrib >= 0).all()
    parts = fitted.detector_.score_parts(fitted._inputs(causal_windows(x, fitted.window_)))
    other = sum(v for k, v in parts.items() if k != "reconstruction")
    offset = np.mean([m.calib["reconstruction"][0] / m.calib["reconstruction"][1]
                      for m in fitted.detector_.members_])
    np.testing.assert_allclose(contrib.sum(1) - offset + delayed_mean(other, fitted.delay_),
                               fitted.decision_function(x), rtol=1e-5, atol=1e-5)
    # by hand for one step and channel: (1 - local) of each window's channel total plus
    # local * W times the channel's error at the step's own position
    w, d, lam, t, c = fitted.window_, fitted.delay_, fitted.local_, 150, 1
    r = fitted.detector_.explain(fitted._inputs(causal_windows(x, w))).reshape(len(x), -1, w)
    want = np.mean([(1 - lam) * r[t + j, c].sum() + lam * w * r[t + j, c, w - 1 - j]
                    for j in range(d + 1)])
    assert contrib[t, c] == pytest.approx(want, rel=1e-5)


def test_delayed_positions_per_channel():
    v = np.arange(24.0).reshape(4, 3, 2)  # (windows, delay + 1, channels)
    for c in range(2):
        np.testing.assert_allclose(delayed_positions(v)[:, c], delayed_positions(v[:, :, c]))
        np.testing.assert_allclose(delayed_positions(v, final=False)[:, c],
                                   delayed_positions(v[:, :, c], final=False))


def test_delayed_mean_averages_the_windows_ending_within_the_delay():
    s = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    np.testing.assert_allclose(delayed_mean(s, 2), [7 / 3, 14 / 3, 28 / 3, 12, 16])
    np.testing.assert_allclose(delayed_mean(s, 2, final=False), [7 / 3, 14 / 3, 28 / 3])
    np.testing.assert_array_equal(delayed_mean(s, 0), s)
    assert delayed_mean(s[:2], 2, final=False).shape == (0,)
    np.testing.assert_allclose(delayed_mean(np.stack([s, -s], 1), 1)[:, 1], -delayed_mean(s, 1))


def test_delayed_positions_take_each_windows_share_of_the_step():
    # row e: what the window ending at e gives to steps e, e - 1, e - 2
    v = np.array([[1.0, 10, 100], [2, 20, 200], [3, 30, 300], [4, 40, 400]])
    np.testing.assert_allclose(delayed_positions(v), [(1 + 20 + 300) / 3, (2 + 30 + 400) / 3,
                                                      (3 + 40) / 2, 4])
    np.testing.assert_allclose(delayed_positions(v, final=False), [321 / 3, 432 / 3])
    assert delayed_positions(v[:2], final=False).shape == (0,)
    np.testing.assert_allclose(delayed_positions(v[:2]), [21 / 2, 2])  # shorter than delay
    s = np.array([1.0, 2.0, 4.0, 8.0, 16.0])  # equal columns: the mean of the windows
    np.testing.assert_allclose(delayed_positions(np.repeat(s[:, None], 3, 1)),
                               delayed_mean(s, 2))


def test_scores_share_each_window_by_position(fitted, series_pair):
    """The objective, by brute force: step t gets the mean over the windows ending at t + j
    (j = 0 .. delay) of score + local (W r[W - 1 - j] - sum r)."""
    _, test = series_pair
    x = test.values[:300]
    w, d, lam = fitted.window_, fitted.delay_, fitted.local_
    assert d == w - 1 and lam == 0.25  # the defaults: every window containing t
    scores, contrib = fitted.detector_.score_and_explain(
        fitted._inputs(causal_windows(x, w)))
    r = contrib.reshape(len(x), -1, w).sum(1)
    expect = [np.mean([scores[t + j] + lam * (w * r[t + j, w - 1 - j] - r[t + j].sum())
                       for j in range(d + 1) if t + j < len(x)]) for t in range(len(x))]
    np.testing.assert_allclose(fitted.decision_function(x), expect, rtol=1e-5, atol=1e-5)
    with pytest.raises(ConfigError, match="no reconstruction part; set local=0"):
        TimeSeriesAnomalyDetector(detector=default_window_detector().set_params(
            score_type="latent")).fit(x)


def test_scores_are_delay_late_and_streaming_equals_batch(fitted, series_pair):
    _, test = series_pair
    d = fitted.delay_
    batch = fitted.decision_function(test.values)
    plain = clone(fitted).set_params(local=0)  # the plain mean of the window scores
    causal = clone(plain).set_params(delay=0).fit(series_pair[0].values)
    plain_batch = plain.fit(series_pair[0].values).decision_function(test.values)
    causal_scores = causal.decision_function(test.values)
    np.testing.assert_allclose(plain_batch, delayed_mean(causal_scores, d),
                               rtol=1e-5, atol=1e-6)  # the same networks (same seeds)
    plain_stream = plain.stream()
    got = [plain_stream.score_new(test.values[:900]), plain_stream.score_new(test.values[900:])]
    np.testing.assert_allclose(np.concatenate([*got, plain_stream.flush()]), plain_batch,
                               rtol=1e-5, atol=1e-6)
    # the future beyond the delay never changes the past
    np.testing.assert_allclose(fitted.decision_function(test.values[:700])[:700 - d],
                               batch[:700 - d], rtol=1e-5, atol=1e-6)
    stream = fitted.stream()
    assert stream.delay == d
    cuts = [0, 1, 2, 5, 40, 41, 300, 1111, 2000]  # shorter and longer than a window
    parts = [stream.score_new(test.values[a:b]) for a, b in zip(cuts, cuts[1:])]
    assert sum(len(p) for p in parts) == 2000 - d  # each step's score, d steps late
    got = np.concatenate([*parts, stream.flush()])
    np.testing.assert_allclose(got, batch, rtol=1e-5, atol=1e-6)
    assert stream.flush().shape == (0,)
    resumed = fitted.stream(history=test.values[:1500])  # started from the series so far
    got = np.concatenate([resumed.score_new(test.values[1500:]), resumed.flush()])
    np.testing.assert_allclose(got, batch[1500:], rtol=1e-5, atol=1e-6)
    with pytest.raises(DataError, match="expecting 3 features as input"):
        stream.score_new(test.values[:5, :2])


def test_provisional_scores_alert_on_arrival_and_leave_the_final_ones(fitted, series_pair):
    """provisional() is what flush() would give now, without consuming; the newest step's
    is the score of the series cut at it, the delay-0 score with the same local share."""
    import copy

    train, test = series_pair
    x, d = test.values[:400], fitted.delay_
    batch, arrival = fitted.decision_function(x), fitted.arrival_scores(x)
    causal = clone(fitted).set_params(delay=0).fit(train.values)  # same seeds, same nets
    np.testing.assert_allclose(arrival, causal.decision_function(x), rtol=1e-6, atol=1e-9)
    assert not np.allclose(arrival, batch, atol=1e-3)  # final scores do differ
    for t in (0, 3, fitted.window_, 399):  # the series cut at t, its last value
        cut = fitted.decision_function(x[:t + 1])[-1]
        assert cut == pytest.approx(arrival[t], rel=1e-5, abs=1e-5)
    asked, plain = fitted.stream(), fitted.stream()
    finals, at_arrival, seen = [], [], 0
    cuts = [0, *range(1, 60), 61, 70, 150, 151, 400]  # one step at a time, then chunks
    for a, b in zip(cuts, cuts[1:]):
        finals.append(asked.score_new(x[a:b]))
        seen += b - a
        early = asked.provisional()
        assert len(early) == min(d, seen) and sum(map(len, finals)) + len(early) == seen
        np.testing.assert_array_equal(early, copy.copy(asked).flush())  # flush() of now
        np.testing.assert_array_equal(asked.provisional(), early)  # nothing consumed
        if b in (5, 70, 400):  # the scores of the series cut at the newest step
            np.testing.assert_allclose(early, fitted.decision_function(x[:b])[b - len(early):],
                                       rtol=1e-5, atol=1e-5)
        at_arrival.append(early[-1])
    np.testing.assert_allclose(at_arrival, arrival[np.array(cuts[1:]) - 1], rtol=1e-5,
                               atol=1e-5)
    got = np.concatenate([*finals, asked.flush()])
    np.testing.assert_array_equal(got, np.concatenate(
        [plain.score_new(x[a:b]) for a, b in zip(cuts, cuts[1:])] + [plain.flush()]))
    np.testing.assert_allclose(got, batch, rtol=1e-5, atol=1e-5)  # streaming equals batch
    assert asked.provisional().shape == (0,)


def test_arrival_alerts_have_their_own_threshold(fitted, series_pair):
    """arrival_threshold_ is the rule of threshold_ (the upper contamination quantile of
    the training steps' scores) applied to the training steps' scores on arrival."""
    train, test = series_pair
    q = 1 - fitted.contamination
    at_fit = fitted.arrival_scores(train.values)
    assert fitted.arrival_threshold_ == pytest.approx(np.quantile(at_fit, q), rel=1e-6)
    assert fitted.threshold_ == pytest.approx(
        np.quantile(fitted.decision_function(train.values), q), rel=1e-6)
    assert fitted.arrival_threshold_ > fitted.threshold_  # one window is noisier than d + 1
    assert (at_fit > fitted.arrival_threshold_).mean() == pytest.approx(fitted.contamination,
                                                                        abs=1e-3)
    np.testing.assert_array_equal(fitted.arrival_predict(test.values),
                                  fitted.arrival_scores(test.values) > fitted.arrival_threshold_)
    parts = fitted.arrival_predict([test.values[:300], test.values[300:]])
    assert [len(p) for p in parts] == [300, 1700]
    given = TimeSeriesAnomalyDetector(detector=AnomalyDetector(n_estimators=1, epochs=1),
                                      window=8, threshold=0.3).fit(train.values[:400])
    assert given.threshold_ == given.arrival_threshold_ == 0.3  # one explicit number, both


def test_causal_scores_with_no_delay(series_pair):
    train, test = series_pair
    det = TimeSeriesAnomalyDetector(delay=0).fit(train.values[:800])
    batch = det.decision_function(test.values)
    np.testing.assert_allclose(det.decision_function(test.values[:700]), batch[:700],
                               rtol=1e-5, atol=1e-6)
    stream = det.stream()
    np.testing.assert_allclose(stream.score_new(test.values[:10]), batch[:10],
                               rtol=1e-5, atol=1e-6)  # on arrival
    assert stream.provisional().shape == (0,)  # nothing waits
    np.testing.assert_array_equal(det.arrival_scores(test.values), batch)
    assert TimeSeriesAnomalyDetector(window=16, delay=100).fit(train.values[:800]).delay_ == 15


def test_any_length_lists_and_determinism(fitted, series_pair):
    _, test = series_pair
    short = fitted.decision_function(test.values[:10])  # shorter than the window
    assert short.shape == (10,) and np.isfinite(short).all()
    both = fitted.decision_function([test.values[:500], test.values[500:777]])
    assert [len(b) for b in both] == [500, 277]
    np.testing.assert_array_equal(fitted.decision_function(test.values),
                                  fitted.decision_function(test.values))
    assert clone(fitted).get_params().keys() == fitted.get_params().keys()


def test_save_load_round_trip(fitted, series_pair, tmp_path):
    _, test = series_pair
    fitted.save(tmp_path / "ts")
    back = TimeSeriesAnomalyDetector.load(tmp_path / "ts")
    np.testing.assert_array_equal(back.decision_function(test.values),
                                  fitted.decision_function(test.values))
    assert back.threshold_ == fitted.threshold_ and back.window_ == fitted.window_
    assert back.arrival_threshold_ == fitted.arrival_threshold_
    assert back.get_params(deep=False)["normalize"] == fitted.normalize
    # the estimators' one folder format, the window detector in its own subfolder
    names = sorted(p.name for p in (tmp_path / "ts").iterdir())
    assert names == ["estimator.json", "estimator.safetensors", "window_detector"]
    assert isinstance(load_detector(tmp_path / "ts"), TimeSeriesAnomalyDetector)
    assert isinstance(back.detector, AnomalyDetector) and not hasattr(back.detector, "members_")
    record = json.loads((tmp_path / "ts" / "estimator.json").read_text())
    assert record["fitted"]["delay_"] == fitted.delay_ > 0
    assert record["fitted"]["local_"] == fitted.local_ > 0
    causal = fitted.detector_.decision_function(fitted._inputs(causal_windows(
        test.values, fitted.window_)))  # the window ending at each step
    del record["fitted"]["arrival_threshold_"]  # from before the arrival threshold
    (tmp_path / "ts" / "estimator.json").write_text(json.dumps(record))
    with pytest.raises(ConfigError, match="refit it to get arrival labels"):
        TimeSeriesAnomalyDetector.load(tmp_path / "ts").arrival_predict(test.values)
    del record["fitted"]["local_"], record["params"]["local"]  # from before the local share
    (tmp_path / "ts" / "estimator.json").write_text(json.dumps(record))
    old = TimeSeriesAnomalyDetector.load(tmp_path / "ts")
    assert old.local == old.local_ == 0  # it scored by plain window means, and still does
    np.testing.assert_allclose(old.decision_function(test.values),
                               delayed_mean(causal, fitted.delay_), rtol=1e-5, atol=1e-6)
    del record["fitted"]["delay_"], record["params"]["delay"]  # a folder from before the delay
    (tmp_path / "ts" / "estimator.json").write_text(json.dumps(record))
    old = TimeSeriesAnomalyDetector.load(tmp_path / "ts")
    assert old.delay == old.delay_ == 0  # it scored causally, and still does
    np.testing.assert_allclose(old.decision_function(test.values), causal, rtol=1e-5, atol=1e-6)


def test_channel_names_are_the_detectors_own(series_pair, tmp_path):
    train, test = (Series(s.values, s.channel_names) for s in series_pair)
    det = TimeSeriesAnomalyDetector(detector=AnomalyDetector(n_estimators=1, epochs=1),
                                    window=8).fit(train)  # a Series: names come along
    assert det.feature_names_in_.tolist() == train.channel_names
    det.save(tmp_path / "ts")
    back = TimeSeriesAnomalyDetector.load(tmp_path / "ts")
    assert back.feature_names_in_.tolist() == train.channel_names
    np.testing.assert_array_equal(back.decision_function(test), det.decision_function(test))
    swapped = Series(test.values[:, ::-1].copy(), test.channel_names[::-1])
    with pytest.raises(DataError, match="fitted on"):
        back.decision_function(swapped)
    assert not hasattr(clone(det).fit(train.values), "feature_names_in_")


def test_not_fitted_and_old_folders_are_clear_errors(tmp_path):
    from aekit.apps.base import NotFittedError

    with pytest.raises(NotFittedError):
        TimeSeriesAnomalyDetector().decision_function(np.zeros((50, 1)))
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "detector.json").write_text('{"kind": "TimeSeriesAnomalyDetector"}')
    with pytest.raises(AekitError, match="earlier aekit.*fit the detector again"):
        load_detector(tmp_path / "old")


@pytest.mark.parametrize("arch", ["seq", "gru"])
def test_a_sequence_window_detector_runs(series_pair, arch):
    train, test = series_pair
    inner = AnomalyDetector(n_estimators=1, epochs=1, latent_dim=3, standardize=False,
                            model_params={"arch": arch})
    det = TimeSeriesAnomalyDetector(detector=inner, window=16, flatten=False,
                                    normalize="both").fit(train.values[:400])
    assert det.detector_.input_shape_ == (6, 16)  # both views of 3 channels
    assert det.detector is inner and not hasattr(inner, "members_")  # cloned, not fitted
    assert det.decision_function(test.values[:100]).shape == (100,)


def test_bad_inputs(fitted, series_pair):
    _, test = series_pair
    with pytest.raises(DataError, match="expecting 3 features as input"):
        fitted.decision_function(test.values[:, :2])
    bad = test.values.copy()
    bad[5, 1] = np.nan
    with pytest.raises(DataError):
        fitted.decision_function(bad)
    for kw, match in [({"window": 1}, "window"), ({"normalize": "minmax"}, "normalize"),
                      ({"detector": "ae"}, "detector"), ({"contamination": 0.9},
                                                          "contamination")]:
        with pytest.raises(ConfigError, match=match):
            TimeSeriesAnomalyDetector(**kw).fit(test.values)
    with pytest.raises(DataError, match="same number of channels"):
        TimeSeriesAnomalyDetector().fit([test.values, test.values[:, :2]])


def test_score_all_is_the_three_calls_from_one_pass(fitted, series_pair):
    _, test = series_pair
    final, arrival, contrib = fitted.score_all(test.values)
    np.testing.assert_allclose(final, fitted.decision_function(test.values), rtol=1e-12)
    np.testing.assert_allclose(arrival, fitted.arrival_scores(test.values), rtol=1e-12)
    np.testing.assert_allclose(contrib, fitted.explain(test.values), rtol=1e-12)
    with pytest.raises(ValueError, match="one series"):
        fitted.score_all([test.values, test.values])
