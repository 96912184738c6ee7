"""Model families; importing this package registers every model name."""

from aekit.models import ae, beta_vae, vae  # noqa: F401  (registration side effect)
from aekit.models.base import Autoencoder, Loss, ModelConfig
from aekit.models.registry import available, create, get_class, register

__all__ = ["Autoencoder", "Loss", "ModelConfig", "available", "create", "get_class", "register"]
