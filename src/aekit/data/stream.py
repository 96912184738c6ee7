"""Data larger than memory: sources the trainer reads one batch at a time.

:func:`open_stream` turns what a user has into a source:

- a ``.npy`` file, read in place (:class:`MemmapSource`): any row can be gathered, so
  each epoch is a seeded shuffle of all rows, exactly as for data in memory; a batch is
  read from the OS page cache into its own buffer, so the process's resident memory
  stays near one batch however large the file is.
- a folder of ``.npy``/``.npz`` shards or a Parquet file (:class:`ChunkSource`): read one
  shard (one Parquet row group) at a time; each epoch visits the chunks in a seeded
  order and shuffles the rows within each, and batches run on across chunk boundaries.
- any ``torch.utils.data.Dataset`` (:class:`TorchSource`, gathered like a memory map),
  ``IterableDataset`` or ``DataLoader`` (:class:`LoaderSource`, used as it is).

Every source yields float32 tensors ``(B, *sample_shape)`` and optional labels; a
non-finite value stops training with the row it is in.
"""

from __future__ import annotations

import hashlib
import math
import mmap
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset
from torch.utils.data import Dataset as TorchDataset
from torch.utils.data._utils.collate import default_collate

from aekit.data.dataset import Dataset
from aekit.errors import ConfigError, DataError

__all__ = ["ChunkSource", "LoaderSource", "MemmapSource", "RowSource", "Source",
           "TorchSource", "batch_rows", "head_dataset", "open_stream"]

# Gathering through a memory map, the pages mapped are handed back to the OS past this size.
RELEASE_BYTES = 256 << 20
Batch = tuple[torch.Tensor, torch.Tensor | None]


def _finite(x: np.ndarray, name: str, rows: np.ndarray | None) -> np.ndarray:
    """``x`` as float32, or a DataError naming the first row holding a NaN/inf."""
    x = np.asarray(x, dtype=np.float32)
    ok = np.isfinite(x.reshape(len(x), -1)).all(1)
    if not ok.all():
        bad = int(np.argmin(ok))
        row = int(rows[bad]) if rows is not None else bad
        raise DataError(f"{name}: row {row} holds a NaN or infinite value")
    return x


