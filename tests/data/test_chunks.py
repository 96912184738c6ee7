"""Chunked reading and writing of tables larger than memory."""

import gzip

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from aekit.data.chunks import ChunkReader, ChunkWriter, is_chunkable
from aekit.errors import DataError


def _csv(path, n=25):
    lines = ["id;a;b;label"] + [f"r{i};{i};{2 * i}.5;{i % 2}" for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_csv_gz_parquet_and_npy_chunks_cover_every_row_in_order(tmp_path):
    _csv(tmp_path / "t.csv")
    with gzip.open(tmp_path / "t.csv.gz", "wt") as f:
        f.write((tmp_path / "t.csv").read_text())
    x = np.arange(25, dtype=np.float32)
    pq.write_table(pa.table({"id": [f"r{i}" for i in range(25)], "a": x, "b": 2 * x + 0.5,
                             "label": (np.arange(25) % 2)}), tmp_path / "t.parquet")
    for name in ("t.csv", "t.csv.gz", "t.parquet"):
        assert is_chunkable(tmp_path / name)
        reader = ChunkReader(tmp_path / name, features=["a", "b"], keep=["id"], rows=10)
        chunks = list(reader)
        assert [len(c.x) for c in chunks] == [10, 10, 5] and chunks[2].start == 20
        got = np.concatenate([c.x for c in chunks])
        assert np.array_equal(got, np.stack([x, 2 * x + 0.5], 1)), name
        assert sum((c.kept["id"] for c in chunks), []) == [f"r{i}" for i in range(25)]
    (tmp_path / "plain.csv").write_text("1,2\n3,4\n5,6\n")  # no header: x0, x1
    reader = ChunkReader(tmp_path / "plain.csv", rows=2)
    assert reader.features == ["x0", "x1"]
    assert np.concatenate([c.x for c in reader]).tolist() == [[1, 2], [3, 4], [5, 6]]
    np.save(tmp_path / "t.npy", np.ones((7, 2, 3)))
    assert [c.x.shape for c in ChunkReader(tmp_path / "t.npy", rows=4)] == [(4, 2, 3),
                                                                           (3, 2, 3)]


def test_bad_cells_and_columns_are_named(tmp_path):
    path = _csv(tmp_path / "t.csv")
    path.write_text(path.read_text().replace("r13;13;", "r13;oops;"))
    with pytest.raises(DataError, match=r"line 15, column 'a': 'oops' is not a finite"):
        list(ChunkReader(path, features=["a", "b"], rows=4))
    with pytest.raises(DataError, match=r"no column\(s\) \['c'\]"):
        ChunkReader(path, features=["a", "c"])


def test_writer_appears_only_when_complete(tmp_path):
    out = tmp_path / "o.csv"
    with ChunkWriter(out, ["id", "s"]) as w:
        w.write({"id": ["a", "b"], "s": np.array([0.5, 1.5])})
        assert not out.exists()
        w.write({"id": ["c"], "s": np.array([2.0])})
    assert out.read_text().splitlines() == ["id,s", "a,0.5", "b,1.5", "c,2.0"]
    with pytest.raises(RuntimeError), ChunkWriter(tmp_path / "p.parquet", ["s"]) as w:
        w.write({"s": np.array([1.0])})
        raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == [out]  # no partial file, no temporary left


def test_quote_free_lines_parse_fast_and_quoted_ones_by_the_csv_module_alike(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2)).astype(np.float32)
    vals = x.tolist()
    rows = [f"r{i},{a!r}, {b!r}" for i, (a, b) in enumerate(vals)]
    plain = "id,a,b\r\n" + "\r\n".join(rows[:20]) + "\r\n,,\r\n\r\n" + "\r\n".join(rows[20:])
    (tmp_path / "plain.csv").write_text(plain, newline="")
    quoted = plain.replace("r25,", '"r25, quoted",')  # the csv module from line 28 on
    (tmp_path / "quoted.csv").write_text(quoted, newline="")
    for name in ("plain.csv", "quoted.csv"):
        chunks = list(ChunkReader(tmp_path / name, features=["a", "b"], keep=["id"], rows=7))
        assert [c.start for c in chunks] == list(range(0, 40, 7))
        assert np.array_equal(np.concatenate([c.x for c in chunks]), x), name
        ids = sum((c.kept["id"] for c in chunks), [])
        assert ids[:25] == [f"r{i}" for i in range(25)] and ids[26:] == [
            f"r{i}" for i in range(26, 40)]
        assert ids[25] == ("r25, quoted" if name == "quoted.csv" else "r25")
    # errors name the file's line on either path (row 28 is on line 32, after 2 blanks)
    for name, text in (("plain.csv", plain), ("quoted.csv", quoted)):
        bad = text.replace(f"r28,{vals[28][0]!r},", "r28,nan,")
        (tmp_path / name).write_text(bad, newline="")
        with pytest.raises(DataError, match=r"line 32, column 'a': 'nan' is not a finite"):
            list(ChunkReader(tmp_path / name, features=["a", "b"], rows=7))
        short = text.replace(f"r3,{vals[3][0]!r},", "r3,")
        (tmp_path / name).write_text(short, newline="")
        with pytest.raises(DataError, match=r"line 5 has 2 fields, expected 3"):
            list(ChunkReader(tmp_path / name, features=["a", "b"], rows=7))


def test_row_text_is_what_the_csv_module_writes_of_the_parsed_row(tmp_path):
    import csv
    import io

    rows = [f"r{i},{i}.5,{2 * i}" for i in range(30)]
    rows[3] = "r3, 3.5,6"  # a space after the delimiter: rewritten, not copied
    rows[12] = '"r12, ""q""",12.5,24'  # quoted: the csv module from here on
    (tmp_path / "t.csv").write_text("id,a,b\r\n" + "\r\n".join(rows) + "\r\n", newline="")
    (tmp_path / "t.tsv").write_text("id\ta\tb\n" + "\n".join(
        r.replace(",", "\t") for r in rows[:12]) + "\n")
    for name in ("t.csv", "t.tsv"):
        chunks = list(ChunkReader(tmp_path / name, features=["a", "b"], rows=5, text=True))
        text = sum((c.text for c in chunks), [])
        with open(tmp_path / name, newline="") as f:
            parsed = list(csv.reader(f, skipinitialspace=True,
                                     delimiter="\t" if name == "t.tsv" else ","))[1:]
        f = io.StringIO()
        csv.writer(f, lineterminator="\n").writerows(parsed)
        assert text == f.getvalue().splitlines(), name
    assert text[3] == "r3,3.5,6"


def test_writer_fields_quoted_as_the_csv_module_quotes_them(tmp_path):
    import csv

    cells = ["plain", "a,b", 'say "hi"', "two\nlines", "", None, 3, 2.5]
    with ChunkWriter(tmp_path / "o.csv", ["id", "v", "n"]) as w:
        w.write({"v": cells, "n": np.arange(8)}, text=[f"r{i}" for i in range(8)])
    with open(tmp_path / "o.csv", newline="") as f:
        got = list(csv.reader(f))
    assert got[0] == ["id", "v", "n"]
    assert [r[1] for r in got[1:]] == ["" if c is None else str(c) for c in cells]
    assert [r[0] for r in got[1:]] == [f"r{i}" for i in range(8)]
    with pytest.raises(ValueError, match="missing"), ChunkWriter(
            tmp_path / "p.csv", ["id", "v"]) as w:
        w.write({"v": [1]})
