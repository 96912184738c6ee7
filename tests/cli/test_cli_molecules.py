"""``aekit molecules train / sample / evaluate / optimize``: the run folder and report,
the CSV with a header, the metric table, and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("rdkit")
pytest.importorskip("selfies")

from aekit.cli import cli  # noqa: E402

FIXTURE = Path(__file__).parents[1] / "data" / "moses_300.csv"


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("d") / "train.smi"
    lines = FIXTURE.read_text().splitlines()[1:121]
    lines.insert(5, "C1CC not-a-molecule")  # line 6 of the file
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path_factory.mktemp("r") / "run"
    result = invoke("molecules", "train", "--data", data, "--out", out, "--epochs", 1,
                    "--latent-dim", 8, "--hidden-size", 32, "--samples", 30,
                    "--optimize-budget", 5, "--quiet")
    assert result.exit_code == 0, result.output
    assert "skipped 1 unparsable SMILES (line 6)" in result.output
    return out


def test_train_writes_model_metrics_and_report(run):
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["train_molecules"] + metrics["heldout_molecules"] == 120
    assert metrics["skipped_lines"] == 1
    assert 0 <= metrics["reconstruction_heldout"] <= 1 and "qed_evaluations" in metrics
    html = (run / "report.html").read_text()
    for title in ("Samples from the prior", "Metrics", "Interpolation",
                  "Property optimisation", "Training"):
        assert title in html
    assert (run / "estimator.json").is_file() and (run / "model" / "model.safetensors").is_file()


def test_sample_then_evaluate(run, tmp_path):
    mols = tmp_path / "mols.csv"
    result = invoke("molecules", "sample", run, "-n", 25, "--out", mols)
    assert result.exit_code == 0, result.output
    lines = mols.read_text().splitlines()
    assert lines[0] == "smiles" and len(lines) == 26
    again = invoke("molecules", "sample", run, "-n", 5, "--out", mols)
    assert again.exit_code == 2 and "already exists; pass --force" in again.output
    out = tmp_path / "m.json"
    result = invoke("molecules", "evaluate", mols, "--reference", FIXTURE, "--train", FIXTURE,
                    "--fcd-size", 4, "--out", out)
    assert result.exit_code == 0, result.output
    table = json.loads(out.read_text())
    assert {"valid", "unique@25", "novelty", "IntDiv", "filters", "FCD/Test", "SNN/Test",
            "Frag/Test", "Scaf/Test"} <= set(table)
    assert "FCD/Test" in result.output


def test_optimize_prints_the_best_and_writes_only_where_told(run, tmp_path):
    before = sorted(p.name for p in run.iterdir())
    result = invoke("molecules", "optimize", run, "--property", "qed", "--budget", 12,
                    "--out", tmp_path / "opt")
    assert result.exit_code == 0, result.output
    assert "best qed" in result.output and "after 12 evaluations" in result.output
    saved = json.loads((tmp_path / "opt" / "optimize.json").read_text())
    assert saved["property"] == "qed" and saved["budget"] == 12
    assert saved["evaluations"] == len(saved["curve"]) == 12
    assert (tmp_path / "opt" / "plots" / "optimization.png").is_file()
    assert sorted(p.name for p in run.iterdir()) == before
    bad = invoke("molecules", "optimize", run, "--out", run)
    assert bad.exit_code == 2 and "never overwrites its input" in bad.output
    for args in (("--budget", 0), ("--steps", 3)):  # a bad or retired setting is refused
        bad = invoke("molecules", "optimize", run, *args)
        assert bad.exit_code == 2 and args[0] in bad.output


def test_bad_input_is_one_line(tmp_path, run):
    empty = tmp_path / "x.csv"
    empty.write_text("name\nfoo\n")
    result = invoke("molecules", "train", "--data", empty, "--out", tmp_path / "r")
    assert result.exit_code == 2 and "no column 'smiles'" in result.output
    assert "Traceback" not in result.output
    result = invoke("molecules", "train", "--data", FIXTURE, "--out", run)
    assert result.exit_code == 2 and "already holds" in result.output
    result = invoke("molecules", "sample", tmp_path, "--out", tmp_path / "s.csv")
    assert result.exit_code == 2 and "no estimator.json" in result.output


def test_sample_ring_guard_option(run, tmp_path):
    from aekit.data.selfies_rings import largest_ring

    mols = tmp_path / "g.csv"
    result = invoke("molecules", "sample", run, "-n", 20, "--ring-guard", 5, "--out", mols)
    assert result.exit_code == 0, result.output
    assert "ring guard: rings of at most 5 atoms" in result.output
    assert all(largest_ring([s]) <= 5 for s in mols.read_text().splitlines()[1:])
    assert "open kekule benzenes closed" in result.output  # the guard's rule, on by default
    bad = invoke("molecules", "sample", run, "--ring-guard", "big", "--out", tmp_path / "b.csv")
    assert bad.exit_code == 2 and "--ring-guard: 'on', 'off' or a ring size" in bad.output
    off = invoke("molecules", "sample", run, "-n", 5, "--no-close-benzenes", "--out",
                 tmp_path / "n.csv")
    assert off.exit_code == 0 and "benzenes" not in off.output
    bad = invoke("molecules", "sample", run, "--ring-guard", "off", "--close-benzenes",
                 "--out", tmp_path / "c.csv")
    assert bad.exit_code == 2 and "close_benzenes=True is a rule of the ring guard" in bad.output
