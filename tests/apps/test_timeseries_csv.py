"""The series CSV layout: timestamp, channel..., is_anomaly (label optional)."""

import numpy as np
import pytest

from aekit.data.series import Series, read_series_csv, write_series_csv
from aekit.data.synthetic_series import make_series
from aekit.errors import DataError


def test_round_trip_keeps_values_labels_and_timestamps(tmp_path):
    s = make_series(length=1000, n_channels=2, n_per_kind=1, seed=0)
    stamps = [f"2024-01-01 00:{i // 60:02d}:{i % 60:02d}" for i in range(1000)]
    path = write_series_csv(tmp_path / "s.csv", Series(s.values, s.channel_names, stamps,
                                                       s.labels))
    back = read_series_csv(path)
    np.testing.assert_array_equal(back.values, s.values)
    np.testing.assert_array_equal(back.labels, s.labels)
    assert back.timestamps == stamps and back.channel_names == ["ch0", "ch1"]


def test_label_and_timestamp_columns_are_optional(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("a,b\n1,2\n3,4\n")
    s = read_series_csv(p)
    assert s.labels is None and s.timestamps is None and s.values.shape == (2, 2)


def write(tmp_path, text):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    return p


@pytest.mark.parametrize("text, match", [
    ("timestamp,a,is_anomaly\n0,1.5,0\n1,abc,0\n", r"line 3, column 'a': 'abc' is not a number"),
    ("timestamp,a,is_anomaly\n0,nan,0\n", "not a finite number"),
    ("timestamp,a,is_anomaly\n0,1,2\n", "labels must be 0 or 1"),
    ("timestamp,a\n0,1\n1\n", "line 3: 1 fields"),
    ("timestamp,a,a\n0,1,2\n", "duplicate"),
    ("", "empty"),
    ("timestamp,a\n", "no data rows"),
    ("timestamp,is_anomaly\n0,1\n", "no channel columns"),
])
def test_bad_files_are_located(tmp_path, text, match):
    with pytest.raises(DataError, match=match):
        read_series_csv(write(tmp_path, text))


def test_fitted_channels_must_match(tmp_path):
    p = write(tmp_path, "timestamp,a,b,c\n0,1,2,3\n")
    assert read_series_csv(p, channels=["c", "a", "b"]).values.tolist() == [[3, 1, 2]]
    with pytest.raises(DataError, match="missing channel"):
        read_series_csv(p, channels=["a", "d"])
    with pytest.raises(DataError, match="unexpected column"):
        read_series_csv(p, channels=["a", "b"])
