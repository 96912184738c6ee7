"""Data: the validated Dataset, loaders for every source, and validation helpers.

``load_data`` is the entry point: a built-in name, an array, or a path to a
``.npy``/``.npz``/``.csv``/``.mat``/IDX file or an image folder gives a validated
:class:`Dataset`. The format-specific loaders live in :mod:`aekit.data.tabular`,
:mod:`aekit.data.idx`, :mod:`aekit.data.images` and :mod:`aekit.data.mat` (imported
lazily, so ``import aekit.data`` stays light).
"""

from aekit.data.builtin import BUILTIN_NAMES, load_builtin
from aekit.data.dataset import Dataset
from aekit.data.sources import load_data
from aekit.data.validate import (
    as_float_tensor,
    build_dataset,
    check_labels,
    check_sample_shape,
    encode_labels,
    labels_and_names,
)

__all__ = [
    "BUILTIN_NAMES",
    "Dataset",
    "as_float_tensor",
    "build_dataset",
    "check_labels",
    "check_sample_shape",
    "encode_labels",
    "labels_and_names",
    "load_builtin",
    "load_data",
]
