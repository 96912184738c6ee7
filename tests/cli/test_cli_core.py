"""The command line: train, quickstart, sample, interpolate, models, and its errors."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

import aekit
from aekit.cli import cli


@pytest.fixture
def runner():
    return CliRunner()


def invoke(runner, *args):
    return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_quickstart_end_to_end_on_reduced_budget(runner, tmp_path):
    out = tmp_path / "qs"
    res = invoke(runner, "quickstart", "--out", out, "--epochs", 2, "--quiet")
    assert res.exit_code == 0, res.output
    assert "report.html" in res.output and "val" in res.output
    for name in ("config.json", "model.safetensors", "metrics.jsonl", "report.html",
                 "train_config.json", "data.json", "README.txt",
                 "checkpoints/last.safetensors", "plots/latent_map.png", "plots/samples.png"):
        assert (out / name).is_file(), name
    rows = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines()]
    assert {r["split"] for r in rows} == {"train", "val"}
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 4
    model = aekit.load(out)
    assert model.name == "vae"


def test_train_sample_interpolate(runner, tmp_path):
    run = tmp_path / "run"
    res = invoke(runner, "train", "ae", "--data", "digits", "--epochs", 1, "--out", run,
                 "--latent-dim", 3, "--set", "hidden_dims=(32,)", "--set", "arch=mlp",
                 "--quiet")
    assert res.exit_code == 0, res.output
    assert aekit.load(run).config.latent_dim == 3
    res = runner.invoke(cli, ["sample", str(run)])
    assert res.exit_code == 2 and "not generative" in res.output
    strip = tmp_path / "walk.png"
    res = invoke(runner, "interpolate", run, "--data", "digits", "--from", 0, "--to", 5,
                 "--steps", 6, "--out", strip)
    assert res.exit_code == 0, res.output
    assert strip.is_file()


def test_train_summary_of_a_gan_model_shows_training_only_terms_as_dashes(runner, tmp_path):
    """kl_ae logs its adversarial terms in training only: the val row shows '-' there."""
    res = invoke(runner, "train", "kl_ae", "--data", "digits", "--epochs", 1, "--out",
                 tmp_path / "run", "--quiet")
    assert res.exit_code == 0, res.output
    header, train, val = res.output.strip().splitlines()[-3:]
    assert "autoencoder.adaptive_weight" in header and "discriminator.disc" in header
    assert train.split()[0] == "train" and "-" not in train.split()[1:]
    assert val.split()[0] == "val" and val.split().count("-") == 2


def test_train_sdae_with_pretraining(runner, tmp_path):
    res = invoke(runner, "train", "sdae", "--data", "digits_flat", "--epochs", 1,
                 "--pretrain-epochs", 1, "--out", tmp_path / "s", "--quiet",
                 "--set", "hidden_dims=(32,)", "--latent-dim", 8)
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["train", "vae", "--data", "digits", "--pretrain-epochs", "1",
                              "--out", str(tmp_path / "v"), "--epochs", "1"])
    assert res.exit_code == 2 and "no layer-wise pretraining" in res.output


def test_train_resume_continues(runner, tmp_path):
    run = tmp_path / "vae"
    common = ["train", "vae", "--data", "digits", "--out", run, "--quiet",
              "--set", "arch=mlp", "--set", "hidden_dims=(32,)"]
    assert invoke(runner, *common, "--epochs", 1).exit_code == 0
    res = invoke(runner, *common, "--epochs", 2, "--resume")
    assert res.exit_code == 0, res.output
    epochs = [json.loads(r)["epoch"] for r in (run / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 1, 2, 2]
    grid = tmp_path / "grid.png"
    assert invoke(runner, "sample", run, "-n", 16, "--out", grid).exit_code == 0
    assert grid.is_file()


def test_train_on_a_csv_file(runner, tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "table.csv"
    x = rng.normal(size=(200, 5))
    header = "a,b,c,d,e"
    np.savetxt(path, x, delimiter=",", header=header, comments="")
    res = invoke(runner, "train", "vae", "--data", path, "--epochs", 1, "--out",
                 tmp_path / "r", "--quiet")
    assert res.exit_code == 0, res.output
    assert aekit.load(tmp_path / "r").likelihood.name == "gaussian_learned"


@pytest.mark.parametrize("args,message", [
    (["train", "nope", "--data", "digits"], "unknown model 'nope'"),
    (["train", "vae", "--data", "missing.csv"], "missing.csv"),
    (["train", "vae", "--data", "digits", "--set", "latent=3"], "no parameter 'latent'"),
    (["train", "vae", "--data", "digits", "--set", "oops"], "KEY=VALUE"),
    (["sample", "not_a_run"], "not an aekit run"),
    (["train", "vae", "--data", "digits", "--epochs", "0"], "0"),
])
def test_errors_are_one_clear_line(runner, args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(cli, args)
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert "Traceback" not in res.output


def test_models_lists_registry(runner):
    res = invoke(runner, "models")
    assert "vae" in res.output and "beta_vae" in res.output


def test_every_command_has_help_with_an_example(runner):
    for name in cli.commands:
        res = invoke(runner, name, "--help")
        assert res.exit_code == 0
        assert "Example" in res.output or "example" in res.output, name


def test_export_writes_an_onnx_reconstruction_and_refuses_to_overwrite(runner, tmp_path):
    torch_model = aekit.create("vae", input_shape=(64,), arch="mlp", hidden_dims=(16,),
                               latent_dim=2)
    folder = torch_model.save(tmp_path / "model")
    out = tmp_path / "vae.onnx"
    res = invoke(runner, "export", folder, "--onnx", out)
    assert res.exit_code == 0, res.output
    error = float(res.output.rsplit("=", 1)[1])
    assert out.is_file() and error <= 1e-5
    res = runner.invoke(cli, ["export", str(folder), "--onnx", str(out)])
    assert res.exit_code == 2 and "--force" in res.output
    for bad in (folder / "vae.onnx", folder / "model.safetensors", tmp_path / "vae.png"):
        res = runner.invoke(cli, ["export", str(folder), "--onnx", str(bad), "--force"])
        assert res.exit_code == 2 and res.output.count("\n") == 1, res.output
        assert not (folder / "vae.onnx").exists() and not (tmp_path / "vae.png").exists()
