"""``aekit denoise fit`` / ``aekit denoise apply``: the folder, the numbers, the refusals."""

import json

import numpy as np
from click.testing import CliRunner

from aekit.apps.denoise import Denoiser
from aekit.cli import cli


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_fit_writes_a_denoiser_its_metrics_and_a_report(tmp_path):
    out = tmp_path / "den"
    result = invoke("denoise", "fit", "--data", "digits", "--noise", "masking", "--level",
                    0.3, "--epochs", 5, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert "PSNR on 359 held-out examples" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_examples"] == 359 and metrics["noise"] == "masking"
    assert metrics["psnr_denoised"] > metrics["psnr_noisy"]
    assert {"ssim_noisy", "ssim_denoised"} <= set(metrics)
    assert "data:image/png;base64," in (out / "report.html").read_text()
    assert Denoiser.load(out).noise == "masking"


def test_apply_writes_denoised_arrays_and_never_overwrites_its_input(tmp_path, digits):
    out = tmp_path / "den"
    invoke("denoise", "fit", "--data", "digits", "--epochs", 1, "--out", out, "--quiet")
    noisy = tmp_path / "noisy.npy"
    np.save(noisy, digits.x[:10].numpy())
    result = invoke("denoise", "apply", out, "--data", noisy, "--out", tmp_path / "r.npy")
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "r.npy").shape == (10, 1, 8, 8)
    before = noisy.read_bytes()
    result = invoke("denoise", "apply", out, "--data", noisy, "--out", noisy)
    assert result.exit_code != 0 and "never overwrites its input" in result.output
    assert noisy.read_bytes() == before
    result = invoke("denoise", "apply", out, "--data", noisy, "--out", tmp_path / "r.csv")
    assert result.exit_code != 0 and "written as a .npy file" in result.output
