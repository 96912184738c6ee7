"""``aekit detect score`` in chunks with labels: memory bounded in the row count (the
(score, label) pairs sorted on disk beside --out, then removed), same numbers as whole."""

import csv
import re

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import average_precision_score, roc_auc_score

from aekit.cli import cli


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stream")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 2)) @ rng.normal(size=(2, 4)) + 0.1 * rng.normal(size=(300, 4))
    y = (rng.uniform(size=300) < 0.1).astype(int)
    X[y == 1, 2] += 4
    X = np.round(X, 1)  # tied scores across chunks
    with open(tmp / "t.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "a", "b", "c", "d", "label"])
        w.writerows([[i, *X[i], y[i]] for i in range(300)])
    res = invoke("detect", "fit", "--data", tmp / "t.csv", "--out", tmp / "det",
                 "--label-column", "label", "--n-estimators", 1, "--epochs", 5, "--quiet")
    assert res.exit_code == 0, res.output
    return tmp, y


def test_labelled_chunks_sorted_on_disk_give_the_whole_commands_numbers(fitted, tmp_path,
                                                                        monkeypatch):
    from aekit.data.external_sort import ExternalSort
    from aekit.metrics import ranking

    tmp, y = fitted
    spills = []
    write_run = ExternalSort._write_run

    def spy(self, records):  # where the runs go, and that there are many
        write_run(self, records)
        spills.append(self.folder)

    monkeypatch.setattr(ranking, "RUN_ROWS", 23)
    monkeypatch.setattr(ExternalSort, "_write_run", spy)
    res = invoke("detect", "score", tmp / "det", "--data", tmp / "t.csv", "--out",
                 tmp_path / "out" / "s.csv", "--label-column", "label", "--chunk-rows", 40,
                 "--show", 4)
    assert res.exit_code == 0, res.output
    assert len(spills) == 14 and spills[0].parent == tmp_path / "out"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.html", "s.csv"]
    with open(tmp_path / "out" / "s.csv") as f:
        rows = list(csv.DictReader(f))
    s = np.array([float(r["anomaly_score"]) for r in rows])
    auroc, auprc = map(float, re.search(r"AUROC (\S+)\s+AUPRC (\S+)", res.output).groups())
    assert auroc == pytest.approx(roc_auc_score(y, s), abs=1e-4)
    assert auprc == pytest.approx(average_precision_score(y, s), abs=1e-4)
    # the most anomalous rows, with their top columns, as a stable sort of all scores
    shown = re.findall(r"row\s+(\d+)\s+score\s+\S+\s+(\w+) \d+%", res.output)
    order = np.argsort(-s, kind="stable")[:4]
    assert [int(r) - 1 for r, _ in shown] == list(order)
    assert [c for _, c in shown] == [rows[i]["top_1"] for i in order]
    whole = invoke("detect", "score", tmp / "det", "--data", tmp / "t.csv", "--out",
                   tmp_path / "whole" / "s.csv", "--label-column", "label", "--show", 4)
    assert whole.exit_code == 0
    pick = r"(scored .*|labels: .*|\s+row .*)"
    assert re.findall(pick, whole.output) == re.findall(pick, res.output)


def test_a_failure_midway_leaves_no_runs_and_no_output(fitted, tmp_path, monkeypatch):
    from aekit.metrics import ranking

    tmp, _ = fitted
    lines = (tmp / "t.csv").read_text().splitlines()
    lines[250] = lines[250].rsplit(",", 1)[0] + ",maybe"  # a bad label in a late chunk
    (tmp_path / "bad.csv").write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(ranking, "RUN_ROWS", 23)
    res = invoke("detect", "score", tmp / "det", "--data", tmp_path / "bad.csv", "--out",
                 tmp_path / "out" / "s.csv", "--label-column", "label", "--chunk-rows", 40)
    assert res.exit_code == 2 and "'maybe'" in res.output
    assert "Traceback" not in res.output
    assert list((tmp_path / "out").iterdir()) == []


def test_an_interrupt_or_sigterm_midway_leaves_no_runs_and_no_output(fitted, tmp_path):
    import os
    import subprocess
    import sys
    import time

    tmp, _ = fitted
    # a child that scores in chunks of 40 rows, spilling runs of 23 pairs, slowly
    script = (
        "import sys, time\n"
        "from aekit.metrics import ranking\n"
        "from aekit.apps.detect import AnomalyDetector\n"
        "ranking.RUN_ROWS = 23\n"
        "score = AnomalyDetector.score_and_explain\n"
        "def slow(self, x):\n"
        "    time.sleep(0.3)\n"
        "    return score(self, x)\n"
        "AnomalyDetector.score_and_explain = slow\n"
        "from aekit.cli import cli\n"
        "cli(sys.argv[1:])\n")
    out = tmp_path / "out"
    child = subprocess.Popen(
        [sys.executable, "-c", script, "detect", "score", str(tmp / "det"), "--data",
         str(tmp / "t.csv"), "--out", str(out / "s.csv"), "--label-column", "label",
         "--chunk-rows", "40"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 60
    while not list(out.glob(".aekit-sort-*/run*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(out.glob(".aekit-sort-*/run*")), "no run was spilled"
    child.terminate()  # SIGTERM
    output = child.communicate(timeout=60)[0].decode()
    assert child.returncode != 0 and "Traceback" not in output, output
    assert list(out.iterdir()) == []  # neither the runs nor a partial --out
