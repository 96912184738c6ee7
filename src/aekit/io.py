"""Save and load models as a folder: ``config.json`` + ``model.safetensors``.

Nothing is pickled: the config is JSON and the weights are safetensors, so loading a
model folder from an untrusted source cannot run code.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetensors import SafetensorError
from safetensors.torch import load_model as _load_weights
from safetensors.torch import save_model as _save_weights

from aekit.errors import AekitError

if TYPE_CHECKING:
    from aekit.models.base import Autoencoder

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
# folders written by other libraries, by their config's "_class_name": "module:function"
FOREIGN_LOADERS = {"AutoencoderKL": "aekit.models.sd_vae_weights:load_diffusers"}


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def model_record(model: Autoencoder) -> dict[str, Any]:
    """The JSON description of a model: its registry name and config."""
    from aekit import __version__

    return {"model": model.name, "config": model.config.to_dict(), "aekit_version": __version__}


def save_model(model: Autoencoder, directory: str | Path) -> Path:
    """Write ``model`` to ``directory`` (created if needed); returns the folder."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".model.", suffix=".tmp")
    os.close(fd)
    try:
        _save_weights(model, tmp)
        os.replace(tmp, directory / WEIGHTS_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    atomic_write_text(directory / CONFIG_FILE, json.dumps(model_record(model), indent=2))
    return directory


def model_from_record(record: dict[str, Any], where: str = "config") -> Autoencoder:
    """Rebuild an (untrained) model from :func:`model_record` output."""
    from aekit.models.registry import get_class

    try:
        name, config = record["model"], dict(record["config"])
    except (KeyError, TypeError):
        raise AekitError(
            f"{where}: not an aekit model config (needs 'model' and 'config')") from None
    cls = get_class(name)
    return cls(cls.Config(**config))


def _foreign_class(config_path: Path) -> str | None:
    """The ``_class_name`` of a config written by another library that aekit can load."""
    try:
        record = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None  # load() reports the problem
    name = record.get("_class_name") if isinstance(record, dict) else None
    return name if name in FOREIGN_LOADERS else None


def load(directory: str | Path, device: str | None = None) -> Autoencoder:
    """Load a model saved by :meth:`Autoencoder.save` (or a run folder), in eval mode;
    a folder of another library named in :data:`FOREIGN_LOADERS` (a diffusers
    ``AutoencoderKL``) goes to its loader."""
    directory = Path(directory)
    config_path, weights_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
    foreign = _foreign_class(config_path)
    if foreign is not None:
        import importlib

        module, _, function = FOREIGN_LOADERS[foreign].partition(":")
        return getattr(importlib.import_module(module), function)(directory, device=device)
    for p in (config_path, weights_path):
        if not p.is_file():
            raise AekitError(
                f"{directory}: no {p.name} here; is this an aekit model or run folder?")
    try:
        record = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise AekitError(f"{config_path}: invalid JSON ({e})") from None
    model = model_from_record(record, str(config_path))
    try:
        missing, unexpected = _load_weights(model, weights_path, strict=False)
    except (SafetensorError, RuntimeError, OSError) as e:
        raise AekitError(f"{weights_path}: cannot read weights ({e})") from None
    if missing or unexpected:
        raise AekitError(
            f"{weights_path}: weights do not match the config "
            f"(missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]})"
        )
    if device is not None:
        model.to(device)
    return model.eval()
