"""`aekit eval` and `aekit compare` end to end on small budgets."""

import csv
import json
import math

import pytest
import torch
from click.testing import CliRunner

import aekit
from aekit.cli import cli
from aekit.data import load_data
from aekit.runs import train_run
from aekit.train import TrainConfig

SMALL = {"latent_dim": 3, "arch": "mlp", "hidden_dims": (32,)}


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs") / "vae"
    cfg = TrainConfig(epochs=3, batch_size=64, progress=False, checkpoint_every=0)
    train_run("vae", load_data("digits"), folder, model_settings=dict(SMALL), train_config=cfg)
    return folder


def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_eval_all_writes_an_evaluation_folder_beside_the_run(vae_run):
    before = _snapshot(vae_run)
    res = invoke("eval", vae_run, "--data", "digits", "--k", 20)
    assert res.exit_code == 0, res.output
    assert "validation split" in res.output
    out = vae_run.parent / "vae-eval"
    assert _snapshot(vae_run) == before  # the run folder it reads is left as it was
    record = json.loads((out / "metrics.json").read_text())
    m = record["metrics"]
    for key in ("iwae_nll", "negative_elbo", "recon_mse", "recon_ssim", "FID-digits",
                "precision", "recall", "IS-digits", "active_units", "mutual_information",
                "linear_probe_accuracy", "knn_accuracy", "kmeans_nmi"):
        assert key in m, key
    assert "FID" not in m  # no Inception weights: never called plain FID
    assert m["iwae_nll"] <= m["negative_elbo"] + 0.5  # IWAE tightens the ELBO (noisy K=20)
    assert record["n_examples"] == 180 and len(record["details"]["collapse"]["kl_per_dim"]) == 3
    html = (out / "report.html").read_text()  # the run's report with the evaluation added
    assert html.count("<!-- aekit-eval:begin -->") == 1 and "Final metrics" in html
    assert "Evaluation: KL per latent dimension" in html and "latent traversals" in html
    assert (out / "plots" / "eval_kl_per_dim.png").is_file()
    # an existing evaluation is not replaced without --force
    res = CliRunner().invoke(cli, ["eval", str(vae_run), "--data", "digits", "--metrics",
                                   "recon"])
    assert res.exit_code == 2 and "--force" in res.output and "metrics.json" in res.output
    assert json.loads((out / "metrics.json").read_text()) == record
    # with --force it is replaced whole: one evaluation part, the latest metrics
    assert invoke("eval", vae_run, "--data", "digits", "--metrics", "recon",
                  "--force").exit_code == 0
    html = (out / "report.html").read_text()
    assert html.count("<!-- aekit-eval:begin -->") == 1 and "Final metrics" in html
    assert "iwae_nll" not in json.loads((out / "metrics.json").read_text())["metrics"]
    assert _snapshot(vae_run) == before


def test_eval_never_writes_inside_the_run_it_reads(vae_run, tmp_path):
    for out in (vae_run, vae_run / "eval", vae_run / "plots"):
        res = CliRunner().invoke(cli, ["eval", str(vae_run), "--data", "digits", "--out",
                                       str(out), "--force"])
        assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1, res.output
    assert not (vae_run / "eval").exists() and not (vae_run / "metrics.json").exists()


def test_eval_rate_distortion_sweep(vae_run, tmp_path):
    res = invoke("eval", vae_run, "--data", "digits", "--metrics", "rd", "--rd-betas", "0.5,4",
                 "--rd-epochs", 2, "--no-report", "--out", tmp_path / "rd")
    assert res.exit_code == 0, res.output
    rd = json.loads((tmp_path / "rd" / "metrics.json").read_text())["details"][
        "rate_distortion"]
    assert [p["beta"] for p in rd["points"]] == [0.5, 4.0]
    assert not (tmp_path / "rd" / "report.html").exists()


def test_eval_skips_what_does_not_apply(tmp_path, digits_flat):
    model = aekit.create("ae", data=digits_flat, **SMALL)
    model.save(tmp_path / "ae")
    res = invoke("eval", tmp_path / "ae", "--data", "digits_flat", "--metrics",
                 "nll,fid,recon", "--no-report")
    assert res.exit_code == 0, res.output
    record = json.loads((tmp_path / "ae-eval" / "metrics.json").read_text())
    assert "recon_mse" in record["metrics"] and "iwae_nll" not in record["metrics"]
    assert "VAE-family" in record["skipped"]["nll"]
    assert "not generative" in record["skipped"]["fid"]
    assert "per_feature" not in record["metrics"]
    assert len(record["details"]["recon_per_feature"]) == 64


@pytest.mark.filterwarnings("ignore::aekit.metrics.collapse.PosteriorCollapseWarning")
def test_eval_disentanglement_on_dsprites(tmp_path):
    """An untrained model on generated dSprites: every score computed and in [0, 1]."""
    torch.manual_seed(0)
    model = aekit.create("vae", input_shape=(1, 16, 16), likelihood="bernoulli", **SMALL)
    model.save(tmp_path / "m")
    res = invoke("eval", tmp_path / "m", "--data", "dsprites:16", "--metrics",
                 "disentanglement,collapse", "--n-examples", 200, "--no-report")
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "m-eval" / "metrics.json").read_text())["metrics"]
    for key in ("beta_vae_score", "factor_vae_score", "mig", "dci_disentanglement", "sap"):
        assert 0.0 <= m[key] <= 1.0


def test_eval_errors_are_one_line(vae_run, tmp_path):
    res = CliRunner().invoke(cli, ["eval", str(vae_run), "--data", "digits", "--metrics",
                                   "nll,bogus"])
    assert res.exit_code == 2 and "unknown metric 'bogus'" in res.output
    res = CliRunner().invoke(cli, ["eval", str(vae_run), "--data", "digits_flat", "--out",
                                   str(tmp_path / "e")])
    assert res.exit_code == 2 and "expects examples of shape" in res.output


def test_compare_writes_a_leaderboard(tmp_path):
    out = tmp_path / "board"
    res = invoke("compare", "--models", "vae,ae", "--data", "digits", "--epochs", 1,
                 "--hidden-dims", "32", "--latent-dim", 3, "--k", 5, "--peers", "none",
                 "--binarize", "fixed", "--out", out)
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader((out / "leaderboard.csv").open()))
    assert [r["model"] for r in rows] == ["vae", "ae"]
    assert rows[0]["nll"] and rows[0]["FID-digits"] and rows[0]["active_units"]
    assert float(rows[0]["bits_per_dim"]) * 64 * math.log(2) == pytest.approx(
        float(rows[0]["nll"]), rel=1e-3)
    assert rows[1]["nll"] == "" and rows[1]["recon_mse"]
    assert float(rows[0]["train_s"]) > 0 and int(rows[0]["params"]) > 0
    md = (out / "leaderboard.md").read_text()
    assert "| vae | aekit |" in md and "FID-digits" in md and "binarised once" in md
    html = (out / "leaderboard.html").read_text()
    assert html.count("data:image/png;base64,") == 2  # samples (vae), reconstructions (ae)


def test_compare_rejects_unknown_models():
    res = CliRunner().invoke(cli, ["compare", "--models", "vae,nope", "--data", "digits"])
    assert res.exit_code == 2 and "unknown model 'nope'" in res.output
