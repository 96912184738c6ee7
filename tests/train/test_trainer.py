"""Trainer: determinism, exact resume, atomic checkpoints, NaN stop, early stopping."""

import json
import os
import shutil

import pytest
import torch

import aekit
from aekit.errors import DataError, TrainingError
from aekit.models.base import Loss
from aekit.train import checkpoint as ckpt_mod
from aekit.train.checkpoint import read_checkpoint
from aekit.train.trainer import LAST_CHECKPOINT


def _model(data, seed=0, name="vae"):
    torch.manual_seed(seed)
    return aekit.create(name, data=data, latent_dim=4, arch="mlp", hidden_dims=(32,))


def _cfg(**kw):
    base = dict(epochs=4, batch_size=64, progress=False, seed=7)
    return aekit.TrainConfig(**{**base, **kw})


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_same_seed_same_data_bitwise_identical_weights(digits_flat):
    data = digits_flat.subset(torch.arange(600))
    a, b = _model(data), _model(data)
    aekit.Trainer(_cfg()).fit(a, data)
    aekit.Trainer(_cfg()).fit(b, data)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k


def test_large_data_gathered_per_batch_trains_exactly_as_the_shuffled_copy(digits_flat,
                                                                          monkeypatch):
    """Above SHUFFLED_COPY_MAX_BYTES the trainer gathers each batch instead of copying the
    data per epoch: same batches in the same order, so bitwise the same weights."""
    from aekit.train import trainer as trainer_module

    data = digits_flat.subset(torch.arange(600))
    views = {}

    def fit(model, key):
        original = model.loss
        views[key] = []
        model.loss = lambda batch: views[key].append(batch[0]._base is not None) or original(
            batch)
        aekit.Trainer(_cfg(val_fraction=0.0)).fit(model, data)

    copied, gathered = _model(data), _model(data)
    fit(copied, "copied")
    monkeypatch.setattr(trainer_module, "SHUFFLED_COPY_MAX_BYTES", 0)
    fit(gathered, "gathered")
    assert all(views["copied"]) and not any(views["gathered"])  # views vs gathered tensors
    for (k, va), vb in zip(copied.state_dict().items(), gathered.state_dict().values()):
        assert torch.equal(va, vb), k


