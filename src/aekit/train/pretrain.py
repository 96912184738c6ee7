"""Greedy layer-wise pretraining (Bengio et al. 2007; Vincent et al. 2010).

For a model that declares ``layerwise = True`` (the stacked denoising autoencoder), each
encoder layer k is trained alone, bottom first, as its own small model
(``model.layer_model(k)``, sharing the stack's weights) on the clean codes ``c_{k-1}`` of
the layers below, which are computed once, after those layers finished, and stay frozen.
Fine-tuning the whole stack afterwards is an ordinary :meth:`aekit.Trainer.fit`.
"""

from __future__ import annotations

from typing import Any

import torch

from aekit.devices import resolve_device
from aekit.errors import ConfigError, DataError
from aekit.models.base import Autoencoder
from aekit.train.config import TrainConfig
from aekit.train.trainer import Trainer, TrainResult

__all__ = ["pretrain_layerwise"]


def pretrain_layerwise(model: Autoencoder, data: Any, epochs_per_layer: int = 10,
                       **train_settings: Any) -> list[TrainResult]:
    """Greedy layer-wise pretraining of ``model`` in place, bottom layer first.

    Parameters
    ----------
    model : Autoencoder
        A model with ``layerwise = True`` (``encoder_layers``, ``layer_model``,
        ``layer_codes``).
    data : Dataset, torch.Tensor or (x, y)
        Training examples shaped like ``model.config.input_shape``; labels are ignored.
    epochs_per_layer : int
        Epochs of training for each layer.
    **train_settings
        Further :class:`aekit.TrainConfig` fields (``lr``, ``batch_size``, ``seed``,
        ``device``, ``progress``, ...), used for every layer.

    Returns
    -------
    list of TrainResult
        One per layer, bottom first.

    Examples
    --------
    >>> import aekit, torch
    >>> x = torch.rand(200, 16)
    >>> model = aekit.create("sdae", data=x, hidden_dims=(12,), latent_dim=4)
    >>> results = pretrain_layerwise(model, x, epochs_per_layer=1, progress=False)
    >>> len(results)
    2
    >>> _ = aekit.Trainer(epochs=1, progress=False).fit(model, x)  # fine-tuning
    """
    if not model.layerwise:
        raise ConfigError(f"model {model.name!r} has no layer-wise pretraining")
    cfg = TrainConfig(epochs=epochs_per_layer, **train_settings)
    x = data[0] if isinstance(data, tuple) else getattr(data, "x", data)
    if not isinstance(x, torch.Tensor):
        raise DataError(f"pretrain: expected a Dataset, a tensor or an (x, y) pair, "
                        f"got {type(data).__name__}")
    if tuple(x.shape[1:]) != model.config.input_shape:
        raise DataError(f"pretrain: model expects examples of shape "
                        f"{model.config.input_shape} but the data has {tuple(x.shape[1:])}")
    was_training = model.training
    model.to(resolve_device(cfg.device))
    codes = x.float()
    results = []
    for k in range(len(model.encoder_layers())):
        results.append(Trainer(cfg).fit(model.layer_model(k), codes))
        codes = model.layer_codes(codes, k)  # c_k, from the now-final layer k
    model.train(was_training)
    return results
