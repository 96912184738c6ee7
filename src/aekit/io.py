"""Save and load models as a folder: ``config.json`` + ``model.safetensors``.

Nothing is pickled: the config is JSON and the weights are safetensors, so loading a
model folder from an untrusted source cannot run code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetensors import SafetensorError
from safetensors.torch import load_model as _load_weights
from safetensors.torch import save_file as _save_file
from safetensors.torch import save_model as _save_weights

from aekit.errors import AekitError, ConfigError
from aekit.outputs import atomic_path, umask_mode  # noqa: F401 - the writers' import

if TYPE_CHECKING:
    from aekit.models.base import Autoencoder

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit on the JSON header


# folders written by other libraries, by their config's "_class_name": "module:function"
FOREIGN_LOADERS = {"AutoencoderKL": "aekit.models.sd_vae_weights:load_diffusers"}


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def model_record(model: Autoencoder) -> dict[str, Any]:
    """The JSON description of a model: its registry name and config."""
    from aekit._version import __version__

    return {"model": model.name, "config": model.config.to_dict(), "aekit_version": __version__}


def _views_of_a_larger_buffer(model: Autoencoder) -> dict[str, Any] | None:
    """The state dict as tensors of their own when some weights are views into a larger
    buffer (cuDNN keeps a GRU's weights on CUDA in one flat buffer), which safetensors
    refuses to save; None when every tensor owns its storage. A weight tied to another
    (same memory, same shape) is kept once, as safetensors' own ``save_model`` does."""
    state = model.state_dict()
    if all(t.untyped_storage().nbytes() == t.numel() * t.element_size()
           for t in state.values()):
        return None
    kept: dict[str, Any] = {}
    seen: set[tuple] = set()
    for key, t in state.items():
        ident = (t.data_ptr(), tuple(t.shape), t.stride(), t.dtype)
        if ident not in seen:
            seen.add(ident)
            kept[key] = t.detach().contiguous().clone()
    return kept


def save_model(model: Autoencoder, directory: str | Path) -> Path:
    """Write ``model`` to ``directory`` (created if needed); returns the folder."""
    directory = Path(directory)
    own = _views_of_a_larger_buffer(model)
    with atomic_path(directory / WEIGHTS_FILE) as tmp:
        if own is None:
            _save_weights(model, str(tmp))
        else:
            _save_file(own, str(tmp))
    atomic_write_text(directory / CONFIG_FILE, json.dumps(model_record(model), indent=2))
    return directory


def model_from_record(record: Any, where: str = "config") -> Autoencoder:
    """Rebuild an (untrained) model from :func:`model_record` output.

    A record from an untrusted file is checked first: a JSON object with a model name
    and a config object whose keys and value types the model knows.
    """
    from aekit.models.base import config_from_kwargs
    from aekit.models.registry import get_class

    name = record.get("model") if isinstance(record, dict) else None
    config = record.get("config") if isinstance(record, dict) else None
    if not isinstance(name, str) or not isinstance(config, dict):
        raise ConfigError(f"{where}: not an aekit model config (needs a 'model' name and a "
                          "'config' object)")
    cls = get_class(name)
    try:
        return cls(config_from_kwargs(cls.Config, dict(config), name))
    except AekitError as e:
        raise ConfigError(f"{where}: {e}") from None


def weight_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """The tensor shapes a safetensors file declares, read from its header alone."""
    try:
        with open(path, "rb") as f:
            size = int.from_bytes(f.read(8), "little")
            if not 0 < size <= MAX_HEADER_BYTES:
                raise ValueError(f"header size {size}")
            header = json.loads(f.read(size))
        return {k: tuple(int(d) for d in v["shape"]) for k, v in header.items()
                if k != "__metadata__"}
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as e:
        raise AekitError(f"{path}: not a safetensors file ({e})") from None


def _check_shapes(record: dict[str, Any], weights_path: Path, where: str) -> None:
    """Build the model on the meta device (no memory) and compare its tensor shapes with
    the file's header, so a config that asks for a huge model fails before allocating."""
    import torch

    with torch.device("meta"):
        skeleton = model_from_record(record, where)
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    found = weight_shapes(weights_path)
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = [f"{k} {found[k]} (the config needs {expected[k]})" for k in sorted(expected)
             if k in found and found[k] != expected[k]]
    if missing or unexpected or wrong:
        raise AekitError(
            f"{weights_path}: weights do not match {where} "
            f"(missing {missing[:5]}, unexpected {unexpected[:5]}, wrong shapes {wrong[:3]})")


def check_finite(tensors: dict[str, Any], where: str) -> None:
    """A clear error when a floating-point tensor holds NaN or infinity (a damaged file:
    safetensors has no checksum, and such a model scores everything NaN)."""
    import torch

    for key, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise AekitError(f"{where}: tensor {key!r} holds {bad} non-finite value(s) "
                             "(NaN or inf); the file is damaged, retrain or restore it")


def load(directory: str | Path, device: str | None = None) -> Autoencoder:
    """Load a model saved by :meth:`Autoencoder.save` (or a run folder), in eval mode;
    a folder of another library named in :data:`FOREIGN_LOADERS` (a diffusers
    ``AutoencoderKL``) goes to its loader, and its weights must be finite too.

    Checks, in order: the config is a model record the registry knows; the weights
    file's declared shapes match that config (before any memory is allocated); every
    weight is finite.
    """
    directory = Path(directory)
    config_path, weights_path = directory / CONFIG_FILE, directory / WEIGHTS_FILE
    if not config_path.is_file():
        raise AekitError(
            f"{directory}: no {CONFIG_FILE} here; is this an aekit model or run folder?")
    try:
        record = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise AekitError(f"{config_path}: invalid JSON ({e})") from None
    foreign = record.get("_class_name") if isinstance(record, dict) else None
    if isinstance(foreign, str) and foreign in FOREIGN_LOADERS:
        import importlib

        module, _, function = FOREIGN_LOADERS[foreign].partition(":")
        model = getattr(importlib.import_module(module), function)(directory, device=device)
        check_finite(model.state_dict(), str(directory))
        return model
    if not weights_path.is_file():
        raise AekitError(
            f"{directory}: no {WEIGHTS_FILE} here; is this an aekit model or run folder?")
    _check_shapes(record, weights_path, str(config_path))
    model = model_from_record(record, str(config_path))
    try:
        _load_weights(model, weights_path, strict=True)
    except (SafetensorError, RuntimeError, OSError) as e:
        raise AekitError(f"{weights_path}: cannot read weights ({e})") from None
    check_finite(model.state_dict(), str(weights_path))
    if device is not None:
        try:
            model.to(device)
        except (RuntimeError, AssertionError, ValueError) as e:
            raise ConfigError(f"device {device!r} is not usable here ({str(e).strip()})") \
                from None
    return model.eval()
