"""Plots write real PNGs; the report embeds them and escapes text."""

import numpy as np
import pytest
import torch
from PIL import Image

from aekit.report import plots
from aekit.report.html import Section, write_report


def _is_png(path):
    with Image.open(path) as im:
        return im.format == "PNG" and im.size[0] > 0


@pytest.mark.parametrize("shape", [(9, 1, 8, 8), (4, 3, 64, 64), (5, 8, 8)])
def test_image_grid(tmp_path, shape):
    assert _is_png(plots.image_grid(torch.rand(shape), tmp_path / "g.png"))


def test_image_grid_rejects_vectors(tmp_path):
    with pytest.raises(ValueError, match="not images"):
        plots.image_grid(np.zeros((4, 10)), tmp_path / "g.png")


@pytest.mark.parametrize("dim", [2, 3, 10])
def test_latent_map(tmp_path, dim):
    z = np.random.default_rng(0).normal(size=(100, dim))
    assert _is_png(plots.latent_map(z, tmp_path / "a.png"))
    assert _is_png(plots.latent_map(z, tmp_path / "b.png", labels=np.arange(100) % 3,
                                    class_names=["x", "y", "z"]))


def test_other_plots(tmp_path):
    rows = [{"epoch": e, "split": s, "loss": 1.0 / e, "kl": 0.1} for e in (1, 2, 3)
            for s in ("train", "val")]
    assert _is_png(plots.loss_curves(rows, tmp_path / "l.png"))
    assert _is_png(plots.reconstruction_pairs(np.random.rand(4, 20), np.random.rand(4, 20),
                                              tmp_path / "r.png"))
    assert _is_png(plots.bar_chart([0.1, 2, 3], tmp_path / "b.png", title="KL"))
    assert _is_png(plots.histogram(np.random.rand(100), tmp_path / "h.png", threshold=0.5))
    assert _is_png(plots.line_plot([0, 1], {"roc": [0, 1]}, tmp_path / "p.png", xlabel="a",
                                   ylabel="b"))


def test_report_embeds_images_and_escapes(tmp_path):
    img = plots.bar_chart([1, 2], tmp_path / "b.png")
    out = write_report(tmp_path / "report.html", title="<script>x</script>",
                       sections=[Section("s", text="a < b", images=[img],
                                         table=[{"m": 1.234567, "n": "<b>"}])])
    html = out.read_text()
    assert "data:image/png;base64," in html
    assert "<script>x" not in html and "&lt;script&gt;" in html
    assert "1.235" in html and "&lt;b&gt;" in html
    assert not list(tmp_path.glob(".report.*"))
