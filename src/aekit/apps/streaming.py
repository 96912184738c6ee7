"""Scoring and transforming inputs larger than memory, one chunk of rows at a time.

:func:`map_chunks` applies an estimator's method (``decision_function``, ``transform``)
to every chunk of a CSV/Parquet/.npy file and joins the results (one small row of output
per input row); :func:`write_chunks` writes the result rows to a file as each chunk is
done, next to the input columns it passes through, so memory stays at one chunk however
long the input is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from aekit.data import chunks
from aekit.data.chunks import Chunk, ChunkReader, ChunkWriter
from aekit.data.dataset import Dataset
from aekit.errors import ConfigError

__all__ = ["as_table", "file_features", "map_chunks", "map_file", "read_ahead",
           "write_chunks"]


def file_features(estimator: Any) -> list[str] | None:
    """The feature columns an estimator was fitted on, when it knows their names (a
    table file's other columns are then not features); None: every column."""
    names = getattr(estimator, "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]


def map_file(estimator: Any, method: Callable[[Any], np.ndarray], source: str | Path, *,
             rows: int | None = None) -> np.ndarray:
    """A fitted estimator's ``method`` (``decision_function``, ``transform``) of every
    chunk of the file ``source``, concatenated along the rows. A table's feature columns
    are those the estimator was fitted on (:func:`file_features`), and each chunk reaches
    ``method`` as a :class:`~aekit.data.Dataset` named with them, so the estimator's
    feature-name check sees the columns it was fitted on."""
    features = file_features(estimator)
    if features is None:
        return map_chunks(method, source, features=None, rows=rows)
    return map_chunks(lambda x: method(as_table(x, features, source)), source,
                      features=features, rows=rows)


def as_table(x: np.ndarray, features: Sequence[str], source: str | Path = "chunk") -> Dataset:
    """A chunk's rows as a :class:`~aekit.data.Dataset` whose columns are ``features``
    (what an estimator fitted on a table checks its input against)."""
    return Dataset(torch.from_numpy(np.ascontiguousarray(x)), name=str(source),
                   feature_names=list(features))


def read_ahead(chunks: Iterable[Chunk]) -> Iterator[Chunk]:
    """The chunks of ``chunks`` in order, each next one read by a background thread while
    the caller works on the current one (parsing a CSV then overlaps the scoring, whose
    torch kernels release the GIL); at most two chunks are held. A reading error is raised
    here, at the chunk it concerns."""
    it = iter(chunks)
    with ThreadPoolExecutor(1, thread_name_prefix="aekit-read") as pool, _reader_core():
        pending = pool.submit(next, it, None)
        while (chunk := pending.result()) is not None:
            pending = pool.submit(next, it, None)
            yield chunk


@contextlib.contextmanager
def _reader_core() -> Iterator[None]:
    """torch computes with one thread fewer while the reader thread parses (at least one):
    on a 2-core machine the reader and torch's two threads would be three busy threads,
    and torch's threads spin at each of the many small kernels' barriers waiting for a
    descheduled partner (measured on the shared 2-core machine: the latent k-NN of 65,536
    rows at 4,774 rows/s with 2 threads, 76,454 with 1)."""
    n = torch.get_num_threads()
    torch.set_num_threads(max(1, n - 1))
    try:
        yield
    finally:
        torch.set_num_threads(n)


def map_chunks(fn: Callable[[np.ndarray], np.ndarray], source: str | Path, *,
               features: Sequence[str] | None = None, rows: int | None = None,
               progress: bool = False) -> np.ndarray:
    """``fn`` of every chunk of ``source``'s features, concatenated along the rows.

    Parameters
    ----------
    fn : callable
        Maps a float32 array of rows to one result per row, e.g. a fitted detector's
        ``decision_function`` or a reducer's ``transform``.
    source : str or Path
        A CSV/TSV (with a header), Parquet or ``.npy`` file.
    features : sequence of str, optional
        The feature columns of a table (default: all).
    rows : int, optional
        Rows per chunk (default :data:`aekit.data.chunks.CHUNK_ROWS`).
    progress : bool
        Show a progress bar (rows).
    """
    reader = ChunkReader(source, features=features, rows=rows or chunks.CHUNK_ROWS)
    parts = []
    with tqdm(disable=not progress, unit="row", unit_scale=True, desc=Path(source).name) as bar:
        for chunk in read_ahead(reader):
            parts.append(np.asarray(fn(chunk.x)))
            bar.update(len(chunk.x))
    return np.concatenate(parts)


def write_chunks(source: str | Path, out: str | Path,
                 compute: Callable[[Chunk], dict[str, Any]], out_columns: Sequence[str], *,
                 features: Sequence[str] | None = None, keep: Sequence[str] = (),
                 values: Sequence[str] | None = None, rows: int | None = None,
                 progress: bool = False) -> int:
    """Read ``source`` in chunks and write, for every row, the ``keep`` columns followed by
    ``compute(chunk)``'s ``out_columns`` to ``out`` (``.csv`` or ``.parquet``); returns the
    number of rows. ``out`` appears only once every chunk is written.

    ``compute`` finds the ``values`` columns (default: ``keep``) in ``chunk.kept``. When
    ``keep`` is every column of a CSV written to a CSV, each row's input text is copied
    as it is (:attr:`~aekit.data.chunks.Chunk.text`) rather than split and joined again.
    """
    clash = [c for c in out_columns if c in keep]
    if clash:
        raise ConfigError(f"{source} already has column(s) {clash} that the output adds")
    values = list(keep if values is None else values)
    probe = ChunkReader(source, features=features, keep=values)
    text = probe.kind == "csv" and Path(out).suffix.lower() != ".parquet" \
        and list(keep) == probe.header
    if text and features is None:  # the features are the columns not kept, as without
        features = [c for c in probe.header if c not in keep]
    reader = ChunkReader(source, features=features,
                         keep=values if text else list(dict.fromkeys([*keep, *values])),
                         rows=rows or chunks.CHUNK_ROWS, text=text)
    with ChunkWriter(out, [*keep, *out_columns]) as writer, tqdm(
            disable=not progress, unit="row", unit_scale=True,
            desc=Path(source).name) as bar:
        for chunk in read_ahead(reader):
            if text:
                writer.write(compute(chunk), text=chunk.text)
            else:
                writer.write({**chunk.kept, **compute(chunk)})
            bar.update(len(chunk.x))
    return writer.rows
