"""ODDS-style MATLAB files: the shared benchmark files, hand-made files, and bad ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.sparse
import torch

from aekit.data.mat import load_mat
from aekit.errors import DataError

ODDS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "odds"
needs_odds = pytest.mark.skipif(not ODDS.is_dir(), reason="shared ODDS data not present")


@needs_odds
def test_cardio():
    d = load_mat(ODDS / "cardio.mat")
    assert d.x.shape == (1831, 21) and d.x.dtype == torch.float32
    assert d.y.dtype == torch.int64 and set(d.y.tolist()) == {0, 1}
    assert abs(d.y.float().mean().item() - 0.096) < 0.001
    assert d.class_names == ["inlier", "outlier"]
    assert abs(d.meta["outlier_fraction"] - 0.096) < 0.001
    assert d.name.endswith("cardio.mat")


@needs_odds
@pytest.mark.parametrize("path", sorted(ODDS.glob("*.mat")) if ODDS.is_dir() else [],
                         ids=lambda p: p.stem)
def test_every_shared_odds_file_loads(path):
    d = load_mat(path)
    assert d.x.ndim == 2 and torch.isfinite(d.x).all()
    assert d.class_names == ["inlier", "outlier"] and 0 < d.y.float().mean() < 0.5


def test_hand_made_file_with_integer_data(tmp_path):
    x = np.arange(20, dtype=np.int16).reshape(5, 4)
    scipy.io.savemat(tmp_path / "m.mat", {"X": x, "y": np.array([[0], [1], [0], [0], [1]],
                                                                  dtype=np.uint8)})
    d = load_mat(tmp_path / "m.mat")
    assert d.x.tolist() == x.tolist() and d.y.tolist() == [0, 1, 0, 0, 1]
    assert d.meta["outlier_fraction"] == pytest.approx(0.4)


def test_without_labels_other_names_and_sparse(tmp_path):
    scipy.io.savemat(tmp_path / "a.mat", {"features": np.ones((3, 2))})
    d = load_mat(tmp_path / "a.mat")
    assert d.y is None and d.x.shape == (3, 2) and d.meta["x_key"] == "features"
    scipy.io.savemat(tmp_path / "s.mat", {"X": scipy.sparse.csr_matrix(np.eye(3)),
                                          "y": np.array([0, 0, 1])})
    assert load_mat(tmp_path / "s.mat").x.tolist() == np.eye(3).tolist()


def test_multiclass_labels_are_not_called_outliers(tmp_path):
    scipy.io.savemat(tmp_path / "c.mat", {"X": np.ones((3, 2)), "y": np.array([[1], [2], [3]])})
    d = load_mat(tmp_path / "c.mat")
    assert d.class_names == ["0", "1", "2", "3"] and "outlier_fraction" not in d.meta
    scipy.io.savemat(tmp_path / "pm.mat", {"X": np.ones((2, 2)), "y": np.array([-1, 1])})
    assert load_mat(tmp_path / "pm.mat").class_names == ["-1", "1"]


def test_v73_files_get_conversion_advice(tmp_path):
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00 .".ljust(116)
    path = tmp_path / "big.mat"
    path.write_bytes(header + bytes(8) + b"\x00\x02IM" + bytes(384) + b"\x89HDF\r\n\x1a\n")
    with pytest.raises(DataError, match=r"big\.mat: MATLAB v7\.3 files are HDF5.*convert"):
        load_mat(path)


def test_bad_files_are_named(tmp_path):
    (tmp_path / "junk.mat").write_bytes(b"hello world")
    with pytest.raises(DataError, match=r"junk\.mat: cannot read as a MATLAB file"):
        load_mat(tmp_path / "junk.mat")
    scipy.io.savemat(tmp_path / "two.mat", {"A": np.ones((3, 2)), "B": np.ones((3, 2))})
    with pytest.raises(DataError, match=r"no variable 'X' holding the examples \(variables: "
                                        r"A, B\)"):
        load_mat(tmp_path / "two.mat")
    scipy.io.savemat(tmp_path / "len.mat", {"X": np.ones((3, 2)), "y": np.zeros(4)})
    with pytest.raises(DataError, match=r"3 rows in 'X' but 4 values in 'y'"):
        load_mat(tmp_path / "len.mat")
    x = np.ones((3, 2))
    x[2, 1] = np.nan
    scipy.io.savemat(tmp_path / "nan.mat", {"X": x})
    with pytest.raises(DataError, match=r"nan\.mat \(variable 'X'\): column 1 has 1 NaN value "
                                        r"\(row 2\)"):
        load_mat(tmp_path / "nan.mat")
    with pytest.raises(DataError, match="no such file"):
        load_mat(tmp_path / "missing.mat")
