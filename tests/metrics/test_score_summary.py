"""Score summaries in fixed memory: exact histogram counts, the top rows of a sort."""

import numpy as np
import pytest

from aekit.metrics.score_summary import StreamingHistogram, TopRows


def test_histogram_counts_are_exact_however_the_range_grows():
    rng = np.random.default_rng(0)
    # the first chunk is narrow; later ones reach far on both sides (the bins coarsen)
    chunks = [rng.normal(size=500) * 0.1, rng.normal(size=2000) * 5 + 20,
              -np.abs(rng.standard_cauchy(300)) * 10, np.array([0.7, 0.7, np.inf])]
    h = StreamingHistogram(anchor=0.7, bins=16)
    for c in chunks:
        h.add(c)
        assert len(h.counts) <= 16
    v = np.concatenate(chunks)
    v = v[np.isfinite(v)]
    assert h.count == v.size and h.non_finite == 1 and h.above == int((v > 0.7).sum())
    edges, counts = h.histogram(max_bins=1000)  # the held bins, trimmed
    assert counts.sum() == v.size
    assert np.any(np.isclose(edges, 0.7))  # the anchor is an edge
    # every value lies in its right-closed bin (to float rounding of the edges)
    j = np.searchsorted(edges, v, side="left") - 1
    np.testing.assert_array_equal(np.bincount(j, minlength=len(counts)), counts)
    edges, counts = h.histogram(max_bins=5)
    assert len(counts) <= 5 and counts.sum() == v.size


@pytest.mark.parametrize("k", [0, 1, 7, 50])
def test_top_rows_equal_a_stable_sort(k):
    rng = np.random.default_rng(1)
    s = np.round(rng.normal(size=1000), 1)  # ties decided by the row: earlier first
    extra = np.arange(1000) * 10
    top = TopRows(k)
    for start in range(0, 1000, 64):
        top.add(s[start:start + 64], start, tag=extra[start:start + 64])
    order = np.argsort(-s, kind="stable")[:k]
    np.testing.assert_array_equal(top.rows, order)
    np.testing.assert_array_equal(top.scores, s[order])
    if k:
        np.testing.assert_array_equal(top.extras["tag"], extra[order])


def test_top_contributions_and_their_shares():
    from aekit.metrics.score_summary import top_contributions

    contrib = np.array([[1.0, 3.0, 3.0, 3.0], [0.0, 0.0, 0.0, 0.0]])
    idx, share = top_contributions(contrib, 2)
    np.testing.assert_array_equal(idx, [[1, 2], [0, 1]])  # ties: the lower index first
    np.testing.assert_allclose(share, [[0.3, 0.3], [0.0, 0.0]])
    assert top_contributions(contrib.reshape(2, 2, 2), 9)[0].shape == (2, 4)
