"""Scoring and transforming files larger than memory, chunk by chunk."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from aekit.apps.detect import AnomalyDetector
from aekit.apps.reduce import AutoencoderReducer
from aekit.apps.streaming import map_chunks, write_chunks
from aekit.data import chunks
from aekit.data.chunks import Chunk
from aekit.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2)) @ rng.normal(size=(2, 5)) + 0.1 * rng.normal(size=(300, 5))
    return X.astype(np.float32)


def _files(X, tmp_path):
    np.savetxt(tmp_path / "x.csv", X, delimiter=",", header="a,b,c,d,e", comments="",
               fmt="%.9g")
    pq.write_table(pa.table({k: X[:, j] for j, k in enumerate("abcde")}),
                   tmp_path / "x.parquet", row_group_size=100)
    np.save(tmp_path / "x.npy", X)
    return [tmp_path / "x.csv", tmp_path / "x.parquet", tmp_path / "x.npy"]


def test_estimators_score_and_transform_files_in_chunks_as_arrays(table, tmp_path,
                                                                  monkeypatch):
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 70)  # several chunks
    det = AnomalyDetector(n_estimators=1, epochs=5, random_state=0).fit(table)
    red = AutoencoderReducer(n_components=2, epochs=5, random_state=0).fit(table)
    scores, codes = det.decision_function(table), red.transform(table)
    for path in _files(table, tmp_path):
        np.testing.assert_allclose(det.decision_function(str(path)), scores, rtol=1e-5,
                                   atol=1e-5)
        np.testing.assert_allclose(red.transform(path), codes, rtol=1e-5, atol=1e-5)


def test_write_chunks_passes_columns_through_and_refuses_clashes(table, tmp_path):
    csv = _files(table, tmp_path)[0]
    out = tmp_path / "s.csv"
    n = write_chunks(csv, out, lambda c: {"total": c.x.sum(1)}, ["total"],
                     features=["a", "b"], keep=["e"], rows=64)
    lines = out.read_text().splitlines()
    assert n == 300 and lines[0] == "e,total" and len(lines) == 301
    first = [float(v) for v in lines[1].split(",")]
    assert first == pytest.approx([table[0, 4], table[0, 0] + table[0, 1]], rel=1e-5)
    assert map_chunks(lambda x: x[:, 0], csv, rows=64).shape == (300,)
    with pytest.raises(ConfigError, match=r"already has column\(s\) \['e'\]"):
        write_chunks(csv, out, lambda c: {}, ["e"], keep=["e"])


@pytest.mark.parametrize("score_type", [None, "reconstruction+latent", "latent"])
def test_score_and_explain_is_both_calls_in_one_pass(table, score_type):
    kw = {} if score_type is None else {"score_type": score_type}
    det = AnomalyDetector(n_estimators=2, epochs=3, random_state=0, **kw).fit(table)
    scores, contrib = det.score_and_explain(table)
    assert np.array_equal(scores, det.decision_function(table))
    assert np.array_equal(contrib, det.explain(table))


def test_read_ahead_keeps_order_raises_at_the_bad_chunk_and_restores_threads():
    import torch

    from aekit.apps.streaming import read_ahead

    before = torch.get_num_threads()
    torch.set_num_threads(2)  # the reader thread takes one of them

    def chunks():
        yield from (Chunk(np.full((2, 1), k, np.float32), 2 * k) for k in range(3))
        raise DataError("line 7: bad")

    got = []
    try:
        with pytest.raises(DataError, match="line 7"):
            for chunk in read_ahead(chunks()):
                got.append((chunk.start, torch.get_num_threads()))
        assert got == [(0, 1), (2, 1), (4, 1)] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