def _npy_header(f: Any) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran order, dtype) from the header of the .npy file open in ``f``."""
    version = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) \
        else np.lib.format.read_array_header_2_0
    return read(f)


def _batch(item: Any) -> Batch:
    """``(x, y)`` from what a torch dataset or loader yields: a tensor, or (x, y)."""
    if isinstance(item, torch.Tensor | np.ndarray):
        return torch.as_tensor(item).float(), None
    if isinstance(item, list | tuple) and len(item) in (1, 2):
        y = None if len(item) == 1 or item[1] is None else torch.as_tensor(item[1])
        return torch.as_tensor(item[0]).float(), y
    raise DataError(f"a batch must be a tensor or an (x, y) pair, got {type(item).__name__}")


class Source:
    """What the trainer needs of a streamed source."""

    name: str = "stream"
    sample_shape: tuple[int, ...] = ()

    def __len__(self) -> int:
        raise TypeError(f"{self.name}: the number of examples is not known in advance")

    def sized(self) -> bool:
        """True when ``len(self)`` is known before reading."""
        try:
            len(self)
        except TypeError:
            return False
        return True

    def fingerprint(self) -> str:
        """A short digest that changes when the data does (resume refuses other data)."""
        raise NotImplementedError

    def head(self, n: int = 1024) -> torch.Tensor:
        """The first ``n`` examples as a tensor (e.g. to build a model with ``create``)."""
        raise NotImplementedError

    def split(self, fraction: float, seed: int) -> tuple[Source, Source]:
        """``(rest, held_out)`` for validation."""
        raise ConfigError(f"{self.name}: a {type(self).__name__} cannot hold out a "
                          "validation part; pass val data or set val_fraction=0")

    def batches(self, epoch: int, seed: int, batch_size: int, rank: int = 0, size: int = 1,
                shuffle: bool = True, workers: int = 0, pin: bool = False
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None, float]]:
        """This process's part of each global batch of one epoch, with its loss weight
        ``local_count * size / global_count`` (0 for a process whose part is empty: it
        then computes on one row of the batch, so that all processes take the same steps).
        """
        raise NotImplementedError

    def n_batches(self, batch_size: int) -> int | None:
        """Global batches per epoch, when known."""
        return math.ceil(len(self) / batch_size) if self.sized() else None


def share(n_global: int, rank: int, size: int) -> tuple[slice, float]:
    """Rows of a global batch that process ``rank`` takes, and its loss weight."""
    bounds = [n_global * r // size for r in range(size + 1)]
    lo, hi = bounds[rank], bounds[rank + 1]
    if hi == lo:
        return slice(0, 1), 0.0
    return slice(lo, hi), (hi - lo) * size / n_global


def batch_rows(order: torch.Tensor, batch_size: int, rank: int = 0, size: int = 1
               ) -> Iterator[tuple[torch.Tensor, float]]:
    """The rows of each global batch of ``order`` (``batch_size`` at a time) that process
    ``rank`` of ``size`` takes, with its loss weight (:func:`share`)."""
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        part, weight = share(len(rows), rank, size)
        yield rows[part], weight


def _own_generator(seed: int, epoch: int) -> torch.Generator:
    """A DataLoader's own generator: without one it draws its workers' seed from the global
    RNG, and the model's sampling noise would differ from training on data in memory."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch + 1)


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The seeded shuffle of epoch ``epoch`` (the trainer's in-memory path uses it too)."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


class RowSource(Source):
    """A source whose rows can be gathered in any order."""

    def take(self, rows: np.ndarray) -> Batch:
        """The examples at ``rows`` (int64 indices)."""
        raise NotImplementedError

    def subset(self, rows: np.ndarray) -> RowSource:
        """A view of the examples at ``rows``."""
        return _Subset(self, rows)

    def head(self, n: int = 1024) -> torch.Tensor:
        return self.take(np.arange(min(n, len(self))))[0]

    def split(self, fraction: float, seed: int) -> tuple[Source, Source]:
        n_held = max(1, int(round(len(self) * fraction)))
        if n_held >= len(self):
            raise DataError(f"{self.name}: {len(self)} examples are too few to hold out "
                            f"{fraction:.0%}")
        perm = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed)).numpy()
        return self.subset(perm[n_held:]), self.subset(perm[:n_held])

    def fingerprint(self) -> str:
        n = len(self)
        rows = np.unique(np.linspace(0, n - 1, num=min(n, 64)).astype(np.int64))
        h = hashlib.sha256(f"{n}:{self.sample_shape}".encode())
        h.update(np.ascontiguousarray(self.take(rows)[0].numpy()).tobytes())
        return h.hexdigest()[:16]

    def batches(self, epoch, seed, batch_size, rank=0, size=1, shuffle=True, workers=0,
                pin=False):
        n = len(self)
        order = epoch_order(n, seed, epoch) if shuffle else torch.arange(n)
        plan, weights = [], []
        for rows, w in batch_rows(order, batch_size, rank, size):
            plan.append(rows.numpy())
            weights.append(w)
        loader = DataLoader(_Gather(self), batch_size=None, sampler=plan, num_workers=workers,
                            pin_memory=pin, generator=_own_generator(seed, epoch))
        for (x, y), w in zip(loader, weights):
            yield x, y, w


class _Gather(TorchDataset):
    """``ds[rows]`` gathers a whole batch (so a DataLoader worker prefetches batches)."""

    def __init__(self, source: RowSource) -> None:
        self.source = source

    def __getitem__(self, rows: np.ndarray) -> Batch:
        return self.source.take(rows)


class _Subset(RowSource):
    def __init__(self, parent: RowSource, rows: np.ndarray) -> None:
        self.parent, self.rows = parent, np.asarray(rows, dtype=np.int64)
        self.name, self.sample_shape = parent.name, parent.sample_shape

    def __len__(self) -> int:
        return len(self.rows)

    def take(self, rows: np.ndarray) -> Batch:
        return self.parent.take(self.rows[rows])


