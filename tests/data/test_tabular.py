"""CSV/TSV/text, .npy and .npz loading, and every bad cell located by column and line."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from aekit.data.tabular import load_csv, load_npy, load_npz, read_table
from aekit.errors import ConfigError, DataError


def _csv(tmp_path, text: str, name: str = "data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------- CSV reading


def test_header_is_detected_and_labels_encoded(tmp_path):
    path = _csv(tmp_path, "amount,age,kind\n1.5,30,b\n2.0,41,a\n3.0,22,b\n")
    d = load_csv(path, label_column="kind")
    assert d.feature_names == ["amount", "age"] and d.class_names == ["a", "b"]
    assert d.y.tolist() == [1, 0, 1] and d.x.dtype == torch.float32
    assert d.x.tolist() == [[1.5, 30.0], [2.0, 41.0], [3.0, 22.0]]
    assert d.meta["header"] is True and d.meta["label_column"] == "kind"


def test_no_header_gives_default_names_and_index_labels(tmp_path):
    path = _csv(tmp_path, "1.5,30,0\n2.0,41,1\n3.0,22,2\n")
    d = load_csv(path)
    assert d.feature_names == ["x0", "x1", "x2"] and d.x.shape == (3, 3) and d.y is None
    d = load_csv(path, label_column=-1)
    assert d.feature_names == ["x0", "x1"] and d.y.tolist() == [0, 1, 2]
    assert load_csv(path, label_column="2").y.tolist() == [0, 1, 2]  # as given on a CLI


def test_string_label_column_in_first_row_is_not_a_header(tmp_path):
    path = _csv(tmp_path, "1.5,30,cat\n2.0,41,dog\n")
    d = load_csv(path, label_column=2)
    assert d.x.shape == (2, 2) and d.class_names == ["cat", "dog"]


def test_integer_labels_keep_their_values(tmp_path):
    path = _csv(tmp_path, "a,b,digit\n1,2,7\n3,4,3\n")
    d = load_csv(path, label_column="digit")
    assert d.y.tolist() == [7, 3] and d.class_names[7] == "7"


def test_columns_selects_and_orders_features(tmp_path):
    path = _csv(tmp_path, "a,b,c,kind\n1,2,3,x\n4,5,6,y\n")
    d = load_csv(path, label_column="kind", columns=["c", 0])
    assert d.feature_names == ["c", "a"] and d.x.tolist() == [[3, 1], [6, 4]]
    assert load_csv(path, columns=["A"]).feature_names == ["a"]  # case-insensitive fallback
    with pytest.raises(ConfigError, match="'kind' is the label column"):
        load_csv(path, label_column="kind", columns=["a", "kind"])


def test_tsv_semicolon_whitespace_quotes_and_gzip(tmp_path):
    assert load_csv(_csv(tmp_path, "a\tb\n1\t2\n", "t.tsv")).x.tolist() == [[1, 2]]
    assert load_csv(_csv(tmp_path, "a;b\n1;2\n3;4\n")).feature_names == ["a", "b"]
    d = load_csv(_csv(tmp_path, "# written by numpy.savetxt\n1 2  3\n4   5 6\n", "w.txt"))
    assert d.x.tolist() == [[1, 2, 3], [4, 5, 6]] and d.meta["delimiter"] is None
    d = load_csv(_csv(tmp_path, '"name, full",v\n"1",2\n'), header=True)
    assert d.feature_names == ["name, full", "v"] and d.x.tolist() == [[1, 2]]
    gz = tmp_path / "z.csv.gz"
    gz.write_bytes(gzip.compress(b"a,b\n1,2\n"))
    assert load_csv(gz).x.tolist() == [[1, 2]]
    assert load_csv(_csv(tmp_path, "\ufeffa,b\r\n1,2\r\n\r\n")).feature_names == ["a", "b"]


def test_sniffing_prefers_semicolons_with_decimal_commas(tmp_path):
    d = load_csv(_csv(tmp_path, "a;b\n1,5;2\n3;4,25\n"))
    assert d.feature_names == ["a", "b"] and d.x.tolist() == [[1.5, 2], [3, 4.25]]
    d = load_csv(_csv(tmp_path, "1, 2, 3\n4, 5, 6\n"))
    assert d.meta["delimiter"] == "," and d.x.shape == (2, 3)


def test_single_column(tmp_path):
    d = load_csv(_csv(tmp_path, "value\n1\n2\n3\n"))
    assert d.x.shape == (3, 1) and d.feature_names == ["value"]


def test_read_table_reports_file_lines(tmp_path):
    table = read_table(_csv(tmp_path, "# comment\na,b\n\n1,2\n3,4\n"))
    assert table.header == ["a", "b"] and table.lines == [4, 5]
    table = read_table(_csv(tmp_path, 'a,b\n"multi\nline",2\n3,4\n'))
    assert table.lines == [2, 4]


# ----------------------------------------------------------------------------- CSV errors


def test_non_numeric_cell_names_column_line_and_value(tmp_path):
    path = _csv(tmp_path, "amount,age\n1.5,30\nabc,41\n2,x\n3,4\n")
    with pytest.raises(DataError) as err:
        load_csv(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: column 'amount' is not numeric (1 non-numeric value; "
                          "first 'abc' on line 3); column 'age' is not numeric (1 non-numeric "
                          "value; first 'x' on line 4)")
    assert "label_column=" in msg


def test_string_column_without_label_column_is_reported(tmp_path):
    path = _csv(tmp_path, "a,city\n1,Paris\n2,Rome\n3,Oslo\n")
    with pytest.raises(DataError, match=r"column 'city' is not numeric \(3 non-numeric values; "
                                        r"first 'Paris' on line 2\)"):
        load_csv(path)


def test_missing_cells_become_nan_errors_with_rows_and_lines(tmp_path):
    path = _csv(tmp_path, "amount,age\n1.5,30\n,41\n3.0,NA\n4,5\n?,6\n")
    with pytest.raises(DataError) as err:
        load_csv(path)
    assert str(err.value) == (
        f"{path}: column 'amount' has 2 NaN values (rows 1, 4; lines 3, 6); column 'age' has "
        "1 NaN value (row 2; line 4) (empty cells and NA/null/? count as NaN)"
    )


def test_nan_and_inf_literals_are_located(tmp_path):
    path = _csv(tmp_path, "a,b\n1,2\n3,inf\nnan,4\n")
    with pytest.raises(DataError, match=r"column 'a' has 1 NaN value \(row 2; line 4\); column "
                                        r"'b' has 1 inf value \(row 1; line 3\)$"):
        load_csv(path)


def test_ragged_line_is_named(tmp_path):
    with pytest.raises(DataError, match=r"data\.csv: line 3 has 3 fields, expected 2 like the "
                                        r"header"):
        load_csv(_csv(tmp_path, "amount,age\n1.5,30\n1,2,3\n"))
    with pytest.raises(DataError, match=r"line 4 has 1 field, expected 2 like line 1 "
                                        r"\(fields separated by ','\)"):
        load_csv(_csv(tmp_path, "1,2\n3,4\n\n5\n"))


def test_unknown_columns_and_bad_labels(tmp_path):
    path = _csv(tmp_path, "alpha,beta\n1,2\n3,4\n")
    with pytest.raises(DataError, match=r"no column 'kind' \(columns: alpha, beta\)"):
        load_csv(path, label_column="kind")
    with pytest.raises(DataError, match="did you mean 'alpha'"):
        load_csv(path, label_column="alpa")
    with pytest.raises(DataError, match="label column 5 is out of range"):
        load_csv(path, label_column=5)
    with pytest.raises(DataError, match="no feature columns"):
        load_csv(_csv(tmp_path, "kind\na\nb\n"), label_column="kind")
    path = _csv(tmp_path, "a,kind\n1,x\n2,\n3,y\n")
    with pytest.raises(DataError, match=r"label column 'kind' is empty on 1 row \(row 1; "
                                        r"line 3\)"):
        load_csv(path, label_column="kind")
    path = _csv(tmp_path, "a,a\n1,2\n")
    with pytest.raises(DataError, match="2 columns are named 'a'"):
        load_csv(path, label_column="a")


def test_empty_binary_and_header_only_files(tmp_path):
    with pytest.raises(DataError, match="the file is empty"):
        load_csv(_csv(tmp_path, "\n\n"))
    with pytest.raises(DataError, match=r"only a header line \(a, b\), no data rows"):
        load_csv(_csv(tmp_path, "a,b\n"))
    (tmp_path / "bin.csv").write_bytes(b"\x00\x01\x02")
    with pytest.raises(DataError, match="binary data"):
        load_csv(tmp_path / "bin.csv")


def test_large_csv_fast_path(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.normal(size=(3000, 10))
    path = tmp_path / "big.csv"
    np.savetxt(path, data, delimiter=",", header=",".join(f"f{j}" for j in range(10)),
               comments="")
    d = load_csv(path)
    np.testing.assert_allclose(d.x.numpy(), data.astype(np.float32), rtol=1e-6)
    assert d.feature_names[0] == "f0"


# ----------------------------------------------------------------------------- npy / npz


def test_npy(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(10).reshape(5, 2))
    d = load_npy(tmp_path / "a.npy")
    assert d.x.shape == (5, 2) and d.x.dtype == torch.float32 and d.meta["format"] == "npy"
    rec = np.array([(1, 2.0), (3, 4.0)], dtype=[("age", "i4"), ("income", "f8")])
    np.save(tmp_path / "r.npy", rec)
    assert load_npy(tmp_path / "r.npy").feature_names == ["age", "income"]


def test_npy_errors(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(DataError, match=r"o\.npy: holds Python objects .*never unpickles"):
        load_npy(tmp_path / "o.npy")
    (tmp_path / "junk.npy").write_bytes(b"hello world")
    with pytest.raises(DataError, match=r"junk\.npy: not a \.npy file"):
        load_npy(tmp_path / "junk.npy")
    np.save(tmp_path / "t.npy", np.ones((100, 10)))
    raw = (tmp_path / "t.npy").read_bytes()
    (tmp_path / "t.npy").write_bytes(raw[:-50])
    with pytest.raises(DataError, match=r"t\.npy: cannot read \.npy file"):
        load_npy(tmp_path / "t.npy")
    nan = np.ones((4, 2))
    nan[3, 1] = np.nan
    np.save(tmp_path / "n.npy", nan)
    with pytest.raises(DataError, match=r"n\.npy: column 1 has 1 NaN value \(row 3\)"):
        load_npy(tmp_path / "n.npy")
    np.save(tmp_path / "v.npy", np.ones(4))
    with pytest.raises(DataError, match=r"v\.npy: .*1-D array of 4 values"):
        load_npy(tmp_path / "v.npy")


def test_npz_key_choice(tmp_path):
    np.savez(tmp_path / "b.npz", X=np.ones((4, 3)), labels=np.array(["a", "b", "a", "b"]))
    d = load_npz(tmp_path / "b.npz")
    assert d.x.shape == (4, 3) and d.y.tolist() == [0, 1, 0, 1] and d.class_names == ["a", "b"]
    assert d.meta["x_key"] == "X" and d.meta["y_key"] == "labels"
    np.savez_compressed(tmp_path / "single.npz", whatever=np.ones((2, 2)))
    assert load_npz(tmp_path / "single.npz").x.shape == (2, 2)
    np.savez(tmp_path / "two.npz", feats=np.ones((3, 2)), y=np.arange(3))
    d = load_npz(tmp_path / "two.npz")
    assert d.meta["x_key"] == "feats" and d.y.tolist() == [0, 1, 2]
    np.savez(tmp_path / "k.npz", p=np.ones((3, 2)), q=np.zeros((3, 2)), t=np.arange(3))
    d = load_npz(tmp_path / "k.npz", x_key="q", y_key="t")
    assert d.x.sum() == 0 and d.y.tolist() == [0, 1, 2]


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "c.npz", p=np.ones((3, 2)), q=np.ones((3, 2)))
    with pytest.raises(DataError, match=r"which array holds the examples\? keys: p, q"):
        load_npz(tmp_path / "c.npz")
    with pytest.raises(DataError, match=r"no array 'z' \(x_key\); keys: p, q"):
        load_npz(tmp_path / "c.npz", x_key="z")
    np.savez(tmp_path / "o.npz", x=np.array([[1], "a"], dtype=object))
    with pytest.raises(DataError, match=r"array 'x' holds Python objects"):
        load_npz(tmp_path / "o.npz")
    np.savez(tmp_path / "m.npz", x=np.ones((3, 2)), y=np.arange(4))
    with pytest.raises(DataError, match=r"m\.npz: 3 examples but 4 labels"):
        load_npz(tmp_path / "m.npz")
    bad = np.ones((3, 2))
    bad[1, 0] = np.inf
    np.savez(tmp_path / "i.npz", x=bad)
    with pytest.raises(DataError, match=r"i\.npz \(array 'x'\): column 0 has 1 inf value"):
        load_npz(tmp_path / "i.npz")
    np.savez(tmp_path / "two.npz", x=np.ones((3, 2)), data=np.ones((3, 2)))
    with pytest.raises(DataError, match=r"several arrays could hold the examples \(x, data\)"):
        load_npz(tmp_path / "two.npz")
    (tmp_path / "junk.npz").write_text("nope")
    with pytest.raises(DataError, match=r"junk\.npz: not a \.npz"):
        load_npz(tmp_path / "junk.npz")
