"""MATLAB ``.mat`` files in the ODDS layout: ``X`` (examples) and ``y`` (1 = outlier).

The ODDS outlier-detection benchmark (odds.cs.stonybrook.edu) ships each dataset as a
MATLAB v5 file with an ``(N, D)`` matrix ``X`` and an ``(N, 1)`` vector ``y`` that is 1
for outliers and 0 for inliers. Files saved with MATLAB's ``-v7.3`` flag are HDF5
containers, which scipy cannot read; they are refused with a message saying how to
convert them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from aekit.data.dataset import Dataset
from aekit.data.validate import as_float_tensor, build_dataset, encode_labels
from aekit.errors import DataError

__all__ = ["ODDS_CLASS_NAMES", "load_mat"]

ODDS_CLASS_NAMES: list[str] = ["inlier", "outlier"]
"""Class names of ODDS labels: 0 = inlier, 1 = outlier."""

_X_KEYS = ("X", "x", "data")
_Y_KEYS = ("y", "Y", "labels", "label")
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_V73_HINT = ("MATLAB v7.3 files are HDF5, which aekit does not read; convert it in MATLAB "
             "with save(name, 'X', 'y', '-v7'), or read it with h5py and save the arrays "
             "with numpy.savez(name, x=X, y=y)")


def _is_v73(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(520)
    return head.startswith(b"MATLAB 7.3") or head[512:520] == _HDF5_SIGNATURE


def _numeric(value: Any) -> Any:
    """Dense array from a loadmat value (sparse matrices are densified)."""
    if hasattr(value, "toarray") and callable(value.toarray):
        return value.toarray()
    return value


def load_mat(path: str | Path) -> Dataset:
    """A MATLAB (v4 to v7) ``.mat`` file with examples ``X`` and optional labels ``y``.

    Parameters
    ----------
    path : str or Path
        The file. The examples are the variable ``X`` (or ``x``, ``data``, or the only
        2-D numeric variable); the labels are ``y`` (or ``Y``, ``labels``, ``label``)
        when present.

    Returns
    -------
    Dataset
        ``x`` of shape ``(N, D)``. ODDS-style 0/1 labels keep their values with class
        names ``["inlier", "outlier"]`` and ``meta["outlier_fraction"]``; other labels
        are encoded as by :func:`~aekit.data.validate.encode_labels`.

    Raises
    ------
    DataError
        The file is missing, is a v7.3 (HDF5) file (with conversion advice), is not a
        MATLAB file, has no identifiable examples variable (the variables are listed),
        or ``X`` and ``y`` disagree in length.
    """
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    path = Path(path)
    if not path.exists():
        raise DataError(f"no such file: {path}")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a .mat file")
    try:
        is_v73 = _is_v73(path)
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    if is_v73:
        raise DataError(f"{path}: {_V73_HINT}")
    try:
        mat = loadmat(path)
    except NotImplementedError:
        raise DataError(f"{path}: {_V73_HINT}") from None
    except (MatReadError, ValueError, TypeError, OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read as a MATLAB file ({e})") from None

    variables = {k: v for k, v in mat.items() if not k.startswith("__")}
    listed = ", ".join(variables) or "none"
    y_key = next((k for k in _Y_KEYS if k in variables), None)
    x_key = next((k for k in _X_KEYS if k in variables), None)
    if x_key is None:
        candidates = [
            k for k, v in variables.items()
            if k != y_key and isinstance(_numeric(v), np.ndarray) and _numeric(v).ndim == 2
            and _numeric(v).dtype.kind in "biuf" and min(_numeric(v).shape) > 1
        ]
        if len(candidates) != 1:
            raise DataError(f"{path}: no variable 'X' holding the examples (variables: "
                            f"{listed})")
        x_key = candidates[0]

    x_value = _numeric(variables[x_key])
    if not isinstance(x_value, np.ndarray) or x_value.dtype.kind not in "biufO":
        raise DataError(f"{path}: variable {x_key!r} is not a numeric matrix")
    x = as_float_tensor(x_value, name=f"{path} (variable {x_key!r})")

    y = class_names = None
    meta: dict[str, Any] = {"format": "mat", "x_key": x_key, "y_key": y_key}
    if y_key is not None:
        raw_y = np.asarray(_numeric(variables[y_key]))
        if raw_y.size != len(x):
            raise DataError(f"{path}: {len(x)} rows in {x_key!r} but {raw_y.size} values in "
                            f"{y_key!r}")
        raw_y = raw_y.reshape(-1)
        y, class_names = encode_labels(raw_y, name=f"{path} (variable {y_key!r})")
        if raw_y.dtype.kind in "biuf" and set(np.unique(raw_y).tolist()) <= {0, 1}:
            class_names = list(ODDS_CLASS_NAMES)
            meta["outlier_fraction"] = float(y.double().mean())
    return build_dataset(x, y, name=str(path), class_names=class_names, meta=meta)
