"""Training checkpoints: one safetensors file, written atomically.

A checkpoint holds the model weights (``model.*``), each optimiser's tensors
(``optim.<group>.<param index>.<name>``), the torch RNG states (``rng.*``; under several
training processes one CPU state per process, ``rng.torch.<rank>`` past rank 0) and, in the
file's string metadata, the model record, the optimisers' non-tensor state and the
trainer's own state as JSON. It is written to a temporary file in the same folder,
fsynced, then renamed over the old one, so a crash mid-write leaves the previous
checkpoint intact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from aekit.errors import AekitError
from aekit.io import atomic_path, model_record
from aekit.models.base import Autoencoder


def _optimizer_tensors(
    name: str, opt: torch.optim.Optimizer
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = opt.state_dict()
    tensors, plain = {}, {"param_groups": state["param_groups"], "state": {}}
    for idx, entry in state["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):  # a copy: safetensors refuses shared storage
                tensors[f"optim.{name}.{idx}.{key}"] = value.detach().to("cpu", copy=True)
            else:
                plain["state"].setdefault(str(idx), {})[key] = value
    return tensors, plain


def save_checkpoint(
    path: str | Path,
    model: Autoencoder,
    optimizers: dict[str, torch.optim.Optimizer],
    trainer_state: dict[str, Any],
    rng_states: list[torch.Tensor] | None = None,
) -> Path:
    """Atomically write a resumable checkpoint to ``path``.

    ``rng_states`` are the CPU RNG states of every training process in rank order (default:
    this process's only)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    optim_meta = {}
    for name, opt in optimizers.items():
        t, plain = _optimizer_tensors(name, opt)
        tensors.update(t)
        optim_meta[name] = plain
    states = rng_states or [torch.get_rng_state()]
    tensors["rng.torch"] = states[0]
    tensors.update({f"rng.torch.{rank}": s for rank, s in enumerate(states) if rank})
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    metadata = {
        "model": json.dumps(model_record(model)),
        "optimizers": json.dumps(optim_meta),
        "trainer": json.dumps(trainer_state),
    }
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """All tensors and the decoded JSON metadata of a checkpoint file."""
    path = Path(path)
    if not path.is_file():
        raise AekitError(f"no checkpoint at {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - not a dict
            meta = {k: json.loads(v) for k, v in (f.metadata() or {}).items()}
    except (SafetensorError, OSError, json.JSONDecodeError) as e:
        raise AekitError(f"{path}: unreadable checkpoint ({e})") from None
    return tensors, meta


def checkpoint_record(path: str | Path) -> dict[str, Any]:
    """The model record (registry name and config) a checkpoint was written with,
    read from the file's metadata without loading its tensors."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            record = json.loads((f.metadata() or {})["model"])
    except (SafetensorError, OSError, KeyError, json.JSONDecodeError) as e:
        raise AekitError(f"{path}: unreadable checkpoint ({e})") from None
    if not isinstance(record, dict):
        raise AekitError(f"{path}: the checkpoint's model record is not a JSON object")
    return record


def remove_stale_temps(folder: str | Path) -> list[Path]:
    """Delete the temporary files that interrupted atomic writes left in ``folder`` and
    its ``checkpoints/`` (``.NAME.XXXX.tmp``); call only while no one writes there."""
    removed = []
    for where in (Path(folder), Path(folder) / "checkpoints"):
        for tmp in where.glob(".*.tmp"):
            if tmp.is_file():
                tmp.unlink(missing_ok=True)
                removed.append(tmp)
    return removed


def restore_checkpoint(
    path: str | Path,
    model: Autoencoder,
    optimizers: dict[str, torch.optim.Optimizer] | None = None,
    restore_rng: bool = True,
    rank: int = 0,
) -> dict[str, Any]:
    """Load weights (and optimiser + RNG state) from ``path``; returns the trainer state.

    Process ``rank`` of a distributed run takes its own RNG state (kept as it is when the
    checkpoint was written by fewer processes)."""
    tensors, meta = read_checkpoint(path)
    weights = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    model.load_state_dict(weights)
    for name, opt in (optimizers or {}).items():
        plain = meta["optimizers"][name]
        state: dict[int, dict[str, Any]] = {}
        prefix = f"optim.{name}."
        for key, value in tensors.items():
            if key.startswith(prefix):
                idx, field = key[len(prefix):].split(".", 1)
                state.setdefault(int(idx), {})[field] = value
        for idx, entry in plain["state"].items():
            state.setdefault(int(idx), {}).update(entry)
        opt.load_state_dict({"state": state, "param_groups": plain["param_groups"]})
    if restore_rng:
        key = f"rng.torch.{rank}" if rank else "rng.torch"
        if key in tensors:
            torch.set_rng_state(tensors[key])
        if "rng.cuda" in tensors and torch.cuda.is_available():
            torch.cuda.set_rng_state(tensors["rng.cuda"])
    return meta.get("trainer", {})
