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


def test_series_fit_and_apply_keep_timestamps_and_channels(tmp_path):
    from aekit.data.series import Series, read_series_csv, write_series_csv

    t = np.arange(1500)
    clean = np.stack([np.sin(2 * np.pi * t / 50), np.cos(2 * np.pi * t / 80)], 1)
    write_series_csv(tmp_path / "s.csv", Series(clean.astype(np.float32), ["p", "q"],
                                                [f"t{i}" for i in t]))
    out = tmp_path / "sig"
    result = invoke("denoise", "fit", "--data", tmp_path / "s.csv", "--series", "--window",
                    16, "--level", 0.5, "--epochs", 5, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_steps"] == 300 and metrics["channels"] == ["p", "q"]
    assert metrics["snr_db_denoised"] > metrics["snr_db_noisy"]
    result = invoke("denoise", "apply", out, "--data", tmp_path / "s.csv", "--out",
                    tmp_path / "r.csv")
    assert result.exit_code == 0, result.output
    back = read_series_csv(tmp_path / "r.csv", label_column=None)
    assert back.channel_names == ["p", "q"] and back.timestamps[:2] == ["t0", "t1"]
    assert back.values.shape == (1500, 2)
    result = invoke("denoise", "apply", out, "--data", tmp_path / "s.csv", "--out",
                    tmp_path / "r.npy")
    assert result.exit_code != 0 and "writes a .csv file" in result.output
    result = invoke("denoise", "fit", "--data", tmp_path / "s.csv", "--series", "--window",
                    1400, "--out", tmp_path / "x")
    assert result.exit_code != 0 and "fewer than one window of 1400" in result.output
