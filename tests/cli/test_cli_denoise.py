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


def test_series_labels_are_not_channels_and_columns_must_match(tmp_path):
    from aekit.data.series import Series, read_series_csv, write_series_csv

    t = np.arange(1200)
    clean = np.stack([np.sin(2 * np.pi * t / 50), 1000 + np.cos(2 * np.pi * t / 80)], 1)
    labels = (t % 300 == 0).astype(np.int64)
    write_series_csv(tmp_path / "s.csv", Series(clean.astype(np.float32), ["p", "q"],
                                                labels=labels))
    out = tmp_path / "sig"
    result = invoke("denoise", "fit", "--data", tmp_path / "s.csv", "--series", "--window",
                    16, "--epochs", 3, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["channels"] == ["p", "q"]  # is_anomaly is not a channel
    # SNR per channel from the variance: the offset of 1000 on q does not inflate it
    assert metrics["snr_db_per_channel_noisy"][1] < 20
    result = invoke("denoise", "apply", out, "--data", tmp_path / "s.csv", "--out",
                    tmp_path / "r.csv")
    assert result.exit_code == 0, result.output
    back = read_series_csv(tmp_path / "r.csv")
    assert np.array_equal(back.labels, labels)  # passed through
    write_series_csv(tmp_path / "swapped.csv", Series(clean[:, ::-1].astype(np.float32),
                                                      ["q", "p"]))
    result = invoke("denoise", "apply", out, "--data", tmp_path / "swapped.csv", "--out",
                    tmp_path / "rs.csv")
    assert result.exit_code == 0, result.output  # channels are read by name
    np.testing.assert_allclose(read_series_csv(tmp_path / "rs.csv").values, back.values,
                               rtol=1e-5, atol=1e-5)
    write_series_csv(tmp_path / "other.csv", Series(clean.astype(np.float32), ["p", "z"]))
    result = invoke("denoise", "apply", out, "--data", tmp_path / "other.csv", "--out",
                    tmp_path / "r2.csv")
    assert result.exit_code != 0 and "missing channel column(s) ['q']" in result.output
    assert not (tmp_path / "r2.csv").exists()


def test_outputs_and_inputs_that_cannot_work_are_refused_in_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    result = invoke("denoise", "fit", "--data", "digits", "--out", tmp_path / "file")
    assert result.exit_code != 0 and "is a file; this command writes a folder" in \
        result.output
    np.save(tmp_path / "a.npy", np.zeros((10, 3), np.float32))
    result = invoke("denoise", "fit", "--data", tmp_path / "a.npy", "--series", "--out",
                    tmp_path / "d")
    assert result.exit_code != 0 and "not a UTF-8 text CSV" in result.output
    assert "Traceback" not in result.output
    result = invoke("denoise", "fit", "--data", "digits", "--window", 8, "--out",
                    tmp_path / "d")
    assert result.exit_code != 0 and "--window applies to series" in result.output
