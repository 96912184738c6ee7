"""Data: the validated Dataset, loaders for every source, and validation helpers."""

from aekit.data.builtin import BUILTIN_NAMES, load_builtin
from aekit.data.dataset import Dataset
from aekit.data.sources import load_data
from aekit.data.validate import as_float_tensor, check_labels, check_sample_shape, encode_labels

__all__ = [
    "BUILTIN_NAMES",
    "Dataset",
    "as_float_tensor",
    "check_labels",
    "check_sample_shape",
    "encode_labels",
    "load_builtin",
    "load_data",
]
