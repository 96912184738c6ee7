"""The synthetic series generator: labels match the injected anomalies of every kind."""

import numpy as np
import pytest

from aekit.data.synthetic_series import ANOMALY_KINDS, make_series
from aekit.errors import ConfigError


def test_shapes_labels_and_events_agree():
    s = make_series(length=3000, n_channels=3, n_per_kind=2, seed=0)
    assert s.values.shape == (3000, 3) and s.values.dtype == np.float32
    assert s.labels.shape == (3000,) and set(np.unique(s.labels)) == {0, 1}
    assert sorted(e.kind for e in s.events) == sorted(ANOMALY_KINDS * 2)
    mask = np.zeros(3000, dtype=int)
    for e in s.events:
        mask[e.start:e.end] = 1
    np.testing.assert_array_equal(mask, s.labels)
    starts = [e.start for e in s.events]
    assert starts == sorted(starts)
    assert all(a.end <= b.start for a, b in zip(s.events, s.events[1:]))  # no overlap
    assert s.channel_names == ["ch0", "ch1", "ch2"]


def test_deterministic_and_system_seed_shares_the_normal_behaviour():
    a, b = make_series(seed=3), make_series(seed=3)
    np.testing.assert_array_equal(a.values, b.values)
    clean1 = make_series(seed=1, anomalies=None, noise=0.0, system_seed=7)
    clean2 = make_series(seed=2, anomalies=None, noise=0.0, system_seed=7)
    np.testing.assert_allclose(clean1.values, clean2.values)
    assert clean1.labels.sum() == 0 and not clean1.events
    other = make_series(seed=1, anomalies=None, noise=0.0, system_seed=8)
    assert not np.allclose(clean1.values, other.values)


@pytest.mark.parametrize("kind", ANOMALY_KINDS)
def test_each_kind_changes_the_series_where_labelled(kind):
    clean = make_series(length=2000, anomalies=None, seed=4, system_seed=0, noise=0.0)
    s = make_series(length=2000, anomalies=[kind], n_per_kind=3, seed=4, system_seed=0,
                    noise=0.0)
    std = clean.values.std(0)
    for e in s.events:
        seg, ref = s.values[e.start:e.end, e.channel], clean.values[e.start:e.end, e.channel]
        if kind == "spike":
            assert np.abs(seg - ref).min() >= 4 * std[e.channel] * 0.99
        elif kind == "level_shift":
            diff = seg - ref
            assert np.allclose(diff, diff[0], atol=1e-5) and abs(diff[0]) >= 1.5 * std[e.channel]
        elif kind == "flatline":
            assert np.all(seg == seg[0]) and e.end - e.start == 40
        else:  # frequency and correlation keep the channel's range but change its path
            assert np.abs(seg - ref).max() > 0.5 * std[e.channel]
            assert np.abs(seg).max() <= 1.2 * np.abs(clean.values[:, e.channel]).max()
        others = [c for c in range(s.values.shape[1]) if c != e.channel]
        np.testing.assert_allclose(s.values[e.start:e.end, others],
                                   clean.values[e.start:e.end, others], atol=1e-6)
    outside = s.labels == 0
    np.testing.assert_allclose(s.values[outside], clean.values[outside], atol=1e-6)


def test_invalid_settings_are_named():
    with pytest.raises(ConfigError, match="unknown anomaly kind"):
        make_series(anomalies=["meteor"])
    with pytest.raises(ConfigError, match="too short"):
        make_series(length=300)
    with pytest.raises(ConfigError, match="n_channels"):
        make_series(n_channels=0)