class MemmapSource(RowSource):
    """A ``.npy`` file read in place, never whole, with optional labels ``y`` (in memory).

    The file is opened as ``np.load(path, mmap_mode="r")`` opens it (shape, dtype, data
    offset). A batch of rows is then gathered with one positioned read (``os.preadv``)
    per row into the batch's own buffer: the rows come from the OS page cache, and the
    process holds only the batch. (Gathering through the memory map itself maps far more
    than it reads: each random row faults in the kernel's whole fault-around window,
    64 KB, and those pages count in the process's resident memory - measured 8 GB after
    50 batches of 4,096 random 1 KB rows of a 13 GB file. Fortran-ordered files and
    systems without ``preadv`` gather through the map, handing its pages back every
    ``RELEASE_BYTES`` of mapped memory with ``madvise(MADV_DONTNEED)``.)
    """

    def __init__(self, path: str | Path, y: Any = None) -> None:
        self.path = Path(path)
        self.name = str(path)
        try:
            probe = np.load(self.path, mmap_mode="r")
        except (OSError, ValueError) as e:
            raise DataError(f"{path}: not a readable .npy file ({e})") from None
        if not isinstance(probe, np.ndarray) or probe.ndim < 2 or len(probe) == 0:
            raise DataError(f"{path}: expected an array of examples with shape (N, ...), got "
                            f"shape {getattr(probe, 'shape', None)}")
        if not (np.issubdtype(probe.dtype, np.number) or probe.dtype == np.bool_):
            raise DataError(f"{path}: dtype {probe.dtype} is not numeric")
        self.shape, self.dtype = probe.shape, probe.dtype
        self.sample_shape = tuple(int(s) for s in probe.shape[1:])
        self.offset = int(probe.offset)
        self.pread = probe.flags.c_contiguous and hasattr(os, "preadv")
        del probe
        self.y = None if y is None else torch.as_tensor(np.asarray(y))
        if self.y is not None and len(self.y) != self.shape[0]:
            raise DataError(f"{path}: {self.shape[0]} examples but {len(self.y)} labels")
        self._fd: int | None = None  # opened lazily in each (worker) process
        self._array: np.ndarray | None = None

    def __getstate__(self) -> dict:  # a DataLoader worker opens the file itself
        return {**self.__dict__, "_fd": None, "_array": None}

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)

    def __len__(self) -> int:
        return self.shape[0]

    def take(self, rows: np.ndarray) -> Batch:
        rows = np.asarray(rows, dtype=np.int64)
        x = self._read_rows(rows) if self.pread else self._mapped_rows(rows)
        x = _finite(x, self.name, rows)
        return torch.from_numpy(x), None if self.y is None else self.y[torch.from_numpy(rows)]

    def _read_rows(self, rows: np.ndarray) -> np.ndarray:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY)
        out = np.empty((len(rows), *self.sample_shape), dtype=self.dtype)
        size = out[0].nbytes if len(rows) else 0
        view = memoryview(out).cast("B")
        for i, r in enumerate(rows.tolist()):
            if os.preadv(self._fd, [view[i * size:(i + 1) * size]],
                         self.offset + r * size) != size:
                raise DataError(f"{self.path}: row {r} is cut short (truncated file?)")
        return out

    def _mapped_rows(self, rows: np.ndarray) -> np.ndarray:
        if self._array is None:
            self._array = np.load(self.path, mmap_mode="r")
        x = np.array(self._array[rows])
        mapped = _mapped_bytes()
        if mapped is not None and mapped > RELEASE_BYTES and hasattr(mmap, "MADV_DONTNEED"):
            self._array._mmap.madvise(mmap.MADV_DONTNEED)
        return x


