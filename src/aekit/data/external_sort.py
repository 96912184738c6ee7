"""Sorting more (key, tag) pairs than memory holds: sorted runs on disk, merged a block
at a time.

:class:`ExternalSort` collects pairs chunk by chunk. While fewer than ``run_rows`` are
held they stay in memory; beyond that each ``run_rows`` of them are sorted (decreasing
key) and written as a *run* to a private temporary folder. :meth:`ExternalSort.blocks`
then yields every pair in decreasing key order, a block at a time, by merging the runs:
each run is read ``block`` pairs at a time, and a round hands out every buffered pair
whose key is ``>=`` the largest of the runs' smallest buffered keys (no unread pair can
exceed it), so memory holds ``fan_in`` buffers of ``block`` pairs whatever the total.
With more than ``fan_in`` runs, groups of ``fan_in`` are first merged into longer runs.
The folder is removed when the sort is closed (use it as a context manager), on an error
or an interrupt too.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from aekit.errors import ConfigError

__all__ = ["ExternalSort"]


RUN_ROWS = 1 << 21
"""(key, tag) pairs held in memory before they are sorted and written to disk as one run,
by default (2M pairs of a float64 and an int8: 19 MB)."""


class ExternalSort:
    """(float64 key, small integer tag) pairs, handed back in decreasing key order.

    Parameters
    ----------
    folder : str or Path
        Where the temporary folder of runs is made (on the first spill; a new name,
        ``.aekit-sort-*``, so no existing file is touched).
    run_rows : int
        Pairs held in memory before they are sorted and written as one run.
    fan_in : int
        Runs merged at once (each with a buffer of ``block`` pairs).
    block : int
        Pairs read from a run at a time.
    tag_dtype : numpy dtype
        The tags' type (e.g. ``np.int8`` for 0/1 labels).
    """

    def __init__(self, folder: str | Path, *, run_rows: int = RUN_ROWS, fan_in: int = 64,
                 block: int = 1 << 15, tag_dtype: Any = np.int8) -> None:
        if run_rows < 1 or block < 1 or fan_in < 2:
            raise ConfigError(f"run_rows and block must be >= 1 and fan_in >= 2, got "
                              f"{run_rows}, {block} and {fan_in}")
        self.parent, self.run_rows, self.fan_in, self.block = Path(folder), run_rows, \
            fan_in, block
        self.dtype = np.dtype([("key", "<f8"), ("tag", tag_dtype)])
        self.folder: Path | None = None  # made on the first spill
        self.runs: list[Path] = []
        self._made = 0  # runs written, merged ones included (their names)
        self._held: list[np.ndarray] = []
        self._n_held = 0
        self.count = 0

    def add(self, keys: Any, tags: Any) -> None:
        """Add pairs (two arrays of one length)."""
        records = np.empty(len(keys), self.dtype)
        records["key"], records["tag"] = keys, tags
        self._held.append(records)
        self._n_held += len(records)
        self.count += len(records)
        while self._n_held >= self.run_rows:
            held = np.concatenate(self._held)
            self._write_run(_decreasing(held[:self.run_rows]))
            self._held, self._n_held = [held[self.run_rows:]], len(held) - self.run_rows

    def _new_run(self) -> Path:
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix=".aekit-sort-", dir=self.parent))
        self._made += 1
        return self.folder / f"run{self._made}.bin"

    def _write_run(self, records: np.ndarray) -> None:
        path = self._new_run()
        records.tofile(path)
        self.runs.append(path)

    def blocks(self) -> Iterator[np.ndarray]:
        """Every pair added so far (a structured array with fields ``key`` and ``tag``), in
        decreasing key order (ties in any order), a block at a time."""
        if not self.runs:  # everything fitted in memory
            held = _decreasing(np.concatenate([np.empty(0, self.dtype), *self._held]))
            self._held = [held]
            for start in range(0, len(held), self.block):
                yield held[start:start + self.block]
            return
        if self._n_held:
            self._write_run(_decreasing(np.concatenate(self._held)))
            self._held, self._n_held = [], 0
        while len(self.runs) > self.fan_in:  # merge passes until one merge is enough
            group, self.runs = self.runs[:self.fan_in], self.runs[self.fan_in:]
            path = self._new_run()
            with open(path, "wb") as f:
                for part in self._merge(group):
                    part.tofile(f)
            for p in group:
                p.unlink()
            self.runs.append(path)
        yield from self._merge(self.runs)

    def _merge(self, paths: list[Path]) -> Iterator[np.ndarray]:
        with contextlib.ExitStack() as stack:
            files = [stack.enter_context(open(p, "rb")) for p in paths]
            buffers = [np.fromfile(f, self.dtype, self.block) for f in files]
            live = [i for i, b in enumerate(buffers) if len(b)]
            while live:
                cut = max(buffers[i]["key"][-1] for i in live)  # no unread key exceeds it
                parts = []
                for i in live:
                    keys = buffers[i]["key"]
                    n = len(keys) - int(np.searchsorted(keys[::-1], cut, side="left"))
                    parts.append(buffers[i][:n])
                    buffers[i] = buffers[i][n:]
                    if not len(buffers[i]):
                        buffers[i] = np.fromfile(files[i], self.dtype, self.block)
                yield _decreasing(np.concatenate(parts))
                live = [i for i in live if len(buffers[i])]

    def close(self) -> None:
        """Remove the runs and their folder."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
        self.runs, self._held, self._n_held = [], [], 0

    def __enter__(self) -> ExternalSort:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _decreasing(records: np.ndarray) -> np.ndarray:
    return records[np.argsort(records["key"], kind="stable")[::-1]]
