"""The training loop: any model that follows the protocol, never branching on its type.

Each step takes one batch (a slice of the epoch's shuffled copy of tensors already on
the device), and for every optimiser group of the model, in order, computes
``model.group_loss(group, batch)``, checks it is finite, back-propagates, clips and
steps (one fused Adam/AdamW kernel call updates every tensor of the group).
Schedules are pure functions of the step, shuffling is a fixed function of (seed,
epoch), and the RNG state lives in the checkpoint, so a resumed run ends with exactly
the weights of an uninterrupted one.

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
from tqdm.auto import tqdm

from aekit.data.dataset import Dataset
from aekit.errors import ConfigError, DataError, TrainingError
from aekit.io import atomic_write_text
from aekit.models.base import Autoencoder, Loss
from aekit.schedules import learning_rate
from aekit.train.checkpoint import restore_checkpoint, save_checkpoint
from aekit.train.config import TrainConfig, resolve_device
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
    """Running example-weighted means of loss terms, one stacked tensor per step (no syncs)."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.rows: list[torch.Tensor] = []
        self.counts: list[int] = []

    def add(self, loss: Loss, group: str, prefix: bool, count: int) -> None:
        if not self.keys:
            self.keys = [f"{group}.{k}" if prefix else k for k in ("loss", *loss.terms)]
        self.rows.append(torch.stack([loss.total, *loss.terms.values()]).detach())
        self.counts.append(count)

    def first_nonfinite(self, start: int) -> tuple[int, float, list[str]] | None:
        """(row, total, non-finite term names) of the first row from ``start`` whose total
        is not finite (as the CPU path, which checks the total)."""
        if start >= len(self.rows):
            return None
        block = torch.stack(self.rows[start:])
        bad_total = ~torch.isfinite(block[:, 0])
        if not bool(bad_total.any()):
            return None
        row = int(bad_total.nonzero()[0])
        flags = (~torch.isfinite(block[row])).tolist()
        return (start + row, float(block[row, 0]),
                [k.rsplit(".", 1)[-1] for k, f in zip(self.keys[1:], flags[1:]) if f])

    def means(self) -> dict[str, float]:
        if not self.rows:
            return {}
        weights = torch.tensor(self.counts, dtype=torch.float32, device=self.rows[0].device)
        values = (torch.stack(self.rows).float() * weights[:, None]).sum(0) / weights.sum()
        return dict(zip(self.keys, values.tolist()))


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


