"""``aekit detect score`` in chunks: the same rows, scores and columns as in one piece."""

import csv
import json

import numpy as np
from click.testing import CliRunner

from aekit.cli import cli


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_chunked_scoring_writes_what_whole_scoring_writes(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(260, 2)) @ rng.normal(size=(2, 4)) + 0.1 * rng.normal(size=(260, 4))
    X[-10:, 1] += 5
    y = (np.arange(260) >= 250).astype(int)
    with open(tmp_path / "t.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "a", "b", "c", "d", "label"])
        w.writerows([[f"r{i}", *X[i], y[i]] for i in range(260)])
    res = invoke("detect", "fit", "--data", tmp_path / "t.csv", "--out", tmp_path / "det",
                 "--label-column", "label", "--n-estimators", 1, "--epochs", 10, "--quiet")
    assert res.exit_code == 0, res.output
    outs = {}
    for name, extra in (("whole", ()), ("chunks", ("--chunk-rows", 64))):
        res = invoke("detect", "score", tmp_path / "det", "--data", tmp_path / "t.csv",
                     "--out", tmp_path / name / "s.csv", "--label-column", "label", *extra)
        assert res.exit_code == 0, res.output
        assert "scored 260 rows" in res.output and "AUROC" in res.output
        with open(tmp_path / name / "s.csv") as f:
            outs[name] = list(csv.DictReader(f))
    whole, chunks = outs["whole"], outs["chunks"]
    assert list(whole[0]) == list(chunks[0])  # the same columns, in the same order
    for a, b in zip(whole, chunks, strict=True):
        assert {k: v for k, v in a.items() if k != "anomaly_score"} == \
            {k: v for k, v in b.items() if k != "anomaly_score"}
        assert float(a["anomaly_score"]) == np.float64(b["anomaly_score"]) or abs(
            float(a["anomaly_score"]) - float(b["anomaly_score"])) <= 1e-5 * abs(
            float(a["anomaly_score"]))
    res = CliRunner().invoke(cli, ["detect", "score", str(tmp_path / "det"), "--data",
                                   str(tmp_path / "t.csv"), "--out", str(tmp_path / "x.csv"),
                                   "--chunk-rows", "0"])
    assert res.exit_code == 2


def test_reduce_encodes_a_file_chunk_by_chunk(tmp_path, monkeypatch):
    from aekit.data import chunks

    monkeypatch.setattr(chunks, "CHUNK_ROWS", 50)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(180, 3)) @ rng.normal(size=(3, 6))
    np.savetxt(tmp_path / "d.csv", X, delimiter=",", header="a,b,c,d,e,f", comments="")
    res = invoke("reduce", "--data", tmp_path / "d.csv", "--epochs", 3, "--out",
                 tmp_path / "map.png", "--transform", tmp_path / "d.csv", "--transform-out",
                 tmp_path / "codes.csv", "--quiet")
    assert res.exit_code == 0, res.output
    fitted = np.loadtxt(tmp_path / "map.csv", delimiter=",", skiprows=1)
    streamed = np.loadtxt(tmp_path / "codes.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(streamed, fitted, rtol=1e-4, atol=1e-4)
    res = CliRunner().invoke(cli, ["reduce", "--data", str(tmp_path / "d.csv"), "--transform",
                                   str(tmp_path / "d.csv")])
    assert res.exit_code == 2 and "go together" in res.output


def test_train_streams_npy_shards_and_parquet_and_matches_training_in_memory(tmp_path,
                                                                             monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from safetensors.numpy import load_file

    import aekit.cli.train as cli_train
    from aekit.train import Trainer

    seen = []
    fit = Trainer.fit

    def spy(self, model, train, val=None, **kw):  # which source the trainer reads
        seen.append(type(getattr(train, "parent", train)).__name__)
        return fit(self, model, train, val, **kw)

    monkeypatch.setattr(Trainer, "fit", spy)
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(300, 3)) @ rng.normal(size=(3, 10))).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    (tmp_path / "shards").mkdir()
    for i in range(3):
        np.save(tmp_path / "shards" / f"part{i}.npy", X[100 * i:100 * (i + 1)])
    pq.write_table(pa.table({**{f"c{j}": X[:, j] for j in range(10)},
                             "label": np.arange(300) % 3}), tmp_path / "x.parquet",
                   row_group_size=100)
    common = ("--epochs", 2, "--batch-size", 32, "--latent-dim", 2, "--quiet")
    for name, args in (("memory", ("x.npy",)), ("mmap", ("x.npy", "--stream")),
                       ("shards", ("shards",)),
                       ("parquet", ("x.parquet", "--label-column", "label"))):
        res = invoke("train", "ae", "--data", tmp_path / args[0], *args[1:], "--out",
                     tmp_path / f"run_{name}", *common)
        assert res.exit_code == 0, res.output
    assert seen == ["Dataset", "MemmapSource", "ChunkSource", "ChunkSource"]
    data = json.loads((tmp_path / "run_parquet" / "data.json").read_text())
    assert data["streamed"] and data["labels"] and data["examples"] == 300
    assert (tmp_path / "run_shards" / "report.html").is_file()
    memory, mmap = (load_file(tmp_path / f"run_{n}" / "model.safetensors")
                    for n in ("memory", "mmap"))
    assert all(np.array_equal(memory[k], mmap[k]) for k in memory)  # the same training
    monkeypatch.setattr(cli_train, "STREAM_BYTES", 1000)  # a large .npy streams unasked
    res = invoke("train", "ae", "--data", tmp_path / "x.npy", "--out", tmp_path / "big",
                 *common)
    assert res.exit_code == 0 and seen[-1] == "MemmapSource"
    np.savetxt(tmp_path / "x.csv", X, delimiter=",")
    for args in (("x.csv", "--stream"), ("x.npy", "--stream", "--pretrain-epochs", 1)):
        res = CliRunner().invoke(cli, ["train", "sdae", "--data", str(tmp_path / args[0]),
                                       *args[1:], "--out", str(tmp_path / "bad"), "--quiet"])
        assert res.exit_code == 2 and "Traceback" not in res.output, res.output
