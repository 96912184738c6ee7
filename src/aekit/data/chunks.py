"""Tables larger than memory, read and written a chunk of rows at a time.

:class:`ChunkReader` reads a CSV/TSV (optionally gzipped), a Parquet file (pyarrow, the
``parquet`` extra) or a ``.npy`` (memory-mapped) in chunks of ``rows`` rows: each
:class:`Chunk` holds the chunk's features as float32 and, for tables, the text or values
of any columns to pass through (ids, labels) and, when asked (``text=True``), each whole
row of a CSV as comma-separated text to copy to an output as it is (a quote-free line of a
comma-separated file is its own text: nothing is split and joined again).
:class:`ChunkWriter` writes result rows to a CSV or Parquet file chunk by chunk, into a
temporary file renamed into place at the end, so a failed run leaves no half-written
output. Memory stays at one chunk.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import itertools
import operator
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aekit.data.tabular import _looks_like_header, _numbered_rows, _sniff_delimiter
from aekit.errors import ConfigError, DataError
from aekit.outputs import atomic_path

__all__ = ["CHUNK_ROWS", "Chunk", "ChunkReader", "ChunkWriter", "is_chunkable"]

CHUNK_ROWS = 65_536
"""Rows per chunk by default."""
TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".txt")


def is_chunkable(source: Any) -> bool:
    """True for a path that :class:`ChunkReader` reads (CSV/TSV[.gz], Parquet, .npy)."""
    if not isinstance(source, str | Path):
        return False
    p = Path(source)
    suffix = Path(p.name.lower().removesuffix(".gz")).suffix
    return p.is_file() and (suffix in (*TABLE_SUFFIXES, ".parquet", ".npy"))


@dataclass
class Chunk:
    """Rows ``start .. start + len(x)`` of the input."""

    x: np.ndarray  # float32 features, (n, d) for tables, (n, *shape) for .npy
    start: int  # index of the chunk's first data row in the input (0-based)
    kept: dict[str, list[Any]] = field(default_factory=dict)  # pass-through columns
    text: list[str] | None = None  # each row, all columns, as CSV text (``text=True``)


class ChunkReader:
    """Iterate over a large input in chunks.

    Parameters
    ----------
    path : str or Path
        ``.csv``/``.tsv``/``.txt`` (optionally ``.gz``; without a header row the columns
        are named ``x0``, ``x1``, ...), ``.parquet`` or ``.npy``.
    features : sequence of str, optional
        Feature columns, in this order (default: every column not in ``keep``).
    keep : sequence of str
        Columns passed through as they are (tables only).
    rows : int
        Rows per chunk.
    text : bool
        Give each chunk of a CSV its rows as comma-separated text, every column in the
        file's order (:attr:`Chunk.text`), as the csv module would write the parsed row.
    """

    def __init__(self, path: str | Path, *, features: Sequence[str] | None = None,
                 keep: Sequence[str] = (), rows: int = CHUNK_ROWS, text: bool = False) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"no such file: {path}")
        if rows < 1:
            raise ConfigError(f"rows must be >= 1, got {rows}")
        self.rows, self.keep, self.text = rows, list(keep), text
        name = self.path.name.lower().removesuffix(".gz")
        self.kind = "npy" if name.endswith(".npy") else \
            "parquet" if name.endswith(".parquet") else "csv"
        if self.kind == "npy":
            if keep or features is not None:
                raise ConfigError(f"{path}: a .npy file has no named columns to select or "
                                  "pass through")
            self.header = None
            self.features: list[str] = []
            return
        if self.kind == "parquet":
            from aekit.data.stream import _parquet

            self._pq = _parquet().ParquetFile(self.path)
            self.header = list(self._pq.schema_arrow.names)
        else:
            self.delimiter, self.header, self.has_header = self._csv_layout()
        missing = [c for c in [*self.keep, *(features or [])] if c not in self.header]
        if missing:
            raise DataError(f"{path}: no column(s) {missing}; columns are {self.header}")
        self.features = list(features) if features is not None else \
            [c for c in self.header if c not in self.keep]
        if not self.features:
            raise DataError(f"{path}: no feature columns left after {self.keep}")
        self._idx = [self.header.index(c) for c in self.features]  # once per file
        self._kept_idx = [self.header.index(c) for c in self.keep]

    # -- CSV -----------------------------------------------------------------------
    def _open_text(self) -> io.TextIOBase:
        with open(self.path, "rb") as f:
            gz = f.read(2) == b"\x1f\x8b"
        raw = gzip.open(self.path, "rb") if gz else open(self.path, "rb")  # noqa: SIM115
        return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")

    def _csv_layout(self) -> tuple[str, list[str], bool]:
        with self._open_text() as f:
            sample = []
            for line in f:
                if line.strip() and not line.lstrip().startswith("#"):
                    sample.append(line.rstrip("\r\n"))
                if len(sample) == 20:
                    break
        if not sample:
            raise DataError(f"{self.path}: the file is empty (no data rows)")
        suffixes = [s.lower() for s in self.path.suffixes]
        delimiter = "\t" if ".tsv" in suffixes or ".tab" in suffixes else \
            _sniff_delimiter(sample) or " "
        rows = list(csv.reader(sample[:2], delimiter=delimiter, skipinitialspace=True))
        if _looks_like_header(rows):
            return delimiter, [c.strip() for c in rows[0]], True
        return delimiter, [f"x{j}" for j in range(len(rows[0]))], False

    def _csv_chunks(self) -> Iterator[Chunk]:
        """Chunks of a CSV. Lines without a quote character are parsed by ``np.loadtxt``
        a chunk at a time (C speed); from the first line holding a quote on, the csv
        module reads the rest (quoted fields may hold delimiters and line breaks). A chunk
        that ``np.loadtxt`` cannot parse is parsed again by the csv module, which names
        the bad line and column."""
        width, start, line_no = len(self.header), 0, 0
        header_seen = not self.has_header
        cut = self.delimiter + " \t\r\n"
        with self._open_text() as f:
            raw: list[str] = []  # every line since the last chunk, blank ones included
            data: list[str] = []
            lines: list[int] = []
            for line in f:
                line_no += 1
                raw.append(line)
                if '"' in line or self.delimiter == " ":  # the csv module from here on
                    yield from self._csv_module_chunks(
                        itertools.chain(raw, f), line_no - len(raw), header_seen, start)
                    return
                if not line.strip(cut) or (not header_seen
                                           and line.lstrip().startswith("#")):
                    continue
                if not header_seen:
                    header_seen = True
                    raw = []
                    continue
                data.append(line)
                lines.append(line_no)
                if len(data) == self.rows:
                    yield self._fast_chunk(data, lines, width, start)
                    start += len(data)
                    raw, data, lines = [], [], []
            if data:
                yield self._fast_chunk(data, lines, width, start)

    def _fast_chunk(self, data: list[str], lines: list[int], width: int,
                    start: int) -> Chunk:
        """One chunk of quote-free lines, parsed by ``np.loadtxt``; any problem sends the
        chunk to the csv module's path (:meth:`_csv_chunk`), which names it."""
        idx, kept_idx = self._idx, self._kept_idx
        counts = set(map(operator.methodcaller("count", self.delimiter), data))
        x = None
        if counts == {width - 1}:
            with contextlib.suppress(ValueError):
                x = np.loadtxt(data, dtype=np.float32, delimiter=self.delimiter,
                               usecols=idx, comments=None, quotechar=None, ndmin=2)
        if x is None or not np.isfinite(x).all():
            rows = list(csv.reader(data, delimiter=self.delimiter, skipinitialspace=True))
            return self._csv_chunk(rows, lines, start)
        kept = {}
        if kept_idx:
            cells = np.loadtxt(data, dtype=str, delimiter=self.delimiter, usecols=kept_idx,
                               comments=None, quotechar=None, ndmin=2).T.tolist()
            for c, j, values in zip(self.keep, kept_idx, cells):  # as skipinitialspace
                kept[c] = [v.lstrip(" ") for v in values] if j else values
        text = None
        if self.text:
            text = [line.rstrip("\r\n") for line in data]
            joined = "\n".join(text)
            if self.delimiter != "," or "\r" in joined or ", " in joined \
                    or joined.startswith(" ") or "\n " in joined:  # not its own CSV text
                text = _csv_text(csv.reader(data, delimiter=self.delimiter,
                                            skipinitialspace=True))
        return Chunk(x, start, kept, text)

    def _csv_module_chunks(self, lines: Iterator[str], before: int, header_seen: bool,
                           start: int) -> Iterator[Chunk]:
        """Chunks read by the csv module from ``lines``, the file's lines after its line
        ``before``."""
        numbered = _numbered_rows(csv.reader(lines, delimiter=self.delimiter,
                                             skipinitialspace=True), self.path)
        rows: list[list[str]] = []
        numbers: list[int] = []
        for line_no, row in numbered:
            if not row or (not header_seen and row[0].lstrip().startswith("#")) or all(
                    not c.strip() for c in row):
                continue
            if not header_seen:
                header_seen = True
                continue
            rows.append(row)
            numbers.append(before + line_no)
            if len(rows) == self.rows:
                yield self._csv_chunk(rows, numbers, start)
                start += len(rows)
                rows, numbers = [], []
        if rows:
            yield self._csv_chunk(rows, numbers, start)

    def _csv_chunk(self, rows: list[list[str]], lines: list[int], start: int) -> Chunk:
        """One chunk of rows split by the csv module: checked, then converted."""
        width, idx = len(self.header), self._idx
        for row, line in zip(rows, lines):
            if len(row) != width:
                raise DataError(f"{self.path}: line {line} has {len(row)} fields, expected "
                                f"{width} like the header")
        cells = [[r[j] for j in idx] for r in rows]
        try:
            x = np.array(cells, dtype=np.float32)
        except ValueError:
            x = None
        if x is None or not np.isfinite(x).all():
            self._bad_cell(cells, lines)
        kept = {c: [r[j] for r in rows] for c, j in zip(self.keep, self._kept_idx)}
        return Chunk(x, start, kept, _csv_text(rows) if self.text else None)

    def _bad_cell(self, cells: list[list[str]], lines: list[int]) -> None:
        for row, line in zip(cells, lines):
            for name, cell in zip(self.features, row):
                try:
                    ok = np.isfinite(np.float32(cell))
                except ValueError:
                    ok = False
                if not ok:
                    raise DataError(f"{self.path}: line {line}, column {name!r}: {cell!r} is "
                                    "not a finite number")
        raise DataError(f"{self.path}: a feature value is not a number")  # pragma: no cover

    # -- Parquet and .npy ------------------------------------------------------------
    def _parquet_chunks(self) -> Iterator[Chunk]:
        start = 0
        for batch in self._pq.iter_batches(batch_size=self.rows,
                                           columns=[*self.features, *self.keep]):
            try:
                x = np.stack([batch.column(c).to_numpy(zero_copy_only=False)
                              .astype(np.float32) for c in self.features], 1)
            except (ValueError, TypeError) as e:
                raise DataError(f"{self.path}: rows {start}..{start + batch.num_rows}: a "
                                f"feature column is not numeric ({e})") from None
            bad = ~np.isfinite(x)
            if bad.any():
                r, j = map(int, np.argwhere(bad)[0])
                raise DataError(f"{self.path}: row {start + r}, column "
                                f"{self.features[j]!r}: {x[r, j]} is not a finite number")
            kept = {c: batch.column(c).to_pylist() for c in self.keep}
            yield Chunk(x, start, kept)
            start += batch.num_rows

    def _npy_chunks(self) -> Iterator[Chunk]:
        array = np.load(self.path, mmap_mode="r")
        if array.ndim < 2:
            raise DataError(f"{self.path}: expected examples along the first axis, got "
                            f"shape {array.shape}")
        for start in range(0, len(array), self.rows):
            x = np.array(array[start:start + self.rows], dtype=np.float32)  # a copy
            bad = ~np.isfinite(x.reshape(len(x), -1)).all(1)
            if bad.any():
                raise DataError(f"{self.path}: row {start + int(np.argmax(bad))} holds a NaN "
                                "or infinite value")
            yield Chunk(x, start)

    def __iter__(self) -> Iterator[Chunk]:
        if self.kind == "npy":
            return self._npy_chunks()
        if self.kind == "parquet":
            return self._parquet_chunks()
        return self._csv_chunks()


