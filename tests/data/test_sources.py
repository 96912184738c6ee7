"""load_data: one entry point that dispatches on what it is given."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from aekit.data import Dataset, load_data
from aekit.data.sources import detect_format
from aekit.errors import ConfigError, DataError

ODDS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "odds"


# ----------------------------------------------------------------------------- in memory


def test_dataset_is_returned_as_is():
    d = Dataset(torch.ones(3, 2), name="mine")
    assert load_data(d) is d
    renamed = load_data(d, name="other", y=["a", "b", "a"])
    assert renamed.name == "other" and renamed.y.tolist() == [0, 1, 0] and d.y is None


def test_dataset_is_still_validated():
    d = Dataset(torch.ones(3, 2, dtype=torch.float64), name="f64")
    assert load_data(d).x.dtype == torch.float32
    bad = Dataset(torch.tensor([[1.0], [float("nan")]]), name="bad")
    with pytest.raises(DataError, match=r"bad: column 0 has 1 NaN value \(row 1\)"):
        load_data(bad)


def test_arrays_tensors_and_lists():
    d = load_data(np.arange(12).reshape(4, 3), y=["a", "b", "a", "b"])
    assert d.x.dtype == torch.float32 and d.y.tolist() == [0, 1, 0, 1]
    assert d.class_names == ["a", "b"] and d.name == "array"
    assert load_data(torch.ones(2, 5), name="t").name == "t"
    assert load_data([[1, 2], [3, 4]]).x.shape == (2, 2)
    with pytest.raises(DataError, match=r"^mem: 4 examples but 3 labels"):
        load_data(np.ones((4, 2)), y=[0, 1, 0], name="mem")


def test_data_frame_like_objects_give_feature_names():
    class Frame:  # the two attributes load_data uses from a pandas DataFrame
        columns = ["a", "b"]

        def to_numpy(self):
            return np.array([[1.0, np.nan], [3.0, 4.0]])

    with pytest.raises(DataError, match=r"array: column 'b' has 1 NaN value \(row 0\)"):
        load_data(Frame())


def test_bad_in_memory_data_is_located():
    x = np.ones((10, 3))
    x[[2, 7], 1] = np.nan
    with pytest.raises(DataError, match=r"^array: column 1 has 2 NaN values \(rows 2, 7\)$"):
        load_data(x)
    with pytest.raises(DataError, match="row 1 has 2 values, expected 3"):
        load_data([[1, 2, 3], [1, 2], [4, 5, 6]])
    with pytest.raises(DataError, match="empty"):
        load_data(np.zeros((0, 3)))
    with pytest.raises(DataError, match="1-D array of 3 values"):
        load_data(np.ones(3))
    with pytest.raises(DataError, match="cannot load data from a dict"):
        load_data({"x": 1})


# ----------------------------------------------------------------------------- built-ins


def test_builtins():
    d = load_data("digits")
    assert d.x.shape == (1797, 1, 8, 8) and d.x.min() >= 0 and d.x.max() <= 1
    assert load_data("digits_flat").x.shape == (1797, 64)
    assert load_data("digits", name="d8").name == "d8"
    with pytest.raises(ConfigError, match="label_column= applies to CSV files only"):
        load_data("digits", label_column="y")


# ----------------------------------------------------------------------------- files


def test_every_file_format_dispatches(tmp_path, write_idx, write_image):
    (tmp_path / "t.csv").write_text("a,b,kind\n1,2,x\n3,4,y\n")
    d = load_data(tmp_path / "t.csv", label_column="kind")
    assert d.feature_names == ["a", "b"] and d.class_names == ["x", "y"]
    (tmp_path / "t.tsv").write_text("a\tb\n1\t2\n")
    assert load_data(str(tmp_path / "t.tsv")).x.tolist() == [[1, 2]]
    (tmp_path / "t.txt").write_text("1 2\n3 4\n")
    assert load_data(tmp_path / "t.txt").x.shape == (2, 2)
    np.save(tmp_path / "a.npy", np.ones((5, 2)))
    assert load_data(tmp_path / "a.npy").x.shape == (5, 2)
    np.savez(tmp_path / "b.npz", x=np.ones((4, 3)), y=np.array([0, 1, 1, 0]))
    assert load_data(tmp_path / "b.npz").y.tolist() == [0, 1, 1, 0]
    scipy.io.savemat(tmp_path / "c.mat", {"X": np.ones((3, 2)), "y": np.array([0, 1, 0])})
    assert load_data(tmp_path / "c.mat").class_names == ["inlier", "outlier"]
    write_image(tmp_path / "imgs" / "a" / "0.png", np.zeros((4, 4), np.uint8))
    write_image(tmp_path / "imgs" / "b" / "0.png", np.zeros((4, 4), np.uint8))
    d = load_data(tmp_path / "imgs")
    assert d.x.shape == (2, 1, 4, 4) and d.class_names == ["a", "b"]


@pytest.mark.parametrize("ext", ["", ".gz"])
def test_idx_images_find_their_labels(tmp_path, write_idx, ext):
    imgs = np.random.default_rng(0).integers(0, 256, (6, 5, 4)).astype(np.uint8)
    write_idx(tmp_path / f"train-images-idx3-ubyte{ext}", imgs)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{ext}", np.arange(6).astype(np.uint8))
    d = load_data(tmp_path / f"train-images-idx3-ubyte{ext}")
    assert d.x.shape == (6, 1, 5, 4) and d.y.tolist() == list(range(6))
    torch.testing.assert_close(d.x[:, 0], torch.tensor(imgs / 255.0, dtype=torch.float32))


def test_idx_named_dot_idx_and_sniffed_content(tmp_path, write_idx):
    write_idx(tmp_path / "faces.idx", np.zeros((2, 3, 3), np.uint8))
    assert load_data(tmp_path / "faces.idx").x.shape == (2, 1, 3, 3)
    write_idx(tmp_path / "mystery.bin", np.zeros((2, 3, 3), np.uint8))
    assert detect_format(tmp_path / "mystery.bin") == "idx"
    assert load_data(tmp_path / "mystery.bin").x.shape == (2, 1, 3, 3)
    np.save(tmp_path / "arr.npy", np.ones((2, 2)))
    (tmp_path / "arr.npy").rename(tmp_path / "arr.dat")
    assert detect_format(tmp_path / "arr.dat") == "npy"


def test_detect_format():
    assert detect_format("train-images-idx3-ubyte.gz") == "idx"
    assert detect_format("t10k-images.idx3-ubyte") == "idx"
    assert detect_format("x.CSV") == "csv"
    assert detect_format("x.csv.gz") == "csv"
    assert detect_format("x.npz") == "npz"


def test_missing_path_lists_builtins(tmp_path):
    with pytest.raises(DataError, match=r"^no such file or directory: .*nope\.csv \(built-in "
                                        r"datasets: digits, digits_flat\)$"):
        load_data(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="did you mean the built-in 'digits'"):
        load_data("digts")


def test_unsupported_format_lists_supported_ones(tmp_path):
    (tmp_path / "a.xyz").write_text("1")
    with pytest.raises(DataError, match=r"a\.xyz: unsupported format \.xyz; supported: \.npy, "
                                        r"\.npz, \.csv"):
        load_data(tmp_path / "a.xyz")
    (tmp_path / "a.npy.gz").write_bytes(gzip.compress(b"x"))
    with pytest.raises(DataError, match=r"unsupported format \.npy\.gz"):
        load_data(tmp_path / "a.npy.gz")


def test_options_for_the_wrong_source_are_refused(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((2, 2)))
    with pytest.raises(ConfigError, match="size= applies to image folders only, not to npy"):
        load_data(tmp_path / "a.npy", size=8)
    with pytest.raises(ConfigError, match="label_column= applies to CSV files only"):
        load_data(np.ones((2, 2)), label_column=0)


def test_y_overrides_file_labels_and_size_resizes(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((3, 2)))
    assert load_data(tmp_path / "a.npy", y=[1, 0, 1]).y.tolist() == [1, 0, 1]
    for k, side in enumerate((4, 6)):
        Image.fromarray(np.zeros((side, side), np.uint8)).save(tmp_path / f"{k}.png")
    with pytest.raises(DataError, match="size="):
        load_data(tmp_path)
    assert load_data(tmp_path, size=5).x.shape == (2, 1, 5, 5)


@pytest.mark.skipif(not (ODDS / "cardio.mat").is_file(), reason="shared ODDS data not present")
def test_odds_cardio_through_load_data():
    d = load_data(ODDS / "cardio.mat")
    assert d.x.shape == (1831, 21) and abs(d.y.float().mean().item() - 0.096) < 0.001
