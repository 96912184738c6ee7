"""Tabular files: CSV/TSV/whitespace text (plain or gzipped), ``.npy`` and ``.npz``.

No pandas: text is read with the standard :mod:`csv` module, and every cell is checked,
so a problem is reported with its column, its file line and the offending value::

    data.csv: column 'city' is not numeric (2 non-numeric values; first 'Paris' in row 0 (line 2))
"""

from __future__ import annotations

import csv
import difflib
import gzip
import io
import math
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aekit.data.dataset import Dataset
from aekit.data.validate import (
    MAX_LISTED,
    as_float_tensor,
    build_dataset,
    describe_rows,
    encode_labels,
)
from aekit.errors import ConfigError, DataError

__all__ = [
    "MISSING_MARKERS",
    "Table",
    "load_csv",
    "load_npy",
    "load_npz",
    "read_table",
]

MISSING_MARKERS = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
"""Cell texts (compared in lower case, after stripping spaces) read as missing (NaN)."""

X_KEYS: tuple[str, ...] = ("x", "X", "data", "images", "features", "inputs")
"""Names under which a ``.npz`` archive may hold the examples."""
Y_KEYS: tuple[str, ...] = ("y", "Y", "labels", "label", "targets", "target")
"""Names under which a ``.npz`` archive may hold the labels."""

_DELIMITERS: tuple[str | None, ...] = (",", "\t", ";", "|", None)  # None: runs of whitespace
_PREFERENCE: tuple[str | None, ...] = ("\t", ";", "|", ",", None)
_SNIFF_LINES = 50
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_PICKLE_HINT = ("aekit never unpickles data (it can run arbitrary code); save a numeric "
                "array instead, e.g. np.save(path, arr.astype(np.float32))")


@dataclass
class Table:
    """A text table as read from a file, before any conversion.

    Attributes
    ----------
    header : list of str or None
        Column names, when the first row is a header.
    rows : list of list of str
        The data rows (blank rows and leading ``#`` comment lines skipped).
    lines : list of int
        The 1-based file line on which each data row starts.
    delimiter : str or None
        The field separator; None for runs of whitespace.
    """

    header: list[str] | None
    rows: list[list[str]]
    lines: list[int]
    delimiter: str | None


# --------------------------------------------------------------------------- reading text


def _read_text(path: Path) -> str:
    if not path.exists():
        raise DataError(f"no such file: {path}")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a text file")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise DataError(f"{path}: corrupt or truncated gzip file ({e})") from None
    if b"\x00" in raw[:8192]:
        raise DataError(f"{path}: binary data, not a text (CSV) file")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _split(line: str, delimiter: str | None) -> list[str]:
    if delimiter is None:
        return line.split()
    return next(csv.reader([line], delimiter=delimiter, skipinitialspace=True), [])


def _sniff_delimiter(sample: list[str]) -> str | None:
    """The separator that splits every sample line into the same number (> 1) of fields.

    When several do, the first of tab, ``;``, ``|``, ``,``, whitespace wins (so ``;`` files
    with decimal commas and ``, ``-separated files are read right). When none does, the
    one that splits the most lines alike wins; a single column gives ``,``.
    """
    consistent = []
    best, best_score = ",", (False, 0.0, 0)
    for delimiter in _DELIMITERS:
        counts = [len(_split(line, delimiter)) for line in sample]
        mode, hits = Counter(counts).most_common(1)[0]
        if mode > 1 and hits == len(counts):
            consistent.append(delimiter)
        score = (mode > 1, hits / len(counts), mode)
        if score > best_score:
            best, best_score = delimiter, score
    if consistent:
        return min(consistent, key=_PREFERENCE.index)
    return best


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _is_text(cell: str) -> bool:
    """A cell that is neither a number nor a missing-value marker."""
    cell = cell.strip()
    return cell.lower() not in MISSING_MARKERS and not _is_number(cell)


def _looks_like_header(rows: list[list[str]]) -> bool:
    first = rows[0]
    if not any(_is_text(c) for c in first):
        return False
    if len(rows) == 1 or all(_is_text(c) for c in first if c.strip()):
        return True
    second = rows[1]
    return any(
        _is_text(a) and _is_number(b.strip()) for a, b in zip(first, second)
    )