class ChunkWriter:
    """Write rows to ``path`` (``.csv``, or ``.parquet``) a chunk at a time; the file
    appears at ``path`` when the writer closes without an error.

    Use as a context manager: ``with ChunkWriter(out, ["id", "score"]) as w: w.write(...)``.
    """

    def __init__(self, path: str | Path, columns: Sequence[str]) -> None:
        self.path, self.columns = Path(path), list(columns)
        self.parquet = self.path.suffix.lower() == ".parquet"
        self._atomic = contextlib.ExitStack()  # the one atomic write (aekit.outputs)
        self.tmp = self._atomic.enter_context(atomic_path(self.path))
        self.rows = 0
        self._writer: Any = None
        if not self.parquet:
            self._file = open(self.tmp, "w", newline="", encoding="utf-8")  # noqa: SIM115
            csv.writer(self._file).writerow(self.columns)

    def write(self, columns: dict[str, Sequence[Any] | np.ndarray],
              text: Sequence[str] | None = None) -> None:
        """Append rows given as one sequence per column (all of one length). To a CSV,
        the leading columns may come instead as ``text``, each row's as CSV text (a
        :attr:`Chunk.text`): ``columns`` then holds the columns after them."""
        given = [c for c in self.columns if c in columns]
        lead = self.columns[:len(self.columns) - len(given)]
        if lead and (text is None or self.parquet or self.columns[len(lead):] != given):
            raise ValueError(f"columns {lead} are missing")
        values = [columns[c] for c in given]
        if self.parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.table(dict(zip(self.columns, values)))
            if self._writer is None:
                self._writer = pq.ParquetWriter(self.tmp, table.schema)
            self._writer.write_table(table)
        else:  # one string per chunk, no csv module call per row
            cells = ([list(text)] if lead else []) + [_csv_cells(v) for v in values]
            if cells and cells[0]:
                self._file.write("\r\n".join(map(",".join, zip(*cells))) + "\r\n")
        self.rows += len(text) if lead else len(values[0]) if values else 0

    def __enter__(self) -> ChunkWriter:
        return self

    def __exit__(self, kind: Any, error: Any, tb: Any) -> None:
        try:
            if self.parquet:
                if self._writer is not None:
                    self._writer.close()
            else:
                self._file.close()
        finally:
            self._atomic.__exit__(kind, error, tb)  # renamed into place, or removed


def _csv_cells(column: Sequence[Any] | np.ndarray) -> list[str]:
    """A column's values as CSV fields, as the csv module writes them (``None`` empty,
    other values ``str``; a field holding a comma, a quote or a line break quoted)."""
    if isinstance(column, np.ndarray) and column.dtype.kind in "biuf":
        return list(map(str, column.tolist()))
    values = column.tolist() if isinstance(column, np.ndarray) else list(column)
    try:
        joined = "".join(values)  # (every value a str)
    except TypeError:
        values = ["" if v is None else str(v) for v in values]
        joined = "".join(values)
    if any(c in joined for c in ',"\r\n'):
        values = ['"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\r\n') else v
                  for v in values]
    return values


def _csv_text(rows: Iterable[Sequence[str]]) -> list[str]:
    """Each row as one line of CSV text (without the line end)."""
    return [",".join(_csv_cells(row)) for row in rows]
