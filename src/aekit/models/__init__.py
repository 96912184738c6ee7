"""Model families; importing this package registers every model module in it.

Each module of this package that defines a model decorates its class with
``@register``; the modules are imported here automatically, so adding a model is
adding a file.
"""

import importlib
import pkgutil

from aekit.models.base import Autoencoder, Loss, ModelConfig
from aekit.models.registry import available, create, get_class, register

for _info in pkgutil.iter_modules(__path__):
    if _info.name not in ("base", "registry"):
        importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["Autoencoder", "Loss", "ModelConfig", "available", "create", "get_class", "register"]