def read_table(
    path: str | Path,
    *,
    delimiter: str | None = None,
    header: bool | None = None,
) -> Table:
    """Read a delimited text file into rows of strings, checking that rows line up.

    Parameters
    ----------
    path : str or Path
        A text file, optionally gzip-compressed (detected from its content). UTF-8
        (with or without BOM) is expected; Windows-1252 is accepted.
    delimiter : str, optional
        Field separator; ``" "`` means runs of whitespace. By default tab for ``.tsv``
        files, otherwise guessed among ``, <tab> ; |`` and whitespace.
    header : bool, optional
        Whether the first row holds column names. By default it does when it holds
        text where the next row holds numbers, or holds nothing but text.

    Returns
    -------
    Table

    Raises
    ------
    DataError
        The file is missing, binary, empty, has no data rows, cannot be parsed, or a row
        has a different number of fields than the header (or first row); the message
        names the line.
    """
    path = Path(path)
    text = _read_text(path)
    if delimiter is None:
        suffixes = [s.lower() for s in path.suffixes]
        if ".tsv" in suffixes or ".tab" in suffixes:
            delimiter = "\t"
        else:
            sample = [
                line for line in text.splitlines()[: 4 * _SNIFF_LINES]
                if line.strip() and not line.lstrip().startswith("#")
            ][:_SNIFF_LINES]
            if not sample:
                raise DataError(f"{path}: the file is empty (no data rows)")
            delimiter = _sniff_delimiter(sample)
    elif delimiter.isspace():
        delimiter = None

    rows: list[list[str]] = []
    lines: list[int] = []
    if delimiter is None:
        numbered = ((k + 1, line.split()) for k, line in enumerate(text.splitlines()))
    else:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter,
                            skipinitialspace=True)
        numbered = _numbered_rows(reader, path)
    for line_no, row in numbered:
        if not row or all(not c.strip() for c in row):
            continue
        if not rows and row[0].lstrip().startswith("#"):
            continue  # leading comments, e.g. from numpy.savetxt(header=...)
        rows.append(row)
        lines.append(line_no)
    if not rows:
        raise DataError(f"{path}: the file is empty (no data rows)")

    if header is None:
        header = _looks_like_header(rows)
    names: list[str] | None = None
    if header:
        names = [c.strip() or f"x{j}" for j, c in enumerate(rows[0])]
        rows, lines = rows[1:], lines[1:]
        if not rows:
            raise DataError(f"{path}: only a header line ({', '.join(names)}), no data rows")
    width = len(names) if names is not None else len(rows[0])
    like = "the header" if names is not None else f"line {lines[0]}"
    for row, line_no in zip(rows, lines):
        if len(row) != width:
            shown = "whitespace" if delimiter is None else repr(delimiter)
            raise DataError(
                f"{path}: line {line_no} has {len(row)} field{'' if len(row) == 1 else 's'}, "
                f"expected {width} like "
                f"{like} (fields separated by {shown})"
            )
    return Table(header=names, rows=rows, lines=lines, delimiter=delimiter)


def _numbered_rows(reader: Any, path: Path) -> Iterator[tuple[int, list[str]]]:
    """(first line, row) pairs from a csv reader, turning csv errors into DataErrors."""
    previous = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise DataError(f"{path}: line {reader.line_num}: cannot parse ({e})") from None
        yield previous + 1, row
        previous = reader.line_num


# --------------------------------------------------------------------------- CSV -> Dataset


