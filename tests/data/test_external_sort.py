"""ExternalSort: every pair back, in decreasing key order, through runs on disk."""

import numpy as np
import pytest

from aekit.data.external_sort import ExternalSort


@pytest.mark.parametrize("run_rows,fan_in", [(10_000, 4), (50, 64), (37, 2)])
def test_pairs_come_back_sorted_and_complete(tmp_path, run_rows, fan_in):
    # in memory only; one merge; several merge passes (37-pair runs merged 2 at a time)
    rng = np.random.default_rng(0)
    keys = np.round(rng.normal(size=2000), 1)  # many ties
    tags = rng.integers(0, 100, 2000)
    with ExternalSort(tmp_path, run_rows=run_rows, fan_in=fan_in, block=7) as sort:
        for k, t in zip(np.array_split(keys, 9), np.array_split(tags, 9)):
            sort.add(k, t)
        out = np.concatenate(list(sort.blocks()))
        assert len(sort.runs) == {10_000: 0, 50: 40, 37: 2}[run_rows]  # merged down to 2
        assert sort._made == {10_000: 0, 50: 40, 37: 55 + 53}[run_rows]
    assert not any(tmp_path.iterdir())
    assert np.all(np.diff(out["key"]) <= 0)
    got = sorted(zip(out["key"].tolist(), out["tag"].tolist()))
    assert got == sorted(zip(keys.tolist(), tags.tolist()))


def test_nothing_added_gives_no_blocks(tmp_path):
    with ExternalSort(tmp_path) as sort:
        assert sum(len(b) for b in sort.blocks()) == 0
