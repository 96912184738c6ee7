"""Every data source loads, and every bad input names what is wrong and where."""

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from aekit.data import load_data
from aekit.data.idx import read_idx
from aekit.errors import DataError

ODDS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "odds"


def test_digits_builtin():
    d = load_data("digits")
    assert d.x.shape == (1797, 1, 8, 8) and d.x.min() >= 0 and d.x.max() <= 1
    assert d.y.shape == (1797,) and set(d.y.tolist()) == set(range(10))
    assert load_data("digits_flat").x.shape == (1797, 64)


def test_arrays_and_tensors():
    d = load_data(np.arange(12).reshape(4, 3), y=["a", "b", "a", "b"])
    assert d.x.dtype == torch.float32 and d.y.tolist() == [0, 1, 0, 1]
    assert load_data(torch.ones(2, 5)).x.shape == (2, 5)


def test_nan_error_names_column_and_rows():
    x = np.ones((10, 3))
    x[[2, 7], 1] = np.nan
    with pytest.raises(DataError, match=r"column 1 has 2 NaN values \(rows 2, 7\)"):
        load_data(x)


def test_ragged_and_empty_and_strings():
    with pytest.raises(DataError, match="row 1 has 2 values, expected 3"):
        load_data([[1, 2, 3], [1, 2], [4, 5, 6]])
    with pytest.raises(DataError, match="empty"):
        load_data(np.zeros((0, 3)))
    with pytest.raises(DataError, match="not numeric"):
        load_data(np.array([["1", "x"], ["2", "3"]], dtype=object))


def test_csv_with_header_labels_and_errors(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("amount,age,kind\n1.5,30,a\n2.0,41,b\n3.0,22,a\n")
    d = load_data(p, label_column="kind")
    assert d.feature_names == ["amount", "age"] and d.y.tolist() == [0, 1, 0]
    assert d.class_names == ["a", "b"]
    p.write_text("amount,age\n1.5,30\n,41\n3.0,\n4,5\n")
    with pytest.raises(DataError, match=r"column 'amount' has 1 NaN value \(line 3\)"):
        load_data(p)
    p.write_text("amount,age\n1.5,30\nabc,41\n")
    with pytest.raises(DataError, match=r"column 'amount' is not numeric \(line 3 holds 'abc'\)"):
        load_data(p)
    p.write_text("amount,age\n1.5,30\n1,2,3\n")
    with pytest.raises(DataError, match="line 3 has 3 fields, expected 2"):
        load_data(p)
    p.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="no column 'kind'"):
        load_data(p, label_column="kind")


def test_npy_npz(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((5, 2)))
    assert load_data(tmp_path / "a.npy").x.shape == (5, 2)
    np.savez(tmp_path / "b.npz", x=np.ones((4, 3)), y=np.array([0, 1, 1, 0]))
    d = load_data(tmp_path / "b.npz")
    assert d.x.shape == (4, 3) and d.y.tolist() == [0, 1, 1, 0]
    np.savez(tmp_path / "c.npz", p=np.ones(3), q=np.ones(3))
    with pytest.raises(DataError, match="keys: p, q"):
        load_data(tmp_path / "c.npz")
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataError, match="unpickle"):
        load_data(tmp_path / "o.npy")


def _write_idx(path, arr, code):
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    data = header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(data)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_images_with_labels(tmp_path, gz):
    ext = ".gz" if gz else ""
    imgs = np.random.default_rng(0).integers(0, 256, (6, 5, 4)).astype(np.uint8)
    _write_idx(tmp_path / f"train-images-idx3-ubyte{ext}", imgs, 0x08)
    _write_idx(tmp_path / f"train-labels-idx1-ubyte{ext}", np.arange(6).astype(np.uint8), 0x08)
    d = load_data(tmp_path / f"train-images-idx3-ubyte{ext}")
    assert d.x.shape == (6, 1, 5, 4) and d.y.tolist() == list(range(6))
    torch.testing.assert_close(d.x[:, 0], torch.tensor(imgs / 255.0, dtype=torch.float32))


def test_idx_bad_magic_and_truncated(tmp_path):
    (tmp_path / "bad.idx").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(DataError, match="bad magic"):
        read_idx(tmp_path / "bad.idx")
    _write_idx(tmp_path / "t.idx", np.ones((4, 4), dtype=np.uint8), 0x08)
    raw = (tmp_path / "t.idx").read_bytes()
    (tmp_path / "t.idx").write_bytes(raw[:-3])
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "t.idx")


def test_image_folder_with_classes_and_size_errors(tmp_path):
    for cls, value in (("cat", 0), ("dog", 255)):
        (tmp_path / cls).mkdir()
        for k in range(2):
            Image.fromarray(np.full((6, 5), value, np.uint8)).save(tmp_path / cls / f"{k}.png")
    d = load_data(tmp_path)
    assert d.x.shape == (4, 1, 6, 5) and d.class_names == ["cat", "dog"]
    assert d.y.tolist() == [0, 0, 1, 1] and d.x[2].min() == 1.0
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(tmp_path / "dog" / "odd.png")
    with pytest.raises(DataError, match="differ in size.*size="):
        load_data(tmp_path)
    (tmp_path / "dog" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="broken.png"):
        load_data(tmp_path, size=8)


def test_missing_and_unsupported(tmp_path):
    with pytest.raises(DataError, match="no such file or directory.*digits"):
        load_data(tmp_path / "nope.csv")
    (tmp_path / "a.xyz").write_text("1")
    with pytest.raises(DataError, match="unsupported format .xyz"):
        load_data(tmp_path / "a.xyz")


@pytest.mark.skipif(not ODDS.is_dir(), reason="shared ODDS data not present")
def test_odds_mat_file():
    d = load_data(ODDS / "cardio.mat")
    assert d.x.shape == (1831, 21)
    assert abs(d.y.float().mean().item() - 0.096) < 0.005
    assert d.class_names == ["inlier", "outlier"]
