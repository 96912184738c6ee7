"""as_float_tensor, labels and shape checks: good data converts, bad data is located."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from aekit.data import Dataset
from aekit.data.validate import (
    as_float_tensor,
    build_dataset,
    check_labels,
    check_sample_shape,
    describe_rows,
    encode_labels,
    labels_and_names,
)
from aekit.errors import DataError

# ----------------------------------------------------------------------------- conversion


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.int64).reshape(4, 3),
        np.arange(12, dtype=np.uint8).reshape(4, 3),
        np.ones((4, 3), dtype=np.float16),
        np.ones((4, 3), dtype=bool),
        torch.ones(4, 3, dtype=torch.bfloat16),
        torch.arange(12).reshape(4, 3),
        [[1, 2, 3], [4, 5, 6], [7, 8, 9], [1, 1, 1]],
        ((1.5, 2, 3), (4, 5, 6), (7, 8, 9), (1, 1, 1)),
        np.array([["1", " 2.5 ", "3e2"]] * 4),
        np.array([[1, 2.0, "3"]] * 4, dtype=object),
    ],
    ids=["int64", "uint8", "float16", "bool", "bf16", "tensor", "lists", "tuples",
         "numeric-strings", "object-numbers"],
)
def test_converts_to_contiguous_float32(array):
    t = as_float_tensor(array, name="x")
    assert t.dtype == torch.float32 and t.shape == (4, 3) and t.is_contiguous()


def test_values_are_kept_and_float32_input_is_not_copied():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = as_float_tensor(a, name="x")
    assert t.data_ptr() == a.ctypes.data
    assert as_float_tensor(np.array([["1", "2.5"]]), name="x").tolist() == [[1.0, 2.5]]
    grad = torch.ones(2, 2, requires_grad=True)
    assert not as_float_tensor(grad, name="x").requires_grad


def test_non_contiguous_input_becomes_contiguous():
    a = np.arange(20, dtype=np.float32).reshape(4, 5)[:, ::2]
    t = as_float_tensor(a, name="x")
    assert t.is_contiguous() and t.tolist() == a.tolist()


def test_structured_array_fields_become_columns():
    a = np.array([(1, 2.5), (3, 4.0)], dtype=[("a", "i4"), ("b", "f8")])
    assert as_float_tensor(a, name="x").tolist() == [[1.0, 2.5], [3.0, 4.0]]


# ----------------------------------------------------------------------------- empty / shape


@pytest.mark.parametrize("array", [[], np.zeros((0, 3)), torch.zeros(0, 4)])
def test_empty_is_an_error_naming_the_source(array):
    with pytest.raises(DataError, match=r"^mydata: the data is empty \(0 examples\)"):
        as_float_tensor(array, name="mydata")


def test_examples_without_values_and_scalars_are_errors():
    with pytest.raises(DataError, match=r"mydata: the examples hold no values \(shape \(3, 0\)\)"):
        as_float_tensor(np.zeros((3, 0)), name="mydata")
    with pytest.raises(DataError, match="mydata: expected an array of examples, got the single"):
        as_float_tensor(5.0, name="mydata")
    with pytest.raises(DataError, match="single value"):
        as_float_tensor(torch.tensor(1.0), name="mydata")


# ----------------------------------------------------------------------------- ragged


def test_ragged_rows_name_the_row_and_lengths():
    with pytest.raises(DataError, match=r"^rows: ragged data: row 2 has 2 values, expected 3 "
                                        r"like row 0$"):
        as_float_tensor([[1, 2, 3], [4, 5, 6], [7, 8], [1, 2, 3]], name="rows")


def test_ragged_majority_defines_expected_length():
    with pytest.raises(DataError, match="row 0 has 4 values, expected 2 like row 1"):
        as_float_tensor([[1, 2, 3, 4], [1, 2], [3, 4], [5, 6]], name="rows")


def test_ragged_nested_deeper_and_mixed_scalars():
    with pytest.raises(DataError, match=r"row 1, item 1 has 1 value, expected 2"):
        as_float_tensor([[[1, 2], [3, 4]], [[1, 2], [3]]], name="imgs")
    with pytest.raises(DataError, match="row 1 is a single value but row 0 is a list of 3"):
        as_float_tensor([[1, 2, 3], 4, [5, 6, 7]], name="rows")
    with pytest.raises(DataError, match=r"row 2, item 2 is a list of 2 values but row 0, "
                                        r"item 0 is a single value"):
        as_float_tensor([[1, 2, 3], [1, 2, 3], [4, 5, [6, 7]]], name="rows")


def test_ragged_object_array():
    arr = np.empty(3, dtype=object)
    arr[:] = [[1, 2], [3, 4], [5]]
    with pytest.raises(DataError, match="row 2 has 1 value, expected 2"):
        as_float_tensor(arr, name="obj")


# ----------------------------------------------------------------------------- non-numeric


def test_non_numeric_names_columns_values_and_rows():
    a = np.array([["1", "x", "3"], ["2", "3", "y"], ["2", "z", "4"]])
    with pytest.raises(DataError) as err:
        as_float_tensor(a, name="t.csv", feature_names=["p", "q", "r"])
    msg = str(err.value)
    assert msg.startswith("t.csv: column 'q' is not numeric (2 non-numeric values; first 'x' "
                          "in row 0)")
    assert "column 'r' is not numeric (1 non-numeric value; first 'y' in row 1)" in msg
    assert "'p'" not in msg


def test_non_numeric_without_names_uses_column_numbers_and_lines():
    a = np.array([[1.0, "abc"], [2.0, 3.0]], dtype=object)
    with pytest.raises(DataError, match=r"column 1 is not numeric \(1 non-numeric value; first "
                                        r"'abc' in row 0 \(line 7\)\)"):
        as_float_tensor(a, name="a", lines=7)


def test_other_unsupported_dtypes():
    with pytest.raises(DataError, match="complex"):
        as_float_tensor(np.ones((2, 2), dtype=complex), name="c")
    with pytest.raises(DataError, match="complex"):
        as_float_tensor(torch.ones(2, 2, dtype=torch.complex64), name="c")
    with pytest.raises(DataError, match="dates and times"):
        as_float_tensor(np.array([["2024-01-01"]] * 2, dtype="datetime64[D]"), name="d")


def test_many_bad_columns_are_summarised():
    a = np.full((2, 8), "x", dtype=object)
    with pytest.raises(DataError, match="and 3 more columns"):
        as_float_tensor(a, name="wide")


# ----------------------------------------------------------------------------- NaN / inf


def test_nan_message_matches_the_documented_example():
    x = np.ones((1000, 2))
    x[[17, 204, 981], 0] = np.nan
    with pytest.raises(DataError) as err:
        as_float_tensor(x, name="data.csv", feature_names=["amount", "b"])
    assert str(err.value) == "data.csv: column 'amount' has 3 NaN values (rows 17, 204, 981)"


def test_nan_and_inf_are_counted_per_column_with_lines():
    x = np.ones((10, 3))
    x[[2, 7], 1] = np.nan
    x[4, 2] = -np.inf
    with pytest.raises(DataError) as err:
        as_float_tensor(x, name="f", lines=[10 + 2 * i for i in range(10)])
    assert str(err.value) == ("f: column 1 has 2 NaN values (rows 2, 7; lines 14, 24); "
                              "column 2 has 1 inf value (row 4; line 18)")


def test_long_row_lists_are_truncated_with_the_total():
    x = np.zeros((50, 1))
    x[::5] = np.nan
    with pytest.raises(DataError, match=r"column 0 has 10 NaN values \(rows 0, 5, 10, 15, "
                                        r"20, \.\.\.\)"):
        as_float_tensor(x, name="f")


def test_nan_in_tensor_and_in_images():
    with pytest.raises(DataError, match=r"t: column 1 has 1 NaN value \(row 0\)"):
        as_float_tensor(torch.tensor([[1.0, float("nan")], [1.0, 2.0]]), name="t")
    imgs = np.zeros((4, 1, 3, 3))
    imgs[2, 0, 1, 1] = np.nan
    imgs[3, 0, 0, 2] = np.inf
    with pytest.raises(DataError) as err:
        as_float_tensor(imgs, name="imgs")
    assert "1 NaN value in 1 example (example 2 at (0, 1, 1))" in str(err.value)
    assert "1 inf value in 1 example (example 3 at (0, 0, 2))" in str(err.value)


def test_nan_strings_and_float32_overflow():
    with pytest.raises(DataError, match=r"column 0 has 1 NaN value \(row 1\)"):
        as_float_tensor(np.array([["1"], ["nan"]]), name="s")
    with pytest.raises(DataError, match=r"column 1 has 1 inf value \(row 0\); values beyond "
                                        r"float32's range"):
        as_float_tensor(np.array([[1.0, 1e39], [2.0, 3.0]]), name="big")


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=5),
                  elements=st.floats(-1e6, 1e6, allow_nan=False)))
def test_finite_arrays_round_trip(arr):
    t = as_float_tensor(arr, name="h")
    np.testing.assert_allclose(t.numpy(), arr.astype(np.float32))


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 30), st.integers(1, 4), st.data())
def test_every_nan_is_found(n, d, data):
    arr = np.zeros((n, d))
    rows = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
    col = data.draw(st.integers(0, d - 1))
    arr[rows, col] = np.nan
    with pytest.raises(DataError) as err:
        as_float_tensor(arr, name="h")
    assert f"column {col} has {len(rows)} NaN value" in str(err.value)
    assert describe_rows(sorted(rows)) in str(err.value)


# ----------------------------------------------------------------------------- shapes


def test_check_sample_shape():
    check_sample_shape((64,), (64,), where="digits")
    with pytest.raises(DataError, match=r"^model expects examples of shape \(1, 8, 8\) but "
                                        r"digits has \(64,\)"):
        check_sample_shape((1, 8, 8), (64,), where="digits")
    with pytest.raises(DataError) as err:
        check_sample_shape((3, 32, 32), (1, 28, 28), where="mnist")
    assert "reshaping" not in str(err.value)


# ----------------------------------------------------------------------------- labels


def test_encode_string_labels_sorted():
    codes, names = encode_labels(["cat", "dog", "cat", "bird"])
    assert names == ["bird", "cat", "dog"] and codes.tolist() == [1, 2, 1, 0]
    assert codes.dtype == torch.int64


def test_integer_labels_keep_their_values():
    codes, names = encode_labels(np.array([3, 1, 3]))
    assert codes.tolist() == [3, 1, 3] and names == ["0", "1", "2", "3"]
    codes, names = encode_labels(np.array([[1.0], [0.0]]))  # (N, 1) floats like ODDS y
    assert codes.tolist() == [1, 0] and names == ["0", "1"]
    codes, names = encode_labels(["10", "2", "2"])  # numeric strings are numbers
    assert codes.tolist() == [10, 2, 2] and names[10] == "10"


def test_other_labels_are_encoded():
    codes, names = encode_labels([-1, 1, -1])
    assert codes.tolist() == [0, 1, 0] and names == ["-1", "1"]
    codes, names = encode_labels([0.5, 1.5, 0.5])
    assert codes.tolist() == [0, 1, 0] and names == ["0.5", "1.5"]
    codes, names = encode_labels(np.array([True, False]))
    assert codes.tolist() == [1, 0] and names == ["False", "True"]
    codes, names = encode_labels(torch.tensor([2, 0]))
    assert codes.tolist() == [2, 0]


def test_missing_labels_are_located():
    with pytest.raises(DataError, match=r"^lab: 2 labels missing \(rows 1, 3\)"):
        encode_labels(["a", "", "b", None], name="lab")
    with pytest.raises(DataError, match=r"1 label missing \(row 2\)"):
        encode_labels([0.0, 1.0, np.nan])
    with pytest.raises(DataError, match="one value per example"):
        encode_labels(np.zeros((3, 2)))


def test_check_labels_and_labels_and_names():
    assert check_labels(None, 3, name="d") is None
    assert check_labels(["a", "b", "a"], 3, name="d").tolist() == [0, 1, 0]
    with pytest.raises(DataError, match="d: 3 examples but 2 labels"):
        check_labels([0, 1], 3, name="d")
    labels, names = labels_and_names(["x", "y"], 2, name="d")
    assert names == ["x", "y"]
    cond, names = labels_and_names(np.ones((2, 3)), 2, name="d")
    assert cond.dtype == torch.float32 and cond.shape == (2, 3) and names is None
    with pytest.raises(DataError, match="d \\(labels\\): column 1 has 1 NaN"):
        labels_and_names(np.array([[1.0, np.nan], [1.0, 1.0]]), 2, name="d")


# ----------------------------------------------------------------------------- datasets


def test_build_dataset():
    d = build_dataset([[1, 2], [3, 4]], ["b", "a"], name="mem", feature_names=["u", "v"])
    assert isinstance(d, Dataset) and d.y.tolist() == [1, 0] and d.class_names == ["a", "b"]
    assert d.feature_names == ["u", "v"] and d.name == "mem"
    d = build_dataset(np.ones((2, 2)), [1, 0], name="m", class_names=["no", "yes"])
    assert d.class_names == ["no", "yes"]


def test_build_dataset_errors():
    with pytest.raises(DataError, match=r"1-D array of 5 values; reshape it to \(5, 1\)"):
        build_dataset(np.ones(5), name="v")
    with pytest.raises(DataError, match="3 feature names for examples of shape \\(2,\\)"):
        build_dataset(np.ones((2, 2)), name="v", feature_names=["a", "b", "c"])
    with pytest.raises(DataError, match="label 2 has no class name"):
        build_dataset(np.ones((2, 2)), [0, 2], name="v", class_names=["a", "b"])