def _column_index(
    spec: str | int, names: list[str], has_header: bool, path: Path, what: str
) -> int:
    """Index of a column given by name or (possibly negative) position."""
    if isinstance(spec, bool):
        raise ConfigError(f"{what} must be a column name or index, got {spec!r}")
    if isinstance(spec, int | np.integer):
        j = int(spec)
        if not -len(names) <= j < len(names):
            raise DataError(f"{path}: {what} {j} is out of range ({len(names)} columns: "
                            f"{', '.join(names)})")
        return j % len(names)
    spec = str(spec)
    hits = [j for j, n in enumerate(names) if n == spec]
    if not hits:
        hits = [j for j, n in enumerate(names) if n.lower() == spec.strip().lower()]
    if len(hits) > 1:
        raise DataError(f"{path}: {len(hits)} columns are named {spec!r} (columns "
                        f"{', '.join(map(str, hits))}); give the 0-based column index "
                        f"instead (e.g. --label-column {hits[0]})")
    if hits:
        return hits[0]
    if spec.strip().lstrip("-").isdigit():
        return _column_index(int(spec), names, has_header, path, what)
    close = difflib.get_close_matches(spec, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    where = "columns" if has_header else "the file has no header line; columns"
    raise DataError(f"{path}: no column {spec!r} ({where}: {', '.join(names)}){hint}")


def load_csv(
    path: str | Path,
    *,
    label_column: str | int | None = None,
    columns: Sequence[str | int] | None = None,
    delimiter: str | None = None,
    header: bool | None = None,
) -> Dataset:
    """A delimited text file (CSV, TSV, whitespace-separated) as a Dataset.

    Parameters
    ----------
    path : str or Path
        The file (``.csv``, ``.tsv``, ``.txt``, optionally ``.gz``).
    label_column : str or int, optional
        Column holding labels, by name or 0-based index (negative counts from the end).
        Labels may be strings (encoded in sorted order) or integers (kept).
    columns : sequence of str or int, optional
        The feature columns to use, in this order. Default: every column except the
        label column.
    delimiter : str, optional
        Field separator; see :func:`read_table`.
    header : bool, optional
        Whether the first line holds column names; guessed by default.

    Returns
    -------
    Dataset
        ``x`` of shape ``(rows, features)``; ``feature_names`` from the header, or
        ``x0, x1, ...`` without one.

    Raises
    ------
    DataError
        A ragged line, an unknown column, a non-numeric feature cell (the column, line
        and value are named), missing or NaN/inf values (empty cells and ``NA``, ``null``,
        ``?`` count as missing; the column and the rows and lines are named), missing
        labels.
    ConfigError
        The label column is also listed in ``columns``.
    """
    path = Path(path)
    table = read_table(path, delimiter=delimiter, header=header)
    has_header = table.header is not None
    names = table.header or [f"x{j}" for j in range(len(table.rows[0]))]

    label_index = None
    if label_column is not None:
        label_index = _column_index(label_column, names, has_header, path, "label column")
    if columns is not None:
        if isinstance(columns, str | int):
            columns = [columns]
        keep = [_column_index(c, names, has_header, path, "column") for c in columns]
        if label_index is not None and label_index in keep:
            raise ConfigError(f"{path}: column {names[label_index]!r} is the label column; it "
                              "cannot also be a feature column")
        if not keep:
            raise ConfigError(f"{path}: columns= selects no columns")
    else:
        keep = [j for j in range(len(names)) if j != label_index]
        if not keep:
            raise DataError(f"{path}: no feature columns (the only column, "
                            f"{names[label_index]!r}, holds the labels)")
    feature_names = [names[j] for j in keep]

    y = class_names = None
    if label_index is not None:
        cells = [row[label_index].strip() for row in table.rows]
        missing = [i for i, c in enumerate(cells) if c.lower() in MISSING_MARKERS]
        if missing:
            raise DataError(f"{path}: label column {names[label_index]!r} is empty on "
                            f"{len(missing)} row{'s' if len(missing) > 1 else ''} "
                            f"({describe_rows(missing, table.lines)})")
        y, class_names = encode_labels(np.asarray(cells, dtype=object),
                                       name=f"{path} (label column {names[label_index]!r})")

    cells = [[row[j] for j in keep] for row in table.rows]
    had_missing = False
    try:
        values = np.asarray(cells, dtype=np.float64)
    except ValueError:
        values, had_missing = _parse_cells(cells, feature_names, table.lines, path,
                                           decimal_comma=table.delimiter == ";")
    try:
        x = as_float_tensor(values, name=str(path), feature_names=feature_names,
                            lines=table.lines)
    except DataError as e:
        if had_missing:
            raise DataError(f"{e} (empty cells and NA/null/? count as NaN)") from None
        raise
    return build_dataset(
        x,
        y,
        name=str(path),
        feature_names=feature_names,
        class_names=class_names,
        meta={
            "format": "csv",
            "delimiter": table.delimiter,
            "header": has_header,
            "label_column": None if label_index is None else names[label_index],
            "lines": (table.lines[0], table.lines[-1]),
        },
    )


def _parse_cells(
    cells: list[list[str]],
    feature_names: list[str],
    lines: list[int],
    path: Path,
    *,
    decimal_comma: bool = False,
) -> tuple[np.ndarray, bool]:
    """Cell-by-cell float parsing; missing markers become NaN; text is reported.

    With ``decimal_comma`` (``;``-separated files) ``1,5`` reads as 1.5.
    """
    values = np.empty((len(cells), len(feature_names)), dtype=np.float64)
    bad: dict[int, list[int]] = {}
    had_missing = False
    for i, row in enumerate(cells):
        for k, cell in enumerate(row):
            text = cell.strip()
            try:
                values[i, k] = float(text)
            except ValueError:
                if text.lower() in MISSING_MARKERS:
                    values[i, k] = math.nan
                    had_missing = True
                    continue
                if decimal_comma and text.count(",") == 1 and "." not in text:
                    try:
                        values[i, k] = float(text.replace(",", "."))
                        continue
                    except ValueError:
                        pass
                bad.setdefault(k, []).append(i)
    if bad:
        parts = []
        for k in sorted(bad)[:MAX_LISTED]:
            rows = bad[k]
            i = rows[0]
            count = f"{len(rows)} non-numeric value{'s' if len(rows) > 1 else ''}"
            parts.append(f"column {feature_names[k]!r} is not numeric ({count}; first "
                         f"{cells[i][k].strip()!r} on line {lines[i]})")
        more = f"; and {len(bad) - len(parts)} more columns" if len(bad) > len(parts) else ""
        raise DataError(f"{path}: " + "; ".join(parts) + more + " (use label_column= for a "
                        "column of labels, or columns= to choose the numeric columns)")
    return values, had_missing


# --------------------------------------------------------------------------- numpy files


def _check_magic(path: Path, magics: tuple[bytes, ...], kind: str) -> None:
    if not path.exists():
        raise DataError(f"no such file: {path}")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not a {kind} file")
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    if not any(head.startswith(m) for m in magics):
        raise DataError(f"{path}: not a {kind} file (it does not start with the {kind} "
                        "signature)")


def _structured_names(arr: np.ndarray) -> list[str] | None:
    return list(arr.dtype.names) if arr.dtype.names else None


def load_npy(path: str | Path) -> Dataset:
    """A ``.npy`` array of examples (examples along the first axis).

    Parameters
    ----------
    path : str or Path
        A file written by :func:`numpy.save`. Structured arrays (named fields) give
        their field names as feature names.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        The file is not a ``.npy`` file, is truncated, holds Python objects (never
        unpickled), or holds non-numeric, NaN or inf values.
    """
    path = Path(path)
    _check_magic(path, (_NPY_MAGIC,), ".npy")
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e) or "Object arrays" in str(e):
            raise DataError(f"{path}: holds Python objects (dtype object); "
                            f"{_PICKLE_HINT}") from None
        raise DataError(f"{path}: cannot read .npy file ({e})") from None
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read .npy file ({e})") from None
    return build_dataset(arr, name=str(path), feature_names=_structured_names(arr),
                         meta={"format": "npy"})


