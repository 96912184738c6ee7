"""MNIST-format IDX files: every dtype, gzip or not, label pairing, bad files named."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from aekit.data.idx import find_labels_file, load_idx_pair, read_idx
from aekit.errors import DataError


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32,
                                   np.float64])
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trips_every_type(tmp_path, write_idx, dtype, gz):
    arr = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == np.uint8:
        arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4) * 10
    path = write_idx(tmp_path / ("a.idx" + (".gz" if gz else "")), arr)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    assert out.shape == (2, 3, 4) and np.array_equal(out, arr)
    out[0, 0, 0] = 1  # writable


def test_gzip_is_detected_by_content_not_name(tmp_path, idx_bytes):
    arr = np.arange(6, dtype=np.uint8).reshape(2, 3)
    path = tmp_path / "plain-name.idx"
    path.write_bytes(gzip.compress(idx_bytes(arr)))
    assert np.array_equal(read_idx(path), arr)


@pytest.mark.parametrize("gz", [False, True])
def test_images_pair_with_labels_next_to_them(tmp_path, write_idx, gz):
    ext = ".gz" if gz else ""
    imgs = np.random.default_rng(0).integers(0, 256, (6, 5, 4)).astype(np.uint8)
    images = write_idx(tmp_path / f"train-images-idx3-ubyte{ext}", imgs)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{ext}", np.array([3, 1, 4, 1, 5, 9], np.uint8))
    d = load_idx_pair(images)
    assert d.x.shape == (6, 1, 5, 4) and d.x.dtype == torch.float32
    assert d.x.min() >= 0 and d.x.max() <= 1
    torch.testing.assert_close(d.x[:, 0], torch.tensor(imgs / 255.0, dtype=torch.float32))
    assert d.y.tolist() == [3, 1, 4, 1, 5, 9] and d.class_names == [str(k) for k in range(10)]
    assert d.meta["labels_file"].endswith(f"train-labels-idx1-ubyte{ext}")


def test_find_labels_file_variants(tmp_path, write_idx):
    lab = np.zeros(2, np.uint8)
    write_idx(tmp_path / "t10k-labels.idx1-ubyte", lab)
    assert find_labels_file(tmp_path / "t10k-images.idx3-ubyte").name == "t10k-labels.idx1-ubyte"
    # a gzipped images file with a plain labels file, and the other way round
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", lab)
    assert find_labels_file(tmp_path / "train-images-idx3-ubyte").name == \
        "train-labels-idx1-ubyte.gz"
    write_idx(tmp_path / "faces_labels.idx", lab)
    assert find_labels_file(tmp_path / "faces_images.idx").name == "faces_labels.idx"
    assert find_labels_file(tmp_path / "data.idx") is None
    assert find_labels_file(tmp_path / "other-images-idx3-ubyte") is None


def test_images_without_labels_and_explicit_labels(tmp_path, write_idx):
    images = write_idx(tmp_path / "imgs.idx", np.zeros((3, 2, 2), np.uint8))
    d = load_idx_pair(images)
    assert d.y is None and d.class_names is None
    labels = write_idx(tmp_path / "whatever.idx", np.array([0, 1, 0], np.uint8))
    assert load_idx_pair(images, labels).y.tolist() == [0, 1, 0]


def test_vectors_and_float_images_keep_values(tmp_path, write_idx):
    vec = write_idx(tmp_path / "v.idx", np.full((4, 7), 3.5, np.float32))
    d = load_idx_pair(vec)
    assert d.x.shape == (4, 7) and d.x.max() == 3.5


def test_label_count_mismatch_names_both_files(tmp_path, write_idx):
    images = write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 2, 2), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(5, np.uint8))
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte: 5 labels for 3 images in "
                                        r".*train-images-idx3-ubyte"):
        load_idx_pair(images)


def test_labels_file_passed_as_images(tmp_path, write_idx):
    labels = write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(5, np.uint8))
    with pytest.raises(DataError, match="looks like a labels file"):
        load_idx_pair(labels)


def test_bad_magic_names_the_file(tmp_path):
    bad = tmp_path / "bad.idx"
    bad.write_bytes(b"\x01\x02\x03\x04" + bytes(20))
    with pytest.raises(DataError, match=r"bad\.idx: not an IDX file \(bad magic number "
                                        r"0x01020304"):
        read_idx(bad)
    bad.write_bytes(b"\x00\x00\x07\x01" + bytes(20))
    with pytest.raises(DataError, match="unknown data type code 0x07"):
        read_idx(bad)
    bad.write_bytes(b"\x00\x00")
    with pytest.raises(DataError, match=r"bad\.idx: not an IDX file \(only 2 bytes\)"):
        read_idx(bad)


def test_truncated_and_oversized_files_name_the_file(tmp_path, write_idx):
    path = write_idx(tmp_path / "t.idx", np.ones((4, 4), np.uint8))
    raw = path.read_bytes()
    path.write_bytes(raw[:-3])
    with pytest.raises(DataError, match=r"t\.idx: truncated IDX file: shape \(4, 4\) of "
                                        r"unsigned bytes needs 16 data bytes, the file has 13"):
        read_idx(path)
    path.write_bytes(raw[:9])
    with pytest.raises(DataError, match=r"t\.idx: truncated IDX file: the header needs 12"):
        read_idx(path)
    path.write_bytes(raw + b"\x00\x00")
    with pytest.raises(DataError, match=r"t\.idx: corrupt IDX file: 2 bytes left over"):
        read_idx(path)


def test_truncated_gzip_and_missing_file(tmp_path, idx_bytes):
    path = tmp_path / "t.idx.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.ones((50, 50), np.uint8)))[:-10])
    with pytest.raises(DataError, match=r"t\.idx\.gz: truncated gzip file"):
        read_idx(path)
    with pytest.raises(DataError, match="no such file: .*nope.idx"):
        read_idx(tmp_path / "nope.idx")
