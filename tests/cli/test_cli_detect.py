"""``aekit detect fit`` / ``aekit detect score``: row order, ids, labels, report, bad input."""

import csv

import numpy as np
import pytest
from click.testing import CliRunner

from aekit.cli import cli

FAST = ("--n-estimators", 1, "--epochs", 20, "--quiet")


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def table(n=300, seed=0, n_out=15):
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(2, 5))
    X = rng.normal(size=(n, 2)) @ basis + 0.1 * rng.normal(size=(n, 5))
    y = np.zeros(n, dtype=int)
    y[-n_out:] = 1
    X[-n_out:, 3] += 6  # planted: one column off
    X[:, 4] = 2.0  # a constant column
    return X, y


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("detect")
    X, y = table()
    header = ["id", "a", "b", "c", "d", "e", "label"]
    train = write_csv(tmp / "train.csv", header,
                      [[f"row{i}", *X[i], y[i]] for i in range(len(X))])
    res = invoke("detect", "fit", "--data", train, "--out", tmp / "det", "--label-column",
                 "label", *FAST)
    assert res.exit_code == 0, res.output
    return tmp, header


def test_fit_reports_and_writes_a_folder(fitted):
    tmp, _ = fitted
    assert (tmp / "det" / "estimator.json").is_file()
    assert (tmp / "det" / "members" / "0" / "model.safetensors").is_file()
    from aekit.apps.detect import AnomalyDetector

    det = AnomalyDetector.load(tmp / "det")  # the feature columns are the detector's own
    assert list(det.feature_names_in_) == ["a", "b", "c", "d", "e"]


def test_score_keeps_order_and_ids_adds_scores_and_top_columns(fitted):
    tmp, header = fitted
    X, y = table(n=120, seed=1, n_out=10)
    order = np.random.default_rng(0).permutation(len(X))
    rows = [[f"new{i}", *X[i], y[i]] for i in order]
    # columns in another order than at fit time are fine
    new = write_csv(tmp / "new.csv", ["label", "e", "d", "c", "b", "a", "id"],
                    [r[::-1] for r in rows])
    res = invoke("detect", "score", tmp / "det", "--data", new, "--out", tmp / "out" /
                 "scores.csv", "--label-column", "label")
    assert res.exit_code == 0, res.output
    assert "AUROC" in res.output and "AUPRC" in res.output and "d " in res.output
    with open(tmp / "out" / "scores.csv") as f:
        got = list(csv.DictReader(f))
    assert [r["id"] for r in got] == [f"new{i}" for i in order]
    assert set(got[0]) >= {"anomaly_score", "anomaly_label", "top_1", "top_2", "top_3"}
    planted = [r for r in got if r["label"] == "1"]
    assert sum(r["top_1"] == "d" for r in planted) >= 0.9 * len(planted)
    scores = np.array([float(r["anomaly_score"]) for r in got])
    labels = np.array([int(r["label"]) for r in got])
    assert scores[labels == 1].min() > np.median(scores[labels == 0])
    html = (tmp / "out" / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3  # histogram, ROC, PR


def test_scoring_never_overwrites_its_input(fitted):
    tmp, _ = fitted
    before = (tmp / "train.csv").read_text()
    res = invoke("detect", "score", tmp / "det", "--data", tmp / "train.csv", "--out",
                 tmp / "train.csv")
    assert res.exit_code == 2 and "never overwrites its input" in res.output
    res = invoke("detect", "score", tmp / "det", "--data", tmp / "train.csv", "--out",
                 tmp / "scores.csv", "--report", tmp / "train.csv")
    assert res.exit_code == 2
    assert (tmp / "train.csv").read_text() == before


@pytest.mark.parametrize("header, row, match", [
    (["id", "a", "b", "c", "d"], ["r", 1, 2, 3, 4], "missing column.*'e'"),
    (["id", "a", "b", "c", "d", "e", "f"], ["r", 1, 2, 3, 4, 5, 6], "unexpected column.*'f'"),
    (["id", "a", "b", "c", "d", "e"], ["r", 1, "NaN", 3, 4, 5], "column 'b'"),
    (["id", "a", "b", "c", "d", "e"], ["r", 1, 2, "high", 4, 5], "column 'c'.*not numeric"),
])
def test_bad_input_gives_one_clear_line(fitted, header, row, match):
    tmp, _ = fitted
    bad = write_csv(tmp / "bad.csv", header, [row, row])
    res = invoke("detect", "score", tmp / "det", "--data", bad, "--out", tmp / "s.csv")
    assert res.exit_code == 2
    assert res.output.startswith("error:") and len(res.output.strip().splitlines()) == 1
    import re

    assert re.search(match, res.output), res.output


def test_series_mode_scores_each_time_step(tmp_path):
    from aekit.data.series import Series, write_series_csv
    from aekit.data.synthetic_series import make_series

    tr = make_series(length=1200, n_channels=2, anomalies=None, seed=1, system_seed=0)
    te = make_series(length=1200, n_channels=2, n_per_kind=1, seed=2, system_seed=0)
    write_series_csv(tmp_path / "tr.csv", Series(tr.values, tr.channel_names, None, tr.labels))
    write_series_csv(tmp_path / "te.csv", Series(te.values, te.channel_names, None, te.labels))
    res = invoke("detect", "fit", "--data", tmp_path / "tr.csv", "--series", "--window", 32,
                 "--out", tmp_path / "ts", *FAST)
    assert res.exit_code == 0, res.output
    res = invoke("detect", "score", tmp_path / "ts", "--data", tmp_path / "te.csv", "--out",
                 tmp_path / "ts_scores.csv", "--top", 1)
    assert res.exit_code == 0, res.output
    assert "AUROC" in res.output  # the is_anomaly column is used by default
    with open(tmp_path / "ts_scores.csv") as f:
        got = list(csv.DictReader(f))
    assert len(got) == 1200 and got[0]["timestamp"] == "0" and "top_1" in got[0]
