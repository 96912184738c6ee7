"""Streamed sources: memory-mapped .npy, shard folders, Parquet, torch datasets/loaders."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset, TensorDataset

import aekit
from aekit.data import stream
from aekit.data.stream import ChunkSource, MemmapSource, open_stream
from aekit.errors import ConfigError, DataError


def _model(data):
    torch.manual_seed(0)
    return aekit.create("vae", data=data, latent_dim=4, arch="mlp", hidden_dims=(32,))


def _cfg(**kw):
    return aekit.TrainConfig(**{"epochs": 2, "batch_size": 50, "progress": False, "seed": 5,
                                **kw})


def _same(a, b):
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k


@pytest.fixture
def digits400(digits_flat):
    return digits_flat.subset(torch.arange(400))


def test_memory_mapped_npy_and_torch_dataset_train_bitwise_as_data_in_memory(
        digits400, tmp_path):
    """Same seeded shuffle, same validation split, same batches: the same weights."""
    path = tmp_path / "x.npy"
    np.save(path, digits400.x.numpy())
    in_memory, mapped, torch_ds = _model(digits400), _model(digits400), _model(digits400)
    aekit.Trainer(_cfg()).fit(in_memory, digits400.x)
    aekit.Trainer(_cfg()).fit(mapped, str(path))
    aekit.Trainer(_cfg()).fit(torch_ds, TensorDataset(digits400.x))
    _same(in_memory, mapped)
    _same(in_memory, torch_ds)


def test_npy_rows_are_read_in_place_or_through_the_map_releasing_its_pages(tmp_path,
                                                                          monkeypatch):
    x = np.random.default_rng(0).random((300, 2, 3)).astype(np.float64)
    np.save(tmp_path / "x.npy", x)
    rows = np.array([299, 0, 17, 17, 150])
    source = MemmapSource(tmp_path / "x.npy")
    assert source.pread and source._fd is None  # opened at the first read
    got, _ = source.take(rows)
    assert got.dtype == torch.float32 and torch.equal(got, torch.from_numpy(x[rows]).float())
    released = []

    class Mapped:  # the map of np.load(mmap_mode="r"), recording madvise calls
        _mmap = type("M", (), {"madvise": lambda self, option: released.append(option)})()

        def __getitem__(self, index):
            return x[index]

    source.pread, source._array = False, Mapped()
    monkeypatch.setattr(stream, "_mapped_bytes", lambda: stream.RELEASE_BYTES + 1)
    assert torch.equal(source.take(rows)[0], got) and released


def test_shards_and_parquet_visit_every_row_once_per_epoch_in_a_seeded_order(tmp_path):
    x = np.arange(230 * 3, dtype=np.float32).reshape(230, 3)  # row k starts with 3k
    shards = tmp_path / "shards"
    shards.mkdir()
    np.save(shards / "a.npy", x[:100])
    np.savez(shards / "b.npz", x=x[100:170], y=np.zeros(70))
    np.save(shards / "c.npy", x[170:])
    with pytest.raises(DataError, match=r"b.npz holds labels \(y\) but .*a.npy does not"):
        ChunkSource(shards)
    np.savez(shards / "b.npz", x=x[100:170])
    table = pa.table({f"f{j}": x[:, j] for j in range(3)})
    pq.write_table(table, tmp_path / "x.parquet", row_group_size=60)
    for source in (ChunkSource(shards), open_stream(tmp_path / "x.parquet")):
        assert len(source) == 230 and source.sample_shape == (3,)
        orders = []
        for epoch in (0, 0, 1):
            parts = list(source.batches(epoch, seed=1, batch_size=64))
            assert [len(p[0]) for p in parts] == [64, 64, 64, 38]
            orders.append(torch.cat([p[0][:, 0] for p in parts]) / 3)
        assert sorted(orders[0].tolist()) == list(range(230))
        assert torch.equal(orders[0], orders[1]) and not torch.equal(orders[0], orders[2])
        # two processes split each batch between them
        halves = [list(source.batches(0, 1, 64, rank=r, size=2)) for r in (0, 1)]
        assert torch.equal(torch.cat([halves[0][0][0], halves[1][0][0]]),
                           list(source.batches(0, 1, 64))[0][0])


def test_parquet_and_loaders_train(tmp_path, digits400):
    x = digits400.x.numpy()
    pq.write_table(pa.table({f"p{j}": x[:, j] for j in range(64)}), tmp_path / "d.parquet",
                   row_group_size=100)
    for data in (str(tmp_path / "d.parquet"),
                 DataLoader(TensorDataset(digits400.x), batch_size=50, shuffle=True)):
        model = _model(digits400)
        result = aekit.Trainer(_cfg(val_fraction=0.0)).fit(model, data)
        first, last = result.history[0]["loss"], result.history[-1]["loss"]
        assert np.isfinite(last) and last < first


class _Stream(IterableDataset):
    def __iter__(self):
        yield from torch.rand(120, 64)


def test_a_stream_of_unknown_length_refuses_a_decaying_schedule_and_a_split(digits400):
    model = _model(digits400)
    with pytest.raises(ConfigError, match="lr_schedule='cosine'.*constant"):
        aekit.Trainer(_cfg(val_fraction=0.0, lr_schedule="cosine")).fit(model, _Stream())
    with pytest.raises(ConfigError, match="val_fraction=0"):
        aekit.Trainer(_cfg()).fit(model, _Stream())
    result = aekit.Trainer(_cfg(val_fraction=0.0)).fit(model, _Stream())
    assert result.history[-1]["examples_per_s"] > 0


def test_bad_streamed_data_names_the_row(tmp_path):
    x = np.zeros((50, 4), dtype=np.float32)
    x[37, 2] = np.nan
    np.save(tmp_path / "bad.npy", x)
    model = aekit.create("ae", input_shape=(4,), latent_dim=2)
    with pytest.raises(DataError, match="bad.npy: row 37 holds a NaN"):
        aekit.Trainer(_cfg(val_fraction=0.0)).fit(model, str(tmp_path / "bad.npy"))
    (tmp_path / "x.csv").write_text("a\n1\n")
    with pytest.raises(DataError, match="cannot stream this format"):
        open_stream(tmp_path / "x.csv")