def _as_dataset(data: Any, name: str) -> Dataset:
    if isinstance(data, Dataset):
        return data
    if isinstance(data, torch.Tensor):
        return Dataset(data.float(), name=name)
    if isinstance(data, tuple) and len(data) == 2:
        return Dataset(data[0].float(), data[1], name=name)
    raise DataError(f"{name}: expected a Dataset, a tensor or an (x, y) pair, "
                    f"got {type(data).__name__}")


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

        With ``resume=True`` training continues from ``run_dir``'s last checkpoint.
        """
        cfg = self.config
        device = resolve_device(cfg.device)
        on_cpu = _reads_are_free(device)
        train_ds = _as_dataset(train, "train")
        expected = tuple(model.config.input_shape)
        if train_ds.sample_shape != expected:
            raise DataError(f"model expects examples of shape {expected} but "
                            f"{train_ds.name} has {train_ds.sample_shape}")
        if val is not None:
            val_ds: Dataset | None = _as_dataset(val, "val")
        elif cfg.val_fraction > 0 and len(train_ds) >= 10:
            train_ds, val_ds = train_ds.split(cfg.val_fraction, seed=cfg.seed)
        else:
            val_ds = None
        if resume and self.run_dir is None:
            raise ConfigError("resume=True needs the run_dir the run was started with")

        model.to(device)
        groups = model.parameter_groups()
        optimizers = {g: _make_optimizer(p, cfg) for g, p in groups.items()}
        x, y = train_ds.x.to(device), None if train_ds.y is None else train_ds.y.to(device)
        n, bs = len(x), cfg.batch_size
        copy_epoch = x.numel() * x.element_size() <= SHUFFLED_COPY_MAX_BYTES
        n_batches = math.ceil(n / bs)
        total_steps = cfg.epochs * n_batches
        state = {"epoch": 0, "step": 0, "best_val": None, "best_epoch": None, "bad_epochs": 0,
                 "data": _fingerprint(train_ds)}
        result = TrainResult()

        if resume:
            state = self._resume(model, optimizers, state["data"])
            result.history = self._read_metrics(upto_epoch=state["epoch"])
        else:
            torch.manual_seed(cfg.seed)
            if self.run_dir is not None:
                self.run_dir.mkdir(parents=True, exist_ok=True)
                (self.run_dir / METRICS_FILE).write_text("")
                atomic_write_text(self.run_dir / "train_config.json",
                                  json.dumps(cfg.to_dict(), indent=2))

        graphs = cfg.compile and torch.device(device).type == "cuda"
        loss_fn = model.group_loss
        if cfg.compile:  # on a GPU with CUDA graphs: one launch replays a whole step
            loss_fn = torch.compile(loss_fn, mode="reduce-overhead" if graphs else None)
        bar = tqdm(total=total_steps, initial=state["step"], disable=not cfg.progress,
                   unit="step", dynamic_ncols=True, desc=model.name)
        refresh = max(1, n_batches // 5)
        start = time.perf_counter()
        with _symbolic_ints(cfg.compile):
            try:
                for epoch in range(state["epoch"], cfg.epochs):
                    model.train()
                    t0 = time.perf_counter()
                    perm = torch.randperm(n, generator=torch.Generator().manual_seed(
                        cfg.seed * 1_000_003 + epoch)).to(device)
                    meters = {name: _Meter() for name in optimizers}
                    lr = cfg.lr
                    if copy_epoch:  # one shuffled copy; every batch is then a view
                        xs, ys, order = x[perm], None if y is None else y[perm], None
                    else:  # data too large to copy: gather each batch
                        xs, ys, order = x, y, perm
                    first_step, checked = state["step"], 0
                    for i in range(n_batches):
                        rows = slice(i * bs, (i + 1) * bs) if order is None else order[
                            i * bs:(i + 1) * bs]
                        batch = (xs[rows], None if ys is None else ys[rows])
                        step = state["step"]
                        lr = learning_rate(step, total_steps, cfg.lr, cfg.lr_schedule,
                                           cfg.warmup_steps)
                        model.set_step(step)
                        for name, opt in optimizers.items():
                            if graphs:  # the previous step's graph outputs may be reused
                                torch.compiler.cudagraph_mark_step_begin()
                            loss = loss_fn(name, batch)
                            if on_cpu:
                                self._check_finite(loss, name, epoch, step, len(optimizers) > 1)
                            for g in opt.param_groups:
                                g["lr"] = lr
                            opt.zero_grad(set_to_none=True)
                            loss.total.backward()
                            if cfg.grad_clip is not None:
                                torch.nn.utils.clip_grad_norm_(groups[name], cfg.grad_clip)
                            opt.step()
                            meters[name].add(loss, name, len(optimizers) > 1, len(batch[0]))
                        state["step"] = step + 1
                        if not on_cpu and (i + 1 == n_batches or (i + 1) % CHECK_EVERY == 0):
                            self._check_meters(meters, checked, epoch, first_step)
                            checked = i + 1
                        bar.update(1)
                        if (i + 1) % refresh == 0 and cfg.progress:
                            bar.set_postfix({k: f"{v:.4g}" for m in meters.values()
                                             for k, v in m.means().items()}, refresh=False)
                    seconds = time.perf_counter() - t0
                    row = {"epoch": epoch + 1, "step": state["step"], "split": "train",
                           **{k: v for m in meters.values() for k, v in m.means().items()},
                           "lr": lr,
                           "time": seconds, "examples_per_s": n / seconds}
                    rows = [row]
                    if val_ds is not None:
                        rows.append({"epoch": epoch + 1, "step": state["step"], "split": "val",
                                     **self.evaluate(model, val_ds)})
                    result.history += rows
                    self._append_metrics(rows)
                    bar.set_postfix({k: f"{v:.4g}" for k, v in rows[-1].items()
                                     if k in ("loss", "recon", "kl")}, refresh=True)
                    state["epoch"] = epoch + 1
                    stop = self._early_stopping(state, rows[-1], val_ds is not None, model,
                                                optimizers)
                    if self.run_dir is not None and cfg.checkpoint_every and (
                            (epoch + 1) % cfg.checkpoint_every == 0 or epoch + 1 == cfg.epochs
                            or stop):
                        save_checkpoint(self.run_dir / LAST_CHECKPOINT, model, optimizers, state)
                    if stop:
                        result.stopped_early = True
                        break
            finally:
                bar.close()
        if result.stopped_early and cfg.restore_best:
            if self.run_dir is not None and (self.run_dir / BEST_CHECKPOINT).is_file():
                restore_checkpoint(self.run_dir / BEST_CHECKPOINT, model, restore_rng=False)
            elif self._best_weights is not None:  # no run folder: the in-memory copy
                model.load_state_dict(self._best_weights)
        self._best_weights = None
        result.epochs_run = state["epoch"]
        result.best_epoch = state["best_epoch"]
        result.seconds = time.perf_counter() - start
        model.eval()
        if self.run_dir is not None:
            model.save(self.run_dir)
        return result

    @staticmethod
    def evaluate(model: Autoencoder, data: Any, batch_size: int = 1024) -> dict[str, float]:
        """Mean loss terms of every optimiser group over ``data``, in eval mode."""
        ds = _as_dataset(data, "data")
        device = model.device
        groups = list(model.parameter_groups())
        was_training = model.training
        model.eval()
        meters = {name: _Meter() for name in groups}
        with torch.inference_mode():
            for i in range(0, len(ds), batch_size):
                xb = ds.x[i:i + batch_size].to(device)
                yb = None if ds.y is None else ds.y[i:i + batch_size].to(device)
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
                        model: Autoencoder, optimizers: dict) -> bool:
        patience = self.config.early_stopping_patience
        if patience is None or not has_val:
            return False
        value = val_row["loss"] if "loss" in val_row else next(
            v for k, v in val_row.items() if k.endswith(".loss"))
        if state["best_val"] is None or value < state["best_val"]:
            state.update(best_val=value, best_epoch=state["epoch"], bad_epochs=0)
            if self.run_dir is not None:
                save_checkpoint(self.run_dir / BEST_CHECKPOINT, model, optimizers, state)
            elif self.config.restore_best:
                self._best_weights = {k: v.detach().clone()
                                      for k, v in model.state_dict().items()}
            return False
        state["bad_epochs"] += 1
        return state["bad_epochs"] >= patience

    def _resume(self, model: Autoencoder, optimizers: dict, fingerprint: str) -> dict[str, Any]:
        assert self.run_dir is not None
        path = self.run_dir / LAST_CHECKPOINT
        if not path.is_file():
            raise ConfigError(f"cannot resume: no checkpoint at {path}")
        state = restore_checkpoint(path, model, optimizers)
        if state.get("data") != fingerprint:
            raise DataError(f"cannot resume {self.run_dir}: the training data differs from "
                            "the data the run was started with")
        return state

    def _read_metrics(self, upto_epoch: int) -> list[dict[str, Any]]:
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
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))
        return rows

    def _append_metrics(self, rows: list[dict[str, Any]]) -> None:
        if self.run_dir is None:
            return
        with open(self.run_dir / METRICS_FILE, "a", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
