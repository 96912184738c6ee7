"""Train a model into a run folder that a person can open and understand.

    runs/NAME/
      README.txt                what this folder is and how to use it
      config.json               the model (aekit.load(folder) reads it)
      model.safetensors         final weights
      train_config.json         training settings
      data.json                 where the data came from, its shape and split sizes
      metrics.jsonl             one row per epoch and split
      checkpoints/              resumable state (last, and best with early stopping)
      report.html + plots/      loss curves, reconstructions, samples, latent map
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from aekit.data.dataset import Dataset
from aekit.data.stream import Source, head_dataset
from aekit.errors import ConfigError
from aekit.io import atomic_write_text
from aekit.models import Autoencoder, create
from aekit.outputs import RunLock, check_output
from aekit.train import TrainConfig, Trainer, TrainResult
from aekit.train.distributed import main_process
from aekit.train.pretrain import pretrain_layerwise

RUN_README = """This is an aekit run folder.

  report.html          open in a browser: loss curves, reconstructions, samples, latent map
  metrics.jsonl        per-epoch metrics (train and validation)
  config.json          the model's settings; model.safetensors its weights
  train_config.json    the training settings; data.json the data it saw
  checkpoints/         resume with: aekit train ... --out {folder} --resume

Use it:
  aekit sample {folder} -n 64 --out samples.png
  aekit eval {folder} --data SOURCE      (writes {folder}-eval/, never into this folder)
  python -c "import aekit; m = aekit.load('{folder}')"
"""


STREAM_SAMPLE = 1024  # first examples of a streamed source that size its model

# What a run writes into its folder: a new run (not --resume) refuses a folder holding any.
RUN_FILES = ("config.json", "model.safetensors", "train_config.json", "data.json",
             "metrics.jsonl", "checkpoints", "report.html", "plots", "README.txt")


@dataclass
class Run:
    """A finished training run: its folder, model, data split and metrics."""

    folder: Path
    model: Autoencoder
    train: Dataset | Source
    val: Dataset | Source | None
    result: TrainResult


def train_run(
    model_name: str,
    data: Dataset | Source,
    folder: str | Path,
    *,
    model_settings: dict[str, Any] | None = None,
    train_config: TrainConfig | None = None,
    resume: bool = False,
    report: bool = True,
    pretrain_epochs: int = 0,
    overwrite: bool = False,
    inputs: tuple[str | Path, ...] = (),
) -> Run:
    """Create ``model_name`` for ``data``, train it, and write the run folder + report.

    ``pretrain_epochs > 0`` first runs the model's greedy layer-wise pretraining
    (:func:`aekit.train.pretrain.pretrain_layerwise`, for a model that declares
    ``layerwise``, e.g. the stacked denoising AE) for that many epochs per layer.
    A new run (``resume=False``) refuses a folder that already holds a run's files unless
    ``overwrite=True``, and never writes inside ``inputs`` (the data's files); while it
    trains, the folder is locked (:class:`aekit.outputs.RunLock`), so a second training
    into it fails at once.
    """
    folder = Path(folder)
    if not main_process():  # under torchrun, rank 0 checks, locks and writes the folder
        return _train_run(model_name, data, folder, model_settings, train_config, resume,
                          report, pretrain_epochs)
    with RunLock(check_output(folder, inputs=inputs, folder=True, force=True)):
        if not resume:
            check_output(folder, inputs=inputs, folder=True, owned=RUN_FILES, force=overwrite)
        return _train_run(model_name, data, folder, model_settings, train_config, resume,
                          report, pretrain_epochs)


def _resumed_model(folder: Path, model_name: str, settings: dict[str, Any]) -> Autoencoder:
    """The model a run was started with, rebuilt from its checkpoint's own record; the
    settings given now may repeat the run's values but not change them."""
    from aekit.io import model_from_record
    from aekit.models.base import config_from_kwargs
    from aekit.models.registry import get_class
    from aekit.train.checkpoint import checkpoint_record
    from aekit.train.trainer import LAST_CHECKPOINT

    path = folder / LAST_CHECKPOINT
    if not path.is_file():
        raise ConfigError(f"cannot resume: no checkpoint at {path}; start a new run "
                          "without --resume")
    record = checkpoint_record(path)
    if record.get("model") != model_name:
        raise ConfigError(f"cannot resume {folder}: it trains {record.get('model')!r}, not "
                          f"{model_name!r}")
    model = model_from_record(record, str(path))
    cls = get_class(model_name)
    given = config_from_kwargs(cls.Config, {**model.config.to_dict(), **settings},
                               model_name).to_dict()
    changed = [f"{k} ({model.config.to_dict()[k]!r} in the run, {given[k]!r} now)"
               for k in settings if given[k] != model.config.to_dict()[k]]
    if changed:
        raise ConfigError(f"cannot resume {folder} with changed model settings: "
                          f"{'; '.join(changed)}; drop them to continue the run, or train "
                          "into a new --out")
    return model


def _train_run(model_name: str, data: Dataset | Source, folder: Path,
               model_settings: dict[str, Any] | None, train_config: TrainConfig | None,
               resume: bool, report: bool, pretrain_epochs: int) -> Run:
    cfg = train_config or TrainConfig()
    streamed = isinstance(data, Source)  # read a batch at a time (aekit.data.stream)
    if cfg.val_fraction > 0 and (streamed or len(data) >= 10):
        train, val = data.split(cfg.val_fraction, seed=cfg.seed)
    else:
        train, val = data, None
    torch.manual_seed(cfg.seed)
    if resume:
        model = _resumed_model(folder, model_name, model_settings or {})
    else:  # a streamed source is sized (and its likelihood chosen) by its first rows
        model = create(model_name, data=head_dataset(train, STREAM_SAMPLE) if streamed
                       else train, **(model_settings or {}))
    writes = main_process()  # under torchrun, rank 0 writes the folder
    if writes:
        folder.mkdir(parents=True, exist_ok=True)
    if pretrain_epochs and streamed:
        raise ConfigError("--pretrain-epochs needs the data in memory; it cannot pretrain "
                          f"on the streamed {data.name}")
    if pretrain_epochs and not resume:
        if not model.layerwise:
            raise ConfigError(f"model {model_name!r} has no layer-wise pretraining; "
                              "drop --pretrain-epochs")
        pretrain_layerwise(model, train, epochs_per_layer=pretrain_epochs,
                           batch_size=cfg.batch_size, lr=cfg.lr, seed=cfg.seed,
                           device=cfg.device, progress=cfg.progress)
    result = Trainer(cfg, run_dir=folder).fit(model, train, val, resume=resume)
    run = Run(folder, model, train, val, result)
    if not writes:
        return run
    atomic_write_text(folder / "data.json", json.dumps({
        "source": data.name, "examples": len(data), "shape": list(data.sample_shape),
        "train": len(train), "val": 0 if val is None else len(val),
        "labels": head_dataset(data, 1).y is not None if streamed else data.y is not None,
        "class_names": None if streamed else data.class_names, "streamed": streamed,
    }, indent=2))
    atomic_write_text(folder / "README.txt", RUN_README.format(folder=folder))
    if report:
        from aekit.report.run_report import write_run_report

        write_run_report(run)
    return run