def test_resume_ends_with_the_weights_of_the_uninterrupted_run(digits_flat, tmp_path):
    data = digits_flat.subset(torch.arange(600))
    full = _model(data)
    aekit.Trainer(_cfg(epochs=5), run_dir=tmp_path / "full").fit(full, data)

    part = _model(data)
    aekit.Trainer(_cfg(epochs=2), run_dir=tmp_path / "part").fit(part, data)
    # a new process would start from a fresh model object: simulate that
    resumed = _model(data, seed=123)
    result = aekit.Trainer(_cfg(epochs=5), run_dir=tmp_path / "part").fit(
        resumed, data, resume=True)
    assert result.epochs_run == 5
    for (k, va), vb in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(va, vb), k
    rows = [json.loads(r) for r in (tmp_path / "part" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows if r["split"] == "train"] == [1, 2, 3, 4, 5]


def test_resume_refuses_different_data(digits_flat, tmp_path):
    data = digits_flat.subset(torch.arange(300))
    aekit.Trainer(_cfg(epochs=1), run_dir=tmp_path).fit(_model(data), data)
    other = digits_flat.subset(torch.arange(300, 600))
    with pytest.raises(DataError, match="training data differs"):
        aekit.Trainer(_cfg(epochs=2), run_dir=tmp_path).fit(_model(other), other, resume=True)


def test_checkpoint_write_is_atomic(digits_flat, tmp_path, monkeypatch):
    data = digits_flat.subset(torch.arange(300))
    model = _model(data)
    aekit.Trainer(_cfg(epochs=1), run_dir=tmp_path).fit(model, data)
    path = tmp_path / LAST_CHECKPOINT
    before = path.read_bytes()

    def killed_mid_write(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"partial garbage")
        raise KeyboardInterrupt("killed during write")

    monkeypatch.setattr(ckpt_mod, "save_file", killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        aekit.Trainer(_cfg(epochs=3), run_dir=tmp_path).fit(model, data, resume=True)
    assert path.read_bytes() == before
    tensors, meta = read_checkpoint(path)
    assert meta["trainer"]["epoch"] == 1
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def _poison_kl(model, from_step: int, factor: float) -> None:
    """From step ``from_step`` on, the model's KL term (and so its loss) times ``factor``."""
    original = model.loss

    def poisoned(batch):
        loss = original(batch)
        if model.step < from_step:
            return loss
        kl = loss.terms["kl"] * factor
        return Loss(loss.terms["recon"] + kl, {"recon": loss.terms["recon"], "kl": kl})

    model.loss = poisoned


def test_nan_loss_names_step_and_term_and_keeps_last_checkpoint(digits_flat, tmp_path):
    data = digits_flat.subset(torch.arange(256))
    model = _model(data)
    trainer = aekit.Trainer(_cfg(epochs=3), run_dir=tmp_path)
    trainer.fit(model, data)  # leaves a good checkpoint
    _poison_kl(model, from_step=13, factor=float("nan"))
    with pytest.raises(TrainingError, match=r"step 13 .*'kl'.*last good checkpoint"):
        aekit.Trainer(_cfg(epochs=6), run_dir=tmp_path).fit(model, data, resume=True)
    read_checkpoint(tmp_path / LAST_CHECKPOINT)  # still loadable


def test_early_stopping_restores_best(digits_flat, tmp_path):
    data = digits_flat.subset(torch.arange(400))
    model = _model(data)
    cfg = _cfg(epochs=40, lr=0.05, early_stopping_patience=2)
    result = aekit.Trainer(cfg, run_dir=tmp_path).fit(model, data)
    assert result.stopped_early and result.epochs_run < 40
    assert result.best_epoch is not None
    val = [r["loss"] for r in result.history if r["split"] == "val"]
    assert min(val) == pytest.approx(val[result.best_epoch - 1])


def test_save_load_round_trip_is_bit_identical(digits, tmp_path):
    model = aekit.create("vae", data=digits, latent_dim=4, likelihood="gaussian_learned")
    aekit.Trainer(_cfg(epochs=1)).fit(model, digits)
    model.save(tmp_path / "m")
    loaded = aekit.load(tmp_path / "m")
    x = digits.x[:20]
    assert torch.equal(model.reconstruct(x), loaded.reconstruct(x))
    assert torch.equal(model.embed(x), loaded.embed(x))
    assert loaded.config == model.config


def test_wrong_input_shape_is_a_clear_error(digits):
    model = aekit.create("ae", input_shape=(64,), likelihood="bernoulli")
    with pytest.raises(DataError, match=r"expects examples of shape \(64,\).*\(1, 8, 8\)"):
        aekit.Trainer(_cfg(epochs=1)).fit(model, digits)


def test_grad_clip_and_schedules_run(digits_flat):
    data = digits_flat.subset(torch.arange(200))
    cfg = _cfg(epochs=2, grad_clip=1.0, lr_schedule="cosine", warmup_steps=2,
               optimizer="adamw", weight_decay=0.01)
    result = aekit.Trainer(cfg).fit(_model(data), data)
    assert result.last("train")["lr"] < 1e-3


def test_accelerator_path_checks_recorded_losses_and_names_the_step(digits_flat, monkeypatch):
    """On a GPU the losses are read back every CHECK_EVERY steps: the error still names
    the first bad step and term (exercised here on the CPU through the same method)."""
    from aekit.train import trainer as trainer_module

    data = digits_flat.subset(torch.arange(256))
    model = _model(data)
    _poison_kl(model, from_step=5, factor=float("inf"))
    monkeypatch.setattr(trainer_module, "_reads_are_free", lambda device: False)
    monkeypatch.setattr(trainer_module, "CHECK_EVERY", 3)
    with pytest.raises(TrainingError, match=r"loss became inf at epoch 2, step 5 .*'kl'"):
        aekit.Trainer(_cfg(epochs=3)).fit(model, data)


@pytest.mark.skipif(shutil.which(os.environ.get("CXX", "g++")) is None,
                    reason="torch.compile on the CPU needs a C++ compiler")
def test_compiled_training_follows_step_schedules_without_retracing(digits_flat):
    """compile=True reads the step counter symbolically: the annealed capacity of a
    beta-VAE matches eager training step for step, and dynamo traces the loss once per
    batch shape (it would re-trace at every step, then fall back to eager, otherwise)."""
    from torch._dynamo.utils import counters

    data = digits_flat.subset(torch.arange(640))

    def capacities(compile_: bool) -> list[float]:
        model = aekit.create("beta_vae", data=data, latent_dim=4, capacity_max=5.0,
                             capacity_steps=30)
        cfg = _cfg(epochs=3, val_fraction=0.0, compile=compile_)
        return [row["capacity"] for row in aekit.Trainer(cfg).fit(model, data).history]

    counters.clear()
    compiled = capacities(True)
    assert counters["frames"]["total"] <= 2
    assert compiled == pytest.approx(capacities(False), abs=1e-5)
    assert compiled == pytest.approx([0.75, 5 * 14.5 / 30, 5 * 24.5 / 30], abs=1e-5)


def test_accelerator_path_names_the_earliest_bad_step_over_groups(digits_flat, monkeypatch):
    """Two optimiser groups: the later group goes bad at an earlier step; that step (and
    group) is named, as the CPU path would."""
    from aekit.train import trainer as trainer_module

    data = digits_flat.subset(torch.arange(256))
    model = aekit.create("aae", data=data, latent_dim=4)
    first, later = list(model.parameter_groups())[:2]
    original = model.group_loss

    def poisoned(group, batch):
        loss = original(group, batch)
        bad_from = {first: 6, later: 2}.get(group)
        if bad_from is not None and model.step >= bad_from:
            return Loss(loss.total * float("nan"), loss.terms)
        return loss

    model.group_loss = poisoned
    monkeypatch.setattr(trainer_module, "_reads_are_free", lambda device: False)
    with pytest.raises(TrainingError, match=rf"epoch 1, step 2 \(group '{later}'"):
        aekit.Trainer(_cfg(epochs=2, val_fraction=0.0)).fit(model, data)


def test_meter_rows_from_any_step_span_blocks(monkeypatch):
    """The loss log keeps rows in blocks; reading from any step gives the same rows."""
    import torch

    from aekit.models.base import Loss
    from aekit.train.trainer import _Meter

    monkeypatch.setattr(_Meter, "BLOCK", 4)
    meter = _Meter()
    for step in range(11):
        value = torch.tensor(float(step))
        meter.add(Loss(total=value, terms={"recon": 2 * value}), "model", False, 1)
    assert meter.rows.shape == (11, 2)
    for start in range(12):
        assert torch.equal(meter.rows_from(start), meter.rows[start:])
    assert meter.first_nonfinite(5) is None


def test_a_bare_trainer_locks_its_run_dir_against_a_second_process(digits_flat, tmp_path):
    """Without the CLI: a second process training into a run_dir in use is refused at
    once (naming the holder), nothing of it is written there, and the lock goes with the
    training that held it."""
    import subprocess
    import sys

    from aekit.errors import ConfigError
    from aekit.outputs import LOCK_FILE

    run = tmp_path / "run"
    holder_code = (
        "import sys, time, torch, aekit\n"
        "data = torch.rand(64, 8)\n"
        "model = aekit.create('ae', data=data, latent_dim=2, hidden_dims=(8,))\n"
        "loss = model.loss\n"
        "def slow(batch):\n"
        "    print('training', flush=True); time.sleep(60); return loss(batch)\n"
        "model.loss = slow\n"
        "aekit.Trainer(epochs=1, progress=False, val_fraction=0.0, run_dir=sys.argv[1])"
        ".fit(model, data)\n")
    holder = subprocess.Popen([sys.executable, "-c", holder_code, str(run)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "training"
        data = digits_flat.subset(torch.arange(64))
        with pytest.raises(ConfigError, match=f"in use by process {holder.pid}"):
            aekit.Trainer(_cfg(epochs=1), run_dir=run).fit(_model(data), data)
        assert sorted(p.name for p in run.iterdir()) == [LOCK_FILE, "metrics.jsonl",
                                                        "train_config.json"]  # the holder's
    finally:
        holder.kill()
        holder.wait()
    data = digits_flat.subset(torch.arange(64))
    aekit.Trainer(_cfg(epochs=1), run_dir=run).fit(_model(data), data)  # holder gone
    assert not (run / LOCK_FILE).exists()


def test_a_lock_this_process_holds_is_kept_not_taken_twice(digits_flat, tmp_path):
    from aekit.outputs import LOCK_FILE, RunLock

    data = digits_flat.subset(torch.arange(64))
    with RunLock(tmp_path) as lock:  # e.g. aekit.runs.train_run around the Trainer
        aekit.Trainer(_cfg(epochs=1), run_dir=tmp_path).fit(_model(data), data)
        assert (tmp_path / LOCK_FILE).is_file() and lock.path == tmp_path / LOCK_FILE
    assert not (tmp_path / LOCK_FILE).exists()


def test_resume_removes_temp_files_of_interrupted_writes(digits_flat, tmp_path):
    data = digits_flat.subset(torch.arange(128))
    aekit.Trainer(_cfg(epochs=1), run_dir=tmp_path).fit(_model(data), data)
    left = [tmp_path / "checkpoints" / ".last.safetensors.4242.abcd1234.tmp",
            tmp_path / ".model.safetensors.4242.abcd1234.tmp"]
    for path in left:
        path.write_bytes(b"half a file")
    mine = tmp_path / "notes.tmp"  # not a name an atomic write uses: kept
    mine.write_text("mine")
    aekit.Trainer(_cfg(epochs=2), run_dir=tmp_path).fit(_model(data), data, resume=True)
    assert not any(p.exists() for p in left) and mine.read_text() == "mine"
