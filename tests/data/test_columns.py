"""Column plans and 0/1 labels of a table: one-line errors that name what is wrong."""

import numpy as np
import pytest

from aekit.data.columns import parse_binary_labels, plan_columns
from aekit.errors import DataError


def test_labels_from_text_and_the_bad_row_named():
    cells = ["1", " True", "no", "anomaly", "0.0", "Inlier", "yes"]
    np.testing.assert_array_equal(parse_binary_labels(cells, "y", "t.csv"),
                                  [1, 1, 0, 1, 0, 0, 1])
    with pytest.raises(DataError, match=r"t.csv: label column 'y' must hold 0/1 .*got "
                                         r"'maybe' in data row 103"):
        parse_binary_labels(["1", "0", "maybe", "x"], "y", "t.csv", first_row=101)


def test_plan_roles_and_errors():
    plan = plan_columns("t.csv", ["id", "a", "b", "y"], label_column="y")
    assert (plan.features, plan.id_columns) == (["a", "b"], ["id"])
    plan = plan_columns("t.csv", ["b", "key", "a"], features=["a", "b"], id_columns=["key"])
    assert plan.features == ["a", "b"] and plan.header == ["b", "key", "a"]
    for header, kw, match in [
            (["a"], {"label_column": "y"}, r"no column\(s\) \['y'\]"),
            (["a"], {"features": ["a", "b"]}, r"missing column\(s\) \['b'\]"),
            (["a", "b", "c"], {"features": ["a", "b"]}, r"unexpected column\(s\) \['c'\]"),
            (["id", "y"], {"label_column": "y"}, "no feature columns"),
            (["a", "score"], {"adds": ["score"]}, r"already has column\(s\) \['score'\]")]:
        with pytest.raises(DataError, match=match):
            plan_columns("t.csv", header, **kw)
