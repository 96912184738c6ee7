"""Model names -> classes, and ``create`` to build one from keyword settings."""

from __future__ import annotations

from typing import Any

import torch

from aekit.errors import ConfigError
from aekit.likelihoods import choose_likelihood
from aekit.models.base import Autoencoder, config_from_kwargs

_REGISTRY: dict[str, type[Autoencoder]] = {}


def register(cls: type[Autoencoder]) -> type[Autoencoder]:
    """Class decorator adding ``cls`` under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__qualname__} has no name")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"model name {cls.name!r} is already registered")
    _REGISTRY[cls.name] = cls
    return cls


def available() -> list[str]:
    """Registered model names, sorted."""
    return sorted(_REGISTRY)


def get_class(name: str) -> type[Autoencoder]:
    """The class registered as ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown model {name!r}; available models: {', '.join(available())}"
        ) from None


def create(name: str, *, data: Any = None, **settings: Any) -> Autoencoder:
    """Build the model registered as ``name``.

    Parameters
    ----------
    name : str
        A registry name such as ``"ae"``, ``"vae"`` or ``"beta_vae"``.
    data : Dataset or torch.Tensor, optional
        Example data. Fills ``input_shape`` when it is not given, and resolves
        ``likelihood="auto"`` (Bernoulli for data in [0, 1], learned-scale Gaussian
        otherwise). Without data, ``"auto"`` falls back to the learned-scale Gaussian.
        A model whose config defaults to a fixed likelihood (``linear_ae``: Gaussian)
        keeps it unless ``likelihood`` is passed.
    **settings
        Fields of the model's config dataclass (``latent_dim``, ``hidden_dims``, ...).

    Examples
    --------
    >>> import aekit
    >>> model = aekit.create("vae", input_shape=(1, 8, 8), latent_dim=8, likelihood="bernoulli")
    >>> model.sample(4).shape
    torch.Size([4, 1, 8, 8])
    """
    cls = get_class(name)
    x = getattr(data, "x", data)
    if x is not None and not isinstance(x, torch.Tensor):
        raise ConfigError(f"data must be a Dataset or a torch.Tensor, got {type(data).__name__}")
    if x is not None:
        settings.setdefault("input_shape", tuple(x.shape[1:]))
    default_likelihood = getattr(cls.Config, "likelihood", "auto")  # a model may fix its own
    if settings.get("likelihood", default_likelihood) == "auto":
        settings["likelihood"] = choose_likelihood(x) if x is not None else "gaussian_learned"
    return cls(config_from_kwargs(cls.Config, settings, name))
