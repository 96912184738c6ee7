"""Every plot writes a real, non-empty PNG; image sheets are pixel-exact and reject vectors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from aekit.report import plots


def _png(path) -> tuple[int, int]:
    """The size of the PNG at ``path``, after checking it is one and is not empty."""
    assert path.stat().st_size > 0
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.size[0] > 0 and im.size[1] > 0
        return im.size


@pytest.mark.parametrize("shape", [(9, 1, 8, 8), (4, 3, 64, 64), (5, 8, 8), (3, 8, 8, 3)])
def test_image_grid_shapes(tmp_path, shape):
    out = plots.image_grid(torch.rand(shape), tmp_path / "sub" / "g.png")
    assert out == tmp_path / "sub" / "g.png"
    _png(out)


def test_image_grid_is_pixel_exact_and_clips(tmp_path):
    x = np.zeros((4, 1, 8, 8), dtype=np.float32)
    x[0, 0, 0, 0] = 1.0
    x[1] = 5.0  # clipped to white
    x[2] = np.nan  # shown as black
    out = plots.image_grid(x, tmp_path / "g.png", nrow=2, scale=8)
    with Image.open(out) as im:
        a = np.asarray(im)
    assert im.mode == "L"  # grey images stay grey
    sep = 2
    assert a.shape == (sep + 2 * (64 + sep), sep + 2 * (64 + sep))
    first = a[sep:sep + 64, sep:sep + 64]
    assert (first[:8, :8] == 255).all() and (first[8:, :] == 0).all()  # one 8x8 block
    second = a[sep:sep + 64, 2 * sep + 64:2 * sep + 128]
    assert (second == 255).all()
    third = a[2 * sep + 64:2 * sep + 128, sep:sep + 64]
    assert (third == 0).all()
    assert (a[:sep] != 0).all() and (a[:, 64 + sep] != 0).all()  # visible separators


def test_image_grid_title_labels_and_colour(tmp_path):
    x = torch.rand(6, 3, 16, 16)
    plain = _png(plots.image_grid(x, tmp_path / "a.png", nrow=3))
    labelled = _png(plots.image_grid(x, tmp_path / "b.png", nrow=3, title="<samples>",
                                     labels=[f"class {i}" for i in range(6)]))
    assert labelled[0] >= plain[0] and labelled[1] > plain[1]
    with Image.open(tmp_path / "b.png") as im:
        assert im.mode == "RGB"


def test_image_grid_accepts_uint8_and_bf16(tmp_path):
    _png(plots.image_grid(np.full((2, 1, 8, 8), 200, dtype=np.uint8), tmp_path / "u.png"))
    _png(plots.image_grid(torch.rand(2, 1, 8, 8, dtype=torch.bfloat16), tmp_path / "b.png"))


@pytest.mark.parametrize("shape", [(4, 64), (4, 10), (4, 2, 8, 8), (4,)])
def test_image_grid_rejects_non_images(tmp_path, shape):
    with pytest.raises(ValueError, match="not images"):
        plots.image_grid(np.zeros(shape), tmp_path / "g.png")
    assert not (tmp_path / "g.png").exists()


def test_image_grid_vector_hint(tmp_path):
    with pytest.raises(ValueError, match=r"vectors, not images.*\(N, 1, 8, 8\)"):
        plots.image_grid(torch.rand(3, 64), tmp_path / "g.png")


def test_image_strip(tmp_path):
    size = _png(plots.image_strip(torch.rand(7, 1, 8, 8), tmp_path / "s.png",
                                  captions=[f"{t:.2f}" for t in np.linspace(0, 1, 7)]))
    assert size[0] > 5 * size[1]  # one row


@pytest.mark.parametrize("shape", [(16, 1, 8, 8), (4, 3, 64, 64), (20, 28, 28)])
def test_reconstruction_pairs_images(tmp_path, shape):
    x = torch.rand(shape)
    size = _png(plots.reconstruction_pairs(x, x.flatten(1) * 0.5, tmp_path / "r.png"))
    assert size[0] <= 1300


def test_reconstruction_pairs_vectors_and_sequences(tmp_path):
    rng = np.random.default_rng(0)
    _png(plots.reconstruction_pairs(rng.random((8, 20)), rng.random((8, 20)), tmp_path / "a.png",
                                    n=3))
    _png(plots.reconstruction_pairs(rng.random((3, 200)), rng.random((3, 200)),
                                    tmp_path / "b.png", n=3))
    _png(plots.reconstruction_pairs(rng.random((2, 2, 50)), rng.random((2, 2, 50)),
                                    tmp_path / "c.png"))
    with pytest.raises(ValueError, match="do not match"):
        plots.reconstruction_pairs(rng.random((4, 20)), rng.random((4, 21)), tmp_path / "d.png")


def test_loss_curves(tmp_path):
    rows = [{"epoch": e, "step": 10 * e, "split": s, "loss": 100.0 / e + (s == "val"),
             "recon": 90.0 / e, "kl": 10.0, "lr": 1e-3, "time": 0.1, "examples_per_s": 1e4}
            for e in range(1, 6) for s in ("train", "val")]
    _png(plots.loss_curves(rows, tmp_path / "a.png"))
    train_only = [r for r in rows if r["split"] == "train"]
    _png(plots.loss_curves(train_only, tmp_path / "b.png", keys=["loss"]))
    _png(plots.loss_curves([], tmp_path / "c.png"))
    rows[3]["loss"] = float("nan")
    _png(plots.loss_curves(rows, tmp_path / "d.png", keys=["loss", "missing"]))


@pytest.mark.parametrize("dim", [1, 2, 3, 10])
@pytest.mark.parametrize("labelled", [False, True])
def test_latent_map(tmp_path, dim, labelled):
    z = torch.randn(300, dim)
    labels = np.arange(300) % 4 if labelled else None
    _png(plots.latent_map(z, tmp_path / "m.png", labels=labels,
                          class_names=["a", "b", "c", "<d>"], title="codes"))


def test_latent_map_many_classes_real_labels_and_nonfinite(tmp_path):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(500, 2))
    z[0] = np.nan
    _png(plots.latent_map(z, tmp_path / "a.png", labels=np.arange(500) % 30))
    _png(plots.latent_map(z, tmp_path / "b.png", labels=rng.random(500)))
    with pytest.raises(ValueError, match="labels"):
        plots.latent_map(z, tmp_path / "c.png", labels=np.zeros(3))


def test_latent_map_pca_matches_principal_axes():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(2000, 5)) * np.array([5.0, 0.1, 0.1, 2.0, 0.1])
    proj, share = plots._pca2(z)
    assert proj.shape == (2000, 2)
    assert share[0] > share[1] > 0.1 and share.sum() > 0.99


def test_bar_histogram_line(tmp_path):
    _png(plots.bar_chart(torch.tensor([0.1, 2.0, 3.0]), tmp_path / "b.png", title="KL",
                         ylabel="nats", labels=["z1", "z2", "z3"]))
    _png(plots.bar_chart(np.random.rand(128), tmp_path / "b128.png"))
    with pytest.raises(ValueError, match="labels"):
        plots.bar_chart([1, 2], tmp_path / "x.png", labels=["a"])
    scores = np.append(np.random.rand(1000), np.inf)
    _png(plots.histogram(scores, tmp_path / "h.png", threshold=0.9, title="scores",
                         xlabel="score"))
    fpr = np.linspace(0, 1, 50)
    _png(plots.line_plot(fpr, {"model": np.sqrt(fpr), "chance": fpr}, tmp_path / "roc.png",
                         xlabel="false positive rate", ylabel="true positive rate"))
    _png(plots.line_plot(None, {"a": ([0, 1], [0, 1]), "b": ([0, 0.5, 1], [0, 0.8, 1])},
                         tmp_path / "own_x.png", xlabel="x", ylabel="y", title="own x"))
    with pytest.raises(ValueError, match="y values"):
        plots.line_plot([0, 1, 2], {"a": [0, 1]}, tmp_path / "bad.png", xlabel="x", ylabel="y")


def test_no_pyplot_state(tmp_path):
    import sys

    plots.bar_chart([1, 2], tmp_path / "b.png")
    if "matplotlib.pyplot" in sys.modules:  # imported by someone else: we added no figures
        import matplotlib.pyplot as plt

        assert plt.get_fignums() == []
