"""Built-in datasets: scikit-learn's real digits, as images and as vectors."""

from __future__ import annotations

import pytest
import torch

from aekit.data import BUILTIN_NAMES, load_builtin
from aekit.errors import DataError


def test_digits_images():
    d = load_builtin("digits")
    assert d.x.shape == (1797, 1, 8, 8) and d.sample_shape == (1, 8, 8)
    assert d.x.dtype == torch.float32 and d.x.min() == 0.0 and d.x.max() == 1.0
    assert d.y.dtype == torch.int64 and d.y.shape == (1797,)
    assert sorted(set(d.y.tolist())) == list(range(10))
    assert d.class_names == [str(k) for k in range(10)] and d.name == "digits"
    # 0..16 intensities divided by 16: every value is a multiple of 1/16
    assert torch.equal(d.x * 16, (d.x * 16).round())


def test_digits_flat_is_the_same_data():
    images, flat = load_builtin("digits"), load_builtin("digits_flat")
    assert flat.x.shape == (1797, 64) and flat.x.is_contiguous()
    assert torch.equal(flat.x, images.x.flatten(1)) and torch.equal(flat.y, images.y)


def test_each_call_returns_fresh_tensors():
    a = load_builtin("digits")
    a.x.zero_()
    assert load_builtin("digits").x.max() == 1.0


def test_names_are_forgiving_about_case_and_spaces():
    assert load_builtin(" Digits_Flat ").name == "digits_flat"
    assert BUILTIN_NAMES == ("digits", "digits_flat")


def test_unknown_name_lists_the_built_ins():
    with pytest.raises(DataError, match=r"unknown built-in dataset 'mnist'; built-in datasets: "
                                        r"digits, digits_flat"):
        load_builtin("mnist")
    with pytest.raises(DataError, match="did you mean 'digits'"):
        load_builtin("digit")
