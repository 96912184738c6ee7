"""``aekit detect fit/score --series`` on a NAB-style CSV (timestamp, value), unchanged;
the report plots the series over its scores with the flagged spans shaded."""

import base64
import csv
import io
import re

import numpy as np
from click.testing import CliRunner
from PIL import Image

from aekit.cli import cli
from aekit.report.plots import FLAG_COLOR


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def nab_csv(path, values, start=0):
    with open(path, "w", newline="") as f:  # NAB's layout: no label column
        w = csv.writer(f)
        w.writerow(["timestamp", "value"])
        for i, v in enumerate(values):
            m = start + i
            w.writerow([f"2014-04-{1 + m // 288:02d} {m // 12 % 24:02d}:{m % 12 * 5:02d}:00",
                        f"{v:.4f}"])
    return path


def shaded_pixels(png: bytes) -> int:
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    target = np.array([int(FLAG_COLOR[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(rgb - target).max(-1) <= 3).sum())


def test_nab_csv_fit_score_and_report_with_shaded_spans(tmp_path):
    rng = np.random.default_rng(0)
    t = np.arange(2400)
    x = np.sin(2 * np.pi * t / 24) + 0.1 * rng.normal(size=len(t))
    x[1700:1730] += 3.0  # a level shift in the scored part
    nab_csv(tmp_path / "train.csv", x[:800])
    nab_csv(tmp_path / "new.csv", x[800:], start=800)
    res = invoke("detect", "fit", "--data", tmp_path / "train.csv", "--series",
                 "--out", tmp_path / "det", "--quiet")
    assert res.exit_code == 0, res.output
    assert "window 24" in res.output  # one period, found from the series
    # the estimator keeps its channel list itself: nothing is patched in after saving
    from aekit.apps.detect import load_detector

    assert not (tmp_path / "det" / "detector.json").exists()
    assert load_detector(tmp_path / "det").feature_names_in_.tolist() == ["value"]
    res = invoke("detect", "score", tmp_path / "det", "--data", tmp_path / "new.csv",
                 "--out", tmp_path / "scores.csv", "--top", 1)
    assert res.exit_code == 0, res.output
    with open(tmp_path / "scores.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1600 and rows[0]["timestamp"].startswith("2014-04-03")
    scores = np.array([float(r["anomaly_score"]) for r in rows])
    assert 900 <= int(np.argmax(scores)) < 900 + 30 + 24  # the shift, or a window after
    html = (tmp_path / "report.html").read_text()
    section = html[html.index("Series and scores"):]
    m = re.search(r"(\d+) flagged span\(s\), shaded: ([^<]*)", section)
    assert m and int(m.group(1)) >= 1, section[:500]
    assert re.match(r"2014-04-\d\d \d\d:\d\d:00 to 2014-04-", m.group(2))  # timestamps
    assert any(r["anomaly_label"] == "1" for r in rows[900:954])  # the shift is flagged
    png = base64.b64decode(re.search(r'data:image/png;base64,([^"]+)', section).group(1))
    assert shaded_pixels(png) > 100


def test_series_plot_shades_only_flagged_spans(tmp_path):
    from aekit.report.plots import series_scores

    s = np.zeros(500)
    flagged = series_scores(np.sin(np.arange(500)), np.where((s == 0) & (np.arange(500) // 50
                            == 4), 5.0, 0.0), tmp_path / "a.png", threshold=1.0)
    quiet = series_scores(np.sin(np.arange(500)), s, tmp_path / "b.png", threshold=1.0)
    assert shaded_pixels(flagged.read_bytes()) > 100
    assert shaded_pixels(quiet.read_bytes()) == 0


def test_delay_zero_scores_causally_and_delay_needs_a_series(tmp_path):
    """--delay 0: each step's score is final on arrival; it is refused without --series and
    must be a step count or auto."""
    rng = np.random.default_rng(1)
    x = np.sin(2 * np.pi * np.arange(600) / 24) + 0.1 * rng.normal(size=600)
    nab_csv(tmp_path / "train.csv", x)
    res = invoke("detect", "fit", "--data", tmp_path / "train.csv", "--series", "--delay", 0,
                 "--out", tmp_path / "det", "--quiet", "--epochs", 1)
    assert res.exit_code == 0, res.output
    assert "window 24, scores 0 steps late" in res.output
    from aekit.apps.detect import load_detector

    assert load_detector(tmp_path / "det").delay_ == 0
    res = invoke("detect", "fit", "--data", tmp_path / "train.csv", "--delay", 3,
                 "--out", tmp_path / "d2")
    assert res.exit_code == 2 and "--delay is used only with --series" in res.output
    res = invoke("detect", "fit", "--data", tmp_path / "train.csv", "--series", "--delay",
                 "-1", "--out", tmp_path / "d3")
    assert res.exit_code == 2 and "--delay must be a number of steps >= 0" in res.output


def test_arrival_adds_each_steps_score_when_it_arrived(tmp_path):
    """--arrival: the column arrival_score is the detector's arrival_scores (the series cut
    at each step); the final anomaly_score is unchanged; refused for a table detector."""
    from aekit.apps.detect import load_detector
    from aekit.data.series import read_series_csv

    rng = np.random.default_rng(2)
    x = np.sin(2 * np.pi * np.arange(700) / 24) + 0.1 * rng.normal(size=700)
    x[600:610] += 2.0
    nab_csv(tmp_path / "train.csv", x[:500])
    nab_csv(tmp_path / "new.csv", x[500:], start=500)
    res = invoke("detect", "fit", "--data", tmp_path / "train.csv", "--series",
                 "--out", tmp_path / "det", "--quiet", "--epochs", 1)
    assert res.exit_code == 0, res.output
    outs = {}
    for flag in ([], ["--arrival"]):
        res = invoke("detect", "score", tmp_path / "det", "--data", tmp_path / "new.csv",
                     "--out", tmp_path / f"s{len(flag)}" / "s.csv", *flag)
        assert res.exit_code == 0, res.output
        with open(tmp_path / f"s{len(flag)}" / "s.csv") as f:
            outs[len(flag)] = list(csv.DictReader(f))
    plain, rows = outs[0], outs[1]
    assert "arrival_score" not in plain[0] and "arrival_score" in rows[0]
    assert [r["anomaly_score"] for r in rows] == [r["anomaly_score"] for r in plain]
    det = load_detector(tmp_path / "det")
    expect = det.arrival_scores(read_series_csv(tmp_path / "new.csv"))
    got = np.array([float(r["arrival_score"]) for r in rows])
    np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-6)
    final = np.array([float(r["anomaly_score"]) for r in rows])
    assert not np.allclose(got, final, atol=1e-3)  # a window later, scores move
    assert got[-1] == final[-1]  # the last step has seen its only window
    with open(tmp_path / "t.csv", "w", newline="") as f:
        csv.writer(f).writerows([["a", "b"], *rng.normal(size=(60, 2)).round(3).tolist()])
    res = invoke("detect", "fit", "--data", tmp_path / "t.csv", "--out", tmp_path / "tab",
                 "--n-estimators", 1, "--epochs", 1, "--quiet")
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["detect", "score", str(tmp_path / "tab"), "--data",
                                   str(tmp_path / "t.csv"), "--out", str(tmp_path / "o.csv"),
                                   "--arrival"])
    assert res.exit_code == 2 and "--arrival applies to series detectors" in res.output
    assert not (tmp_path / "o.csv").exists()
