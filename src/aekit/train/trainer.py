"""The training loop: any model that follows the protocol, never branching on its type.

Each step takes one batch (a slice of the epoch's shuffled copy of tensors already on
the device), and for every optimiser group of the model, in order, computes
``model.group_loss(group, batch)``, checks it is finite, back-propagates, clips and
steps (one fused Adam/AdamW kernel call updates every tensor of the group).
Schedules are pure functions of the step, shuffling is a fixed function of (seed,
epoch), and the RNG state lives in the checkpoint, so a resumed run ends with exactly
the weights of an uninterrupted one.

Data larger than memory comes as a streamed source (:mod:`aekit.data.stream`), read a
batch at a time in the same seeded order. Under ``torchrun`` every process runs this loop
on its share of each global batch, each group's loss going through its own
DistributedDataParallel (:mod:`aekit.train.distributed`); ``precision`` runs the loss
under autocast (with a gradient scaler for fp16).

Run folder written during ``fit`` (when ``run_dir`` is given)::

    train_config.json          the TrainConfig
    metrics.jsonl              one JSON row per epoch and split (train / val)
    checkpoints/last.safetensors   resumable state, written atomically every N epochs
    checkpoints/best.safetensors   best validation weights (with early stopping)
    config.json, model.safetensors the final model (aekit.load(run_dir) reads it)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset
from tqdm.auto import tqdm

from aekit.data.dataset import Dataset
from aekit.data.stream import Source, batch_rows, epoch_order, open_stream
from aekit.devices import resolve_device
from aekit.errors import ConfigError, DataError, TrainingError
from aekit.io import atomic_write_text
from aekit.models.base import Autoencoder, Loss
from aekit.outputs import run_lock
from aekit.schedules import learning_rate
from aekit.train.checkpoint import remove_stale_temps, restore_checkpoint, save_checkpoint
from aekit.train.config import TrainConfig, autocast_dtype
from aekit.train.distributed import (
    GroupsDDP,
    World,
    all_finite,
    barrier,
    broadcast_object,
    gather_rng_states,
    init_world,
    main_process,
    process_device,
    sum_over_processes,
    sync_buffers,
)
from aekit.train.optim import LeanAdam, fused_supported

METRICS_FILE = "metrics.jsonl"
LAST_CHECKPOINT = Path("checkpoints") / "last.safetensors"
BEST_CHECKPOINT = Path("checkpoints") / "best.safetensors"
# On an accelerator, reading a loss back waits for the device: the losses are checked for
# NaN/inf once per this many steps (one wait), on the CPU after every step (no wait).
CHECK_EVERY = 100
# Training data up to this size is copied in shuffled order once per epoch (batches are
# then views, the fastest way through small batches); larger data is gathered batch by
# batch, so that training never holds two copies of it.
SHUFFLED_COPY_MAX_BYTES = 1 << 30


@dataclass
class TrainResult:
    """What ``fit`` returns: the per-epoch metric rows and how training ended."""

    history: list[dict[str, Any]] = field(default_factory=list)
    epochs_run: int = 0
    stopped_early: bool = False
    best_epoch: int | None = None
    seconds: float = 0.0

    def last(self, split: str = "train") -> dict[str, Any]:
        """The final metrics row of ``split`` (``train`` or ``val``)."""
        rows = [r for r in self.history if r["split"] == split]
        return rows[-1] if rows else {}


class _Meter:
    """Running example-weighted means of loss terms, one row per step (no syncs).

    Rows are copied into preallocated blocks of ``BLOCK`` steps: a small tensor kept alive
    per step, between the step's large temporaries, fragments the CPU heap so that it
    cannot shrink (measured: +1.5 MB of resident memory per step with batches of 4 MB).
    """

    BLOCK = 1024

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.blocks: list[torch.Tensor] = []
        self.counts: list[int] = []

    def add(self, loss: Loss, group: str, prefix: bool, count: int) -> None:
        if not self.keys:
            self.keys = [f"{group}.{k}" if prefix else k for k in ("loss", *loss.terms)]
        row = torch.stack([t.float() for t in (loss.total, *loss.terms.values())]).detach()
        i = len(self.counts) % self.BLOCK
        if i == 0:
            self.blocks.append(row.new_empty((self.BLOCK, len(row))))
        self.blocks[-1][i] = row
        self.counts.append(count)

    @property
    def rows(self) -> torch.Tensor:
        """One row per step: (loss, *terms)."""
        return self.rows_from(0)

    def rows_from(self, start: int) -> torch.Tensor:
        """Rows ``start..`` only, joining just the blocks that hold them (the accelerator
        path checks the newest steps every few steps)."""
        first = start // self.BLOCK
        return torch.cat(self.blocks[first:])[start - first * self.BLOCK:
                                             len(self.counts) - first * self.BLOCK]

    def first_nonfinite(self, start: int) -> tuple[int, float, list[str]] | None:
        """(row, total, non-finite term names) of the first row from ``start`` whose total
        is not finite (as the CPU path, which checks the total)."""
        if start >= len(self.counts):
            return None
        block = self.rows_from(start)
        bad_total = ~torch.isfinite(block[:, 0])
        if not bool(bad_total.any()):
            return None
        row = int(bad_total.nonzero()[0])
        flags = (~torch.isfinite(block[row])).tolist()
        return (start + row, float(block[row, 0]),
                [k.rsplit(".", 1)[-1] for k, f in zip(self.keys[1:], flags[1:]) if f])

    def sums(self) -> tuple[torch.Tensor, float]:
        """Example-weighted sums of every term, and the number of examples."""
        rows = self.rows
        weights = torch.tensor(self.counts, dtype=torch.float32, device=rows.device)
        return (rows * weights[:, None]).sum(0), weights.sum()

    def means(self) -> dict[str, float]:
        if not self.counts:
            return {}
        values, count = self.sums()
        return dict(zip(self.keys, (values / count).tolist()))


def _epoch_means(meters: dict[str, _Meter], world: World) -> dict[str, float]:
    """The epoch's mean loss terms over every process's examples."""
    if not world.distributed:
        return {k: v for m in meters.values() for k, v in m.means().items()}
    out = {}
    for m in meters.values():
        values, count = m.sums()
        total = sum_over_processes(torch.cat([values, count.reshape(1)]).cpu().double())
        out.update(zip(m.keys, (total[:-1] / total[-1]).tolist()))
    return out


def _memory_batches(x: torch.Tensor, y: torch.Tensor | None, order: torch.Tensor, bs: int,
                    copy_epoch: bool, world: World):
    """This process's part of each batch of data in memory, with its loss weight: the
    rows :func:`aekit.data.stream.batch_rows` plans for a streamed source, gathered; or,
    for one process and small data, views of one shuffled copy of the epoch."""
    if copy_epoch and not world.distributed:  # one shuffled copy; every batch is a view
        xs, ys = x[order], None if y is None else y[order]
        for start in range(0, len(x), bs):
            yield xs[start:start + bs], None if ys is None else ys[start:start + bs], 1.0
        return
    for rows, weight in batch_rows(order, bs, world.rank, world.size):
        yield x[rows], None if y is None else y[rows], weight


def _symbolic_ints(enabled: bool) -> contextlib.AbstractContextManager:
    """While training compiles: the model's int attributes (its step counter) stay
    symbolic. By default dynamo specialises on their values, re-traces at every new step
    while a schedule reads it (KL warm-up, capacity) and, past its recompile limit,
    silently runs eager (measured on CPU with kl_warmup_steps=500: 8 re-traces per fit,
    2 with this)."""
    config = torch._dynamo.config
    if not enabled or not hasattr(config, "allow_unspec_int_on_nn_module"):
        return contextlib.nullcontext()
    return config.patch(allow_unspec_int_on_nn_module=True)


def _reads_are_free(device: str) -> bool:
    """True where reading a loss back costs no wait for the device (the CPU)."""
    return torch.device(device).type == "cpu"


def _as_data(data: Any, name: str) -> Dataset | Source:
    """Data in memory as a :class:`Dataset`; anything else as a streamed source."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, torch.Tensor):
        return Dataset(data.float(), name=name)
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], torch.Tensor):
        return Dataset(data[0].float(), data[1], name=name)
    if isinstance(data, str | Path | Source | TorchDataset | DataLoader):
        return open_stream(data)
    raise DataError(f"{name}: expected a Dataset, a tensor, an (x, y) pair or a streamed "
                    f"source (a .npy/.parquet path, a folder of shards, a torch Dataset "
                    f"or DataLoader), got {type(data).__name__}")