def _pick_key(
    keys: list[str], wanted: tuple[str, ...], what: str, path: Path
) -> str | None:
    found = [k for k in wanted if k in keys]
    if len(found) > 1:
        raise DataError(f"{path}: several arrays could hold the {what} ({', '.join(found)}); "
                        f"pass {'x_key' if what == 'examples' else 'y_key'}= to choose")
    return found[0] if found else None


def load_npz(
    path: str | Path, x_key: str | None = None, y_key: str | None = None
) -> Dataset:
    """A ``.npz`` archive of examples and (optionally) labels.

    Parameters
    ----------
    path : str or Path
        A file written by :func:`numpy.savez` or :func:`numpy.savez_compressed`.
    x_key : str, optional
        The array of examples. Default: the one named ``x``, ``X``, ``data`` (or
        ``images``, ``features``, ``inputs``), else the only array that is not labels.
    y_key : str, optional
        The array of labels. Default: the one named ``y``, ``Y``, ``labels`` (or
        ``label``, ``targets``, ``target``) if present.

    Returns
    -------
    Dataset
        ``meta`` holds ``x_key`` and ``y_key``.

    Raises
    ------
    DataError
        The file is not a ``.npz`` archive, the examples cannot be identified (the keys
        are listed), a named key is missing, an array holds Python objects (never
        unpickled), or the arrays fail validation.
    """
    path = Path(path)
    _check_magic(path, _ZIP_MAGICS, ".npz (zip)")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read .npz file ({e})") from None
    with archive:
        keys = list(archive.files)
        if not keys:
            raise DataError(f"{path}: the archive holds no arrays")
        listed = ", ".join(keys)
        for key, arg in ((x_key, "x_key"), (y_key, "y_key")):
            if key is not None and key not in keys:
                raise DataError(f"{path}: no array {key!r} ({arg}); keys: {listed}")
        if y_key is None:
            y_key = _pick_key(keys, Y_KEYS, "labels", path)
            if y_key is not None and y_key == x_key:
                y_key = None
        if x_key is None:
            x_key = _pick_key(keys, X_KEYS, "examples", path)
        if x_key is None:
            rest = [k for k in keys if k != y_key]
            if len(rest) != 1:
                raise DataError(f"{path}: which array holds the examples? keys: {listed}; "
                                "name it 'x' (and the labels 'y'), or pass x_key=")
            x_key = rest[0]
        arrays = {}
        for key in (x_key, y_key):
            if key is None:
                continue
            try:
                arrays[key] = archive[key]
            except ValueError as e:
                if "pickle" in str(e) or "Object arrays" in str(e):
                    raise DataError(f"{path}: array {key!r} holds Python objects (dtype "
                                    f"object); {_PICKLE_HINT}") from None
                raise DataError(f"{path}: cannot read array {key!r} ({e})") from None
            except (OSError, EOFError, zlib.error) as e:
                raise DataError(f"{path}: cannot read array {key!r} ({e})") from None
    x = arrays[x_key]
    feature_names = _structured_names(x)
    tensor = as_float_tensor(x, name=f"{path} (array {x_key!r})", feature_names=feature_names)
    return build_dataset(
        tensor,
        arrays.get(y_key) if y_key is not None else None,
        name=str(path),
        feature_names=feature_names,
        meta={"format": "npz", "x_key": x_key, "y_key": y_key},
    )
