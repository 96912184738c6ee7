"""apps.score_files: scoring a file chunk by chunk writes the same scores file and the same
summary as scoring it whole, with the report beside it and nothing else left behind."""

import csv

import numpy as np
import pytest

from aekit.apps.detect import AnomalyDetector
from aekit.apps.score_files import ScoredFile, fit_data, score_file
from aekit.errors import ConfigError


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("score_files")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 2)) @ rng.normal(size=(2, 3)) + 0.1 * rng.normal(size=(120, 3))
    y = (rng.uniform(size=120) < 0.15).astype(int)
    X[y == 1, 0] += 5
    with open(tmp / "t.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "a", "b", "c", "label"])
        w.writerows([[i, *np.round(X[i], 3), y[i]] for i in range(120)])
    data, ids, labels = fit_data(str(tmp / "t.csv"), "label", [])
    assert ids == ["id"] and labels.tolist() == y.tolist()
    det = AnomalyDetector(n_estimators=1, epochs=5, random_state=0, verbose=False).fit(data)
    return tmp, det, y


def test_chunks_and_whole_write_the_same_scores_and_summary(table, tmp_path):
    tmp, det, y = table
    runs: dict[str, ScoredFile] = {}
    for name, rows in (("whole", None), ("chunks", 17)):
        out = tmp_path / name
        out.mkdir()
        runs[name] = score_file(det, str(tmp / "t.csv"), out / "s.csv", out / "r.html",
                                label_column="label", top=2, show=3, chunk_rows=rows)
        assert sorted(p.name for p in out.iterdir()) == ["r.html", "s.csv"]
    whole, chunks = runs["whole"], runs["chunks"]
    text = {name: (tmp_path / name / "s.csv").read_text() for name in runs}
    assert text["whole"] == text["chunks"]
    assert (whole.summary.count, whole.summary.flagged) == (chunks.summary.count,
                                                            chunks.summary.flagged)
    assert whole.metrics == pytest.approx(chunks.metrics) and whole.metrics["AUROC"] > 0.8
    assert whole.names == ["a", "b", "c"] and whole.unit == "rows" and not whole.series
    with open(tmp_path / "whole" / "s.csv") as f:
        header = next(csv.reader(f))
    assert header == ["id", "a", "b", "c", "label", "anomaly_score", "anomaly_label",
                      "top_1", "top_2"]


def test_chunks_are_refused_where_they_do_not_apply(table, tmp_path):
    tmp, det, _ = table
    with pytest.raises(ConfigError, match="--chunk-rows applies to detectors fitted on a"):
        score_file(det, "digits", tmp_path / "s.csv", tmp_path / "r.html", chunk_rows=2)
    assert not any(tmp_path.iterdir())  # refused before anything is written
