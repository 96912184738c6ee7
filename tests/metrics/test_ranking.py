"""ranking: AUROC and AUPRC from one sort equal scikit-learn's, ties included."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from aekit.errors import DataError
from aekit.metrics.ranking import ranking


@pytest.mark.parametrize("levels", [None, 7])  # continuous scores, then heavy ties
def test_areas_equal_scikit_learns(levels):
    rng = np.random.default_rng(0)
    y = (rng.uniform(size=5000) < 0.05).astype(int)
    s = rng.normal(size=5000) + 1.5 * y
    if levels:
        s = np.round(s * levels / 4) / levels
    r = ranking(y, s)
    assert r.auroc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert r.auprc == pytest.approx(average_precision_score(y, s), abs=1e-12)
    precision, recall, _ = precision_recall_curve(y, s)  # recall falling, (1, 0) appended
    np.testing.assert_allclose(r.precision, precision[-2::-1])
    np.testing.assert_allclose(r.recall, recall[-2::-1])
    assert r.fpr[0] == r.tpr[0] == 0 and r.fpr[-1] == r.tpr[-1] == 1


def test_hand_computed_case():
    # scores 4 > 3 > 2 = 2 > 1, labels 1 0 1 0 0: the pair at 2 is one cut
    r = ranking([1, 0, 1, 0, 0], [4, 3, 2, 2, 1])
    np.testing.assert_allclose(r.tpr, [0, 0.5, 0.5, 1, 1])
    np.testing.assert_allclose(r.fpr, [0, 0, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(r.precision, [1, 0.5, 0.5, 0.4])
    assert r.auprc == pytest.approx(0.5 * 1 + 0.5 * 0.5)
    assert r.auroc == pytest.approx(1 / 3 * 0.5 + 1 / 3 * 0.75 + 1 / 3 * 1)


def test_bad_input():
    with pytest.raises(DataError, match="both classes"):
        ranking([0, 0], [1.0, 2.0])
    with pytest.raises(DataError, match="0 or 1"):
        ranking([0, 2], [1.0, 2.0])
    with pytest.raises(DataError, match="finite"):
        ranking([0, 1], [1.0, np.nan])


def test_blocks_and_thinning_keep_the_areas():
    rng = np.random.default_rng(1)
    y = (rng.uniform(size=3000) < 0.1).astype(int)
    s = np.round(rng.normal(size=3000) + y, 2)  # ties that straddle block edges
    whole = ranking(y, s)
    small = ranking(y, s, block=7, max_points=50)
    assert small.auroc == pytest.approx(whole.auroc, abs=1e-12)
    assert small.auprc == pytest.approx(whole.auprc, abs=1e-12)
    assert len(small.recall) <= 51 < len(whole.recall)
    assert small.recall[-1] == 1 and small.fpr[-1] == 1
    assert set(small.precision) <= set(whole.precision)


@pytest.mark.parametrize("max_points", [None, 40])
def test_streaming_ranking_from_many_small_runs_on_disk(tmp_path, max_points):
    # 4000 scores on 60 levels (ties everywhere, across chunks and runs), in chunks of
    # uneven length, spilled in runs of 97 pairs, merged 3 at a time in blocks of 5
    from aekit.metrics.ranking import StreamingRanking

    rng = np.random.default_rng(2)
    y = (rng.uniform(size=4000) < 0.08).astype(int)
    s = np.round(rng.normal(size=4000) + 1.2 * y, 1)
    cuts = np.sort(rng.choice(np.arange(1, 4000), 30, replace=False))
    with StreamingRanking(tmp_path, max_points=max_points, run_rows=97, fan_in=3,
                          block=5) as r:
        for yi, si in zip(np.split(y, cuts), np.split(s, cuts)):
            r.add(yi, si)
        assert len(r._sort.runs) == 4000 // 97 and any(tmp_path.iterdir())  # on disk
        streamed = r.result()
    assert not any(tmp_path.iterdir())  # the runs' folder is gone
    assert streamed.auroc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert streamed.auprc == pytest.approx(average_precision_score(y, s), abs=1e-12)
    whole = ranking(y, s, max_points=max_points)
    if max_points is None:  # every cut: the very curves of the in-memory sort
        for a, b in zip((streamed.fpr, streamed.tpr, streamed.precision),
                        (whole.fpr, whole.tpr, whole.precision)):
            np.testing.assert_array_equal(a, b)
    else:
        assert len(streamed.recall) <= max_points + 1
        assert streamed.recall[-1] == 1 and streamed.fpr[-1] == 1
        assert set(streamed.precision) <= set(ranking(y, s).precision)


def test_streaming_ranking_removes_its_runs_on_error(tmp_path):
    from aekit.metrics.ranking import StreamingRanking

    with pytest.raises(DataError, match="0 or 1"), StreamingRanking(tmp_path,
                                                                  run_rows=10) as r:
        r.add(np.arange(50) % 2, np.arange(50.0))
        assert any(tmp_path.iterdir())
        r.add([0, 3], [1.0, 2.0])
    assert not any(tmp_path.iterdir())
