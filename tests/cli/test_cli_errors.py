"""Bad input that used to end in a traceback: one line naming what is wrong, exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from cli_helpers import invoke, one_line_error
from safetensors.torch import load_file, save_file

import aekit


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 1-epoch ae run on digits (latent 2): config, weights, checkpoint, metrics."""
    folder = tmp_path_factory.mktemp("errors") / "run"
    res = invoke("train", "ae", "--data", "digits", "--epochs", 1, "--out", folder,
                 "--latent-dim", 2, "--set", "hidden_dims=(8,)", "--set", "arch=mlp",
                 "--quiet")
    assert res.exit_code == 0, res.output
    return folder


def copy_run(run, dest):
    import shutil

    return shutil.copytree(run, dest)


@pytest.mark.parametrize("setting, needle", [
    ("beta=abc", "beta must be a number, got 'abc'"),
    ("activation=foo", "activation='foo' is not one of"),
    ("beta=nan", "beta must be a finite number, got nan"),
    ("beta=-inf", "finite"),
    ("latent_dim=2.5", "latent_dim must be an integer"),
    ("hidden_dims=16", "hidden_dims must be a sequence"),
    ("likelihood=[1]", "likelihood must be a name"),
    ("nonsense=1", "has no parameter 'nonsense'"),
    ("free_bits=true", "free_bits must be a number"),
])
def test_bad_settings_are_one_line(tmp_path, setting, needle):
    res = invoke("train", "vae", "--data", "digits", "--out", tmp_path / "r", "--set", setting)
    one_line_error(res, needle)


def test_set_reads_nan_inf_and_quoted_tuples():
    from aekit.cli._common import parse_settings

    got = parse_settings(("a=nan", "b=-Inf", "c=(512,256)", "d=true", "e=bernoulli"))
    assert np.isnan(got["a"]) and got["b"] == -np.inf
    assert got["c"] == (512, 256) and got["d"] is True and got["e"] == "bernoulli"


@pytest.mark.parametrize("edit, needle", [
    (lambda r: r["config"].update(bogus=1), "has no parameter 'bogus'"),
    (lambda r: r["config"].update(latent_dim="2"), "latent_dim must be an integer"),
    (lambda r: r.update(model=["ae"]), "not an aekit model config"),
    (lambda r: r.update(config=[1, 2]), "not an aekit model config"),
    (lambda r: r["config"].update(latent_dim=10 ** 9), "wrong shapes"),
])
def test_hand_edited_config_json_is_one_line(run, tmp_path, edit, needle):
    folder = copy_run(run, tmp_path / "run")
    record = json.loads((folder / "config.json").read_text())
    edit(record)
    (folder / "config.json").write_text(json.dumps(record))
    one_line_error(invoke("eval", folder, "--data", "digits", "--metrics", "recon"), needle)