def _fingerprint(ds: Dataset) -> str:
    h = hashlib.sha256()
    h.update(str(tuple(ds.x.shape)).encode())
    h.update(memoryview(ds.x.detach().cpu().contiguous().numpy()).cast("B"))  # no copy
    return h.hexdigest()[:16]


def _make_optimizer(params: list[torch.nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam or AdamW: one fused kernel call per step where torch has the kernel for these
    parameters (:class:`LeanAdam`), torch's multi-tensor implementation otherwise."""
    decoupled = cfg.optimizer == "adamw"
    if fused_supported(params):
        return LeanAdam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, decoupled=decoupled)
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True)


class Trainer:
    """Fits a model with the settings of a :class:`TrainConfig`.

    Examples
    --------
    >>> import aekit, torch
    >>> data = torch.rand(256, 12)
    >>> model = aekit.create("ae", data=data, latent_dim=3)
    >>> result = aekit.Trainer(aekit.TrainConfig(epochs=2, progress=False)).fit(model, data)
    >>> result.epochs_run
    2
    """

    def __init__(self, config: TrainConfig | None = None, run_dir: str | Path | None = None,
                 **settings: Any) -> None:
        if config is not None and settings:
            raise ConfigError("pass either a TrainConfig or keyword settings, not both")
        self.config = config or TrainConfig(**settings)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self._best_weights: dict[str, torch.Tensor] | None = None  # early stopping, no run_dir

    # -- public --------------------------------------------------------------------
    def fit(self, model: Autoencoder, train: Any, val: Any = None, *,
            resume: bool = False) -> TrainResult:
        """Train ``model`` in place on ``train`` (validating on ``val`` or a held-out part).

        ``train`` (and ``val``) is data in memory (a :class:`Dataset`, a tensor, an
        ``(x, y)`` pair) or a streamed source (:func:`aekit.data.stream.open_stream`: a
        ``.npy`` path, memory-mapped; a folder of shards; a Parquet file; a torch
        ``Dataset``, ``IterableDataset`` or ``DataLoader``), read one batch at a time.
        With ``resume=True`` training continues from ``run_dir``'s last checkpoint.
        Under ``torchrun`` (or an initialised process group) every process runs this same
        call and trains its share of each batch (see :mod:`aekit.train.distributed`).

        While it trains, ``run_dir`` is locked (:func:`aekit.outputs.run_lock`): a second
        process training into the same folder fails at once with a ConfigError naming
        the holder. Resuming first removes the temporary files an interrupted checkpoint
        or model write left there.
        """
        if resume and self.run_dir is None:
            raise ConfigError("resume=True needs the run_dir the run was started with")
        if self.run_dir is None or not main_process():  # rank 0 locks and writes
            return self._fit(model, train, val, resume)
        with run_lock(self.run_dir):
            if resume:
                remove_stale_temps(self.run_dir)
            return self._fit(model, train, val, resume)

    def _fit(self, model: Autoencoder, train: Any, val: Any, resume: bool) -> TrainResult:
        cfg = self.config
        requested = resolve_device(cfg.device)
        world = init_world(requested)
        device = process_device(requested, world)
        amp_dtype = autocast_dtype(cfg.precision, device)
        on_cpu = _reads_are_free(device)
        train_ds = _as_data(train, "train")
        expected = tuple(model.config.input_shape)
        if train_ds.sample_shape != expected:
            raise DataError(f"model expects examples of shape {expected} but "
                            f"{train_ds.name} has {train_ds.sample_shape}")
        if val is not None:
            val_ds: Dataset | Source | None = _as_data(val, "val")
        elif cfg.val_fraction > 0 and (isinstance(train_ds, Source) or len(train_ds) >= 10):
            train_ds, val_ds = train_ds.split(cfg.val_fraction, seed=cfg.seed)
        else:
            val_ds = None
        writes = self.run_dir is not None and world.main  # only rank 0 writes the run folder

        model.to(device)
        groups = model.parameter_groups()
        optimizers = {g: _make_optimizer(p, cfg) for g, p in groups.items()}
        streamed = isinstance(train_ds, Source)
        pin = torch.device(device).type == "cuda"
        if streamed:
            n_batches = train_ds.n_batches(cfg.batch_size)
            n = len(train_ds) if train_ds.sized() else None
            fingerprint = train_ds.fingerprint()
        else:
            x = train_ds.x.to(device)
            y = None if train_ds.y is None else train_ds.y.to(device)
            n = len(x)
            n_batches = math.ceil(n / cfg.batch_size)
            copy_epoch = x.numel() * x.element_size() <= SHUFFLED_COPY_MAX_BYTES
            fingerprint = _fingerprint(train_ds)
        if n_batches is None and cfg.lr_schedule != "constant":
            raise ConfigError(f"lr_schedule={cfg.lr_schedule!r} needs the number of steps, "
                              f"but {train_ds.name} does not say how many batches it holds; "
                              "use lr_schedule='constant' or give the data a length")
        total_steps = cfg.epochs * (n_batches or 0)
        scaler = torch.amp.GradScaler(torch.device(device).type) \
            if cfg.precision == "fp16" else None
        state = {"epoch": 0, "step": 0, "best_val": None, "best_epoch": None, "bad_epochs": 0,
                 "data": fingerprint}
        result = TrainResult()

        if resume:
            state = self._resume(model, optimizers, state["data"], world.rank)
            result.history = self._read_metrics(upto_epoch=state["epoch"], rewrite=writes)
            if scaler is not None and "scaler" in state:
                scaler.load_state_dict(state["scaler"])
        else:
            torch.manual_seed(cfg.seed + world.rank)  # each process its own sampling noise
            if writes:
                self.run_dir.mkdir(parents=True, exist_ok=True)
                (self.run_dir / METRICS_FILE).write_text("")
                atomic_write_text(self.run_dir / "train_config.json",
                                  json.dumps(cfg.to_dict(), indent=2))

        graphs = cfg.compile and torch.device(device).type == "cuda"
        if world.distributed:  # one DDP per group
            loss_fn = GroupsDDP(model, groups, device)
            buffers = any(True for _ in model.buffers())
        else:
            loss_fn, buffers = model.group_loss, False
        if cfg.compile:  # on a GPU with CUDA graphs: one launch replays a whole step
            loss_fn = torch.compile(loss_fn, mode="reduce-overhead" if graphs else None)
        autocast = (lambda: torch.autocast(torch.device(device).type, dtype=amp_dtype)) \
            if amp_dtype is not None else contextlib.nullcontext
        several = len(optimizers) > 1
        bar = tqdm(total=total_steps or None, initial=state["step"],
                   disable=not (cfg.progress and world.main), unit="step", dynamic_ncols=True,
                   desc=model.name)
        refresh = max(1, (n_batches or 100) // 5)
        start = time.perf_counter()
        with _symbolic_ints(cfg.compile):
            try:
                for epoch in range(state["epoch"], cfg.epochs):
                    model.train()
                    t0 = time.perf_counter()
                    meters = {name: _Meter() for name in optimizers}
                    lr = cfg.lr
                    if streamed:
                        batches = train_ds.batches(epoch, cfg.seed, cfg.batch_size, world.rank,
                                                   world.size, workers=cfg.workers, pin=pin)
                    else:
                        batches = _memory_batches(x, y, epoch_order(n, cfg.seed, epoch).to(
                            device), cfg.batch_size, copy_epoch, world)
                    first_step, checked, seen = state["step"], 0, 0
                    for i, (xb, yb, weight) in enumerate(batches):
                        if streamed:
                            xb = xb.to(device, non_blocking=pin)
                            yb = None if yb is None else yb.to(device, non_blocking=pin)
                        batch = (xb, yb)
                        count = len(xb) if weight else 0
                        seen += count
                        step = state["step"]
                        lr = learning_rate(step, total_steps, cfg.lr, cfg.lr_schedule,
                                           cfg.warmup_steps)
                        model.set_step(step)
                        for name, opt in optimizers.items():
                            if graphs:  # the previous step's graph outputs may be reused
                                torch.compiler.cudagraph_mark_step_begin()
                            with autocast():
                                loss = loss_fn(name, batch)
                            if world.distributed:
                                self._check_all(loss, name, epoch, step, several)
                            elif on_cpu:
                                self._check_finite(loss, name, epoch, step, several)
                            for g in opt.param_groups:
                                g["lr"] = lr
                            opt.zero_grad(set_to_none=True)
                            total = loss.total if weight == 1.0 else loss.total * weight
                            if scaler is not None:
                                scaler.scale(total).backward()
                                if cfg.grad_clip is not None:
                                    scaler.unscale_(opt)
                            else:
                                total.backward()
                            if cfg.grad_clip is not None:
                                torch.nn.utils.clip_grad_norm_(groups[name], cfg.grad_clip)
                            if scaler is not None:
                                scaler.step(opt)
                            else:
                                opt.step()
                            meters[name].add(loss, name, several, count)
                        if scaler is not None:
                            scaler.update()
                        if buffers:
                            sync_buffers(model)
                        state["step"] = step + 1
                        last = n_batches is not None and i + 1 == n_batches
                        if not on_cpu and not world.distributed and (
                                last or (i + 1) % CHECK_EVERY == 0):
                            self._check_meters(meters, checked, epoch, first_step)
                            checked = i + 1
                        bar.update(1)
                        if (i + 1) % refresh == 0 and cfg.progress and world.main:
                            bar.set_postfix({k: f"{v:.4g}" for m in meters.values()
                                             for k, v in m.means().items()}, refresh=False)
                    if not on_cpu and not world.distributed:
                        self._check_meters(meters, checked, epoch, first_step)
                    seconds = time.perf_counter() - t0
                    means = _epoch_means(meters, world)
                    examples = n
                    if examples is None:  # a stream of unknown length: count what it gave
                        examples = int(sum_over_processes(torch.tensor([seen]))[0]) \
                            if world.distributed else seen
                    row = {"epoch": epoch + 1, "step": state["step"], "split": "train",
                           **means, "lr": lr, "time": seconds,
                           "examples_per_s": examples / seconds}
                    rows = [row]
                    if val_ds is not None:
                        val_row = self.evaluate(model, val_ds, workers=cfg.workers) \
                            if world.main else None
                        if world.distributed:  # every process decides on rank 0's numbers
                            val_row = broadcast_object(val_row)
                        rows.append({"epoch": epoch + 1, "step": state["step"], "split": "val",
                                     **val_row})
                    result.history += rows
                    if writes:
                        self._append_metrics(rows)
                    bar.set_postfix({k: f"{v:.4g}" for k, v in rows[-1].items()
                                     if k in ("loss", "recon", "kl")}, refresh=True)
                    state["epoch"] = epoch + 1
                    if scaler is not None:
                        state["scaler"] = scaler.state_dict()
                    stop = self._early_stopping(state, rows[-1], val_ds is not None, model,
                                                optimizers, writes)
                    if self.run_dir is not None and cfg.checkpoint_every and (
                            (epoch + 1) % cfg.checkpoint_every == 0 or epoch + 1 == cfg.epochs
                            or stop):
                        rng = gather_rng_states(world)  # every process takes part
                        if writes:
                            save_checkpoint(self.run_dir / LAST_CHECKPOINT, model, optimizers,
                                            state, rng)
                    if stop:
                        result.stopped_early = True
                        break
            finally:
                bar.close()
        if result.stopped_early and cfg.restore_best:
            if world.distributed:
                barrier()  # rank 0 has written the best checkpoint
            if self.run_dir is not None and (self.run_dir / BEST_CHECKPOINT).is_file():
                restore_checkpoint(self.run_dir / BEST_CHECKPOINT, model, restore_rng=False)
            elif self._best_weights is not None:  # no run folder: the in-memory copy
                model.load_state_dict(self._best_weights)
        self._best_weights = None
        result.epochs_run = state["epoch"]
        result.best_epoch = state["best_epoch"]
        result.seconds = time.perf_counter() - start
        model.eval()
        if writes:
            model.save(self.run_dir)
        return result

    @staticmethod
    def evaluate(model: Autoencoder, data: Any, batch_size: int = 1024,
                 workers: int = 0) -> dict[str, float]:
        """Mean loss terms of every optimiser group over ``data`` (in memory or streamed,
        see :meth:`fit`), in eval mode."""
        ds = _as_data(data, "data")
        device = model.device
        groups = list(model.parameter_groups())
        was_training = model.training
        model.eval()
        meters = {name: _Meter() for name in groups}
        if isinstance(ds, Source):
            batches = ((xb, yb) for xb, yb, _ in ds.batches(
                0, 0, batch_size, shuffle=False, workers=workers))
        else:
            batches = ((ds.x[i:i + batch_size], None if ds.y is None else
                        ds.y[i:i + batch_size]) for i in range(0, len(ds), batch_size))
        with torch.inference_mode():
            for xb, yb in batches:
                xb, yb = xb.to(device), None if yb is None else yb.to(device)
                for name in groups:
                    meters[name].add(model.group_loss(name, (xb, yb)), name, len(groups) > 1,
                                     len(xb))
        model.train(was_training)
        return {k: v for m in meters.values() for k, v in m.means().items()}

    # -- helpers -------------------------------------------------------------------
    def _check_finite(self, loss: Loss, group: str, epoch: int, step: int,
                      several: bool) -> None:
        """Stop at once on a non-finite loss (the CPU path: reading it costs no wait)."""
        total = loss.total.item()
        if not math.isfinite(total):
            bad = [k for k, v in loss.terms.items() if not bool(torch.isfinite(v).all())]
            raise self._nonfinite(total, bad, group if several else None, epoch, step)

    def _check_all(self, loss: Loss, group: str, epoch: int, step: int,
                   several: bool) -> None:
        """Under several processes: stop all of them together when any loss is non-finite
        (one small all-reduce per step; a process stopping alone would leave the others
        waiting for its gradients)."""
        if not all_finite(loss.total):
            self._check_finite(loss, group, epoch, step, several)
            where = f"group '{group}', " if several else ""
            raise TrainingError(f"loss became non-finite in another training process at "
                                f"epoch {epoch + 1}, step {step} ({where}see its message)")

    def _check_meters(self, meters: dict[str, _Meter], start: int, epoch: int,
                      first_step: int) -> None:
        """The accelerator path: the recorded losses of steps ``start..`` of this epoch;
        the earliest bad step wins (groups in stepping order within a step)."""
        found = [(f[0], i, name, f) for i, (name, meter) in enumerate(meters.items())
                 if (f := meter.first_nonfinite(start)) is not None]
        if found:
            row, _, name, (_, total, bad) = min(found, key=lambda f: f[:2])
            raise self._nonfinite(total, bad, name if len(meters) > 1 else None, epoch,
                                  first_step + row)

    def _nonfinite(self, total: float, bad: list[str], group: str | None, epoch: int,
                   step: int) -> TrainingError:
        where = f"group '{group}', " if group is not None else ""
        terms = (f"non-finite term(s): {', '.join(repr(k) for k in bad)}" if bad
                 else "the total is non-finite")
        ckpt = ""
        if self.run_dir is not None and (self.run_dir / LAST_CHECKPOINT).is_file():
            ckpt = f"; the last good checkpoint is {self.run_dir / LAST_CHECKPOINT}"
        return TrainingError(
            f"loss became {total} at epoch {epoch + 1}, step {step} "
            f"({where}{terms}); try a lower lr, grad_clip, or check the data{ckpt}"
        )

    def _early_stopping(self, state: dict[str, Any], val_row: dict[str, Any], has_val: bool,
                        model: Autoencoder, optimizers: dict, writes: bool) -> bool:
        patience = self.config.early_stopping_patience
        if patience is None or not has_val:
            return False
        value = val_row["loss"] if "loss" in val_row else next(
            v for k, v in val_row.items() if k.endswith(".loss"))
        if state["best_val"] is None or value < state["best_val"]:
            state.update(best_val=value, best_epoch=state["epoch"], bad_epochs=0)
            if self.run_dir is not None:
                if writes:
                    save_checkpoint(self.run_dir / BEST_CHECKPOINT, model, optimizers, state)
            elif self.config.restore_best:
                self._best_weights = {k: v.detach().clone()
                                      for k, v in model.state_dict().items()}
            return False
        state["bad_epochs"] += 1
        return state["bad_epochs"] >= patience

    def _resume(self, model: Autoencoder, optimizers: dict, fingerprint: str,
                rank: int) -> dict[str, Any]:
        assert self.run_dir is not None
        path = self.run_dir / LAST_CHECKPOINT
        if not path.is_file():
            raise ConfigError(f"cannot resume: no checkpoint at {path}")
        state = restore_checkpoint(path, model, optimizers, rank=rank)
        if state.get("data") != fingerprint:
            raise DataError(f"cannot resume {self.run_dir}: the training data differs from "
                            "the data the run was started with")
        return state

    def _read_metrics(self, upto_epoch: int, rewrite: bool) -> list[dict[str, Any]]:
        assert self.run_dir is not None
        path = self.run_dir / METRICS_FILE
        lines = [(i + 1, line) for i, line in enumerate(
            path.read_text(encoding="utf-8").splitlines() if path.is_file() else [])
            if line.strip()]
        rows = []
        for k, (number, line) in enumerate(lines):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                row = None
            if isinstance(row, dict) and isinstance(row.get("epoch"), int):
                rows.append(row)
            elif k + 1 < len(lines):  # only the last line can be torn by a crash
                raise DataError(f"{path}: line {number} is not a metrics row; fix or "
                                "delete that line, then resume")
        rows = [r for r in rows if r["epoch"] <= upto_epoch]
        if rewrite:
            atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))
        return rows

    def _append_metrics(self, rows: list[dict[str, Any]]) -> None:
        if self.run_dir is None:
            return
        with open(self.run_dir / METRICS_FILE, "a", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
