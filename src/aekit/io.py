"""Save and load models as a folder: ``config.json`` + ``model.safetensors``.

Nothing is pickled: the config is JSON and the weights are safetensors, so loading a
model folder from an untrusted source cannot run code.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed over ``path`` on success.

    The block writes the file (by any means: ``open``, a safetensors or CSV writer); on
    leaving it the file is fsynced and renamed over ``path``, so readers see the old or
    the new file, never half of one. If the block raises, the temporary file is removed
    and ``path`` is left as it was. Parent folders are created; the file gets the
    permissions a plain ``open`` would give it (the umask applies).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def model_record(model: Autoencoder) -> dict[str, Any]:
    """The JSON description of a model: its registry name and config."""
    from aekit._version import __version__

    return {"model": model.name, "config": model.config.to_dict(), "aekit_version": __version__}


def save_model(model: Autoencoder, directory: str | Path) -> Path:
    """Write ``model`` to ``directory`` (created if needed); returns the folder."""
    directory = Path(directory)
    with atomic_path(directory / WEIGHTS_FILE) as tmp:
        _save_weights(model, str(tmp))
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


def load(directory: str | Path, device: str | None = None) -> Autoencoder:
    """Load a model saved by :meth:`Autoencoder.save` (or a run folder), in eval mode."""
    directory = Path(directory)
    config_path, weights_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
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
