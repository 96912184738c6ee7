"""scikit-learn's set_output on aekit's transformers: DataFrames out, with column names
that say what each column is, and the index of the rows that came in."""

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from aekit.apps.denoise import Denoiser, SignalDenoiser
from aekit.apps.reduce import AutoencoderReducer
from aekit.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.uniform(size=(120, 4)), columns=["age", "income", "debt", "score"],
                        index=pd.RangeIndex(1000, 1120, name="id"))


def test_reducer_pandas_output_names_its_code_columns(table):
    red = AutoencoderReducer(n_components=2, epochs=2, random_state=0)
    codes = red.set_output(transform="pandas").fit_transform(table)
    assert isinstance(codes, pd.DataFrame) and list(codes.columns) == ["ae0", "ae1"]
    assert codes.index.equals(table.index)
    plain = red.set_output(transform="default").transform(table)
    np.testing.assert_array_equal(codes.to_numpy(), plain)
    piped = make_pipeline(StandardScaler(), AutoencoderReducer(n_components=2, epochs=1))
    assert list(piped.set_output(transform="pandas").fit_transform(table).columns) == [
        "ae0", "ae1"]


def test_denoiser_pandas_output_keeps_the_input_columns(table):
    den = Denoiser(epochs=2, hidden_dims=(8,)).fit(table)
    assert den.get_feature_names_out().tolist() == list(table.columns)
    out = den.set_output(transform="pandas").transform(table)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == list(table.columns)
    assert out.index.equals(table.index)
    np.testing.assert_array_equal(out.to_numpy(), den.set_output(transform="default")
                                  .transform(table))
    with pytest.raises(ValueError, match="input_features is not equal to feature_names_in_"):
        den.get_feature_names_out(["a", "b", "c", "d"])
    arrays = Denoiser(epochs=1, hidden_dims=(8,)).fit(table.to_numpy())
    assert arrays.get_feature_names_out().tolist() == ["x0", "x1", "x2", "x3"]


def test_an_image_denoiser_has_no_column_names():
    images = np.random.default_rng(0).uniform(size=(40, 1, 6, 6)).astype(np.float32)
    den = Denoiser(epochs=1, hidden_dims=(8,), arch="mlp").fit(images)
    with pytest.raises(DataError, match=r"shape \(1, 6, 6\).*needs \(N, D\) data"):
        den.set_output(transform="pandas").transform(images)


def test_denoiser_score_follows_scikit_learns_signature(table):
    den = Denoiser(epochs=1, hidden_dims=(8,)).fit(table)
    labels = np.arange(len(table)) % 3
    assert den.score(table, labels) == den.score(table)  # y ignored, as in a Pipeline
    noisy = pd.DataFrame(den.corrupt(table, seed=5), columns=table.columns)
    assert den.score(table, X_noisy=noisy) != den.score(table)
    with pytest.raises(ConfigError, match="X_noisy"):  # the old score(X, noisy) is refused
        den.score(table, noisy)


def test_signal_denoiser_pandas_output_keeps_channels_and_time_index():
    t = np.arange(400)
    when = pd.date_range("2026-01-01", periods=len(t), freq="min")
    frame = pd.DataFrame({"temp": np.sin(t / 10), "flow": np.cos(t / 15)}, index=when)
    sig = SignalDenoiser(window=16, epochs=1, hidden_dims=(8,)).fit(frame)
    assert sig.get_feature_names_out().tolist() == ["temp", "flow"]
    out = sig.set_output(transform="pandas").transform(frame)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["temp", "flow"]
    assert out.index.equals(when)
    one = sig.transform([frame, frame.iloc[:100]])
    assert [len(f) for f in one] == [400, 100] and one[1].index.equals(when[:100])
    np.testing.assert_array_equal(out.to_numpy(), sig.set_output(transform="default")
                                  .transform(frame))
    with pytest.raises(DataError, match=r"channels \['flow', 'temp'\]"):
        sig.transform(frame[["flow", "temp"]])
    single = SignalDenoiser(window=16, epochs=1, hidden_dims=(8,)).fit(frame["temp"])
    series = single.set_output(transform="pandas").transform(frame["temp"])
    assert isinstance(series, pd.Series) and series.name == "temp" and series.index.equals(when)
    with pytest.raises(ConfigError, match="'default' or 'pandas'"):
        sig.set_output(transform="polars")