def _mapped_bytes() -> int | None:
    """File-backed resident memory of this process (Linux), or None where unknown."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[2]) * mmap.PAGESIZE
    except (OSError, ValueError, IndexError):
        return None


class TorchSource(RowSource):
    """A map-style ``torch.utils.data.Dataset`` whose items are ``x`` or ``(x, y)``."""

    def __init__(self, dataset: TorchDataset, name: str | None = None) -> None:
        self.dataset = dataset
        self.name = name or type(dataset).__name__
        try:
            self._n = len(dataset)  # type: ignore[arg-type]
        except TypeError:
            raise DataError(f"{self.name}: a map-style Dataset needs __len__") from None
        if self._n == 0:
            raise DataError(f"{self.name}: the data is empty (0 examples)")
        self.sample_shape = tuple(self.take(np.arange(1))[0].shape[1:])

    def __len__(self) -> int:
        return self._n

    def take(self, rows: np.ndarray) -> Batch:
        x, y = _batch(default_collate([self.dataset[int(i)] for i in rows]))
        _finite(x.numpy(), self.name, rows)
        return x, y


class ChunkSource(Source):
    """Shards read one at a time: a folder of ``.npy``/``.npz`` files (sorted by name;
    an ``.npz`` holds ``x`` and optionally ``y``, or one array) or a Parquet file (one
    chunk per row group; numeric columns are features, ``label_column`` the labels)."""

    def __init__(self, path: str | Path, label_column: str | None = None,
                 chunks: list[int] | None = None) -> None:
        self.path, self.name, self.label_column = Path(path), str(path), label_column
        if self.path.is_dir():
            self.files = sorted(p for p in self.path.iterdir()
                                if p.suffix in (".npy", ".npz") and p.is_file())
            if not self.files:
                raise DataError(f"{path}: no .npy or .npz shards in this folder")
            if label_column is not None:
                raise ConfigError("label_column= applies to Parquet files only, not to a "
                                  "folder of shards (an .npz shard carries its labels as y)")
            self.rows = [self._shard_rows(f) for f in self.files]
            labelled = [f for f in self.files if f.suffix == ".npz" and _has_labels(f)]
            if labelled and len(labelled) < len(self.files):
                other = next(f for f in self.files if f not in labelled)
                raise DataError(f"{labelled[0]} holds labels (y) but {other} does not: give "
                                "every shard labels, or none")
        else:
            pq = _parquet()
            try:
                meta = pq.ParquetFile(self.path).metadata
            except (OSError, ValueError) as e:
                raise DataError(f"{path}: not a readable Parquet file ({e})") from None
            self.files = []
            self.rows = [meta.row_group(k).num_rows for k in range(meta.num_row_groups)]
        self.chunks = list(range(len(self.rows))) if chunks is None else chunks
        if not sum(self.rows[c] for c in self.chunks):
            raise DataError(f"{path}: the data is empty (0 examples)")
        first = self.read_chunk(next(c for c in self.chunks if self.rows[c]))[0]
        self.sample_shape = tuple(first.shape[1:])

    def _shard_rows(self, f: Path) -> int:
        try:
            if f.suffix == ".npy":
                return int(np.load(f, mmap_mode="r").shape[0])
            with np.load(f) as z:
                key = "x" if "x" in z.files else z.files[0]
                with zipfile.ZipFile(f) as zf, zf.open(f"{key}.npy") as member:
                    return int(_npy_header(member)[0][0])
        except (OSError, ValueError, KeyError, IndexError, zipfile.BadZipFile) as e:
            raise DataError(f"{f}: not a readable shard ({e})") from None

    def __len__(self) -> int:
        return sum(self.rows[c] for c in self.chunks)

    def read_chunk(self, k: int) -> Batch:
        """Chunk ``k`` (a shard file or a row group) as tensors."""
        if self.files:
            f = self.files[k]
            if f.suffix == ".npy":
                x, y = np.load(f), None
            else:
                with np.load(f) as z:
                    x = z["x"] if "x" in z.files else z[z.files[0]]
                    y = z["y"] if "y" in z.files else None
            where = str(f)
        else:
            table = _parquet().ParquetFile(self.path).read_row_group(k)
            names = [c for c in table.column_names if c != self.label_column]
            if self.label_column is not None and self.label_column not in table.column_names:
                raise DataError(f"{self.path}: no column {self.label_column!r}; columns: "
                                f"{', '.join(table.column_names)}")
            try:
                x = np.stack([table.column(c).to_numpy(zero_copy_only=False)
                              .astype(np.float32) for c in names], 1)
            except (ValueError, TypeError) as e:
                raise DataError(f"{self.path}: row group {k}: a feature column is not "
                                f"numeric ({e})") from None
            y = None if self.label_column is None else \
                table.column(self.label_column).to_numpy(zero_copy_only=False)
            where = f"{self.path} (row group {k})"
        if self.sample_shape and tuple(x.shape[1:]) != self.sample_shape:
            raise DataError(f"{where}: examples of shape {tuple(x.shape[1:])}, the first "
                            f"chunk's are {self.sample_shape}")
        return torch.from_numpy(_finite(x, where, None)), \
            None if y is None else torch.from_numpy(np.array(y))  # a writable copy

    def head(self, n: int = 1024) -> torch.Tensor:
        parts, got = [], 0
        for c in self.chunks:
            if got >= n:
                break
            x = self.read_chunk(c)[0][:n - got]
            parts.append(x)
            got += len(x)
        return torch.cat(parts)

    def split(self, fraction: float, seed: int) -> tuple[Source, Source]:
        if len(self.chunks) < 2:
            return super().split(fraction, seed)
        perm = torch.randperm(len(self.chunks),
                              generator=torch.Generator().manual_seed(seed)).tolist()
        n_held = min(len(perm) - 1, max(1, int(round(len(perm) * fraction))))
        held = sorted(self.chunks[i] for i in perm[:n_held])
        rest = sorted(self.chunks[i] for i in perm[n_held:])
        return self._view(rest), self._view(held)

    def _view(self, chunks: list[int]) -> ChunkSource:
        view = object.__new__(ChunkSource)
        view.__dict__.update(self.__dict__, chunks=chunks)
        return view

    def fingerprint(self) -> str:
        h = hashlib.sha256(f"{self.rows}:{self.chunks}:{self.sample_shape}".encode())
        h.update(self.head(64).numpy().tobytes())
        return h.hexdigest()[:16]

    def batches(self, epoch, seed, batch_size, rank=0, size=1, shuffle=True, workers=0,
                pin=False):
        stream = _ChunkBatches(self, epoch, seed, batch_size, rank, size, shuffle)
        # one worker reads ahead; several would each replay the whole stream
        loader = DataLoader(stream, batch_size=None, num_workers=min(workers, 1),
                            pin_memory=pin, generator=_own_generator(seed, epoch))
        yield from loader


class _ChunkBatches(IterableDataset):
    def __init__(self, source: ChunkSource, epoch: int, seed: int, batch_size: int,
                 rank: int, size: int, shuffle: bool) -> None:
        self.args = source, epoch, seed, batch_size, rank, size, shuffle

    def __iter__(self):
        source, epoch, seed, bs, rank, size, shuffle = self.args
        g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        order = torch.randperm(len(source.chunks), generator=g).tolist() if shuffle \
            else range(len(source.chunks))
        xs: list[torch.Tensor] = []
        ys: list[torch.Tensor | None] = []
        held = 0
        for k in order:
            x, y = source.read_chunk(source.chunks[k])
            if shuffle:
                perm = torch.randperm(len(x), generator=g)
                x, y = x[perm], None if y is None else y[perm]
            xs.append(x)
            ys.append(y)
            held += len(x)
            while held >= bs:
                batch, xs, ys, held = _cut(xs, ys, bs)
                yield _local(batch, rank, size)
        if held:
            yield _local(_cut(xs, ys, held)[0], rank, size)


def _cut(xs: list, ys: list, n: int) -> tuple[Batch, list, list, int]:
    """The first ``n`` rows of the held chunks, and what remains."""
    x, y = torch.cat(xs), None if ys[0] is None else torch.cat(ys)
    return (x[:n], None if y is None else y[:n]), [x[n:]], [None if y is None else y[n:]], \
        len(x) - n


def _local(batch: Batch, rank: int, size: int) -> tuple[torch.Tensor, torch.Tensor | None,
                                                        float]:
    x, y = batch
    part, w = share(len(x), rank, size)
    return x[part].clone(), None if y is None else y[part].clone(), w


class LoaderSource(Source):
    """A user's ``DataLoader`` or ``IterableDataset`` (batched here with ``batch_size``),
    used as it is: its own order, its own batches. Under several processes each process
    iterates its own loader, so shard it (e.g. ``DistributedSampler``; its ``set_epoch``
    is called every epoch) so that every process yields the same number of batches."""

    def __init__(self, data: DataLoader | IterableDataset, name: str | None = None) -> None:
        self.data = data
        self.name = name or type(data).__name__
        first = next(iter(self._loader(2)), None)
        if first is None:
            raise DataError(f"{self.name}: the data is empty (0 examples)")
        self.sample_shape = tuple(_batch(first)[0].shape[1:])

    def _loader(self, batch_size: int, workers: int = 0, pin: bool = False) -> DataLoader:
        if isinstance(self.data, DataLoader):
            return self.data
        return DataLoader(self.data, batch_size=batch_size, num_workers=workers,
                          pin_memory=pin)

    def __len__(self) -> int:
        if isinstance(self.data, DataLoader) and self.data.batch_size is None:
            raise TypeError(f"{self.name}: the number of examples is not known")
        return len(self.data.dataset if isinstance(self.data, DataLoader)  # type: ignore
                   else self.data)

    def n_batches(self, batch_size: int) -> int | None:
        try:
            return len(self._loader(batch_size))
        except TypeError:
            return None

    def head(self, n: int = 1024) -> torch.Tensor:
        parts, got = [], 0
        for item in self._loader(min(n, 1024)):
            parts.append(_batch(item)[0])
            got += len(parts[-1])
            if got >= n:
                break
        return torch.cat(parts)[:n]

    def fingerprint(self) -> str:
        return hashlib.sha256(f"{type(self.data).__name__}:{self.sample_shape}".encode()
                              ).hexdigest()[:16]

    def batches(self, epoch, seed, batch_size, rank=0, size=1, shuffle=True, workers=0,
                pin=False):
        loader = self._loader(batch_size, workers, pin)
        sampler = getattr(loader, "sampler", None)
        if callable(getattr(sampler, "set_epoch", None)):
            sampler.set_epoch(epoch)
        for item in loader:
            x, y = _batch(item)
            _finite(x.numpy(), self.name, None)
            yield x, y, 1.0


def _has_labels(f: Path) -> bool:
    with np.load(f) as z:
        return "y" in z.files


def _parquet():
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError("reading Parquet needs pyarrow: pip install 'aekit[parquet]'"
                          ) from None
    return pq


def open_stream(source: Any, *, y: Any = None, label_column: str | None = None,
                name: str | None = None) -> Source:
    """A streamed source for ``source``.

    Parameters
    ----------
    source : str, Path, torch Dataset, IterableDataset, DataLoader or Source
        A ``.npy`` file (memory-mapped), a folder of ``.npy``/``.npz`` shards, a
        ``.parquet`` file, or a torch data object.
    y : array-like, optional
        Labels for a ``.npy`` file (kept in memory).
    label_column : str, optional
        The label column of a Parquet file.
    name : str, optional
        Name used in messages.
    """
    if isinstance(source, Source):
        return source
    if isinstance(source, DataLoader | IterableDataset):
        return LoaderSource(source, name)
    if isinstance(source, TorchDataset):
        return TorchSource(source, name)
    if isinstance(source, str | Path):
        path = Path(source).expanduser()
        if not path.exists():
            raise DataError(f"no such file or directory: {source}")
        if y is not None and path.suffix != ".npy":
            raise ConfigError("y= applies to a .npy file only (shards and Parquet carry "
                              "their labels)")
        if path.is_dir() or path.suffix == ".parquet":
            return ChunkSource(path, label_column)
        if label_column is not None:
            raise ConfigError("label_column= applies to Parquet files only")
        if path.suffix == ".npy":
            return MemmapSource(path, y)
        raise DataError(f"{source}: cannot stream this format; stream a .npy file, a "
                        "folder of .npy/.npz shards or a .parquet file")
    raise DataError(f"cannot stream a {type(source).__name__}; pass a path, a torch "
                    "Dataset, an IterableDataset or a DataLoader")


def head_dataset(data: Dataset | Source, n: int) -> Dataset:
    """The first ``n`` examples of ``data``, in memory or streamed, with their labels (if
    any) as a :class:`~aekit.data.Dataset` (what a report plots, what ``create`` sizes a
    model by)."""
    if isinstance(data, Dataset):
        return Dataset(data.x[:n], None if data.y is None else data.y[:n], name=data.name,
                       feature_names=data.feature_names, class_names=data.class_names)
    x, y, _ = next(iter(data.batches(0, 0, n, shuffle=False)))
    return Dataset(x, y, name=data.name)