def test_deeply_nested_config_json_is_one_line(run, tmp_path):
    folder = copy_run(run, tmp_path / "run")
    (folder / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    one_line_error(invoke("eval", folder, "--data", "digits"), "config.json")


def test_huge_config_is_refused_from_the_header_before_allocating(run, tmp_path):
    """latent_dim=1e12 would ask for terabytes: the meta-device check refuses it first."""
    folder = copy_run(run, tmp_path / "run")
    record = json.loads((folder / "config.json").read_text())
    record["config"]["latent_dim"] = 10 ** 12
    (folder / "config.json").write_text(json.dumps(record))
    with pytest.raises(aekit.errors.AekitError, match="wrong shapes"):
        aekit.load(folder)


def test_nan_weights_are_refused_at_load(run, tmp_path):
    folder = copy_run(run, tmp_path / "run")
    weights = load_file(folder / "model.safetensors")
    key = sorted(weights)[0]
    weights[key] = weights[key].clone()
    weights[key].view(-1)[0] = float("nan")
    save_file(weights, folder / "model.safetensors")
    one_line_error(invoke("interpolate", folder, "--data", "digits", "--from", 0, "--to", 1,
                          "--out", tmp_path / "w.png"), "non-finite", repr(key))
    assert not (tmp_path / "w.png").exists()


def test_cuda_on_a_cpu_only_install_is_one_line(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    one_line_error(invoke("train", "ae", "--data", "digits", "--out", tmp_path / "r",
                          "--device", "cuda"), "no CUDA GPU")
    from aekit.apps.detect import AnomalyDetector

    with pytest.raises(aekit.errors.ConfigError, match="no CUDA GPU"):
        AnomalyDetector(device="cuda", epochs=1).fit(np.zeros((20, 3)))
    data = torch.rand(20, 4)
    with pytest.raises(aekit.errors.ConfigError, match="no CUDA GPU"):
        aekit.Trainer(device="cuda:0", epochs=1).fit(aekit.create("ae", data=data), data)


def test_resume_uses_the_runs_own_settings_and_names_changed_ones(run, tmp_path):
    folder = copy_run(run, tmp_path / "run")
    (folder / "checkpoints" / ".last.safetensors.abc123.tmp").write_bytes(b"half")
    (folder / ".model.xyz.tmp").write_bytes(b"half")
    res = invoke("train", "ae", "--data", "digits", "--out", folder, "--epochs", 2, "--resume",
                 "--quiet")  # no --latent-dim: the run's 2 is kept (README's example)
    assert res.exit_code == 0, res.output
    assert aekit.load(folder).config.latent_dim == 2
    assert not list(folder.rglob(".*.tmp"))  # interrupted writes cleaned up
    rows = [json.loads(r) for r in (folder / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows if r["split"] == "train"] == [1, 2]
    res = invoke("train", "ae", "--data", "digits", "--out", folder, "--epochs", 3, "--resume",
                 "--latent-dim", 4, "--set", "hidden_dims=(8,)")
    one_line_error(res, "changed model settings", "latent_dim (2 in the run, 4 now)")
    res = invoke("train", "vae", "--data", "digits", "--out", folder, "--epochs", 3, "--resume")
    one_line_error(res, "it trains 'ae', not 'vae'")


def test_a_torn_metrics_line_is_dropped_at_resume_and_a_bad_middle_line_named(run, tmp_path):
    folder = copy_run(run, tmp_path / "run")
    metrics = folder / "metrics.jsonl"
    good = metrics.read_text()
    metrics.write_text(good + '{"epoch": 2, "spl')  # a crash mid-append
    res = invoke("train", "ae", "--data", "digits", "--out", folder, "--epochs", 2, "--resume",
                 "--quiet")
    assert res.exit_code == 0, res.output
    folder = copy_run(run, tmp_path / "run2")
    (folder / "metrics.jsonl").write_text("garbage\n" + good)
    res = invoke("train", "ae", "--data", "digits", "--out", folder, "--epochs", 2, "--resume")
    one_line_error(res, "metrics.jsonl: line 1 is not a metrics row")


def test_interpolate_on_data_of_another_shape_is_one_line(run, tmp_path):
    np.save(tmp_path / "v.npy", np.random.default_rng(0).random((5, 7)).astype(np.float32))
    res = invoke("interpolate", run, "--data", tmp_path / "v.npy", "--from", 0, "--to", 1,
                 "--out", tmp_path / "w.png")
    one_line_error(res, "expects examples of shape (1, 8, 8)", "(7,)")


def test_os_errors_are_one_line(run, tmp_path):
    (tmp_path / "afile").write_text("x")
    res = invoke("reduce", "--data", "digits", "--epochs", 1, "--out",
                 tmp_path / "afile" / "map.png", "--quiet")
    one_line_error(res, "afile")


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    root = tmp_path_factory.mktemp("det")
    rng = np.random.default_rng(0)
    np.savetxt(root / "t.csv", rng.normal(size=(60, 3)), delimiter=",", header="a,b,c",
               comments="")
    x = rng.normal(size=(10, 3))
    x[3, 1] = 1e30
    y = (np.arange(10) % 3 == 0).astype(int)
    np.savetxt(root / "n.csv", np.c_[x, y], delimiter=",", header="a,b,c,y", comments="",
               fmt="%.6g")
    res = invoke("detect", "fit", "--data", root / "t.csv", "--out", root / "det", "--epochs",
                 1, "--n-estimators", 1, "--set", "hidden_dims=(8,)", "--quiet")
    assert res.exit_code == 0, res.output
    return root


def test_a_1e30_cell_at_scoring_time_is_one_line(detector, tmp_path):
    res = invoke("detect", "score", detector / "det", "--data", detector / "n.csv", "--out",
                 tmp_path / "s.csv", "--label-column", "y")
    one_line_error(res, "row(s) 4 cannot be scored", "1e+30", "column 2")


@pytest.mark.parametrize("tamper, needle", [
    (lambda d: d["detector"]["members"][0].update(folder="../elsewhere"), "not a folder name"),
    (lambda d: d["detector"]["members"][0].update(folder="/etc"), "not a folder name"),
    (lambda d: d["detector"].update(threshold=float("nan")), "threshold is nan"),
    (lambda d: d["detector"].pop("members"), "malformed detector record"),
])
def test_a_tampered_detector_json_is_refused(detector, tmp_path, tamper, needle):
    import shutil

    det = shutil.copytree(detector / "det", tmp_path / "det")
    doc = json.loads((det / "detector.json").read_text())
    tamper(doc)
    (det / "detector.json").write_text(json.dumps(doc))
    res = invoke("detect", "score", det, "--data", detector / "t.csv", "--out",
                 tmp_path / "s.csv")
    one_line_error(res, needle)


def test_nan_detector_arrays_are_refused(detector, tmp_path):
    import shutil

    det = shutil.copytree(detector / "det", tmp_path / "det")
    arrays = load_file(det / "detector.safetensors")
    arrays["mean"] = torch.full_like(arrays["mean"], float("nan"))
    save_file(arrays, det / "detector.safetensors")
    res = invoke("detect", "score", det, "--data", detector / "t.csv", "--out",
                 tmp_path / "s.csv")
    one_line_error(res, "'mean' holds", "non-finite")


def test_error_hints_name_the_command_line_option(tmp_path):
    from PIL import Image

    for i, size in enumerate([(8, 8), (10, 12)]):
        (tmp_path / "imgs").mkdir(exist_ok=True)
        Image.new("L", size).save(tmp_path / "imgs" / f"{i}.png")
    res = invoke("reduce", "--data", tmp_path / "imgs", "--out", tmp_path / "m.png")
    one_line_error(res, "--image-size 8x8")
    res = invoke("reduce", "--data", tmp_path / "imgs", "--image-size", "8x8", "--epochs", 1,
                 "--out", tmp_path / "m.png", "--quiet")
    assert res.exit_code == 0, res.output
