"""Which columns of a table are features, ids and labels: the column plan of fitting and
scoring a table (``aekit detect``), checked once per file with one-line errors, and the
0/1 labels read from a label column's text.

A column named ``id`` (``ID``, ``Id``) is an id column without being named one; id
columns and the label column pass through to the output unscored; every other column
must be a feature the estimator was fitted on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aekit.errors import DataError

__all__ = ["ID_NAMES", "ColumnPlan", "LabelledTable", "parse_binary_labels", "plan_columns"]

ID_NAMES = ("id", "ID", "Id")
"""Column names taken for id columns without being named."""
ONES = ("1", "1.0", "true", "yes", "anomaly", "outlier")
ZEROS = ("0", "0.0", "false", "no", "normal", "inlier")


@dataclass(frozen=True)
class ColumnPlan:
    """The roles of a table's columns."""

    header: list[str]  # every column, in the file's order
    features: list[str]  # in the estimator's order
    id_columns: list[str]
    label_column: str | None


def plan_columns(source: str | Path, header: Sequence[str], *,
                 features: Sequence[str] | None = None, label_column: str | None = None,
                 id_columns: Sequence[str] = (), adds: Sequence[str] = ()) -> ColumnPlan:
    """The :class:`ColumnPlan` of a table with columns ``header``.

    Parameters
    ----------
    source : str or Path
        Named in the errors.
    header : sequence of str
        The table's columns.
    features : sequence of str, optional
        The columns an estimator was fitted on (each must be present, and no other column
        may be, besides ids and the label); default: every column not an id or the label.
    label_column : str, optional
        A column of 0/1 labels.
    id_columns : sequence of str
        Columns passed through (besides any named ``id``).
    adds : sequence of str
        Columns the output adds, which the table must not have.
    """
    header = list(header)
    unknown = [c for c in [*id_columns, *([label_column] if label_column else [])]
               if c not in header]
    if unknown:
        raise DataError(f"{source}: no column(s) {unknown}; columns are {header}")
    ids = list(id_columns) + [h for h in header if h in ID_NAMES
                              and h not in id_columns and h != label_column]
    reserved = {*ids, *([label_column] if label_column else [])}
    present = [h for h in header if h not in reserved]
    if features is None:
        features = present
        if not features:
            raise DataError(f"{source}: no feature columns left (ids: {ids}, label: "
                            f"{label_column})")
    else:
        missing = [c for c in features if c not in header]
        extra = [c for c in present if c not in features]
        if missing:
            raise DataError(f"{source}: missing column(s) {missing} that the detector was "
                            "fitted on")
        if extra:
            raise DataError(f"{source}: unexpected column(s) {extra}; the detector was "
                            f"fitted on {list(features)} (ids {ids} and a --label-column are "
                            "passed through; name other columns to pass through with "
                            "--id-column)")
    clash = [c for c in adds if c in header]
    if clash:
        raise DataError(f"{source}: already has column(s) {clash}; is it a scores file?")
    return ColumnPlan(header, list(features), ids, label_column)


def parse_binary_labels(cells: Sequence[Any], column: str, where: str | Path,
                        first_row: int = 1) -> np.ndarray:
    """0/1 labels (int64) from a label column's cells (1/0, true/false, yes/no,
    anomaly/normal, outlier/inlier; case and surrounding spaces ignored). ``first_row``
    numbers the first cell's data row in the error."""
    values, inverse = np.unique(np.array([str(c) for c in cells], dtype=str),
                                return_inverse=True)
    codes = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        key = v.strip().lower()
        if key not in ONES and key not in ZEROS:
            row = int(np.flatnonzero(inverse == i)[0])
            raise DataError(f"{where}: label column {column!r} must hold 0/1 (or "
                            f"true/false), got {cells[row]!r} in data row {first_row + row}")
        codes[i] = key in ONES
    return codes[inverse.ravel()]


class LabelledTable:
    """A table read whole for fitting or scoring: its text rows, its :class:`ColumnPlan`,
    the features as a :class:`~aekit.data.Dataset` (whose ``feature_names`` an estimator
    records and checks) and the labels of the label column (or None)."""

    def __init__(self, source: str | Path, *, features: Sequence[str] | None = None,
                 label_column: str | None = None, id_columns: Sequence[str] = (),
                 adds: Sequence[str] = ()) -> None:
        from aekit.data.tabular import load_csv, read_table

        table = read_table(source)
        if table.header is None:
            raise DataError(f"{source}: needs a header row with column names")
        self.source, self.rows = source, table.rows
        self.plan = plan_columns(source, table.header, features=features,
                                 label_column=label_column, id_columns=id_columns, adds=adds)
        self.data = load_csv(source, columns=self.plan.features, table=table)
        self.y = None
        if label_column:
            j = table.header.index(label_column)
            self.y = parse_binary_labels([r[j] for r in table.rows], label_column, source)
